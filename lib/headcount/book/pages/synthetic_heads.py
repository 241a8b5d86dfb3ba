"""Page: NMSE vs number of heads on the sum-of-max task (paper Figure 1a, Table 2, claims C15, C16a, C16b)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from headcount import analysis, claims
from headcount.engine import synthetic
from headcount.engine.sweep import sweep
from headcount.params import Param, ParamSpec
from headcount.book.plots import OURS_STYLE, PAPER_STYLE, markdown_table, new_figure, runs_provenance
from headcount.paper import paper_table
from headcount.tasks import draw_a

PARAMS = [
    Param("D", "int", "intrinsic dimension: number of vectors a_i in y = sum_i max_t a_i . x(t)", minimum=1),
    Param("d", "int", "token width: x(t) ~ N(0, I_d)", minimum=1),
    Param("a_seed", "int", "seed of the a_i (standard normal draws scaled to unit length)", minimum=0),
    Param("T_grid", "int_list", "sequence lengths T", minimum=1),
    Param("h_grid", "int_list", "head counts h", minimum=1),
    Param("n", "int", "per-head width n (E = n h)", minimum=1),
    Param("N", "int", "hidden width of the encoder MLP and of the feed-forward block", minimum=1),
    Param("seeds", "int_list", "model seeds (initialisation and minibatch order) per (h, T)", minimum=0),
    Param("epochs", "int", "passes over the training set", minimum=1),
    Param("lr", "float", "peak learning rate of Adam (cosine decay to 0)", minimum=1e-8),
    Param("batch_size", "int", "minibatch size", minimum=1),
    Param("n_train", "int", "training sequences per T (paper: 8000)", minimum=2),
    Param("n_val", "int", "validation sequences per T (paper: 2000)", minimum=2),
    Param("data_seed", "int", "seed of the training/validation draws", minimum=0),
    Param("engine", "str", "training engine: all models of a T stacked in one computation, or one at a time",
          choices=("stacked", "single")),
    Param("trend_tol", "float", "NMSE counts as growing with T when NMSE(T_max) / NMSE(T_min) exceeds 1 + trend_tol, "
          "and as flat (or falling) when it does not", minimum=0.0),
    Param("seed_floor_factor", "float", "C16b study: a seed reaches the error floor at T when its NMSE is at most this "
          "many times the smallest NMSE of any seed at any h >= D at that T", minimum=1.0, maximum=1e6),
]

_COMMON = dict(D=4, d=4, a_seed=0, n=8, N=32, batch_size=128, data_seed=1234, engine="stacked", trend_tol=0.2,
               seed_floor_factor=10.0)
SPEC = ParamSpec(
    notebook="synthetic_heads",
    params=PARAMS,
    tiers={
        "smoke": {**_COMMON, "T_grid": [8, 16], "h_grid": [1, 4], "seeds": [0], "epochs": 2, "lr": 3e-3,
                  "n_train": 512, "n_val": 256},
        "laptop": {**_COMMON, "T_grid": [8, 16, 32, 64], "h_grid": [1, 2, 3, 4, 5], "seeds": [0, 1, 2],
                   "epochs": 100, "lr": 1e-2, "n_train": 8000, "n_val": 2000},
        "paper": {**_COMMON, "T_grid": [8, 16, 32, 64, 128], "h_grid": [1, 2, 3, 4, 5], "seeds": [0, 1, 2, 3, 4],
                  "epochs": 400, "lr": 1e-2, "n_train": 8000, "n_val": 2000},
    },
)


def run_configs(P: dict) -> list[dict]:
    """One SyntheticRun dict per (T, h, seed): the run fields P sets, on the sum-of-max task."""
    return synthetic.configs(synthetic.run_fields(P, task="sum_of_max"), T=P["T_grid"], h=P["h_grid"], seed=P["seeds"])


def sweeps(P: dict):
    return [(synthetic.experiment(P["engine"]), run_configs(P))]


def paper_summary() -> pd.DataFrame:
    """Paper Table 2 as (h, T, mean, std)."""
    t = paper_table("table2")
    return t.rename(columns={"nmse_mean": "mean", "nmse_std": "std"})


def figure(summary: pd.DataFrame, D: int, paper: pd.DataFrame | None, scale: str):
    """NMSE vs h, log scale, one colour per T, two panels that each compare like with like. Left: means over
    seeds, ours solid (band mean +- std) beside the paper's Table 2 means dotted with x markers in the same
    colour. Right: ours, the minimum over seeds (the quantity the claims are judged on; the paper tabulates
    no minima). h = D as a dashed line in both."""
    fig, axes = new_figure(ncols=2, width=4.6, height=4.2)
    Ts = sorted(summary["T"].unique())
    draw_nmse_vs_h(axes[0], summary, paper, Ts, "mean", "Table 2 mean", paper_alpha=0.7, ours_col="mean",
                   ours_label="mean over seeds", band=True)
    draw_nmse_vs_h(axes[1], summary, None, Ts, "mean", "", paper_alpha=0.7, ours_col="min",
                   ours_label="min over seeds", band=False)
    hs = set(summary["h"]) | (set(paper["h"]) if paper is not None else set())
    for ax, ylabel in ((axes[0], "validation NMSE, mean over seeds (ours and the paper's)"),
                       (axes[1], "validation NMSE, ours: min over seeds")):
        ax.axvline(D, color="grey", linestyle="--", linewidth=1)
        ax.text(D, 1.0, f" h = D = {D}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="grey")
        ax.set_yscale("log")
        ax.set_xlabel("number of heads h")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xticks(sorted(hs))
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)  # below: no data hidden
    axes[0].set_title("means over seeds: ours beside the paper's", fontsize=9)
    axes[1].set_title("ours: minimum over seeds", fontsize=9)
    fig.suptitle(f"Sum-of-max task, D = {D}. {scale}", fontsize=8)
    fig.tight_layout()
    return fig


def interactive_figure(runs: pd.DataFrame, summary: pd.DataFrame, D: int, paper: pd.DataFrame | None, scale: str):
    """The interactive twin of the NMSE-vs-h figure (plotly): per T, ours (minimum over seeds, solid) and the
    paper's Table 2 means (dotted, where the page runs the paper's setting), log y; hovering a point of ours
    shows every seed's NMSE, their mean and minimum, and the paper's mean +- std at that (h, T)."""
    import plotly.graph_objects as go

    Ts = sorted(summary["T"].unique())
    colors = dict(zip(Ts, _palette(len(Ts))))
    hexc = {T: "#%02x%02x%02x" % tuple(int(round(255 * c)) for c in colors[T][:3]) for T in Ts}
    fig = go.Figure()
    for T in Ts:
        s = summary[summary["T"] == T].sort_values("h")
        hover = []
        for _, r in s.iterrows():
            seeds = runs[(runs["T"] == T) & (runs["h"] == r["h"])].sort_values("seed")
            lines = [f"seed {int(q.seed)}: {q.val_nmse:.3e}" for q in seeds.itertuples()]
            pap = "" if paper is None else paper[(paper["T"] == T) & (paper["h"] == r["h"])]
            ptxt = ("<br>paper (Table 2): " + (f"{pap['mean'].iloc[0]:.3e} ± {pap['std'].iloc[0]:.1e}"
                                               if len(pap) else "—")) if paper is not None else ""
            hover.append(f"T = {T}, h = {int(r['h'])}<br>" + "<br>".join(lines)
                         + f"<br>mean {r['mean']:.3e}, min {r['min']:.3e}" + ptxt)
        fig.add_trace(go.Scatter(x=s["h"], y=s["min"], mode="lines+markers", name=f"ours, min over seeds, T={T}",
                                 line={"color": hexc[T], "width": 2}, hovertext=hover, hoverinfo="text"))
        if paper is not None:
            p = paper[paper["T"] == T].sort_values("h")
            if len(p):
                fig.add_trace(go.Scatter(
                    x=p["h"], y=p["mean"], mode="lines+markers", name=f"paper, Table 2 mean, T={T}",
                    line={"color": hexc[T], "dash": "dot", "width": 1}, marker={"symbol": "x"},
                    hovertext=[f"paper (Table 2), T = {T}, h = {int(q.h)}: {q.mean:.3e} ± {q.std:.1e}"
                               for q in p.itertuples()], hoverinfo="text"))
    fig.add_vline(x=D, line={"dash": "dash", "color": "grey", "width": 1})
    fig.update_yaxes(type="log", exponentformat="e", title="validation NMSE (ours: min over seeds; paper: Table 2 mean)")
    fig.update_xaxes(title="number of heads h", dtick=1)
    fig.update_layout(title={"text": f"Sum-of-max task, D = {D}. {scale}", "font": {"size": 13}},
                      template="plotly_white", legend={"font": {"size": 11}}, hoverlabel={"font": {"size": 12}})
    return fig


def draw_nmse_vs_h(ax, summary: pd.DataFrame, paper: pd.DataFrame | None, Ts: list, paper_col: str,
                   paper_label: str, paper_alpha: float, ours_col: str = "min", ours_label: str = "min over seeds",
                   band: bool = True) -> None:
    """On `ax`, one colour per T in Ts: ours solid (`ours_col` of the summary; with `band`, mean +- std,
    clipped below at half the min) and the paper's `paper_col` dotted with x markers in the same colour,
    where each has that T. Every series is labelled with what it is."""
    colors = dict(zip(Ts, _palette(len(Ts))))
    for T in Ts:
        s = summary[summary["T"] == T].sort_values("h")
        if len(s):
            ax.plot(s["h"], s[ours_col], color=colors[T], label=f"ours, {ours_label}, T={T}", **OURS_STYLE)
            if band and (s["seeds"] > 1).any():
                lo = np.clip(s["mean"] - s["std"], s["min"] * 0.5, None)
                ax.fill_between(s["h"], lo, s["mean"] + s["std"], color=colors[T], alpha=0.12, linewidth=0)
        if paper is not None:
            p = paper[paper["T"] == T].sort_values("h")
            if len(p):
                ax.plot(p["h"], p[paper_col], alpha=paper_alpha, label=f"paper {paper_label}, T={T}",
                        **{**PAPER_STYLE, "color": colors[T]})


def figure_vs_T(summary: pd.DataFrame, D: int, paper: pd.DataFrame | None, scale: str):
    """The same numbers against T, one panel per side of D (claims C16a, C16b are about these slopes): per h,
    ours as the mean over seeds (solid) and the minimum over seeds (thin dashed), the paper's Table 2 mean
    (dotted, x markers), all in the h's colour."""
    fig, axes = new_figure(ncols=2, width=4.2, height=3.6)
    hs = sorted(summary["h"].unique())
    colors = dict(zip(hs, _palette(len(hs))))
    for ax, side, title in ((axes[0], lambda h: h < D, f"h < D = {D}"), (axes[1], lambda h: h >= D, f"h >= D = {D}")):
        for h in [h for h in hs if side(h)]:
            s = summary[summary["h"] == h].sort_values("T")
            ax.plot(s["T"], s["mean"], color=colors[h], label=f"ours h={h}, mean over seeds", **OURS_STYLE)
            ax.plot(s["T"], s["min"], color=colors[h], linestyle="--", linewidth=0.9,
                    label=f"ours h={h}, min over seeds")
            if paper is not None:
                p = paper[paper["h"] == h].sort_values("T")
                ax.plot(p["T"], p["mean"], alpha=0.5, label=f"paper h={h}, Table 2 mean",
                        **{**PAPER_STYLE, "color": colors[h]})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=1, frameon=False)
    axes[0].set_ylabel("validation NMSE (series in the legend)")
    fig.suptitle(scale, fontsize=8)
    return fig


def _palette(k: int):
    import seaborn as sns

    return sns.color_palette("viridis", k)


def side_by_side(summary: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """One row per (h, T): ours (min, mean +- std, seeds) beside the paper's mean +- std."""
    ours = summary.rename(columns={"min": "ours_min", "mean": "ours_mean", "std": "ours_std", "seeds": "ours_seeds"})
    pap = paper.rename(columns={"mean": "paper_mean", "std": "paper_std"})
    return ours.merge(pap, on=["h", "T"], how="left").sort_values(["h", "T"]).reset_index(drop=True)


def format_table(df: pd.DataFrame) -> pd.DataFrame:
    """Human-readable strings: 'mean ± std' in scientific notation (the std only with two or more seeds)."""
    out = pd.DataFrame({"h": df["h"], "T": df["T"]})
    out["ours: min over seeds"] = df["ours_min"].map(lambda v: f"{v:.2e}")
    out["ours: mean ± std"] = [mean_std(m, s, k) for m, s, k in zip(df["ours_mean"], df["ours_std"], df["ours_seeds"])]
    out["seeds"] = df["ours_seeds"]
    out["paper: mean ± std"] = [
        "—" if pd.isna(m) else f"{m:.2e} ± {s:.1e}" for m, s in zip(df["paper_mean"], df["paper_std"])
    ]
    return out


def mean_std(mean: float, std: float, seeds: int) -> str:
    """'mean ± std' with two or more seeds; the mean alone (marked as one seed) otherwise."""
    return f"{mean:.2e} ± {std:.1e}" if seeds >= 2 else f"{mean:.2e} (1 seed)"


def evidence(P: dict, store) -> dict:
    """The page's runs, one row per (h, T, seed): its one sweep of `sweeps(P)`."""
    ((exp, configs),) = sweeps(P)
    res = sweep(exp, configs, store)
    return {"runs": res.frame(), "result": res}


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    """C15 (drop at h = D), C16a (h < D grows with T), C16b (h >= D flat or falling in T), on the minimum over
    seeds (the quantity the paper plots)."""
    s = analysis.summarise(ev["runs"])
    D, tol = P["D"], P["trend_tol"]
    return [analysis.drop_at_D(s, D), analysis.grows_with_T(s, D, tol=tol), analysis.flattens(s, D, tol=tol)]


def _trend(first: float, last: float, tol: float) -> str:
    g = last / first
    return "grows" if g > 1 + tol else ("falls" if g < 1 / (1 + tol) else "stays within the tolerance")


def differences(summary: pd.DataFrame, paper: pd.DataFrame | None, P: dict, col: str = "min") -> str:
    """Where our T-dependence differs from the paper's, in sentences computed from the numbers: per side of
    D the growth of our NMSE from the shortest to the longest T, the paper's Table 2 means over the same T,
    and the size of the drop at h = D against those growths. Empty when the grid has fewer than two T."""
    D, tol = P["D"], P["trend_tol"]
    g = analysis.growth_in_T(summary, col)
    if g.empty:
        return ""
    Ts = sorted(summary["T"].unique())
    T0, T1 = Ts[0], Ts[-1]
    out = []
    for name, part in (("$h < D$", g[g["h"] < D]), ("$h \\ge D$", g[g["h"] >= D])):
        if len(part):
            out.append(f"For {name} our {col} NMSE over seeds changes by "
                       + ", ".join(f"x{x:.2f} ($h = {h}$)" for h, x in zip(part["h"], part["growth"]))
                       + f" from $T = {T0}$ to $T = {T1}$.")
    if paper is not None:
        pp = paper[paper["T"].isin([T0, T1])]
        for h in sorted(set(g["h"]) & set(pp["h"])):
            p = pp[pp["h"] == h].set_index("T")["mean"]
            ours = summary[summary["h"] == h].set_index("T")
            if T0 in p.index and T1 in p.index:
                o = _trend(ours.loc[T0, "mean"], ours.loc[T1, "mean"], tol)
                q = _trend(p[T0], p[T1], tol)
                out.append(f"At $h = {h}$ the paper's Table 2 mean {q} from {p[T0]:.1e} to {p[T1]:.1e}; our mean over "
                           f"seeds {o} from {ours.loc[T0, 'mean']:.1e} to {ours.loc[T1, 'mean']:.1e}"
                           + (" (the same direction)." if o == q else " (a different direction)."))
    r = analysis.transition_ratios(summary, col)
    r = r[r["h"] == D]
    if len(r):
        smallest, biggest = float(r["ratio"].min()), float(g["growth"].max())
        out.append(f"The drop from $h = D - 1$ to $h = D$ is at least {smallest:.0f}x at every $T$, "
                   + ("larger" if smallest > biggest else "not larger")
                   + f" than the largest change with $T$ of any $h$ (x{biggest:.2f}).")
    return " ".join(out)


# ----------------------------------------------------------------------------------------------------
# What the notebook shows, computed here (the notebook only calls these and displays the result)
# ----------------------------------------------------------------------------------------------------

def parameters_markdown(P: dict) -> str:
    """The page's opening line: the tier and the table of every parameter."""
    return (f"**Tier `{P['tier']}`.** Parameters of this page (every choice the paper leaves open is here):\n\n"
            + SPEC.table(P))


def a_markdown(P: dict) -> str:
    """The vectors a_i of the task (one row each, one column per coordinate) as a markdown table."""
    a = draw_a(P["D"], P["d"], P["a_seed"])
    return ("The $a_i$ used here (rows):\n\n| i | " + " | ".join(f"coord {j + 1}" for j in range(P["d"]))
            + " |\n|---|" + "---|" * P["d"] + "\n"
            + "\n".join(f"| {i + 1} | " + " | ".join(f"{v:+.4f}" for v in row) + " |" for i, row in enumerate(a.tolist())))


def paper_setting(P: dict) -> bool:
    """Whether the page runs the paper's Table 2 setting (D = d = 4, n = 8, N = 32)."""
    return (P["D"], P["d"], P["n"], P["N"]) == (4, 4, 8, 32)


def scale_text(P: dict) -> str:
    """The tier and scale of the runs, for figure titles."""
    return (f"tier {P['tier']}: T in {P['T_grid']}, h in {P['h_grid']}, {len(P['seeds'])} seeds, "
            f"{P['n_train']} train / {P['n_val']} val, {P['epochs']} epochs")


def store_text(result, runs: pd.DataFrame, what: str = "the runs computed now or earlier") -> str:
    """Where the runs came from (the sweep's summary) and their summed training time."""
    return f"Store: {result.summary()}. Training time of {what}, summed: {runs['train_seconds'].sum():.0f} s."


def figure_meta(P: dict, result, **extra) -> dict:
    """The provenance saved beside a figure: the parameters, the code hash of the runs and the stored runs drawn."""
    return {"params": P, **extra, "code_hash": result.records[0]["code_hash"], **runs_provenance(result)}


def results(P: dict, ev: dict) -> dict:
    """Everything the page shows, from its evidence: `summary` (per h, T over seeds), `paper` (Table 2 as
    h, T, mean, std in the paper's setting, else None), `side` (ours beside the paper's per h, T; the
    paper's columns empty outside its setting: the figures' table), `scale`, `store` (a sentence) and `meta`
    (a figure's provenance)."""
    summary = analysis.summarise(ev["runs"])
    paper = paper_summary() if paper_setting(P) else None
    side = side_by_side(summary, paper if paper is not None else paper_summary().iloc[0:0])
    return {"summary": summary, "paper": paper, "side": side, "scale": scale_text(P),
            "store": store_text(ev["result"], ev["runs"]), "meta": figure_meta(P, ev["result"])}


def side_markdown(side: pd.DataFrame) -> str:
    """The table of ours beside the paper's Table 2, under its heading."""
    return "### Ours beside the paper's Table 2\n\n" + markdown_table(format_table(side))


def verdicts_markdown(vs: list[claims.Verdict], R: dict, P: dict) -> str:
    """The verdicts' table, then (where the grid has two or more T) our trends in T beside the paper's."""
    diff = differences(R["summary"], R["paper"], P)
    return claims.markdown_table(vs) + (f"\n\n**Our trends in $T$, beside the paper's.** {diff}" if diff else "")


# ----------------------------------------------------------------------------------------------------
# C16b: what drives our h >= D error against T (hypotheses testable from the stored runs and the data)
# ----------------------------------------------------------------------------------------------------

def target_stats(P: dict) -> pd.DataFrame:
    """Per T of the grid: Var and E[y^2] of the validation targets and Var of the training targets, from the
    same deterministic draws the runs trained and were evaluated on (population variances, as in the NMSE)."""
    from headcount.engine.train import SyntheticRun, make_data

    rows = []
    for T in sorted(P["T_grid"]):
        c = next(c for c in run_configs(P) if c["T"] == T)
        d = make_data(SyntheticRun.from_dict(c))
        yv, yt = d["yva"].double(), d["ytr"].double()
        rows.append({"T": T, "var_val": float(yv.var(unbiased=False)), "meansq_val": float((yv ** 2).mean()),
                     "var_train": float(yt.var(unbiased=False))})
    return pd.DataFrame(rows)


def c16b_study(P: dict, runs: pd.DataFrame, paper: pd.DataFrame | None) -> dict:
    """The study's tables and its computed sentences: the T-trend at h = D (and every h >= D) under each
    normalisation of `analysis.NORMALISATIONS`, the paper's Table 2 trend beside it, and the share of seeds
    reaching the error floor per (h, T). Empty dict when the grid has one T or no h >= D."""
    D, tol = P["D"], P["trend_tol"]
    hs = sorted(h for h in set(runs["h"]) if h >= D)
    if runs["T"].nunique() < 2 or not hs:
        return {}
    stats = target_stats(P)
    table = analysis.renormalise(runs, stats)
    trends = {h: analysis.normalisation_trends(table, h, tol) for h in hs}
    shares = analysis.floor_shares(runs, D, P["seed_floor_factor"])
    found = {h: analysis.c16b_findings(trends[h], shares, h, tol) for h in hs}
    T0, T1 = int(stats["T"].min()), int(stats["T"].max())
    s0, s1 = stats.iloc[0], stats.iloc[-1]
    vr, mr = float(s1["var_val"] / s0["var_val"]), float(s1["meansq_val"] / s0["meansq_val"])
    text = [f"From $T = {T0}$ to $T = {T1}$ the variance of the validation targets "
            f"{'falls' if vr < 1 else 'rises'} from {s0['var_val']:.3f} to {s1['var_val']:.3f} (x{vr:.2f}) while "
            f"their mean square {'grows' if mr > 1 else 'falls'} from {s0['meansq_val']:.1f} to {s1['meansq_val']:.1f} "
            f"(x{mr:.2f})" + (": the same squared error is a larger NMSE at the longer $T$." if vr < 1 else ".")]
    f = found[D]
    m = f["mean_trend"]
    text.append(f"At $h = D = {D}$ the mean over seeds of the raw MSE {m['mse'][0]} (x{m['mse'][1]:.2f}); divided "
                f"by $\\mathrm{{Var}}(y)$ (our NMSE) it {m['nmse'][0]} (x{m['nmse'][1]:.2f}); by $\\mathrm{{Var}}(y)$ of "
                f"the training targets it {m['nmse_trainvar'][0]} (x{m['nmse_trainvar'][1]:.2f}); by $E[y^2]$ it "
                f"{m['nmse_meansq'][0]} (x{m['nmse_meansq'][1]:.2f}).")
    if paper is not None:
        pp = paper[(paper["h"] == D) & paper["T"].isin([T0, T1])].set_index("T")["mean"]
        if T0 in pp.index and T1 in pp.index:
            r = float(pp[T1] / pp[T0])
            word = analysis.trend_word(r, tol)
            agree = [k for k, (w, _) in m.items() if w == word]
            text.append(f"The paper's Table 2 mean at $h = {D}$ {word} over the same $T$ (x{r:.2f}): "
                        + (f"the same direction as ours under {', '.join(analysis.NORMALISATIONS[k] for k in agree)}."
                           if agree else "no normalisation tested gives that direction."))
    text.append(f"Seeds at the floor (within {P['seed_floor_factor']:g}x of the best $h \\ge D$ seed at each $T$) at "
                f"$h = {D}$: {f['share_first']:.0%} at $T = {T0}$, {f['share_last']:.0%} at $T = {T1}$; the mean NMSE "
                f"of the seeds that reach it {f['reached_trend']} (x{f['reached_ratio']:.2f}) and the floor itself "
                f"{f['floor_trend']} (x{f['floor_ratio']:.2f}).")
    nm = m["nmse"][0]
    if nm == "rises":
        var_part = float(s0["var_val"] / s1["var_val"])
        share = math.log(var_part) / math.log(m["nmse"][1]) if m["nmse"][1] > 1 else math.nan
        text.append(f"What the evidence supports: of the x{m['nmse'][1]:.2f} rise of our NMSE at $h = D$, the shrinking "
                    f"variance of the targets accounts for a factor x{var_part:.2f} (about {share:.0%} of the rise on "
                    f"a log scale) and a larger squared error for the rest, x{m['mse'][1]:.2f} (the raw MSE "
                    f"{m['mse'][0]}). "
                    + ("Seeds missing the solution do not explain it: the seeds at the floor rise as the mean does."
                       if f["reached_trend"] == "rises" else
                       "Part of it is a trend in the share of seeds at the floor: those at the floor "
                       f"{f['reached_trend']}.")
                    + (" Under $E[y^2]$ as the normaliser the same errors fall with $T$." if m["nmse_meansq"][0] == "falls"
                       else f" Under $E[y^2]$ as the normaliser they {m['nmse_meansq'][0]} too."))
    else:
        text.append(f"Our NMSE at $h = D$ {nm} with $T$ on this tier: there is no rise to explain here.")
    trend_rows = pd.concat([t.assign(h=h) for h, t in trends.items()])
    return {"stats": stats, "trends": trend_rows, "shares": shares, "findings": found, "text": " ".join(text)}


def c16b_markdown(study: dict) -> str:
    """The study's two tables and its sentences, for the page."""
    if not study:
        return "(The study needs at least two $T$ and an $h \\ge D$ in the grid.)"
    t = study["trends"]
    t = t[t["over seeds"] == "mean"]
    rows = ["| h | divided by | at T_min | at T_max | ratio | trend |", "|---|---|---|---|---|---|"]
    rows += [f"| {r.h} | {r._2} | {r._6:.2e} | {r._7:.2e} | x{r.ratio:.2f} | {r.trend} |" for r in t.itertuples()]
    sh = study["shares"]
    rows2 = ["| h | T | seeds at the floor | floor (best NMSE) | mean NMSE of those at it | of the others |",
             "|---|---|---|---|---|---|"]
    rows2 += [f"| {r.h} | {r.T} | {r.reached} of {r.seeds} | {r.floor:.2e} | {r.mean_reached:.2e} | "
              + ("—" if pd.isna(r.mean_missed) else f"{r.mean_missed:.2e}") + " |" for r in sh.itertuples()]
    return (study["text"] + "\n\nThe validation error of the $h \\ge D$ models under each normalisation (mean over "
            "seeds, shortest and longest $T$):\n\n" + "\n".join(rows)
            + "\n\nSeeds reaching the error floor:\n\n" + "\n".join(rows2))
