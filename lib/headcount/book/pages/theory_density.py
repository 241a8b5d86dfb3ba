"""Page: Theorem 1 (density of generalized D-retrieval targets) and Lemmas 1-3 (claims C1-C4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from headcount import claims, theory
from headcount.params import Param, ParamSpec
from headcount.book.plots import new_figure


def _m_divides(P: dict) -> str | None:
    bad = [T for T in P["lemma2_T"] if T % 4]
    return f"every T in lemma2_T must be a multiple of 4 (m = T/4), got {bad}" if bad else None


PARAMS = [
    Param("lemma2_T", "int_list", "sequence lengths T for the brute force of Lemma 2 (m = T/4; all C(T, m) subsets)",
          minimum=4),
    Param("lemma2_d", "int", "token width d of the Lemma 2 test sequences", minimum=1),
    Param("lemma2_random", "int", "random sequences per T (and as many with ties), besides the fixed adversarial ones",
          minimum=1),
    Param("q_grid", "float_list", "sharpness values q of Lemma 3's smooth selector", minimum=1e-6),
    Param("selector_T", "int", "sequence length for the Lemma 3 check (m = T/4)", minimum=4),
    Param("selector_inputs", "int", "random and adversarial sequences per q (each)", minimum=1),
    Param("eta", "float", "accuracy eta of each step of the Lemma 1 repair (the lemma allows 5 eta in total)",
          minimum=1e-4),
    Param("lemma1_grid", "int", "grid points on [0, 1] for the Lemma 1 picture and its checks", minimum=101),
    Param("seed", "int", "seed of every random draw on this page", minimum=0),
]

_Q = [10.0 ** k for k in range(0, 7)]
SPEC = ParamSpec(
    notebook="theory_density",
    params=PARAMS,
    tiers={
        "smoke": dict(lemma2_T=[8], lemma2_d=2, lemma2_random=3, q_grid=[1.0, 100.0, 10000.0], selector_T=8,
                      selector_inputs=5, eta=0.02, lemma1_grid=4001, seed=0),
        "laptop": dict(lemma2_T=[8, 12, 16], lemma2_d=2, lemma2_random=20,
                       q_grid=[float(f * 10**k) for k in range(0, 7) for f in (1, 3)][:-1], selector_T=8, selector_inputs=40, eta=0.02,
                       lemma1_grid=20001, seed=0),
        "paper": dict(lemma2_T=[8, 12, 16, 20], lemma2_d=3, lemma2_random=50,
                      q_grid=[float(f * 10**k) for k in range(0, 9) for f in (1, 2, 5)][:-2], selector_T=12, selector_inputs=100, eta=0.01,
                      lemma1_grid=40001, seed=0),
    },
    rules=[_m_divides, lambda P: None if P["selector_T"] % 4 == 0 else "selector_T must be a multiple of 4"],
)


def feature_tilde(x: np.ndarray) -> np.ndarray:
    """The continuous feature the Lemma 1 picture repairs: two flat-bottomed wells of equal depth
    (minimum 0.2 on [0.2, 0.3] and on [0.7, 0.8]) with kinks: no unique minimiser, not C^2."""
    return 0.2 + 0.5 * np.maximum(0.0, np.minimum(np.abs(x - 0.25), np.abs(x - 0.75)) - 0.05)


def lemma2(P: dict) -> pd.DataFrame:
    """Brute-force table of Lemma 2 over every T in lemma2_T."""
    return pd.concat([theory.lemma2_check(T, T // 4, P["lemma2_d"], P["lemma2_random"], P["seed"] + T)
                      for T in P["lemma2_T"]], ignore_index=True)


def lemma2_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (T, input kind): sequences, subsets enumerated, largest discrepancy of each identity."""
    kind = df["input"].str.replace(r" #\d+$", "", regex=True)
    g = df.assign(kind=kind).groupby(["T", "m", "kind"], sort=False)
    return g.agg(sequences=("input", "size"), subsets=("subsets", "first"), max_err_U=("err_U", "max"),
                 max_err_Y=("err_Y", "max"), max_err_Z=("err_Z", "max")).reset_index()


def selector(P: dict) -> pd.DataFrame:
    T = P["selector_T"]
    return theory.selector_errors(P["q_grid"], T=T, m=T // 4, n_random=P["selector_inputs"],
                                  n_adversarial=P["selector_inputs"], seed=P["seed"])


def selector_figure(df: pd.DataFrame, scale: str):
    """Sup error of the selector against q (log-log): the two input families, the exact worst case and
    the simple bound 1/sqrt(2 e q)."""
    fig, (ax,) = new_figure(width=5.8, height=4.0)
    for fam, marker in zip(df["family"].unique(), ("o", "s")):
        s = df[df["family"] == fam]
        y = s["sup_error"].clip(lower=1e-17)  # exact zeros cannot sit on a log axis
        ax.plot(s["q"], y, marker=marker, linestyle="none", label=f"measured sup, {fam}")
    s = df.drop_duplicates("q")
    ax.plot(s["q"], s["exact_sup"], color="black", linewidth=1.2, label="exact sup over [0,1]^T")
    ax.plot(s["q"], s["bound"], color="grey", linestyle="--", linewidth=1, label="1 / sqrt(2 e q)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("selector sharpness q")
    ax.set_ylabel("sup_t,j |x~_q(t)_j - x(t)_j|")
    ax.set_title(f"Lemma 3: smooth selector from subset minima\n{scale}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def lemma1(P: dict) -> list[dict]:
    """Two copies of the same non-admissible feature, repaired; the second is also shifted, so that the
    two repaired features have distinct minimisers (Assumption 2.2)."""
    return [theory.lemma1_repair(feature_tilde, P["eta"], shift_sign=0, grid=P["lemma1_grid"]),
            theory.lemma1_repair(feature_tilde, P["eta"], shift_sign=1, grid=P["lemma1_grid"])]


def lemma1_frame(res: list[dict]) -> pd.DataFrame:
    """Tidy curves: x, curve name, value (subsampled to at most 2001 points per curve)."""
    x = res[0]["x"]
    step = max(1, len(x) // 2000)
    rows = []
    for name, y in (("f~ (given, continuous)", res[0]["f_tilde"]), ("p (Bernstein polynomial)", res[0]["p"]),
                    ("f_1 (bump added)", res[0]["f"]), ("f_2 (bump, then shifted)", res[1]["f"])):
        rows.append(pd.DataFrame({"x": x[::step], "curve": name, "value": y[::step]}))
    return pd.concat(rows, ignore_index=True)


def lemma1_table(res: list[dict]) -> pd.DataFrame:
    rows = []
    for k, r in enumerate(res, 1):
        rows.append({"feature": f"f_{k}", "Bernstein degree": r["degree"], "max abs(p - f~)": r["errors"]["polynomial"],
                     "max abs(g - p) (bump)": r["errors"]["bump"], "max abs(f - g) (shift)": r["errors"]["shift"],
                     "max abs(f - f~) (total)": r["errors"]["total"], "5 eta": 5 * r["eta"], "argmin": r["argmin"],
                     "f'' at argmin": r["curvature"], "other basins higher by": r["unique_min_gap"],
                     "values in [0,1] (squash = identity)": r["squash_is_identity"]})
    return pd.DataFrame(rows)


def lemma1_figure(res: list[dict], scale: str):
    fig, axes = new_figure(ncols=2, width=4.6, height=3.6)
    x = res[0]["x"]
    styles = [("f~ (given)", res[0]["f_tilde"], dict(color="black", linewidth=2.2, alpha=0.35)),
              ("p (Bernstein)", res[0]["p"], dict(color="tab:blue", linewidth=1, linestyle=":")),
              ("f_1 (bump)", res[0]["f"], dict(color="tab:orange", linewidth=1.3)),
              ("f_2 (bump + shift)", res[1]["f"], dict(color="tab:green", linewidth=1.3, linestyle="--"))]
    c = 0.5 * (res[0]["argmin"] + res[1]["argmin"])
    for ax, (lo, hi) in zip(axes, ((0.0, 1.0), (c - 0.15, c + 0.15))):  # whole domain, then a zoom on the wells
        keep = (x >= lo) & (x <= hi)
        for name, y, st in styles:
            ax.plot(x[keep], y[keep], label=name, **st)
        for r, col in zip(res, ("tab:orange", "tab:green")):
            if lo <= r["argmin"] <= hi:
                ax.plot([r["argmin"]], [r["min_value"]], marker="v", color=col, markersize=7)
        ax.set_xlabel("x")
    axes[0].set_ylabel("feature value")
    axes[0].set_title("whole domain", fontsize=9)
    axes[1].set_title("zoom: unique, distinct minimisers (triangles)", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Lemma 1 in one dimension, eta = {res[0]['eta']:g}; {scale}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


def evidence(P: dict, store=None) -> dict:
    """Every table this page's verdicts depend on, computed here (no training: the store is not read)."""
    return {"lemma2": lemma2(P), "selector": selector(P), "lemma1": lemma1(P)}


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    sub = [theory.check_lemma2(ev["lemma2"]), theory.check_selector(ev["selector"]), theory.check_lemma1(ev["lemma1"])]
    return [theory.check_density(sub)] + sub


def selector_text(sel: pd.DataFrame) -> str:
    """What the selector figure shows, in numbers: per family, the sup error at the smallest and largest q and
    its ratio to the exact worst case."""
    parts = []
    for fam, g in sel.groupby("family", sort=False):
        g = g.sort_values("q")
        r = g["sup_error"] / g["exact_sup"]
        parts.append(f"{fam}: sup error {g['sup_error'].iloc[0]:.3g} at q = {g['q'].iloc[0]:g} and "
                     f"{g['sup_error'].iloc[-1]:.3g} at q = {g['q'].iloc[-1]:g}, between {r.min():.3g} and {r.max():.3g} "
                     "times the exact worst case")
    below = bool((sel["exact_sup"] <= sel["bound"]).all())
    return ("Measured: " + "; ".join(parts) + ". The exact worst case is " + ("" if below else "not ")
            + "below $1/\\sqrt{2 e q}$ at every $q$ of the grid.")


def lemma1_text(res: list[dict]) -> str:
    """The repaired features' minimisers, curvatures and distances, in numbers."""
    mins = ", ".join(f"f_{k} at x = {r['argmin']:.4f} (f'' = {r['curvature']:.3g}, sup distance to f~ "
                     f"{r['errors']['total']:.4f} against 5 eta = {5 * r['eta']:.3g})" for k, r in enumerate(res, 1))
    gap = min(abs(a["argmin"] - b["argmin"]) for a, b in zip(res, res[1:])) if len(res) > 1 else float("nan")
    return (f"Measured: minimisers of the repaired features {mins}; the second feature is shifted by "
            f"{res[-1]['shift']:.3g}, and the two minimisers are {gap:.4f} apart.")


# ---- the page's blocks of text, computed (the notebook only calls these and displays them) -----------------


def header_markdown(P: dict) -> str:
    """The tier and the table of this page's parameters."""
    return f"**Tier `{P['tier']}`.** Parameters of this page:\n\n" + SPEC.table(P)


def selector_scale(P: dict) -> str:
    """The scale line of the selector figure."""
    return f"tier {P['tier']}: T = {P['selector_T']}, {P['selector_inputs']} sequences per family and q"


def lemma1_scale(P: dict) -> str:
    """The scale line of the Lemma 1 figure."""
    return f"tier {P['tier']}, {P['lemma1_grid']} grid points"
