"""Training a stack of independent synthetic-task models as one vectorised computation.

G models of equation (4) that share the data and the optimiser settings (same T, task, epochs, batch size,
learning rate, N, beta, L = 1) but may differ in seed, h and n are held as stacked tensors with a leading
model axis G, padded to H = max h heads of width n_max = max n and to E_max = max E. Each model's weights
are created at its true shape by `HeadcountTransformer(cfg, seed)` (so initialisation is the single
model's, draw for draw) and copied into its slot; every padded entry is zero and is multiplied by a 0/1
mask in the forward pass, so it contributes nothing and receives an exactly zero gradient. Adam is
elementwise, so one Adam over the stack is G independent Adams, and a zero gradient leaves a padded
entry at zero forever. The loss is the sum over models of each model's own mean-squared error, so each
model's gradient is the one it would get alone.

Two forward passes give the same function (the test suite checks both against the single model):

- "direct": the model as written, with batched products (torch.bmm / einsum) over the model axis:
  x_hat = P(x), k_i = W_K,i x_hat, v_i = W_V,i x_hat, softmax, W_O Concat, F.
- "fused" (default): the same sums reassociated so that nothing of width E is computed per token or per
  sequence. With a(t) = relu(W1 x(t) + b1) (N wide), x_hat(t) = W2 a(t) + b2 (W2 is E x N),
  u_i = beta W_K,i^T W_Q,i c0 and pooled_i = sum_t att_i(t) a(t),

      beta q_i . W_K,i x_hat(t) = (W2^T u_i) . a(t) + b2 . u_i,
      W_V,i sum_t att_i(t) x_hat(t) = (W_V,i W2) pooled_i + W_V,i b2          (sum_t att_i(t) = 1),
      R1 (c0 + W_O Concat_i head_i) = sum_i (R1 W_O,i W_V,i W2) pooled_i + (a bias per model),

  with R1 the first layer of F and W_O,i the columns of W_O that read head i. Per token this costs
  (d + 1) N + 2 N h multiply-adds instead of (d + 1) N + N E + 2 E^2 + 2 E, per sequence h N^2 + N instead
  of E^2 + E N + N; the weight products are formed once per step and shared by the minibatch. Results
  agree with the direct form up to floating-point reordering (the tests compare both to the single model).

Minibatch order, learning-rate schedule, standardised targets and evaluation are those of
`train.train_one`, drawn from the same per-model generators, so `train_stack(runs)[m]` reproduces
`train_one(runs[m])` up to floating-point reordering.
"""

from __future__ import annotations

import math
import time
from dataclasses import fields

import torch
from torch import nn
from torch.nn import functional as F

from headcount.engine import ckernel
from headcount.engine.ckernel import TokenPoolC
from headcount.model import HeadcountTransformer, ModelConfig
from headcount.engine.train import SyntheticRun, default_device, lr_at, make_data, nmse, train_one

# Fields that every run of a stack must share: the data, the optimiser settings and the architecture
# apart from h and n. Runs may differ only in seed, h and n.
SHARED_FIELDS = tuple(f.name for f in fields(SyntheticRun) if f.name not in ("seed", "h", "n"))
DATA_FIELDS = ("task", "D", "d", "T", "a_seed", "data_seed", "n_train", "n_val")
FORMS = ("fused", "direct")
# L > 1 models: "sdpa" trains them one at a time with the fused attention (`train_deep`); "single" with the
# reference forward (`train.train_one`). Both compute the same models (see the note above `attention_sdpa`).
DEEP_ENGINE = "sdpa"
KERNELS = ("auto", "c", "torch")

# Largest number of floats one evaluation chunk may hold per activation tensor (keeps memory flat).
_EVAL_FLOATS = 1 << 23
# Tokens (models x sequences x T) whose N-wide activations the fused form handles at once: 8192 x N=32
# floats is 1 MiB, small enough to stay in cache between the products that use it.
CHUNK_TOKENS = 8192


def stack_key(config: dict) -> tuple:
    """Group key for `Experiment.group_by`: configs with equal keys can train in one stack.

    The key is the tuple of SHARED_FIELDS values (defaults filled in); runs with n_layers > 1 get keys of
    their own and are trained one at a time by `run_synthetic_group`."""
    run = SyntheticRun.from_dict(config)
    return tuple(getattr(run, f) for f in SHARED_FIELDS)


def stackable(run: SyntheticRun) -> bool:
    """Whether a run can join a stack: single-layer equation (4), trained with Adam."""
    return run.n_layers == 1 and run.optimizer == "adam"


class StackedTransformers(nn.Module):
    """G single-layer models of equation (4) as padded stacked tensors (leading axis G).

    Built from trained or freshly initialised `HeadcountTransformer`s with `from_models`; `model(m)`
    returns model m at its true shape again. forward: (G, B, T, d) (each model its own inputs) or
    (B, T, d) (one input for all) -> predictions y_hat of shape (G, B)."""

    def __init__(self, hs: list[int], ns: list[int], d: int, N: int, beta: float):
        super().__init__()
        if len(hs) != len(ns) or not hs:
            raise ValueError("StackedTransformers needs one (h, n) per model and at least one model")
        G, H, n_max = len(hs), max(hs), max(ns)
        E_max = max(h * n for h, n in zip(hs, ns))
        self.hs, self.ns, self.d, self.N, self.beta = list(hs), list(ns), d, N, float(beta)
        self.G, self.H, self.n_max, self.E_max = G, H, n_max, E_max

        def p(*shape):
            return nn.Parameter(torch.zeros(G, *shape))

        # Weights stored transposed where that lets a product run as x @ W without a copy.
        self.W1, self.b1 = p(d, N), p(1, N)  # encoder layer 1: a = relu(x W1 + b1)
        self.W2, self.b2 = p(N, E_max), p(1, E_max)  # encoder layer 2: x_hat = a W2 + b2
        self.c0 = p(E_max)
        self.W_Q, self.W_K, self.W_V = p(H, n_max, E_max), p(H, n_max, E_max), p(H, n_max, E_max)
        self.W_O = p(E_max, H, n_max)  # W_O[:, i, j] is the column of head i, coordinate j
        self.R1, self.r1 = p(E_max, N), p(1, N)  # readout F: r = gelu(z R1 + r1)
        self.R2, self.r2 = p(N, 1), p(1, 1)  # y = r R2 + r2

        e_mask = torch.zeros(G, E_max)  # 1 on the model's own E coordinates
        hn_mask = torch.zeros(G, H, n_max)  # 1 on its own heads i < h and widths j < n
        for m, (h, n) in enumerate(zip(hs, ns)):
            e_mask[m, : h * n] = 1
            hn_mask[m, :h, :n] = 1
        qkv = hn_mask[:, :, :, None] * e_mask[:, None, None, :]
        self.register_buffer("mask_E_row", e_mask[:, None, :].clone())  # for W2, b2 (…, E) layouts
        self.register_buffer("mask_c0", e_mask.clone())
        self.register_buffer("mask_QKV", qkv)
        self.register_buffer("mask_O", e_mask[:, :, None, None] * hn_mask[:, None, :, :])
        self.register_buffer("mask_R1", e_mask[:, :, None].expand(G, E_max, N).clone())
        self._workspace = _Workspace()
        self.chunk_tokens = CHUNK_TOKENS
        self.kernel = "auto"  # the fused form's per-token part: "auto", "c" or "torch" (see _c_kernel)

    # ----------------------------------------------------------------------------------------------
    @classmethod
    def from_models(cls, models: list[HeadcountTransformer]) -> "StackedTransformers":
        """Copy each model's tensors into its padded slot (init identical to the single models)."""
        cfgs = [m.cfg for m in models]
        for attr in ("d", "N", "beta", "out_dim", "n_layers"):
            if len({getattr(c, attr) for c in cfgs}) != 1:
                raise ValueError(f"models in one stack must share {attr}; got {[getattr(c, attr) for c in cfgs]}")
        if cfgs[0].n_layers != 1 or cfgs[0].out_dim != 1:
            raise ValueError("only single-layer models with a scalar output can be stacked")
        st = cls([c.h for c in cfgs], [c.n for c in cfgs], cfgs[0].d, cfgs[0].N, cfgs[0].beta)
        with torch.no_grad():
            for m, model in enumerate(models):
                h, n, E = model.cfg.h, model.cfg.n, model.cfg.E
                enc, att, ro = model.encoder.mlp, model.attn, model.readout
                st.W1[m] = enc.w1.T
                st.b1[m, 0] = enc.b1
                st.W2[m, :, :E] = enc.w2.T
                st.b2[m, 0, :E] = enc.b2
                st.c0[m, :E] = model.c0
                st.W_Q[m, :h, :n, :E] = att.W_Q
                st.W_K[m, :h, :n, :E] = att.W_K
                st.W_V[m, :h, :n, :E] = att.W_V
                st.W_O[m, :E, :h, :n] = att.W_O.view(E, h, n)  # concat index i n + j -> (i, j)
                st.R1[m, :E] = ro.w1.T
                st.r1[m, 0] = ro.b1
                st.R2[m] = ro.w2.T
                st.r2[m, 0] = ro.b2
        return st

    @torch.no_grad()
    def model(self, m: int) -> HeadcountTransformer:
        """Model m as a stand-alone HeadcountTransformer (CPU, float32) with the stack's current weights."""
        h, n = self.hs[m], self.ns[m]
        E = h * n
        out = HeadcountTransformer(ModelConfig(d=self.d, h=h, n=n, N=self.N, beta=self.beta), seed=0)
        enc, att, ro = out.encoder.mlp, out.attn, out.readout
        get = lambda t: t.detach().cpu().float()  # noqa: E731
        enc.w1.copy_(get(self.W1[m]).T)
        enc.b1.copy_(get(self.b1[m, 0]))
        enc.w2.copy_(get(self.W2[m, :, :E]).T)
        enc.b2.copy_(get(self.b2[m, 0, :E]))
        out.c0.copy_(get(self.c0[m, :E]))
        att.W_Q.copy_(get(self.W_Q[m, :h, :n, :E]))
        att.W_K.copy_(get(self.W_K[m, :h, :n, :E]))
        att.W_V.copy_(get(self.W_V[m, :h, :n, :E]))
        att.W_O.copy_(get(self.W_O[m, :E, :h, :n]).reshape(E, E))
        ro.w1.copy_(get(self.R1[m, :E]).T)
        ro.b1.copy_(get(self.r1[m, 0]))
        ro.w2.copy_(get(self.R2[m]).T)
        ro.b2.copy_(get(self.r2[m, 0]))
        return out

    def padding_tensors(self) -> dict[str, torch.Tensor]:
        """For each masked parameter, its entries outside the model's own shape (all must stay 0)."""
        pairs = {"W2": self.mask_E_row, "b2": self.mask_E_row, "c0": self.mask_c0, "W_Q": self.mask_QKV,
                 "W_K": self.mask_QKV, "W_V": self.mask_QKV, "W_O": self.mask_O, "R1": self.mask_R1}
        return {k: getattr(self, k).detach()[mask.expand_as(getattr(self, k)) == 0] for k, mask in pairs.items()}

    def n_params(self) -> list[int]:
        """Trainable scalars of each model at its true shape (equal to count_parameters of the single model)."""
        d, N = self.d, self.N
        return [(d * N + N) + (N * h * n + h * n) + h * n + 4 * (h * n) ** 2 + (h * n * N + N) + (N + 1)
                for h, n in zip(self.hs, self.ns)]

    # ----------------------------------------------------------------------------------------------
    def _masked(self) -> dict[str, torch.Tensor]:
        # Multiplying by the 0/1 masks makes padded entries contribute nothing and get a zero gradient,
        # whatever values they hold.
        return {
            "W1": self.W1, "b1": self.b1, "W2": self.W2 * self.mask_E_row, "b2": self.b2 * self.mask_E_row,
            "c0": self.c0 * self.mask_c0, "W_Q": self.W_Q * self.mask_QKV, "W_K": self.W_K * self.mask_QKV,
            "W_V": self.W_V * self.mask_QKV, "W_O": self.W_O * self.mask_O, "R1": self.R1 * self.mask_R1,
            "r1": self.r1, "R2": self.R2, "r2": self.r2,
        }

    def forward(self, x: torch.Tensor, form: str = "fused", idx: torch.Tensor | None = None) -> torch.Tensor:
        """y_hat of every model, (G, B), for x of shape (G, B, T, d) or (B, T, d) (shared by all models).

        x may also carry a last column of ones (width d + 1, see `with_ones`), which saves a copy per call.
        With idx (G, B) (int64), x is a whole set (n, T, d + 1) and model m's inputs are x[idx[m]]: the C
        kernel reads those rows where they lie; otherwise they are gathered into an (G, B, T, d + 1) copy."""
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        G, d = self.G, self.d
        if x.shape[-1] == d:
            x = with_ones(x)
        if idx is not None:
            if x.ndim != 3 or idx.ndim != 2 or idx.shape[0] != G:
                raise ValueError(f"with idx (G={G}, B), x must be a set (n, T, d + 1); got x {tuple(x.shape)}, "
                                 f"idx {tuple(idx.shape)}")
            idx = idx.contiguous()
            if not (form == "fused" and self._c_kernel(x)):
                rows = x.reshape(x.shape[0], -1).index_select(0, idx.reshape(-1))  # whole rows: fast on a 2-D view
                x, idx = rows.view(*idx.shape, *x.shape[1:]), None
        elif x.ndim == 3:
            x = x.unsqueeze(0).expand(G, *x.shape)
        if idx is None and (x.ndim != 4 or x.shape[0] != G or x.shape[-1] != d + 1):
            raise ValueError(f"input must have shape (G={G}, B, T, d={d}) or (B, T, d), got {tuple(x.shape)}")
        B, T = (idx.shape[1], x.shape[1]) if idx is not None else x.shape[1:3]
        w = self._masked()
        W1a = torch.cat([w["W1"], w["b1"]], dim=1)  # [W1; b1]: (G, d + 1, N), as x carries a ones column
        if form == "fused":
            return self._forward_fused(x, W1a, w, B, idx)
        q = torch.einsum("me,mhje->mhj", w["c0"], w["W_Q"])  # W_Q,i c0: (G, H, n)
        a = torch.relu(torch.bmm(x.reshape(G, B * T, d + 1), W1a))  # relu(W1 x(t) + b1): (G, B T, N)
        z = w["c0"][:, None, :] + self._attend_direct(a, q, w, B, T)  # c0 + W_O Concat(...): (G, B, E)
        r = F.gelu(torch.baddbmm(w["r1"], z, w["R1"]))  # (G, B, N)
        return torch.baddbmm(w["r2"], r, w["R2"]).squeeze(-1)  # (G, B)

    def _attend_direct(self, a, q, w, B, T):
        """W_O Concat_i sum_t softmax_t(beta q_i . k_i(t)) v_i(t), computed as equation (4) is written."""
        G, H, n = self.G, self.H, self.n_max
        xh = torch.baddbmm(w["b2"], a, w["W2"])  # x_hat: (G, B T, E)
        wkv = torch.cat([w["W_K"], w["W_V"]], dim=1).reshape(G, 2 * H * n, -1)  # (G, 2 H n, E)
        kv = torch.bmm(xh, wkv.transpose(1, 2)).view(G, B, T, 2, H, n)  # (G, B, T, 2, H, n)
        k, v = kv[:, :, :, 0], kv[:, :, :, 1]  # (G, B, T, H, n)
        logits = self.beta * torch.einsum("mbthj,mhj->mbht", k, q)  # (G, B, H, T)
        att = torch.softmax(logits, dim=-1)
        heads = torch.einsum("mbht,mbthj->mbhj", att, v)  # (G, B, H, n)
        return torch.bmm(heads.reshape(G, B, H * n), w["W_O"].reshape(G, -1, H * n).transpose(1, 2))

    def _forward_fused(self, x, W1a, w, B, idx):
        """y_hat with the E-wide products moved from every token, and from every sequence, onto the weights."""
        G, H, n, N, E = self.G, self.H, self.n_max, self.N, self.E_max
        W2, b2, R1 = w["W2"], w["b2"], w["R1"]  # (G, N, E), (G, 1, E), (G, E, N)
        W_V = w["W_V"].view(G, H * n, E)
        W_O = w["W_O"].view(G, E, H * n)
        q = torch.bmm(w["W_Q"].view(G, H * n, E), w["c0"][:, :, None]).view(G, H, n, 1)  # W_Q,i c0
        u = self.beta * (q * w["W_K"]).sum(2)  # rows u_i = beta W_K,i^T W_Q,i c0: (G, H, E)
        At = torch.bmm(u, W2.transpose(1, 2))  # rows (W2 u_i)^T: (G, H, N)
        ct = torch.bmm(u, b2.transpose(1, 2))  # b2 . u_i: (G, H, 1)
        if self._c_kernel(x):
            pooled = TokenPoolC.apply(x, W1a, At, ct, self.hs, idx)  # (G, B, H, N)
        else:
            pooled = _TokenPool.apply(x, W1a, At, ct, self._workspace, self._chunks(B * x.shape[2]))
        # F's first layer on c0 + W_O Concat_i W_V,i (W2^T pooled_i + b2) (sum_t att_i(t) = 1): per head the
        # n x N matrix W_V,i W2^T, then W_O's columns of head i and R1, folded into one (H N) x N matrix;
        # what does not depend on the input is one bias per model.
        RW = torch.bmm(W_O.transpose(1, 2), R1).view(G * H, n, N)  # R1^T W_O per head
        V2 = torch.bmm(W_V, W2.transpose(1, 2)).view(G * H, n, N)  # W_V,i W2^T
        RWV = torch.bmm(V2.transpose(1, 2), RW).view(G, H * N, N)  # (G, H N, N)
        vb = torch.bmm(b2, W_V.transpose(1, 2))  # W_V,i b2 for every head: (G, 1, H n)
        rb = torch.bmm(w["c0"][:, None, :], R1) + torch.bmm(vb, RW.view(G, H * n, N)) + w["r1"]  # (G, 1, N)
        r = F.gelu(torch.baddbmm(rb, pooled.view(G, B, H * N), RWV))  # (G, B, N)
        return torch.baddbmm(w["r2"], r, w["R2"]).squeeze(-1)  # (G, B)

    def _c_kernel(self, x: torch.Tensor) -> bool:
        """Whether the per-token part runs in the C kernel: kernel "c", or "auto" where it applies (CPU,
        float32, N a multiple of 8) and builds; otherwise the batched products of `_TokenPool`."""
        if self.kernel == "torch":
            return False
        fits = x.device.type == "cpu" and x.dtype == torch.float32 and self.N % 8 == 0
        if self.kernel == "c":
            if not fits:
                raise ValueError(f"kernel 'c' needs float32 CPU tensors and N a multiple of 8; got {x.dtype} on "
                                 f"{x.device.type}, N={self.N}")
            if not ckernel.available():
                raise ckernel.KernelUnavailable(f"kernel 'c' is not available: {ckernel.why_unavailable()}")
            return True
        return fits and ckernel.available()

    def kernel_used(self, device: torch.device | str = "cpu") -> str:
        """'c' or 'torch': what the fused form's per-token part runs on for float32 inputs on device."""
        dev = torch.device(device)
        return "c" if self._c_kernel(torch.empty(0, device=dev)) else "torch"

    def _chunks(self, tokens_per_model: int) -> list[tuple[int, int, int]]:
        """Consecutive models handled together by the fused form: (m0, m1, largest h among them)."""
        per = max(1, self.chunk_tokens // tokens_per_model)
        return [(m0, min(self.G, m0 + per), max(self.hs[m0 : m0 + per])) for m0 in range(0, self.G, per)]

    @torch.no_grad()
    def predict(self, X: torch.Tensor, form: str = "fused") -> torch.Tensor:
        """y_hat of every model on one shared input set X (n, T, d) or (n, T, d + 1) with ones, in chunks: (G, n)."""
        n, T = X.shape[0], X.shape[1]
        if form == "fused":  # per-token tensors live per model chunk: chunks of about chunk_tokens tokens a model
            tokens = min(self.chunk_tokens, _EVAL_FLOATS // (self.G * self.N))
        else:  # the direct form holds (G, tokens, E) activations at once
            tokens = _EVAL_FLOATS // (self.G * max(self.N, self.E_max, 2 * self.H * self.n_max))
        chunk = max(1, tokens // T)
        return torch.cat([self(X[i : i + chunk], form=form) for i in range(0, n, chunk)], dim=1)


def with_ones(x: torch.Tensor) -> torch.Tensor:
    """x with a column of ones appended on the last axis, (..., d) -> (..., d + 1): the bias of the
    encoder's first layer then rides in the same product as its weights."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)


class _Workspace:
    """Reusable buffers for the per-token activations of the fused form.

    On the CPU every fresh multi-megabyte tensor is new memory that the kernel must map page by page;
    reusing scratch buffers across steps removes that cost. (The activations kept for a backward pass are
    fresh tensors: reusing a buffer for them measured no faster.)"""

    def __init__(self):
        self._buf: dict[tuple, torch.Tensor] = {}

    def take(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        key = (name, like.device, like.dtype)
        need = math.prod(shape)
        buf = self._buf.get(key)
        if buf is None or buf.numel() < need:
            buf = self._buf[key] = torch.empty(need, device=like.device, dtype=like.dtype)
        return buf[:need].view(shape)


class _TokenPool(torch.autograd.Function):
    """Per-token part of the fused form, computed a few models at a time with a hand-written backward.

    forward(x1 (G,B,T,d+1), W1a (G,d+1,N), At (G,H,N), ct (G,H,1)) -> pooled (G,B,H,N) with
        a(t) = relu(x1(t) W1a),  att_i = softmax_t(At_i . a(t) + ct_i),  pooled_i = sum_t att_i(t) a(t),
    where x1 = [x, 1] and W1a = [W1; b1], so one product gives the layer and its bias (and one product the
    gradient of both). Gradients flow to W1a, At, ct (not to x, the data).

    Why by hand: the (G, B T, N) activations are the only large tensors of the step. They are computed a
    chunk of models at a time (a chunk's activations stay in cache between the products that use them) and
    kept for the backward pass when a gradient is wanted (G B T N floats: 16 MB for the laptop grid at
    T = 64; recomputing them instead cost more time than it saved); without a gradient (evaluation) one
    chunk-sized scratch buffer serves every chunk. Every product is laid out so that BLAS takes it without copies."""

    @staticmethod
    def forward(ctx, x1, W1a, At, ct, ws: _Workspace, chunks: list[tuple[int, int, int]]):
        # chunks: (m0, m1, h) = models m0..m1-1 handled together, using their first h heads (the largest
        # h among them); heads beyond a model's own h are zero-padding whose pooled value is set to 0.
        G, B, T, _ = x1.shape
        N, H = W1a.shape[2], At.shape[1]
        pooled = torch.empty(G, B, H, N, dtype=W1a.dtype, device=W1a.device)
        keep = any(ctx.needs_input_grad)  # kept for backward: fresh tensors; else one scratch buffer
        atts, acts = [], []
        for m0, m1, h in chunks:
            c = m1 - m0
            a = _TokenPool.activations(x1, W1a, None if keep else ws, m0, m1)  # (c, B T, N)
            lg = torch.baddbmm(ct[m0:m1, :h], At[m0:m1, :h], a.transpose(1, 2))  # logits: (c, h, B T)
            att = torch.softmax(lg.view(c, h, B, T), dim=-1).transpose(1, 2).reshape(c * B, h, T)
            if h == H:
                torch.bmm(att, a.view(c * B, T, N), out=pooled[m0:m1].view(c * B, H, N))
            else:
                pooled[m0:m1, :, :h] = torch.bmm(att, a.view(c * B, T, N)).view(c, B, h, N)
                pooled[m0:m1, :, h:] = 0
            atts.append(att)
            acts.append(a)
        if keep:
            ctx.save_for_backward(x1, At, *atts, *acts)
            ctx.ws, ctx.chunks = ws, chunks
        return pooled

    @staticmethod
    def activations(x1, W1a, ws, m0, m1):
        """a = relu(x1 W1a) for models m0..m1-1: (m1 - m0, B T, N), in ws's scratch buffer if ws is given."""
        _, B, T, d1 = x1.shape
        shape = (m1 - m0, B * T, W1a.shape[2])
        a = ws.take("a", shape, W1a) if ws is not None else torch.empty(shape, dtype=W1a.dtype, device=W1a.device)
        torch.bmm(x1[m0:m1].reshape(m1 - m0, B * T, d1), W1a[m0:m1], out=a)
        return a.relu_()

    @staticmethod
    def backward(ctx, g_pooled):
        x1, At, *saved = ctx.saved_tensors
        atts, acts = saved[: len(ctx.chunks)], saved[len(ctx.chunks) :]
        G, B, T, d1 = x1.shape
        N, H = At.shape[2], At.shape[1]
        gW1a = torch.empty(G, d1, N, dtype=At.dtype, device=At.device)
        gAt, gct = torch.zeros_like(At), torch.zeros(G, H, 1, dtype=At.dtype, device=At.device)
        for (m0, m1, h), att, a in zip(ctx.chunks, atts, acts):
            c = m1 - m0
            gp = g_pooled[m0:m1, :, :h].reshape(c * B, h, N)
            g_att = torch.bmm(gp, a.view(c * B, T, N).transpose(1, 2))  # (c B, h, T)
            # softmax backward along T: g_lg = att * (g_att - sum_t att g_att)
            g_lg = g_att.sub_((att * g_att).sum(-1, keepdim=True)).mul_(att)
            g_lgH = g_lg.view(c, B, h, T).transpose(1, 2).reshape(c, h, B * T)  # (c, h, B T)
            ga = ctx.ws.take("ga", (c, B * T, N), a)
            torch.bmm(att.transpose(1, 2), gp, out=ga.view(c * B, T, N))  # through the pooling
            ga.baddbmm_(g_lgH.transpose(1, 2), At[m0:m1, :h])  # through the logits
            torch.ops.aten.threshold_backward.grad_input(ga, a, 0, grad_input=ga)  # relu'
            torch.bmm(x1[m0:m1].reshape(c, B * T, d1).transpose(1, 2), ga, out=gW1a[m0:m1])
            gAt[m0:m1, :h] = torch.bmm(g_lgH, a)
            gct[m0:m1, :h] = g_lgH.sum(-1, keepdim=True)
        return None, gW1a, gAt, gct, None, None


def _device(device) -> torch.device:
    return torch.device(device) if device is not None else default_device()


def _check_stack(runs: list[SyntheticRun]) -> None:
    if not runs:
        raise ValueError("train_stack needs at least one run")
    for f in SHARED_FIELDS:
        values = {getattr(r, f) for r in runs}
        if len(values) != 1:
            raise ValueError(f"runs in one stack must share {f!r}; got {sorted(values, key=str)}")
    if not stackable(runs[0]):
        raise ValueError(f"only n_layers = 1 with optimizer 'adam' can be stacked; got n_layers={runs[0].n_layers}, "
                         f"optimizer={runs[0].optimizer!r} (use train.train_one)")


def train_stack(
    runs: list[SyntheticRun],
    data: dict[str, torch.Tensor] | None = None,
    eval_every: int = 1,
    device=None,
    form: str = "fused",
    kernel: str = "auto",
) -> list[dict]:
    """Train G runs that share SHARED_FIELDS as one stacked computation.

    Returns, per run and in order, the metrics of `train_one`: val_nmse (final validation NMSE),
    train_nmse, curve [(epoch, val_nmse)], n_params, train_seconds (the stack's wall time divided by G),
    plus device, engine ("stacked/<form>", with "/c" when the C kernel ran the per-token part) and stack_size G.
    device None picks cuda when available; kernel "auto" (the C kernel where it applies and builds), "c" or
    "torch" (see `StackedTransformers._c_kernel`)."""
    return fit_stack(runs, data, eval_every, device, form, kernel)[2]


def fit_stack(
    runs: list[SyntheticRun],
    data: dict[str, torch.Tensor] | None = None,
    eval_every: int = 1,
    device=None,
    form: str = "fused",
    kernel: str = "auto",
) -> tuple[StackedTransformers, list[int], list[dict]]:
    """`train_stack`, also returning the trained stack: (stack, order, metrics), where slot k of the stack
    holds runs[order[k]] (models are sorted by size inside) and metrics are in the order of `runs`."""
    _check_stack(runs)
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    run0 = runs[0]
    dev = _device(device)
    t0 = time.perf_counter()
    data = data if data is not None else make_data(run0)
    Xtr, ytr, Xva, yva = (data[k].to(dev) for k in ("Xtr", "ytr", "Xva", "yva"))
    mu, sd = ytr.mean(), ytr.std()
    y_std = (ytr - mu) / sd  # the standardised targets train_one forms per minibatch, elementwise the same
    X1, X1va = with_ones(Xtr), with_ones(Xva)  # (n, T, d + 1): minibatches are gathered from these

    # Models sorted by size inside the stack, so that the fused form's chunks hold similar head counts.
    order = sorted(range(len(runs)), key=lambda i: (runs[i].h, runs[i].n))
    runs = [runs[i] for i in order]
    stack = StackedTransformers.from_models([HeadcountTransformer(r.model_config(), seed=r.seed) for r in runs])
    stack = stack.to(dev)
    stack.kernel = kernel
    engine = f"stacked/{form}" + ("/c" if form == "fused" and stack.kernel_used(dev) == "c" else "")
    if dev.type != "cpu":
        stack.chunk_tokens = 1 << 30  # one chunk: on an accelerator each launch costs, and memory is ample
    opt = _adam(stack, run0)
    # One generator per model, seeded as train_one seeds it, so each model sees its own minibatch order.
    gens = [torch.Generator().manual_seed(int(r.seed) + 1_000_003) for r in runs]
    n_train, bs = run0.n_train, run0.batch_size
    steps_per_epoch = math.ceil(n_train / bs)
    total = steps_per_epoch * run0.epochs
    curves: list[list[tuple[int, float]]] = [[] for _ in runs]
    step = 0
    for epoch in range(run0.epochs):
        perms = torch.stack([torch.randperm(n_train, generator=g) for g in gens]).to(dev)  # (G, n_train)
        stack.train()
        for b in range(steps_per_epoch):
            idx = perms[:, b * bs : (b + 1) * bs]  # (G, B): model m's minibatch
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, run0.lr)
            pred = stack(X1, form=form, idx=idx)  # (G, B): model m on its minibatch X1[idx[m]]
            # Sum over models of each model's own mean: model m's gradient is the one it gets alone.
            loss = ((pred - y_std[idx]) ** 2).mean(dim=1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if (epoch + 1) % eval_every == 0 or epoch + 1 == run0.epochs:
            for m, v in enumerate(_evaluate(stack, X1va, yva, mu, sd, form)):
                curves[m].append((epoch + 1, v))
    train_nmse = _evaluate(stack, X1, ytr, mu, sd, form)
    seconds = time.perf_counter() - t0
    G = len(runs)
    n_params = stack.n_params()
    out: list[dict] = [{}] * G
    for k, i in enumerate(order):
        out[i] = {
            "val_nmse": curves[k][-1][1],
            "train_nmse": train_nmse[k],
            "curve": curves[k],
            "n_params": n_params[k],
            "train_seconds": seconds / G,
            "device": str(dev),
            "engine": engine,
            "stack_size": G,
        }
    return stack, order, out


def _adam(stack: StackedTransformers, run: SyntheticRun) -> torch.optim.Adam:
    """Adam over the stacked tensors. Adam is elementwise, so this is one Adam per model; the fused kernel
    (one pass over each tensor) is used where this torch build has it."""
    try:
        return torch.optim.Adam(stack.parameters(), lr=run.lr, weight_decay=run.weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(stack.parameters(), lr=run.lr, weight_decay=run.weight_decay, foreach=True)


def _evaluate(stack: StackedTransformers, X, y, mu, sd, form: str) -> list[float]:
    """NMSE of every model of the stack on (X, y) in original units (as train.evaluate, per model)."""
    stack.eval()
    preds = stack.predict(X, form=form)  # (G, n)
    return [nmse(p * sd + mu, y) for p in preds]


# L > 1 models. Stacking them measured slower, not faster: the reference forward mapped over a stack of the
# seeds of one (h, n) with torch.func.vmap took 1.9x (T = 32) to 2.9x (T = 128) the time of training the same
# models one after another (3 seeds, one thread; the batched einsums copy their operands). What does pay is the
# attention itself: the reference computes beta q.k, the softmax and the weighted sum as separate tensors of
# shape (B, h, T, T) (30% of a step in copies, 20% in the softmax); torch's fused scaled_dot_product_attention
# computes the same function in one pass, forward and backward, about 2x faster per step at T = 128. So L > 1
# models train one at a time (each its own computation, as in `train.train_one`), with that attention.


def attention_sdpa(attn, q_tokens: torch.Tensor, x: torch.Tensor, beta: float) -> torch.Tensor:
    """`model.HeadAttention.forward` (W_O Concat_i sum_t softmax_t(beta q_i . k_i(t)) v_i(t)) with the softmax
    and the weighted sum fused (F.scaled_dot_product_attention, scale beta); the same weights, shapes in and out."""
    B, T, E = x.shape
    h, n = attn.h, attn.n
    Q = q_tokens.shape[1]
    q = (q_tokens @ attn.W_Q.reshape(h * n, E).T).view(B, Q, h, n).transpose(1, 2)  # (B, h, Q, n)
    kv = (x @ torch.cat([attn.W_K.reshape(h * n, E), attn.W_V.reshape(h * n, E)]).T).view(B, T, 2, h, n)
    k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)  # (B, h, T, n)
    o = F.scaled_dot_product_attention(q, k, v, scale=beta)  # (B, h, Q, n)
    return o.transpose(1, 2).reshape(B, Q, h * n) @ attn.W_O.T


def forward_sdpa(model: HeadcountTransformer, x: torch.Tensor) -> torch.Tensor:
    """`HeadcountTransformer.forward` with every attention through `attention_sdpa` (the same function)."""
    beta = model.cfg.beta
    xh = model.encoder(x)
    for block in model.blocks:
        xh = xh + attention_sdpa(block.attn, xh, xh, beta)
        xh = xh + block.mlp(xh)
    q = model.c0.expand(xh.shape[0], 1, -1)
    y = model.readout(model.c0 + attention_sdpa(model.attn, q, xh, beta)[:, 0])
    return y.squeeze(-1) if model.cfg.out_dim == 1 else y


def train_deep(run: SyntheticRun, data: dict[str, torch.Tensor] | None = None, eval_every: int = 1,
               device=None) -> dict:
    """`train.train_one` for an L > 1 model with the fused attention of `forward_sdpa`: the same weights (drawn
    from the run's seed), minibatch order, schedule, standardised targets, Adam and evaluation; results equal
    train_one's up to floating-point reordering (tests/test_batched.py)."""
    if run.optimizer != "adam":
        raise ValueError(f"optimizer must be 'adam', got {run.optimizer!r}")
    dev = _device(device)
    data = data if data is not None else make_data(run)
    Xtr, ytr, Xva, yva = (data[k].to(dev) for k in ("Xtr", "ytr", "Xva", "yva"))
    mu, sd = ytr.mean(), ytr.std()
    model = HeadcountTransformer(run.model_config(), seed=run.seed).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    gen = torch.Generator().manual_seed(int(run.seed) + 1_000_003)
    steps_per_epoch = math.ceil(run.n_train / run.batch_size)
    total = steps_per_epoch * run.epochs
    curve, step, t0 = [], 0, time.perf_counter()
    for epoch in range(run.epochs):
        perm = torch.randperm(run.n_train, generator=gen).to(dev)
        model.train()
        for b in range(steps_per_epoch):
            idx = perm[b * run.batch_size : (b + 1) * run.batch_size]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, run.lr)
            loss = ((forward_sdpa(model, Xtr[idx]) - (ytr[idx] - mu) / sd) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if (epoch + 1) % eval_every == 0 or epoch + 1 == run.epochs:
            curve.append((epoch + 1, _eval_sdpa(model, Xva, yva, mu, sd)))
    return {"val_nmse": curve[-1][1], "train_nmse": _eval_sdpa(model, Xtr, ytr, mu, sd), "curve": curve,
            "n_params": sum(p.numel() for p in model.parameters()), "train_seconds": time.perf_counter() - t0,
            "device": str(dev), "engine": "single/sdpa"}


@torch.no_grad()
def _eval_sdpa(model, X, y, mu, sd, chunk: int = 4096) -> float:
    model.eval()
    preds = torch.cat([forward_sdpa(model, X[i : i + chunk]) for i in range(0, len(X), chunk)])
    return nmse(preds * sd + mu, y)


def run_synthetic_group(configs: list[dict]) -> list[dict]:
    """An `Experiment.run_group`: metrics for each SyntheticRun config, in input order.

    Stackable configs with equal `stack_key` train together with `train_stack`; anything else (n_layers > 1)
    falls back to `train.train_one`. Data is made once per data key."""
    runs = [SyntheticRun.from_dict(c) for c in configs]
    out: list[dict | None] = [None] * len(runs)
    data_cache: dict[tuple, dict] = {}

    def data_for(run: SyntheticRun) -> dict:
        key = tuple(getattr(run, f) for f in DATA_FIELDS)
        if key not in data_cache:
            data_cache.clear()  # consecutive groups usually share data; keep at most one set in memory
            data_cache[key] = make_data(run)
        return data_cache[key]

    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        if stackable(run):
            groups.setdefault(stack_key(configs[i]), []).append(i)
        elif DEEP_ENGINE == "sdpa" and run.optimizer == "adam":
            out[i] = train_deep(run, data_for(run))  # L > 1: one at a time, fused attention
        else:
            out[i] = {**train_one(run, data_for(run)), "engine": "single"}
    for idx in groups.values():
        for i, metrics in zip(idx, train_stack([runs[i] for i in idx], data_for(runs[idx[0]]))):
            out[i] = metrics
    return out
