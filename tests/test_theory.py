"""Closed forms of the theory chapter against independent computations, and every claim check against numbers
that contradict it (a check that cannot fail is no check)."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from headcount import claims, theory

PC, NR, PART, NT = claims.PROOF_CHECKED, claims.NOT_REPRODUCED, claims.PARTIAL, claims.NOT_TESTABLE


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
    v = theory.check_exponent(t)
    assert v.verdict == PC and v.numbers["linear in T: max_slope_deviation"] < 1e-9
    bent = t.copy()
    bent.loc[bent.index[-1], "k"] += 1.0  # a kink: no longer linear in T
    assert theory.check_exponent(bent).verdict == NR
    wrong = t.copy()
    wrong["threshold"] = wrong["threshold"] * 2  # vacuity claimed at the wrong place
    assert theory.check_exponent(wrong).verdict == NR
    short = theory.exponent_table([64, 128], [1], [2], [2])  # two lengths: no slope to check, vacuity still core
    assert [c["passed"] for c in theory.check_exponent(short).checks] == [None, True]


def test_corollary1_margins_and_check():
    df = theory.corollary1_margins(3000)
    assert set(map(tuple, df[["D1", "D2"]].to_numpy())) == {
        (a, b) for b in range(2, 10) for a in range(1, b) if 50 * (a * a + b * b) <= 3000}
    # the smallest margin sits at the smallest allowed T of each pair (k grows with T)
    assert (df["T_at_min"] == df["T_condition"]).all()
    assert df.loc[(df.D1 == 1) & (df.D2 == 2), "min_margin"].item() == pytest.approx((250 / 4 - 2) / 4 - 1 - 2)
    v = theory.check_corollary1(df, 3000)
    assert v.verdict == PC and v.numbers["margin positive: min_margin"] == pytest.approx(12.125)
    bad = df.copy()
    bad.loc[0, "min_margin"] = -0.1
    assert theory.check_corollary1(bad, 3000).verdict == NR
    none = theory.corollary1_margins(260).iloc[0:0]  # no pair fits: out of the page's regime
    v = theory.check_corollary1(none, 260)
    assert v.verdict == NT and v.out_of_regime


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
    assert theory.check_lemma2(df).verdict == PC
    bad = df.copy()
    bad.loc[0, "err_Y"] = 1e-3  # a counterexample to one identity: the core fails
    assert theory.check_lemma2(bad).verdict == NR
    assert "$" in theory.check_lemma2(df).test  # math in the test line is set as math


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
    assert theory.check_selector(df).verdict == PC
    worse = df.copy()
    worse.loc[worse["q"] == 1e4, "sup_error"] = 1.0  # error grows with q and exceeds the worst case
    assert theory.check_selector(worse).verdict == NR
    above = df.copy()
    above["sup_error"] *= 1.01  # above the exact worst case, still falling: the core fails
    assert theory.check_selector(above).verdict == NR
    unattained = df.copy()
    unattained["sup_error"] *= 0.5  # below the worst case everywhere: it is not attained, a supporting check
    assert theory.check_selector(unattained).verdict == PART
    loose = df.assign(bound=df["exact_sup"] / 2)  # the simple bound fails: supporting
    assert theory.check_selector(loose).verdict == PART


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
    assert theory.check_lemma1(res).verdict == PC
    bad = [dict(r) for r in res]
    bad[0] = {**bad[0], "errors": {**bad[0]["errors"], "total": 0.2}}  # more than 5 eta
    assert theory.check_lemma1(bad).verdict == NR
    flat = [{**res[0], "curvature": 0.0}, res[1]]  # no positive curvature: not admissible
    assert theory.check_lemma1(flat).verdict == NR
    same = [res[0], res[0]]  # identical minimisers violate Assumption 2.2
    assert theory.check_lemma1(same).verdict == NR


def _step(cid, verdict):
    return claims.Verdict(cid, "", verdict, "")


def test_check_density_follows_its_steps():
    steps = [_step("C2", PC), _step("C3", PC), _step("C4", PC)]
    v = theory.check_density(steps)
    assert v.verdict == PC  # a theorem: never "reproduced"
    assert theory.check_density([_step("C2", PC), _step("C3", NR), _step("C4", PC)]).verdict == NR  # one failed step
    assert theory.check_density([_step("C2", PC), _step("C3", PART), _step("C4", PC)]).verdict == PART
    assert theory.check_density([_step("C2", NT)]).verdict == NT  # no step with evidence


def test_density_page_all_steps_from_real_numbers_and_a_counterexample():
    from headcount.book.pages import theory_density as page

    P = page.SPEC.resolve(tier="smoke")
    ev = page.evidence(P, None)
    vs = {v.claim_id: v for v in page.judge(P, ev)}
    assert [vs[c].verdict for c in ("C1", "C2", "C3", "C4")] == [PC] * 4
    bad = dict(ev, lemma2=ev["lemma2"].assign(err_U=ev["lemma2"]["err_U"] + 1.0))  # Lemma 2 fed a counterexample
    vs = {v.claim_id: v for v in page.judge(P, bad)}
    assert vs["C2"].verdict == NR and vs["C1"].verdict == NR
    assert "Measured" in page.selector_text(ev["selector"]) and "not below" not in page.selector_text(ev["selector"])
    assert "not below" in page.selector_text(ev["selector"].assign(bound=0.0))


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
    assert theory.check_lemma4(df).verdict == PC
    bad = df.copy()
    bad.loc[0, "max_ratio"] = 1.3  # a network above the bound: the lemma's core fails
    assert theory.check_lemma4(bad).verdict == NR
    loose = df.assign(extremal_ratio=0.5)  # the bound not reached: tightness is supporting
    assert theory.check_lemma4(loose).verdict == PART
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
    assert theory.check_lemma5(df, r).verdict == PC
    bad = df.copy()
    bad.loc[0, "min_ratio"] = 0.5
    assert theory.check_lemma5(bad, r).verdict == NR
    assert theory.check_lemma5(df.assign(min_excess=0.0), r).verdict == NR
    assert theory.check_lemma5(df, 0.0).verdict == NT  # no radius on the grid: nothing to test


# ---- the mechanism check ----------------------------------------------------------------------------------


def _mech(one_head_L, construction_L, Ts=(8, 32, 128)):
    rows = [dict(model="m1", kind="one head", T=T, required_lipschitz=L) for T, L in zip(Ts, one_head_L)]
    rows += [dict(model="c", kind="h = D construction", T=T, required_lipschitz=L) for T, L in zip(Ts, construction_L)]
    return pd.DataFrame(rows)


def test_check_mechanism():
    v = theory.check_mechanism(_mech([10, 40, 160], [0.8, 0.8, 0.8]))
    assert v.verdict == PC and v.numbers["grows with T, one head: min_growth"] == pytest.approx(16)
    assert theory.check_mechanism(_mech([math.inf] * 3, [0.8, 0.8, 0.8])).verdict == PC
    assert theory.check_mechanism(_mech([10, 11, 12], [0.8, 0.8, 0.8])).verdict == NR  # one head does not grow: core
    assert theory.check_mechanism(_mech([10, 40, 160], [0.8, 3.0, 9.0])).verdict == PART  # the contrast fails
    assert theory.check_mechanism(_mech([math.inf, 5, 5], [1, 5, 9])).verdict == NR
    only_con = _mech([10, 40, 160], [0.8, 0.8, 0.8])
    assert theory.check_mechanism(only_con[only_con["kind"] != "one head"]).verdict == NT  # no one-head model


# ---- Theorem 2(3) checks ----------------------------------------------------------------------------------


def test_memorising_checks_fail_on_contradicting_numbers():
    att = pd.DataFrame(dict(T=[4, 8], max_weight_dev=[0.0, 0.0], max_output_dev=[0.0, 0.0]))
    assert theory.check_memorising_attention(att).verdict == PC
    assert theory.check_memorising_attention(att.assign(max_output_dev=[0.0, 1e-3])).verdict == NR
    assert theory.check_memorising_attention(att.assign(max_weight_dev=[1e-3, 0.0])).verdict == NR

    l9 = pd.DataFrame(dict(T=[4], eps=[0.1], n_grid=[10], err_min=[0.0], err_max=[0.09], width1=[40], width2=[20]))
    assert theory.check_lemma9(l9).verdict == PC
    assert theory.check_lemma9(l9.assign(err_max=[0.1])).verdict == NR  # must stay strictly below 1/n
    assert theory.check_lemma9(l9.assign(err_min=[-0.01])).verdict == NR  # below the maximum
    assert theory.check_lemma9(l9.assign(width1=[81])).verdict == NR

    m8 = pd.DataFrame(dict(T=[4], eps=[0.1], n_affine=[5], max_abs_diff=[1e-15], scale=[2.0]))
    assert theory.check_lemma8(m8).verdict == PC
    assert theory.check_lemma8(m8.assign(n_affine=[7])).verdict == NR
    assert theory.check_lemma8(m8.assign(max_abs_diff=[1e-3])).verdict == NR

    rows = [dict(T=T, eps=e, sup_error=e / 3, M=100 * T / e) for T in (4, 8, 16) for e in (0.2, 0.1, 0.05)]
    cons = pd.DataFrame(rows)
    v = theory.check_memorising(cons)
    assert v.verdict == PC and v.numbers["M no faster than linear in T: slope_T"] == pytest.approx(1.0)
    assert theory.check_memorising(cons.assign(sup_error=cons["eps"] * 2)).verdict == NR
    assert theory.check_memorising(cons.assign(M=100 * cons["T"] ** 2 / cons["eps"])).verdict == NR  # faster than T
    assert theory.check_memorising(cons.assign(M=100 * cons["T"] ** 0.5 / cons["eps"])).verdict == PART  # slower: fine
    one = cons[(cons["T"] == 4) & (cons["eps"] == 0.2)]
    assert theory.check_memorising(one).checks[-1]["passed"] is None  # nothing to fit


def test_format_numbers_keeps_integers_whole():
    df = pd.DataFrame(dict(width=[1600, 12800], err=[0.0123456, math.inf], ok=[True, False], name=["a", "b"]))
    out = theory.format_numbers(df, 3)
    assert out["width"].tolist() == ["1600", "12800"]
    assert out["err"].tolist() == ["0.0123", "inf"]
    assert out["ok"].tolist() == ["True", "False"] and out["name"].tolist() == ["a", "b"]


# ---- the theory pages: evidence, verdicts and computed sentences -------------------------------------------


def test_too_few_heads_page_uses_the_tables_widths_and_judges_c29_as_proof_only():
    from headcount.book.pages import theory_too_few_heads as page

    exp = page.experiment_scale()
    t4 = exp[(exp["table"].str.startswith("Table 4")) & (exp["s"] == 2)]
    assert set(t4["n"]) == {16} and set(t4["threshold"]) == {156}  # fixed E = n h = 32 at h = 2
    assert t4["vacuous"].all()
    assert exp[exp["table"].str.startswith("Table 3") & (exp["s"] == 3)]["n"].eq(11).all()  # ceil(32/3)
    text = page.scale_text(exp)
    assert "vacuous at every $T \\le 128$ in all 3 tables" in text
    assert "Table 4 (E = 32), h = 2 (n = 16): threshold 156, k = -0.200 at T = 128" in text
    assert "Table 2 (n = 8), h = 1 (n = 8): threshold 56, k = 1.800 at T = 128, non-vacuous from T = 64" in text
    assert any(n == 16 and D == 3 for _, s, n, D in page.SETTINGS)
    # a counterfactual table where h = D - 1 is non-vacuous changes the sentence
    fake = exp.assign(vacuous=False)
    assert page.scale_text(fake).startswith("At $h = D - 1$ the bound is non-vacuous")

    P = page.SPEC.resolve(tier="smoke")
    ev = page.evidence(P, None)
    vs = {v.claim_id: v for v in page.judge(P, ev)}
    assert vs["C29"].verdict == claims.PROOF_ONLY
    assert all(vs[c].verdict == PC for c in ("C7", "C8", "C9", "C10"))
    assert "grows by" in page.mechanism_text(ev["mechanism"])
    assert "infinite at every T" in page.mechanism_text(ev["mechanism"])


def test_memorise_page_sentences_follow_the_numbers():
    from headcount.book.pages import theory_memorise as page

    P = page.SPEC.resolve(tier="smoke")
    ev = page.evidence(P, None)
    assert [v.verdict for v in page.judge(P, ev)] == [PC] * 4
    assert "from 1/T 0.0e+00" in page.attention_text(ev["attention"])
    assert "from 1/T 1.0e-03" in page.attention_text(ev["attention"].assign(max_weight_dev=1e-3))
    l9 = pd.DataFrame(dict(T=[8], eps=[0.1], n_grid=[10], err_min=[0.0], err_max=[0.05], width1=[80], width2=[10]))
    assert page.lemma9_text(l9).startswith("Measured: largest error in grid steps $1/n$, per $T$ (the worst case $1 - 1/T$ "
                                           "in brackets): T = 8: 0.5000 (0.8750)")
    rows = [dict(T=T, eps=e, sup_error=e / 3, M=100 * T / e) for T in (4, 8) for e in (0.2, 0.1)]
    assert "in $T$ between 1.00 and 1.00" in page.count_text(pd.DataFrame(rows))


def test_uniqueness_page_sentences_and_c30():
    from headcount.book.pages import theory_uniqueness as page

    P = page.SPEC.resolve(tier="smoke")
    ev = page.evidence(P, None)
    vs = page.judge(P, ev)
    assert [v.verdict for v in vs] == [PC, claims.PROOF_ONLY]
    assert page.proof_only_text(vs).startswith("Claim C30 is recorded as *proof only*")
    text = page.margin_text(ev["margins"])
    assert "smallest margin is 12.125, at D1 = 1, D2 = 2, T = 250" in text and "sufficient, with room" in text
    late = ev["margins"].assign(T_first_ok=ev["margins"]["T_condition"] * 2)
    assert "only at or after it" in page.margin_text(late)
    assert page.margin_text(ev["margins"].iloc[0:0]).startswith("No pair")


# ---- the theory pages are declared once: no stored runs, text blocks computed by the page --------------------

THEORY_PAGES = ("theory_density", "theory_heads_suffice", "theory_too_few_heads", "theory_memorise",
                "theory_uniqueness")


@pytest.mark.parametrize("stem", THEORY_PAGES)
def test_a_theory_page_stores_no_runs_and_the_planner_knows(stem):
    """A theory page computes everything at build time: it has no `sweeps`, so the runner plans nothing for it,
    `status` reports it as computed at build time, and its evidence never touches the store."""
    from headcount.book.pages import page_module, page_planner, planned_runs

    mod = page_module(stem)
    assert not hasattr(mod, "sweeps") and hasattr(mod, "evidence")
    spec, planner = page_planner(stem)
    assert spec is mod.SPEC and planner is None
    for tier in ("smoke", "laptop", "paper"):
        assert planned_runs(stem, {"tier": tier}) == set()


@pytest.mark.parametrize("stem", THEORY_PAGES)
def test_a_theory_pages_header_names_its_tier_and_every_parameter(stem):
    from headcount.book.pages import page_module

    mod = page_module(stem)
    P = mod.SPEC.resolve(tier="smoke")
    head = mod.header_markdown(P)
    assert head.startswith("**Tier `smoke`.** Parameters of this page:\n\n| parameter | value | meaning |")
    assert all(f"| `{name}` | `{P[name]}` |" in head for name in mod.SPEC.names)


def test_number_table_prints_the_formatted_cells_as_they_are():
    df = pd.DataFrame({"width": [1600, 12800], "err": [0.012345, math.inf], "ok": [True, False]})
    lines = theory.number_table(df, 2).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["width", "err", "ok"]
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["1600", "0.012", "True"]
    assert [c.strip() for c in lines[3].strip("|").split("|")] == ["12800", "inf", "False"]


def test_the_theory_pages_scale_lines_follow_the_parameters():
    from headcount.book.pages import (theory_density as dens, theory_heads_suffice as hs, theory_memorise as mem,
                                      theory_too_few_heads as tfh, theory_uniqueness as uni)

    assert dens.selector_scale(dens.SPEC.resolve("smoke")) == "tier smoke: T = 8, 5 sequences per family and q"
    assert dens.lemma1_scale(dens.SPEC.resolve("laptop")) == "tier laptop, 20001 grid points"
    P = hs.SPEC.resolve("smoke", n_eval=7)
    assert hs.scale_text(P) == (f"tier smoke: T in {P['T_grid']}, {len(P['beta_grid'])} temperatures, "
                                "7 sampled sequences per (task, T)")
    assert mem.count_scale(mem.SPEC.resolve("smoke", T_grid=[4, 8])).startswith("tier smoke: T in [4, 8], eps in ")
    P = tfh.SPEC.resolve("smoke")
    assert tfh.mechanism_scale({**P, "mech_eps": 0.05, "mech_base": 3}) == (
        "tier smoke: eps = 0.05, 3 base sequences per (model, T)")
    assert tfh.exponent_scale({**P, "plot_T_max": 512}) == "closed form, T up to 512"
    assert uni.margin_scale({**uni.SPEC.resolve("smoke"), "T_max": 300}) == "tier smoke: every integer T up to 300"


def test_heads_suffice_shows_three_temperatures_and_the_middle_eps():
    from headcount.book.pages import theory_heads_suffice as page

    P = {"beta_grid": [8.0, 1.0, 4.0, 2.0, 16.0], "eps_grid": [0.3, 0.01, 0.1]}
    cols = ["task", "T", "beta", "family", "head_excess_min", "head_excess_max", "bound_head", "model_sup_error",
            "bound_model"]
    err = pd.DataFrame([{c: 0.0 for c in cols} | {"beta": b, "extra": 1} for b in P["beta_grid"]])
    shown = page.error_shown(err, P)
    assert list(shown.columns) == cols and sorted(shown["beta"]) == [1.0, 4.0, 16.0]
    assert page.eps_shown(P) == 0.1
    sub_cols = ["T", "offset", "family", "head", "S_size", "excess_min", "excess_max", "bound_15", "within_15",
                "interval_lo", "interval_hi", "within_interval", *page.HYPOTHESES]
    sub = pd.DataFrame([{c: 1 for c in ["dropped", *sub_cols]}])
    assert list(page.subset_shown(sub).columns) == sub_cols


def test_lemma5_sentence_follows_the_numbers():
    from headcount.book.pages import theory_too_few_heads as page

    l5 = pd.DataFrame({"min_ratio": [1.25, 1.5, 2.0], "min_excess": [0.01, 0.002, 0.3]})
    text = page.lemma5_text(l5, r=0.25, lam=2.0)
    assert text.startswith("$\\lambda_{\\min}(A) = 2$, $r = 0.25$, $L = \\lambda_{\\min} r / 8 = 0.0625$. Over 3 directions")
    assert "= 1.250 (the lemma says $\\ge 1$)" in text and "segments = 0.002 (the lemma says $> 0$)" in text
