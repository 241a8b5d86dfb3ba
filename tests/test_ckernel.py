"""The C kernel of the fused form's per-token part against `batched._TokenPool` (batched torch products) and
against the single model in float64; its build, its fallback and its FLOP count."""

import math

import pytest
import torch

from headcount.engine import batched, ckernel
from headcount.engine.batched import StackedTransformers, _TokenPool, _Workspace, train_stack
from headcount.model import HeadcountTransformer, ModelConfig
from headcount.engine.train import SyntheticRun, make_data

pytestmark = pytest.mark.skipif(not ckernel.available(), reason=f"C kernel unavailable: {ckernel.why_unavailable()}")

# float32 against float32 with sums in other orders (and FMA contraction) over at most a few hundred terms:
# observed relative differences ~1e-6; 1e-4 is far below a wrong term (which moves results by O(1)).
RTOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def inputs(G, B, T, d1, N, H, hs, seed=0):
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(G, B, T, d1, generator=g)
    x1[..., -1] = 1.0
    W1a = torch.randn(G, d1, N, generator=g)
    At, ct = 0.5 * torch.randn(G, H, N, generator=g), torch.randn(G, H, 1, generator=g)
    for m, h in enumerate(hs):  # heads beyond a model's own h are zero, as in a stack
        At[m, h:], ct[m, h:] = 0, 0
    gp = torch.randn(G, B, H, N, generator=g)
    return x1, W1a, At, ct, gp


def run(fn, x1, W1a, At, ct, gp):
    W1a, At, ct = (t.clone().requires_grad_() for t in (W1a, At, ct))
    pooled = fn(x1, W1a, At, ct)
    pooled.backward(gp)
    return [pooled.detach(), W1a.grad, At.grad, ct.grad]


def close(a, b, scale):
    return torch.allclose(a, b, rtol=RTOL, atol=RTOL * scale)


# (T, d1, N, hs): T a multiple of 8 and not (padded tokens); d = 4 and N in the shapes the kernel compiles
# specially, and a generic d1 and N; a head count of 1, head counts mixed in one call, and h = H.
SHAPES = [
    (64, 5, 32, [1, 2, 3, 4, 5]),
    (13, 5, 16, [2, 5, 1]),
    (7, 3, 40, [3, 3]),
    (24, 5, 64, [6, 1, 4]),
    (1, 5, 8, [1, 2]),
]


@pytest.mark.parametrize("T, d1, N, hs", SHAPES)
def test_values_and_gradients_equal_the_batched_products(T, d1, N, hs):
    G, B, H = len(hs), 3, max(hs)
    x1, W1a, At, ct, gp = inputs(G, B, T, d1, N, H, hs)
    chunks = [(m, m + 1, h) for m, h in enumerate(hs)]
    ref = run(lambda *a: _TokenPool.apply(*a, _Workspace(), chunks), x1, W1a, At, ct, gp)
    got = run(lambda *a: ckernel.TokenPoolC.apply(*a, hs), x1, W1a, At, ct, gp)
    for name, a, b in zip(("pooled", "d W1a", "d At"), got, ref):
        assert close(a, b, b.abs().max()), (name, (a - b).abs().max().item())
    # d ct_i = sum_t d logit_i(t) is 0 exactly (a softmax is unchanged by a constant added to its logits): both
    # paths give rounding noise, small against the d logit terms that d At sums
    assert got[3].abs().max() <= RTOL * ref[2].abs().max() and ref[3].abs().max() <= RTOL * ref[2].abs().max()
    for m, h in enumerate(hs):  # padded heads: nothing out, nothing back
        assert bool((got[0][m, :, h:] == 0).all()) and bool((got[2][m, h:] == 0).all())


def test_shared_input_and_gathered_rows_equal_a_copied_minibatch():
    hs, T, d1, N = [1, 3, 2], 10, 5, 16
    G, B, H = len(hs), 4, max(hs)
    x1, W1a, At, ct, gp = inputs(G, B, T, d1, N, H, hs, seed=3)
    data = torch.randn(9, T, d1, generator=torch.Generator().manual_seed(4))
    idx = torch.tensor([[0, 8, 3, 3], [5, 1, 2, 7], [6, 6, 0, 4]])
    copied = run(lambda *a: ckernel.TokenPoolC.apply(data[idx].contiguous(), *a[1:], hs), x1, W1a, At, ct, gp)
    gathered = run(lambda *a: ckernel.TokenPoolC.apply(data, *a[1:], hs, idx), x1, W1a, At, ct, gp)
    for a, b in zip(gathered, copied):
        assert torch.equal(a, b)  # the same rows in the same order: bit for bit
    shared = run(lambda *a: ckernel.TokenPoolC.apply(data[:B].expand(G, B, T, d1), *a[1:], hs), x1, W1a, At, ct, gp)
    each = run(lambda *a: ckernel.TokenPoolC.apply(data[:B].repeat(G, 1, 1, 1), *a[1:], hs), x1, W1a, At, ct, gp)
    for a, b in zip(shared, each):
        assert torch.equal(a, b)


def test_float32_gradients_match_the_single_model_in_float64():
    """The whole stacked step through the kernel (float32) against each single model in float64: the
    kernel's backward is right to float32 precision, not merely consistent with the torch path."""
    specs = [(1, 8, 0), (4, 8, 1), (2, 16, 2)]
    models = [HeadcountTransformer(ModelConfig(d=4, h=h, n=n, N=32), seed=s) for h, n, s in specs]
    stack = StackedTransformers.from_models(models)
    stack.kernel = "c"
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(len(models), 6, 12, 4, generator=g), torch.randn(len(models), 6, generator=g)
    ((stack(x) - y) ** 2).mean(dim=1).sum().backward()
    for m, model in enumerate(models):
        model = model.double()
        ((model(x[m].double()) - y[m].double()) ** 2).mean().backward()
        E = model.cfg.E
        for got, want in [(stack.W1.grad[m], model.encoder.mlp.w1.grad.T), (stack.b1.grad[m, 0], model.encoder.mlp.b1.grad),
                          (stack.W_K.grad[m, : model.cfg.h, : model.cfg.n, :E], model.attn.W_K.grad),
                          (stack.W2.grad[m, :, :E], model.encoder.mlp.w2.grad.T)]:
            want = want.float()
            assert torch.allclose(got, want, rtol=1e-3, atol=1e-4 * want.abs().max()), (got - want).abs().max()


def test_training_with_the_kernel_equals_training_with_batched_products():
    runs = [SyntheticRun(T=12, N=16, n=4, h=h, seed=s, n_train=256, n_val=64, batch_size=32, epochs=3)
            for h, s in [(1, 0), (3, 1), (5, 2)]]
    data = make_data(runs[0])
    c = train_stack(runs, data, device="cpu", kernel="c")
    t = train_stack(runs, data, device="cpu", kernel="torch")
    for a, b in zip(c, t):
        assert a["engine"] == "stacked/fused/c" and b["engine"] == "stacked/fused"
        assert math.isclose(a["val_nmse"], b["val_nmse"], rel_tol=RTOL)
        assert math.isclose(a["train_nmse"], b["train_nmse"], rel_tol=RTOL)


def test_training_through_the_kernel_is_bit_for_bit_repeatable():
    """The same stack trained twice in one process gives the same bits: the kernel sums in a fixed order
    (one thread, no atomics), which is what lets a build on one machine store exactly what another build
    on that machine stores."""
    runs = [SyntheticRun(T=12, N=16, n=4, h=h, seed=s, n_train=256, n_val=64, batch_size=32, epochs=2)
            for h, s in [(2, 0), (4, 1)]]
    data = make_data(runs[0])
    first, second = (train_stack(runs, data, device="cpu", kernel="c") for _ in range(2))
    for a, b in zip(first, second):
        assert (a["val_nmse"], a["train_nmse"], a["curve"]) == (b["val_nmse"], b["train_nmse"], b["curve"])


def test_kernel_choice_is_checked_before_any_work():
    runs = [SyntheticRun(T=6, N=12, n=2, h=1, n_train=64, n_val=32, batch_size=16, epochs=1)]
    with pytest.raises(ValueError, match=r"kernel must be one of \('auto', 'c', 'torch'\)"):
        train_stack(runs, kernel="C")
    with pytest.raises(ValueError, match="kernel 'c' needs .* N a multiple of 8.*N=12"):
        train_stack(runs, device="cpu", kernel="c")
    out = train_stack(runs, device="cpu")  # auto: N = 12 does not fit the kernel, the torch path runs
    assert out[0]["engine"] == "stacked/fused"


def test_disabled_kernel_falls_back(monkeypatch):
    monkeypatch.setenv("HEADCOUNT_CKERNEL", "0")
    ckernel.available.cache_clear()
    try:
        assert not ckernel.available() and "HEADCOUNT_CKERNEL=0" in ckernel.why_unavailable()
        runs = [SyntheticRun(T=6, N=8, n=2, h=2, n_train=64, n_val=32, batch_size=16, epochs=1)]
        assert train_stack(runs, device="cpu")[0]["engine"] == "stacked/fused"
        with pytest.raises(ckernel.KernelUnavailable, match="HEADCOUNT_CKERNEL=0"):
            train_stack(runs, device="cpu", kernel="c")
    finally:
        monkeypatch.delenv("HEADCOUNT_CKERNEL")
        ckernel.available.cache_clear()
    assert ckernel.available()


def test_build_failure_names_the_compiler_and_its_error(monkeypatch, tmp_path):
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo fake-cc 1.0; exit 0; }\necho 'no such thing' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    with pytest.raises(ckernel.KernelUnavailable, match=r"(?s)building tokenpool.c with .*cc failed.*no such thing"):
        ckernel.build(tmp_path / "cache")
    assert list((tmp_path / "cache" / "kernels").iterdir()) == []  # no partial library left behind


def test_build_is_keyed_by_source_and_reused(tmp_path):
    first = ckernel.build(tmp_path)
    assert first.exists() and ckernel.build(tmp_path) == first


def test_flop_count_is_plain_autograds_count_plus_the_recomputed_activations():
    """FlopCounterMode counts the products of the same forward and backward written plainly with autograd;
    the kernel computes those plus the activations three more times (a second layout in the forward pass,
    both layouts again in the backward pass): 6 d1 N per token more. T is a multiple of 8: no padding."""
    from torch.utils.flop_counter import FlopCounterMode

    hs, B, T, d1, N = [2, 2, 2], 4, 16, 5, 16
    x1, W1a, At, ct, gp = inputs(len(hs), B, T, d1, N, 2, hs)

    def plain(x1, W1a, At, ct):
        G = x1.shape[0]
        a = torch.relu(torch.bmm(x1.reshape(G, B * T, d1), W1a))  # (G, B T, N)
        logits = torch.bmm(At, a.transpose(1, 2)) + ct  # (G, H, B T)
        att = torch.softmax(logits.view(G, -1, B, T), dim=-1).transpose(1, 2).reshape(G * B, -1, T)
        return torch.bmm(att, a.view(G * B, T, N)).view(G, B, -1, N)

    with FlopCounterMode(display=False) as counter:
        run(plain, x1, W1a, At, ct, gp)
    with ckernel.counting() as c:
        run(lambda *a: ckernel.TokenPoolC.apply(*a, hs), x1, W1a, At, ct, gp)
    assert c.flops == counter.get_total_flops() + len(hs) * B * T * 6 * d1 * N
    assert c.flops == ckernel.flops(B, T, d1, N, hs, False) + ckernel.flops(B, T, d1, N, hs, True)


def test_each_kernel_name_selects_the_path_it_names():
    """Where the C kernel applies (float32 on the CPU, N a multiple of 8), "auto" and "c" run it and "torch"
    the batched products; where it does not (N = 12), "auto" falls back and "c" refuses."""
    def used(N):
        stack = StackedTransformers.from_models([HeadcountTransformer(ModelConfig(d=4, h=2, n=2, N=N), seed=0)])
        out = {}
        for k in batched.KERNELS:
            stack.kernel = k
            try:
                out[k] = stack.kernel_used("cpu")
            except ValueError as e:
                out[k] = str(e)
        return out

    assert used(8) == {"auto": "c", "c": "c", "torch": "torch"}
    refused = used(12)
    assert (refused["auto"], refused["torch"]) == ("torch", "torch") and "N a multiple of 8" in refused["c"]
