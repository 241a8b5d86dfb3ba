"""Golden copies of the tables behind the smoke tier's figures, compared with a tolerance per column.

`tests/golden/smoke-figures/<label>.csv` is what each figure of the smoke book was drawn from, and
`tolerances.json` says, per figure and column, how a new table may differ: "exact" (labels, counts, grids,
text), or a relative and absolute tolerance for numbers. Numbers the pages compute without training
(theory pages, the paper's transcribed values) must agree to rounding; numbers of models trained at the
smoke tier get 5% (other processors round differently, and a few steps of training amplify it). A figure
added, removed, or drawn from other rows or columns fails, as does a value beyond its tolerance.
Regenerate after a meant change with: HEADCOUNT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_book.py
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).resolve().parent / "golden" / "smoke-figures"
TRAINED = {"rel": 0.05, "abs": 1e-6}
COMPUTED = {"rel": 1e-6, "abs": 1e-12}


def column_tolerance(label: str, column: str, series: pd.Series):
    if not pd.api.types.is_float_dtype(series):
        return "exact"
    trained = not label.startswith("theory-") and not column.lower().startswith(("paper", "r_paper", "n_t_paper"))
    return TRAINED if trained else COMPUTED


def update(figures: Path) -> None:
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    GOLDEN.mkdir(parents=True)
    tolerances = {}
    for csv in sorted(figures.glob("*.csv")):
        if csv.stem.endswith(("-paper", "-laptop")):  # a variant page's figures: not golden-checked (see compare)
            continue
        shutil.copy(csv, GOLDEN / csv.name)
        df = pd.read_csv(csv)
        tolerances[csv.stem] = {c: column_tolerance(csv.stem, c, df[c]) for c in df.columns}
    (GOLDEN / "tolerances.json").write_text(json.dumps(tolerances, indent=1) + "\n")


def _same(a, b, tol) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if tol == "exact" or isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    a, b = float(a), float(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol["abs"] + tol["rel"] * max(abs(a), abs(b))


def compare(figures: Path) -> list[str]:
    """Every difference between the figure tables in `figures` and the golden copies, one line each."""
    tolerances = json.loads((GOLDEN / "tolerances.json").read_text())
    # a variant page's figures (another tier, label suffixed -<tier>) come from a committed bundle, not from the
    # smoke runs: the regression guard of that tier covers them (tests/test_verdicts.py)
    have = {p.stem for p in figures.glob("*.csv") if not p.stem.endswith(("-paper", "-laptop"))}
    problems = [f"{label}: figure no longer drawn" for label in sorted(set(tolerances) - have)]
    problems += [f"{label}: new figure without a golden table" for label in sorted(have - set(tolerances))]
    for label in sorted(have & set(tolerances)):
        new, old = pd.read_csv(figures / f"{label}.csv"), pd.read_csv(GOLDEN / f"{label}.csv")
        if list(new.columns) != list(old.columns):
            problems.append(f"{label}: columns {list(old.columns)} became {list(new.columns)}")
            continue
        if len(new) != len(old):
            problems.append(f"{label}: {len(old)} rows became {len(new)}")
            continue
        for col in new.columns:
            tol = tolerances[label].get(col, "exact")
            bad = [i for i, (a, b) in enumerate(zip(old[col], new[col])) if not _same(a, b, tol)]
            if bad:
                i = bad[0]
                problems.append(f"{label}: column {col!r} differs in {len(bad)} rows beyond {tol} "
                                f"(row {i}: {old[col].iloc[i]!r} -> {new[col].iloc[i]!r})")
    return problems
