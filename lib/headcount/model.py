"""The paper's transformer, equation (4), with per-head weights as first-class tensors: the reference.

This module is the definition the book trusts. Equation (4) is also computed by the training engine in two
faster forms, both checked against this one: the stacked engine (`headcount.engine.batched`, many models as one
padded computation, in a reassociated "fused" form) and its C kernel for the per-token part
(`headcount.engine.kernels/tokenpool.c` through `headcount.engine.ckernel`). The equivalence tests are
tests/test_batched.py (values, gradients and trained models of the stack against models of this module) and
tests/test_ckernel.py (the kernel against the batched torch products). The synthetic results of the book were
trained by the stacked engine; each record's `engine` field says which form ran.

    y_hat = F( c0 + W_O . Concat_i [ sum_t softmax_t( beta (W_Q,i c0)^T W_K,i x_hat(t) ) W_V,i x_hat(t) ] )

Notation (the book's notation table uses the same names):
    h  heads                 n  per-head width         E = n h  total width
    T  sequence length       d  token width            N  hidden width of the two MLPs
    beta softmax temperature c0 classification token (the only query; it is never a key)

Shapes are written as comments on each contraction: B batch, T tokens, h heads, n per-head width,
E total width. No LayerNorm and no residual other than the "c0 +" of equation (4), as in the paper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class ModelConfig:
    d: int = 4  # token width (the synthetic task draws x(t) in R^4)
    h: int = 4  # number of heads; independent of n
    n: int = 8  # per-head width; the paper's synthetic runs use 8
    N: int = 32  # hidden width of the encoder MLP and of the feed-forward block (paper: 32)
    out_dim: int = 1  # l, the output width (scalar regression)
    beta: float = 1.0  # softmax temperature; trained models can rescale logits, so 1 loses nothing
    n_layers: int = 1  # L; L = 1 is exactly equation (4)

    def __post_init__(self) -> None:
        for name in ("d", "h", "n", "N", "out_dim", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be an integer >= 1, got {value!r}")
        if not self.beta > 0:
            raise ValueError(f"ModelConfig.beta must be > 0, got {self.beta!r}")

    @property
    def E(self) -> int:
        """Total embedding width E = n h."""
        return self.n * self.h

    def to_dict(self) -> dict:
        return asdict(self)


def _linear_init(out_f: int, in_f: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default nn.Linear init (uniform in +-1/sqrt(fan_in)), drawn from a private generator."""
    bound = 1.0 / in_f**0.5
    w = (torch.rand(out_f, in_f, generator=gen) * 2 - 1) * bound
    b = (torch.rand(out_f, generator=gen) * 2 - 1) * bound
    return w, b


class MLP(nn.Module):
    """Two-layer network x -> W2 act(W1 x + b1) + b2, applied to the last axis."""

    def __init__(self, d_in: int, hidden: int, d_out: int, act: str, gen: torch.Generator):
        super().__init__()
        if act not in ("relu", "gelu"):
            raise ValueError(f"MLP act must be 'relu' or 'gelu', got {act!r}")
        self.act = act
        w1, b1 = _linear_init(hidden, d_in, gen)
        w2, b2 = _linear_init(d_out, hidden, gen)
        self.w1, self.b1 = nn.Parameter(w1), nn.Parameter(b1)
        self.w2, self.b2 = nn.Parameter(w2), nn.Parameter(b2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = F.linear(x, self.w1, self.b1)
        hidden = F.relu(hidden) if self.act == "relu" else F.gelu(hidden)
        return F.linear(hidden, self.w2, self.b2)


class TokenEncoder(nn.Module):
    """P_phi(x, t): here a two-layer ReLU MLP of x alone (no positional encoding: the synthetic task is
    permutation invariant). Constructions replace it with any module mapping (B, T, d) -> (B, T, E)."""

    def __init__(self, d: int, N: int, E: int, gen: torch.Generator):
        super().__init__()
        self.mlp = MLP(d, N, E, "relu", gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)  # (B, T, d) -> (B, T, E)


class HeadAttention(nn.Module):
    """h heads of width n over E = n h, weights stored per head: W_Q, W_K, W_V of shape (h, n, E), W_O (E, E).

    No biases: equation (4) has none."""

    def __init__(self, h: int, n: int, gen: torch.Generator):
        super().__init__()
        E = n * h
        std = 1.0 / E**0.5  # keeps logits O(1) at init for unit-scale tokens
        self.W_Q = nn.Parameter(torch.randn(h, n, E, generator=gen) * std)
        self.W_K = nn.Parameter(torch.randn(h, n, E, generator=gen) * std)
        self.W_V = nn.Parameter(torch.randn(h, n, E, generator=gen) * std)
        self.W_O = nn.Parameter(torch.randn(E, E, generator=gen) * std)

    @property
    def h(self) -> int:
        return self.W_Q.shape[0]

    @property
    def n(self) -> int:
        return self.W_Q.shape[1]

    def scores(self, q_tokens: torch.Tensor, x: torch.Tensor, beta: float) -> torch.Tensor:
        """Attention weights softmax_t(beta q_i . k_i(t)) of shape (B, Q, h, T) for queries (B, Q, E)."""
        q = torch.einsum("hne,bqe->bqhn", self.W_Q, q_tokens)  # (B, Q, h, n)
        k = torch.einsum("hne,bte->bhtn", self.W_K, x)  # (B, h, T, n)
        logits = beta * torch.einsum("bqhn,bhtn->bqht", q, k)  # (B, Q, h, T)
        return torch.softmax(logits, dim=-1)

    def forward(self, q_tokens: torch.Tensor, x: torch.Tensor, beta: float) -> torch.Tensor:
        """W_O . Concat_i sum_t att_i(t) W_V,i x(t), shape (B, Q, E). Keys and values are x only."""
        att = self.scores(q_tokens, x, beta)  # (B, Q, h, T)
        v = torch.einsum("hne,bte->bhtn", self.W_V, x)  # (B, h, T, n)
        heads = torch.einsum("bqht,bhtn->bqhn", att, v)  # (B, Q, h, n)
        B, Q, h, n = heads.shape
        return heads.reshape(B, Q, h * n) @ self.W_O.T  # concat over heads, then W_O: (B, Q, E)


class TokenBlock(nn.Module):
    """A lower layer of the L-layer variant: every token attends over all T tokens, then a token-wise
    GELU MLP, each with a residual; no LayerNorm and no positional encoding, as in the paper's
    two-layer experiment. The last layer is always the c0-readout of equation (4)."""

    def __init__(self, h: int, n: int, N: int, gen: torch.Generator):
        super().__init__()
        self.attn = HeadAttention(h, n, gen)
        self.mlp = MLP(n * h, N, n * h, "gelu", gen)

    def forward(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        x = x + self.attn(x, x, beta)  # (B, T, E)
        return x + self.mlp(x)


class HeadcountTransformer(nn.Module):
    """Equation (4) (and its L-layer variant): encoder -> [L-1 token blocks] -> c0-query attention -> F.

    encoder: (B, T, d) -> (B, T, E); readout F: (B, E) -> (B, out_dim). Both default to the paper's
    two-layer MLPs and can be replaced (the proofs' constructions do)."""

    def __init__(
        self,
        cfg: ModelConfig,
        seed: int = 0,
        encoder: nn.Module | None = None,
        readout: nn.Module | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        gen = torch.Generator().manual_seed(int(seed))
        E = cfg.E
        # Fixed draw order (encoder, c0, blocks, attention, readout) so a seed always means the same weights.
        self.encoder = encoder if encoder is not None else TokenEncoder(cfg.d, cfg.N, E, gen)
        self.c0 = nn.Parameter(torch.randn(E, generator=gen) / E**0.5)
        self.blocks = nn.ModuleList(TokenBlock(cfg.h, cfg.n, cfg.N, gen) for _ in range(cfg.n_layers - 1))
        self.attn = HeadAttention(cfg.h, cfg.n, gen)
        self.readout = readout if readout is not None else MLP(E, cfg.N, cfg.out_dim, "gelu", gen)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The token sequence entering the last (c0-query) layer, (B, T, E)."""
        if x.ndim != 3 or x.shape[-1] != self.cfg.d:
            raise ValueError(f"input must have shape (B, T, d={self.cfg.d}), got {tuple(x.shape)}")
        xh = self.encoder(x)
        for block in self.blocks:
            xh = block(xh, self.cfg.beta)
        return xh

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """softmax weights of c0 over the T tokens, (B, h, T)."""
        xh = self.embed(x)
        q = self.c0.expand(xh.shape[0], 1, -1)  # (B, 1, E)
        return self.attn.scores(q, xh, self.cfg.beta)[:, 0]

    def pre_readout(self, x: torch.Tensor) -> torch.Tensor:
        """c0 + W_O Concat_i(head_i), the vector fed to F, (B, E)."""
        xh = self.embed(x)
        q = self.c0.expand(xh.shape[0], 1, -1)  # (B, 1, E): only c0 queries
        return self.c0 + self.attn(q, xh, self.cfg.beta)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y_hat of shape (B,) when out_dim == 1, else (B, out_dim)."""
        y = self.readout(self.pre_readout(x))
        return y.squeeze(-1) if self.cfg.out_dim == 1 else y


def count_parameters(model: nn.Module, part: str = "all") -> int:
    """Number of trainable scalars. part='ffn' counts what the paper calls M: encoder P_phi plus block F."""
    if part == "all":
        mods = [model]
    elif part == "ffn":
        mods = [model.encoder, model.readout]
    else:
        raise ValueError(f"part must be 'all' or 'ffn', got {part!r}")
    return sum(p.numel() for m in mods for p in m.parameters() if p.requires_grad)
