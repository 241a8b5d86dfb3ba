"""Page: min validation NMSE against the feed-forward width N (paper Figure 1b and Figure 4, claim C17).

The runs are the synthetic head-count runs with the hidden width N of both MLPs varied; the training
settings are the head-count page's at the same tier, so the N = 32 runs are shared with it through the
results store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import analysis, claims, synthetic
from ..params import Param, ParamSpec
from ..plots import OURS_STYLE, PAPER_STYLE, new_figure, paper_table
from . import synthetic_heads

# The training settings every synthetic page shares, taken from the head-count page at each tier.
SHARED = ("D", "d", "a_seed", "n", "epochs", "lr", "batch_size", "n_train", "n_val", "data_seed", "engine")


def shared_settings(tier: str) -> dict:
    """The head-count page's values of SHARED at `tier` (so equal configs hit the same stored runs), with
    the stacked engine: these sweeps train many models per T and N, which the stacked engine does about
    an order of magnitude faster on a CPU than one model at a time."""
    return {**{k: synthetic_heads.SPEC.tiers[tier][k] for k in SHARED}, "engine": "stacked"}


def _param(name: str) -> Param:
    return next(p for p in synthetic_heads.PARAMS if p.name == name)


def _needs_D_pair(P: dict) -> str | None:
    D, hs = P["D"], set(P["h_grid"])
    if D >= 2 and not {D - 1, D} <= hs:
        return (f"h_grid must contain D-1 = {D - 1} and D = {D} so both sides of the transition are measured; "
                f"got {sorted(hs)} (pass -p h_grid '[...]' together with -p D)")
    return None


def _needs_two(name: str):
    def rule(P: dict) -> str | None:
        if len(P[name]) < 2:
            return f"{name} needs at least two values for a line fit; got {P[name]}"
        return None

    return rule


PARAMS = [
    *(_param(k) for k in ("D", "d", "a_seed", "T_grid", "h_grid", "n")),
    Param("N_grid", "int_list", "hidden widths N of the encoder MLP and the feed-forward block", minimum=1),
    *(_param(k) for k in ("seeds", "epochs", "lr", "batch_size", "n_train", "n_val", "data_seed", "engine")),
    Param("r2_min", "float", "a log-log fit counts as a line when its R^2 is at least this", minimum=0.0),
    Param("flat_ratio", "float", "h = D counts as flat in N when its slope is at most this fraction of the mean "
          "slope of h < D (slopes are negative when the error falls with N)", minimum=0.0),
    Param("floor_factor", "float", "h = D counts as at its floor when its error is this many times below h = D-1 "
          "at every N", minimum=1.0),
]

_CHECKS = dict(r2_min=0.8, flat_ratio=0.5, floor_factor=10.0)
SPEC = ParamSpec(
    notebook="ablation_width",
    params=PARAMS,
    tiers={
        "smoke": {**shared_settings("smoke"), **_CHECKS, "T_grid": [8], "h_grid": [3, 4], "N_grid": [8, 16],
                  "seeds": [0]},
        "laptop": {**shared_settings("laptop"), **_CHECKS, "T_grid": [8, 32], "h_grid": [1, 2, 3, 4],
                   "N_grid": [8, 16, 32], "seeds": [0, 1]},
        "paper": {**shared_settings("paper"), **_CHECKS, "T_grid": [8, 16, 32, 64, 128], "h_grid": [1, 2, 3, 4],
                  "N_grid": [8, 16, 32, 64, 128], "seeds": [0, 1, 2]},
    },
    rules=[_needs_D_pair, _needs_two("N_grid")],
)


def run_configs(P: dict) -> list[dict]:
    """One SyntheticRun dict per (T, N, h, seed)."""
    base = dict(task="sum_of_max", **{k: P[k] for k in SHARED if k != "engine"})
    return synthetic.configs(base, T=P["T_grid"], N=P["N_grid"], h=P["h_grid"], seed=P["seeds"])


def planned_sweeps(P: dict):
    return [(synthetic.experiment(P["engine"]), run_configs(P))]


def fits(summary: pd.DataFrame, col: str = "min") -> pd.DataFrame:
    """Per (h, T): the line log10 NMSE = slope log10 N + intercept through the `col` values, its R^2,
    and the number of N values; columns h, T, slope, intercept, r2, n_N."""
    rows = []
    for (h, T), sub in summary.groupby(["h", "T"], sort=True):
        if sub["N"].nunique() < 2:
            continue
        slope, intercept = analysis.loglog_fit(sub["N"], sub[col])
        rows.append(dict(h=h, T=T, slope=slope, intercept=intercept, r2=analysis.loglog_r2(sub["N"], sub[col]),
                         n_N=int(sub["N"].nunique())))
    return pd.DataFrame(rows, columns=["h", "T", "slope", "intercept", "r2", "n_N"])


def power_law(summary: pd.DataFrame, D: int, r2_min: float, col: str = "min") -> claims.Verdict:
    """C17 (i): for every h < D and T, the error falls with N along a line in log-log axes
    (fitted slope < 0 and R^2 >= r2_min)."""
    f = fits(summary, col)
    f = f[(f["h"] < D) & (f["n_N"] >= 3)]  # a line through two points always has R^2 = 1
    flags = [bool(s < 0 and r2 >= r2_min) for s, r2 in zip(f["slope"], f["r2"])]
    ev = "; ".join(f"h={h}, T={T}: slope {s:+.2f}, R²={r2:.2f}" for h, T, s, r2 in
                   zip(f["h"], f["T"], f["slope"], f["r2"]))
    return claims.Verdict("C17", f"for h < D = {D}, -log NMSE is roughly linear in log N (fitted slope < 0, "
                          f"R² >= {r2_min:g})", claims.verdict_from(flags) if flags else claims.NOT_TESTED,
                          ev or "needs h < D and at least three values of N")


def longer_T_needs_larger_N(summary: pd.DataFrame, D: int, col: str = "min") -> claims.Verdict:
    """C17 (ii): for every h < D and consecutive T1 < T2, the fitted line of T2 lies above that of T1 at the
    geometric middle of the N grid, so reaching the same error at T2 takes a larger N."""
    f = fits(summary, col)
    f = f[f["h"] < D]
    Ns = summary["N"].unique()
    mid = float(np.mean(np.log10(Ns)))  # log10 of the geometric middle of the N grid
    flags, rows = [], []
    for h, sub in f.groupby("h", sort=True):
        sub = sub.sort_values("T")
        at_mid = (sub["slope"] * mid + sub["intercept"]).to_numpy()
        Ts = sub["T"].to_numpy()
        for i in range(len(Ts) - 1):
            flags.append(bool(at_mid[i + 1] > at_mid[i]))
        rows.append(f"h={h}: " + ", ".join(f"T={T}: {10 ** v:.2e}" for T, v in zip(Ts, at_mid)))
    return claims.Verdict("C17", f"for h < D = {D}, a longer T needs a larger N for the same error (the fitted "
                          f"NMSE at N = {10 ** mid:.0f} grows with T)",
                          claims.verdict_from(flags) if flags else claims.NOT_TESTED,
                          "; ".join(rows) or "needs two T and h < D")


def flat_at_D(summary: pd.DataFrame, D: int, flat_ratio: float, floor_factor: float,
              col: str = "min") -> claims.Verdict:
    """C17 (iii): at h = D the error is near its floor and roughly flat in N. Per T two flags:
    floor: NMSE(h = D) <= NMSE(h = D-1) / floor_factor at every N;
    flat: slope(h = D) >= flat_ratio * mean slope over h < D (a rising error counts as flat)."""
    f = fits(summary, col).set_index(["h", "T"])
    flags, rows = [], []
    for T, sub in summary.groupby("T", sort=True):
        if (D, T) not in f.index:
            continue
        below = [f.loc[(h, T), "slope"] for h in sorted(sub["h"].unique()) if h < D and (h, T) in f.index]
        at = sub[sub["h"] == D].set_index("N")[col]
        prev = sub[sub["h"] == D - 1].set_index("N")[col]
        common = at.index.intersection(prev.index)
        ratio = (prev[common] / at[common]).min() if len(common) else float("nan")
        slope = float(f.loc[(D, T), "slope"])
        if len(common):
            flags.append(bool(ratio >= floor_factor))
        if below:
            ref = float(np.mean(below))
            flags.append(bool(slope >= flat_ratio * ref))
            rows.append(f"T={T}: slope at h=D {slope:+.2f} vs mean slope of h<D {ref:+.2f}; "
                        f"h=D-1 over h=D at least {ratio:.1f}x")
        else:
            rows.append(f"T={T}: slope at h=D {slope:+.2f}; h=D-1 over h=D at least {ratio:.1f}x")
    return claims.Verdict("C17", f"at h = D = {D} the error sits >= {floor_factor:g}x below h = D-1 at every N and is "
                          f"roughly flat in N (slope >= {flat_ratio:g} x the mean slope of h < D)",
                          claims.verdict_from(flags) if flags else claims.NOT_TESTED,
                          "; ".join(rows) or "h = D not in the grid")


def verdicts(summary: pd.DataFrame, P: dict) -> list[claims.Verdict]:
    D = P["D"]
    vs = [power_law(summary, D, P["r2_min"]), longer_T_needs_larger_N(summary, D),
          flat_at_D(summary, D, P["flat_ratio"], P["floor_factor"])]
    for v in vs:
        v.tier = P["tier"]
    return vs


def paper_at_N32(P: dict) -> pd.DataFrame | None:
    """Paper Table 2 means (the only tabulated numbers of this setting, all at N = 32) when the page runs
    the paper's task (D = d = 4, n = 8); else None. Columns h, T, mean, N."""
    if (P["D"], P["d"], P["n"]) != (4, 4, 8):
        return None
    t = paper_table("table2").rename(columns={"nmse_mean": "mean", "nmse_std": "std"})
    return t.assign(N=32)


def figure(summary: pd.DataFrame, P: dict, paper: pd.DataFrame | None, scale: str):
    """One panel per h: min NMSE (over seeds) against N on log-log axes, one colour per T, with the fitted
    line (dashed) and its slope in the legend; the paper's Table 2 mean at N = 32 as a black x."""
    hs = sorted(summary["h"].unique())
    fig, axes = new_figure(ncols=len(hs), width=3.4, height=3.4)
    f = fits(summary).set_index(["h", "T"])
    Ts = sorted(summary["T"].unique())
    colors = dict(zip(Ts, synthetic_heads._palette(len(Ts))))
    for ax, h in zip(axes, hs):
        for T in Ts:
            s = summary[(summary["h"] == h) & (summary["T"] == T)].sort_values("N")
            if s.empty:
                continue
            lab = f"T={T}"
            if (h, T) in f.index:
                slope, icpt = f.loc[(h, T), "slope"], f.loc[(h, T), "intercept"]
                xs = np.geomspace(s["N"].min(), s["N"].max(), 20)
                ax.plot(xs, 10 ** (slope * np.log10(xs) + icpt), color=colors[T], linestyle="--", linewidth=1)
                lab += f" (slope {slope:+.2f})"
            ax.plot(s["N"], s["min"], color=colors[T], label=lab, **OURS_STYLE)
            if paper is not None:
                p = paper[(paper["h"] == h) & (paper["T"] == T)]
                if len(p):
                    ax.plot(p["N"], p["mean"], **{**PAPER_STYLE, "color": colors[T], "linestyle": "none"},
                            label=f"paper Table 2 mean, T={T}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sorted(summary["N"].unique()))
        ax.set_xticklabels([str(n) for n in sorted(summary["N"].unique())])
        ax.set_xlabel("hidden width N")
        side = "h < D" if h < P["D"] else ("h = D" if h == P["D"] else "h > D")
        ax.set_title(f"h = {h} ({side})", fontsize=10)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("validation NMSE (min over seeds)")
    fig.suptitle(f"Sum-of-max task, D = {P['D']}: error against width. {scale}", fontsize=8)
    fig.tight_layout()
    return fig


def width_table(summary: pd.DataFrame, paper: pd.DataFrame | None) -> pd.DataFrame:
    """Wide table: one row per (h, T), one column per N (ours, min over seeds), the fitted slope and R^2,
    and the paper's Table 2 mean at N = 32 where the setting matches."""
    wide = summary.pivot_table(index=["h", "T"], columns="N", values="min").sort_index()
    out = pd.DataFrame(index=wide.index)
    for N in wide.columns:
        out[f"ours N={N}"] = wide[N].map(lambda v: f"{v:.2e}")
    f = fits(summary).set_index(["h", "T"])
    out["ours: slope"] = [f"{f.loc[i, 'slope']:+.2f}" if i in f.index else "—" for i in out.index]
    out["ours: R²"] = [f"{f.loc[i, 'r2']:.2f}" if i in f.index else "—" for i in out.index]
    if paper is not None:
        pm = paper.set_index(["h", "T"])["mean"]
        out["paper Table 2 mean, N=32"] = [f"{pm[i]:.2e}" if i in pm.index else "—" for i in out.index]
    return out.reset_index()


def reading(summary: pd.DataFrame, P: dict, col: str = "min") -> str:
    """A few sentences stating, from the numbers, the slopes on each side of D and the level at h = D."""
    D = P["D"]
    f = fits(summary, col)
    out = []
    below, at = f[f["h"] < D], f[f["h"] == D]
    if len(below):
        out.append(f"for $h < D$ the fitted slopes of $\\log_{{10}}$ NMSE against $\\log_{{10}} N$ range from "
                   f"{below['slope'].min():+.2f} to {below['slope'].max():+.2f}")
    if len(at):
        out.append(f"at $h = D = {D}$ they are " + ", ".join(f"{s:+.2f} ($T = {T}$)" for T, s in zip(at["T"], at["slope"]))
                   + (" (a positive slope is the paper's slight rise with $N$)" if (at["slope"] > 0).any() else ""))
        lvl = summary[summary["h"] == D][col]
        out.append(f"the error at $h = D$ lies between {lvl.min():.1e} and {lvl.max():.1e} over the grid")
    return ("In our runs, " + "; ".join(out) + ".") if out else "No head count of the grid allows a fit."
