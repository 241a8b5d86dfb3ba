"""Page: min validation NMSE against the feed-forward width N (paper Figure 1b and Figure 4, claims C17a-c).

The runs are the synthetic head-count runs with the hidden width N of both MLPs varied; the training
settings are the head-count page's at the same tier, so the N = 32 runs are shared with it through the
results store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from headcount import analysis, claims
from headcount.engine import synthetic
from headcount.params import Param, ParamSpec
from headcount.book.plots import OURS_STYLE, PAPER_STYLE, markdown_table, new_figure
from headcount.paper import paper_table
from headcount.engine.sweep import sweep
from headcount.book.pages import synthetic_heads

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
    Param("slope_min", "float", "for h < D the error counts as falling with N when the fitted slope of log10 NMSE "
          "on log10 N is at most -slope_min", minimum=0.0),
    Param("r2_min", "float", "a log-log fit through three or more N counts as a line when its R^2 is at least this "
          "(supporting check)", minimum=0.0),
    Param("t_margin", "float", "a longer T counts as harder when its fitted NMSE at the middle of the N grid exceeds "
          "the shorter T's by more than this fraction", minimum=0.0),
    Param("flat_ratio", "float", "h = D counts as flat in N when its slope is at most this fraction of the mean "
          "slope of h < D (slopes are negative when the error falls with N)", minimum=0.0),
    Param("floor_factor", "float", "h = D counts as at its floor when its error is this many times below h = D-1 "
          "at every N", minimum=1.0),
]

_CHECKS = dict(slope_min=0.1, r2_min=0.8, t_margin=0.1, flat_ratio=0.5, floor_factor=10.0)
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
    """One SyntheticRun dict per (T, N, h, seed): the run fields P sets (the SHARED settings and n), on the
    sum-of-max task."""
    return synthetic.configs(synthetic.run_fields(P, task="sum_of_max"), T=P["T_grid"], N=P["N_grid"], h=P["h_grid"],
                             seed=P["seeds"])


def sweeps(P: dict):
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


def seed_slopes(runs: pd.DataFrame, metric: str = "val_nmse") -> pd.DataFrame:
    """Per (h, T, seed) with two or more N: the slope of log10 NMSE on log10 N of that seed alone."""
    rows = []
    for (h, T, seed), sub in runs.groupby(["h", "T", "seed"], sort=True):
        if sub["N"].nunique() >= 2:
            rows.append(dict(h=h, T=T, seed=seed, slope=analysis.loglog_fit(sub["N"], sub[metric])[0]))
    return pd.DataFrame(rows, columns=["h", "T", "seed", "slope"])


def _learned(summary: pd.DataFrame, col: str) -> pd.DataFrame:
    """The (h, T) series with at least one N whose NMSE is not at chance (the others are no evidence)."""
    keep = summary.groupby(["h", "T"])[col].transform(lambda v: not all(analysis.nmse_at_chance(x) for x in v))
    return summary[keep.astype(bool)] if len(summary) else summary


def _regime(summary: pd.DataFrame, D: int, need_T: int = 1) -> str | None:
    hs = sorted(set(summary["h"])) if len(summary) else []
    Ns = sorted(set(summary["N"])) if len(summary) else []
    Ts = sorted(set(summary["T"])) if len(summary) else []
    if len(Ns) < 2:
        return f"a dependence on N needs at least two N (grid: N = {Ns})"
    if len(Ts) < need_T:
        return f"needs at least {need_T} T (grid: T = {Ts})"
    return None


def pooled_fits(summary: pd.DataFrame, col: str = "min") -> pd.DataFrame:
    """Per h: one slope of log10 NMSE on log10 N shared by every T (each T keeps its own intercept), fitted on
    the `col` values, and its R^2 within T; columns h, slope, r2, n_T, n_points. Pooling the T of one h uses
    all its points for the one number the claim is about, the rate at which the error falls with N."""
    rows = []
    for h, sub in summary.groupby("h", sort=True):
        xs, ys = [], []
        for _, t in sub.groupby("T"):
            if t["N"].nunique() < 2:
                continue
            x, y = np.log10(t["N"].to_numpy(float)), np.log10(t[col].to_numpy(float))
            xs.append(x - x.mean())
            ys.append(y - y.mean())
        if not xs:
            continue
        x, y = np.concatenate(xs), np.concatenate(ys)
        slope = float((x * y).sum() / (x * x).sum())
        tot = float((y * y).sum())
        r2 = 1.0 if tot == 0 else 1.0 - float(((y - slope * x) ** 2).sum()) / tot
        rows.append(dict(h=h, slope=slope, r2=r2, n_T=len(xs), n_points=int(x.size)))
    return pd.DataFrame(rows, columns=["h", "slope", "r2", "n_T", "n_points"])


def power_law(summary: pd.DataFrame, D: int, slope_min: float, r2_min: float, runs: pd.DataFrame | None = None,
              col: str = "min") -> claims.Verdict:
    """C17a: for h < D the error falls with N as a power of N (a line in log-log axes).

    Core: for every h < D, the slope of log10 NMSE on log10 N shared by its T (`pooled_fits`) is at most
    -slope_min, so -log NMSE rises linearly in log N with a positive slope, by a margin. Supporting: every
    (h, T) line and every seed's own line has a negative slope (the fall is not one T's or one seed's), and
    the pooled fit's R^2 is at least r2_min where each T has three or more N (a line through two points always
    has R^2 = 1; with three points R^2 is fragile, which is why it is not the core)."""
    test = (f"for every h < D = {D}: slope of log10 NMSE on log10 N (shared by the T) <= -{slope_min:g} "
            f"(supporting: every T's and every seed's slope < 0; R² >= {r2_min:g} with >= 3 N)")
    reason = _regime(summary, D) or (None if (summary["h"] < D).any() else f"the grid has no h < D = {D}")
    if reason:
        return claims.judge("C17a", test, [], out_of_regime=reason)
    learned = _learned(summary[summary["h"] < D], col)
    pf, f = pooled_fits(learned, col), fits(learned, col)
    core = claims.core("falls as a power of N", bool((pf["slope"] <= -slope_min).all()) if len(pf) else None,
                       "; ".join(f"h={h}: slope {sl:+.2f}" for h, sl in zip(pf["h"], pf["slope"]))
                       or "every series at chance", **{f"h{h}": sl for h, sl in zip(pf["h"], pf["slope"])})
    signs = list(f["slope"])
    detail = "per T: " + "; ".join(f"h={h}, T={T}: {sl:+.2f}" for h, T, sl in zip(f["h"], f["T"], f["slope"]))
    if runs is not None and len(runs):
        ss = seed_slopes(runs[runs["h"] < D]).merge(f[["h", "T"]], on=["h", "T"])
        signs += list(ss["slope"])
        if len(ss):
            detail += f"; {len(ss)} seed lines, largest slope {ss['slope'].max():+.2f}"
    each = claims.supporting("every T and seed falls", all(x < 0 for x in signs) if signs else None, detail)
    three = pf[pf["n_points"] >= 3 * pf["n_T"]]
    r2 = claims.supporting(
        f"R² >= {r2_min:g}", bool((three["r2"] >= r2_min).all()) if len(three) else None,
        "; ".join(f"h={h}: R²={x:.2f}" for h, x in zip(three["h"], three["r2"]))
        or "fewer than three N: R² not informative")
    return claims.judge("C17a", test, [core, each, r2])


def _mid(summary: pd.DataFrame) -> float:
    return float(np.mean(np.log10(summary["N"].unique())))  # log10 of the geometric middle of the N grid


def longer_T_needs_larger_N(summary: pd.DataFrame, D: int, t_margin: float, col: str = "min") -> claims.Verdict:
    """C17b: for h < D a longer T needs a larger N for the same error.

    Core: for every h < D and consecutive T1 < T2, the fitted NMSE of T2 at the geometric middle of the N grid
    exceeds that of T1 by more than a factor 1 + t_margin (with falling lines, reaching T1's error at T2 then
    takes a larger N). Supporting: at every N of the grid, the measured NMSE of T2 is above that of T1."""
    test = (f"for h < D = {D}: at the middle of the N grid, the fitted NMSE of each longer T is more than "
            f"{1 + t_margin:g}x that of the next shorter T (supporting: at every N)")
    reason = _regime(summary, D, need_T=2) or (None if (summary["h"] < D).any() else f"the grid has no h < D = {D}")
    if reason:
        return claims.judge("C17b", test, [], out_of_regime=reason)
    f = fits(_learned(summary[summary["h"] < D], col), col)
    mid = _mid(summary)
    ratios, every, rows = {}, [], []
    for h, sub in f.groupby("h", sort=True):
        sub = sub.sort_values("T")
        at_mid = (sub["slope"] * mid + sub["intercept"]).to_numpy()
        Ts = sub["T"].to_numpy()
        for i in range(len(Ts) - 1):
            ratios[f"h{h}_T{Ts[i]}_T{Ts[i + 1]}"] = float(10 ** (at_mid[i + 1] - at_mid[i]))
            a = summary[(summary["h"] == h) & (summary["T"] == Ts[i])].set_index("N")[col]
            b = summary[(summary["h"] == h) & (summary["T"] == Ts[i + 1])].set_index("N")[col]
            common = a.index.intersection(b.index)
            every.append(bool((b[common] > a[common]).all()))
        rows.append(f"h={h}: " + ", ".join(f"T={T}: {10 ** v:.2e}" for T, v in zip(Ts, at_mid)))
    core = claims.core(f"longer T higher by > {1 + t_margin:g}x",
                       all(r > 1 + t_margin for r in ratios.values()) if ratios else None,
                       f"fitted NMSE at N = {10 ** mid:.0f}: " + "; ".join(rows) if rows else "no h < D with two T",
                       **ratios)
    sup = claims.supporting("at every N", all(every) if every else None,
                            f"{sum(every)} of {len(every)} pairs of T above at every N")
    return claims.judge("C17b", test, [core, sup])


def flat_at_D(summary: pd.DataFrame, D: int, flat_ratio: float, floor_factor: float,
              col: str = "min") -> claims.Verdict:
    """C17c: at h = D the error is near its floor and hardly changes with N. Two core checks per T:
    floor: NMSE(h = D) <= NMSE(h = D-1) / floor_factor at every N;
    flat: slope(h = D) >= flat_ratio * mean slope over h < D (it does not fall with N the way h < D does;
    a rising error, the paper's "slight rise", counts as flat)."""
    test = (f"at h = D = {D}: NMSE >= {floor_factor:g}x below h = D-1 at every N, and slope in log N >= "
            f"{flat_ratio:g} x the mean slope of h < D, at every T")
    hs = sorted(set(summary["h"])) if len(summary) else []
    reason = _regime(summary, D) or (None if {D - 1, D} <= set(hs) else
                                     f"the grid (h = {hs}) does not hold both h = {D - 1} and h = {D}")
    if reason:
        return claims.judge("C17c", test, [], out_of_regime=reason)
    f = fits(summary, col).set_index(["h", "T"])
    floors, slopes, refs, chance = {}, {}, {}, []
    for T, sub in summary.groupby("T", sort=True):
        if (D, T) not in f.index:
            continue
        at = sub[sub["h"] == D].set_index("N")[col]
        if all(analysis.nmse_at_chance(x) for x in at):
            chance.append(T)
            continue
        prev = sub[sub["h"] == D - 1].set_index("N")[col]
        common = at.index.intersection(prev.index)
        if len(common):
            floors[T] = float((prev[common] / at[common]).min())
        below = [f.loc[(h, T), "slope"] for h in sorted(sub["h"].unique()) if h < D and (h, T) in f.index]
        slopes[T] = float(f.loc[(D, T), "slope"])
        if below:
            refs[T] = float(np.mean(below))
    note = f"; T = {chance}: h = D at chance, no evidence" if chance else ""
    floor = claims.core(f"{floor_factor:g}x below h = D-1", all(v >= floor_factor for v in floors.values())
                        if floors else None,
                        (", ".join(f"T={T}: at least {v:.1f}x" for T, v in floors.items()) + note).lstrip("; "),
                        **{f"T{T}": v for T, v in floors.items()})
    flat = claims.core("flat in N", all(slopes[T] >= flat_ratio * r for T, r in refs.items()) if refs else None,
                       ", ".join(f"T={T}: slope {slopes[T]:+.2f} vs mean slope of h<D {r:+.2f}" for T, r in refs.items()),
                       **{f"T{T}_slope": slopes[T] for T in refs})
    return claims.judge("C17c", test, [floor, flat])


def evidence(P: dict, store) -> dict:
    """The page's runs, one row per (h, T, N, seed): its one sweep of `sweeps(P)`."""
    ((exp, configs),) = sweeps(P)
    res = sweep(exp, configs, store)
    return {"runs": res.frame(), "result": res}


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    return analysis.summarise(runs, by=("h", "T", "N"))


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    """C17a (power law in N), C17b (longer T needs larger N), C17c (h = D at its floor, flat in N), on the
    minimum over seeds."""
    s, D = summarise(ev["runs"]), P["D"]
    return [power_law(s, D, P["slope_min"], P["r2_min"], runs=ev["runs"]),
            longer_T_needs_larger_N(s, D, P["t_margin"]),
            flat_at_D(s, D, P["flat_ratio"], P["floor_factor"])]


def paper_at_N32(P: dict) -> pd.DataFrame | None:
    """Paper Table 2 means (the only tabulated numbers of this setting, all at N = 32) when the page runs
    the paper's task (D = d = 4, n = 8); else None. Columns h, T, mean, N."""
    if (P["D"], P["d"], P["n"]) != (4, 4, 8):
        return None
    t = paper_table("table2").rename(columns={"nmse_mean": "mean", "nmse_std": "std"})
    return t.assign(N=32)


def figure(summary: pd.DataFrame, P: dict, paper: pd.DataFrame | None, scale: str):
    """One panel per h: NMSE against N on log-log axes, one colour per T: ours as the minimum over seeds
    (solid, circles; the claims are judged on it) with its fitted line (dashed, slope in the legend), ours as
    the mean over seeds (thin dotted), and the paper's Table 2 mean at N = 32 (x), to compare with our mean."""
    hs = sorted(summary["h"].unique())
    fig, axes = new_figure(ncols=len(hs), width=3.4, height=3.6)
    f = fits(summary).set_index(["h", "T"])
    Ts = sorted(summary["T"].unique())
    colors = dict(zip(Ts, synthetic_heads._palette(len(Ts))))
    for ax, h in zip(axes, hs):
        for T in Ts:
            s = summary[(summary["h"] == h) & (summary["T"] == T)].sort_values("N")
            if s.empty:
                continue
            lab = f"T={T}: ours, min over seeds"
            if (h, T) in f.index:
                slope, icpt = f.loc[(h, T), "slope"], f.loc[(h, T), "intercept"]
                xs = np.geomspace(s["N"].min(), s["N"].max(), 20)
                ax.plot(xs, 10 ** (slope * np.log10(xs) + icpt), color=colors[T], linestyle="--", linewidth=1)
                lab += f" (fit slope {slope:+.2f})"
            ax.plot(s["N"], s["min"], color=colors[T], label=lab, **OURS_STYLE)
            ax.plot(s["N"], s["mean"], color=colors[T], linestyle=":", linewidth=0.9, label=f"T={T}: ours, mean over seeds")
            if paper is not None:
                p = paper[(paper["h"] == h) & (paper["T"] == T)]
                if len(p):
                    ax.plot(p["N"], p["mean"], **{**PAPER_STYLE, "color": colors[T], "linestyle": "none"},
                            label=f"T={T}: paper Table 2 mean (N = 32)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sorted(summary["N"].unique()))
        ax.set_xticklabels([str(n) for n in sorted(summary["N"].unique())])
        ax.set_xlabel("hidden width N")
        side = "h < D" if h < P["D"] else ("h = D" if h == P["D"] else "h > D")
        ax.set_title(f"h = {h} ({side})", fontsize=10)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("validation NMSE (series in the legend)")
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


def reading(summary: pd.DataFrame, P: dict, paper: pd.DataFrame | None = None, col: str = "min") -> str:
    """A few sentences stating, from the numbers, the slopes on each side of D, the level at h = D and, in the
    paper's setting, our mean at h = D and N = 32 against the paper's Table 2 mean (like with like)."""
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
    if paper is not None:
        ours = summary[(summary["h"] == D) & (summary["N"] == 32)].set_index("T")["mean"]
        pm = paper[paper["h"] == D].set_index("T")["mean"]
        common = [T for T in ours.index if T in pm.index]
        if common:
            r = [ours[T] / pm[T] for T in common]
            out.append(f"at $h = D$ and $N = 32$ our mean over seeds is "
                       + ", ".join(f"{x:.1f}x ($T = {T}$)" for T, x in zip(common, r))
                       + " the paper's Table 2 mean" + (", i.e. higher" if min(r) > 1 else
                                                        ", i.e. lower" if max(r) < 1 else ""))
    return ("In our runs, " + "; ".join(out) + ".") if out else "No head count of the grid allows a fit."


# ----------------------------------------------------------------------------------------------------
# What the notebook shows, computed here (the notebook only calls these and displays the result)
# ----------------------------------------------------------------------------------------------------

def parameters_markdown(P: dict) -> str:
    """The page's opening line: the tier and the table of every parameter."""
    return (f"**Tier `{P['tier']}`.** Parameters of this page (the training settings are those of the "
            "head-count page at the same tier, so its $N = 32$ runs are reused):\n\n" + SPEC.table(P))


def scale_text(P: dict) -> str:
    """The tier and scale of the runs, for the figure's title."""
    return (f"Tier {P['tier']}: T in {P['T_grid']}, N in {P['N_grid']}, {len(P['seeds'])} seed(s), "
            f"{P['n_train']} train / {P['n_val']} val, {P['epochs']} epochs")


def figure_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The figure's tidy table: the summary per (h, T, N) with the fit of its (h, T) line on every row."""
    return summary.merge(fits(summary), on=["h", "T"], how="left")


def results(P: dict, ev: dict) -> dict:
    """Everything the page shows, from its evidence: `summary` (per h, T, N over seeds), `paper` (Table 2 at
    N = 32 in the paper's setting, else None), `figure_table`, `table` (the wide table of the page), `scale`,
    `store` (a sentence) and `meta` (the figure's provenance)."""
    summary = summarise(ev["runs"])
    paper = paper_at_N32(P)
    return {"summary": summary, "paper": paper, "figure_table": figure_table(summary),
            "table": width_table(summary, paper), "scale": scale_text(P),
            "store": synthetic_heads.store_text(ev["result"], ev["runs"], "these runs"),
            "meta": synthetic_heads.figure_meta(P, ev["result"])}


def table_markdown(table: pd.DataFrame) -> str:
    """The wide table under its heading and a line saying what its columns are."""
    return ("### Our numbers beside the paper's\n\nMinimum validation NMSE over seeds per $N$, the "
            "log-log slope and its $R^2$; the last column is the paper's Table 2 mean at $N = 32$.\n\n"
            + markdown_table(table))
