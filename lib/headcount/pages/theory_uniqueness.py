"""Page: Corollary 1 (the intrinsic dimension is unique, claim C14) and Conjecture 1 (depth, claim C30)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import claims, theory
from ..params import Param, ParamSpec
from ..plots import new_figure

PARAMS = [
    Param("T_max", "int", "every integer T up to this length is checked", minimum=250),
    Param("curve_pairs", "int", "pairs (D1, D2) drawn as curves k(T) - max(D1, D2)", minimum=1),
]

SPEC = ParamSpec(
    notebook="theory_uniqueness",
    params=PARAMS,
    tiers={"smoke": dict(T_max=2000, curve_pairs=3), "laptop": dict(T_max=20000, curve_pairs=5),
           "paper": dict(T_max=200000, curve_pairs=8)},
)


def margins(P: dict) -> pd.DataFrame:
    return theory.corollary1_margins(P["T_max"])


def margin_figure(df: pd.DataFrame, P: dict, scale: str):
    """Left: the margin k(T, D1, 2, D2) - max(D1, D2) against T for a few pairs, with the corollary's starting point
    T = 50 (D1^2 + D2^2) marked. Right: for every pair, the T the condition requires against the T at which the
    margin first becomes positive (the condition is sufficient with room to spare)."""
    fig, axes = new_figure(ncols=2, width=4.8, height=3.9)
    T = np.unique(np.geomspace(8, P["T_max"], 400).astype(int))  # enough points for a smooth curve
    show = df.sort_values("T_condition").head(P["curve_pairs"])
    for r in show.itertuples():
        m = theory.lower_bound_exponent(T, r.D1, 2, r.D2) - max(r.D1, r.D2)
        line, = axes[0].plot(T, m, linewidth=1.2, label=f"D1={r.D1}, D2={r.D2}")
        axes[0].plot([r.T_condition], [r.k_at_T_condition - max(r.D1, r.D2)], "o", color=line.get_color())
    axes[0].axhline(0, color="black", linewidth=0.8)
    axes[0].set_xscale("log")
    axes[0].set_yscale("symlog", linthresh=1.0)  # the margin is negative at short T and grows linearly after
    axes[0].set_xlabel("sequence length T")
    axes[0].set_ylabel("k(T; s=D1, n=2, D=D2) - max(D1, D2)")
    axes[0].set_title("margin; dots: T = 50 (D1^2 + D2^2)", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].loglog(df["T_condition"], df["T_first_ok"], "o", markersize=3)
    lim = [df[["T_condition", "T_first_ok"]].min().min() * 0.8, df["T_condition"].max() * 1.2]
    axes[1].plot(lim, lim, "k:", linewidth=1, label="equal")
    axes[1].set_xlabel("T required by D1^2 + D2^2 <= T/50")
    axes[1].set_ylabel("smallest T with k > max(D1, D2)")
    axes[1].set_title(f"all {len(df)} pairs", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Corollary 1 arithmetic ({scale})", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


def verdicts(df: pd.DataFrame, P: dict) -> list[claims.Verdict]:
    vs = [theory.check_corollary1(df, P["T_max"]),
          claims.Verdict("C30", "Conjecture 1: with L layers, L h >= D is necessary; otherwise log(parameter count) = "
                         "Omega(abs(log eps) a_L T^b_L / (n h))", claims.NOT_CHECKABLE,
                         "an open conjecture (no proof to check); its empirical support, the two-layer experiment "
                         "(claim C21), is judged on the ablation_controls page")]
    for v in vs:
        v.tier = P["tier"]
    return vs
