"""Analysis applied to results: the weighted reversal score, log-log line fits, the location of the
head-count transition, and the error law of the MS MARCO experiment (fitted in log scale under the mean
absolute error, `fit_error_law`).

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

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from headcount import claims


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


# NMSE = MSE / Var(y): predicting the mean of the targets gives 1, so an NMSE near 1 is the chance level of
# this metric (a model that learned nothing). Such a value is no evidence for or against a claim.
CHANCE_NMSE = 1.0
CHANCE_MARGIN = 0.1


def nmse_at_chance(value: float, margin: float = CHANCE_MARGIN) -> bool:
    """Whether an NMSE is indistinguishable from predicting the mean: within `margin` (relative) of 1, or above."""
    return bool(value >= CHANCE_NMSE * (1 - margin))


def _fmt_T(d: dict, fmt: str = "{:.1f}x") -> str:
    return ", ".join(f"T={T}: " + fmt.format(v) for T, v in d.items())


def transition_at(summary: pd.DataFrame, h_star: int, claim_id: str, what: str, col: str = "min",
                  factor: float = 10.0) -> claims.Verdict:
    """The transition sits at h = h_star (claims C19, C20, C21).

    Core (per T of the grid): the drop err(h_star - 1) / err(h_star) is at least `factor`, and it is the
    largest drop between consecutive head counts of the grid. Supporting: the error stays low after the
    transition: every h > h_star is still at least `factor` below h_star - 1. A T where err(h_star) sits at
    the chance level of NMSE (`nmse_at_chance`) is no evidence. Not testable when the grid lacks h_star - 1
    or h_star. `summary` has columns h, T and `col` (e.g. analysis.summarise's min over seeds)."""
    test = (f"{what}: the drop in {col} NMSE from h = {h_star - 1} to h = {h_star} is at least {factor:g}x and the "
            f"largest between consecutive h, at every T")
    hs = sorted(set(summary["h"])) if len(summary) else []
    if h_star < 2 or h_star - 1 not in hs or h_star not in hs:
        return claims.judge(claim_id, test, [], out_of_regime=(
            f"the grid (h = {hs}) does not hold both h = {h_star - 1} and h = {h_star}"))
    r = transition_ratios(summary, col)
    drop, elsewhere, after, chance = {}, {}, {}, []
    for T, sub in summary.groupby("T", sort=True):
        s = sub.set_index("h")[col]
        if h_star - 1 not in s.index or h_star not in s.index:
            continue
        if nmse_at_chance(s[h_star]):
            chance.append(T)
            continue
        rT = r[r["T"] == T].set_index("h")["ratio"]
        drop[T] = float(rT[h_star])
        others = rT.drop(h_star)
        elsewhere[T] = float(others.max()) if len(others) else float("nan")
        higher = s[s.index > h_star]
        if len(higher):
            after[T] = float(s[h_star - 1] / higher.max())
    note = f"; T = {chance} at chance (NMSE near 1), no evidence" if chance else ""
    if not drop:
        size = claims.core("drop >= factor", None, f"every T at chance{note}")
        return claims.judge(claim_id, test, [size])
    size = claims.core(f"drop >= {factor:g}x", all(v >= factor for v in drop.values()), _fmt_T(drop) + note,
                       **{f"T{T}": v for T, v in drop.items()})
    largest = claims.core("largest drop", all(not (e >= drop[T]) for T, e in elsewhere.items()),
                          "largest drop elsewhere: " + _fmt_T(elsewhere),
                          **{f"T{T}_elsewhere": v for T, v in elsewhere.items() if np.isfinite(v)})
    if after:
        stays = claims.supporting("stays low after", all(v >= factor for v in after.values()),
                                  f"h = {h_star - 1} over the worst h > {h_star}: " + _fmt_T(after))
    else:
        stays = claims.supporting("stays low after", None, f"no h > {h_star} in the grid")
    return claims.judge(claim_id, test, [size, largest, stays])


def reversal_turns_positive_at(scores: pd.DataFrame, h_star: int, claim_id: str, what: str, tol: float = 0.0,
                               no_evidence=()) -> claims.Verdict:
    """R(h) turns positive exactly at h = h_star (table from reversal_scores; claim C22).

    Core: R(h) <= tol for every h < h_star (zero below), and R(h_star) > tol (positive at h_star): if R at
    h_star is not above the tolerance, the claim's core fails. Supporting: R(h) > tol for every h > h_star.
    `tol` lets a small reversal from sampling noise between neighbouring T count as zero. Head counts in
    `no_evidence` (e.g. errors at chance level) are left out. Not testable without h < h_star and h_star
    in the grid, or with fewer than two T (R is 0 by definition for one T)."""
    test = f"{what}: R(h) <= {tol:g} for every h < {h_star} and R > {tol:g} from h = {h_star} on"
    sc = scores[~scores["h"].isin(list(no_evidence))] if len(scores) else scores
    hs = sorted(int(h) for h in scores["h"]) if len(scores) else []
    nT = int(scores["n_T"].max()) if len(scores) and "n_T" in scores else 2
    if not any(h < h_star for h in hs) or h_star not in hs or nT < 2:
        reason = (f"R needs at least two T (the grid has {nT})" if nT < 2 else
                  f"the grid (h = {hs}) needs h < {h_star} and h = {h_star}")
        return claims.judge(claim_id, test, [], out_of_regime=reason)
    R = {int(h): float(v) for h, v in zip(sc["h"], sc["R"])}
    left = [int(h) for h in no_evidence if int(h) in hs]
    note = f"; h = {left} at chance, no evidence" if left else ""
    below = {h: v for h, v in R.items() if h < h_star}
    above = {h: v for h, v in R.items() if h > h_star}
    fmt = lambda d: ", ".join(f"R({h}) = {v:.2f}" for h, v in d.items())  # noqa: E731
    if h_star not in R:  # no evidence where R should turn positive: nothing says where it turns
        below = {}
        note += f"; R({h_star}) is no evidence, so neither is where R turns positive"
    zero = claims.core("zero below", all(v <= tol for v in below.values()) if below else None,
                       (fmt(below) or "no h below with evidence") + note, **{f"R{h}": v for h, v in below.items()})
    at = claims.core(f"positive at h = {h_star}", (R[h_star] > tol) if h_star in R else None,
                     f"R({h_star}) = {R[h_star]:.2f} against {tol:g}" if h_star in R else "at chance",
                     **({f"R{h_star}": R[h_star]} if h_star in R else {}))
    stays = claims.supporting("positive above", all(v > tol for v in above.values()) if above else None,
                              fmt(above) or f"no h > {h_star} in the grid", **{f"R{h}": v for h, v in above.items()})
    return claims.judge(claim_id, test, [zero, at, stays])


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


# ----------------------------------------------------------------------------------------------------------
# the error law of the MS MARCO experiment (paper Fig. 2b): Err ~ c T^beta exp(alpha h / T^delta)


def error_law(h, T, c: float, beta: float, alpha: float, delta: float) -> np.ndarray:
    """Err(h, T) = c T^beta exp(alpha h / T^delta)."""
    h, T = np.asarray(h, dtype=float), np.asarray(T, dtype=float)
    return c * T**beta * np.exp(alpha * h / T**delta)


@dataclass
class ErrorLawFit:
    c: float
    beta: float
    alpha: float
    delta: float
    mae_log: float  # mean |log Err - log fit| over the points used
    n_points: int
    excluded_h: tuple
    fixed: tuple  # names of the parameters held fixed
    clipped: int  # points whose error was raised to the floor (accuracy 1 would give log 0)

    def predict(self, h, T) -> np.ndarray:
        return error_law(h, T, self.c, self.beta, self.alpha, self.delta)

    def as_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=16)
def _subsets(n: int, p: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(n), p)), dtype=np.int64)


def _lad(X: np.ndarray, y: np.ndarray, max_subsets: int = 20000) -> tuple[np.ndarray, float]:
    """Least absolute deviations min_theta mean |y - X theta|; returns (theta, mean absolute residual).

    An optimum of this linear program interpolates p = X.shape[1] of the points, so for small problems all
    p-subsets are solved and the best is taken (exact); larger ones use iteratively reweighted least squares."""
    n, p = X.shape
    if math.comb(n, p) <= max_subsets:
        idx = _subsets(n, p)  # (m, p)
        A, b = X[idx], y[idx]  # (m, p, p), (m, p)
        ok = np.abs(np.linalg.det(A)) > 1e-10
        if ok.any():
            th = np.linalg.solve(A[ok], b[ok][..., None])[..., 0]  # (m', p)
            mae = np.abs(y[None, :] - th @ X.T).mean(axis=1)
            # The optimum need not be unique (a flat direction of the LP gives several vertices with the same
            # mean absolute residual); which of them argmin returns then depends on rounding, i.e. on the
            # processor. Take, among the vertices within rounding of the best, the one of smallest norm.
            best = float(mae.min())
            near = np.flatnonzero(mae <= best + 1e-9 * max(1.0, abs(best)))
            i = int(near[np.argmin(np.linalg.norm(th[near], axis=1))])
            return th[i], float(mae[i])
    theta = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(500):
        w = 1.0 / np.maximum(np.abs(y - X @ theta), 1e-8)
        sw = np.sqrt(w)
        new = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        done = np.max(np.abs(new - theta)) < 1e-12
        theta = new
        if done:
            break
    return theta, float(np.mean(np.abs(y - X @ theta)))


def fit_error_law(h, T, err, exclude_h=(), alpha: float | None = None, delta: float | None = None,
                  floor: float = 1e-3, delta_range: tuple[float, float] = (-0.5, 1.5)) -> ErrorLawFit:
    """Fit log Err = log c + beta log T + alpha h T^(-delta) under the mean absolute error in log scale (the
    paper's criterion). For a fixed delta the model is linear in (log c, beta, alpha) and is solved exactly
    as a least-absolute-deviations problem; delta is found by a grid search refined by golden sections.
    alpha and/or delta may be held fixed (e.g. at the paper's -1.40 and 0.25). Points with h in exclude_h
    are dropped; errors below `floor` (accuracy 1 at the table's resolution) are raised to it."""
    h, T, err = (np.asarray(v, dtype=float).ravel() for v in (h, T, err))
    keep = ~np.isin(h, np.asarray(exclude_h, dtype=float))
    h, T, err = h[keep], T[keep], err[keep]
    n_free = 2 + (alpha is None) + (delta is None)
    if len(h) <= n_free or len(set(T)) < 2 or (alpha is None and len(set(h)) < 2):
        raise ValueError(f"the error law with {n_free} free parameters needs more than {n_free} points over at "
                         f"least two T (and two h when alpha is free); got {len(h)} points, "
                         f"T in {sorted(set(T.tolist()))}, h in {sorted(set(h.tolist()))} after exclusions")
    clipped = int((err < floor).sum())
    y = np.log(np.maximum(err, floor))

    def solve(dl: float):
        x = h / T**dl
        if alpha is None:
            X = np.stack([np.ones_like(h), np.log(T), x], axis=1)
            th, mae = _lad(X, y)
            return (th[0], th[1], th[2]), mae
        X = np.stack([np.ones_like(h), np.log(T)], axis=1)
        th, mae = _lad(X, y - alpha * x)
        return (th[0], th[1], alpha), mae

    if delta is not None:
        best_d = float(delta)
    else:
        grid = np.linspace(*delta_range, 61)
        maes = [solve(dl)[1] for dl in grid]
        i = int(np.argmin(maes))
        # golden-section refinement inside the two grid cells around the best grid point
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        g = (math.sqrt(5) - 1) / 2
        c1, c2 = b - g * (b - a), a + g * (b - a)
        f1, f2 = solve(c1)[1], solve(c2)[1]
        for _ in range(30):
            if f1 <= f2:
                b, c2, f2 = c2, c1, f1
                c1 = b - g * (b - a)
                f1 = solve(c1)[1]
            else:
                a, c1, f1 = c1, c2, f2
                c2 = a + g * (b - a)
                f2 = solve(c2)[1]
        cands = [(maes[i], float(grid[i])), (f1, c1), (f2, c2)]
        best_d = min(cands)[1]
    (logc, beta, al), mae = solve(best_d)
    fixed = tuple(n for n, v in (("alpha", alpha), ("delta", delta)) if v is not None)
    return ErrorLawFit(c=float(np.exp(logc)), beta=float(beta), alpha=float(al), delta=float(best_d),
                       mae_log=float(mae), n_points=int(len(h)), excluded_h=tuple(exclude_h), fixed=fixed,
                       clipped=clipped)


# ----------------------------------------------------------------------------------------------------------
# the synthetic head-count experiment (claims C15, C16): summaries over seeds and their checks


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
    r = transition_ratios(summary, col)
    drop, elsewhere, chance = {}, {}, []
    for T, sub in r.groupby("T", sort=True):
        s = sub.set_index("h")["ratio"]
        if D not in s.index:
            continue
        at = summary[(summary["T"] == T) & (summary["h"] == D)][col].iloc[0]
        if nmse_at_chance(at):
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
                         at_chance=bool(all(nmse_at_chance(x) for x in v)), n_T=int(len(v))))
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


# ----------------------------------------------------------------------------------------------------------
# C16b: what drives our error at h >= D against T, beside the paper's Table 2 (hypotheses testable from
# the stored runs and the regenerated data)
# ----------------------------------------------------------------------------------------------------------

NORMALISATIONS = {  # column -> what it divides the validation MSE by
    "nmse": "Var(y) of the validation targets (the book's NMSE)",
    "nmse_meansq": "E[y^2] of the validation targets",
    "nmse_trainvar": "Var(y) of the training targets",
    "mse": "nothing (the raw MSE)",
}


def renormalise(runs: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """The runs' validation error under each normalisation of NORMALISATIONS. `runs`: h, T, seed, val_nmse (MSE
    / Var(y_val), population variance); `stats`: per T the validation targets' var_val and meansq_val and the
    training targets' var_train. The MSE is recovered exactly as val_nmse x var_val."""
    need = {"T", "var_val", "meansq_val", "var_train"}
    if not need <= set(stats.columns):
        raise ValueError(f"stats needs columns {sorted(need)}; got {sorted(stats.columns)}")
    df = runs[["h", "T", "seed", "val_nmse"]].merge(stats, on="T", how="left")
    if df["var_val"].isna().any():
        raise ValueError(f"stats lack T = {sorted(set(runs['T']) - set(stats['T']))}")
    mse = df["val_nmse"] * df["var_val"]
    return pd.DataFrame({"h": df["h"], "T": df["T"], "seed": df["seed"], "nmse": df["val_nmse"],
                         "nmse_meansq": mse / df["meansq_val"], "nmse_trainvar": mse / df["var_train"], "mse": mse})


def trend_word(ratio: float, tol: float) -> str:
    return "rises" if ratio > 1 + tol else ("falls" if ratio < 1 / (1 + tol) else "is flat")


def normalisation_trends(table: pd.DataFrame, h: int, tol: float) -> pd.DataFrame:
    """Per normalisation, at head count h: the mean and the minimum over seeds at the shortest and the longest T,
    their ratio (longest / shortest) and its direction within `tol` (the page's trend tolerance)."""
    part = table[table["h"] == h]
    if part["T"].nunique() < 2:
        raise ValueError(f"h = {h}: the trend needs at least two T")
    T0, T1 = part["T"].min(), part["T"].max()
    rows = []
    for col, what in NORMALISATIONS.items():
        for agg in ("mean", "min"):
            by = part.groupby("T")[col].agg(agg)
            r = float(by[T1] / by[T0])
            rows.append({"normalisation": col, "divides by": what, "over seeds": agg, "T_min": int(T0), "T_max": int(T1),
                         "at T_min": float(by[T0]), "at T_max": float(by[T1]), "ratio": r,
                         "trend": trend_word(r, tol)})
    return pd.DataFrame(rows)


def floor_shares(runs: pd.DataFrame, D: int, factor: float, metric: str = "val_nmse") -> pd.DataFrame:
    """Per (h, T) for h >= D: the share of seeds that reach the error floor, the floor at T being the smallest
    error of any seed at any h >= D at that T and "reaching" it meaning an error at most `factor` times it; with
    the mean error of the seeds that reach it and of those that do not."""
    if not factor >= 1:
        raise ValueError(f"factor must be >= 1; got {factor!r}")
    above = runs[runs["h"] >= D]
    if above.empty:
        raise ValueError(f"no runs at h >= D = {D}")
    floor = above.groupby("T")[metric].min().rename("floor")
    df = above.merge(floor, on="T")
    df["reached"] = df[metric] <= factor * df["floor"]
    rows = []
    for (h, T), g in df.groupby(["h", "T"]):
        hit, miss = g[g["reached"]], g[~g["reached"]]
        rows.append({"h": int(h), "T": int(T), "seeds": len(g), "reached": int(len(hit)), "share": len(hit) / len(g),
                     "floor": float(g["floor"].iloc[0]), "mean_reached": float(hit[metric].mean()) if len(hit) else math.nan,
                     "mean_missed": float(miss[metric].mean()) if len(miss) else math.nan})
    return pd.DataFrame(rows)


def c16b_findings(trends: pd.DataFrame, shares: pd.DataFrame, h: int, tol: float) -> dict:
    """What the hypotheses say about the T-trend at h, computed from `normalisation_trends` and `floor_shares`:
    for each normalisation whether the mean still rises; whether the share of seeds at the floor falls with T;
    and whether the mean of the seeds that reach the floor rises (a trend in the error of successful seeds) or
    not (a trend in the share)."""
    t = trends[trends["over seeds"] == "mean"].set_index("normalisation")
    s = shares[shares["h"] == h].sort_values("T")
    out = {"mean_trend": {k: (t.loc[k, "trend"], float(t.loc[k, "ratio"])) for k in t.index}}
    out["share_first"], out["share_last"] = float(s["share"].iloc[0]), float(s["share"].iloc[-1])
    r = s.dropna(subset=["mean_reached"])
    out["reached_ratio"] = float(r["mean_reached"].iloc[-1] / r["mean_reached"].iloc[0]) if len(r) >= 2 else math.nan
    out["reached_trend"] = trend_word(out["reached_ratio"], tol) if math.isfinite(out["reached_ratio"]) else "undefined"
    out["floor_ratio"] = float(s["floor"].iloc[-1] / s["floor"].iloc[0])
    out["floor_trend"] = trend_word(out["floor_ratio"], tol)
    return out
