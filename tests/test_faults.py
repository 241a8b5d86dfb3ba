"""The fault suite: what a hostile but fair user can do, each refused before work or survived, never a
traceback, never a served damaged record. Damaged and edited store records are in tests/test_store.py
(test_a_damaged_or_edited_record_is_never_served_and_is_recomputed, one case per kind), kills mid-sweep in
tests/test_store.py and tests/test_placement.py, a worker killed on a Dask cluster in tests/test_cluster.py."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headcount.book import runner
from headcount.book.cli import main
from headcount.engine.store import ResultsStore, StoreNotWritable
from headcount.engine.sweep import Experiment, grid, sweep

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_kernel(monkeypatch):
    """Fails the test if a kernel would start: everything here must be refused before any work."""
    def boom(*a, **k):
        raise AssertionError("a kernel was started for a value that should have been refused")

    monkeypatch.setattr("papermill.execute_notebook", boom)


BAD = [
    (["-p", "lr", ".inf"], "parameter 'lr'"),
    (["-p", "lr", ".nan"], "parameter 'lr'"),
    (["-p", "lr", "-0.001"], "parameter 'lr'"),
    (["-p", "n", "1000000000"], "parameter 'n' must be an integer in [1, 4096]"),
    (["-p", "T_grid", "[8, 1000000]"], "parameter 'T_grid'"),
    (["-p", "T_grid", "[]"], "the grid is empty"),
    (["-p", "T_grid", "[8, 8]"], "values repeat"),
    (["-p", "h_grid", "{1: 2}"], "give a number, a string, True/False or a flat list"),
    (["-p", "h_grid", "{1, 2}"], "give a number, a string, True/False or a flat list"),
    (["-p", "h_grid", "[[1], [2]]"], "give a number, a string, True/False or a flat list"),
    (["-p", "epochs", "2.5"], "parameter 'epochs' must be an integer"),
    (["-p", "epochs", "True"], "parameter 'epochs' must be an integer"),
    (["-p", "D", "3", "-p", "D", "5"], "parameter 'D' is given twice"),
    (["-p", "tier", "paper"], "give the tier with --tier"),
    (["-p", "no_such", "1"], "no_such"),
    (["-p", "n_train", "1000000", "-p", "T_grid", "[8, 4096]"], "the data would hold"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_parameter_is_refused_before_a_kernel_starts(argv, message, capsys, no_kernel):
    assert main(["run", "synthetic_heads", "--tier", "smoke", *argv]) == 2
    assert message in capsys.readouterr().err


PAGE_RULES = [
    ("msmarco", ["-p", "dropout", "1.0"], "parameter 'dropout': must be below 1"),
    ("msmarco", ["-p", "n_queries", "100000"], "source 'devsmall': n_queries = 100000 but the source has 6980 judged"),
    ("msmarco", ["-p", "source", "toy", "-p", "n_queries", "7", "-p", "n_val_queries", "3"], "offers some list only"),
    ("cifar10", ["-p", "train_per_class", "100000"], "parameter 'train_per_class' must be an integer in [1, 5000]"),
    ("cifar10", ["-p", "dropout", "1.0"], "must be below 1"),
    ("ablation_zoom_reversal", ["-p", "epochs_long", "1"], "epochs_long must be 0 (no check) or more than epochs"),
]


@pytest.mark.parametrize("page, argv, message", PAGE_RULES, ids=[f"{p} {' '.join(a)}" for p, a, _ in PAGE_RULES])
def test_a_page_rule_is_refused_before_a_kernel_starts(page, argv, message, capsys, no_kernel):
    assert main(["run", page, "--tier", "smoke", *argv]) == 2
    assert message in capsys.readouterr().err


YAML_TAGS = ["!!binary", "!!python/object/apply:os.system", "!!python/name:os.system", "!!str", "!!int", "!!float",
             "!!map", "!!seq", "!!set", "!!omap", "!!pairs", "!!timestamp", "!!null", "!!bool", "!custom"]


@pytest.mark.parametrize("tag", YAML_TAGS)
def test_no_yaml_tag_reaches_a_notebook(tag, tmp_path, capsys, no_kernel, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = base64.b64encode(b'"+__import__("os").system("touch pwned")+"').decode()
    for value in (f"{tag} {payload}", f"[{tag} 1, 2]", f"{{1: {tag} {payload}, 4: x}}"):
        assert main(["run", "synthetic_heads", "--tier", "smoke", "-p", "h_grid", value]) == 2
    assert "YAML tags" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists() and not (REPO / "pwned").exists()


INJECTIONS = ['"; import os; os.system("touch pwned"); "', "x\nimport os\nos.system('touch pwned')",
              "'''\nimport os\n'''", '\\"+__import__("os").system("touch pwned")+\\"', "${HOME}", "$(touch pwned)"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_quote_and_newline_payloads_are_refused_or_inert(value, tmp_path, monkeypatch, capsys):
    """A string parameter with quotes or newlines: refused by its choices, or passed as a literal value (never
    code). The notebook would receive exactly the validated value."""
    monkeypatch.chdir(tmp_path)
    seen = {}

    def capture(nb, path, parameters=None, **kw):
        seen.update(parameters or {})
        raise RuntimeError("stop here")

    monkeypatch.setattr("papermill.execute_notebook", capture)
    rc = main(["run", "cifar10", "--tier", "smoke", "-p", "source", value])  # a str parameter with choices
    assert rc == 2 and "parameter 'source' must be a string from" in capsys.readouterr().err
    assert seen == {} and not (tmp_path / "pwned").exists()


def test_a_read_only_store_is_refused_before_training(tmp_path, monkeypatch):
    """A store on a read-only filesystem (a real read-only tmpfs where this machine allows mounting one)."""
    calls = []

    def run(configs):
        calls.append(configs)
        return [{"y": 1.0} for _ in configs]

    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True)
    try:
        if mounted.returncode != 0:
            monkeypatch.setattr("tempfile.mkstemp", lambda **kw: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
            print(f"no read-only mount here ({mounted.stderr.decode().strip()}): simulated with a failing mkstemp")
        with pytest.raises(StoreNotWritable, match="cannot be written .*nothing was trained"):
            sweep(Experiment("e", run, ("tasks",)), grid({}, x=[1, 2]), ResultsStore(ro), progress=False)
        assert calls == []
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(ro)], check=True)


def test_a_full_disk_loses_no_finished_record_and_leaves_no_partial_file(tmp_path):
    """A store on a 64 KiB tmpfs: the records that fit are complete and served; the write that does not fit
    fails with the OS error, leaving no temporary file; nothing is half-written."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        def big(configs):
            return [{"curve": [float(c["x"])] * 2000} for c in configs]  # ~20-40 KiB a record

        store = ResultsStore(small)
        with pytest.raises(OSError):
            sweep(Experiment("big", big, ("tasks",)), grid({}, x=list(range(8))), store, progress=False)
        kept = ResultsStore(small).records("big")
        assert kept and all(len(r["metrics"]["curve"]) == 2000 for r in kept)
        assert not [p for p in small.rglob("*") if p.name.endswith(".tmp")]
        assert ResultsStore(small).damaged == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.integration
def test_two_concurrent_sweeps_on_one_store_train_each_stack_once(tmp_path):
    """Two processes run the same sweep on one store at the same time: every stack is trained by exactly one
    of them (the other waits for its claim and reuses the record), and both return every record."""
    (tmp_path / "slowexp.py").write_text(textwrap.dedent(f"""
        import os, time
        def run(configs):
            for c in configs:
                with open({str(tmp_path / 'trained.log')!r}, "a") as fh:
                    fh.write(f"{{c['x']}} {{os.getpid()}}\\n")
            time.sleep(0.4)
            return [{{"y": c["x"] ** 2}} for c in configs]
    """))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import slowexp
        from headcount.engine.store import ResultsStore
        from headcount.engine.sweep import Experiment, grid, sweep
        r = sweep(Experiment("slow", slowexp.run, ("tasks",)), grid({{}}, x=list(range(8))),
                  ResultsStore({str(tmp_path / 'store')!r}), progress=False)
        print(sorted(x["metrics"]["y"] for x in r.records))
    """))
    procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert all(o[0].strip() == str([x * x for x in range(8)]) for o in outs)
    trained = [line.split()[0] for line in (tmp_path / "trained.log").read_text().splitlines()]
    assert sorted(trained) == sorted(str(x) for x in range(8))  # each config trained once, by one of the two
    assert not list((tmp_path / "store").rglob("*.claim"))


@pytest.mark.parametrize("name", ["cifar10", "msmarco"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_a_damaged_decoded_cache_is_deleted_and_rebuilt_not_a_traceback(tmp_path, monkeypatch, name, how):
    import numpy as np

    from headcount.engine.realdata import caches

    monkeypatch.setenv("HEADCOUNT_CACHE", str(tmp_path))
    folder = tmp_path / name
    folder.mkdir()
    good, bad = folder / "good.npz", folder / "bad.npz"
    np.savez(good, keys=np.array(["a", "b"]), vectors=np.ones((2, 3), dtype=np.float32))
    data = good.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00\xff" * 50, "empty": b""}[how])
    lines = caches.check(name)
    assert len(lines) == 1 and lines[0].startswith(f"{bad}: damaged cache deleted")
    assert good.exists() and not bad.exists()
    assert caches.check(name) == []


def test_a_truncated_cifar_cache_is_rebuilt_by_the_page_path(tmp_path, monkeypatch):
    """The reproduction: a truncated decoded CIFAR .npz raised a bare BadZipFile; now it is rebuilt."""
    from headcount.engine.realdata import caches, cifar

    if not cifar.jpg_archive_path().is_file():
        pytest.skip("the offline CIFAR-10 copy is not available")
    monkeypatch.setenv("HEADCOUNT_CACHE", str(tmp_path))
    first = cifar.load_cifar10("test", per_class=2)
    path = next((tmp_path / "cifar10").glob("*.npz"))
    path.write_bytes(path.read_bytes()[:100])
    assert len(caches.check("cifar10")) == 1
    again = cifar.load_cifar10("test", per_class=2)
    assert (again.images == first.images).all() and path.exists()


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"\n".join(b.split(b"\n")[:40]) + b"\n", "holds 40 triplets, the toy copy has 100"),
    (lambda b: b.replace(b"\n", b"\n\xff\xfe", 1), ":2: not UTF-8 text"),
    (lambda b: b.replace(b"\t", b" ", 1), ":1: expected 3 tab-separated columns"),
])
def test_a_damaged_toy_file_is_refused_naming_file_and_line(tmp_path, damage, message):
    from headcount.book.pages import msmarco as page
    from headcount.engine.realdata import msmarco
    from headcount.engine.store import shared_data_dir

    real = shared_data_dir() / msmarco.TOY_DIR / "triplets" / "raw.tsv"
    if not real.is_file():
        pytest.skip("the toy copy is not available")
    assert page.toy_file_problem(real) is None
    bad = tmp_path / "raw.tsv"
    bad.write_bytes(damage(real.read_bytes()))
    assert message in page.toy_file_problem(bad)
