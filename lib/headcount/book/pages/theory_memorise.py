"""Page: Theorem 2(3), one wide head memorises the sequence (claims C11-C13)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from headcount import claims, constructions as C, theory
from headcount.model import count_parameters
from headcount.params import Param, ParamSpec
from headcount.book.plots import new_figure
from headcount.tasks import make_task

PARAMS = [
    Param("T_grid", "int_list", "sequence lengths T of the max + min task", minimum=2),
    Param("eps_grid", "float_list", "target accuracies eps of the whole construction", minimum=1e-4),
    Param("lemma9_T", "int_list", "input lengths T of the stand-alone Lemma 9 check", minimum=1),
    Param("lemma9_eps", "float_list", "grid accuracies eps of the stand-alone Lemma 9 check", minimum=1e-4),
    Param("n_eval", "int", "random sequences per (T, eps), besides the adversarial ones", minimum=1),
    Param("seed", "int", "seed of the evaluation draws", minimum=0),
]

SPEC = ParamSpec(
    notebook="theory_memorise",
    params=PARAMS,
    tiers={
        "smoke": dict(T_grid=[4, 16], eps_grid=[0.2, 0.05], lemma9_T=[2, 8], lemma9_eps=[0.1], n_eval=200, seed=0),
        "laptop": dict(T_grid=[4, 8, 16, 32, 64], eps_grid=[0.2, 0.1, 0.05, 0.02], lemma9_T=[1, 2, 5, 16, 64],
                       lemma9_eps=[0.1, 0.03, 0.01], n_eval=300, seed=0),
        "paper": dict(T_grid=[4, 8, 16, 32, 64, 128, 256], eps_grid=[0.2, 0.1, 0.05, 0.02, 0.01, 0.005],
                      lemma9_T=[1, 2, 5, 16, 64, 256], lemma9_eps=[0.1, 0.03, 0.01, 0.003], n_eval=5000, seed=0),
    },
)


def grid_inputs(T: int, n: int, count: int, seed: int) -> torch.Tensor:
    """Inputs in [0,1]^T that sit on and just beside the levels i/n where Lemma 9's units switch on:
    all tokens at one level plus 0, +-1e-9 or 1/(n T) (the last makes the top partial sum exactly 1/n, the
    worst case: error (1 - 1/T)/n), one token at a level and the rest below it, and random level-valued
    sequences."""
    gen = torch.Generator().manual_seed(seed)
    levels = torch.arange(n + 1, dtype=torch.float64) / n
    out = []
    for shift in (0.0, 1e-9, -1e-9, 1.0 / (n * T)):
        out.append((levels[:, None] + shift).clamp(0, 1).expand(n + 1, T))
    one = torch.rand(n + 1, T, generator=gen, dtype=torch.float64) * levels[:, None]
    one[:, 0] = levels
    out.append(one)
    pick = torch.randint(0, n + 1, (count, T), generator=gen)
    out.append(levels[pick])
    return torch.cat(out)


def attention_check(P: dict) -> pd.DataFrame:
    """Per T: how far the attention weights are from 1/T and the head output from (1/T)(x(1..T))."""
    rows = []
    for T in P["T_grid"]:
        task = make_task("max_plus_min", T=T)
        model = C.memorising(task, max(P["eps_grid"]))
        X = task.sample(P["n_eval"], seed=P["seed"] + T)[0].double()
        per = T * model.cfg.E  # the encoder's output holds T x E numbers per sequence
        att = C.in_chunks(model.attention_weights, X, per)
        u = C.in_chunks(model.pre_readout, X, per)
        rows.append(dict(T=T, E=model.cfg.E, max_weight_dev=float((att - 1.0 / T).abs().max()),
                         max_output_dev=float((u - X.reshape(len(X), -1) * (1.0 / T)).abs().max())))
    return pd.DataFrame(rows)


def lemma9_check(P: dict) -> pd.DataFrame:
    """Per (T, eps): the error range of Lemma 9's network over random and level-straddling inputs, its widths."""
    rows = []
    for T in P["lemma9_T"]:
        for eps in P["lemma9_eps"]:
            net = C.lemma9_max_net(T, eps)
            n = math.ceil(1.0 / eps - 1e-12)
            gen = torch.Generator().manual_seed(P["seed"] + T)
            Y = torch.cat([torch.rand(P["n_eval"], T, generator=gen, dtype=torch.float64), grid_inputs(T, n, 200, P["seed"])])
            err = net(Y)[:, 0] - Y.max(dim=1).values
            w = net.widths
            rows.append(dict(T=T, eps=eps, n_grid=n, inputs=len(Y), err_min=float(err.min()), err_max=float(err.max()),
                             width1=w[1], width2=w[2], width_bound=2 * T * math.ceil(1 / eps - 1e-12)))
    return pd.DataFrame(rows)


def construction_sweep(P: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (T, eps): the whole Theorem 2(3) model's sup error on random and level-straddling sequences, its
    parameter count (nonzero and dense), widths; and the Lemma 8 comparison of the merged readout with the
    three parts applied one after another."""
    rows, merge_rows = [], []
    for T in P["T_grid"]:
        task = make_task("max_plus_min", T=T)
        X = task.sample(P["n_eval"], seed=P["seed"] + T)[0].double()
        for eps in P["eps_grid"]:
            model = C.memorising(task, eps)
            n = math.ceil(2.0 / eps - 1e-12)  # L0 = 2 for max + min
            Xa = grid_inputs(T, n, 200, P["seed"])[..., None]
            Xall = torch.cat([X, Xa])
            per = T * model.cfg.E
            err = (C.in_chunks(model, Xall, per) - task.target(Xall)).abs()
            u = C.in_chunks(model.pre_readout, Xall, per)
            _, (F1, F2, F3) = C.memorising_readout(task, eps / 2)
            composed = F3(F2(F1(u)))
            merged = model.readout.net(u)
            rows.append(dict(T=T, eps=eps, n_grid=n, sup_error=float(err.max()), M=C.memorising_parameter_count(model),
                             M_dense=C.memorising_parameter_count(model, "dense"),
                             M_parts=F1.count() + F2.count() + F3.count(),
                             widths=" / ".join(map(str, model.readout.net.widths)), E=model.cfg.E))
            merge_rows.append(dict(T=T, eps=eps, n_affine=model.readout.net.n_affine,
                                   parts=f"{F1.n_affine} + {F2.n_affine} + {F3.n_affine}",
                                   max_abs_diff=float((composed - merged).abs().max()), scale=float(composed.abs().max())))
    return pd.DataFrame(rows), pd.DataFrame(merge_rows)


def heads_suffice_count(T: int) -> int:
    """M of the Theorem 2(1) model on the same task (exact features), for comparison."""
    return count_parameters(C.heads_suffice(make_task("max_plus_min", T=T), 1.0), "ffn")


def count_figure(df: pd.DataFrame, scale: str):
    """M against 1/eps (one line per T) and against T (one line per eps), with the h = D count for comparison."""
    import seaborn as sns

    fig, axes = new_figure(ncols=2, width=4.6, height=3.9)
    Ts, es = sorted(df["T"].unique()), sorted(df["eps"].unique())
    for T, c in zip(Ts, sns.color_palette("viridis", len(Ts))):
        s = df[df["T"] == T].sort_values("eps")
        axes[0].plot(1 / s["eps"], s["M"], "o-", color=c, markersize=4, label=f"T = {T}")
    for e, c in zip(es, sns.color_palette("magma", len(es) + 1)):
        s = df[df["eps"] == e].sort_values("T")
        axes[1].plot(s["T"], s["M"], "s-", color=c, markersize=4, label=f"eps = {e:g}")
    m21 = heads_suffice_count(int(Ts[0]))
    for ax, ticks in zip(axes, ([1 / e for e in es], Ts)):
        ax.axhline(m21, color="tab:blue", linestyle="--", linewidth=1.2, label=f"h = D = 2 construction: M = {m21}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.legend(fontsize=8)
    axes[0].set_xlabel("1 / eps")
    axes[0].set_ylabel("parameters M (non-zero weights + biases)")
    axes[1].set_xlabel("sequence length T")
    fig.suptitle(f"Theorem 2(3): one head of width T, 5-layer ReLU readout, max + min\n{scale}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


def evidence(P: dict, store=None) -> dict:
    """Every table this page's verdicts depend on, computed from the constructions (no training: the store is
    not read)."""
    cons, merge = construction_sweep(P)
    return {"attention": attention_check(P), "lemma9": lemma9_check(P), "construction": cons, "merge": merge}


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    return [theory.check_memorising_attention(ev["attention"]), theory.check_memorising(ev["construction"]),
            theory.check_lemma9(ev["lemma9"]), theory.check_lemma8(ev["merge"])]


def attention_text(att: pd.DataFrame) -> str:
    return (f"Measured over T = {', '.join(map(str, att['T']))}: largest deviation of an attention weight from 1/T "
            f"{att['max_weight_dev'].max():.1e}, of the head output from x/T {att['max_output_dev'].max():.1e}.")


def lemma9_text(l9: pd.DataFrame) -> str:
    """The largest error of Lemma 9's network per T, in grid steps 1/n, beside the worst case (1 - 1/T)."""
    g = l9.assign(steps=l9["err_max"] * l9["n_grid"]).groupby("T")["steps"].max()
    return ("Measured: largest error in grid steps $1/n$, per $T$ (the worst case $1 - 1/T$ in brackets): "
            + ", ".join(f"T = {T}: {v:.4f} ({1 - 1 / T:.4f})" for T, v in g.items())
            + f"; smallest error {l9['err_min'].min():.1e}.")


def count_text(cons: pd.DataFrame) -> str:
    """Log-log slopes of M in 1/eps (per T) and in T (per eps), and the h = D count for comparison."""
    s_eps = [float(np.polyfit(np.log(1 / g["eps"]), np.log(g["M"]), 1)[0]) for _, g in cons.groupby("T") if g["eps"].nunique() > 1]
    s_T = [float(np.polyfit(np.log(g["T"]), np.log(g["M"]), 1)[0]) for _, g in cons.groupby("eps") if g["T"].nunique() > 1]
    m21 = sorted({heads_suffice_count(int(T)) for T in cons["T"].unique()})
    txt = "Measured: log-log slope of $M$ "
    if s_eps:
        txt += f"in $1/\\varepsilon$ between {min(s_eps):.2f} and {max(s_eps):.2f} (per $T$)"
    if s_T:
        txt += f"{', ' if s_eps else ''}in $T$ between {min(s_T):.2f} and {max(s_T):.2f} (per $\\varepsilon$)"
    return (txt + f"; largest error over $\\varepsilon$ {(cons['sup_error'] / cons['eps']).max():.3f}. The $h = D = 2$ "
            f"construction has M = {', '.join(map(str, m21))} at every T of the grid (its T-dependence sits in the temperature).")


# ---- the page's blocks of text, computed (the notebook only calls these and displays them) -----------------


def header_markdown(P: dict) -> str:
    """The tier and the table of this page's parameters."""
    return f"**Tier `{P['tier']}`.** Parameters of this page:\n\n" + SPEC.table(P)


def count_scale(P: dict) -> str:
    """The scale line of the head-count figure."""
    return f"tier {P['tier']}: T in {P['T_grid']}, eps in {P['eps_grid']}"
