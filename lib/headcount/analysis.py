"""Analysis applied to results: the weighted reversal score, log-log line fits, and the location of the
head-count transition.

Weighted reversal score (the paper's Figures 2d and 2e). For one head count h with errors err(T) over a
grid of sequence lengths,

    R(h) = (1 / w_h) * sum_{T1 < T2} max(err(T1) - err(T2), 0),    w_h = max_T err(T) - min_T err(T),

and R(h) = 0 when every err(T) is equal. R(h) = 0 means the error never falls as T grows (the regime
h < D, where a longer sequence is harder); R(h) > 0 means some longer sequence has a smaller error,
which the paper reads as the regime after the transition (its Remark B.1.1). Dividing by w_h makes R
independent of the error's scale, so h with errors near 1e-6 and near 1e-1 are comparable; R lies in
[0, K(K-1)/2] for K values of T.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import claims


def _errors_in_T_order(err_by_T) -> np.ndarray:
    """err(T) as an array ordered by increasing T.

    A Mapping or Series is read as {T: err} and sorted by T; a plain sequence is taken to be in
    increasing T already."""
    if isinstance(err_by_T, pd.Series):
        vals = err_by_T.sort_index().to_numpy(dtype=float)
    elif isinstance(err_by_T, Mapping):
        vals = np.array([err_by_T[T] for T in sorted(err_by_T)], dtype=float)
    elif isinstance(err_by_T, (Sequence, np.ndarray)) and not isinstance(err_by_T, (str, bytes)):
        vals = np.asarray(err_by_T, dtype=float).reshape(-1)
    else:
        raise TypeError(f"err_by_T must be a mapping {{T: err}}, a Series indexed by T or a sequence; "
                        f"got {type(err_by_T).__name__}")
    if vals.size == 0:
        raise ValueError("reversal_score needs at least one (T, err) value")
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"reversal_score needs finite errors; got {vals.tolist()}")
    return vals


def reversal_score(err_by_T) -> float:
    """R(h): the sum over T1 < T2 of the drops max(err(T1) - err(T2), 0), divided by max_T err - min_T err.

    `err_by_T` is {T: err}, a Series indexed by T, or a sequence in increasing T. Returns 0.0 when all
    errors are equal (including a single T)."""
    e = _errors_in_T_order(err_by_T)
    w = float(e.max() - e.min())
    if w == 0.0:
        return 0.0
    # drops[i, j] = e[i] - e[j]; keep the pairs i < j (T_i < T_j) where the error fell
    drops = e[:, None] - e[None, :]
    upper = np.triu(np.ones_like(drops, dtype=bool), k=1)
    return float(np.clip(drops[upper], 0.0, None).sum() / w)


def reversal_scores(df: pd.DataFrame, h_col: str = "h", T_col: str = "T", err_col: str = "err") -> pd.DataFrame:
    """R(h) for every h in a tidy table with one row per (h, T); returns columns [h_col, "R", "n_T"].

    Several rows for one (h, T) (e.g. seeds) are an error: reduce them first (min or mean over seeds),
    since the score depends on which reduction is used."""
    missing = [c for c in (h_col, T_col, err_col) if c not in df.columns]
    if missing:
        raise ValueError(f"reversal_scores: columns {missing} not in the table (has {list(df.columns)})")
    dup = df.duplicated([h_col, T_col])
    if dup.any():
        first = df.loc[dup, [h_col, T_col]].iloc[0].tolist()
        raise ValueError(f"reversal_scores: several rows for ({h_col}, {T_col}) = {first}; reduce over seeds first")
    rows = []
    for h, sub in df.groupby(h_col, sort=True):
        s = sub.set_index(T_col)[err_col]
        rows.append({h_col: h, "R": reversal_score(s), "n_T": int(len(s))})
    return pd.DataFrame(rows, columns=[h_col, "R", "n_T"])


def loglog_fit(x, y) -> tuple[float, float]:
    """Least-squares line log10(y) = slope * log10(x) + intercept; returns (slope, intercept).

    For y = c * x**p exactly, returns (p, log10(c)). The slope does not depend on the base of the
    logarithm; the intercept is in base 10."""
    x, y = np.asarray(x, dtype=float).reshape(-1), np.asarray(y, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"loglog_fit: x and y differ in length ({x.size} vs {y.size})")
    if np.any(x <= 0) or np.any(y <= 0) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("loglog_fit needs finite, positive x and y")
    if np.unique(x).size < 2:
        raise ValueError("loglog_fit needs at least two distinct x values")
    slope, intercept = np.polyfit(np.log10(x), np.log10(y), 1)
    return float(slope), float(intercept)


def loglog_r2(x, y) -> float:
    """Coefficient of determination of the log-log line of `loglog_fit` (1 = exactly a power law)."""
    slope, intercept = loglog_fit(x, y)
    lx, ly = np.log10(np.asarray(x, dtype=float)), np.log10(np.asarray(y, dtype=float))
    ss_res = float(((ly - (slope * lx + intercept)) ** 2).sum())
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    return 1.0 if ss_tot == 0 else 1.0 - ss_res / ss_tot


def transition_ratios(summary: pd.DataFrame, col: str = "min") -> pd.DataFrame:
    """Per T and consecutive head counts h-1 -> h in the grid: the ratio err(h-1) / err(h).

    Returns columns T, h (the larger head count of the pair), ratio."""
    rows = []
    for T, sub in summary.groupby("T", sort=True):
        s = sub.set_index("h")[col].sort_index()
        for h in s.index:
            if h - 1 in s.index:
                rows.append({"T": T, "h": h, "ratio": float(s[h - 1] / s[h])})
    return pd.DataFrame(rows, columns=["T", "h", "ratio"])


def transition_at(summary: pd.DataFrame, h_star: int, claim_id: str, what: str, col: str = "min",
                  factor: float = 10.0) -> claims.Verdict:
    """The transition sits at h = h_star: at each T, the drop err(h_star - 1) / err(h_star) is at least
    `factor` and is the largest drop between consecutive head counts in the grid.

    `summary` has columns h, T and `col` (e.g. synthetic.summarise's min over seeds). One flag per T:
    reproduced if every T passes, partly if some do."""
    r = transition_ratios(summary, col)
    flags, rows = [], []
    for T, sub in r.groupby("T", sort=True):
        s = sub.set_index("h")["ratio"]
        if h_star not in s.index:
            continue
        biggest = int(s.idxmax())
        ok = bool(s[h_star] >= factor and biggest == h_star)
        flags.append(ok)
        note = "" if biggest == h_star else f", largest drop at h={biggest - 1}->{biggest} ({s[biggest]:.1f}x)"
        rows.append(f"T={T}: {s[h_star]:.1f}x{note}")
    statement = (f"{what}: the largest drop in {col} NMSE is from h = {h_star - 1} to h = {h_star}, "
                 f"at least {factor:g}x, at every T")
    if not flags:
        return claims.Verdict(claim_id, statement, claims.NOT_TESTED,
                              f"h = {h_star - 1} and h = {h_star} are not both in the grid")
    return claims.Verdict(claim_id, statement, claims.verdict_from(flags), "; ".join(rows))


def reversal_turns_positive_at(scores: pd.DataFrame, h_star: int, claim_id: str, what: str,
                               tol: float = 0.0) -> claims.Verdict:
    """R(h) <= tol for every h < h_star and R(h) > tol for every h >= h_star (table from reversal_scores).

    `tol` > 0 lets sampling noise between neighbouring T (a small reversal at h < h_star) count as zero;
    it is stated in the verdict."""
    below = scores[scores["h"] < h_star]
    above = scores[scores["h"] >= h_star]
    statement = f"{what}: R(h) becomes positive exactly at h = {h_star}" + (f" (R > {tol:g} counts as positive)"
                                                                           if tol > 0 else "")
    ev = ", ".join(f"h={int(h)}: {R:.2f}" for h, R in zip(scores["h"], scores["R"]))
    if below.empty or above.empty:
        return claims.Verdict(claim_id, statement, claims.NOT_TESTED, f"needs h on both sides of {h_star}; {ev}")
    flags = [bool(R <= tol) for R in below["R"]] + [bool(R > tol) for R in above["R"]]
    return claims.Verdict(claim_id, statement, claims.verdict_from(flags), ev)


def budget_table(short: pd.DataFrame, long: pd.DataFrame, train: str, val: str, epochs: int, epochs_long: int,
                 fmt: str, long_label: str = "{} epochs") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A longer-training check side by side: per (h, T) in both summaries, the training and validation metric
    after `epochs` and after `epochs_long` (long_label formats the latter, e.g. "up to {} epochs").

    Returns (numbers, printed): numbers has columns h, T, <train>_short, <train>_long, <val>_short, <val>_long;
    printed has the values formatted with fmt and the budgets in the column names."""
    cols = ["h", "T", train, val]
    num = (short[cols].merge(long[cols], on=["h", "T"], suffixes=("_short", "_long"))
           .sort_values(["h", "T"]).reset_index(drop=True))
    printed = pd.DataFrame({"h": num["h"], "T": num["T"]})
    for name, col in (("training", train), ("validation", val)):
        printed[f"{name}, {epochs} epochs"] = num[f"{col}_short"].map(fmt.format)
        printed[f"{name}, {long_label.format(epochs_long)}"] = num[f"{col}_long"].map(fmt.format)
    return num, printed
