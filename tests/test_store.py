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


def test_put_get_roundtrip_and_key_depends_on_code(tmp_path):
    s = ResultsStore(tmp_path)
    k1, k2 = run_key({"a": 1}, "code1"), run_key({"a": 1}, "code2")
    assert k1 != k2 and run_key({"a": 1, "b": 2}, "c") == run_key({"b": 2, "a": 1}, "c")
    s.put("e", {"key": k1, "metrics": {"m": 1}})
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
    s.put("e", {"key": key, "metrics": {"v": "old"}})

    def boom(src, dst):
        raise KeyboardInterrupt("killed between write and rename")

    monkeypatch.setattr(store_mod.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        s.put("e", {"key": key, "metrics": {"v": "new"}})
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
    old = s.path("fake", run_key({"x": 9}, "old-code"))
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text(json.dumps({"key": "k", "code_hash": "old-code", "code_modules": ["tasks"], "metrics": {}}))
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
