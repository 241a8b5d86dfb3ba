"""Page: NMSE vs number of heads on the sum-of-max task (paper Figure 1a, Table 2, claims C15, C16)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import claims, synthetic
from ..params import Param, ParamSpec
from ..plots import OURS_STYLE, PAPER_STYLE, new_figure, paper_table

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
]

_COMMON = dict(D=4, d=4, a_seed=0, n=8, N=32, batch_size=128, data_seed=1234, engine="stacked")
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
    """One SyntheticRun dict per (T, h, seed)."""
    base = dict(task="sum_of_max", D=P["D"], d=P["d"], a_seed=P["a_seed"], n=P["n"], N=P["N"],
                epochs=P["epochs"], lr=P["lr"], batch_size=P["batch_size"], n_train=P["n_train"],
                n_val=P["n_val"], data_seed=P["data_seed"])
    return synthetic.configs(base, T=P["T_grid"], h=P["h_grid"], seed=P["seeds"])


def planned_sweeps(P: dict):
    return [(synthetic.experiment(P["engine"]), run_configs(P))]


def paper_summary() -> pd.DataFrame:
    """Paper Table 2 as (h, T, mean, std)."""
    t = paper_table("table2")
    return t.rename(columns={"nmse_mean": "mean", "nmse_std": "std"})


def figure(summary: pd.DataFrame, D: int, paper: pd.DataFrame | None, scale: str):
    """NMSE vs h, log scale, one colour per T: ours as solid lines (min over seeds, band = mean +- std)
    and the paper's Table 2 means for the same T as dotted lines with x markers; h = D as a dashed line."""
    fig, (ax,) = new_figure(width=6.4, height=4.4)
    draw_nmse_vs_h(ax, summary, paper, sorted(summary["T"].unique()), "mean", "Table 2", paper_alpha=0.7)
    ax.axvline(D, color="grey", linestyle="--", linewidth=1)
    ax.text(D, 1.0, f" h = D = {D}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="grey")
    ax.set_yscale("log")
    ax.set_xlabel("number of heads h")
    ax.set_ylabel("validation NMSE (ours: min over seeds)")
    hs = set(summary["h"]) | (set(paper["h"]) if paper is not None else set())
    ax.set_xticks(sorted(hs))
    ax.set_title(f"Sum-of-max task, D = {D}\n{scale}", fontsize=9)
    ax.legend(fontsize=6.5, loc="lower left", ncol=2)
    return fig


def draw_nmse_vs_h(ax, summary: pd.DataFrame, paper: pd.DataFrame | None, Ts: list, paper_col: str,
                   paper_label: str, paper_alpha: float) -> None:
    """On `ax`, one colour per T in Ts: ours solid (min over seeds, band mean +- std, clipped below at half
    the min) and the paper's `paper_col` dotted with x markers in the same colour, where each has that T."""
    colors = dict(zip(Ts, _palette(len(Ts))))
    for T in Ts:
        s = summary[summary["T"] == T].sort_values("h")
        if len(s):
            ax.plot(s["h"], s["min"], color=colors[T], label=f"ours, T={T}", **OURS_STYLE)
            lo = np.clip(s["mean"] - s["std"], s["min"] * 0.5, None)
            ax.fill_between(s["h"], lo, s["mean"] + s["std"], color=colors[T], alpha=0.12, linewidth=0)
        if paper is not None:
            p = paper[paper["T"] == T].sort_values("h")
            if len(p):
                ax.plot(p["h"], p[paper_col], alpha=paper_alpha, label=f"paper {paper_label}, T={T}",
                        **{**PAPER_STYLE, "color": colors[T]})


def figure_vs_T(summary: pd.DataFrame, D: int, paper: pd.DataFrame | None, scale: str):
    """The same numbers against T, one panel per side of D: claims (b) and (c) are about these slopes."""
    fig, axes = new_figure(ncols=2, width=4.2, height=3.6)
    hs = sorted(summary["h"].unique())
    colors = dict(zip(hs, _palette(len(hs))))
    for ax, side, title in ((axes[0], lambda h: h < D, f"h < D = {D}"), (axes[1], lambda h: h >= D, f"h >= D = {D}")):
        for h in [h for h in hs if side(h)]:
            s = summary[summary["h"] == h].sort_values("T")
            ax.plot(s["T"], s["min"], color=colors[h], label=f"ours h={h}", **OURS_STYLE)
            if paper is not None:
                p = paper[paper["h"] == h].sort_values("T")
                ax.plot(p["T"], p["mean"], alpha=0.5, label=f"paper h={h}", **{**PAPER_STYLE, "color": colors[h]})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("validation NMSE (ours: min over seeds)")
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
    """Human-readable strings: 'mean ± std' in scientific notation."""
    out = pd.DataFrame({"h": df["h"], "T": df["T"]})
    out["ours: min over seeds"] = df["ours_min"].map(lambda v: f"{v:.2e}")
    out["ours: mean ± std"] = [f"{m:.2e} ± {s:.1e}" for m, s in zip(df["ours_mean"], df["ours_std"])]
    out["seeds"] = df["ours_seeds"]
    out["paper: mean ± std"] = [
        "—" if pd.isna(m) else f"{m:.2e} ± {s:.1e}" for m, s in zip(df["paper_mean"], df["paper_std"])
    ]
    return out


def verdicts(summary: pd.DataFrame, D: int, tier: str) -> list[claims.Verdict]:
    vs = [synthetic.drop_at_D(summary, D), synthetic.grows_with_T(summary, D), synthetic.flattens(summary, D)]
    for v in vs:
        v.tier = tier
    return vs
