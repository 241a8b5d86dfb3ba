"""Closed forms of the theory chapter against independent computations, and every claim check against numbers
that contradict it (a check that cannot fail is no check)."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from headcount import claims, theory

R, NR, PART = claims.REPRODUCED, claims.NOT_REPRODUCED, claims.PARTIAL


# ---- Theorem 2(2): the exponent ---------------------------------------------------------------------------


@pytest.mark.parametrize("T,s,n,D,k", [(128, 3, 8, 4, -1 / 14), (512, 3, 8, 4, 122 / 28 - 1), (128, 1, 2, 2, 6.5),
                                       (256, 1, 2, 2, 14.5)])
def test_exponent_values(T, s, n, D, k):
    # by hand: (T/4 - s - D + 1) / ((n+1)s + 1) - 1
    assert theory.lower_bound_exponent(T, s, n, D) == pytest.approx((T / 4 - s - D + 1) / ((n + 1) * s + 1) - 1)
    assert theory.lower_bound_exponent(T, s, n, D) == pytest.approx(k)


def test_vacuous_exactly_below_threshold():
    assert theory.vacuity_threshold(3, 8, 4) == 136
    for s, n, D in [(3, 8, 4), (1, 2, 2), (2, 8, 3), (1, 32, 2)]:
        thr = theory.vacuity_threshold(s, n, D)
        for T in range(4, 3 * thr):
            assert theory.is_vacuous(T, s, n, D) == (T <= thr)


def test_check_exponent_passes_and_fails():
    t = theory.exponent_table([64, 128, 256, 512], [1, 3], [2, 8], [2, 4])
    assert theory.check_exponent(t).verdict == R
    bent = t.copy()
    bent.loc[bent.index[-1], "k"] += 1.0  # a kink: no longer linear in T
    assert theory.check_exponent(bent).verdict != R
    wrong = t.copy()
    wrong["threshold"] = wrong["threshold"] * 2  # vacuity claimed at the wrong place
    assert theory.check_exponent(wrong).verdict != R


def test_corollary1_margins_and_check():
    df = theory.corollary1_margins(3000)
    assert set(map(tuple, df[["D1", "D2"]].to_numpy())) == {
        (a, b) for b in range(2, 10) for a in range(1, b) if 50 * (a * a + b * b) <= 3000}
    # the smallest margin sits at the smallest allowed T of each pair (k grows with T)
    assert (df["T_at_min"] == df["T_condition"]).all()
    assert df.loc[(df.D1 == 1) & (df.D2 == 2), "min_margin"].item() == pytest.approx((250 / 4 - 2) / 4 - 1 - 2)
    assert theory.check_corollary1(df, 3000).verdict == R
    bad = df.copy()
    bad.loc[0, "min_margin"] = -0.1
    assert theory.check_corollary1(bad, 3000).verdict == NR


# ---- Lemma 2 ----------------------------------------------------------------------------------------------


def test_lemma2_bruteforce_matches_definition_and_closed_form():
    x = np.array([[0.3], [0.9], [0.1], [0.9], [0.5], [0.3], [0.7], [0.2]])
    bf = theory.subset_minima_bruteforce(x, 2)
    # independent: enumerate subsets in plain Python
    U = max(min(x[list(B), 0]) for B in itertools.combinations(range(8), 2))
    Y3 = max(min(x[list(A), 0]) for A in itertools.combinations(range(8), 2) if 3 in A)
    assert bf["U"][0] == U == 0.9  # the 2nd largest is the tied 0.9
    assert bf["Y"][3, 0] == Y3
    cf = theory.order_statistics_closed_form(x, 2)
    assert np.array_equal(bf["Y"], cf["Y"]) and np.array_equal(bf["Z"], cf["Z"])


def test_check_lemma2():
    df = theory.lemma2_check(T=8, m=2, d=2, n_random=3, seed=1)
    assert (df[["err_U", "err_Y", "err_Z"]] == 0).all().all()
    assert theory.check_lemma2(df).verdict == R
    bad = df.copy()
    bad.loc[0, "err_Y"] = 1e-3
    assert theory.check_lemma2(bad).verdict == PART


# ---- Lemma 3 ----------------------------------------------------------------------------------------------


def test_selector_worst_case_formula():
    for q in [1.0, 10.0, 1e3, 1e6]:
        exact, b = theory.selector_worst_case(q)
        assert exact <= 1 / math.sqrt(2 * math.e * q)
        assert exact == pytest.approx(b / (1 + math.exp(q * b * b)), rel=1e-9)
        # the adversarial sequence with that gap attains it
        x = np.full((8, 1), 0.9)
        x[0] = 0.9 - b
        cf = theory.order_statistics_closed_form(x, 2)
        xt = theory.smooth_selector(cf["Y"], cf["Z"], cf["v_m"], cf["w_m"], q)
        assert np.abs(xt - x).max() == pytest.approx(exact, rel=1e-9)


def test_selector_never_beats_exact_worst_case_on_random_inputs():
    rng = np.random.default_rng(0)
    for q in [3.0, 300.0]:
        exact, _ = theory.selector_worst_case(q)
        for _ in range(300):
            x = rng.random((8, 1))
            cf = theory.order_statistics_closed_form(x, 2)
            xt = theory.smooth_selector(cf["Y"], cf["Z"], cf["v_m"], cf["w_m"], q)
            assert np.abs(xt - x).max() <= exact + 1e-12


def test_check_selector():
    df = theory.selector_errors([1.0, 100.0, 1e4], T=8, m=2, n_random=3, n_adversarial=5, seed=0)
    assert theory.check_selector(df).verdict == R
    worse = df.copy()
    worse.loc[worse["q"] == 1e4, "sup_error"] = 1.0  # error grows with q and exceeds the worst case
    assert theory.check_selector(worse).verdict == NR


# ---- Lemma 1 ----------------------------------------------------------------------------------------------


def _plateaus(x):
    return 0.2 + 0.5 * np.maximum(0.0, np.minimum(np.abs(x - 0.25), np.abs(x - 0.75)) - 0.05)


def test_bernstein_reproduces_linear_functions_and_stays_in_range():
    x = np.linspace(0, 1, 101)
    p = theory.bernstein(0.2 + 0.5 * np.linspace(0, 1, 41), x)  # Bernstein operators fix affine functions
    assert np.allclose(p, 0.2 + 0.5 * x, atol=1e-12)
    q = theory.bernstein(_plateaus(np.linspace(0, 1, 201)), x)
    assert q.min() >= 0.2 - 1e-12 and q.max() <= _plateaus(x).max() + 1e-12


def test_lemma1_repair_and_check():
    res = [theory.lemma1_repair(_plateaus, 0.02, grid=4001), theory.lemma1_repair(_plateaus, 0.02, shift_sign=1, grid=4001)]
    for r in res:
        assert r["errors"]["total"] <= 5 * r["eta"] and r["strict_min"] and r["curvature"] > 0
    assert res[0]["argmin"] != res[1]["argmin"]
    assert theory.check_lemma1(res).verdict == R
    bad = [dict(r) for r in res]
    bad[0] = {**bad[0], "errors": {**bad[0]["errors"], "total": 0.2}}  # more than 5 eta
    assert theory.check_lemma1(bad).verdict == PART
    same = [res[0], res[0]]  # identical minimisers violate Assumption 2.2
    assert theory.check_lemma1(same).verdict != R


def test_check_density_follows_its_steps():
    ok = claims.Verdict("C2", "", R, "")
    no = claims.Verdict("C3", "", NR, "")
    assert theory.check_density([ok, ok]).verdict == R
    assert theory.check_density([ok, no]).verdict == PART


# ---- Theorem 2(1): soft-min closed forms --------------------------------------------------------------------


def _softmin_excess(psi: torch.Tensor, beta: float) -> torch.Tensor:
    w = torch.softmax(-beta * psi, dim=-1)
    return (w * psi).sum(-1) - psi.min(-1).values


@pytest.mark.parametrize("T,beta", [(8, 5.0), (32, 50.0), (128, 400.0)])
def test_softmin_worst_case_is_attained_and_not_exceeded(T, beta):
    worst, g = theory.softmin_worst_gap(T, beta)
    psi = torch.full((1, T), g, dtype=torch.float64)
    psi[0, 0] = 0.0
    assert float(_softmin_excess(psi, beta)) == pytest.approx(worst, rel=1e-6)
    gen = torch.Generator().manual_seed(T)
    for scale in (1.0, 4.0 / beta, 1.0 / beta):  # random values, and values crowded near the minimum
        psi = (torch.rand(4000, T, generator=gen, dtype=torch.float64) * scale).clamp(max=1.0)
        assert float(_softmin_excess(psi, beta).max()) <= worst + 1e-12
    assert worst <= theory.softmin_bound(T, 0, beta)


def test_beta_needed_inverts():
    for T in (8, 128):
        b = theory.beta_needed(T, 0.01, "worst case")
        assert theory.softmin_worst_case(T, b) <= 0.01 < theory.softmin_worst_case(T, b / 1.01)
        assert theory.softmin_bound(T, 0, theory.beta_needed(T, 0.01, "bound")) == pytest.approx(0.01)
    assert theory.theorem21_beta(128, 0.01, 2.0, 2) == pytest.approx(4 * 128 * 2 * 2 / 0.01)
    with pytest.raises(ValueError):
        theory.beta_needed(8, 0.1, "typo")


def test_softmin_interval():
    lo, hi = theory.softmin_interval(4, 8, 10.0, 2.0)
    assert lo == pytest.approx(-4 * math.exp(-10)) and hi == pytest.approx(3 / (10 * math.e) + 4 * math.exp(-10))
    lo1, hi1 = theory.softmin_interval(4, 8, 10.0, 1.0)
    assert lo1 == -4 and hi1 > 4  # offset 1 separates nothing


# ---- Lemmas 4 and 5 ---------------------------------------------------------------------------------------


def test_lemma4_check_and_failure():
    df = theory.lemma4_check((4, 16), (2, 8), n_nets=3, n_pairs=50, seed=0)
    assert (df["max_ratio"] <= 1).all() and (df["extremal_ratio"] > 0.999).all()
    assert theory.check_lemma4(df).verdict == R
    bad = df.copy()
    bad.loc[0, "max_ratio"] = 1.3
    assert theory.check_lemma4(bad).verdict == PART
    assert theory.width_needed(100.0, 4) == 50.0


def test_hessian_matches_closed_form():
    A = np.array([[6.0, 2.0], [2.0, 3.0]])
    f = theory.gaussian_well((0.4, 0.6), A)
    lam = theory.hessian_min_eig(f, torch.tensor([[0.4, 0.6]], dtype=torch.float64))
    assert float(lam[0]) == pytest.approx(np.linalg.eigvalsh(A)[0])


def test_lemma5_check_and_failure():
    A = ((6.0, 2.0), (2.0, 3.0))
    f = theory.gaussian_well((0.4, 0.6), A)
    lam = float(np.linalg.eigvalsh(np.array(A))[0])
    r = theory.lemma5_radius(f, (0.4, 0.6), lam, [0.1, 0.2, 0.3, 0.4, 0.5], n_probe=100)
    assert 0 < r < 0.5  # the well is concave far out, so r is bounded
    df = theory.lemma5_check(f, (0.4, 0.6), r, lam, n_directions=8, n_pairs=50)
    assert theory.check_lemma5(df, r).verdict == R
    bad = df.copy()
    bad.loc[0, "min_ratio"] = 0.5
    assert theory.check_lemma5(bad, r).verdict == PART
    assert theory.check_lemma5(df, 0.0).verdict == NR


# ---- the mechanism check ----------------------------------------------------------------------------------


def _mech(one_head_L, construction_L, Ts=(8, 32, 128)):
    rows = [dict(model="m1", kind="one head", T=T, required_lipschitz=L) for T, L in zip(Ts, one_head_L)]
    rows += [dict(model="c", kind="h = D construction", T=T, required_lipschitz=L) for T, L in zip(Ts, construction_L)]
    return pd.DataFrame(rows)


def test_check_mechanism():
    assert theory.check_mechanism(_mech([10, 40, 160], [0.8, 0.8, 0.8])).verdict == R
    assert theory.check_mechanism(_mech([math.inf] * 3, [0.8, 0.8, 0.8])).verdict == R
    assert theory.check_mechanism(_mech([10, 11, 12], [0.8, 0.8, 0.8])).verdict == PART  # one head does not grow
    assert theory.check_mechanism(_mech([10, 40, 160], [0.8, 3.0, 9.0])).verdict == PART  # construction grows
    assert theory.check_mechanism(_mech([math.inf, 5, 5], [1, 5, 9])).verdict == NR


# ---- Theorem 2(3) checks ----------------------------------------------------------------------------------


def test_memorising_checks_fail_on_contradicting_numbers():
    att = pd.DataFrame(dict(T=[4, 8], max_weight_dev=[0.0, 0.0], max_output_dev=[0.0, 0.0]))
    assert theory.check_memorising_attention(att).verdict == R
    assert theory.check_memorising_attention(att.assign(max_output_dev=[0.0, 1e-3])).verdict == PART

    l9 = pd.DataFrame(dict(T=[4], eps=[0.1], n_grid=[10], err_min=[0.0], err_max=[0.09], width1=[40], width2=[20]))
    assert theory.check_lemma9(l9).verdict == R
    assert theory.check_lemma9(l9.assign(err_max=[0.1])).verdict != R  # must stay strictly below 1/n
    assert theory.check_lemma9(l9.assign(width1=[81])).verdict != R

    m8 = pd.DataFrame(dict(T=[4], eps=[0.1], n_affine=[5], max_abs_diff=[1e-15], scale=[2.0]))
    assert theory.check_lemma8(m8).verdict == R
    assert theory.check_lemma8(m8.assign(n_affine=[7])).verdict != R
    assert theory.check_lemma8(m8.assign(max_abs_diff=[1e-3])).verdict != R

    rows = [dict(T=T, eps=e, sup_error=e / 3, M=100 * T / e) for T in (4, 8, 16) for e in (0.2, 0.1, 0.05)]
    cons = pd.DataFrame(rows)
    assert theory.check_memorising(cons).verdict == R
    assert theory.check_memorising(cons.assign(sup_error=cons["eps"] * 2)).verdict != R
    assert theory.check_memorising(cons.assign(M=100 * cons["T"] ** 2 / cons["eps"])).verdict != R


def test_format_numbers_keeps_integers_whole():
    df = pd.DataFrame(dict(width=[1600, 12800], err=[0.0123456, math.inf], ok=[True, False], name=["a", "b"]))
    out = theory.format_numbers(df, 3)
    assert out["width"].tolist() == ["1600", "12800"]
    assert out["err"].tolist() == ["0.0123", "inf"]
    assert out["ok"].tolist() == ["True", "False"] and out["name"].tolist() == ["a", "b"]
