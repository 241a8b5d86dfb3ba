"""The results store and the sweep: atomic writes, corrupt records, crash mid-write, resume, stale code."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from headcount.engine import store as store_mod
from headcount.engine.store import ResultsStore, run_key
from headcount.engine.sweep import Experiment, grid, plan, sweep

CALLS = []


def square_group(configs):
    """A fake experiment: records which configs it was asked to compute."""
    CALLS.extend(c["x"] for c in configs)
    return [{"y": c["x"] ** 2} for c in configs]


def exp():
    return Experiment("fake", square_group, code_modules=("tasks",))


def record(config: dict, code: str, metrics: dict) -> dict:
    """The least a record must hold to be stored: its key, config, code hash and metrics."""
    return {"key": run_key(config, code), "config": config, "code_hash": code, "metrics": metrics}


def test_put_get_roundtrip_and_key_depends_on_code(tmp_path):
    s = ResultsStore(tmp_path)
    k1, k2 = run_key({"a": 1}, "code1"), run_key({"a": 1}, "code2")
    assert k1 != k2 and run_key({"a": 1, "b": 2}, "c") == run_key({"b": 2, "a": 1}, "c")
    s.put("e", record({"a": 1}, "code1", {"m": 1}))
    assert s.get("e", k1)["metrics"] == {"m": 1}
    assert s.get("e", k2) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_sweep_resumes_and_reports_hits(tmp_path):
    CALLS.clear()
    s = ResultsStore(tmp_path)
    cfgs = grid({"x": 0}, x=[1, 2, 3])
    r1 = sweep(exp(), cfgs[:2], s, progress=False)
    assert (r1.hits, r1.misses) == (0, 2) and CALLS == [1, 2]
    r2 = sweep(exp(), cfgs, s, progress=False)  # only x=3 is new
    assert (r2.hits, r2.misses) == (2, 1) and CALLS == [1, 2, 3]
    assert [r["metrics"]["y"] for r in r2.records] == [1, 4, 9]
    assert plan(exp(), cfgs, s)["missing"] == 0
    rec = r2.records[0]
    for field in ("config", "metrics", "seed", "wall_seconds", "device", "env", "code_hash", "key"):
        assert field in rec
    assert "torch" in rec["env"]["versions"]


def test_corrupt_record_is_detected_and_recomputed(tmp_path):
    CALLS.clear()
    s = ResultsStore(tmp_path)
    cfgs = grid({"x": 0}, x=[5])
    r = sweep(exp(), cfgs, s, progress=False)
    path = s.path("fake", r.records[0]["key"])
    path.write_text('{"key": "' + r.records[0]["key"] + '", "metr')  # truncated JSON
    r2 = sweep(exp(), cfgs, s, progress=False)
    assert r2.misses == 1 and CALLS == [5, 5]
    assert json.loads(path.read_text())["metrics"]["y"] == 25


def test_crash_mid_write_keeps_old_record_and_leaves_no_partial_file(tmp_path, monkeypatch):
    s = ResultsStore(tmp_path)
    key = run_key({"x": 1}, "c")
    s.put("e", record({"x": 1}, "c", {"v": "old"}))

    def boom(src, dst):
        raise KeyboardInterrupt("killed between write and rename")

    monkeypatch.setattr(store_mod.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        s.put("e", record({"x": 1}, "c", {"v": "new"}))
    monkeypatch.undo()
    assert s.get("e", key)["metrics"] == {"v": "old"}
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.integration
def test_killed_sweep_process_resumes(tmp_path):
    """A real process killed mid-sweep: the finished runs stay readable and a rerun computes only the rest."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        from headcount.engine.store import ResultsStore
        from headcount.engine.sweep import Experiment, grid, sweep
        sys.path.insert(0, {str(tmp_path)!r})
        import slowexp
        s = ResultsStore({str(tmp_path / 'store')!r})
        r = sweep(Experiment("slow", slowexp.run, ("tasks",)), grid({{"x": 0}}, x=list(range(6))), s, progress=False)
        print(r.summary())
    """))
    (tmp_path / "slowexp.py").write_text(textwrap.dedent("""
        import os, time
        def run(configs):
            c = configs[0]
            if c["x"] == 3 and not os.environ.get("NO_KILL"):
                os.kill(os.getpid(), 9)  # die like a killed job, mid-sweep
            return [{"y": c["x"]}]
    """))
    p = subprocess.run([sys.executable, str(script)], capture_output=True)
    assert p.returncode != 0
    s = ResultsStore(tmp_path / "store")
    assert len(s.records("slow")) == 3  # x = 0, 1, 2 finished before the kill
    p2 = subprocess.run([sys.executable, str(script)], capture_output=True, env={**os.environ, "NO_KILL": "1"})
    assert p2.returncode == 0, p2.stderr.decode()
    assert "3 from the store, 3 computed" in p2.stdout.decode()
    assert len(s.records("slow")) == 6
    assert sorted(r["metrics"]["y"] for r in s.records("slow")) == list(range(6))


def test_process_pool_executor_gives_the_same_records(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    cfgs = grid({"x": 0}, x=[1, 2, 3])
    with ProcessPoolExecutor(max_workers=2) as pool:
        r = sweep(exp(), cfgs, ResultsStore(tmp_path), executor=pool, progress=False)
    assert [rec["metrics"]["y"] for rec in r.records] == [1, 4, 9] and r.misses == 3


def test_changed_code_is_reported_stale(tmp_path, monkeypatch):
    s = ResultsStore(tmp_path)
    cfgs = grid({"x": 0}, x=[1, 2])
    sweep(exp(), cfgs, s, progress=False)
    monkeypatch.setattr(Experiment, "code", lambda self: "other-code")
    p = plan(exp(), cfgs, s)
    assert p["missing"] == 2 and p["stale"] == 2


def test_empty_grid_axis_is_an_error():
    with pytest.raises(ValueError, match="'x' is empty"):
        grid({}, x=[])
    with pytest.raises(ValueError, match="empty"):
        sweep(exp(), [], ResultsStore("/nonexistent"), progress=False)


def test_code_hash_names_missing_modules():
    with pytest.raises(ValueError, match="no library module named 'nope'"):
        store_mod.code_hash(("nope",))


def test_prune_deletes_only_records_of_superseded_code(tmp_path):
    s = ResultsStore(tmp_path)
    cfgs = grid({"x": 0}, x=[1, 2])
    sweep(exp(), cfgs, s, progress=False)
    old = s.put("fake", {**record({"x": 9}, "old-code", {}), "code_modules": ["tasks"]})
    (old.parent / "broken.json").write_text("{")
    assert s.prune_stale() == (2, 2)
    assert len(s.records("fake")) == 2 and not old.exists()


def test_progress_goes_to_the_named_file_not_to_stderr(tmp_path, monkeypatch, capfd):
    log = tmp_path / "page.progress"
    monkeypatch.setenv("HEADCOUNT_PROGRESS", str(log))
    s = ResultsStore(tmp_path / "store")
    sweep(exp(), grid({"x": 0}, x=[1, 2, 3]), s)
    assert "fake: 0 cached, computing" in log.read_text() and "3/3" in log.read_text()
    assert "computing" not in capfd.readouterr().err  # a page's kernel would forward this into the page
    monkeypatch.delenv("HEADCOUNT_PROGRESS")
    sweep(exp(), grid({"x": 0}, x=[4]), s)
    assert "fake: 0 cached, computing" in capfd.readouterr().err  # without the variable: stderr, as before


def test_records_name_the_processor_they_ran_on(tmp_path, monkeypatch):
    """Results differ in their last digits from one processor to another (kernels chosen by vector extension),
    so every record says which it ran on."""
    (rec,) = sweep(exp(), [{"x": 2}], ResultsStore(tmp_path), progress=False).records
    import torch

    assert rec["env"]["cpu"] == store_mod.cpu_description() and rec["env"]["cpu"]
    assert rec["env"]["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse4_2 avx avx2 fma\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: real_open(cpuinfo if f == "/proc/cpuinfo" else f, *a, **k))
    assert store_mod.cpu_description() == "Some CPU 9000, avx2"


def test_a_sweep_says_where_its_runs_were_computed(tmp_path):
    s = ResultsStore(tmp_path)
    r = sweep(exp(), grid({"x": 0}, x=[1, 2]), s, progress=False)
    here = store_mod.cpu_description()
    assert r.summary().endswith(f"; computed on {here} (2)")
    r.records[0]["env"] = {k: v for k, v in r.records[0]["env"].items() if k != "cpu"}  # made before processors were recorded
    for rec, engine in zip(r.records, ("stacked/fused/c", "single")):
        rec["metrics"]["engine"] = engine
    assert r.provenance() == f"computed on {here} (1), processor not recorded (1); engines: single (1), stacked/fused/c (1)"


# Damaged and edited records: each kind is refused (treated as missing, recomputed, named in `damaged`), never
# served and never a traceback.
def _damage_cases():
    def edit(field, value):
        def f(path):
            rec = json.loads(path.read_text())
            if field == "config.x":
                rec["config"]["x"] = value
            else:
                rec["metrics"][field] = value
            path.write_text(json.dumps(rec))
        return f

    def write(data: bytes):
        return lambda path: path.write_bytes(data)

    def as_directory(path):
        path.unlink()
        path.mkdir()
        (path / "inner").write_text("x")

    def drop_digest(path):
        rec = json.loads(path.read_text())
        del rec["metrics_sha256"]
        path.write_text(json.dumps(rec))

    def metrics_as_string(path):
        rec = json.loads(path.read_text())
        rec["metrics"] = "oops"
        path.write_text(json.dumps(rec))

    return {
        "edited metric": (edit("y", 1e-9), "sha256"),
        "edited config": (edit("config.x", 3), "do not give its key"),
        "non-UTF-8 bytes": (write(b"\xff\xfe\x00garbage"), "not UTF-8"),
        "a JSON list": (write(b"[]"), "not a JSON object but list"),
        "a JSON string": (write(b'"hello"'), "not a JSON object but str"),
        "metrics a string": (metrics_as_string, "metrics are str"),
        "truncated": (lambda p: p.write_text(p.read_text()[:40]), "not valid JSON"),
        "empty file": (write(b""), "not valid JSON"),
        "no digest": (drop_digest, "lacks metrics_sha256"),
        "NaN metric": (edit("y", float("nan")), "sha256"),
        "a directory": (as_directory, "a directory"),
    }


@pytest.mark.parametrize("case", sorted(_damage_cases()))
def test_a_damaged_or_edited_record_is_never_served_and_is_recomputed(tmp_path, case):
    damage, reason = _damage_cases()[case]
    CALLS.clear()
    s = ResultsStore(tmp_path)
    cfgs = grid({"x": 0}, x=[2])
    first = sweep(exp(), cfgs, s, progress=False).records[0]
    path = s.path("fake", first["key"])
    damage(path)
    fresh = ResultsStore(tmp_path)
    assert fresh.get("fake", first["key"]) is None
    assert fresh.records("fake") == []
    assert [(p, why) for p, why in fresh.damaged if reason in why and p == path], fresh.damaged
    assert plan(exp(), cfgs, fresh)["missing"] == 1
    again = sweep(exp(), cfgs, fresh, progress=False)
    assert (again.hits, again.misses) == (0, 1) and CALLS == [2, 2]
    assert again.records[0]["metrics"] == {"y": 4}
    assert ResultsStore(tmp_path).get("fake", first["key"])["metrics"] == {"y": 4}  # replaced by a sound record
    kept, deleted = ResultsStore(tmp_path).prune_stale()  # pruning does not trip on what was moved aside
    assert kept == 1


def test_a_record_edited_in_place_cannot_change_a_figure(tmp_path):
    """The reproduction of the defect: a metric set by hand (or a config's h changed) is refused, not served."""
    s = ResultsStore(tmp_path)
    r = sweep(exp(), grid({"x": 0}, x=[1, 2]), s, progress=False)
    p = s.path("fake", r.records[1]["key"])
    rec = json.loads(p.read_text())
    rec["metrics"]["y"] = 1e-9
    p.write_text(json.dumps(rec, indent=1))
    again = sweep(exp(), grid({"x": 0}, x=[1, 2]), ResultsStore(tmp_path), progress=False)
    assert [x["metrics"]["y"] for x in again.records] == [1, 4] and again.misses == 1


def test_non_finite_metrics_are_not_stored_and_the_rest_of_the_group_is(tmp_path):
    def nan_for_odd(configs):
        return [{"y": float("nan") if c["x"] % 2 else float(c["x"])} for c in configs]

    e = Experiment("nan", nan_for_odd, code_modules=("tasks",), group_by=lambda c: 0)
    s = ResultsStore(tmp_path)
    with pytest.raises(store_mod.NonFiniteMetrics, match=r"1 of 2 runs came out non-finite.*non-finite y"):
        sweep(e, grid({"x": 0}, x=[1, 2]), s, progress=False)
    assert [r["metrics"]["y"] for r in s.records("nan")] == [2.0]
    with pytest.raises(store_mod.NonFiniteMetrics):
        s.put("nan", record({"x": 3}, "c", {"y": [1.0, float("inf")]}))


def test_one_rule_for_path_variables_empty_is_unset_and_relative_is_the_callers(tmp_path, monkeypatch):
    """HEADCOUNT_STORE= must not send runs into the committed bundle; HEADCOUNT_CACHE= must not make folders in
    the repository root; a relative HEADCOUNT_STORE means the caller's folder in every process."""
    from headcount import paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEADCOUNT_STORE", "")
    monkeypatch.setenv("HEADCOUNT_CACHE", "   ")
    monkeypatch.setenv("HEADCOUNT_DATA", "rel/data")
    monkeypatch.setenv("HEADCOUNT_STORE_LAYERS", os.pathsep.join(["", "layer", ""]))
    assert paths.env_path("HEADCOUNT_STORE") is None and paths.env_path("HEADCOUNT_CACHE") is None
    assert store_mod.cache_dir() == store_mod.Path.home() / ".cache" / "headcount"
    assert store_mod.shared_data_dir() == tmp_path / "rel" / "data"
    paths.normalize_env()
    assert "HEADCOUNT_STORE" not in os.environ and "HEADCOUNT_CACHE" not in os.environ
    assert os.environ["HEADCOUNT_DATA"] == str(tmp_path / "rel" / "data")
    assert os.environ["HEADCOUNT_STORE_LAYERS"] == str(tmp_path / "layer")
    # the smoke tier's own store is used when HEADCOUNT_STORE is empty, never the committed bundle
    from headcount.book.runner import env_unless_set, smoke_store_for

    monkeypatch.setenv("HEADCOUNT_STORE", "")
    with env_unless_set("HEADCOUNT_STORE", smoke_store_for({"tier": "smoke"})) as set_here:
        assert set_here and store_mod.default_store().root == store_mod.smoke_store_dir()
    monkeypatch.setenv("HEADCOUNT_STORE", "relstore")
    assert store_mod.default_store().root == tmp_path / "relstore"
