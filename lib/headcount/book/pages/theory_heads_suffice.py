"""Page: Theorem 2(1), h = D heads suffice (claims C5, C6): the explicit construction, run as an eq. (4) model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from headcount import claims, constructions as C, theory
from headcount.model import count_parameters
from headcount.params import Param, ParamSpec
from headcount.book.plots import new_figure
from headcount.tasks import RetrievalTask, make_task

PARAMS = [
    Param("T_grid", "int_list", "sequence lengths T", minimum=2),
    Param("beta_grid", "float_list", "temperatures beta for the error-vs-beta sweep", minimum=1e-3),
    Param("eps_grid", "float_list", "target accuracies eps (temperature needed, the proof's rule, fitted widths)",
          minimum=1e-6),
    Param("n_eval", "int", "sampled sequences per (task, T) for the sup error", minimum=1),
    Param("D", "int", "intrinsic dimension of the sum-of-max task", minimum=1),
    Param("d", "int", "token width of the sum-of-max task", minimum=1),
    Param("a_seed", "int", "seed of the a_i of the sum-of-max task", minimum=0),
    Param("seed", "int", "seed of the evaluation draws", minimum=0),
]

SPEC = ParamSpec(
    notebook="theory_heads_suffice",
    params=PARAMS,
    tiers={
        "smoke": dict(T_grid=[8, 32], beta_grid=[1.0, 100.0, 10000.0], eps_grid=[0.1, 0.01], n_eval=200, D=4, d=4,
                      a_seed=0, seed=0),
        "laptop": dict(T_grid=[8, 32, 128, 512], beta_grid=[float(10**k) for k in range(0, 7)],
                       eps_grid=[0.1, 0.03, 0.01, 0.003, 0.001], n_eval=500, D=4, d=4, a_seed=0, seed=0),
        "paper": dict(T_grid=[8, 16, 32, 64, 128, 256, 512, 1024], beta_grid=[float(10 ** (k / 4)) for k in range(0, 29)],
                      eps_grid=[0.1, 0.03, 0.01, 0.003, 0.001, 0.0003], n_eval=4000, D=4, d=4, a_seed=0, seed=0),
    },
)


# ---- tasks used on this page besides the two registered ones ------------------------------------------


def smooth_pair(T: int) -> RetrievalTask:
    """A D = 2 task with curved features, for the fitted-network part: f_1(x) = 1 - sin(pi x) (smallest at
    x = 1/2), f_2(x) = x^2, S_1 = S_2 = [T], F0(z) = z_1 + z_2, x(t) ~ U[0, 1]."""
    base = make_task("max_plus_min", T=T)
    return RetrievalTask("smooth_pair", 1, T, [lambda X: 1.0 - torch.sin(math.pi * X[..., 0]), lambda X: X[..., 0] ** 2],
                         [list(range(T))] * 2, lambda z: z[:, 0] + z[:, 1], base.sampler,
                         info={"F0_coeffs": [1.0, 1.0], "F0_bias": 0.0})


def subset_variant(T: int) -> RetrievalTask:
    """max + min with proper subsets: H = max_{t in S_1} x(t) + min_{t in S_2} x(t), S_1 = the first half of the
    positions, S_2 = the even positions (both of size T/2 >= T/4)."""
    base = make_task("max_plus_min", T=T)
    return RetrievalTask("max_min_subsets", 1, T, base.features, [list(range(T // 2)), list(range(0, T, 2))],
                         base.F0, base.sampler, info={"F0_coeffs": [-1.0, 1.0], "F0_bias": 1.0})


def tasks_for(P: dict, T: int) -> dict[str, RetrievalTask]:
    return {"max_plus_min": make_task("max_plus_min", T=T),
            "sum_of_max": make_task("sum_of_max", D=P["D"], d=P["d"], T=T, a_seed=P["a_seed"])}


def adversarial_max_plus_min(T: int, beta: float, n: int, seed: int) -> torch.Tensor:
    """Sequences in [0,1]^T that put one head at its exact worst case: a minimum a and T - 1 tokens g* above
    it (or the mirror image for the max head), g* from theory.softmin_worst_gap."""
    _, g = theory.softmin_worst_gap(T, beta)
    g = min(g, 0.5)
    gen = torch.Generator().manual_seed(seed)
    a = (1 - g) * torch.rand(n, 1, generator=gen, dtype=torch.float64)
    X = (a + g).expand(n, T).clone()
    X[:, 0] = a[:, 0]
    X[n // 2:] = 1.0 - X[n // 2:]  # second half: the max head's worst case
    return X[..., None]


def _coeffs(task: RetrievalTask) -> np.ndarray:
    return C.exact_parts(task)[1].coeffs.abs().numpy()


# ---- the construction, shown as parameters -------------------------------------------------------------


def weights_markdown(model) -> str:
    """c0, W_Q, W_K, W_V of every head and W_O of a heads_suffice model, as markdown matrices."""
    def mat(t: torch.Tensor) -> str:
        rows = [" & ".join(f"{v:g}" for v in row) for row in t.tolist()]
        return r"\begin{pmatrix}" + r" \\ ".join(rows) + r"\end{pmatrix}"

    a = model.attn
    lines = [f"$c_0^\\top = {mat(model.c0[None])}$, $\\; W_O = I_{{{a.W_O.shape[0]}}}$, $\\; \\beta$ free.", ""]
    for i in range(a.h):
        lines.append(f"- head {i + 1}: $W_{{Q,{i + 1}}} = {mat(a.W_Q[i])}$, $W_{{K,{i + 1}}} = {mat(a.W_K[i])}$, "
                     f"$W_{{V,{i + 1}}} = {mat(a.W_V[i])}$")
    return "\n".join(lines)


# ---- sweeps --------------------------------------------------------------------------------------------


def _evaluation_sets(P: dict):
    """(T, task name, task, X, y, F0 coefficients) for every T and task: n_eval random sequences per T (seed
    P["seed"] + T) and their targets, both in float64."""
    for T in P["T_grid"]:
        for name, task in tasks_for(P, T).items():
            X = task.sample(P["n_eval"], seed=P["seed"] + T)[0].double()
            yield T, name, task, X, task.target(X), _coeffs(task)


def error_sweep(P: dict) -> pd.DataFrame:
    """Per (task, T, beta, input family): the sup over sequences of each head's excess z~_i - z_i (and the
    smallest one, which must be >= 0), the model's sup error |y_hat - H|, and the bounds: eq. (15) per head,
    sum_i |c_i| (15) for the model (F0 linear with coefficients c), and for [0,1] tasks the exact worst case."""
    rows = []
    for T, name, task, X, y, c in _evaluation_sets(P):
        for beta in P["beta_grid"]:
            model = C.heads_suffice(task, beta)
            fams = {"random": (X, y)}
            if name == "max_plus_min":
                Xa = adversarial_max_plus_min(T, beta, 64, P["seed"])
                fams["adversarial"] = (Xa, task.target(Xa))
            for fam, (Xf, yf) in fams.items():
                with torch.no_grad():
                    exc = C.head_minima(model, Xf) - task.z(Xf)
                    err = (model(Xf) - yf).abs()
                b15 = theory.softmin_bound(T, 0, beta)  # S_i = [T]: no tokens off S_i
                rows.append(dict(task=name, T=T, beta=beta, family=fam, head_excess_max=float(exc.max()),
                                 head_excess_min=float(exc.min()), model_sup_error=float(err.max()),
                                 bound_head=b15, bound_model=float(c.sum() * b15),
                                 worst_case_head=theory.softmin_worst_case(T, beta) if name == "max_plus_min" else np.nan))
    return pd.DataFrame(rows)


def error_figure(df: pd.DataFrame, scale: str):
    """Model sup error against beta, one panel per task, one colour per T: measured (random: circles,
    adversarial: squares), the bound sum_i |c_i| (15) (dashed), the exact worst case (thin solid)."""
    import seaborn as sns

    tasks = list(df["task"].unique())
    fig, axes = new_figure(ncols=len(tasks), width=4.6, height=4.0)
    Ts = sorted(df["T"].unique())
    colors = dict(zip(Ts, sns.color_palette("viridis", len(Ts))))
    for ax, name in zip(axes, tasks):
        sub = df[df["task"] == name]
        for T in Ts:
            s = sub[(sub["T"] == T) & (sub["family"] == "random")].sort_values("beta")
            ax.plot(s["beta"], s["model_sup_error"].clip(lower=1e-16), "o-", color=colors[T], markersize=3, linewidth=1,
                    label=f"T={T} measured, random")
            ax.plot(s["beta"], s["bound_model"], "--", color=colors[T], linewidth=1, label=f"T={T} bound (15)")
            a = sub[(sub["T"] == T) & (sub["family"] == "adversarial")].sort_values("beta")
            if len(a):
                ax.plot(a["beta"], a["model_sup_error"], "s", color=colors[T], markersize=4, fillstyle="none",
                        label=f"T={T} measured, adversarial")
                ax.plot(a["beta"], a["worst_case_head"], "-", color=colors[T], linewidth=0.6, alpha=0.7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-9, 1e2)
        ax.set_xlabel("temperature beta")
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel("sup |y_hat - H| over sequences")
    axes[0].legend(fontsize=8, ncol=2, loc="lower left")
    fig.suptitle(f"Theorem 2(1) construction, h = D, n = 2: error against beta\n{scale}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


def _model_error(task, model, X, y) -> float:
    with torch.no_grad():
        return float((model(X) - y).abs().max())


def beta_needed_measured(task: RetrievalTask, eps: float, X: torch.Tensor, y: torch.Tensor,
                         lo: float = 1.0, hi: float = 1e10) -> float:
    """Smallest beta (to 1%) at which the construction's sup error over the given sequences is <= eps.
    The soft-min is non-increasing in beta (its derivative is minus a variance), so bisection is valid."""
    def err(b):
        return _model_error(task, C.heads_suffice(task, b), X, y)

    if err(hi) > eps:
        return float("inf")
    if err(lo) <= eps:
        return lo
    while hi / lo > 1.01:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if err(mid) <= eps else (mid, hi)
    return hi


def temperature_sweep(P: dict) -> pd.DataFrame:
    """Per (task, T, eps): the proof's beta_eps, the beta that makes the bound sum |c_i| (15) equal eps, the
    beta the exact worst case needs ([0,1] task only), the beta measured on sampled sequences, and the
    model's sup error at the proof's beta_eps on random (and adversarial) sequences."""
    rows = []
    for T, name, task, X, y, c in _evaluation_sets(P):
        L0, D = float(c.sum()), len(c)
        for eps in P["eps_grid"]:
            b_rule = theory.theorem21_beta(T, eps, L0, D)
            model = C.heads_suffice(task, b_rule)
            err_rule = _model_error(task, model, X, y)
            row = dict(task=name, T=T, eps=eps, beta_rule=b_rule, beta_bound=theory.beta_needed(T, eps / L0, "bound"),
                       beta_measured=beta_needed_measured(task, eps, X, y), error_at_rule=err_rule,
                       beta_worst_case=np.nan, error_at_rule_adversarial=np.nan)
            if name == "max_plus_min":
                # one head errs at a time and the two enter with opposite signs, so the model's worst case
                # is one head's worst case
                row["beta_worst_case"] = theory.beta_needed(T, eps, "worst case")
                Xa = adversarial_max_plus_min(T, b_rule, 64, P["seed"])
                row["error_at_rule_adversarial"] = _model_error(task, model, Xa, task.target(Xa))
            rows.append(row)
    return pd.DataFrame(rows)


def temperature_figure(df: pd.DataFrame, eps: float, scale: str):
    """beta needed against T at one eps (log-log): the proof's rule, the bound, the exact worst case and
    the measured typical value."""
    fig, axes = new_figure(ncols=2, width=4.6, height=3.9)
    for ax, name in zip(axes, ("max_plus_min", "sum_of_max")):
        s = df[(df["task"] == name) & (df["eps"] == eps)].sort_values("T")
        ax.plot(s["T"], s["beta_rule"], "o-", color="black", label="proof's rule 4 T L0 D / eps")
        ax.plot(s["T"], s["beta_bound"], "s--", color="tab:blue", label="bound (15) = eps")
        if s["beta_worst_case"].notna().any():
            ax.plot(s["T"], s["beta_worst_case"], "^-", color="tab:red", label="exact worst case over [0,1]^T")
        ax.plot(s["T"], s["beta_measured"], "d:", color="tab:green", label="measured on sampled sequences")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_title(f"{name}, eps = {eps:g}", fontsize=10)
    axes[0].set_ylabel("temperature beta needed")
    axes[0].legend(fontsize=8)
    fig.suptitle(scale, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # keep the panel titles clear of the figure title
    return fig


def parameter_table(P: dict) -> pd.DataFrame:
    """Per (task, T): M = parameters of P_phi and F (the paper's count), attention entries, the size of the
    fixed position table r (not a parameter; all zeros here), and the proof's beta at the smallest eps."""
    rows = []
    eps = min(P["eps_grid"])
    for T in P["T_grid"]:
        for name, task in tasks_for(P, T).items():
            m = C.heads_suffice(task, 1.0)
            c = _coeffs(task)
            rows.append(dict(task=name, T=T, h=m.cfg.h, n=m.cfg.n, E=m.cfg.E, M_encoder_plus_F=count_parameters(m, "ffn"),
                             attention_entries=sum(p.numel() for p in m.attn.parameters()) + m.c0.numel(),
                             position_table_r=int(m.encoder.r.numel()), r_nonzero=int((m.encoder.r != 0).sum()),
                             **{f"beta_rule_eps={eps:g}": theory.theorem21_beta(T, eps, float(c.sum()), len(c))}))
    return pd.DataFrame(rows)


def fitted_sweep(P: dict, K_max: int = 4096) -> pd.DataFrame:
    """Fitted features on the smooth_pair task: for each eps, the smallest width K of the ReLU interpolants with
    sum_i |c_i| sup|Psi_i - f_i| <= eps/2 (sup on a fine grid of [0, 1], the whole token domain), then for every
    T the model with beta making sum_i |c_i| (T-1)/(e beta) = eps/2, its M and its sup error on samples."""
    grid = torch.linspace(0, 1, 20001, dtype=torch.float64)[:, None]
    rows = []
    for eps in P["eps_grid"]:
        t0 = smooth_pair(8)
        c = _coeffs(t0)

        def feat_err(K):
            psis, _ = C.fitted_parts(t0, K)
            with torch.no_grad():
                return float(sum(ci * (psi(grid) - f(grid)).abs().max() for ci, psi, f in zip(c, psis, t0.features)))

        lo, hi = 1, 2
        while feat_err(hi) > eps / 2:
            lo, hi = hi, hi * 2
            if hi > K_max:
                raise ValueError(f"no width up to {K_max} reaches eps/2 = {eps / 2:g}")
        while hi - lo > 1:  # the interpolation error falls with K (up to parity wiggles; checked at the end)
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if feat_err(mid) <= eps / 2 else (mid, hi)
        K = hi if feat_err(lo) > eps / 2 else lo
        for T in P["T_grid"]:
            task = smooth_pair(T)
            psis, F0 = C.fitted_parts(task, K)
            beta = theory.beta_needed(T, eps / 2 / float(c.sum()), "bound")
            model = C.heads_suffice(task, beta, psis, F0)
            X = task.sample(P["n_eval"], seed=P["seed"] + T)[0].double()
            rows.append(dict(eps=eps, T=T, K=K, feature_error=feat_err(K), beta=beta, M=count_parameters(model, "ffn"),
                             sup_error=_model_error(task, model, X, task.target(X))))
    return pd.DataFrame(rows)


def fitted_figure(df: pd.DataFrame, scale: str):
    fig, (ax,) = new_figure(width=5.4, height=3.9)
    groups = list(df.groupby("T"))
    for k, (T, s) in enumerate(groups):  # nested hollow markers: identical lines stay visible
        s = s.sort_values("eps")
        ax.plot(1 / s["eps"], s["M"], marker="o", markersize=4 + 3 * (len(groups) - 1 - k), fillstyle="none",
                linewidth=1, label=f"T = {T}")
    e = np.array(sorted(df["eps"].unique()))
    ref = df["M"].max() * np.sqrt(e.min() / e)
    ax.plot(1 / e, ref, "k:", linewidth=1, label="slope 1/2 (gamma = 1/2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("1 / eps")
    ax.set_ylabel("parameters M of P_phi and F")
    ax.set_title(f"Fitted features: M needed for accuracy eps, per T\n{scale}", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def subset_offsets(P: dict) -> pd.DataFrame:
    """Proper subsets S_i: head excess z~_i - z_i against eq. (15) with the paper's r = -1 off S_i and with
    r = -2, on random sequences and on the adversarial one (x = 0 on S_1, x = 1 off S_1), at the largest
    beta of the grid and every T. Each row also records whether its inputs meet the hypotheses of
    Theorem 2(1) as stated: tokens in [0, 1]^d, |S_i| >= T/4, and Psi_i = f_i with values in [0, 1]."""
    beta = max(P["beta_grid"])
    rows = []
    for T in P["T_grid"]:
        task = subset_variant(T)
        X, _ = task.sample(P["n_eval"], seed=P["seed"] + T)
        adv = torch.ones(1, T, 1, dtype=torch.float64)
        adv[0, task.subsets[0]] = 0.0
        psis, _ = C.exact_parts(task)
        for offset in (1.0, 2.0):
            model = C.heads_suffice(task, beta, offset=offset)
            for fam, Xf in (("random", X.double()), ("adversarial", adv)):
                exc = C.head_minima(model, Xf) - task.z(Xf)
                for i, S in enumerate(task.subsets):
                    lo, hi = theory.softmin_interval(len(S), T, beta, offset)
                    paper = theory.softmin_bound(len(S), T, beta)
                    e = exc[:, i]
                    with torch.no_grad():
                        f, psi = task.features[i](Xf), psis[i](Xf)
                    rows.append(dict(T=T, beta=beta, offset=offset, family=fam, head=i + 1, S_size=len(S),
                                     excess_min=float(e.min()), excess_max=float(e.max()), bound_15=paper,
                                     within_15=bool(e.min() >= 0 and e.max() <= paper),
                                     interval_lo=lo, interval_hi=hi,
                                     within_interval=bool(e.min() >= lo - 1e-12 and e.max() <= hi + 1e-12),
                                     tokens_in_unit_cube=bool(((Xf >= 0) & (Xf <= 1)).all()),
                                     S_at_least_T_over_4=bool(4 * len(S) >= T),
                                     psi_is_f_in_unit=bool(torch.equal(psi, f) and (f >= 0).all() and (f <= 1).all())))
    return pd.DataFrame(rows)


HYPOTHESES = ("tokens_in_unit_cube", "S_at_least_T_over_4", "psi_is_f_in_unit")


def meets_hypotheses(sub: pd.DataFrame) -> pd.Series:
    """Per row of `subset_offsets`: whether its inputs meet every hypothesis of Theorem 2(1) (HYPOTHESES)."""
    return sub[list(HYPOTHESES)].all(axis=1)


# ---- evidence and verdicts -----------------------------------------------------------------------------


def evidence(P: dict, store=None) -> dict:
    """Every table this page's verdicts depend on, computed from the constructions (no training: the store is
    not read)."""
    return {"error": error_sweep(P), "subsets": subset_offsets(P), "temperature": temperature_sweep(P),
            "params": parameter_table(P), "fitted": fitted_sweep(P)}


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    return [check_bound(ev["error"], ev["subsets"]), check_offset_repair(ev["subsets"]),
            check_construction(ev["error"], ev["temperature"], ev["params"], ev["fitted"])]


C5_TEST = ("eq. (15) on the heads of the construction: all positions ($S_i = [T]$), both tasks, random and worst-case "
           "inputs; proper subsets with the paper's offset $r_i = -1$, random inputs and the adversarial input "
           "($x = 0$ on $S_1$, $x = 1$ off it)")


def check_bound(err: pd.DataFrame, sub: pd.DataFrame) -> claims.Verdict:
    """C5, core: eq. (15) (0 <= z~_i - z_i <= bound) holds for every head, sequence, T and beta, in three
    settings with the paper's offset r = -1: S_i = [T] (both tasks, random and adversarial inputs), proper
    subsets on random inputs, proper subsets on the adversarial input. The adversarial input counts only if
    it meets the theorem's hypotheses (`meets_hypotheses`); otherwise that check gives no evidence."""
    ratio = float((err["head_excess_max"] / err["bound_head"]).max())
    low = float(err["head_excess_min"].min())
    a = bool(low >= -1e-12 and (err["head_excess_max"] <= err["bound_head"] * (1 + 1e-9)).all())
    p1 = sub[sub["offset"] == 1.0]
    rnd, adv = p1[p1["family"] == "random"], p1[p1["family"] == "adversarial"]
    b = bool(rnd["within_15"].all())
    checks = [claims.core("all positions", a, f"{len(err)} (task, T, beta, inputs) cases; smallest excess {low:.1e}, "
                          f"largest ratio to the bound {ratio:.3f}", max_ratio_to_bound=ratio),
              claims.core("proper subsets, random inputs", b, f"{len(rnd)} (T, head) cases inside (15): "
                          f"{int(rnd['within_15'].sum())}")]
    ok_h = meets_hypotheses(adv)
    if not ok_h.all():
        checks.append(claims.core("proper subsets, adversarial input", None, "the adversarial input does not meet the "
                                  "theorem's hypotheses: " + ", ".join(h for h in HYPOTHESES if not adv[h].all())))
    else:
        bad = adv[~adv["within_15"]]
        if len(bad):
            w = bad.loc[bad[["excess_min", "excess_max"]].abs().max(axis=1).idxmax()]
            d = (f"meets the hypotheses (tokens in [0, 1], |S_i| >= T/4, Psi_i = f_i in [0, 1]); outside (15) in "
                 f"{len(bad)} of {len(adv)} (T, head) cases, e.g. head {int(w['head'])} at T = {int(w['T'])}, beta = "
                 f"{w['beta']:g}: excess in [{w['excess_min']:.3f}, {w['excess_max']:.3f}] against [0, {w['bound_15']:.2g}]")
        else:
            d = f"meets the hypotheses; inside (15) in all {len(adv)} (T, head) cases"
        checks.append(claims.core("proper subsets, adversarial input", bool(adv["within_15"].all()), d,
                                  min_excess=float(adv["excess_min"].min())))
    return claims.judge("C5", C5_TEST, checks)


def check_offset_repair(sub: pd.DataFrame) -> claims.Verdict:
    """C5b (our repair), core: with r = -2 off S_i, the two-sided interval of theory.softmin_interval holds on
    random and on adversarial inputs."""
    p2 = sub[sub["offset"] == 2.0]
    checks = []
    for fam in ("random", "adversarial"):
        g = p2[p2["family"] == fam]
        m = float(g[["excess_min", "excess_max"]].abs().max().max())
        checks.append(claims.core(f"{fam} inputs inside", bool(g["within_interval"].all()),
                                  f"{len(g)} (T, head) cases inside: {int(g['within_interval'].sum())}; largest abs(excess) "
                                  f"{m:.2g}", max_abs_excess=m))
    return claims.judge("C5b", "the two-sided interval with offset $r_i = -2$ off $S_i$, on the proper-subset task, "
                        "random inputs and the adversarial input, at the largest $\\beta$", checks)


def check_construction(err: pd.DataFrame, temp: pd.DataFrame, params: pd.DataFrame, fitted: pd.DataFrame) -> claims.Verdict:
    """C6. Core: (a) at the proof's beta_eps the model's sup error is <= eps for every task, T, eps (random and
    adversarial inputs); (c) M (P_phi + F) is the same for every T, exact and fitted features; (d) the fitted
    width K needed for eps does not depend on T, and the fitted model reaches eps at every T. Supporting:
    (b) the error falls with beta, to below 1% of its value at the smallest beta."""
    worst = float(pd.concat([temp["error_at_rule"], temp["error_at_rule_adversarial"].fillna(0)]).div(
        pd.concat([temp["eps"], temp["eps"]])).max())
    a = bool(worst <= 1)
    b_flags, drops = [], []
    for _, g in err[err["family"] == "random"].groupby(["task", "T"]):
        e = g.sort_values("beta")["model_sup_error"].to_numpy()
        b_flags.append(bool((np.diff(e) <= 1e-12).all() and e[-1] <= 0.01 * e[0]))
        drops.append(float(e[-1] / e[0]) if e[0] > 0 else 0.0)
    c = bool(params.groupby("task")["M_encoder_plus_F"].nunique().eq(1).all()
             and fitted.groupby("eps")["M"].nunique().eq(1).all())
    d = bool(fitted.groupby("eps")["K"].nunique().eq(1).all() and (fitted["sup_error"] <= fitted["eps"]).all())
    Ms = ", ".join(f"{t}: M = {', '.join(map(str, sorted(g['M_encoder_plus_F'].unique())))}" for t, g in params.groupby("task"))
    Ks = ", ".join(f"{', '.join(map(str, sorted(g.unique())))} at eps={e:g}" for e, g in fitted.groupby("eps")["K"])
    checks = [claims.core("error <= eps at the proof's beta", a, f"{len(temp)} (task, T, eps) cases, largest error/eps "
                          f"{worst:.2g}", max_error_over_eps=worst),
              claims.core("M independent of T", c, Ms),
              claims.core("fitted width independent of T, eps reached", d,
                          f"K = {Ks}; largest fitted error/eps {(fitted['sup_error'] / fitted['eps']).max():.2g}"),
              claims.supporting("error falls with beta", all(b_flags), f"largest error at the largest beta over the "
                                f"error at the smallest, over (task, T): {max(drops):.2g} (must be <= 0.01, non-increasing)",
                                max_drop_ratio=max(drops))]
    return claims.judge("C6", "the hand-set $h = D$ model at the proof's temperature on two tasks, its parameter count "
                        "per $T$, and fitted features of the smallest width reaching $\\varepsilon$", checks)


# ---- sentences of the page, computed -------------------------------------------------------------------


def _loglog_slope(x, y) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = (x > 0) & (y > 0) & np.isfinite(y)
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0]) if keep.sum() >= 2 else float("nan")


def error_text(err: pd.DataFrame) -> str:
    """Per task: the log-log slope of the random-input sup error in beta (over the betas where it is above
    1e-12) and whether it stays under the bound at every (T, beta), and for max + min whether the adversarial
    family reaches the exact worst case."""
    parts = []
    for name, g in err.groupby("task", sort=False):
        r = g[(g["family"] == "random") & (g["model_sup_error"] > 1e-12)]
        slopes = [_loglog_slope(s["beta"], s["model_sup_error"]) for _, s in r.groupby("T")]
        under = bool((g["model_sup_error"] <= g["bound_model"] * (1 + 1e-9)).all())
        txt = (f"{name}: slope of log error in log beta between {min(slopes):.2f} and {max(slopes):.2f} over T; "
               f"{'under' if under else 'not always under'} the bound at every (T, beta)")
        a = g[g["family"] == "adversarial"]
        if len(a):
            ratio = (a["model_sup_error"] / a["worst_case_head"]).clip(upper=10)
            txt += f"; the adversarial family reaches {ratio.min():.3f} to {ratio.max():.3f} of the exact worst case"
        parts.append(txt)
    return "Measured: " + "; ".join(parts) + "."


def temperature_text(temp: pd.DataFrame, eps: float) -> str:
    """At one eps: the log-log slope in T of each temperature; over all eps: whether the error at the proof's
    temperature is <= eps everywhere."""
    s = temp[temp["eps"] == eps]
    parts = []
    for name, g in s.groupby("task", sort=False):
        cols = [("proof's rule", "beta_rule"), ("bound (15)", "beta_bound"), ("exact worst case", "beta_worst_case"),
                ("measured", "beta_measured")]
        sl = [f"{lab} {_loglog_slope(g['T'], g[c]):.2f}" for lab, c in cols if g[c].notna().all()]
        parts.append(f"{name}: " + ", ".join(sl))
    worst = float(pd.concat([temp["error_at_rule"] / temp["eps"],
                             temp["error_at_rule_adversarial"].fillna(0) / temp["eps"]]).max())
    return (f"Log-log slopes of the temperature in $T$ at $\\varepsilon = {eps:g}$ (1: linear in $T$): " + "; ".join(parts)
            + f". At the proof's $\\beta_\\varepsilon$ the largest error over $\\varepsilon$, over all {len(temp)} "
            f"(task, $T$, $\\varepsilon$) cases, is {worst:.2g}" + (" (below 1 in every case)." if worst <= 1 else
                                                                   " (above 1 in some case)."))


def params_text(params: pd.DataFrame) -> str:
    parts = []
    for name, g in params.groupby("task", sort=False):
        Ms = sorted(g["M_encoder_plus_F"].unique())
        parts.append(f"{name}: M = {', '.join(map(str, Ms))} over T = {', '.join(map(str, g['T']))}, non-zero entries "
                     f"of r: {int(g['r_nonzero'].sum())}")
    return "Measured: " + "; ".join(parts) + "."


def fitted_text(fitted: pd.DataFrame) -> str:
    Ks = fitted.groupby("eps")["K"].nunique()
    per = fitted.groupby("eps")["M"].first()
    sl = _loglog_slope(1 / per.index.to_numpy(), per.to_numpy())
    ok = bool((fitted["sup_error"] <= fitted["eps"]).all())
    return (f"Measured: the width K is {'the same' if (Ks == 1).all() else 'not the same'} at every T for each eps; "
            f"log-log slope of M in 1/eps {sl:.2f}; sup error {'at most' if ok else 'above'} eps "
            f"{'at every' if ok else 'at some'} point (largest error/eps {(fitted['sup_error'] / fitted['eps']).max():.2g}).")


def subset_text(sub: pd.DataFrame) -> str:
    """What the proper-subset table shows: the adversarial input's excess with offset 1, whether it meets the
    theorem's hypotheses, and the random inputs and offset 2 for contrast."""
    p1, p2 = sub[sub["offset"] == 1.0], sub[sub["offset"] == 2.0]
    adv1, rnd1 = p1[p1["family"] == "adversarial"], p1[p1["family"] == "random"]
    meets = bool(meets_hypotheses(adv1).all())
    h1 = adv1[adv1["head"] == 1]
    return (f"Measured with offset $-1$ at $\\beta = {sub['beta'].iloc[0]:g}$: on the adversarial input head 1's excess "
            f"$\\tilde z_1 - \\bar z_1$ is {h1['excess_min'].min():.3f} to {h1['excess_max'].max():.3f} over T, and (15) "
            f"holds in {int(adv1['within_15'].sum())} of {len(adv1)} (T, head) cases; on random inputs it holds in "
            f"{int(rnd1['within_15'].sum())} of {len(rnd1)}. The adversarial input "
            + ("meets every hypothesis of Theorem 2(1) as stated (tokens in $[0,1]$, $\\lvert S_i\\rvert \\ge T/4$, "
               "$\\Psi_i = f_i$ with values in $[0,1]$), so it is a counterexample to (15) as stated, not an input "
               "outside its scope." if meets else "does not meet every hypothesis of Theorem 2(1) as stated, so it is "
               "outside the scope of (15).")
            + f" With offset $-2$ the two-sided interval holds in {int(p2['within_interval'].sum())} of {len(p2)} cases.")


def verdict_text(vs: list[claims.Verdict]) -> str:
    """One sentence per verdict of this page, from the verdicts themselves."""
    by = {v.claim_id: v for v in vs}
    out = []
    if "C5" in by:
        v = by["C5"]
        failed = [c["name"] for c in v.checks if c["role"] == claims.CORE and c["passed"] is False]
        out.append(f"C5 (eq. (15) as the paper states it) reads *{v.shown}*"
                   + (f": its core fails on {', '.join(failed)}." if failed else "."))
    if "C5b" in by:
        out.append(f"C5b (our two-sided repair with offset $-2$) reads *{by['C5b'].shown}*.")
    if "C6" in by:
        out.append(f"C6 (the construction as a whole, on tasks with $S_i = [T]$, where the offset plays no role) reads "
                   f"*{by['C6'].shown}*.")
    return " ".join(out)


# ---- the page's blocks of text, computed (the notebook only calls these and displays them) -----------------


def header_markdown(P: dict) -> str:
    """The tier and the table of this page's parameters."""
    return f"**Tier `{P['tier']}`.** Parameters of this page:\n\n" + SPEC.table(P)


def scale_text(P: dict) -> str:
    """The scale line of this page's figures."""
    return (f"tier {P['tier']}: T in {P['T_grid']}, {len(P['beta_grid'])} temperatures, "
            f"{P['n_eval']} sampled sequences per (task, T)")


def error_shown(err: pd.DataFrame, P: dict) -> pd.DataFrame:
    """The rows of the error table printed on the page: the smallest, the middle and the largest temperature of
    the grid, with the measured excesses and errors beside their bounds."""
    betas = sorted(P["beta_grid"])
    show = err[err["beta"].isin([betas[0], betas[len(betas) // 2], betas[-1]])]
    return show[["task", "T", "beta", "family", "head_excess_min", "head_excess_max", "bound_head",
                 "model_sup_error", "bound_model"]]


def eps_shown(P: dict) -> float:
    """The accuracy eps of the temperature figure: the middle value of the grid."""
    return sorted(P["eps_grid"])[len(P["eps_grid"]) // 2]


def subset_shown(sub: pd.DataFrame) -> pd.DataFrame:
    """The columns of the subset-offset table printed on the page: the excesses beside the bounds, and which
    hypotheses of the theorem each case meets."""
    return sub[["T", "offset", "family", "head", "S_size", "excess_min", "excess_max", "bound_15", "within_15",
                "interval_lo", "interval_hi", "within_interval", *HYPOTHESES]]
