"""The golden figure tables catch what a page draws: a changed value beyond its column's tolerance, a lost row,
a renamed column, a figure gone or added."""

import shutil

import pandas as pd

import golden_tables


def _copy(tmp_path):
    figs = tmp_path / "figures"
    shutil.copytree(golden_tables.GOLDEN, figs, ignore=shutil.ignore_patterns("tolerances.json"))
    return figs


def test_the_golden_tables_agree_with_themselves(tmp_path):
    assert golden_tables.compare(_copy(tmp_path)) == []


def test_a_changed_value_a_lost_row_a_renamed_column_and_a_missing_figure_are_reported(tmp_path):
    figs = _copy(tmp_path)
    df = pd.read_csv(figs / "synthetic-heads-nmse.csv")
    df.loc[0, "ours_min"] *= 1.01  # within the 5% of a trained column
    df.to_csv(figs / "synthetic-heads-nmse.csv", index=False)
    assert golden_tables.compare(figs) == []
    df.loc[0, "ours_min"] *= 2
    df.to_csv(figs / "synthetic-heads-nmse.csv", index=False)
    th = pd.read_csv(figs / "theory-density-selector.csv")
    th.loc[0, "sup_error"] *= 1 + 1e-4  # beyond the rounding allowed to a computed column
    th.to_csv(figs / "theory-density-selector.csv", index=False)
    pd.read_csv(figs / "ablation-zoom.csv").iloc[:-1].to_csv(figs / "ablation-zoom.csv", index=False)
    pd.read_csv(figs / "ablation-width.csv").rename(columns={"min": "minimum"}).to_csv(figs / "ablation-width.csv",
                                                                                       index=False)
    (figs / "cifar10-reversal.csv").unlink()
    problems = golden_tables.compare(figs)
    assert any(p.startswith("synthetic-heads-nmse: column 'ours_min'") for p in problems)
    assert any(p.startswith("theory-density-selector: column 'sup_error'") for p in problems)
    assert any(p.startswith("ablation-zoom: ") and "rows became" in p for p in problems)
    assert any(p.startswith("ablation-width: columns") for p in problems)
    assert "cifar10-reversal: figure no longer drawn" in problems
