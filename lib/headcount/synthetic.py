"""The synthetic sum-of-max experiments: one store experiment, summaries over seeds, and the claim checks.

Every synthetic page (head count, width, fixed E, D = 3, depth, zoom) runs its configs through the same
store experiment "synthetic", so a configuration shared by two pages is trained once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import claims
from .sweep import Experiment, grid
from .train import SyntheticRun

# The code a synthetic result depends on: the task, the model and the training recipe. A change there
# re-keys every cached run. The engine (one model at a time, or a stack trained as one computation) is an
# execution strategy: tests/test_batched.py checks that both compute the same models from the same seeds
# (equal up to floating-point reordering), so their results share one cache and each record names the
# engine that produced it. Speed work on the engine therefore does not discard finished runs.
CODE_MODULES = {"single": ("model", "tasks", "train"), "stacked": ("model", "tasks", "train")}


def _run_group_single(configs: list[dict]) -> list[dict]:
    """One model at a time (the reference engine)."""
    from .train import train_one, make_data

    out, cache = [], {}
    for c in configs:
        run = SyntheticRun.from_dict(c)
        dkey = (run.task, run.D, run.d, run.T, run.a_seed, run.data_seed, run.n_train, run.n_val)
        if dkey not in cache:
            cache = {dkey: make_data(run)}  # consecutive configs usually share data
        out.append(train_one(run, cache[dkey]))
    return out


def experiment(engine: str = "stacked") -> Experiment:
    """The store experiment for synthetic runs; engine 'stacked' (default) or 'single' give equal results."""
    if engine == "single":
        return Experiment("synthetic", _run_group_single, CODE_MODULES["single"])
    if engine != "stacked":
        raise ValueError(f"engine must be 'stacked' or 'single', got {engine!r}")
    from .batched import run_synthetic_group, stack_key

    return Experiment("synthetic", run_synthetic_group, CODE_MODULES["stacked"], group_by=stack_key, max_group=64)


def configs(base: dict, **axes) -> list[dict]:
    """Full SyntheticRun dicts for a grid over `axes` on top of `base` (fields checked by SyntheticRun)."""
    full = SyntheticRun.from_dict(base).to_dict()
    out = grid(full, **axes)
    for c in out:
        SyntheticRun.from_dict(c)  # raises on an unknown field
    return out


def summarise(df: pd.DataFrame, by=("h", "T"), metric: str = "val_nmse") -> pd.DataFrame:
    """Per group: mean, std (ddof=1, 0 for one seed), min over seeds, and the seed count."""
    g = df.groupby(list(by))[metric]
    out = g.agg(mean="mean", std=lambda s: float(s.std(ddof=1)) if len(s) > 1 else 0.0, min="min", seeds="count")
    return out.reset_index()


def drop_at_D(summary: pd.DataFrame, D: int, col: str = "min", factor: float = 10.0) -> claims.Verdict:
    """Claim (a): NMSE falls at least `factor`-fold from h = D-1 to h = D at every T."""
    rows, flags = [], []
    for T, sub in summary.groupby("T"):
        sub = sub.set_index("h")[col]
        if D - 1 not in sub.index or D not in sub.index:
            continue
        ratio = sub[D - 1] / sub[D]
        flags.append(bool(ratio >= factor))
        rows.append(f"T={T}: {ratio:.1f}x")
    v = claims.verdict_from(flags) if flags else claims.NOT_TESTED
    return claims.Verdict("C15", f"{col} NMSE drops >= {factor:g}x from h = D-1 = {D - 1} to h = D = {D} at every T",
                          v, "; ".join(rows) or "h = D-1 and h = D not both in the grid")


def grows_with_T(summary: pd.DataFrame, D: int, col: str = "min") -> claims.Verdict:
    """Claim (b): for every h < D, NMSE at the longest T exceeds NMSE at the shortest T (and the
    Spearman correlation of NMSE with T is positive)."""
    rows, flags = [], []
    for h, sub in summary[summary["h"] < D].groupby("h"):
        sub = sub.sort_values("T")
        if len(sub) < 2:
            continue
        vals = sub[col].to_numpy()
        rho = _spearman(sub["T"].to_numpy(), vals)
        ok = bool(vals[-1] > vals[0] and rho > 0)
        flags.append(ok)
        rows.append(f"h={h}: {vals[0]:.2e} -> {vals[-1]:.2e} (rho={rho:+.2f})")
    v = claims.verdict_from(flags) if flags else claims.NOT_TESTED
    return claims.Verdict("C16a", "for h < D, NMSE grows with T", v, "; ".join(rows) or "fewer than two T values")


def flattens(summary: pd.DataFrame, D: int, col: str = "min") -> claims.Verdict:
    """Claim (c): for h >= D the T-dependence flattens: the relative growth of NMSE from the shortest
    to the longest T is smaller for every h >= D than for every h < D (a decrease counts as flat)."""
    growth = {}
    for h, sub in summary.groupby("h"):
        sub = sub.sort_values("T")
        if len(sub) >= 2:
            growth[h] = float(sub[col].iloc[-1] / sub[col].iloc[0])
    below = [g for h, g in growth.items() if h < D]
    above = [g for h, g in growth.items() if h >= D]
    if not below or not above:
        return claims.Verdict("C16b", "for h >= D, the T-dependence flattens", claims.NOT_TESTED,
                              "needs head counts on both sides of D")
    ok = max(above) < min(below)
    ev = ", ".join(f"h={h}: x{g:.2f}" for h, g in sorted(growth.items()))
    return claims.Verdict("C16b", "for h >= D, NMSE(T_max)/NMSE(T_min) is below that of every h < D",
                          claims.verdict_from(ok), f"growth from shortest to longest T: {ev}")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])
