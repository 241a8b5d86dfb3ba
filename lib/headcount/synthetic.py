"""The synthetic sum-of-max experiments: one store experiment, summaries over seeds, and the claim checks.

Every synthetic page (head count, width, fixed E, D = 3, depth, zoom) runs its configs through the same
store experiment "synthetic", so a configuration shared by two pages is trained once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import analysis, claims
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


# Claim C15 in the paper's words: the drop from h = D-1 to h = D is "1 to 2.5 orders of magnitude".
DROP_MIN, DROP_MAX = 10.0, 10 ** 2.5


def drop_at_D(summary: pd.DataFrame, D: int, col: str = "min", factor: float = DROP_MIN,
              most: float = DROP_MAX) -> claims.Verdict:
    """C15: NMSE falls from h = D-1 to h = D at every T.

    Core: the drop NMSE(D-1) / NMSE(D) is at least `factor` (one order of magnitude) at every T.
    Supporting: it is at most `most` (the paper's 2.5 orders), and it is the largest drop between
    consecutive head counts of the grid. A T where NMSE(D) is at chance (near 1) is no evidence."""
    test = (f"{col} NMSE drops >= {factor:g}x from h = D-1 = {D - 1} to h = D = {D} at every T "
            f"(supporting: at most {most:.0f}x, and the largest drop between consecutive h)")
    hs = sorted(set(summary["h"])) if len(summary) else []
    if D < 2 or D - 1 not in hs or D not in hs:
        return claims.judge("C15", test, [], out_of_regime=f"the grid (h = {hs}) does not hold both h = {D - 1} "
                                                            f"and h = {D}")
    r = analysis.transition_ratios(summary, col)
    drop, elsewhere, chance = {}, {}, []
    for T, sub in r.groupby("T", sort=True):
        s = sub.set_index("h")["ratio"]
        if D not in s.index:
            continue
        at = summary[(summary["T"] == T) & (summary["h"] == D)][col].iloc[0]
        if analysis.nmse_at_chance(at):
            chance.append(T)
            continue
        drop[T] = float(s[D])
        others = s.drop(D)
        elsewhere[T] = float(others.max()) if len(others) else float("nan")
    note = f"; T = {chance}: NMSE at h = D at chance, no evidence" if chance else ""
    if not drop:
        return claims.judge("C15", test, [claims.core(f"drop >= {factor:g}x", None, "every T at chance" + note)])
    fmt = ", ".join(f"T={T}: {v:.1f}x" for T, v in drop.items())
    checks = [
        claims.core(f"drop >= {factor:g}x", all(v >= factor for v in drop.values()), fmt + note,
                    **{f"T{T}": v for T, v in drop.items()}),
        claims.supporting(f"drop <= {most:.0f}x", all(v <= most for v in drop.values()), fmt),
        claims.supporting("largest drop", all(not (e >= drop[T]) for T, e in elsewhere.items()),
                          "largest drop between other consecutive h: "
                          + ", ".join(f"T={T}: {v:.1f}x" for T, v in elsewhere.items())),
    ]
    return claims.judge("C15", test, checks)


def growth_in_T(summary: pd.DataFrame, col: str = "min") -> pd.DataFrame:
    """Per h with at least two T: NMSE(T_max) / NMSE(T_min), the Spearman correlation of NMSE with T, whether
    it grows at every step of the T grid, and whether every value is at chance. Columns h, growth, rho,
    every_step, at_chance, n_T."""
    rows = []
    for h, sub in summary.groupby("h", sort=True):
        sub = sub.sort_values("T")
        if len(sub) < 2:
            continue
        v = sub[col].to_numpy()
        rows.append(dict(h=h, growth=float(v[-1] / v[0]), rho=_spearman(sub["T"].to_numpy(), v),
                         every_step=bool(np.all(np.diff(v) > 0)),
                         at_chance=bool(all(analysis.nmse_at_chance(x) for x in v)), n_T=int(len(v))))
    return pd.DataFrame(rows, columns=["h", "growth", "rho", "every_step", "at_chance", "n_T"])


def _trend_regime(summary: pd.DataFrame, side: str, D: int) -> str | None:
    hs = sorted(set(summary["h"])) if len(summary) else []
    Ts = sorted(set(summary["T"])) if len(summary) else []
    if len(Ts) < 2:
        return f"a trend in T needs at least two T (grid: T = {Ts})"
    if not any((h < D) if side == "below" else (h >= D) for h in hs):
        return f"the grid (h = {hs}) has no h {'< ' if side == 'below' else '>= '}{D}"
    return None


def grows_with_T(summary: pd.DataFrame, D: int, col: str = "min", tol: float = 0.2) -> claims.Verdict:
    """C16a: for every h < D, NMSE grows with T.

    Core: NMSE(T_max) / NMSE(T_min) > 1 + tol and a positive Spearman correlation with T, for every h < D.
    Supporting: NMSE grows at every step of the T grid. An h at chance at every T is no evidence."""
    test = f"for every h < D = {D}, {col} NMSE at the longest T is more than {1 + tol:g}x that at the shortest T"
    reason = _trend_regime(summary, "below", D)
    if reason:
        return claims.judge("C16a", test, [], out_of_regime=reason)
    g = growth_in_T(summary, col)
    g = g[g["h"] < D]
    ev = g[~g["at_chance"]]
    note = (f"; h = {g.loc[g['at_chance'], 'h'].tolist()} at chance, no evidence" if g["at_chance"].any() else "")
    fmt = "; ".join(f"h={h}: x{x:.2f} (rho {r:+.2f})" for h, x, r in zip(ev["h"], ev["growth"], ev["rho"]))
    core = claims.core("grows", bool(((ev["growth"] > 1 + tol) & (ev["rho"] > 0)).all()) if len(ev) else None,
                       (fmt or "every h at chance") + note, **{f"h{h}": x for h, x in zip(ev["h"], ev["growth"])})
    steps = claims.supporting("every step", bool(ev["every_step"].all()) if len(ev) else None,
                              ", ".join(f"h={h}: {'yes' if s else 'no'}" for h, s in zip(ev["h"], ev["every_step"])))
    return claims.judge("C16a", test, [core, steps])


def flattens(summary: pd.DataFrame, D: int, col: str = "min", tol: float = 0.2) -> claims.Verdict:
    """C16b: for h >= D, NMSE is flat or falls in T.

    Core: NMSE(T_max) / NMSE(T_min) <= 1 + tol for every h >= D (the same tolerance that C16a's growth must
    exceed). Supporting: that growth is below the growth of every h < D. An h at chance is no evidence."""
    test = f"for every h >= D = {D}, {col} NMSE at the longest T is at most {1 + tol:g}x that at the shortest T"
    reason = _trend_regime(summary, "above", D)
    if reason:
        return claims.judge("C16b", test, [], out_of_regime=reason)
    g = growth_in_T(summary, col)
    g = g[~g["at_chance"]]
    above, below = g[g["h"] >= D], g[g["h"] < D]
    fmt = lambda t: ", ".join(f"h={h}: x{x:.2f}" for h, x in zip(t["h"], t["growth"]))  # noqa: E731
    core = claims.core("flat or falls", bool((above["growth"] <= 1 + tol).all()) if len(above) else None,
                       fmt(above) or "every h >= D at chance", **{f"h{h}": x for h, x in zip(above["h"], above["growth"])})
    flatter = claims.supporting(
        "flatter than h < D",
        bool(above["growth"].max() < below["growth"].min()) if len(above) and len(below) else None,
        f"h < D: {fmt(below)}" if len(below) else "no h < D to compare")
    return claims.judge("C16b", test, [core, flatter])


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])
