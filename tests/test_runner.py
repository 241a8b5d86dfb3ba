"""The runner and CLI reject bad parameters before any kernel starts, and nothing already computed is lost."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headcount.book import runner
from headcount.book.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_parameter_names_come_from_the_parameters_cell():
    import jupytext

    names = runner.parameter_names(jupytext.reads(TINY, fmt="py:percent"))  # TINY: a page defined below
    assert names == ["tier", "k"]
    assert runner.parameter_names(jupytext.read(REPO / "notebooks" / "synthetic_heads.py")) == ["tier"]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["-p", "heads", "3"], "unknown parameter(s) ['heads']"),
        (["-p", "h_grid", "[0, 1]"], "'h_grid' must be a non-empty list of integers, each in [1, 256]"),
        (["-p", "T_grid", "[]"], "'T_grid'"),
        (["-p", "D", "0"], "'D' must be an integer in [1, 64]"),
        (["-p", "lr", "fast"], "'lr' must be a number"),
    ],
)
def test_bad_parameters_fail_before_work(tmp_path, capsys, monkeypatch, argv, message):
    started = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: started.append(1))
    out = tmp_path / "nb"
    assert main(["run", "synthetic_heads", "--tier", "smoke", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not started and not out.exists()


def test_unknown_notebook_and_tier_are_named():
    with pytest.raises(ValueError, match="available"):
        runner.validate("no_such_page", {})
    p = subprocess.run([sys.executable, "-m", "headcount.book.cli", "run", "synthetic_heads", "--tier", "huge"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "invalid choice: 'huge'" in p.stderr


def test_failed_run_keeps_the_last_good_output(tmp_path, monkeypatch):
    out = tmp_path / "nb"
    out.mkdir()
    good = out / "claims.ipynb"
    good.write_text("previous good output")

    def fail(nb, path, **kw):
        Path(path).write_text("partial")
        raise RuntimeError("cell failed")

    monkeypatch.setattr("papermill.execute_notebook", fail)
    with pytest.raises(RuntimeError):
        runner.run("claims", {"tier": "smoke"}, out_dir=out)
    assert good.read_text() == "previous good output"
    assert (out / "claims.failed.ipynb").read_text() == "partial"


def test_book_lists_notebooks_in_toc_order():
    names = runner.book_notebooks()
    assert names[-1] == "claims" and "synthetic_heads" in names


def test_status_reports_counts_per_page(tmp_path, monkeypatch):
    import shutil

    from headcount.book.status import report

    monkeypatch.setenv("HEADCOUNT_STORE", str(tmp_path / "store"))
    monkeypatch.setattr("headcount.book.status.book_notebooks", lambda: ["synthetic_heads", "claims", "no_such_page"])
    # a copy of the two notebooks and an empty book/nb under tmp_path: never the real book/nb, whatever a build left there
    (tmp_path / "notebooks").mkdir()
    for name in ("synthetic_heads", "claims"):
        shutil.copy(REPO / "notebooks" / f"{name}.py", tmp_path / "notebooks")
    (tmp_path / "book" / "nb").mkdir(parents=True)
    monkeypatch.setattr("headcount.book.status.NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr("headcount.book.status.EXECUTED", tmp_path / "book" / "nb")
    lines = report("smoke").splitlines()
    assert lines[0] == f"results store: {tmp_path / 'store'}"
    assert lines[2].startswith("stacked synthetic models on the CPU train with their per-token part in ")
    heads = [line for line in lines if line.split()[:1] == ["synthetic_heads"] and "cached" in line]
    assert heads and all(" 0 cached" in line and "to compute" in line for line in heads)
    assert any(line.split()[0] == "claims" and "computes at build time" in line for line in lines[2:-1])
    assert any("no_such_page" in line and "does not exist" in line for line in lines)
    total = next(i for i, line in enumerate(lines) if line.startswith("a build at tier smoke would train "))
    assert not lines[total].endswith(" 0 model(s)")
    assert lines[total + 1].startswith("executed pages in book/nb")
    kept = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines[total + 2:]}
    assert sorted(kept) == ["claims", "synthetic_heads"]  # nothing has executed in the empty book/nb
    assert set(kept.values()) == {"executes (no record of a previous execution)"}


TINY = '''# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# # A tiny page

# %% tags=["parameters"]
tier = "laptop"
k = None

# %%
k = 3 if k is None else k
print(f"tier={tier} k^2={k * k}")
'''


@pytest.mark.integration
def test_a_text_notebook_runs_under_papermill_with_parameters(tmp_path):
    import nbformat

    src = tmp_path / "tiny_runner_page.py"
    src.write_text(TINY)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['kk'\]; this notebook takes \['tier', 'k'\]"):
        runner.run(src, {"tier": "smoke", "kk": 1}, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    out = runner.run(src, {"tier": "smoke", "k": 7}, out_dir=tmp_path / "out")
    nb = nbformat.read(out, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    # papermill recorded what it was given; the page does not show that cell (it prints its parameters itself)
    assert ["injected-parameters", "remove-cell"] in tags
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "tier=smoke k^2=49" in printed


PAGE = '''# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% tags=["parameters"]
tier = "laptop"
folder = ""

# %%
import os
from pathlib import Path

me = Path(os.getcwd())  # papermill runs every page from the repository root
name = "NAME"
if name == "bad":
    raise ValueError("this page fails on purpose")
if name == "zlast":  # a RUN_LAST page: every other page that ran has left its mark
    assert sorted(p.name for p in Path(folder).iterdir()) == ["ok1", "ok2"], list(Path(folder).iterdir())
(Path(folder) / name).write_text(str(os.getpid()))
'''


def _pages(tmp_path, names):
    src = tmp_path / "src"
    src.mkdir()
    for n in names:
        (src / f"{n}.py").write_text(PAGE.replace("NAME", n))
    marks = tmp_path / "marks"
    marks.mkdir()
    return [src / f"{n}.py" for n in names], {"tier": "smoke", "folder": str(marks)}, marks


@pytest.mark.integration
def test_run_many_runs_pages_in_parallel_processes_and_the_ledger_page_last(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "RUN_LAST", ("zlast",))
    paths, params, marks = _pages(tmp_path, ["zlast", "ok1", "bad", "ok2"])
    out = tmp_path / "out"
    result = runner.run_many(paths, params, out_dir=out, jobs=2, keep_going=True)
    assert result[paths[1]] is None and result[paths[3]] is None
    assert "this page fails on purpose" in runner.summary(result[paths[2]])
    assert result[paths[0]] is None  # listed first, run last: it saw ok1 and ok2 done
    assert (out / "bad.failed.ipynb").exists() and not (out / "bad.ipynb").exists()
    pids = {p.name: p.read_text() for p in marks.iterdir()}
    assert set(pids) == {"ok1", "ok2", "zlast"}


@pytest.mark.integration
def test_run_many_stops_starting_pages_after_a_failure_and_checks_every_name_first(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "RUN_LAST", ("zlast",))
    paths, params, marks = _pages(tmp_path, ["bad", "ok1", "zlast"])
    result = runner.run_many(paths, params, out_dir=tmp_path / "out", jobs=1)
    assert "this page fails on purpose" in runner.summary(result[paths[0]])
    assert result[paths[1]] == result[paths[2]] == runner.NOT_RUN
    assert not any(marks.iterdir())
    with pytest.raises(ValueError, match="no_such_page"):
        runner.run_many([paths[1], "no_such_page"], params, jobs=1)
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        runner.run_many(paths, params, jobs=0)
    assert not any(marks.iterdir())
    assert main(["notebooks", "--tier", "smoke", "--only", "no_such_page"]) == 2
    assert "no_such_page" in capsys.readouterr().err


def test_pages_sharing_stored_runs_form_one_chain_in_the_given_order(monkeypatch):
    runs = {"a": {("e", "1"), ("e", "2")}, "b": set(), "c": {("f", "9")}, "d": {("e", "2")}, "e": {("f", "9"), ("e", "7")},
            "f": {("e", "7")}, "g": {("e", "7"), ("e", "2")}}
    monkeypatch.setattr(runner, "planned_runs", lambda name, params: runs[name])
    assert runner.chains(list("abcdef"), {}) == [["a", "d"], ["b"], ["c", "e", "f"]]  # a-d share 2, c-e 9, e-f 7
    assert runner.chains(list("abcdefg"), {}) == [["a", "c", "d", "e", "f", "g"], ["b"]]  # g joins both chains
    assert runner.chains(list("bfd"), {}) == [["b"], ["f"], ["d"]]


def test_the_synthetic_pages_of_the_book_share_runs_and_the_others_do_not():
    names = [n for n in runner.book_notebooks() if n not in runner.RUN_LAST]
    groups = runner.chains(names, {"tier": "laptop"})
    synthetic = next(g for g in groups if "synthetic_heads" in g)
    assert synthetic[0] == "synthetic_heads" and "ablation_controls" in synthetic
    assert synthetic == [n for n in names if n in synthetic]  # the toc order inside the chain
    assert ["msmarco"] in groups and ["theory_density"] in groups
    assert sorted(n for g in groups for n in g) == sorted(names)


COUNTED = '''# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% tags=["parameters"]
tier = "laptop"
folder = ""
k = 2

# %%
from pathlib import Path
from headcount.book.pagecache import note_written

with open(Path(folder) / "executions", "a") as fh:  # not an output of the page: counts executions
    fh.write("x")
fig = Path(folder) / "figure.csv"
fig.write_text(f"k,k2\\n{k},{k * k}\\n")
note_written(fig)
'''


@pytest.mark.integration
def test_a_page_is_kept_only_while_its_inputs_and_outputs_are_unchanged(tmp_path, monkeypatch, capsys):
    from headcount.book import pagecache

    src, out, folder = tmp_path / "counted_page.py", tmp_path / "out", tmp_path / "files"
    src.write_text(COUNTED)
    folder.mkdir()
    params = {"tier": "smoke", "folder": str(folder)}
    runs = folder / "executions"
    runner.run(src, params, out_dir=out, reuse=True)
    assert runs.read_text() == "x" and (folder / "figure.csv").read_text() == "k,k2\n2,4\n"
    manifest = json.loads(pagecache.manifest_path("counted_page", out).read_text())
    assert sorted(Path(p).name for p in manifest["outputs"]) == ["counted_page.ipynb", "figure.csv"]
    assert not (out / ".counted_page.written").exists()

    capsys.readouterr()
    assert runner.run(src, params, out_dir=out, reuse=True) == out / "counted_page.ipynb"
    assert runs.read_text() == "x" and "up to date counted_page.py" in capsys.readouterr().out

    def why(p=params):
        return pagecache.check(src, p, out, reads_ledger=False)

    assert why()[0] is True
    assert why({**params, "k": 3}) == (False, "params changed")
    monkeypatch.setenv("HEADCOUNT_FIGURES_DIR", str(tmp_path))
    assert why() == (False, "settings changed")
    monkeypatch.delenv("HEADCOUNT_FIGURES_DIR")
    monkeypatch.setenv("HEADCOUNT_PROGRESS", str(tmp_path / "elsewhere"))  # where progress goes changes nothing
    assert why()[0] is True
    monkeypatch.delenv("HEADCOUNT_PROGRESS")
    src.write_text(COUNTED + "# one more line\n")
    assert why() == (False, "notebook changed")
    src.write_text(COUNTED)
    (folder / "figure.csv").write_text("edited by hand")
    assert why() == (False, "output figure.csv is missing or was changed since")

    runner.run(src, params, out_dir=out, reuse=True)  # executes again and restores the output
    assert runs.read_text() == "xx" and (folder / "figure.csv").read_text() == "k,k2\n2,4\n"
    runner.run(src, params, out_dir=out)  # without reuse a page always executes
    assert runs.read_text() == "xxx"
    (out / "counted_page.ipynb").unlink()
    assert why() == (False, "output counted_page.ipynb is missing or was changed since")


def test_a_page_fingerprint_covers_the_stored_runs_it_reads_and_the_claims_page_the_ledger(tmp_path, monkeypatch):
    from headcount.book import pagecache
    from headcount.engine.store import ResultsStore, run_key

    monkeypatch.setenv("HEADCOUNT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HEADCOUNT_CLAIMS_DIR", str(tmp_path / "ledger"))
    params = {"tier": "smoke"}
    nb = runner.notebook_path("synthetic_heads")
    before = pagecache.fingerprint(nb, params, reads_ledger=False)
    from headcount.book.pages import page_planner

    spec, planner = page_planner("synthetic_heads")
    exp, configs = planner(spec.resolve(tier="smoke"))[0]
    key = run_key(configs[0], exp.code())
    assert (exp.name, key) in runner.planned_runs("synthetic_heads", params)
    rec = ResultsStore(tmp_path / "store").put(
        exp.name, {"key": key, "config": configs[0], "code_hash": exp.code(), "metrics": {"nmse": 0.5}})
    after = pagecache.fingerprint(nb, params, reads_ledger=False)
    assert [k for k in before if before[k] != after[k]] == ["stored_runs"]
    rec.write_text(rec.read_text().replace("0.5", "0.25"))
    assert pagecache.fingerprint(nb, params, reads_ledger=False)["stored_runs"] != after["stored_runs"]
    assert "ledger" not in after

    claims_nb = runner.notebook_path("claims")
    first = pagecache.fingerprint(claims_nb, params, reads_ledger=True)
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "page.json").write_text("[]")
    assert pagecache.fingerprint(claims_nb, params, reads_ledger=True)["ledger"] != first["ledger"]


def test_status_names_each_damaged_record_file(tmp_path, monkeypatch):
    from headcount.book.pages import page_planner
    from headcount.book.status import report
    from headcount.engine.store import ResultsStore, run_key

    monkeypatch.setenv("HEADCOUNT_STORE", str(tmp_path / "store"))
    monkeypatch.setattr("headcount.book.status.book_notebooks", lambda: ["synthetic_heads"])
    spec, planner = page_planner("synthetic_heads")
    exp, configs = planner(spec.resolve(tier="smoke"))[0]
    store = ResultsStore(tmp_path / "store")
    good = store.put(exp.name, {"key": run_key(configs[0], exp.code()), "config": configs[0],
                                "code_hash": exp.code(), "metrics": {"nmse": 0.5}})
    bad = store.put(exp.name, {"key": run_key(configs[1], exp.code()), "config": configs[1],
                               "code_hash": exp.code(), "metrics": {"nmse": 0.5}})
    bad.write_text(bad.read_text().replace("0.5", "1e-09"))
    text = report("smoke")
    assert "1 damaged or edited record file(s), never served" in text
    assert f"  {bad}: metrics do not match their sha256 (edited or damaged)" in text.splitlines()
    assert str(good) not in text
    heads = next(line for line in text.splitlines() if line.startswith("  synthetic_heads") and "cached" in line)
    assert "    1 cached" in heads


@pytest.mark.parametrize("interrupt", [RuntimeError("cell failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_leaves_no_temporary_file_and_says_one_line(tmp_path, monkeypatch, interrupt):
    out = tmp_path / "nb"
    out.mkdir()

    class CellError(Exception):
        ename, evalue = "FileNotFoundError", "no CIFAR-10 archive found\nmore detail"

    def fail(nb, path, **kw):
        Path(path).write_text("partial")
        raise CellError("50 lines of traceback\n...") if isinstance(interrupt, RuntimeError) else interrupt

    monkeypatch.setattr("papermill.execute_notebook", fail)
    with pytest.raises(runner.PageFailed if isinstance(interrupt, RuntimeError) else KeyboardInterrupt) as info:
        runner.run("claims", {"tier": "smoke"}, out_dir=out)
    left = sorted(p.name for p in out.iterdir() if not p.name.endswith(".progress"))
    assert left == ["claims.failed.ipynb"], left
    if isinstance(interrupt, RuntimeError):
        assert info.value.line == "FileNotFoundError: no CIFAR-10 archive found"
        assert info.value.notebook == out / "claims.failed.ipynb"


def test_two_runs_of_one_page_into_one_folder_use_their_own_temporary_names(tmp_path, monkeypatch):
    out = tmp_path / "nb"
    out.mkdir()
    seen = []

    def record(nb, path, **kw):
        seen.append(Path(path).name)
        raise RuntimeError("stop")

    monkeypatch.setattr("papermill.execute_notebook", record)
    for _ in range(2):
        with pytest.raises(runner.PageFailed):
            runner.run("claims", {"tier": "smoke"}, out_dir=out)
    assert len(set(seen)) == 2 and all(n.startswith(".claims.") and n.endswith(".running.ipynb") for n in seen)


@pytest.mark.integration
def test_the_cli_prints_the_failure_in_one_line_and_the_failed_notebook(tmp_path):
    env = {**os.environ, "HEADCOUNT_DATA": str(tmp_path / "nothing"), "HEADCOUNT_STORE": str(tmp_path / "store"),
           "HEADCOUNT_CACHE": str(tmp_path / "cache"), "HEADCOUNT_CLAIMS_DIR": str(tmp_path / "claims"),
           "HEADCOUNT_FIGURES_DIR": str(tmp_path / "figures")}
    p = subprocess.run([str(REPO / ".venv/bin/headcount"), "run", "cifar10", "--tier", "smoke", "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert p.returncode == 1
    errors = [line for line in p.stderr.splitlines() if not line.startswith("[IPKernelApp]")]
    assert errors[0].startswith("error: cifar10 failed: FileNotFoundError: no CIFAR-10 archive found")
    assert errors[1] == f"  the executed notebook, with the full traceback: {tmp_path / 'out' / 'cifar10.failed.ipynb'}"
    assert len(errors) == 2
