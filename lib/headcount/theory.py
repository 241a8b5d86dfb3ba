"""Closed forms and numerical checks behind the theory chapter (paper Sections 3-4, Appendix A).

Everything here is a function of the paper's symbols and returns numbers or tidy DataFrames; the
claim checks at the bottom turn those numbers into verdicts and must be able to fail (the tests feed
them contradicting numbers). Symbols: T sequence length, s = h < D heads, n per-head width, D intrinsic
dimension, beta softmax temperature, eps target accuracy, m = T/4 subset size in Lemma 2, q the
sharpness of Lemma 3's selector.

Contents
- Theorem 2(2): the lower-bound exponent k(T, s, n, D), where it is vacuous, tables of it.
- Corollary 1: the arithmetic k(T, D1, 2, D2) > max(D1, D2) whenever D1^2 + D2^2 <= T/50.
- Lemma 2: subset-minimum identities by brute force over all m-subsets.
- Lemma 3: the smooth selector and its exact worst-case error.
- Lemma 1: a one-dimensional run of the bump-and-shift repair of a continuous feature.
- Theorem 2(1): the soft-min bound (15), its exact worst case, and the temperatures each implies.
- Lemma 4 and Lemma 5: the Lipschitz inequalities, on random networks and a concrete feature.
- The lower-bound mechanism: the Lipschitz constant a feed-forward block would need, found by a pair search.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np
import pandas as pd
import torch

from headcount import claims

# ----------------------------------------------------------------------------------------------------
# Theorem 2(2): the exponent of the lower bound
# ----------------------------------------------------------------------------------------------------


def lower_bound_exponent(T, s, n, D):
    """k = (T/4 - s - D + 1) / ((n + 1) s + 1) - 1: with h = s < D heads of width n, the parameter count
    needed for accuracy eps is Omega(1/eps^k). Works elementwise on arrays."""
    T, s, n, D = (np.asarray(v, dtype=float) for v in (T, s, n, D))
    k = (T / 4 - s - D + 1) / ((n + 1) * s + 1) - 1
    return float(k) if k.ndim == 0 else k


def vacuity_threshold(s, n, D):
    """4((n + 2) s + D): the bound says nothing (k <= 0) for every T at or below this length."""
    return 4 * ((n + 2) * s + D)


def is_vacuous(T, s, n, D) -> bool:
    """True when k(T, s, n, D) <= 0, i.e. T <= 4((n + 2) s + D): Omega(1/eps^k) then allows O(1) parameters."""
    return bool(lower_bound_exponent(T, s, n, D) <= 0)


def exponent_table(T_grid, s_grid, n_grid, D_grid) -> pd.DataFrame:
    """One row per (T, s, n, D) with s < D: k, the threshold 4((n+2)s+D), whether k is vacuous, and k/4
    (the exponent the paper's tightness remark gives for a five-layer feed-forward block)."""
    rows = []
    for T, s, n, D in itertools.product(T_grid, s_grid, n_grid, D_grid):
        if s >= D:
            continue
        k = lower_bound_exponent(T, s, n, D)
        rows.append(dict(T=T, s=s, n=n, D=D, k=k, threshold=vacuity_threshold(s, n, D), vacuous=k <= 0,
                         k_five_layer=k / 4))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------
# Corollary 1: uniqueness of the intrinsic dimension
# ----------------------------------------------------------------------------------------------------


def corollary1_margins(T_max: int) -> pd.DataFrame:
    """For every pair D1 < D2 with 50 (D1^2 + D2^2) <= T_max, the margin k(T, s=D1, n=2, D=D2) - max(D1, D2)
    minimised over every integer T in [50 (D1^2 + D2^2), T_max] (the T allowed by the corollary's
    condition), the T where that minimum sits, and the smallest T at which k > max(D1, D2) holds at all
    (the condition is sufficient, not necessary)."""
    rows = []
    T_all = np.arange(1, T_max + 1)
    D2 = 2
    while 50 * (1 + D2 * D2) <= T_max:
        for D1 in range(1, D2):
            T_cond = 50 * (D1 * D1 + D2 * D2)
            if T_cond > T_max:
                break
            Ts = T_all[T_all >= T_cond]
            margin = lower_bound_exponent(Ts, D1, 2, D2) - max(D1, D2)
            ok_all = lower_bound_exponent(T_all, D1, 2, D2) > max(D1, D2)
            rows.append(dict(D1=D1, D2=D2, T_condition=T_cond, min_margin=float(margin.min()),
                             T_at_min=int(Ts[int(margin.argmin())]), k_at_T_condition=float(margin[0] + max(D1, D2)),
                             T_first_ok=int(T_all[ok_all][0]) if ok_all.any() else None, n_T_checked=len(Ts)))
        D2 += 1
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------
# Lemma 2: order statistics from subset minima (brute force over all m-subsets)
# ----------------------------------------------------------------------------------------------------


def subset_minima_bruteforce(x: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """For a sequence x of shape (T, d), by enumerating every m-subset of [T]:
    U_j = max_{|B|=m} min_{u in B} x(u)_j (shape (d,)),
    Y_{t,j} = max_{|A|=m, t in A} min_{u in A} x(u)_j and Z_{t,j} the same for 1 - x (shapes (T, d))."""
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    subsets = np.array(list(itertools.combinations(range(T), m)))  # (C(T, m), m)
    mins = x[subsets].min(axis=1)  # (C, d): min over each subset, per coordinate
    mins_c = (1.0 - x)[subsets].min(axis=1)
    member = np.zeros((len(subsets), T), dtype=bool)
    np.put_along_axis(member, subsets, True, axis=1)  # member[c, t]: t is in subset c
    Y = np.stack([mins[member[:, t]].max(axis=0) for t in range(T)])
    Z = np.stack([mins_c[member[:, t]].max(axis=0) for t in range(T)])
    return dict(U=mins.max(axis=0), Y=Y, Z=Z, n_subsets=len(subsets))


def order_statistics_closed_form(x: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """Lemma 2's right-hand sides: v_m (m-th largest per coordinate), Y = min(x, v_m), and
    Z = 1 - max(x, w_m) with w_m the m-th smallest."""
    x = np.asarray(x, dtype=float)
    srt = np.sort(x, axis=0)
    v_m, w_m = srt[-m], srt[m - 1]
    return dict(U=v_m, Y=np.minimum(x, v_m), Z=1.0 - np.maximum(x, w_m), v_m=v_m, w_m=w_m)


def lemma2_inputs(T: int, d: int, n_random: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """Named test sequences in [0,1]^(T x d): uniform draws, and adversarial ones with ties (values from
    {0, 1/2, 1}, all equal, the m-th largest tied with its neighbours, only two distinct values)."""
    rng = np.random.default_rng(seed)
    cases = [(f"uniform #{i}", rng.random((T, d))) for i in range(n_random)]
    cases += [(f"ties in {{0, 1/2, 1}} #{i}", rng.integers(0, 3, size=(T, d)) / 2.0) for i in range(n_random)]
    cases.append(("all equal", np.full((T, d), 0.3)))
    block = np.tile(np.linspace(0.1, 0.9, T)[:, None], (1, d))
    block[T // 2 - 2:T // 2 + 2] = 0.5  # a run of ties straddling the middle order statistics
    cases.append(("tied run in the middle", block))
    cases.append(("two values", np.where(np.arange(T)[:, None] % 3 == 0, 0.9, 0.2) * np.ones((1, d))))
    return cases


def lemma2_check(T: int = 8, m: int = 2, d: int = 2, n_random: int = 20, seed: int = 0) -> pd.DataFrame:
    """One row per test sequence: the largest |brute force - closed form| of each identity (exact
    equality expected: min and max only select entries)."""
    rows = []
    for name, x in lemma2_inputs(T, d, n_random, seed):
        bf, cf = subset_minima_bruteforce(x, m), order_statistics_closed_form(x, m)
        rows.append(dict(input=name, T=T, m=m, d=d, subsets=bf["n_subsets"],
                         err_U=float(np.abs(bf["U"] - cf["U"]).max()),
                         err_Y=float(np.abs(bf["Y"] - cf["Y"]).max()),
                         err_Z=float(np.abs(bf["Z"] - cf["Z"]).max())))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------
# Lemma 3: the smooth selector
# ----------------------------------------------------------------------------------------------------


def smooth_selector(Y: np.ndarray, Z: np.ndarray, v_m: np.ndarray, w_m: np.ndarray, q: float) -> np.ndarray:
    """x~_q(t)_j = [e^{q a^2} (1 - Z) + e^{q b^2} Y] / [e^{q a^2} + e^{q b^2}], a = 1 - Z - w_m, b = Y - v_m:
    a smooth function of subset-minimum primitives that tends to x(t)_j. Computed with the larger exponent
    subtracted, so large q does not overflow."""
    ea, eb = q * (1.0 - Z - w_m) ** 2, q * (Y - v_m) ** 2
    top = np.maximum(ea, eb)
    wa, wb = np.exp(ea - top), np.exp(eb - top)
    return (wa * (1.0 - Z) + wb * Y) / (wa + wb)


def selector_worst_case(q: float, grid: int = 200001) -> tuple[float, float]:
    """The exact sup over [0,1]^T of |x~_q - x| and the gap b where it sits: sup_b b / (1 + e^{q b^2}),
    b in [0, 1]. (Off the band [w_m, v_m] the error is (w_m - x)/(1 + e^{q (v_m - x)^2}) or its mirror,
    largest when v_m = w_m; inside the band the selector is exact.) Always below 1/sqrt(2 e q)."""
    b = np.linspace(0.0, 1.0, grid)
    with np.errstate(over="ignore"):
        err = b / (1.0 + np.exp(np.minimum(q * b * b, 700.0)))
    i = int(err.argmax())
    return float(err[i]), float(b[i])


def selector_errors(q_grid, T: int = 8, m: int = 2, n_random: int = 50, n_adversarial: int = 50,
                    seed: int = 0, use_bruteforce: bool = True) -> pd.DataFrame:
    """Sup error of the smooth selector per q on two input families: uniform random sequences, and the
    adversarial family (T - 1 tokens at c, one token at c - b, with b at and around the worst gap).
    Y and Z come from the brute-force subset minima of Lemma 2 (so only subset minima are used) unless
    use_bruteforce is False. Columns: q, family, sup_error, exact_sup, bound = 1/sqrt(2 e q)."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in q_grid:
        exact, b_star = selector_worst_case(q)
        families = {"uniform random": [rng.random((T, 1)) for _ in range(n_random)]}
        adv = []
        for k in range(n_adversarial):
            b = min(1.0, b_star * (0.5 + k / max(1, n_adversarial - 1)))  # gaps from b*/2 to 3 b*/2
            c = b + (1.0 - b) * rng.random()
            x = np.full((T, 1), c)
            x[rng.integers(T)] = c - b
            adv.append(x)
        families["adversarial (ties at w_m = v_m)"] = adv
        for fam, xs in families.items():
            worst = 0.0
            for x in xs:
                cf = order_statistics_closed_form(x, m)
                if use_bruteforce:
                    bf = subset_minima_bruteforce(x, m)
                    Y, Z = bf["Y"], bf["Z"]
                else:
                    Y, Z = cf["Y"], cf["Z"]
                xt = smooth_selector(Y, Z, cf["v_m"], cf["w_m"], q)
                worst = max(worst, float(np.abs(xt - x).max()))
            rows.append(dict(q=q, family=fam, sup_error=worst, exact_sup=exact, bound=1 / math.sqrt(2 * math.e * q)))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------
# Lemma 1: bump-and-shift repair of a continuous feature, in one dimension
# ----------------------------------------------------------------------------------------------------


def bernstein(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The Bernstein polynomial sum_j f(j/K) C(K, j) x^j (1-x)^(K-j) of degree K = len(values) - 1 at x.

    A constructive Stone-Weierstrass approximant; it stays within [min f, max f], so no squashing is
    needed when f maps into [0, 1]."""
    K = len(values) - 1
    j = torch.arange(K + 1, dtype=torch.float64)
    xs = torch.as_tensor(x, dtype=torch.float64).clamp(1e-300, 1 - 1e-16)[:, None]
    logc = torch.lgamma(torch.tensor(K + 1.0, dtype=torch.float64)) - torch.lgamma(j + 1) - torch.lgamma(K - j + 1)
    logb = logc + j * torch.log(xs) + (K - j) * torch.log1p(-xs)  # (len(x), K+1) log basis
    return (torch.exp(logb) @ torch.as_tensor(values, dtype=torch.float64)).numpy()


def smooth_bump(x: np.ndarray, centre: float, radius: float) -> np.ndarray:
    """phi(x) = exp(1 - 1/(1 - u^2)), u = (x - centre)/radius, zero outside: C-infinity, phi(centre) = 1,
    a strict maximum there with phi'' < 0 (negative definite Hessian)."""
    u = (np.asarray(x, dtype=float) - centre) / radius
    out = np.zeros_like(u)
    inside = np.abs(u) < 1
    out[inside] = np.exp(1.0 - 1.0 / (1.0 - u[inside] ** 2))
    return out


def smooth_cutoff(x: np.ndarray, centre: float, inner: float, outer: float) -> np.ndarray:
    """chi = 1 on |x - centre| <= inner, 0 beyond outer, C-infinity in between (ratio of bump-type terms)."""
    r = np.abs(np.asarray(x, dtype=float) - centre)
    s = np.clip((r - inner) / (outer - inner), 0.0, 1.0)

    def g(v):
        out = np.zeros_like(v)
        pos = v > 0
        out[pos] = np.exp(-1.0 / v[pos])
        return out

    return g(1 - s) / (g(1 - s) + g(s))


def lemma1_repair(f_tilde: Callable[[np.ndarray], np.ndarray], eta: float, shift_sign: int = 0,
                  degrees=(50, 100, 200, 400, 800, 1600, 3200), grid: int = 20001,
                  bump_radius: float = 0.05) -> dict:
    """The repair of Lemma 1 for one feature on [0, 1]:
    1. p: the lowest-degree Bernstein polynomial of f~ with sup |p - f~| <= eta (Stone-Weierstrass step);
    2. g = p - delta1 phi + delta2 phi (x - xi)^2 around the minimiser xi of p (a unique minimiser with
       positive curvature), delta1 + delta2 radius^2 <= eta;
    3. f = g o Phi with Phi(x) = x - shift chi(x) (a diffeomorphism when |shift chi'| < 1) that moves the
       minimiser by shift = shift_sign * 0.9 eta / Lip(g) (used to make the minimisers of different
       features distinct), costing at most Lip(g) |shift| < eta; shift_sign = 0 skips the step;
    4. squash into [0, 1] (the identity here if the values already lie there; recorded).
    Returns the grid, every intermediate curve, the sup error of each step, the minimiser and the
    curvature of the result."""
    x = np.linspace(0.0, 1.0, grid)
    ft = f_tilde(x)
    p = None
    for K in degrees:  # the smallest degree that is eta-accurate on the grid
        p = bernstein(f_tilde(np.linspace(0.0, 1.0, K + 1)), x)
        if np.abs(p - ft).max() <= eta:
            break
    poly_err = float(np.abs(p - ft).max())
    i0 = int(p.argmin())
    xi = float(x[i0])
    delta1, delta2 = 0.5 * eta, 0.5 * eta / bump_radius**2
    phi = smooth_bump(x, xi, bump_radius)
    g = p - delta1 * phi + delta2 * phi * (x - xi) ** 2
    bump_err = float(np.abs(g - p).max())
    lip_g = float(np.abs(np.diff(g) / np.diff(x)).max())
    shift = shift_sign * 0.9 * eta / lip_g
    if shift:
        inner, outer = 2 * bump_radius, 2 * bump_radius + max(4 * abs(shift), 0.05)
        chi = smooth_cutoff(x, xi + shift, inner, outer)
        dchi = np.gradient(chi, x)
        if np.abs(shift * dchi).max() >= 1:
            raise ValueError("shift too large: Phi would not be a diffeomorphism")
        phi_map = x - shift * chi  # Phi(x): equals x - shift near the new minimiser, x far from it
        f = np.interp(phi_map, x, g)
    else:
        f = g.copy()
    shift_err = float(np.abs(f - g).max())
    in_range = bool(f.min() >= 0 and f.max() <= 1)
    f_final = np.clip(f, 0.0, 1.0)  # the squash; identity when in_range
    j = int(f_final.argmin())
    others = np.delete(f_final, j)
    far = np.abs(x - x[j]) > 2 * bump_radius  # outside the repaired well: the other basins
    h = x[1] - x[0]
    curvature = float((f_final[j + 1] - 2 * f_final[j] + f_final[j - 1]) / h**2) if 0 < j < grid - 1 else float("nan")
    return dict(x=x, f_tilde=ft, p=p, g=g, f=f_final, degree=K, xi=xi, eta=eta,
                errors=dict(polynomial=poly_err, bump=bump_err, shift=shift_err,
                            total=float(np.abs(f_final - ft).max())),
                squash_is_identity=in_range, argmin=float(x[j]), min_value=float(f_final[j]), shift=shift,
                strict_min=bool(others.min() > f_final[j]), unique_min_gap=float(f_final[far].min() - f_final[j]),
                curvature=curvature)


# ----------------------------------------------------------------------------------------------------
# Theorem 2(1): the soft-min bound (15) and the temperature it needs
# ----------------------------------------------------------------------------------------------------


def softmin_bound(S_size, T, beta):
    """Equation (15)'s excess: (|S_i| - 1)/(e beta) + T e^{-beta}. When S_i = [T] no token lies outside S_i
    and the second term is not needed: pass T = 0 for it, i.e. softmin_bound(T, 0, beta)."""
    S_size, T, beta = (np.asarray(v, dtype=float) for v in (S_size, T, beta))
    out = (S_size - 1) / (math.e * beta) + T * np.exp(-beta)
    return float(out) if out.ndim == 0 else out


def softmin_worst_gap(T: int, beta: float, grid: int = 20001) -> tuple[float, float]:
    """(sup excess, gap g*) for one soft-min head with S = [T] over sequences in [0,1]^T: the sup of
    z~ - min_t Psi(t) is (1/beta) max_{u in [0, beta]} N u e^{-u} / (1 + N e^{-u}), N = T - 1, attained when
    the other N tokens all sit g* = u*/beta above the minimum. (For a fixed total weight the excess is a sum
    of -w log w terms, largest when all weights are equal, by Jensen; so a one-dimensional search is exact.)"""
    N = T - 1
    if N == 0:
        return 0.0, 0.0
    u_hi = min(float(beta), math.log(N) + 60.0)
    u = np.linspace(0.0, u_hi, grid)
    val = N * u * np.exp(-u) / (1.0 + N * np.exp(-u))
    i = int(val.argmax())  # refine around the grid maximum
    u2 = np.linspace(u[max(i - 1, 0)], u[min(i + 1, grid - 1)], 2001)
    val2 = N * u2 * np.exp(-u2) / (1.0 + N * np.exp(-u2))
    j = int(val2.argmax())
    if val2[j] >= val[i]:
        return float(val2[j] / beta), float(u2[j] / beta)
    return float(val[i] / beta), float(u[i] / beta)


def softmin_worst_case(T: int, beta: float) -> float:
    """The exact sup over [0,1]^T of z~ - min_t Psi(t) for one soft-min head with S = [T] (see
    softmin_worst_gap). It grows like log(T)/beta, not like the bound's (T - 1)/(e beta)."""
    return softmin_worst_gap(T, beta)[0]


def softmin_interval(S_size: int, T: int, beta: float, offset: float) -> tuple[float, float]:
    """Two-sided range of z~_i - min_{S_i} Psi_i for Psi_i in [0, 1] and r_i = -offset off S_i:
    [-(T - |S|) e^{-beta (offset - 1)}, (|S| - 1)/(e beta) + (T - |S|) e^{-beta (offset - 1)}].
    Off S_i a token's logit is at least offset - 1 below the best one in S_i (Psi differs by at most 1), so
    offset 2 gives the e^{-beta} terms of equation (15), while offset 1 gives no separation at all."""
    out = (T - S_size) * math.exp(-beta * (offset - 1))
    return -out, (S_size - 1) / (math.e * beta) + out


def theorem21_beta(T: int, eps: float, L0: float, D: int) -> float:
    """The temperature the proof of Theorem 2(1) prescribes: max{1, 4 C_T L0 D / eps, log(4 C_T L0 D / eps)}
    with C_T = max(T/e, T) = T and L0 = sup ||grad F0||_1. It grows like T/eps."""
    a = 4 * T * L0 * D / eps
    return max(1.0, a, math.log(a))


def _invert_decreasing(fn: Callable[[float], float], target: float, lo: float = 1e-3, hi: float = 1e15) -> float:
    """Smallest beta in [lo, hi] with fn(beta) <= target for fn decreasing in beta (bisection on log beta)."""
    if fn(hi) > target:
        return float("inf")
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if fn(mid) <= target:
            hi = mid
        else:
            lo = mid
        if hi / lo < 1 + 1e-9:
            break
    return hi


def beta_needed(T: int, eps: float, kind: str) -> float:
    """Smallest beta with soft-min excess <= eps for one head with S = [T]: kind 'bound' inverts (T-1)/(e beta)
    (equation (15)); kind 'worst case' inverts the exact worst case over [0,1]^T."""
    if kind == "bound":
        return (T - 1) / (math.e * eps) if T > 1 else 0.0
    if kind == "worst case":
        return _invert_decreasing(lambda b: softmin_worst_case(T, b), eps)
    raise ValueError(f"kind must be 'bound' or 'worst case', got {kind!r}")


# ----------------------------------------------------------------------------------------------------
# Lemma 4: Lipschitz constant of a bounded two-layer network
# ----------------------------------------------------------------------------------------------------


def _two_layer(U, b, V, c, x, act):
    return (act(x @ U.T + b)) @ V.T + c


def lemma4_check(width_grid=(4, 16, 64), in_dim_grid=(2, 8, 32), n_nets: int = 20, n_pairs: int = 200,
                 seed: int = 0) -> pd.DataFrame:
    """For random two-layer networks F(x) = V act(U x + b) + c with every entry in [-1, 1] and a 1-Lipschitz
    activation (ReLU or tanh), the largest ratio |F_j(x1) - F_j(x2)| / (p sqrt(n_in) ||x1 - x2||) over
    random pairs, per (p, n_in, act); p is the hidden width and n_in the input width (the lemma's n).
    Lemma 4's inequality says every ratio is <= 1. Each row also gives the ratio reached by the extremal
    network (all entries 1, all units active, x1 - x2 along the all-ones direction), which shows the
    inequality is tight."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    acts = {"relu": torch.relu, "tanh": torch.tanh}
    for p, n_in, (an, act) in itertools.product(width_grid, in_dim_grid, acts.items()):
        worst = 0.0
        for _ in range(n_nets):
            U = torch.rand(p, n_in, generator=gen, dtype=torch.float64) * 2 - 1
            b = torch.rand(p, generator=gen, dtype=torch.float64) * 2 - 1
            V = torch.rand(3, p, generator=gen, dtype=torch.float64) * 2 - 1
            c = torch.rand(3, generator=gen, dtype=torch.float64) * 2 - 1
            # pairs: random points, plus pairs along the direction that aligns with the first layer
            x1 = torch.randn(n_pairs, n_in, generator=gen, dtype=torch.float64)
            dx = torch.randn(n_pairs, n_in, generator=gen, dtype=torch.float64) * 10 ** (
                torch.rand(n_pairs, 1, generator=gen, dtype=torch.float64) * 4 - 3)
            dx[: n_pairs // 2] = torch.sign(U[0]) * dx[: n_pairs // 2].abs().mean(1, keepdim=True)
            x2 = x1 + dx
            dF = (_two_layer(U, b, V, c, x1, act) - _two_layer(U, b, V, c, x2, act)).abs()  # (pairs, 3)
            ratio = dF / (p * math.sqrt(n_in) * dx.norm(dim=1, keepdim=True))
            worst = max(worst, float(ratio.max()))
        # extremal network: U = V = 1, b large enough that ReLU is the identity on the test points
        U = torch.ones(p, n_in, dtype=torch.float64)
        V = torch.ones(1, p, dtype=torch.float64)
        b = torch.ones(p, dtype=torch.float64)
        x1 = torch.zeros(1, n_in, dtype=torch.float64)
        x2 = x1 + 1e-3 / math.sqrt(n_in)
        dF = (_two_layer(U, b, V, torch.zeros(1, dtype=torch.float64), x1, torch.relu)
              - _two_layer(U, b, V, torch.zeros(1, dtype=torch.float64), x2, torch.relu)).abs()
        tight = float(dF.max() / (p * math.sqrt(n_in) * (x2 - x1).norm()))
        rows.append(dict(p=p, n_in=n_in, activation=an, nets=n_nets, pairs=n_pairs, max_ratio=worst,
                         extremal_ratio=tight))
    return pd.DataFrame(rows)


def width_needed(lipschitz: float, in_dim: int) -> float:
    """Lemma 4 read backwards: a two-layer block with entries <= 1 and input width n_in whose Lipschitz
    constant (per output) is at least L needs hidden width p >= L / sqrt(n_in)."""
    return lipschitz / math.sqrt(in_dim)


# ----------------------------------------------------------------------------------------------------
# Lemma 5: local linear growth of a feature near its minimiser
# ----------------------------------------------------------------------------------------------------


def gaussian_well(x_star, A) -> Callable[[torch.Tensor], torch.Tensor]:
    """f(x) = 1 - exp(-(x - x*)^T A (x - x*)/2): C^2, values in [0, 1), unique minimum 0 at x*, Hessian A at
    x* (positive definite for a positive definite A), and concave far from x* (so r is not arbitrary)."""
    xs = torch.as_tensor(x_star, dtype=torch.float64)
    A = torch.as_tensor(A, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        dx = x - xs
        return 1.0 - torch.exp(-0.5 * torch.einsum("...i,ij,...j->...", dx, A, dx))

    return f


def hessian_min_eig(f, points: torch.Tensor) -> torch.Tensor:
    """lambda_min of the Hessian of f at each point (rows of `points`)."""
    x = points.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)  # (P, d): f acts row-wise, so rows decouple
    rows = [torch.autograd.grad(g[:, j].sum(), x, retain_graph=True)[0] for j in range(x.shape[1])]
    H = torch.stack(rows, dim=1)  # (P, d, d)
    return torch.linalg.eigvalsh(0.5 * (H + H.transpose(1, 2)))[:, 0]


def lemma5_radius(f, x_star, lam_min: float, r_grid, n_probe: int = 400, seed: int = 0) -> float:
    """The largest r in r_grid such that the Hessian stays >= lam_min/2 at n_probe random points of the
    ball B(x*, r) (the region where the lemma's Taylor argument applies). Returns 0 if none."""
    gen = torch.Generator().manual_seed(seed)
    xs = torch.as_tensor(x_star, dtype=torch.float64)
    d = xs.numel()
    best = 0.0
    for r in sorted(r_grid):
        v = torch.randn(n_probe, d, generator=gen, dtype=torch.float64)
        v = v / v.norm(dim=1, keepdim=True) * r * torch.rand(n_probe, 1, generator=gen, dtype=torch.float64) ** (1 / d)
        if float(hessian_min_eig(f, xs + v).min()) >= lam_min / 2:
            best = r
        else:
            break
    return best


def lemma5_check(f, x_star, r: float, lam_min: float, n_directions: int = 64, n_pairs: int = 400,
                 seed: int = 0) -> pd.DataFrame:
    """On segments G = {x* + t v : t in [r/4, r/2]} for n_directions unit directions v, the smallest ratio
    |f(x) - f(y)| / (L ||x - y||) over random pairs, with L = lam_min r / 8 (Lemma 5 says >= 1), and the
    smallest f - f(x*) on G (Lemma 5 says > 0)."""
    gen = torch.Generator().manual_seed(seed)
    xs = torch.as_tensor(x_star, dtype=torch.float64)
    d = xs.numel()
    L = lam_min * r / 8
    z = float(f(xs))
    rows = []
    for k in range(n_directions):
        if d == 2:  # evenly spread directions in the plane, so the worst one is not missed
            ang = 2 * math.pi * k / n_directions
            v = torch.tensor([math.cos(ang), math.sin(ang)], dtype=torch.float64)
        else:
            v = torch.randn(d, generator=gen, dtype=torch.float64)
            v = v / v.norm()
        t1 = r / 4 + (r / 4) * torch.rand(n_pairs, generator=gen, dtype=torch.float64)
        t2 = r / 4 + (r / 4) * torch.rand(n_pairs, generator=gen, dtype=torch.float64)
        keep = (t1 - t2).abs() > 1e-9
        p1, p2 = xs + t1[keep, None] * v, xs + t2[keep, None] * v
        ratio = (f(p1) - f(p2)).abs() / (L * (p1 - p2).norm(dim=1))
        ends = xs + torch.linspace(r / 4, r / 2, 101, dtype=torch.float64)[:, None] * v
        rows.append(dict(direction=k, r=r, L=L, min_ratio=float(ratio.min()), min_excess=float((f(ends) - z).min())))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------
# The lower-bound mechanism: the Lipschitz constant a feed-forward block would need
# ----------------------------------------------------------------------------------------------------


def required_lipschitz(model, task, eps: float, n_base: int = 200, seed: int = 0,
                       deltas=(3.0, 5.0, 10.0), margin: float = 0.1) -> dict:
    """Pair search on a task whose targets depend on the extreme tokens (max + min, d = 1).

    Base sequences are drawn uniformly in [margin, 1 - margin]; each partner moves the arg-max token up,
    the arg-min token down, or both, by delta * eps (delta in `deltas`), so every pair has targets at
    least 3 eps apart. A feed-forward block F that is eps-accurate on both sequences of a pair must change
    by |H1 - H2| - 2 eps across the head outputs u1, u2 (the pre-readout vectors), so it needs Lipschitz
    constant at least (|H1 - H2| - 2 eps) / ||u1 - u2||. Returns the largest such value over all pairs,
    the smallest ||u1 - u2|| among pairs with |H1 - H2| >= 3 eps, and the pair count."""
    gen = torch.Generator().manual_seed(seed)
    dtype = next(model.parameters(), torch.zeros((), dtype=torch.float64)).dtype
    T = task.T
    lo, hi = margin, 1 - margin
    X = lo + (hi - lo) * torch.rand(n_base, T, 1, generator=gen, dtype=dtype)
    rows = torch.arange(n_base)
    imax, imin = X[..., 0].argmax(1), X[..., 0].argmin(1)
    partners = []
    for dlt in deltas:
        step = dlt * eps
        up = X.clone()
        up[rows, imax, 0] += step
        down = X.clone()
        down[rows, imin, 0] -= step
        both = X.clone()
        both[rows, imax, 0] += step
        both[rows, imin, 0] -= 2 * step  # net change of max + min is -step: a different direction
        partners += [up, down, both]
    with torch.no_grad():
        u0 = model.pre_readout(X)
        H0 = task.target(X)
        best_L, min_du, n_pairs = 0.0, float("inf"), 0
        for Xp in partners:
            up = model.pre_readout(Xp)
            dH = (task.target(Xp) - H0).abs()
            du = (up - u0).norm(dim=1)
            ok = dH >= 3 * eps - 1e-12
            n_pairs += int(ok.sum())
            if ok.any():
                # du == 0 exactly: the head outputs coincide, so no F at all is eps-accurate on both sequences
                L = torch.where(du[ok] > 0, (dH[ok] - 2 * eps) / du[ok].clamp_min(1e-300), torch.full_like(du[ok], math.inf))
                best_L = max(best_L, float(L.max()))
                min_du = min(min_du, float(du[ok].min()))
    return dict(T=T, eps=eps, required_lipschitz=best_L, min_head_output_gap=min_du, pairs=n_pairs)


# ----------------------------------------------------------------------------------------------------
# Claim checks: numbers in, verdict out (claims.judge: core and supporting checks). Each can fail.
# ----------------------------------------------------------------------------------------------------


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation; 0 when either series is constant."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def check_lemma2(df: pd.DataFrame, tol: float = 0.0) -> claims.Verdict:
    """C2: each of the three identities holds to `tol` on every test sequence (exact equality by default);
    each identity is a core check."""
    sizes = ", ".join(sorted({f"T={r.T}, m={r.m} ({r.subsets} subsets)" for r in df.itertuples()}))
    checks = []
    for col, what in (("err_U", "U = v_m"), ("err_Y", "Y_t = min(x(t), v_m)"), ("err_Z", "1 - Z_t = max(x(t), w_m)")):
        worst = float(df[col].max())
        checks.append(claims.core(what, bool((df[col] <= tol).all()),
                                  f"largest discrepancy {worst:.1e} over {len(df)} sequences, tolerance {tol:g}",
                                  max_discrepancy=worst))
    return claims.judge("C2", "Lemma 2 by brute force over every m-subset: $U_j = v_{m,j}$, "
                        "$Y_{t,j} = \\min\\{x(t)_j, v_{m,j}\\}$, $1 - Z_{t,j} = \\max\\{x(t)_j, w_{m,j}\\}$ "
                        f"({sizes}; random sequences and sequences with ties)", checks)


def check_selector(df: pd.DataFrame, rel_tol: float = 1e-6, attain: float = 0.99, fall: float = 0.05) -> claims.Verdict:
    """C3. Core: the sup error over the tested inputs tends to 0 (non-increasing in q and below `fall` times its
    first value at the largest q; at the rate q^(-1/2) a grid spanning a factor 10^4 in q gives 0.01), and never exceeds the exact worst case over the cube (the formula that
    makes the convergence uniform). Supporting: the exact worst case is below 1/sqrt(2 e q), and the
    adversarial family attains it (ratio >= `attain` at every q), so the tested sup is the true sup."""
    sup = df.groupby("q").agg(sup_error=("sup_error", "max"), exact=("exact_sup", "first"), bound=("bound", "first"))
    sup = sup.sort_index()
    e = sup["sup_error"].to_numpy()
    falls = bool((np.diff(e) <= 1e-15).all() and e[-1] <= fall * e[0])
    ratio_last = float(e[-1] / e[0]) if e[0] > 0 else 0.0
    over = float((sup["sup_error"] / sup["exact"]).max())
    below_exact = bool((sup["sup_error"] <= sup["exact"] * (1 + rel_tol) + 1e-15).all())
    below_bound = bool((sup["exact"] <= sup["bound"]).all())
    attained = float((sup["sup_error"] / sup["exact"]).min())
    checks = [
        claims.core("tends to 0", falls, f"sup error {e[0]:.3g} at q={sup.index[0]:g} -> {e[-1]:.3g} at "
                    f"q={sup.index[-1]:g} (ratio {ratio_last:.2g}, must be <= {fall:g} and non-increasing)",
                    last_over_first=ratio_last),
        claims.core("never above the exact worst case", below_exact,
                    f"largest ratio of the measured sup to the exact sup over the cube {over:.4f}", max_ratio_to_exact=over),
        claims.supporting("exact worst case below 1/sqrt(2 e q)", below_bound, f"at all {len(sup)} values of q"),
        claims.supporting("worst case attained", bool(attained >= attain),
                          f"smallest ratio of the measured sup to the exact sup {attained:.4f} (needs >= {attain:g})",
                          min_ratio_to_exact=attained),
    ]
    return claims.judge("C3", "Lemma 3: sup error of the smooth selector $\\tilde x_q$ over random and worst-case "
                        "sequences against $q$, beside our exact worst case over the cube", checks)


def check_lemma1(results: list[dict]) -> claims.Verdict:
    """C4 (one-dimensional run): per repaired feature, core checks that it is within 5 eta of the original and
    admissible (unique minimiser on the grid with positive curvature, values in [0, 1]); a core check that the
    minimisers differ (Assumption 2.2)."""
    checks = []
    for k, r in enumerate(results, 1):
        tot, five = r["errors"]["total"], 5 * r["eta"]
        checks.append(claims.core(f"f_{k} within 5 eta", bool(tot <= five), f"sup error {tot:.4f} against {five:.3f}",
                                  error_over_5eta=tot / five))
        adm = bool(r["strict_min"] and r["unique_min_gap"] > 0 and r["curvature"] > 0 and r["squash_is_identity"])
        checks.append(claims.core(f"f_{k} admissible", adm,
                                  f"argmin {r['argmin']:.4f}, f'' there {r['curvature']:.3g}, other basins higher by "
                                  f"{r['unique_min_gap']:.1e}, values in [0, 1]: {r['squash_is_identity']}",
                                  curvature=r["curvature"]))
    mins = [r["argmin"] for r in results]
    gap = min(abs(a - b) for a, b in itertools.combinations(mins, 2)) if len(mins) > 1 else math.inf
    if len(mins) > 1:
        checks.append(claims.core("minimisers distinct", bool(gap > 1e-3), f"closest two {gap:.4f} apart (needs > 0.001)",
                                  min_gap=gap))
    return claims.judge("C4", "Lemma 1 in one dimension: the bump-and-shift repair of a continuous feature with two "
                        "flat wells, taken twice", checks)


def step_holds(v: claims.Verdict) -> bool | None:
    """Whether a step's verdict has its core holding: True (proof steps checked or partly reproduced), False
    (not reproduced), None (not testable: no evidence)."""
    return {claims.PROOF_CHECKED: True, claims.REPRODUCED: True, claims.PARTIAL: True,
            claims.NOT_REPRODUCED: False}.get(v.verdict)


def check_density(sub: list[claims.Verdict]) -> claims.Verdict:
    """C1: a theorem about every continuous function; what can be computed are the steps its proof relies on.
    Core: each step's core holds (its verdict is not 'not reproduced'). Supporting: each step's supporting
    checks pass too."""
    checks = [claims.core(f"step {v.claim_id}", step_holds(v), v.verdict) for v in sub]
    checks.append(claims.supporting("supporting checks of the steps", all(v.verdict == claims.PROOF_CHECKED for v in sub),
                                    ", ".join(f"{v.claim_id}: {v.verdict}" for v in sub)))
    return claims.judge("C1", "Theorem 1: the computable steps of its proof, Lemmas 2, 3 and 1 (claims C2, C3, C4)",
                        checks)


def check_exponent(table: pd.DataFrame) -> claims.Verdict:
    """C7. Core: k is linear in T with the slope 1/(4((n+1)s+1)) of the formula, per (s, n, D) with three or
    more T; and k <= 0 exactly when T <= 4((n+2)s + D)."""
    lin, vac, worst_dev = [], [], 0.0
    for (s, n, D), g in table.groupby(["s", "n", "D"]):
        g = g.sort_values("T")
        if len(g) >= 3:
            sl = np.diff(g["k"]) / np.diff(g["T"])
            want = 1 / (4 * ((n + 1) * s + 1))
            worst_dev = max(worst_dev, float(np.abs(sl / want - 1).max()))
            lin.append(bool(np.allclose(sl, want, rtol=1e-9, atol=1e-12)))
        vac.append(bool(((g["k"] <= 0) == (g["T"] <= g["threshold"])).all()))
    n_set = table.groupby(["s", "n", "D"]).ngroups
    checks = [claims.core("linear in T", all(lin) if lin else None,
                          f"{len(lin)} of {n_set} settings with >= 3 lengths; largest relative deviation of a slope "
                          f"dk/dT from 1/(4((n+1)s+1)): {worst_dev:.1e}", max_slope_deviation=worst_dev),
              claims.core("vacuous exactly at or below the threshold", all(vac), f"{len(table)} (T, s, n, D) points")]
    return claims.judge("C7", "Theorem 2(2): the exponent $k$ on a dense grid of $T$, per $(s, n, D)$, against "
                        "linearity and the threshold $4((n+2)s + D)$", checks)


def check_corollary1(df: pd.DataFrame, T_max: int) -> claims.Verdict:
    """C14. Core: k(T, D1, 2, D2) - max(D1, D2) > 0 for every pair and every T allowed by D1^2 + D2^2 <= T/50.
    Not testable when no pair fits below T_max."""
    test = ("Corollary 1's arithmetic: $k(T; s = D_1, n = 2, D = D_2) > \\max(D_1, D_2)$ for every pair "
            f"$D_1 < D_2$ and every integer $T \\le {T_max}$ with $D_1^2 + D_2^2 \\le T/50$")
    if df.empty:
        return claims.judge("C14", test, [], out_of_regime=f"no pair (D1, D2) fits the condition with T <= {T_max}")
    worst = df.loc[df["min_margin"].idxmin()]
    ok = bool((df["min_margin"] > 0).all())
    return claims.judge("C14", test, [claims.core(
        "margin positive", ok, f"{len(df)} pairs, {int(df['n_T_checked'].sum())} (pair, T) cases; smallest margin "
        f"{worst['min_margin']:.3f} at D1={int(worst['D1'])}, D2={int(worst['D2'])}, T={int(worst['T_at_min'])}",
        min_margin=float(worst["min_margin"]))])


def check_lemma4(df: pd.DataFrame, tol: float = 1e-9) -> claims.Verdict:
    """C8. Core: no random network exceeds the bound |dF_j| <= p sqrt(n_in) ||dx||. Supporting: the extremal
    network reaches it (ratio >= 0.999), so the inequality is tight."""
    worst, ext = float(df["max_ratio"].max()), float(df["extremal_ratio"].min())
    checks = [claims.core("bound holds", bool((df["max_ratio"] <= 1 + tol).all()),
                          f"{int(df['nets'].sum())} random nets over {len(df)} (p, n_in, activation) settings: largest "
                          f"ratio to the bound {worst:.3f}", max_ratio=worst),
              claims.supporting("bound is tight", bool((df["extremal_ratio"] >= 0.999).all()
                                                      and (df["extremal_ratio"] <= 1 + tol).all()),
                                f"the extremal net reaches {ext:.4f} of it", extremal_ratio=ext)]
    return claims.judge("C8", "Lemma 4: $\\lvert \\Delta F_j\\rvert / (p\\sqrt n\\,\\lVert \\Delta x\\rVert)$ on random "
                        "two-layer networks with entries at most 1 (ReLU, tanh), and on the extremal one", checks)


def check_lemma5(df: pd.DataFrame, r: float) -> claims.Verdict:
    """C9. Core: on every segment, |f(x) - f(y)| >= (lam_min r / 8) ||x - y||, and f > z on G. Not testable
    when no radius r with a Hessian >= lambda_min/2 was found on the grid."""
    test = ("Lemma 5 on a Gaussian well in $[0,1]^2$: ratio $\\lvert f(x) - f(y)\\rvert / (L \\lVert x - y\\rVert)$, "
            "$L = \\lambda_{\\min} r/8$, and $f - z$ on segments $G$ in many directions")
    if r <= 0:
        return claims.judge("C9", test, [], out_of_regime="no radius r on the page's grid keeps the Hessian >= lambda_min/2")
    lo, ex = float(df["min_ratio"].min()), float(df["min_excess"].min())
    return claims.judge("C9", test, [
        claims.core("linear growth", bool(lo >= 1), f"{len(df)} directions, r = {r:.3g}, L = {df['L'].iloc[0]:.4g}: "
                    f"smallest ratio to L {lo:.3f} (needs >= 1)", min_ratio=lo),
        claims.core("f > z on G", bool(ex > 0), f"smallest f - z on G {ex:.3g}", min_excess=ex)])


def check_mechanism(df: pd.DataFrame, one_head: str = "one head", enough: str = "h = D construction",
                    factor: float = 2.0) -> claims.Verdict:
    """C10. Core: for every one-head model the required Lipschitz constant grows with T (ratio from the shortest
    to the longest T >= factor and a positive rank correlation; infinite at every T counts as growing: no F
    at all is accurate). Supporting (the contrast): for the h = D construction it grows by less than
    `factor`. df has columns model, kind, T, required_lipschitz; other kinds are drawn but not judged."""
    one, con = [], []
    for model, g in df.groupby("model", sort=False):
        g = g.sort_values("T")
        kind = g["kind"].iloc[0]
        if len(g) < 2 or kind not in (one_head, enough):
            continue
        L = g["required_lipschitz"].to_numpy(dtype=float)
        if np.isinf(L).all():
            ok, growth = kind == one_head, math.inf
        elif np.isinf(L[0]):
            ok, growth = False, 0.0  # infinite at the shortest T but finite later: it does not grow
        else:
            growth = float(L[-1] / L[0])
            ok = (growth >= factor and _rank_corr(g["T"].to_numpy(), L) > 0) if kind == one_head else growth < factor
        text = f"{model}: " + ("infinite at every T" if np.isinf(growth) else f"x{growth:.3g} from T={g['T'].iloc[0]} "
                                                                               f"to T={g['T'].iloc[-1]}")
        (one if kind == one_head else con).append((bool(ok), growth, text))

    def _min_finite(rows):
        fin = [g for _, g, _ in rows if np.isfinite(g)]
        return min(fin) if fin else None

    num = {} if _min_finite(one) is None else {"min_growth": _min_finite(one)}
    checks = [claims.core("grows with T, one head", all(o for o, _, _ in one) if one else None,
                          "; ".join(t for _, _, t in one) or "no one-head model", **num)]
    if con:
        checks.append(claims.supporting("flat in T, h = D construction", all(o for o, _, _ in con),
                                        "; ".join(t for _, _, t in con) + f" (must be < x{factor:g})",
                                        growth=max(g for _, g, _ in con)))
    return claims.judge("C10", "the Lipschitz constant a feed-forward block needs on max + min (pair search), for "
                        f"one-head models and the $h = D$ construction, against $T$ (growth >= x{factor:g})", checks)


def check_memorising_attention(df: pd.DataFrame, tol: float = 0.0) -> claims.Verdict:
    """C11a. Core: with P_phi = e_t (x) x(t) and c0 = 0, every attention weight is 1/T and the head output
    equals (1/T)(x(1), ..., x(T)) to `tol` (exact by default). df: T, max_weight_dev, max_output_dev."""
    w, o = float(df["max_weight_dev"].max()), float(df["max_output_dev"].max())
    Ts = sorted(df["T"].unique().tolist())
    return claims.judge("C11a", f"Theorem 2(3)'s head on sampled sequences, T in {Ts}: attention weights against $1/T$, "
                        "head output against $x/T$", [
                            claims.core("weights 1/T", bool((df["max_weight_dev"] <= tol).all()),
                                        f"largest deviation {w:.1e} (tolerance {tol:g})", max_weight_dev=w),
                            claims.core("output x/T", bool((df["max_output_dev"] <= tol).all()),
                                        f"largest deviation {o:.1e} (tolerance {tol:g})", max_output_dev=o)])


def check_lemma9(df: pd.DataFrame) -> claims.Verdict:
    """C12. Core: 0 <= f_hat - max < 1/n on every input; both hidden widths <= 2 T ceil(1/eps).
    df: T, eps, n_grid, err_min, err_max, width1, width2."""
    worst = float((df["err_max"] * df["n_grid"]).max())
    lo = float(df["err_min"].min())
    a = bool((df["err_min"] >= -1e-12).all() and (df["err_max"] < 1.0 / df["n_grid"]).all())
    wr = float((np.maximum(df["width1"], df["width2"]) / (2 * df["T"] * df["n_grid"])).max())
    b = bool(((df["width1"] <= 2 * df["T"] * df["n_grid"]) & (df["width2"] <= 2 * df["T"] * df["n_grid"])).all())
    return claims.judge("C12", f"Lemma 9's three-layer ReLU network in {len(df)} (T, eps) settings, on random and "
                        "level-straddling inputs: error range and hidden widths", [
                            claims.core("within [max, max + 1/n)", a, f"error in [{lo:.1e}, {df['err_max'].max():.3g}], "
                                        f"largest error x n = {worst:.3f} (must be < 1)", max_error_times_n=worst),
                            claims.core("widths within 2T ceil(1/eps)", b, f"largest width over the bound {wr:.3f}",
                                        max_width_over_bound=wr)])


def check_lemma8(df: pd.DataFrame, tol: float = 1e-9) -> claims.Verdict:
    """C13. Core: merging F1 (2 layers), F2 (3) and F3 (2) gives 5 affine maps, whose output equals the
    composition to float rounding (relative `tol`). df: T, eps, n_affine, max_abs_diff, scale."""
    rel = float((df["max_abs_diff"] / df["scale"].clip(lower=1.0)).max())
    return claims.judge("C13", f"Lemma 8 on {len(df)} stacks of the memorising readout: layer count and merged against "
                        "composed output", [
                            claims.core("five affine maps", bool((df["n_affine"] == 5).all()),
                                        f"affine maps {sorted(df['n_affine'].unique().tolist())}"),
                            claims.core("merged = composed", bool(rel <= tol),
                                        f"largest relative difference {rel:.1e} (tolerance {tol:g})", max_rel_diff=rel)])


def check_memorising(df: pd.DataFrame, slope_range=(0.8, 1.2)) -> claims.Verdict:
    """C11b. Core: the one-head construction has sup error <= eps at every (T, eps), and its parameter count
    grows no faster than T/eps (log-log slopes in 1/eps at the largest T and in T at the smallest eps at
    most slope_range[1]). Supporting: the slopes are at least slope_range[0] (the count really is linear).
    df: T, eps, sup_error, M."""
    worst = float((df["sup_error"] / df["eps"]).max())
    checks = [claims.core("error <= eps", bool(worst <= 1), f"all {len(df)} (T, eps) cases, largest error/eps {worst:.3f}",
                          max_error_over_eps=worst)]
    fits = []
    big_T = df[df["T"] == df["T"].max()].sort_values("eps")
    small_e = df[df["eps"] == df["eps"].min()].sort_values("T")
    if big_T["eps"].nunique() >= 2:
        fits.append(("1/eps", f"at T={int(df['T'].max())}",
                     float(np.polyfit(np.log(1 / big_T["eps"]), np.log(big_T["M"]), 1)[0])))
    if small_e["T"].nunique() >= 2:
        fits.append(("T", f"at eps={df['eps'].min():g}", float(np.polyfit(np.log(small_e["T"]), np.log(small_e["M"]), 1)[0])))
    for var, where, sl in fits:
        checks.append(claims.core(f"M no faster than linear in {var}", bool(sl <= slope_range[1]),
                                  f"log-log slope {sl:.2f} {where} (must be <= {slope_range[1]:g})", **{f"slope_{var}": sl}))
        checks.append(claims.supporting(f"M linear in {var}", bool(sl >= slope_range[0]),
                                        f"slope {sl:.2f} (>= {slope_range[0]:g})"))
    if not fits:
        checks.append(claims.core("growth of M", None, "fewer than two T and two eps: no slope to fit"))
    return claims.judge("C11b", "Theorem 2(3): the one-head construction on max + min, sup error against eps and "
                        "log-log slopes of its parameter count in $1/\\varepsilon$ and in $T$", checks)


# ----------------------------------------------------------------------------------------------------
# Tables for the pages
# ----------------------------------------------------------------------------------------------------


def format_numbers(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy with every float printed to `digits` significant digits and every integer printed in full
    (so a width of 1600 is not shown as 1.6e+03); for plots.markdown_table, which prints cells as given."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_bool_dtype(col):
            out[c] = col.map(str)
        elif pd.api.types.is_integer_dtype(col):
            out[c] = col.map(lambda v: f"{int(v)}")
        elif pd.api.types.is_float_dtype(col):
            out[c] = col.map(lambda v: "nan" if pd.isna(v) else ("inf" if np.isinf(v) else f"{v:.{digits}g}"))
    return out


def number_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A table as markdown with its numbers printed by `format_numbers` (cells as printed, not re-parsed)."""
    return format_numbers(df, digits).to_markdown(index=False, disable_numparse=True)
