"""Page: the error against T after the transition (paper Figure 3, Remark B.1.1, claim C18) and the
weighted reversal score R(h) on the synthetic task (paper Figure 2e, claim C22).

It reads the runs of the head-count page (same parameters, same tiers), and adds one check of its own:
the models after the transition trained longer (epochs_long), to see whether the shape of the error
against T depends on how far training has gone.
"""

from __future__ import annotations

import pandas as pd

from headcount import analysis, claims
from headcount.params import Param, ParamSpec, longer_training_rule
from headcount.book.plots import OURS_STYLE, PAPER_STYLE, markdown_table, new_figure
from headcount.paper import paper_table
from headcount.engine.sweep import sweep
from headcount.book.pages import synthetic_heads

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
    rules=[*synthetic_heads.SPEC.rules, _long_after_D, longer_training_rule("T_grid_long")],
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


def sweeps(P: dict):
    """The head-count page's sweep, then (when epochs_long is set) the longer-training check's."""
    out = synthetic_heads.sweeps(P)
    if P["epochs_long"]:
        out.append((out[0][0], long_configs(P)))
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


def disagreement(fits: pd.DataFrame, scores: pd.DataFrame, summary: pd.DataFrame, P: dict) -> str:
    """Where our runs and the paper's differ on this page, in sentences computed from the numbers: the shape
    of our error against T for each h >= D (C18), R(h) against the threshold (C22), the generalisation gap,
    and what the longer-training check changed."""
    D, tol, rtol = P["D"], P["trend_tol"], P["reversal_tol"]
    text = ["**Where our runs and the paper's differ.**"]
    z = zoom_stats(summary, "min")
    z = z[z["h"] >= D]
    if len(z):
        text.append("Our minimum NMSE over seeds against $T$: " + "; ".join(
            f"$h = {h}$: smallest at $T = {Tm}$, " + _shape(fall, rise, tol)
            for h, Tm, fall, rise in zip(z["h"], z["T_at_min"], z["fall"], z["rise"])) + ".")
    R = dict(zip(scores["h"].astype(int), scores["R"]))
    if D in R:
        below = [R[h] for h in R if h < D]
        text.append(f"Our $R(D) = R({D}) = {R[D]:.2f}$ is " + ("above" if R[D] > rtol else "not above")
                    + f" the threshold {rtol:g}" + (f", and below $D$ our $R$ is at most {max(below):.2f}" if below else "")
                    + ".")
    base = fits[fits["epochs"] == P["epochs"]]["val / train"]
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
                    f"{P['h_grid_long']}, T in {P['T_grid_long']}). The error then lies between "
                    f"{v.min():.1e} and {v.max():.1e}, and the validation/training ratio becomes "
                    + ", ".join(f"{r:.1f} at $T = {T}$" for T, r in g.items())
                    + f"; the error {_moves(v.iloc[0], v.iloc[-1], tol)} from "
                    f"$T = {v.index[0]}$ to $T = {v.index[-1]}$.")
    text.append("The paper does not state its training schedule; the `paper` tier trains longer and is where the "
                "comparison can be fair.")
    return " ".join(text)


def _moves(first: float, last: float, tol: float) -> str:
    g = last / first
    return "still grows" if g > 1 + tol else ("now falls" if g < 1 / (1 + tol) else "changes by less than the tolerance")


def _shape(fall: float, rise: float, tol: float) -> str:
    """'falls x then rises y' in words, with the tolerance deciding what counts as a fall or a rise."""
    f, r = fall > 1 + tol, rise > 1 + tol
    words = {(True, True): "falls then rises", (True, False): "falls, no rise after", (False, True): "no fall, then rises",
             (False, False): "neither falls nor rises beyond the tolerance"}[(f, r)]
    return f"{words} (fall {fall:.2f}x from the shortest $T$, rise {rise:.2f}x to the longest)"


def summary_text(vs: list[claims.Verdict], fits: pd.DataFrame, scores: pd.DataFrame, summary: pd.DataFrame,
                 P: dict) -> str:
    """What the page says after its verdicts: agreement when both are reproduced, else the differences."""
    if all(v.verdict == claims.REPRODUCED for v in vs):
        return "**Our runs agree with the paper** on both readings at this tier: " + ", ".join(
            f"{v.claim_id} {v.verdict}" for v in vs) + "."
    return disagreement(fits, scores, summary, P)


def paper_text(P: dict) -> str:
    """The paper's own tables read with this page's functions: R(h) and the shape against T for h >= D (empty
    outside the paper's setting)."""
    if not paper_setting(P):
        return ""
    D, tol = P["D"], P["trend_tol"]
    out = []
    for name, tab, col in (("Table 2 means", paper_table("table2"), "nmse_mean"), ("Table 3", paper_table("table3"), "nmse")):
        R = analysis.reversal_scores(tab, "h", "T", col)
        below, above = R[R["h"] < D]["R"], R[R["h"] >= D]["R"]
        z = zoom_stats(tab, col)
        z = z[z["h"] >= D]
        out.append(f"From the paper's {name}: $R(h)$ is at most {below.max():.2f} below $h = D$ and between "
                   f"{above.min():.2f} and {above.max():.2f} from $h = D$ on; against $T$, "
                   + "; ".join(f"$h = {h}$ is smallest at $T = {Tm}$, " + _shape(fa, ri, tol)
                               for h, Tm, fa, ri in zip(z["h"], z["T_at_min"], z["fall"], z["rise"])) + ".")
    t2 = paper_table("table2")
    t2 = t2[t2["h"] == D]
    over = t2[t2["nmse_std"] > t2["nmse_mean"]]["T"].tolist()
    out.append(f"The Table 2 standard deviation at $h = D$ exceeds its mean at "
               + (f"$T$ = {over}" if over else "no $T$") + f" (of {t2['T'].tolist()}).")
    return " ".join(out)


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


def falls_then_rises(summary: pd.DataFrame, D: int, col: str = "min", tol: float = 0.2) -> claims.Verdict:
    """C18 (Remark B.1.1): for every h >= D, NMSE against T first falls, then rises slowly.

    Core, for every h >= D: the minimum over T is at an interior T, with a fall from the shortest T and a rise
    to the longest T each more than a factor 1 + tol. Supporting: where it falls then rises, the rise is
    smaller than the fall ("slowly"). An h at chance is no evidence. Not testable without three T."""
    test = (f"for every h >= D = {D}, {col} NMSE falls by > {1 + tol:g}x from the shortest T to its minimum and "
            f"rises by > {1 + tol:g}x to the longest T (supporting: rise < fall)")
    Ts = sorted(set(summary["T"])) if len(summary) else []
    hs = sorted(set(summary["h"])) if len(summary) else []
    if len(Ts) < 3:
        return claims.judge("C18", test, [], out_of_regime=f"a fall then a rise needs at least three T (grid: T = {Ts})")
    if not any(h >= D for h in hs):
        return claims.judge("C18", test, [], out_of_regime=f"the grid (h = {hs}) has no h >= D = {D}")
    chance = [h for h, sub in summary.groupby("h") if h >= D and all(analysis.nmse_at_chance(v) for v in sub[col])]
    z = zoom_stats(summary, col)
    z = z[(z["h"] >= D) & ~z["h"].isin(chance)]
    interior = {h: bool(fa > 1 + tol and ri > 1 + tol) for h, fa, ri in zip(z["h"], z["fall"], z["rise"])}
    note = f"; h = {chance} at chance, no evidence" if chance else ""
    rows = "; ".join(f"h={h}: min at T={Tm}, falls {fa:.2f}x, rises {ri:.2f}x"
                     for h, Tm, fa, ri in zip(z["h"], z["T_at_min"], z["fall"], z["rise"]))
    nums = {}
    for h, fa, ri in zip(z["h"], z["fall"], z["rise"]):
        nums[f"h{h}_fall"], nums[f"h{h}_rise"] = fa, ri
    core = claims.core("falls then rises", all(interior.values()) if interior else None, (rows or "every h at chance")
                       + note, **nums)
    shaped = z[z["h"].map(interior).fillna(False).astype(bool)] if len(z) else z
    slow = claims.supporting("rise slower than fall", bool((shaped["rise"] < shaped["fall"]).all()) if len(shaped)
                             else None, ", ".join(f"h={h}: {ri:.2f}x vs {fa:.2f}x" for h, fa, ri in
                                                  zip(shaped["h"], shaped["fall"], shaped["rise"]))
                             or "no h falls then rises")
    return claims.judge("C18", test, [core, slow])


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
    """C22 on our numbers: R(h) of the minimum over seeds turns positive exactly at h = D (an h whose errors
    are all at chance is no evidence)."""
    scores = analysis.reversal_scores(summary, "h", "T", "min")
    chance = [h for h, sub in summary.groupby("h") if all(analysis.nmse_at_chance(v) for v in sub["min"])]
    return analysis.reversal_turns_positive_at(scores, P["D"], "C22", "weighted reversal score of the min NMSE over "
                                               "seeds", tol=P["reversal_tol"], no_evidence=chance)


def evidence(P: dict, store) -> dict:
    """The head-count page's runs (one row per h, T, seed) and those of the longer-training check: the sweeps
    of `sweeps(P)`, in that order."""
    main, *long = [sweep(exp, configs, store) for exp, configs in sweeps(P)]
    ev = {"runs": main.frame(), "result": main}
    if long:
        ev.update(long_runs=long[0].frame(), long_result=long[0])
    return ev


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    """C18 (falls then rises for h >= D) and C22 (R turns positive at h = D), on the minimum over seeds of the
    head-count runs (the longer-training runs are not part of the verdicts)."""
    s = analysis.summarise(ev["runs"])
    return [falls_then_rises(s, P["D"], tol=P["trend_tol"]), reversal_verdict(s, P)]


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
        ax.legend(fontsize=8)
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
    ax.legend(fontsize=8, loc="upper left")
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


# ----------------------------------------------------------------------------------------------------
# What the notebook shows, computed here (the notebook only calls these and displays the result)
# ----------------------------------------------------------------------------------------------------

def parameters_markdown(P: dict) -> str:
    """The page's opening line: the tier and the table of every parameter."""
    return (f"**Tier `{P['tier']}`.** Parameters of this page (those of the head-count page, the "
            "threshold of the reversal verdict, and a longer-training check):\n\n" + SPEC.table(P))


def scale_text(P: dict) -> str:
    """The tier and scale of the head-count runs, for figure titles."""
    return (f"Tier {P['tier']}: T in {P['T_grid']}, {len(P['seeds'])} seeds, {P['n_train']} train / "
            f"{P['n_val']} val, {P['epochs']} epochs")


def all_runs(ev: dict) -> pd.DataFrame:
    """The head-count runs and, when the evidence has them, the longer-training runs, in one table."""
    frames = [ev["runs"], *([ev["long_runs"]] if "long_runs" in ev else [])]
    return pd.concat(frames, ignore_index=True)


def results(P: dict, ev: dict) -> dict:
    """Everything the page shows, from its evidence: `summary` (per h, T over seeds of the head-count runs),
    `after` (its rows at h >= D: the zoom figure's table), `fits` (`fit_table` of every run, longer training
    included), `reversal` (`reversal_table`), `scores` (R(h) of the minimum over seeds), `scale`, `store` (a
    sentence) and `meta` (a figure's provenance)."""
    summary = analysis.summarise(ev["runs"])
    return {"summary": summary, "after": summary[summary["h"] >= P["D"]], "fits": fit_table(all_runs(ev), P["D"]),
            "reversal": reversal_table(summary, P), "scores": analysis.reversal_scores(summary, "h", "T", "min"),
            "scale": scale_text(P), "store": f"Store: {ev['result'].summary()}.",
            "meta": synthetic_heads.figure_meta(P, ev["result"])}


def zoom_markdown(summary: pd.DataFrame, P: dict) -> str:
    """Where the minimum over T sits for each h >= D (`zoom_table`), under a line saying what it shows."""
    return ("**Where the minimum over $T$ sits**, with the factor by which the error falls from the shortest "
            "$T$ to it and rises from it to the longest $T$ (an interior minimum is \"first falls, then "
            "rises\"):\n\n" + markdown_table(zoom_table(summary, P)))


def format_fits(fits: pd.DataFrame) -> pd.DataFrame:
    """`fit_table` for the page: NMSE in scientific notation, the ratio to two decimals, named columns."""
    return fits.assign(**{
        "val_nmse": fits["val_nmse"].map(lambda v: f"{v:.2e}"), "train_nmse": fits["train_nmse"].map(lambda v: f"{v:.2e}"),
        "val / train": fits["val / train"].map(lambda v: f"{v:.2f}")}).rename(columns={
            "val_nmse": "validation NMSE (min over seeds)", "train_nmse": "training NMSE (same model)"})


def long_markdown(R: dict, P: dict, ev: dict) -> str:
    """The longer-training section: where its runs came from (when the check runs), the table of validation
    against training error, and the sentences of `long_reading`."""
    parts = [f"Longer-training check: {ev['long_result'].summary()}."] if P["epochs_long"] else []
    parts += [markdown_table(format_fits(R["fits"])), "In numbers: " + long_reading(R["fits"], P)]
    return "\n\n".join(parts)


def reversal_markdown(table: pd.DataFrame) -> str:
    """The table of R(h), ours beside the paper's, under a line saying how it is computed."""
    return ("**$R(h)$, ours beside the paper's** (every number computed here with the same function, "
            "`headcount.analysis.reversal_score`, from our runs or from the paper's printed tables):\n\n"
            + markdown_table(format_reversal(table)))


def reading_markdown(vs: list[claims.Verdict], R: dict, P: dict) -> str:
    """The closing reading: the paper's own tables read with this page's functions (in the paper's setting),
    then what our runs give (`summary_text`)."""
    ptext = paper_text(P)
    return "\n\n".join([*([ptext] if ptext else []), summary_text(vs, R["fits"], R["scores"], R["summary"], P)])
