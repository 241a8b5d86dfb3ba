"""The proofs' hand-set models, run through the eq. (4) model class: Theorem 2(1) within its bound, Theorem 2(3)
memorising exactly, Lemma 8 and 9 networks, Assumption 1 models; and the page-level verdicts of the Theorem 2(1)
page against contradicting numbers."""

import math

import pandas as pd
import pytest
import torch

from headcount import claims, constructions as C, theory
from headcount.model import count_parameters
from headcount.book.pages import theory_heads_suffice as hs
from headcount.tasks import make_task

torch.set_num_threads(1)


# ---- Theorem 2(1) -----------------------------------------------------------------------------------------


def test_heads_suffice_weights_are_the_proofs():
    m = C.heads_suffice(make_task("max_plus_min", T=8), beta=3.0)
    assert (m.cfg.h, m.cfg.n, m.cfg.E) == (2, 2, 4)
    for W in (m.attn.W_Q, m.attn.W_K, m.attn.W_V, m.attn.W_O, m.c0):
        assert set(W.detach().unique().tolist()) <= {-1.0, 0.0, 1.0}
    q = torch.einsum("hne,e->hn", m.attn.W_Q, m.c0)
    assert torch.equal(q, torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64))  # W_Q,i c0 = (1, 0)
    assert m.attn.W_K[0, 0, :2].tolist() == [-1.0, 1.0]  # W_K = [-1 1] on block 1


@pytest.mark.parametrize("T", [8, 64])
@pytest.mark.parametrize("beta", [1.0, 30.0, 1e3, 1e5])
def test_heads_suffice_error_within_bound_on_max_plus_min(T, beta):
    task = make_task("max_plus_min", T=T)
    m = C.heads_suffice(task, beta)
    X = task.sample(300, seed=T)[0].double()
    Xa = hs.adversarial_max_plus_min(T, beta, 16, 0)
    X = torch.cat([X, Xa])
    exc = C.head_minima(m, X) - task.z(X)
    bound = theory.softmin_bound(T, 0, beta)  # S_i = [T]
    assert float(exc.min()) >= -1e-12 and float(exc.max()) <= bound
    assert float(exc.max()) <= theory.softmin_worst_case(T, beta) * (1 + 1e-6)
    with torch.no_grad():
        err = (m(X) - task.target(X)).abs().max()
    assert float(err) <= 2 * bound  # F0 = 1 - z1 + z2: each head error enters with weight 1


def test_heads_suffice_on_gaussian_sum_of_max_and_parameter_count():
    counts = set()
    for T in (8, 32):
        task = make_task("sum_of_max", D=4, d=4, T=T, a_seed=0)
        X = task.sample(200, seed=1)[0].double()
        errs = []
        for beta in (10.0, 1e3, 1e5):
            m = C.heads_suffice(task, beta)
            with torch.no_grad():
                errs.append(float((m(X) - task.target(X)).abs().max()))
            assert errs[-1] <= 4 * theory.softmin_bound(T, 0, beta)
            counts.add(count_parameters(m, "ffn"))
        assert errs[0] > errs[1] > errs[2]
    assert counts == {4 * (4 + 1) + 5}  # D (d + 1) for the Psi_i and D + 1 for F0, at every T


def test_proper_subsets_offset_one_fails_offset_two_holds():
    task = hs.subset_variant(16)
    adv = torch.ones(1, 16, 1, dtype=torch.float64)
    adv[0, task.subsets[0]] = 0.0
    z = task.z(adv)
    for beta in (10.0, 1e4):
        z1 = C.head_minima(C.heads_suffice(task, beta, offset=1.0), adv)
        assert float(z1[0, 0] - z[0, 0]) == pytest.approx(-0.5)  # ties: uniform attention, at any beta
        z2 = C.head_minima(C.heads_suffice(task, beta, offset=2.0), adv)
        lo, hi = theory.softmin_interval(8, 16, beta, 2.0)
        assert lo - 1e-12 <= float(z2[0, 0] - z[0, 0]) <= hi


def test_relu_interpolant():
    f = lambda x: 1.0 - torch.sin(math.pi * x[..., 0])  # noqa: E731
    for K in (4, 16):
        net = C.relu_interpolant(f, K)
        knots = torch.linspace(0, 1, K + 1, dtype=torch.float64)[:, None]
        with torch.no_grad():
            assert torch.allclose(net(knots), f(knots), atol=1e-12)
            grid = torch.linspace(0, 1, 5001, dtype=torch.float64)[:, None]
            assert float((net(grid) - f(grid)).abs().max()) <= math.pi**2 / (8 * K**2) + 1e-12
        assert net.width == K


def test_fitted_construction_reaches_eps():
    task = hs.smooth_pair(32)
    psis, F0 = C.fitted_parts(task, 20)
    m = C.heads_suffice(task, 1e5, psis, F0)
    X = task.sample(200, seed=0)[0].double()
    with torch.no_grad():
        err = float((m(X) - task.target(X)).abs().max())
    assert err <= 2 * (math.pi**2 / (8 * 20**2)) + 2 * theory.softmin_bound(32, 0, 1e5)
    assert count_parameters(m, "ffn") == 2 * (3 * 20 + 1) + 3


# ---- Theorem 2(3) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [3, 8, 32])
def test_memorising_head_outputs_the_mean_embedded_sequence_exactly(T):
    task = make_task("max_plus_min", T=T)
    m = C.memorising(task, 0.1)
    X = task.sample(100, seed=T)[0].double()
    with torch.no_grad():
        att = m.attention_weights(X)
        u = m.pre_readout(X)
    assert torch.equal(att, torch.full_like(att, 1.0 / T))
    # exact: each output coordinate is the single product fl(1/T) * x(t) (T = 3 shows 1/T is rounded once)
    assert torch.equal(u, X.reshape(100, T) * (1.0 / T))
    assert torch.allclose(u, X.reshape(100, T) / T, rtol=1e-15, atol=0)


@pytest.mark.parametrize("T,eps", [(4, 0.2), (16, 0.05)])
def test_memorising_model_reaches_eps_with_five_layers(T, eps):
    task = make_task("max_plus_min", T=T)
    m = C.memorising(task, eps)
    assert m.readout.net.n_affine == 5
    X = task.sample(300, seed=0)[0].double()
    with torch.no_grad():
        err = (m(X) - task.target(X)).abs().max()
    assert float(err) <= eps
    # Lemma 8: the merged network equals the three parts applied in turn
    _, (F1, F2, F3) = C.memorising_readout(task, eps / 2)
    assert (F1.n_affine, F2.n_affine, F3.n_affine) == (2, 3, 2)
    u = m.pre_readout(X)
    assert torch.allclose(F3(F2(F1(u))), m.readout.net(u), rtol=0, atol=1e-12)


@pytest.mark.parametrize("T,eps", [(1, 0.1), (3, 0.1), (7, 0.03)])
def test_lemma9_max_network(T, eps):
    net = C.lemma9_max_net(T, eps)
    n = math.ceil(1 / eps - 1e-12)
    assert net.widths == [T, T * n, 2 * n, 1] and max(net.widths[1:3]) <= 2 * T * n
    gen = torch.Generator().manual_seed(T)
    Y = torch.rand(2000, T, generator=gen, dtype=torch.float64)
    levels = torch.arange(n + 1, dtype=torch.float64) / n
    Y = torch.cat([Y, (levels[:, None] + 1 / (n * T)).clamp(max=1).expand(-1, T)])  # the worst case
    err = net(Y)[:, 0] - Y.max(1).values
    assert float(err.min()) >= -1e-12 and float(err.max()) < 1 / n


def test_relunet_merge_and_parallel_against_dense_reference():
    gen = torch.Generator().manual_seed(0)
    mats = [(torch.randn(5, 3, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)),
            (torch.randn(4, 5, generator=gen, dtype=torch.float64), torch.randn(4, generator=gen, dtype=torch.float64))]
    a = C.ReluNet(mats)
    b = C.ReluNet([(torch.randn(2, 4, generator=gen, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)),
                   (torch.randn(1, 2, generator=gen, dtype=torch.float64), torch.ones(1, dtype=torch.float64))])
    x = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    ref = torch.relu(x @ mats[0][0].T + mats[0][1]) @ mats[1][0].T + mats[1][1]
    assert torch.allclose(a(x), ref, atol=1e-12)
    ab = a.then(b)
    assert ab.n_affine == 3 and torch.allclose(ab(x), b(a(x)), atol=1e-12)
    p = C.parallel([a, a])
    assert torch.allclose(p(torch.cat([x, 2 * x], 1)), torch.cat([a(x), a(2 * x)], 1), atol=1e-12)
    with pytest.raises(ValueError):
        C.parallel([a, ab])


# ---- Assumption 1 and the mechanism -----------------------------------------------------------------------


def test_bounded_model_obeys_assumption_1():
    m = C.bounded_model(1, 1, 2, 16, beta=1.0, seed=3)
    for W in (m.attn.W_Q, m.attn.W_K, m.attn.W_V, m.attn.W_O, m.readout.w1, m.readout.w2):
        assert float(W.detach().abs().max()) <= 1.0
    xs = torch.linspace(0, 1, 10001, dtype=torch.float64)[None, :, None]
    with torch.no_grad():
        assert float(m.encoder(xs).norm(dim=-1).max()) <= 1.0


def test_required_lipschitz_for_two_constructions():
    task = make_task("max_plus_min", T=16)
    eps = 0.01
    beta = theory.theorem21_beta(16, eps, 2.0, 2)
    r = theory.required_lipschitz(C.heads_suffice(task, beta), task, eps, n_base=50)
    # sharp heads pass each moved extreme straight through: dH = du, so (dH - 2 eps)/du = 1 - 2 eps/dH
    assert 0.3 < r["required_lipschitz"] < 1.0 and r["pairs"] > 0
    from headcount.book.pages.theory_too_few_heads import _single_head_of_construction

    r1 = theory.required_lipschitz(_single_head_of_construction(task, beta), task, eps, n_base=50)
    assert r1["required_lipschitz"] == math.inf  # the min head never sees the max move


# ---- the Theorem 2(1) page's verdicts against contradicting numbers -------------------------------------------


def _sub(within_adv_1=False, within_adv_2=True, meets=True):
    rows = []
    for offset in (1.0, 2.0):
        for fam in ("random", "adversarial"):
            ok15 = True if fam == "random" else (within_adv_1 if offset == 1.0 else True)
            okI = True if fam == "random" or offset == 1.0 else within_adv_2
            rows.append(dict(T=8, beta=1e6, offset=offset, family=fam, head=1, S_size=4, excess_min=-0.5 if not ok15 else 0.0,
                             excess_max=0.0, bound_15=1e-6, within_15=ok15, interval_lo=-1, interval_hi=1,
                             within_interval=okI, tokens_in_unit_cube=meets or fam == "random", S_at_least_T_over_4=True,
                             psi_is_f_in_unit=True))
    return pd.DataFrame(rows)


PC, NR, PART, NT = claims.PROOF_CHECKED, claims.NOT_REPRODUCED, claims.PARTIAL, claims.NOT_TESTABLE


def test_heads_suffice_page_checks():
    err = pd.DataFrame(dict(task="t", T=8, beta=[1.0, 10.0, 100.0], family="random", head_excess_min=0.0,
                            head_excess_max=[0.1, 0.01, 0.001], bound_head=[1.0, 0.1, 0.01],
                            model_sup_error=[0.1, 0.01, 0.0005]))
    # eq. (15) fails on an admissible input: its core fails, whatever else holds
    v = hs.check_bound(err, _sub())
    assert v.verdict == NR and v.numbers["proper subsets, adversarial input: min_excess"] == -0.5
    assert hs.check_bound(err, _sub(within_adv_1=True)).verdict == PC
    # the same failure on an input outside the hypotheses is no evidence either way
    v = hs.check_bound(err, _sub(meets=False))
    assert v.verdict == PC and v.checks[-1]["passed"] is None and "tokens_in_unit_cube" in v.checks[-1]["detail"]
    over = err.assign(head_excess_max=[2.0, 0.01, 0.001])
    assert hs.check_bound(over, _sub(within_adv_1=True)).verdict == NR
    below = err.assign(head_excess_min=-0.1)  # the lower bound of (15) broken on all positions
    assert hs.check_bound(below, _sub(within_adv_1=True)).verdict == NR
    assert hs.check_offset_repair(_sub()).verdict == PC
    assert hs.check_offset_repair(_sub(within_adv_2=False)).verdict == NR
    assert "$" in hs.check_bound(err, _sub()).test and "_" not in hs.check_bound(err, _sub()).test.replace("$S_i", "").split("$")[0]

    temp = pd.DataFrame(dict(task="t", T=[8, 16], eps=0.01, error_at_rule=[0.001, 0.002],
                             error_at_rule_adversarial=[float("nan"), 0.003]))
    params = pd.DataFrame(dict(task="t", T=[8, 16], M_encoder_plus_F=[7, 7]))
    fitted = pd.DataFrame(dict(eps=0.01, T=[8, 16], K=[18, 18], M=[113, 113], sup_error=[0.005, 0.006]))
    assert hs.check_construction(err, temp, params, fitted).verdict == PC
    assert hs.check_construction(err, temp.assign(error_at_rule=[0.001, 0.02]), params, fitted).verdict == NR
    assert hs.check_construction(err, temp.assign(error_at_rule_adversarial=[0.0, 0.02]), params, fitted).verdict == NR
    assert hs.check_construction(err, temp, params.assign(M_encoder_plus_F=[7, 9]), fitted).verdict == NR
    assert hs.check_construction(err, temp, params, fitted.assign(K=[18, 30])).verdict == NR
    flat = err.assign(model_sup_error=[0.1, 0.1, 0.1])  # the error does not fall with beta: supporting
    assert hs.check_construction(flat, temp, params, fitted).verdict == PART


def test_heads_suffice_page_end_to_end_and_its_sentences():
    P = hs.SPEC.resolve(tier="smoke")
    ev = hs.evidence(P, None)
    vs = {v.claim_id: v for v in hs.judge(P, ev)}
    # the adversarial input meets the hypotheses, and (15) as stated fails on it
    adv = ev["subsets"][(ev["subsets"]["offset"] == 1.0) & (ev["subsets"]["family"] == "adversarial")]
    assert hs.meets_hypotheses(adv).all() and not adv["within_15"].all()
    assert vs["C5"].verdict == NR and vs["C5b"].verdict == PC and vs["C6"].verdict == PC
    assert "counterexample" in hs.subset_text(ev["subsets"])
    outside = ev["subsets"].assign(S_at_least_T_over_4=False)
    assert "outside the scope" in hs.subset_text(outside)
    assert hs.judge(P, dict(ev, subsets=outside))[0].verdict == PC  # then the adversarial row is no evidence
    t = hs.verdict_text(list(vs.values()))
    assert "C5 (eq. (15) as the paper states it) reads *not reproduced*: its core fails on proper subsets, adversarial input" in t
    assert "under the bound" in hs.error_text(ev["error"])
    assert "not always under" in hs.error_text(ev["error"].assign(bound_model=0.0))
    assert "(below 1 in every case)" in hs.temperature_text(ev["temperature"], max(P["eps_grid"]))
    assert "(above 1 in some case)" in hs.temperature_text(ev["temperature"].assign(error_at_rule=1.0), max(P["eps_grid"]))
    assert "the same at every T" in hs.fitted_text(ev["fitted"])
    assert "not the same" in hs.fitted_text(ev["fitted"].assign(K=range(len(ev["fitted"]))))
