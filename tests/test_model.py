"""The eq. (4) model: shapes per head, attention against independent references, c0 never a key,
permutation invariance, and the L-layer variant."""

import math

import pytest
import torch
from torch.nn import functional as F

from headcount.model import HeadcountTransformer, ModelConfig, count_parameters


def make(h=3, n=5, d=4, N=7, beta=1.0, n_layers=1, seed=0):
    torch.manual_seed(123)  # the model uses its own generator; this only pins test inputs below
    return HeadcountTransformer(ModelConfig(d=d, h=h, n=n, N=N, beta=beta, n_layers=n_layers), seed=seed).double()


@pytest.mark.parametrize("h,n", [(1, 8), (3, 5), (5, 2), (4, 1)])
def test_parameter_shapes_per_head(h, n):
    m = make(h=h, n=n)
    E = n * h
    assert m.attn.W_Q.shape == (h, n, E)
    assert m.attn.W_K.shape == (h, n, E)
    assert m.attn.W_V.shape == (h, n, E)
    assert m.attn.W_O.shape == (E, E)
    assert m.c0.shape == (E,)
    assert m.encoder.mlp.w1.shape == (7, 4) and m.encoder.mlp.w2.shape == (E, 7)
    assert m.readout.w1.shape == (7, E) and m.readout.w2.shape == (1, 7)
    # M counts encoder + feed-forward block: (d N + N) + (N E + E) + (E N + N) + (N + 1)
    assert count_parameters(m, "ffn") == (4 * 7 + 7) + (7 * E + E) + (E * 7 + 7) + (7 + 1)


def loop_reference(m: HeadcountTransformer, x: torch.Tensor) -> torch.Tensor:
    """c0 + W_O concat_i sum_t softmax_t(beta (W_Q,i c0).(W_K,i x(t))) W_V,i x(t), by explicit loops."""
    xh = m.encoder(x)
    B, T, E = xh.shape
    out = torch.zeros(B, E, dtype=x.dtype)
    for b in range(B):
        cat = []
        for i in range(m.cfg.h):
            q = m.attn.W_Q[i] @ m.c0
            logits = torch.stack([m.cfg.beta * q @ (m.attn.W_K[i] @ xh[b, t]) for t in range(T)])
            w = torch.exp(logits - logits.max())
            w = w / w.sum()
            cat.append(sum(w[t] * (m.attn.W_V[i] @ xh[b, t]) for t in range(T)))
        out[b] = m.c0 + m.attn.W_O @ torch.cat(cat)
    return out


@pytest.mark.parametrize("beta", [1.0, 3.5])
def test_attention_matches_loop_over_heads_and_tokens(beta):
    m = make(h=3, n=4, beta=beta)
    x = torch.randn(5, 6, 4, dtype=torch.float64)
    torch.testing.assert_close(m.pre_readout(x), loop_reference(m, x), atol=1e-6, rtol=0)


def test_attention_matches_torch_sdpa_with_one_query():
    m = make(h=4, n=3, beta=2.0)
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    xh = m.encoder(x)
    h, n = m.cfg.h, m.cfg.n
    q = torch.einsum("hne,e->hn", m.attn.W_Q, m.c0)[None, :, None, :].expand(3, h, 1, n)  # (B, h, 1, n)
    k = torch.einsum("hne,bte->bhtn", m.attn.W_K, xh)
    v = torch.einsum("hne,bte->bhtn", m.attn.W_V, xh)
    # sdpa scales by 1/sqrt(n) by default; pass scale=beta to get eq. (5)
    o = F.scaled_dot_product_attention(q, k, v, scale=m.cfg.beta)  # (B, h, 1, n)
    ref = m.c0 + o[:, :, 0, :].reshape(3, h * n) @ m.attn.W_O.T
    torch.testing.assert_close(m.pre_readout(x), ref, atol=1e-6, rtol=0)


def test_c0_is_not_a_key():
    m = make(h=2, n=3)
    x = torch.randn(4, 7, 4, dtype=torch.float64)
    w = m.attention_weights(x)
    assert w.shape == (4, 2, 7)  # weights over the T tokens only
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 2, dtype=torch.float64))
    # With W_Q = 0 the logits vanish; if c0 were a key the output would be the mean over T + 1 vectors
    # including W_V c0. It must be the mean over the T tokens alone.
    with torch.no_grad():
        base = m.pre_readout(x) - m.c0
        m.attn.W_Q.zero_()  # uniform attention: output is then the plain mean over the T tokens
        uniform = m.pre_readout(x) - m.c0
    v = torch.einsum("hne,bte->bthn", m.attn.W_V, m.encoder(x)).mean(1).reshape(4, -1) @ m.attn.W_O.T
    torch.testing.assert_close(uniform, v, atol=1e-10, rtol=0)
    assert not torch.allclose(base, uniform)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_permutation_invariance_without_positional_encoding(n_layers):
    m = make(h=3, n=4, n_layers=n_layers)
    x = torch.randn(6, 10, 4, dtype=torch.float64)
    perm = torch.randperm(10)
    torch.testing.assert_close(m(x), m(x[:, perm]), atol=1e-10, rtol=0)


def test_same_seed_same_weights_and_h_n_independent():
    a, b = make(seed=5), make(seed=5)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = make(seed=6)
    assert not torch.equal(a.c0, c.c0)
    # h and n are independent: E = n h
    assert make(h=2, n=6).cfg.E == 12 and make(h=6, n=2).cfg.E == 12


def test_two_layer_variant_has_one_token_block():
    m = make(n_layers=2)
    assert len(m.blocks) == 1 and len(make().blocks) == 0


@pytest.mark.parametrize("field,value", [("h", 0), ("n", -1), ("N", 0), ("d", 1.5), ("beta", 0.0)])
def test_config_rejects_bad_values(field, value):
    kw = dict(d=4, h=2, n=2, N=4, beta=1.0)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        ModelConfig(**kw)


def test_wrong_input_shape_is_rejected():
    m = make()
    with pytest.raises(ValueError, match="d=4"):
        m(torch.randn(2, 5, 3, dtype=torch.float64))


def test_large_beta_approaches_hardmax():
    m = make(h=1, n=2, beta=1e4)
    x = torch.randn(2, 8, 4, dtype=torch.float64)
    w = m.attention_weights(x)
    assert math.isclose(float(w.detach().max(-1).values.min()), 1.0, abs_tol=1e-6)
