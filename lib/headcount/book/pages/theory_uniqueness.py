"""Page: Corollary 1 (the intrinsic dimension is unique, claim C14) and Conjecture 1 (depth, claim C30)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from headcount import claims, theory
from headcount.params import Param, ParamSpec
from headcount.book.plots import new_figure

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
    axes[0].legend(fontsize=8)
    axes[1].loglog(df["T_condition"], df["T_first_ok"], "o", markersize=3)
    lim = [df[["T_condition", "T_first_ok"]].min().min() * 0.8, df["T_condition"].max() * 1.2]
    axes[1].plot(lim, lim, "k:", linewidth=1, label="equal")
    axes[1].set_xlabel("T required by D1^2 + D2^2 <= T/50")
    axes[1].set_ylabel("smallest T with k > max(D1, D2)")
    axes[1].set_title(f"all {len(df)} pairs", fontsize=9)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Corollary 1 arithmetic ({scale})", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


def evidence(P: dict, store=None) -> dict:
    """The margins table (computed here; no training: the store is not read)."""
    return {"margins": margins(P)}


C30_TEST = ("Conjecture 1: with $L$ layers, $L h \\ge D$ is necessary; otherwise $\\log(\\text{parameter count}) = "
            "\\Omega(\\lvert\\log\\varepsilon\\rvert\\, a_L T^{b_L} / (n h))$")


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    return [theory.check_corollary1(ev["margins"], P["T_max"]),
            claims.proof_only("C30", C30_TEST, "an open conjecture: no proof to check and nothing to compute; its "
                              "empirical support, the two-layer experiment (claim C21), is judged on the ablation_controls "
                              "page")]


def margin_text(df: pd.DataFrame) -> str:
    """Where the margin is smallest, whether it is positive for every pair, and how much earlier than the
    condition's T the arithmetic already holds."""
    if df.empty:
        return "No pair fits the condition within the page's range of T."
    w = df.loc[df["min_margin"].idxmin()]
    at_start = bool((df["T_at_min"] == df["T_condition"]).all())
    early = df["T_first_ok"] / df["T_condition"]
    return (f"Measured over {len(df)} pairs: the smallest margin is {w['min_margin']:.3f}, at D1 = {int(w['D1'])}, "
            f"D2 = {int(w['D2'])}, T = {int(w['T_at_min'])}; it is positive for "
            f"{int((df['min_margin'] > 0).sum())} of {len(df)} pairs, and sits at the condition's first T for "
            f"{'every' if at_start else 'not every'} pair. The margin first turns positive at "
            f"{early.min():.2f} to {early.max():.2f} times the T the condition requires "
            f"({'so the condition is sufficient, with room, not necessary' if (early < 1).all() else 'for some pair only at or after it'}).")


def proof_only_text(vs: list[claims.Verdict], claim_id: str = "C30") -> str:
    v = next(v for v in vs if v.claim_id == claim_id)
    return f"Claim {claim_id} is recorded as *{v.shown}*: {v.evidence}."


# ---- the page's blocks of text, computed (the notebook only calls these and displays them) -----------------


def header_markdown(P: dict) -> str:
    """The tier and the table of this page's parameters."""
    return f"**Tier `{P['tier']}`.** Parameters of this page:\n\n" + SPEC.table(P)


def margin_scale(P: dict) -> str:
    """The scale line of the margin figure."""
    return f"tier {P['tier']}: every integer T up to {P['T_max']}"
