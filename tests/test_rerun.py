"""A reader's re-run with other parameters never alters the book: its outputs go to a run folder of its own,
the committed bundle is read through a read-only layer, and the book's ledger, figures and data/results stay
byte-identical."""

import hashlib
import json

import pytest

from headcount.book import cli, runner
from headcount.engine.store import COMMITTED_STORE, LayeredStore, MissingRuns, ReadOnlyStore, ResultsStore
from headcount.engine.sweep import Experiment, sweep


def tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


CALLS = []


def _square(configs):
    CALLS.extend(configs)
    return [{"y": c["x"] ** 2} for c in configs]


EXP = Experiment("toy", _square, ("engine.store",))


def test_a_layered_store_reads_its_layers_and_writes_only_its_own_root(tmp_path):
    base = ResultsStore(tmp_path / "committed")
    sweep(EXP, [{"x": 1}, {"x": 2}], base, progress=False)
    before = tree_digest(base.root)
    CALLS.clear()
    layered = LayeredStore(tmp_path / "run", [base.root])
    res = sweep(EXP, [{"x": 1}, {"x": 2}, {"x": 3}], layered, progress=False)
    assert (res.hits, res.misses) == (2, 1) and CALLS == [{"x": 3}]
    assert [r["metrics"]["y"] for r in res.records] == [1, 4, 9]
    assert tree_digest(base.root) == before
    assert len(list((tmp_path / "run").rglob("*.json"))) == 1


def test_a_read_only_store_refuses_to_train_before_any_work(tmp_path):
    base = ResultsStore(tmp_path / "committed")
    sweep(EXP, [{"x": 1}], base, progress=False)
    CALLS.clear()
    ro = ReadOnlyStore(base.root)
    assert sweep(EXP, [{"x": 1}], ro, progress=False).hits == 1
    with pytest.raises(MissingRuns, match="1 of 2 runs"):
        sweep(EXP, [{"x": 1}, {"x": 5}], ro, progress=False)
    assert CALLS == []
    with pytest.raises(MissingRuns):
        ro.put("toy", {"key": "k", "metrics": {}})


def test_tier_parameters_are_a_book_run_and_any_other_is_a_readers_run():
    assert runner.is_tier_run("synthetic_heads", {"tier": "laptop"})
    assert runner.is_tier_run("synthetic_heads", {"tier": "laptop", "epochs": 100})  # the tier's own value
    assert not runner.is_tier_run("synthetic_heads", {"tier": "laptop", "epochs": 3})
    a = runner.run_folder("synthetic_heads", {"tier": "smoke", "epochs": 1})
    assert a == runner.run_folder("synthetic_heads", {"tier": "smoke", "epochs": 1})
    assert a != runner.run_folder("synthetic_heads", {"tier": "smoke", "epochs": 3})
    assert a.parent == runner.RUNS and a.name.startswith("synthetic_heads-")


@pytest.mark.integration
def test_a_parameterised_rerun_leaves_the_book_and_the_bundle_byte_identical(tmp_path, monkeypatch, capsys):
    book_claims, book_figs, book_nb = tmp_path / "book_claims", tmp_path / "book_figures", tmp_path / "book_nb"
    for d in (book_claims, book_figs, book_nb):
        d.mkdir()
        (d / "sentinel.json").write_text("[]")
    monkeypatch.setenv("HEADCOUNT_CLAIMS_DIR", str(book_claims))
    monkeypatch.setenv("HEADCOUNT_FIGURES_DIR", str(book_figs))
    monkeypatch.delenv("HEADCOUNT_STORE", raising=False)
    monkeypatch.setattr(runner, "EXECUTED", book_nb)
    monkeypatch.setattr(runner, "RUNS", tmp_path / "runs")
    before = [tree_digest(d) for d in (book_claims, book_figs, book_nb, COMMITTED_STORE)]
    rc = cli.main(["run", "synthetic_heads", "--tier", "smoke", "-p", "epochs", "1", "-p", "h_grid", "[1, 4]", "--json"])
    assert rc == 0
    printed = capsys.readouterr().out
    out = json.loads(printed[printed.index("\n{") + 1:])  # the summary follows the runner's progress lines
    assert [tree_digest(d) for d in (book_claims, book_figs, book_nb, COMMITTED_STORE)] == before
    folder = tmp_path / "runs" / out["folder"].split("/")[-1]
    assert out["into_book"] is False and out["params"]["epochs"] == 1
    assert (folder / "synthetic_heads.ipynb").exists() and list((folder / "figures").glob("*.png"))
    assert {v["claim"] for v in out["verdicts"]} == {"C15", "C16a", "C16b"}
    assert json.loads((folder / "claims" / "synthetic_heads.json").read_text())
    assert list((folder / "results").rglob("*.json"))  # the new runs, in the run's own store


@pytest.mark.parametrize("value, message", [
    ("{1: !!binary ImV2aWwi, 4: x}", "YAML tags"),
    ("!!python/object/apply:os.system ['touch pwned']", "YAML tags"),
    ("{1: 2, 4: 5}", "flat list"),
    ("[[1, 2], 4]", "flat list"),
])
def test_a_parameter_value_cannot_carry_code_or_structure(value, message, capsys):
    assert cli.main(["params", "synthetic_heads", "--tier", "smoke", "-p", "h_grid", value]) == 2
    err = capsys.readouterr().err
    assert "h_grid" in err and message in err


def test_numbers_in_every_usual_notation_are_read_and_non_finite_ones_refused(capsys):
    assert cli._literal("1e-3") == 1e-3 and cli._literal("5E+2") == 500.0 and cli._literal("[8, 16]") == [8, 16]
    assert cli.main(["params", "synthetic_heads", "-p", "lr", "1e-3"]) == 0
    assert "| `lr` | `0.001` |" in capsys.readouterr().out
    for bad in (".inf", ".nan", "[.inf]"):
        assert cli.main(["params", "synthetic_heads", "-p", "lr" if bad[0] == "." else "h_grid", bad]) == 2
        assert "must be" in capsys.readouterr().err
    assert cli.main(["params", "synthetic_heads", "-p", "D", "3", "-p", "D", "5"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_the_runner_refuses_a_mapping_for_a_list_parameter_before_any_kernel_starts():
    payload = {1: '"+__import__("os").system("touch pwned")+"', 4: "x"}
    with pytest.raises(ValueError, match="h_grid"):
        runner.validate("synthetic_heads", {"tier": "smoke", "h_grid": payload})
    with pytest.raises(ValueError, match="h_grid"):
        runner.validate("synthetic_heads", {"tier": "smoke", "h_grid": {1, 4}})
