"""Page: Theorem 2(2), too few heads (claims C7-C10, C29): the exponent k, Lemmas 4 and 5, and the mechanism."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from headcount import claims, constructions as C, theory
from headcount.params import Param, ParamSpec
from headcount.book.plots import new_figure
from headcount.tasks import RetrievalTask, make_task

PARAMS = [
    Param("table_T", "int_list", "sequence lengths T of the table of k", minimum=1),
    Param("plot_T_max", "int", "largest T on the plot of k(T)", minimum=16),
    Param("lemma4_widths", "int_list", "hidden widths p of the random two-layer networks (Lemma 4)", minimum=1),
    Param("lemma4_in_dims", "int_list", "input widths of the random two-layer networks (Lemma 4's n)", minimum=1),
    Param("lemma4_nets", "int", "random networks per (p, input width, activation)", minimum=1),
    Param("lemma5_directions", "int", "segment directions v in Lemma 5's check", minimum=1),
    Param("mech_T_grid", "int_list", "sequence lengths for the pair search (max + min)", minimum=2),
    Param("mech_eps", "float", "accuracy eps of the pair search (targets differ by >= 3 eps)", minimum=1e-6),
    Param("mech_base", "int", "base sequences per (model, T) in the pair search", minimum=1),
    Param("mech_seeds", "int_list", "seeds of the random one-head models", minimum=0),
    Param("mech_betas", "float_list", "temperatures of the random one-head models", minimum=1e-6),
    Param("seed", "int", "seed of every other random draw on this page", minimum=0),
]

SPEC = ParamSpec(
    notebook="theory_too_few_heads",
    params=PARAMS,
    tiers={
        "smoke": dict(table_T=[128, 512], plot_T_max=1024, lemma4_widths=[4, 16], lemma4_in_dims=[2, 8], lemma4_nets=3,
                      lemma5_directions=8, mech_T_grid=[8, 64], mech_eps=0.01, mech_base=50, mech_seeds=[0],
                      mech_betas=[1.0], seed=0),
        "laptop": dict(table_T=[64, 128, 256, 512, 1024, 4096], plot_T_max=4096, lemma4_widths=[4, 16, 64],
                       lemma4_in_dims=[2, 8, 32], lemma4_nets=20, lemma5_directions=64, mech_T_grid=[8, 32, 128, 512],
                       mech_eps=0.01, mech_base=200, mech_seeds=[0, 1, 2], mech_betas=[1.0, 10.0], seed=0),
        "paper": dict(table_T=[64, 128, 256, 512, 1024, 2048, 4096, 16384], plot_T_max=16384,
                      lemma4_widths=[4, 16, 64, 256], lemma4_in_dims=[2, 8, 32, 128], lemma4_nets=50,
                      lemma5_directions=256, mech_T_grid=[8, 16, 32, 64, 128, 256, 512, 1024, 2048], mech_eps=0.01,
                      mech_base=500, mech_seeds=[0, 1, 2, 3, 4], mech_betas=[1.0, 10.0, 100.0], seed=0),
    },
)

from headcount.paper import FIXED_E as PAPER_E  # noqa: E402 - the paper's fixed total width (Tables 3, 4)
# (label, s, n, D): the paper's synthetic experiment (h = 3 of D = 4, per-head width 8), its D = 3 variant at
# h = D - 1 = 2 under the fixed total width of Table 4 (n = E / h = 16), the max + min toy with one head, and a
# wider head
SETTINGS = [("synthetic experiment: s=3, n=8, D=4", 3, 8, 4),
            (f"D = 3 variant (Table 4, E = {PAPER_E}): s=2, n={math.ceil(PAPER_E / 2)}, D=3", 2, math.ceil(PAPER_E / 2), 3),
            ("max + min toy: s=1, n=2, D=2", 1, 2, 2), ("one wide head: s=1, n=32, D=2", 1, 32, 2)]
EXPERIMENT_T = [8, 16, 32, 64, 128]  # the synthetic experiment's sequence lengths
# the paper's synthetic tables: (name, D, per-head width n as a function of h)
EXPERIMENTS = [("Table 2 (n = 8)", 4, lambda h: 8),
               (f"Table 3 (E = {PAPER_E})", 4, lambda h: math.ceil(PAPER_E / h)),
               (f"Table 4 (E = {PAPER_E})", 3, lambda h: math.ceil(PAPER_E / h))]


def exponent_table(P: dict) -> pd.DataFrame:
    rows = []
    for label, s, n, D in SETTINGS:
        t = theory.exponent_table(P["table_T"], [s], [n], [D])
        t.insert(0, "setting", label)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def experiment_scale() -> pd.DataFrame:
    """k at the paper's synthetic grid T = 8..128 for every h < D of its Tables 2 (D = 4, n = 8), 3 (D = 4,
    E = n h = 32) and 4 (D = 3, E = 32), with n = ceil(E / h) under fixed E."""
    rows = []
    for name, D, n_of in EXPERIMENTS:
        for h in range(1, D):
            t = theory.exponent_table(EXPERIMENT_T, [h], [n_of(h)], [D])
            t.insert(0, "table", name)
            rows.append(t)
    return pd.concat(rows, ignore_index=True)


def scale_text(exp: pd.DataFrame) -> str:
    """What the exponent says at the experiments' scale, per table: where the bound is vacuous, at h = D - 1
    (the head count just below the predicted drop) and at smaller h."""
    T_max = int(exp["T"].max())
    parts, below_drop_vacuous = [], []
    for name, g in exp.groupby("table", sort=False):
        D = int(g["D"].iloc[0])
        for h, gh in g.groupby("s"):
            top = gh[gh["T"] == T_max].iloc[0]
            first = gh.loc[~gh["vacuous"], "T"]
            parts.append(f"{name}, h = {h} (n = {int(top['n'])}): threshold {int(top['threshold'])}, k = {top['k']:.3f} at "
                         f"T = {T_max}, " + (f"non-vacuous from T = {int(first.min())}" if len(first) else
                                             f"vacuous at every T <= {T_max}"))
            if h == D - 1:
                below_drop_vacuous.append(bool(gh["vacuous"].all()))
    if all(below_drop_vacuous):
        verdict = (f"At $h = D - 1$, the head count just below the drop the paper reports, the bound is vacuous at every "
                   f"$T \\le {T_max}$ in all {len(below_drop_vacuous)} tables, so Theorem 2(2) does not predict that drop at "
                   "these lengths: the experiments are consistent with its mechanism, not a test of its constant.")
    elif not any(below_drop_vacuous):
        verdict = f"At $h = D - 1$ the bound is non-vacuous at $T = {T_max}$ in every table."
    else:
        verdict = f"At $h = D - 1$ the bound is vacuous at every $T \\le {T_max}$ in some tables and not in others."
    return verdict + " Per table and $h < D$: " + "; ".join(parts) + "."


def long_T_text(table: pd.DataFrame) -> str:
    """k of the synthetic setting and of the max + min toy at the longest lengths of the page's table."""
    out = []
    for label, s, n, D in (SETTINGS[0], SETTINGS[2]):
        g = table[table["setting"] == label].sort_values("T")
        out.append(f"{label}: " + ", ".join(f"k = {k:.2f} at T = {T}" for T, k in zip(g["T"], g["k"])))
    return "The exponent at longer sequences: " + "; ".join(out) + "."


def exponent_curve(P: dict) -> pd.DataFrame:
    T = np.unique(np.geomspace(8, P["plot_T_max"], 200).astype(int))
    rows = [pd.DataFrame({"setting": label, "T": T, "k": theory.lower_bound_exponent(T, s, n, D),
                          "threshold": theory.vacuity_threshold(s, n, D)}) for label, s, n, D in SETTINGS]
    return pd.concat(rows, ignore_index=True)


def exponent_figure(curve: pd.DataFrame, scale: str):
    """k(T) per setting (log T axis), whole range on the left and a zoom on the vacuous region on the right;
    the shaded band is k <= 0; dotted lines mark each setting's threshold; crosses: the synthetic experiment."""
    fig, axes = new_figure(ncols=2, width=4.8, height=4.0)
    _, s0, n0, D0 = SETTINGS[0]
    ks = theory.lower_bound_exponent(np.array(EXPERIMENT_T), s0, n0, D0)
    colors = ("tab:red", "tab:orange", "tab:blue", "tab:green")
    for ax, zoom in zip(axes, (False, True)):
        for (label, g), color in zip(curve.groupby("setting", sort=False), colors):
            g = g[g["T"] <= 1024] if zoom else g
            ax.plot(g["T"], g["k"], color=color, label=label)
            ax.axvline(g["threshold"].iloc[0], color=color, linestyle=":", linewidth=0.9)
        ax.plot(EXPERIMENT_T, ks, "x", color="black", markersize=8, label="synthetic experiment's T = 8..128")
        lo = -1.5
        ax.axhspan(lo, 0, color="grey", alpha=0.2, label="k <= 0: vacuous")
        ax.set_ylim(lo, 10 if zoom else curve["k"].max() * 1.05)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length T")
        ax.set_title("zoom on the vacuous region" if zoom else "whole range", fontsize=9)
    axes[0].set_ylabel("lower-bound exponent k")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Theorem 2(2): M = Omega(1/eps^k); dotted lines: T = 4((n+2)s + D); {scale}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


# ---- Lemma 5 on a concrete feature ----------------------------------------------------------------------

LEMMA5_X_STAR = (0.4, 0.6)
LEMMA5_A = ((6.0, 2.0), (2.0, 3.0))


def lemma5(P: dict) -> tuple[pd.DataFrame, float, float]:
    """The Gaussian well with minimiser x* and Hessian A; returns the per-direction table, r and lambda_min."""
    f = theory.gaussian_well(LEMMA5_X_STAR, LEMMA5_A)
    lam = float(np.linalg.eigvalsh(np.array(LEMMA5_A))[0])
    r = theory.lemma5_radius(f, LEMMA5_X_STAR, lam, np.round(np.arange(0.02, 0.62, 0.02), 2), seed=P["seed"])
    return theory.lemma5_check(f, LEMMA5_X_STAR, r, lam, n_directions=P["lemma5_directions"], seed=P["seed"]), r, lam


# ---- the mechanism: the Lipschitz constant F would need ----------------------------------------------------


def _single_head_of_construction(task: RetrievalTask, beta: float):
    """The min-retrieving head of the h = D construction alone (h = 1 < D = 2): it sees the minimum only."""
    psis, _ = C.exact_parts(task)
    sub = RetrievalTask("min_only", 1, task.T, [task.features[1]], [task.subsets[1]], lambda z: z[:, 0], task.sampler)
    return C.heads_suffice(sub, beta, psis=[psis[1]], F0=C.LinearF0([1.0], 0.0))


def mechanism(P: dict) -> pd.DataFrame:
    """Required Lipschitz constant of F per (model, T) on max + min. Models: random one-head models moved into
    Assumption 1 (per seed and beta), the construction's min head alone, the h = D construction at the proof's
    beta, and random bounded two-head models at beta = 1 for reference."""
    eps = P["mech_eps"]
    rows = []
    for T in P["mech_T_grid"]:
        task = make_task("max_plus_min", T=T)
        beta_rule = theory.theorem21_beta(T, eps, 2.0, 2)
        models = []
        for beta in P["mech_betas"]:
            for s in P["mech_seeds"]:
                models.append((f"one head, bounded, beta={beta:g}, seed {s}", "one head",
                               C.bounded_model(1, 1, 2, 16, beta, s)))
        models.append(("one head = the construction's min head", "one head", _single_head_of_construction(task, beta_rule)))
        models.append(("h = D = 2: the Theorem 2(1) construction", "h = D construction", C.heads_suffice(task, beta_rule)))
        for s in P["mech_seeds"][:1]:
            models.append((f"two heads, bounded random, beta=1, seed {s}", "reference", C.bounded_model(1, 2, 2, 16, 1.0, s)))
        for name, kind, m in models:
            r = theory.required_lipschitz(m, task, eps, n_base=P["mech_base"], seed=P["seed"] + T)
            E = m.cfg.E
            rows.append(dict(model=name, kind=kind, T=T, E=E, **{k: r[k] for k in ("required_lipschitz",
                             "min_head_output_gap", "pairs")}, width_needed=theory.width_needed(r["required_lipschitz"], E)))
    return pd.DataFrame(rows)


def mechanism_figure(df: pd.DataFrame, scale: str, cap: float = 1e15):
    """Required Lipschitz constant against T (log-log); infinite values drawn at `cap`."""
    fig, (ax,) = new_figure(width=6.4, height=4.4)
    styles = {"one head": dict(color="tab:red", alpha=0.75), "h = D construction": dict(color="tab:blue", linewidth=2.5),
              "reference": dict(color="grey", linestyle="--")}
    markers = iter("os^vD<>ph*")
    for name, g in df.groupby("model", sort=False):
        g = g.sort_values("T")
        L = g["required_lipschitz"].replace(np.inf, cap)
        ax.plot(g["T"], L, marker=next(markers, "o"), markersize=4, label=name, **styles.get(g["kind"].iloc[0], {}))
    ax.axhline(cap, color="black", linewidth=0.6, linestyle=":")
    ax.text(df["T"].min(), cap, " infinite: head output identical", va="bottom", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("Lipschitz constant F needs: (|dH| - 2 eps) / ||du||")
    ax.set_title(f"max + min, pairs with targets >= 3 eps apart\n{scale}", fontsize=9)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def lemma4_text(l4: pd.DataFrame) -> str:
    return (f"Measured: over {int(l4['nets'].sum())} random networks the largest ratio of $\\lvert \\Delta F_j\\rvert$ to "
            f"$p\\sqrt n \\lVert \\Delta x\\rVert$ is {l4['max_ratio'].max():.3f}; the extremal network reaches "
            f"{l4['extremal_ratio'].min():.4f} to {l4['extremal_ratio'].max():.4f} of it.")


def mechanism_text(mech: pd.DataFrame) -> str:
    """Per kind of model: how the required Lipschitz constant changes from the shortest to the longest T."""
    parts = []
    for kind, g in mech.groupby("kind", sort=False):
        growth, infinite = [], 0
        for _, m in g.groupby("model", sort=False):
            m = m.sort_values("T")
            L = m["required_lipschitz"].to_numpy(dtype=float)
            if np.isinf(L).all():
                infinite += 1
            elif np.isfinite(L[0]):
                growth.append(L[-1] / L[0])
        bits = []
        if growth:
            bits.append(f"grows by x{min(growth):.3g} to x{max(growth):.3g} from T = {g['T'].min()} to T = {g['T'].max()}")
        if infinite:
            bits.append(f"{infinite} model(s) infinite at every T (head outputs identical within a pair)")
        fin = g["required_lipschitz"].replace(np.inf, np.nan)
        if fin.notna().any():
            bits.append(f"finite values between {fin.min():.3g} and {fin.max():.3g}")
        parts.append(f"{kind} ({g['model'].nunique()} model(s)): " + ", ".join(bits))
    return "Measured: " + "; ".join(parts) + "."


def evidence(P: dict, store=None) -> dict:
    """Every table this page's verdicts depend on, computed here (no training: the store is not read)."""
    table, curve = exponent_table(P), exponent_curve(P)
    dense = pd.concat([theory.exponent_table(sorted(set(curve["T"]) | set(table["T"])), [s], [n], [D])
                       for _, s, n, D in SETTINGS], ignore_index=True)
    l5, r5, lam5 = lemma5(P)
    return {"table": table, "curve": curve, "dense": dense, "experiment_scale": experiment_scale(),
            "lemma4": theory.lemma4_check(P["lemma4_widths"], P["lemma4_in_dims"], n_nets=P["lemma4_nets"], seed=P["seed"]),
            "lemma5": l5, "lemma5_r": r5, "lemma5_lambda": lam5, "mechanism": mechanism(P)}


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    return [theory.check_exponent(ev["dense"]), theory.check_lemma4(ev["lemma4"]),
            theory.check_lemma5(ev["lemma5"], ev["lemma5_r"]), theory.check_mechanism(ev["mechanism"]),
            claims.proof_only("C29", "the tightness remark: a five-layer $\\hat F$ gives $\\Omega(\\varepsilon^{-k/4})$; "
                              "Heaviside activations or huge norms break the bound",
                              "a statement about every network of a class: nothing to compute; the exponent table lists "
                              "k/4 beside k, and the memorisation page builds a five-layer ReLU readout with large weights")]


# ---- the page's blocks of text, computed (the notebook only calls these and displays them) -----------------


def header_markdown(P: dict) -> str:
    """The tier and the table of this page's parameters."""
    return f"**Tier `{P['tier']}`.** Parameters of this page:\n\n" + SPEC.table(P)


def lemma5_text(l5: pd.DataFrame, r: float, lam: float) -> str:
    """Lemma 5's constants and what the directions tested show, in numbers."""
    return (f"$\\lambda_{{\\min}}(A) = {lam:.4g}$, $r = {r:.3g}$, $L = \\lambda_{{\\min}} r / 8 = {lam * r / 8:.4g}$. "
            f"Over {len(l5)} directions: smallest ratio $|f(x) - f(y)| / (L \\lVert x - y \\rVert)$ = "
            f"{l5['min_ratio'].min():.3f} (the lemma says $\\ge 1$), smallest $f - z$ on the segments = "
            f"{l5['min_excess'].min():.3g} (the lemma says $> 0$).")


def mechanism_scale(P: dict) -> str:
    """The scale line of the mechanism figure."""
    return f"tier {P['tier']}: eps = {P['mech_eps']:g}, {P['mech_base']} base sequences per (model, T)"


def exponent_scale(P: dict) -> str:
    """The scale line of the exponent figure."""
    return f"closed form, T up to {P['plot_T_max']}"
