"""Page: the error against T after the transition (paper Figure 3, Remark B.1.1, claim C18) and the
weighted reversal score R(h) on the synthetic task (paper Figure 2e, claim C22).

It reads the runs of the head-count page (same parameters, same tiers), and adds one check of its own:
the models after the transition trained longer (epochs_long), to see whether the shape of the error
against T depends on how far training has gone.
"""

from __future__ import annotations

import pandas as pd

from .. import analysis, claims
from ..params import Param, ParamSpec
from ..plots import OURS_STYLE, PAPER_STYLE, new_figure, paper_table
from . import synthetic_heads

PARAMS = [
    *synthetic_heads.PARAMS,
    Param("reversal_tol", "float", "R(h) above this counts as positive (absorbs small reversals between "
          "neighbouring T from seed noise)", minimum=0.0),
    Param("epochs_long", "int", "epochs of the longer-training check after the transition (0 skips it)", minimum=0),
    Param("h_grid_long", "int_list", "head counts of the longer-training check (each must be >= D)", minimum=1),
    Param("T_grid_long", "int_list", "sequence lengths of the longer-training check", minimum=1),
    Param("seeds_long", "int_list", "model seeds of the longer-training check", minimum=0),
]


def _long_after_D(P: dict) -> str | None:
    if P["epochs_long"] and min(P["h_grid_long"]) < P["D"]:
        return f"h_grid_long must hold head counts >= D = {P['D']} (the check is about h >= D); got {P['h_grid_long']}"
    return None


_LONG = {
    "smoke": dict(epochs_long=3, h_grid_long=[4], T_grid_long=[8, 16], seeds_long=[0]),
    # laptop: three times the head-count page's training, at h = D and two T, two seeds
    "laptop": dict(epochs_long=300, h_grid_long=[4], T_grid_long=[8, 32], seeds_long=[0, 1]),
    "paper": dict(epochs_long=1200, h_grid_long=[4], T_grid_long=[8, 32, 128], seeds_long=[0, 1, 2]),
}
SPEC = ParamSpec(
    notebook="ablation_zoom_reversal",
    params=PARAMS,
    tiers={t: {**synthetic_heads.SPEC.tiers[t], "reversal_tol": 0.5, **_LONG[t]} for t in ("smoke", "laptop", "paper")},
    rules=[*synthetic_heads.SPEC.rules, _long_after_D],
)

run_configs = synthetic_heads.run_configs


def long_configs(P: dict) -> list[dict]:
    """The head-count page's configs at h in h_grid_long, T in T_grid_long, seeds_long, trained epochs_long
    epochs instead of epochs (empty when epochs_long is 0)."""
    if not P["epochs_long"]:
        return []
    Q = {**P, "epochs": P["epochs_long"], "h_grid": P["h_grid_long"], "T_grid": P["T_grid_long"],
         "seeds": P["seeds_long"]}
    return synthetic_heads.run_configs(Q)


def planned_sweeps(P: dict):
    out = synthetic_heads.planned_sweeps(P)
    if P["epochs_long"]:
        out.append((synthetic_heads.planned_sweeps(P)[0][0], long_configs(P)))
    return out


def fit_table(df: pd.DataFrame, D: int) -> pd.DataFrame:
    """Per (epochs, h >= D, T): the minimum validation NMSE over seeds, the training NMSE of that seed, and
    their ratio (validation over training; near 1 means no generalisation gap: the error is one of fitting,
    not of memorising)."""
    d = df[df["h"] >= D]
    best = d.loc[d.groupby(["epochs", "h", "T"])["val_nmse"].idxmin()]
    out = best[["epochs", "h", "T", "val_nmse", "train_nmse"]].copy()
    out["val / train"] = out["val_nmse"] / out["train_nmse"]
    return out.sort_values(["h", "epochs", "T"]).reset_index(drop=True)


def long_reading(fits: pd.DataFrame, P: dict) -> str:
    """Sentences stating, from the numbers, where the minimum over T sits at each training length and how
    much the longer training lowered the error."""
    out = []
    for h, sub in fits[fits["h"].isin(P["h_grid_long"])].groupby("h"):
        for ep, e in sub.groupby("epochs"):
            e = e[e["T"].isin(P["T_grid_long"])].set_index("T")["val_nmse"].sort_index()
            if len(e) < 2:
                continue
            trend = "falls" if e.iloc[-1] < e.iloc[0] else "grows"
            out.append(f"$h = {h}$, {ep} epochs: NMSE {trend} from {e.iloc[0]:.1e} at $T = {e.index[0]}$ to "
                       f"{e.iloc[-1]:.1e} at $T = {e.index[-1]}$")
        eps = sorted(sub["epochs"].unique())
        if len(eps) == 2:
            a = sub[sub["epochs"] == eps[0]].set_index("T")["val_nmse"]
            b = sub[sub["epochs"] == eps[1]].set_index("T")["val_nmse"]
            common = a.index.intersection(b.index)
            if len(common):
                r = (a[common] / b[common])
                out.append(f"going from {eps[0]} to {eps[1]} epochs lowered it {r.min():.1f}x to {r.max():.1f}x")
    for ep, sub in fits.groupby("epochs", sort=True):
        gap = sub["val / train"]
        out.append(f"at {ep} epochs the validation error is {gap.min():.2f}x to {gap.max():.2f}x the training error "
                   f"of the same model")
    return ("; ".join(out) + ".") if out else ""


def disagreement(fits: pd.DataFrame, P: dict) -> str:
    """What the page says when C18 or C22 is not reproduced: the numbers of the fitting table in words."""
    base = fits[fits["epochs"] == P["epochs"]]["val / train"]
    text = ["**Where our runs disagree with the paper.** After the transition our error does not fall with $T$ "
            "as in the paper's tables, so our $R(h)$ does not become clearly positive at $h = D$ (the verdicts "
            "above give the numbers)."]
    if len(base):
        close = bool(base.max() < 2.0)
        text.append(f"At {P['epochs']} epochs the validation error is {base.min():.2f}x to {base.max():.2f}x the "
                    "training error" + (": the models fit the training set no better than unseen data, so their error "
                                        "is one of fitting, not of memorising, and the regime of the paper's "
                                        "explanation (memorisation at short $T$ generalising worse) is not reached."
                                        if close else "."))
    longer = fits[fits["epochs"] == P["epochs_long"]] if P["epochs_long"] else fits.iloc[0:0]
    if len(longer) >= 2:
        by_T = longer.groupby("T")
        v = by_T["val_nmse"].min().sort_index()
        g = by_T["val / train"].max().sort_index()
        text.append(f"What we tried: training {P['epochs_long']} instead of {P['epochs']} epochs (h in "
                    f"{P['h_grid_long']}, T in {P['T_grid_long']}). The error then falls to "
                    f"{v.min():.1e} to {v.max():.1e}, and the validation/training ratio becomes "
                    + ", ".join(f"{r:.1f} at $T = {T}$" for T, r in g.items())
                    + f"; the error {'still grows' if v.iloc[-1] > v.iloc[0] else 'now falls'} from "
                    f"$T = {v.index[0]}$ to $T = {v.index[-1]}$.")
    text.append("The paper does not state its training schedule, and its errors after the transition ($10^{-7}$ to "
                "$10^{-6}$ in Table 3) are far below ours; the `paper` tier trains longer and is where the "
                "comparison can be fair.")
    return " ".join(text)


def zoom_stats(summary: pd.DataFrame, col: str) -> pd.DataFrame:
    """Per h: the T of the smallest error, fall = err(T_min) / min_T err and rise = err(T_max) / min_T err.

    An interior minimum (fall > 1 and rise > 1) is "first falls, then rises"."""
    rows = []
    for h, sub in summary.groupby("h", sort=True):
        s = sub.set_index("T")[col].sort_index()
        if len(s) < 2:
            continue
        lo = float(s.min())
        rows.append(dict(h=h, T_at_min=int(s.idxmin()), fall=float(s.iloc[0] / lo), rise=float(s.iloc[-1] / lo),
                         n_T=int(len(s))))
    return pd.DataFrame(rows, columns=["h", "T_at_min", "fall", "rise", "n_T"])


def falls_then_rises(summary: pd.DataFrame, D: int, col: str = "min") -> claims.Verdict:
    """C18 (Remark B.1.1): for every h >= D, NMSE against T first falls, then rises slowly. Per h two flags:
    the minimum over T is at an interior T (it falls from the shortest T and rises towards the longest), and
    the rise is smaller than the fall."""
    z = zoom_stats(summary, col)
    z = z[(z["h"] >= D) & (z["n_T"] >= 3)]  # an interior minimum needs three T
    flags, rows = [], []
    for h, T_at, fall, rise in zip(z["h"], z["T_at_min"], z["fall"], z["rise"]):
        interior = bool(fall > 1 and rise > 1)
        flags += [interior, bool(interior and rise < fall)]
        rows.append(f"h={h}: min at T={T_at}, falls {fall:.2f}x from the shortest T, rises {rise:.2f}x to the longest")
    return claims.Verdict("C18", f"for h >= D = {D}, {col} NMSE first falls, then rises more slowly, as T grows",
                          claims.verdict_from(flags) if flags else claims.NOT_TESTED,
                          "; ".join(rows) or "needs h >= D and at least three T")


def reversal_table(summary: pd.DataFrame, P: dict) -> pd.DataFrame:
    """R(h) per h from ours (min and mean over seeds) and, where the page runs the paper's setting, from
    the paper's Table 2 means and Table 3, both on all of the paper's T and on our T grid only (R grows
    with the number of T, at most K(K-1)/2 for K values)."""
    out = analysis.reversal_scores(summary, "h", "T", "min").rename(columns={"R": "ours (min over seeds)"})
    mean = analysis.reversal_scores(summary, "h", "T", "mean").rename(columns={"R": "ours (mean over seeds)"})
    out = out.merge(mean[["h", "ours (mean over seeds)"]], on="h")
    if paper_setting(P):
        Ts = set(summary["T"])
        for name, tab, col in (("paper Table 2 means", paper_table("table2"), "nmse_mean"),
                               ("paper Table 3", paper_table("table3"), "nmse")):
            full = analysis.reversal_scores(tab, "h", "T", col).rename(columns={"R": f"{name}, T 8-128"})
            mine = analysis.reversal_scores(tab[tab["T"].isin(Ts)], "h", "T", col).rename(
                columns={"R": f"{name}, our T"})
            out = out.merge(full[["h", f"{name}, T 8-128"]], on="h", how="outer").merge(
                mine[["h", f"{name}, our T"]], on="h", how="outer")
    return out.drop(columns=["n_T"]).sort_values("h").reset_index(drop=True)


def paper_setting(P: dict) -> bool:
    """Whether the page runs the paper's Table 2 setting (D = d = 4, n = 8, N = 32)."""
    return (P["D"], P["d"], P["n"], P["N"]) == (4, 4, 8, 32)


def reversal_verdict(summary: pd.DataFrame, P: dict) -> claims.Verdict:
    """C22 on our numbers: R(h) of the minimum over seeds becomes positive exactly at h = D."""
    scores = analysis.reversal_scores(summary, "h", "T", "min")
    v = analysis.reversal_turns_positive_at(scores, P["D"], "C22", "weighted reversal score of the min NMSE over seeds",
                                            tol=P["reversal_tol"])
    v.tier = P["tier"]
    return v


def zoom_figure(summary: pd.DataFrame, P: dict, scale: str):
    """NMSE against T (log-log) for each h >= D: ours min over seeds (solid) and mean (thin), the paper's
    Table 2 means and Table 3 (dotted / dash-dotted, x markers) in the paper's setting."""
    D = P["D"]
    hs = sorted(h for h in summary["h"].unique() if h >= D)
    fig, axes = new_figure(ncols=max(1, len(hs)), width=3.6, height=3.4)
    colors = dict(zip(hs, synthetic_heads._palette(max(2, len(hs)))))
    p2 = paper_table("table2") if paper_setting(P) else None
    p3 = paper_table("table3") if paper_setting(P) else None
    for ax, h in zip(axes, hs):
        s = summary[summary["h"] == h].sort_values("T")
        ax.plot(s["T"], s["min"], color=colors[h], label="ours: min over seeds", **OURS_STYLE)
        ax.plot(s["T"], s["mean"], color=colors[h], linewidth=0.8, alpha=0.6, linestyle="-",
                label="ours: mean over seeds")
        if p2 is not None:
            p = p2[p2["h"] == h].sort_values("T")
            ax.plot(p["T"], p["nmse_mean"], label="paper Table 2 mean", **PAPER_STYLE)
            p = p3[p3["h"] == h].sort_values("T")
            ax.plot(p["T"], p["nmse"], label="paper Table 3 (E = 32)", **{**PAPER_STYLE, "linestyle": "-.",
                                                                         "marker": "+"})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_title(f"h = {h}" + (" = D" if h == D else f" > D = {D}"), fontsize=10)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("validation NMSE")
    fig.suptitle(f"After the transition (h >= D = {D}): error against T. {scale}", fontsize=8)
    fig.tight_layout()
    return fig


def reversal_figure(table: pd.DataFrame, P: dict, scale: str):
    """R(h) against h: ours (min over seeds, solid; mean, thin) and the paper's tables (black, dotted)."""
    fig, (ax,) = new_figure(width=5.6, height=3.8)
    ours = [c for c in table.columns if c.startswith("ours")]
    for c, style in zip(ours, (OURS_STYLE, dict(marker=".", linewidth=0.8, alpha=0.7))):
        ax.plot(table["h"], table[c], label=c, color="C0", **style)
    paper_cols = [c for c in table.columns if c.startswith("paper")]
    markers = {"Table 2": "x", "Table 3": "+"}
    for c in paper_cols:
        ls = ":" if "T 8-128" in c else "--"
        mk = markers["Table 2" if "Table 2" in c else "Table 3"]
        ax.plot(table["h"], table[c], label=c, **{**PAPER_STYLE, "linestyle": ls, "marker": mk,
                                                   "alpha": 0.8 if "T 8-128" in c else 0.5})
    ax.axvline(P["D"], color="grey", linestyle="--", linewidth=1)
    ax.text(P["D"], 1.0, f" h = D = {P['D']}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="grey")
    ax.axhline(P["reversal_tol"], color="grey", linestyle=":", linewidth=0.8)
    ax.set_xticks(sorted(table["h"]))
    ax.set_xlabel("number of heads h")
    ax.set_ylabel("weighted reversal score R(h)")
    ax.set_title(f"Weighted reversal score on the synthetic task\n{scale}", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
    return fig


def zoom_table(summary: pd.DataFrame, P: dict) -> pd.DataFrame:
    """Per h >= D: where the minimum over T sits and the fall / rise factors, ours and the paper's."""
    D = P["D"]
    parts = [("ours (min over seeds)", summary, "min"), ("ours (mean over seeds)", summary, "mean")]
    if paper_setting(P):
        parts += [("paper Table 2 means", paper_table("table2"), "nmse_mean"),
                  ("paper Table 3", paper_table("table3"), "nmse")]
    rows = []
    for name, tab, col in parts:
        z = zoom_stats(tab, col)
        for r in z[z["h"] >= D].itertuples():
            rows.append({"source": name, "h": r.h, "T of the minimum": r.T_at_min,
                         "fall from shortest T": f"{r.fall:.2f}x", "rise to longest T": f"{r.rise:.2f}x"})
    return pd.DataFrame(rows)


def format_reversal(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for c in out.columns[1:]:
        out[c] = out[c].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")
    out["h"] = out["h"].astype(int)
    return out
