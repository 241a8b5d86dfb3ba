"""The proofs' explicit parameter settings, as instances of the eq. (4) model class.

Every construction is a `HeadcountTransformer` with a hand-set encoder P_phi, class token c0, attention
weights and feed-forward block F, so it runs through the same forward pass and evaluation code as the
trained models.

Theorem 2(1) (h = D heads, per-head width n = 2), `heads_suffice(task, beta)`:
    x_hat(t) = (Psi_1(x(t)), r_1(t), ..., Psi_D(x(t)), r_D(t)),  r_i(t) = 0 on S_i, -offset off S_i,
    W_Q,i c0 = (1, 0), W_K,i reads (-Psi_i + r_i) from block i, W_V,i = I_2 on block i, W_O = I,
    so head i's first output coordinate is the soft-min z~_i = sum_t softmax_t(beta (-Psi_i + r_i)) Psi_i(t),
    and F = F0 applied to the D first coordinates (a fixed 0/1 projection, then F0).

Theorem 2(3) (one head, n = T d), `memorising(task, eps)`:
    x_hat(t) = e_t (x) x(t), c0 = 0 (all logits 0, uniform attention), W_V = W_O = I, so the head outputs
    (1/T)(x(1), ..., x(T)) exactly; F is a 5-layer ReLU network = F3 o F2 o F1 (features, Lemma 9 maxima,
    F0) merged by Lemma 8.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
from torch import nn

from headcount.model import HeadcountTransformer, ModelConfig
from headcount.tasks import RetrievalTask

DTYPE = torch.float64  # large temperatures need float64: beta * (Psi differences) must stay resolvable


# ----------------------------------------------------------------------------------------------------
# Feature networks Psi_i and outer functions F0
# ----------------------------------------------------------------------------------------------------


class CallableFeature(nn.Module):
    """Psi_i = f_i exactly, for a feature given as a function (..., d) -> (...); it has no parameters, so
    the parameter count M does not include it (say so wherever M is shown)."""

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


class AffineFeature(nn.Module):
    """Psi(x) = w . x + b: an exact network for a linear feature (d + 1 parameters)."""

    def __init__(self, w, b: float = 0.0):
        super().__init__()
        w = torch.as_tensor(w, dtype=DTYPE).reshape(-1)
        self.lin = nn.Linear(w.numel(), 1, dtype=DTYPE)
        with torch.no_grad():
            self.lin.weight.copy_(w[None])
            self.lin.bias.fill_(float(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).squeeze(-1)  # (..., d) -> (...)


class TwoLayerReLU(nn.Module):
    """x -> w2 . relu(W1 x + b1) + b2 on the last axis, one output: the two-layer networks of Assumption 3."""

    def __init__(self, W1, b1, w2, b2):
        super().__init__()
        self.W1 = nn.Parameter(torch.as_tensor(W1, dtype=DTYPE))
        self.b1 = nn.Parameter(torch.as_tensor(b1, dtype=DTYPE))
        self.w2 = nn.Parameter(torch.as_tensor(w2, dtype=DTYPE))
        self.b2 = nn.Parameter(torch.as_tensor(float(b2), dtype=DTYPE))

    @property
    def width(self) -> int:
        return self.W1.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.W1.T + self.b1) @ self.w2 + self.b2


def relu_interpolant(f: Callable[[torch.Tensor], torch.Tensor], K: int, lo: float = 0.0, hi: float = 1.0) -> TwoLayerReLU:
    """A two-layer ReLU network of width K equal to the piecewise-linear interpolant of a scalar f at K + 1
    equally spaced knots of [lo, hi]: psi(x) = f(lo) + sum_k c_k relu(x - x_k), c_k the slope changes.
    For a C^2 f its sup error on [lo, hi] is at most (hi - lo)^2 max|f''| / (8 K^2), i.e. width
    O(delta^(-1/2)) for accuracy delta in one dimension (Assumption 3 with gamma = 1/2)."""
    knots = torch.linspace(lo, hi, K + 1, dtype=DTYPE)
    vals = f(knots[:, None]).reshape(-1)
    slopes = torch.diff(vals) / torch.diff(knots)
    c = torch.cat([slopes[:1], torch.diff(slopes)])  # slope changes at the left knots
    return TwoLayerReLU(torch.ones(K, 1, dtype=DTYPE), -knots[:-1], c, vals[0])


class LinearF0(nn.Module):
    """F0(z) = c . z + c_0, the outer function of both paper tasks (exact; D + 1 parameters)."""

    def __init__(self, coeffs, bias: float = 0.0):
        super().__init__()
        c = torch.as_tensor(coeffs, dtype=DTYPE).reshape(-1)
        self.lin = nn.Linear(c.numel(), 1, dtype=DTYPE)
        with torch.no_grad():
            self.lin.weight.copy_(c[None])
            self.lin.bias.fill_(float(bias))

    @property
    def coeffs(self) -> torch.Tensor:
        return self.lin.weight[0].detach()

    @property
    def bias(self) -> float:
        return float(self.lin.bias.detach())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lin(z)  # (B, D) -> (B, 1)


def exact_parts(task: RetrievalTask) -> tuple[list[nn.Module], LinearF0]:
    """The networks Psi_i = f_i and F0 of a registered task, as exact modules (both tasks are linear in the
    token and in z, so small linear maps represent them with no error).

    max_plus_min: f_1 = 1 - x, f_2 = x, F0(z) = 1 - z_1 + z_2.
    sum_of_max:   f_i = -a_i . x,        F0(z) = -sum_i z_i."""
    if task.name == "max_plus_min":
        return [AffineFeature([-1.0], 1.0), AffineFeature([1.0], 0.0)], LinearF0([-1.0, 1.0], 1.0)
    if task.name == "sum_of_max":
        a = torch.as_tensor(task.info["a"], dtype=DTYPE)
        return [AffineFeature(-ai, 0.0) for ai in a], LinearF0(-torch.ones(task.D), 0.0)
    if "F0_coeffs" in task.info:
        return ([CallableFeature(f) for f in task.features],
                LinearF0(task.info["F0_coeffs"], task.info.get("F0_bias", 0.0)))
    raise ValueError(f"no exact parts known for task {task.name!r}; pass psis and F0 explicitly")


def fitted_parts(task: RetrievalTask, K: int) -> tuple[list[nn.Module], LinearF0]:
    """Psi_i = the width-K ReLU interpolant of f_i on [0, 1] (d = 1 only), F0 as in exact_parts."""
    if task.d != 1:
        raise ValueError("fitted_parts builds one-dimensional interpolants; the task has d = %d" % task.d)
    _, F0 = exact_parts(task)
    return [relu_interpolant(lambda x, f=f: f(x), K) for f in task.features], F0


# ----------------------------------------------------------------------------------------------------
# Theorem 2(1): one head per feature
# ----------------------------------------------------------------------------------------------------


class FeatureBlockEncoder(nn.Module):
    """P_phi(x, t) = (Psi_1(x), r_1(t), ..., Psi_D(x), r_D(t)) with r_i(t) = 0 if t in S_i else -offset.

    The position t is the index along the sequence axis. The paper's construction uses offset 1; with
    features in [0, 1] that does not always separate S_i from the rest (see the theory page), offset 2 does.
    r is a fixed table (a buffer, not a trained parameter); it is identically 0 when every S_i = [T]."""

    def __init__(self, psis: list[nn.Module], subsets: list[list[int]], T: int, offset: float = 1.0):
        super().__init__()
        self.psis = nn.ModuleList(psis)
        r = torch.full((len(psis), T), -float(offset), dtype=DTYPE)
        for i, S in enumerate(subsets):
            r[i, list(S)] = 0.0
        self.register_buffer("r", r)  # (D, T)

    @property
    def T(self) -> int:
        return self.r.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        if T != self.T:
            raise ValueError(f"this encoder was built for T = {self.T}, got a sequence of length {T}")
        cols = []
        for i, psi in enumerate(self.psis):
            cols.append(psi(x).reshape(B, T))  # Psi_i(x(t)): (B, T)
            cols.append(self.r[i].to(x.dtype).expand(B, T))  # r_i(t): (B, T)
        return torch.stack(cols, dim=-1)  # (B, T, 2D): block i = (Psi_i, r_i)


class ProjectionReadout(nn.Module):
    """F = F0 o P with P the fixed 0/1 projection R^{2D} -> R^D keeping the first coordinate of each head."""

    def __init__(self, F0: nn.Module):
        super().__init__()
        self.F0 = F0

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.F0(u[:, 0::2])  # (B, 2D) -> (B, D) -> (B, 1)


def heads_suffice(task: RetrievalTask, beta: float, psis: list[nn.Module] | None = None, F0: nn.Module | None = None,
                  offset: float = 1.0) -> HeadcountTransformer:
    """The Theorem 2(1) model for a D-retrieval task: h = D heads of width n = 2, E = 2D, temperature beta,
    in float64. psis / F0 default to `exact_parts(task)`. All attention entries are 0 or +-1."""
    if psis is None or F0 is None:
        p0, f0 = exact_parts(task)
        psis, F0 = psis or p0, F0 or f0
    D = len(psis)
    cfg = ModelConfig(d=task.d, h=D, n=2, N=1, beta=float(beta))
    model = HeadcountTransformer(cfg, seed=0, encoder=FeatureBlockEncoder(psis, task.subsets, task.T, offset),
                                 readout=ProjectionReadout(F0)).to(DTYPE)
    E = 2 * D
    with torch.no_grad():
        model.c0.zero_()
        model.c0[1] = 1.0  # c0 lives on r_1's coordinate, which the readout never reads
        WQ = torch.zeros(D, 2, E, dtype=DTYPE)
        WK = torch.zeros(D, 2, E, dtype=DTYPE)
        WV = torch.zeros(D, 2, E, dtype=DTYPE)
        for i in range(D):
            WQ[i, 0, 1] = 1.0  # W_Q,i c0 = (1, 0)
            WK[i, 0, 2 * i] = -1.0  # key_i(t) = (-Psi_i(t) + r_i(t), 0): W_K,i = [-1 1] on block i
            WK[i, 0, 2 * i + 1] = 1.0
            WV[i, :, 2 * i:2 * i + 2] = torch.eye(2, dtype=DTYPE)  # W_V,i = I_2 on block i
        model.attn.W_Q.copy_(WQ)
        model.attn.W_K.copy_(WK)
        model.attn.W_V.copy_(WV)
        model.attn.W_O.copy_(torch.eye(E, dtype=DTYPE))
    return model


def head_minima(model: HeadcountTransformer, X: torch.Tensor) -> torch.Tensor:
    """z~ (B, D): the first coordinate of each head's output in a `heads_suffice` model (the soft-minima)."""
    with torch.no_grad():
        return model.pre_readout(X.to(DTYPE))[:, 0::2]


# ----------------------------------------------------------------------------------------------------
# Theorem 2(3): memorising encoder and a 5-layer ReLU readout
# ----------------------------------------------------------------------------------------------------


class MemorisingEncoder(nn.Module):
    """P_phi(x, t) = e_t (x) x(t) in R^{T d}: token t written into block t, zeros elsewhere (no parameters)."""

    def __init__(self, T: int, d: int):
        super().__init__()
        self.T, self.d = T, d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        if (T, d) != (self.T, self.d):
            raise ValueError(f"built for (T, d) = {(self.T, self.d)}, got {(T, d)}")
        eye = torch.eye(T, dtype=x.dtype)
        return torch.einsum("ts,bsd->btsd", eye, x).reshape(B, T, T * d)  # (B, T, T d)


class ReluNet(nn.Module):
    """An L-layer ReLU network: affine maps A_1..A_L with ReLU between them (none after A_L). Weights are
    sparse (structural zeros are not stored), float64. `then` composes two networks with Lemma 8's merge of
    the last affine map of one with the first of the next, which is exact in real arithmetic."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]]):
        super().__init__()
        if not layers:
            raise ValueError("a ReluNet needs at least one affine map")
        for k, (W, b) in enumerate(layers):
            if W.shape[0] != b.shape[0] or (k and W.shape[1] != layers[k - 1][0].shape[0]):
                raise ValueError(f"affine map {k}: shape {tuple(W.shape)} does not fit")
            W = W.to(DTYPE)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.register_buffer(f"W{k}", (W if W.is_sparse else W.to_sparse()).coalesce())
            self.register_buffer(f"b{k}", b.to(DTYPE))
        self.n_affine = len(layers)

    @property
    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(getattr(self, f"W{k}"), getattr(self, f"b{k}")) for k in range(self.n_affine)]

    @property
    def widths(self) -> list[int]:
        """Input width, the hidden widths, output width."""
        Ws = [W for W, _ in self.layers]
        return [Ws[0].shape[1]] + [W.shape[0] for W in Ws]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # hidden activations are (batch, width) dense; wide Lemma 9 layers get the batch in chunks
        chunk = max(1, int(2e7 // max(self.widths)))
        if x.shape[0] > chunk:
            return torch.cat([self(part) for part in x.split(chunk)])
        h = x.to(DTYPE)
        for k, (W, b) in enumerate(self.layers):
            h = torch.sparse.mm(W, h.T).T + b  # (B, out)
            if k < self.n_affine - 1:
                h = torch.relu(h)
        return h

    def then(self, other: "ReluNet") -> "ReluNet":
        """Lemma 8: the network x -> other(self(x)) with the adjacent affine maps merged into one,
        (W', b') = (W_o W_s, W_o b_s + b_o); depth = self.n_affine + other.n_affine - 1."""
        (Ws, bs), (Wo, bo) = self.layers[-1], other.layers[0]
        with warnings.catch_warnings():  # torch notes that sparse products are in beta; the result is checked in tests
            warnings.simplefilter("ignore", UserWarning)
            W = torch.sparse.mm(Wo, Ws)  # sparse @ sparse stays sparse
        b = torch.sparse.mm(Wo, bs[:, None])[:, 0] + bo
        return ReluNet(self.layers[:-1] + [(W, b)] + other.layers[1:])

    def count(self, kind: str = "nonzero") -> int:
        """Parameters: 'nonzero' counts stored non-zero weights and all biases; 'dense' counts every entry."""
        total = 0
        for W, b in self.layers:
            total += (int((W.values() != 0).sum()) if kind == "nonzero" else W.shape[0] * W.shape[1]) + b.numel()
        if kind not in ("nonzero", "dense"):
            raise ValueError(f"kind must be 'nonzero' or 'dense', got {kind!r}")
        return total


def _sparse(rows, cols, vals, shape) -> torch.Tensor:
    idx = torch.stack([torch.as_tensor(rows), torch.as_tensor(cols)]).long()
    return torch.sparse_coo_tensor(idx, torch.as_tensor(vals, dtype=DTYPE), shape, check_invariants=True).coalesce()


def parallel(nets: list[ReluNet]) -> ReluNet:
    """Nets of equal depth side by side on concatenated inputs: block-diagonal affine maps."""
    depth = {n.n_affine for n in nets}
    if len(depth) != 1:
        raise ValueError(f"parallel networks need equal depth, got {sorted(depth)}")
    layers = []
    for k in range(nets[0].n_affine):
        rows, cols, vals, r0, c0 = [], [], [], 0, 0
        for n in nets:
            W = n.layers[k][0]
            idx = W.indices()
            rows.append(idx[0] + r0)
            cols.append(idx[1] + c0)
            vals.append(W.values())
            r0, c0 = r0 + W.shape[0], c0 + W.shape[1]
        W = _sparse(torch.cat(rows), torch.cat(cols), torch.cat(vals), (r0, c0))
        layers.append((W, torch.cat([n.layers[k][1] for n in nets])))
    return ReluNet(layers)


def lemma9_max_net(T: int, eps: float) -> ReluNet:
    """Lemma 9: a 3-layer ReLU network whose output lies in [max_t y_t, max_t y_t + 1/n) for y in [0,1]^T,
    n = ceil(1/eps). Layer 1: h1(t, i) = relu(y_t - i/n), i = 0..n-1 (width T n); layer 2: with
    S_i = sum_t h1(t, i), the pair relu(S_i), relu(S_i - 1/n) (width 2n); output sum_i relu(S_i) - relu(S_i - 1/n)
    (each term is min(S_i, 1/n): 1/n for every grid level below the max, part of 1/n at the last).
    Widths are at most 2 T ceil(1/eps)."""
    n = math.ceil(1.0 / eps - 1e-12)
    t, i = torch.meshgrid(torch.arange(T), torch.arange(n), indexing="ij")
    t, i = t.reshape(-1), i.reshape(-1)  # hidden unit (t, i) sits at row t n + i
    W1 = _sparse(t * n + i, t, torch.ones(T * n), (T * n, T))  # unit (t, i) reads y_t
    b1 = (-i.to(DTYPE) / n)
    # rows 2i and 2i + 1 both sum h1(t, i) over t: S_i and S_i - 1/n before the ReLU
    W2 = _sparse(torch.cat([2 * i, 2 * i + 1]), torch.cat([t * n + i, t * n + i]), torch.ones(2 * T * n), (2 * n, T * n))
    b2 = torch.tensor([0.0, -1.0 / n], dtype=DTYPE).repeat(n)
    W3 = torch.tensor([[1.0, -1.0]], dtype=DTYPE).repeat(1, n)  # (1, 2n)
    return ReluNet([(W1, b1), (W2, b2), (W3, torch.zeros(1, dtype=DTYPE))])


def _feature_layer(task: RetrievalTask, nets: list[TwoLayerReLU]) -> ReluNet:
    """F1 (2 layers): from u = (1/T)(x(1), ..., x(T)) to g_{i,t} = net_i(x(t)) for t in S_i, ordered (i, t).
    nets[i] approximates 1 - f_i on [0, 1]^d, so that min_{S_i} f_i = 1 - max_{S_i} g_i."""
    T, d = task.T, task.d
    rows1, b1, blocks2, b2 = [], [], [], []
    for net, S in zip(nets, task.subsets):
        W1, c1, w2, c2 = net.W1.detach(), net.b1.detach(), net.w2.detach(), net.b2.detach()
        K = W1.shape[0]
        for t in S:
            R = torch.zeros(K, T * d, dtype=DTYPE)
            R[:, t * d:(t + 1) * d] = T * W1  # x(t) = T u[t d:(t+1) d]
            rows1.append(R)
            b1.append(c1)
            blocks2.append(w2[None])
            b2.append(c2.reshape(1))
    return ReluNet([(torch.cat(rows1), torch.cat(b1)), (torch.block_diag(*blocks2), torch.cat(b2))])


def complement_nets(task: RetrievalTask, K: int | None = None) -> list[TwoLayerReLU]:
    """Networks for 1 - f_i: exact width-1 networks for max_plus_min (1 - f_1 = x = relu(x) and
    1 - f_2 = 1 - relu(x) on [0, 1]), otherwise width-K interpolants (d = 1)."""
    if task.name == "max_plus_min":
        one = torch.ones(1, 1, dtype=DTYPE)
        return [TwoLayerReLU(one, torch.zeros(1), torch.ones(1), 0.0),
                TwoLayerReLU(one, torch.zeros(1), -torch.ones(1), 1.0)]
    if K is None or task.d != 1:
        raise ValueError("pass K (interpolant width) for a one-dimensional task other than max_plus_min")
    return [relu_interpolant(lambda x, f=f: 1.0 - f(x), K) for f in task.features]


def memorising_readout(task: RetrievalTask, eps_max: float, F0: LinearF0 | None = None,
                       nets: list[TwoLayerReLU] | None = None) -> tuple[ReluNet, tuple[ReluNet, ReluNet, ReluNet]]:
    """F = F3 o F2 o F1 merged into one 5-layer ReLU network (Lemma 8), and the three parts.

    F1 (2 layers) features per token, F2 (3 layers) Lemma 9 maxima of 1 - f_i over each S_i with grid
    eps_max, F3 (2 layers) z_i = 1 - m_i and F0 (linear here). F2's inputs and outputs are >= 0, so the
    ReLU of F3's first layer is the identity on them."""
    if F0 is None:
        _, F0 = exact_parts(task)
    nets = nets if nets is not None else complement_nets(task)
    F1 = _feature_layer(task, nets)
    F2 = parallel([lemma9_max_net(len(S), eps_max) for S in task.subsets])
    D = task.D
    c = F0.coeffs.to(DTYPE)
    F3 = ReluNet([(torch.eye(D, dtype=DTYPE), torch.zeros(D, dtype=DTYPE)),
                  (-c[None], torch.tensor([float(c.sum()) + F0.bias], dtype=DTYPE))])  # F0(1 - m)
    return F1.then(F2).then(F3), (F1, F2, F3)


class ReluReadout(nn.Module):
    """A ReluNet as the feed-forward block F of the model: (B, E) -> (B, 1)."""

    def __init__(self, net: ReluNet):
        super().__init__()
        self.net = net

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.net(u)


def memorising(task: RetrievalTask, eps: float, nets: list[TwoLayerReLU] | None = None) -> HeadcountTransformer:
    """The Theorem 2(3) model: one head of width n = T d, encoder e_t (x) x(t), c0 = 0, W_V = W_O = I, and a
    5-layer ReLU readout whose Lemma 9 grid is fine enough for sup error eps: n_grid = ceil(L0 / eps)
    with L0 = sum_i |dF0/dz_i| (each maximum is off by less than 1/n_grid)."""
    _, F0 = exact_parts(task)
    L0 = float(F0.coeffs.abs().sum())
    net, _ = memorising_readout(task, eps / L0, F0, nets)
    T, d = task.T, task.d
    E = T * d
    model = HeadcountTransformer(ModelConfig(d=d, h=1, n=E, N=1, beta=1.0), seed=0,
                                 encoder=MemorisingEncoder(T, d), readout=ReluReadout(net)).to(DTYPE)
    with torch.no_grad():
        model.c0.zero_()  # every logit (W_Q c0) . (W_K x) is 0: attention is exactly uniform
        model.attn.W_Q.zero_()
        model.attn.W_K.zero_()
        model.attn.W_V.copy_(torch.eye(E, dtype=DTYPE)[None])
        model.attn.W_O.copy_(torch.eye(E, dtype=DTYPE))
    return model


def in_chunks(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, per_item: int,
              budget: float = 2e7) -> torch.Tensor:
    """fn applied to X (B, ...) in batch chunks of at most budget / per_item items, concatenated; per_item is
    the number of numbers one item occupies inside fn (T * E for the memorising encoder's output)."""
    size = max(1, int(budget // max(1, per_item)))
    with torch.no_grad():
        return torch.cat([fn(part) for part in X.split(size)])


def memorising_parameter_count(model: HeadcountTransformer, kind: str = "nonzero") -> int:
    """M of a `memorising` model: the encoder has no parameters, so M is the readout's count."""
    return model.readout.net.count(kind)


# ----------------------------------------------------------------------------------------------------
# Assumption 1: a bounded one-head model (the setting of the lower bound)
# ----------------------------------------------------------------------------------------------------


def bounded_model(d: int, h: int, n: int, N: int, beta: float, seed: int, grid: int = 4001) -> HeadcountTransformer:
    """A randomly initialised eq. (4) model (d = 1 inputs in [0, 1]) moved into Assumption 1: every entry of
    W_Q, W_K, W_V, W_O and of F clipped to [-1, 1], and the encoder's output layer scaled so that
    ||P_phi(x)|| <= 1 on a fine grid of [0, 1] (the encoder is piecewise linear, so its largest norm sits at
    a kink or an end point; the grid has a 1% margin). float64."""
    if d != 1:
        raise ValueError("bounded_model checks the encoder norm on a grid of [0, 1]; it needs d = 1")
    model = HeadcountTransformer(ModelConfig(d=d, h=h, n=n, N=N, beta=float(beta)), seed=seed).to(DTYPE)
    with torch.no_grad():
        for W in (model.attn.W_Q, model.attn.W_K, model.attn.W_V, model.attn.W_O,
                  model.readout.w1, model.readout.b1, model.readout.w2, model.readout.b2):
            W.clamp_(-1.0, 1.0)
        xs = torch.linspace(0, 1, grid, dtype=DTYPE)[None, :, None]
        norm = model.encoder(xs).norm(dim=-1).max()
        scale = 0.99 / float(norm)
        model.encoder.mlp.w2.mul_(scale)
        model.encoder.mlp.b2.mul_(scale)
    return model
