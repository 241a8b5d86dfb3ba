"""The MS MARCO retrieval model of the paper's Section 6.2, its training and its metrics.

Model (paper, Appendix B.2): a BERT tokenizer and BERT's word, position and segment embeddings, frozen;
a trained linear projection to the width E = n h (per-head width n = 32); a two-layer transformer encoder
with h heads; a score per candidate and a softmax over the T candidates of a list (cross-entropy on the
positive). What the paper leaves open is fixed here and recorded in each run's config:

- the frozen tables are those of all-MiniLM-L6-v2 (bert-base-uncased vocabulary and ids, width d = 384;
  the paper used BERT's 768), including BERT's frozen embedding LayerNorm applied to the sum;
- the fusion of query and passage (``fusion``):
  * ``"list"`` (default): one sequence element per text. The query and each of the T candidates are
    embedded token by token with the frozen tables ([CLS] q [SEP] with segment 0; p [SEP] with segment 1;
    positions counted within the text) and mean-pooled over their tokens; the projection and encoder then
    run over the T + 1 elements (query first), so the heads attend across candidates, which is the
    sequence of length T of the paper's theory (its Section 3: "T the number of candidates"). The score
    of candidate t is a linear read-out of its output element. No position is given to the candidates, so
    the scores are permutation-equivariant.
  * ``"pair"``: a cross-encoder. Each candidate is the token sequence [CLS] q [SEP] p [SEP] (segments
    0 / 1, BERT positions), the encoder runs over the tokens of each pair separately, and the score is a
    linear read-out of the [CLS] output. Costs about (query + passage tokens) times more than "list".
- encoder layers (`EncoderLayer`): pre-LayerNorm self-attention with per-head weights in the synthetic
  model's layout, W_Q, W_K, W_V of shape (h, n, E) (head i maps the width E to its n) and W_O of shape
  (E, h n) on the concatenated heads, then a GELU feed-forward of width ffn_mult * E, dropout `dropout` on
  each residual branch, and a final LayerNorm; initialised as PyTorch's nn.TransformerEncoderLayer
  initialises its parameters (xavier-uniform W_Q, W_K, W_V as one (3E, E) matrix, zero biases on them and
  on W_O, PyTorch's Linear init elsewhere), from a generator seeded with the run's seed;
- training: AdamW, linear warm-up then cosine decay to zero, gradient norm clipped at 1, full passes over
  the training lists in seeded random order; optionally stopped once every training list has been ranked
  right during `stop_after_perfect` consecutive epochs (such a model has shown all it can).

Metrics: top-1 accuracy (the positive scores strictly above every negative; ties count as misses) and MRR
(mean of 1 / rank of the positive, ties ranked pessimistically), on the training lists (the paper's main
metric) and on the lists of held-out queries.

Engines: runs that share their lists and differ only in h and seed can train as one stacked model
(`StackedScorer`: every model padded to the widest, the padding zero and masked out of every LayerNorm, so it
contributes exactly nothing; each model keeps its own initialisation, list order, gradient clipping and
early stop), engine "stacked". A group stacks its whole head grid on a GPU and only the seeds of each h on a
CPU, where the padded stack was measured slower (`stacks_across_heads`); a stack of one, the pair fusion and
dropout > 0 train one model at a time (`train_run`, the reference, engine "single"). tests/test_retrieval_stack.py checks that a stacked model computes what each
model computes alone (values, gradients, a short training run).

The error law the paper fits to these accuracies (Fig. 2b) is analysis, not training: `headcount.analysis`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from headcount.engine.realdata import msmarco
from headcount.engine.sweep import Experiment

CODE_MODULES = ("engine.retrieval", "engine.realdata.msmarco", "engine.realdata.msfiles", "engine.realdata.devsmall")


# ----------------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class RetrievalRun:
    """Everything that determines one MS MARCO training run (its hash is the store key)."""

    # the candidate lists (see realdata.msmarco.ListsConfig)
    source: str = "dl19"
    n_queries: int = 0
    n_val_queries: int = 8
    max_positives: int = 0
    split_seed: int = 0
    T: int = 8
    bm25_fraction: float = 0.5
    mine_depth: int = 100
    data_seed: int = 0
    max_query_tokens: int = 16
    max_passage_tokens: int = 64
    dense_max_tokens: int = 128
    test_source: str = ""
    test_max_positives: int = 0
    # the model
    fusion: str = "list"
    h: int = 1
    n: int = 32  # per-head width (paper: 32), E = n h
    n_layers: int = 2  # paper: two-layer encoder
    ffn_mult: int = 4  # feed-forward width = ffn_mult * E
    dropout: float = 0.0
    # training
    epochs: int = 30
    batch_size: int = 32  # lists per step
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_frac: float = 0.05
    stop_after_perfect: int = 0  # stop once every training list was ranked right in this many epochs in a row (0: never)
    seed: int = 0  # initialisation and list order
    device: str = "auto"  # resolved at run time ("cuda" when there is one); not part of the result

    def __post_init__(self) -> None:
        if self.fusion not in ("list", "pair"):
            raise ValueError(f"fusion must be 'list' or 'pair', got {self.fusion!r}")
        if self.T < 2 or self.h < 1 or self.n < 1 or self.n_layers < 1:
            raise ValueError(f"need T >= 2, h, n, n_layers >= 1; got T={self.T} h={self.h} n={self.n}")
        if self.fusion == "pair" and self.max_query_tokens + self.max_passage_tokens + 3 > 512:
            raise ValueError("a pair must fit BERT's 512 positions: max_query_tokens + max_passage_tokens <= 509")

    @property
    def E(self) -> int:
        return self.n * self.h

    def lists_config(self) -> msmarco.ListsConfig:
        return msmarco.ListsConfig.from_dict(asdict(self))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RetrievalRun":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RetrievalRun fields {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**d)


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# ----------------------------------------------------------------------------------------------------------
# the model


class FrozenBertEmbedding(nn.Module):
    """LN(word[id] + position[pos] + segment[seg]) with BERT's tables, all frozen (buffers, not parameters)."""

    def __init__(self, tables: dict[str, torch.Tensor] | None = None):
        super().__init__()
        tables = tables if tables is not None else msmarco.bert_tables()
        for name in ("word", "position", "segment", "ln_weight", "ln_bias"):
            self.register_buffer(name, tables[name].detach().float().clone(), persistent=False)

    @property
    def d(self) -> int:
        return self.word.shape[1]

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, positions: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        """ids, positions, segments (...,) -> (..., d)."""
        x = self.word[ids] + self.position[positions] + self.segment[segments]
        return nn.functional.layer_norm(x, (self.d,), self.ln_weight, self.ln_bias, eps=1e-12)

    @torch.no_grad()
    def pooled(self, tokens: torch.Tensor, lengths: torch.Tensor, segment: int) -> torch.Tensor:
        """Mean over the real tokens of each text: tokens (N, L), lengths (N,) -> (N, d)."""
        N, L = tokens.shape
        pos = torch.arange(L, device=tokens.device).expand(N, L)
        x = self(tokens, pos, torch.full_like(tokens, segment))  # (N, L, d)
        m = (pos < lengths[:, None]).float()[..., None]
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(n)) v over the last two axes, (..., L, n) each; keep (broadcastable to (..., L, L))
    False at keys that get no weight. Written out rather than fused: with heads as narrow as n = 2 and
    sequences of a few dozen elements, PyTorch's fused CPU kernel was several times slower (make bench)."""
    logits = (q / math.sqrt(q.shape[-1])) @ k.transpose(-1, -2)
    if keep is not None:
        logits = logits.masked_fill(~keep, float("-inf"))
    return torch.softmax(logits, dim=-1) @ v


def _uniform(gen: torch.Generator, shape: tuple, bound: float) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


class EncoderLayer(nn.Module):
    """One pre-LayerNorm encoder layer with h heads of width n over the width E = n h (see the module
    docstring): x + Drop(W_O Concat_i softmax(Q_i K_i^T / sqrt(n)) V_i) on LN(x), then x + Drop(FFN(LN(x)))."""

    def __init__(self, h: int, n: int, E: int, F: int, dropout: float, gen: torch.Generator):
        super().__init__()
        self.h, self.n = h, n
        self.ln1, self.ln2 = nn.LayerNorm(E), nn.LayerNorm(E)
        a = math.sqrt(6.0 / (E + 3 * E))  # xavier-uniform of the (3E, E) in-projection PyTorch's layer uses
        self.W_Q, self.W_K, self.W_V = (nn.Parameter(_uniform(gen, (h, n, E), a)) for _ in range(3))
        self.b_Q, self.b_K, self.b_V = (nn.Parameter(torch.zeros(h, n)) for _ in range(3))
        self.W_O = nn.Parameter(_uniform(gen, (E, h * n), 1 / math.sqrt(h * n)))
        self.b_O = nn.Parameter(torch.zeros(E))
        self.W_1, self.b_1 = nn.Parameter(_uniform(gen, (F, E), 1 / math.sqrt(E))), nn.Parameter(
            _uniform(gen, (F,), 1 / math.sqrt(E)))
        self.W_2, self.b_2 = nn.Parameter(_uniform(gen, (E, F), 1 / math.sqrt(F))), nn.Parameter(
            _uniform(gen, (E,), 1 / math.sqrt(F)))
        self.drop = nn.Dropout(dropout)

    def attention(self, y: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """y (B, L, E), pad (B, L) True at padded keys -> concatenated heads (B, L, h n)."""
        q, k, v = (torch.einsum("hne,ble->bhln", W, y) + b[None, :, None, :]
                   for W, b in ((self.W_Q, self.b_Q), (self.W_K, self.b_K), (self.W_V, self.b_V)))
        keep = None if pad is None else ~pad[:, None, None, :]  # (B, 1, 1, L): True where a key may be attended
        o = attend(q, k, v, keep)  # (B, h, L, n)
        return o.transpose(1, 2).reshape(y.shape[0], y.shape[1], self.h * self.n)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop(self.attention(self.ln1(x), pad) @ self.W_O.T + self.b_O)
        f = nn.functional.gelu(self.ln2(x) @ self.W_1.T + self.b_1)
        return x + self.drop(f @ self.W_2.T + self.b_2)


class CandidateScorer(nn.Module):
    """Projection d -> E = n h, an n_layers encoder with h heads of width n, and a linear score per candidate.
    Initialised from a generator seeded with run.seed (the global RNG is not touched)."""

    def __init__(self, run: RetrievalRun, d_in: int, frozen: FrozenBertEmbedding | None = None):
        super().__init__()
        self.fusion = run.fusion
        self.h, self.n, self.E = run.h, run.n, run.E
        gen = torch.Generator().manual_seed(run.seed)
        self.proj = nn.Linear(d_in, self.E)
        self.score = nn.Linear(self.E, 1)
        with torch.no_grad():
            for lin, fan_in in ((self.proj, d_in),):
                lin.weight.copy_(_uniform(gen, lin.weight.shape, 1 / math.sqrt(fan_in)))
                lin.bias.copy_(_uniform(gen, lin.bias.shape, 1 / math.sqrt(fan_in)))
        self.layers = nn.ModuleList(EncoderLayer(run.h, run.n, self.E, run.ffn_mult * self.E, run.dropout, gen)
                                    for _ in range(run.n_layers))
        self.norm = nn.LayerNorm(self.E)
        with torch.no_grad():
            self.score.weight.copy_(_uniform(gen, self.score.weight.shape, 1 / math.sqrt(self.E)))
            self.score.bias.copy_(_uniform(gen, self.score.bias.shape, 1 / math.sqrt(self.E)))
        self.frozen = frozen  # needed by the pair fusion only; holds buffers, nothing trainable
        if run.fusion == "pair" and frozen is None:
            raise ValueError("the pair fusion needs the frozen embedding tables")

    def encoder(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pad)
        return self.norm(x)

    def forward_list(self, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """q (B, d) pooled query, c (B, T, d) pooled candidates -> scores (B, T)."""
        x = self.proj(torch.cat([q[:, None, :], c], dim=1))  # (B, T + 1, E)
        y = self.encoder(x)  # (B, T + 1, E)
        return self.score(y[:, 1:]).squeeze(-1)  # (B, T)

    def forward_pair(self, q_tok: torch.Tensor, q_len: torch.Tensor, c_tok: torch.Tensor) -> torch.Tensor:
        """q_tok (B, Lq) = [CLS] q [SEP] [PAD]..., q_len (B,), c_tok (B, T, Lp) = p [SEP] [PAD]... -> (B, T)."""
        B, T, Lp = c_tok.shape
        Lq = q_tok.shape[1]
        ids = torch.cat([q_tok[:, None, :].expand(B, T, Lq), c_tok], dim=2).reshape(B * T, Lq + Lp)
        # BERT positions run on from the query's real length into the passage; pads are masked anyway
        pos_q = torch.arange(Lq, device=ids.device).expand(B, Lq)
        pos_p = q_len[:, None] + torch.arange(Lp, device=ids.device)
        pos = torch.cat([pos_q, pos_p], dim=1)[:, None, :].expand(B, T, Lq + Lp).reshape(B * T, -1)
        seg = torch.cat([torch.zeros(Lq, dtype=torch.long, device=ids.device),
                         torch.ones(Lp, dtype=torch.long, device=ids.device)]).expand(B * T, -1)
        pad = ids == 0  # [PAD] has id 0 in BERT's vocabulary
        x = self.proj(self.frozen(ids, pos.clamp(max=self.frozen.position.shape[0] - 1), seg))  # (B T, L, E)
        y = self.encoder(x, pad)  # (B T, L, E)
        return self.score(y[:, 0]).view(B, T)  # [CLS] read-out


# ----------------------------------------------------------------------------------------------------------
# the stacked engine: M models of one group as one computation


def _masked_layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, mask: torch.Tensor,
                       count: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """LayerNorm of each model over its own E features: x (M, ..., Emax), w, b (M, Emax) zero beyond E,
    mask (M, 1.., Emax), count (M, 1.., 1) = E of each model. The padded features come out zero."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    mu = (x * mask).sum(-1, keepdim=True) / count
    xc = (x - mu) * mask
    var = (xc * xc).sum(-1, keepdim=True) / count
    return xc * torch.rsqrt(var + eps) * w.view(shape) + b.view(shape)


class StackedScorer(nn.Module):
    """M list-fusion CandidateScorers (same n, n_layers, ffn_mult; any h) as one model whose parameters carry
    a leading model axis, each padded with zeros to the widest (Emax = n max h, Hmax heads, Fmax feed-forward
    width). A padded head has zero W_Q, W_K, W_V and zero W_O columns, so it adds exactly zero; padded
    features are zero in the residual stream and left out of every LayerNorm's mean and variance; their
    gradients are zero, so AdamW (weight decay included) keeps them zero."""

    NAMES = ("W_Q", "b_Q", "W_K", "b_K", "W_V", "b_V", "W_O", "b_O", "W_1", "b_1", "W_2", "b_2")

    def __init__(self, models: list[CandidateScorer]):
        super().__init__()
        if any(m.fusion != "list" for m in models):
            raise ValueError("only the list fusion is stacked")
        n = {m.n for m in models}
        if len(n) != 1 or len({len(m.layers) for m in models}) != 1:
            raise ValueError("stacked models must share n and n_layers")
        self.M, self.n = len(models), n.pop()
        self.Hmax = max(m.h for m in models)
        self.Emax = self.n * self.Hmax
        self.Fmax = max(m.layers[0].W_1.shape[0] for m in models)
        self.n_layers = len(models[0].layers)
        E = torch.tensor([float(m.E) for m in models])
        self.register_buffer("count", E.view(-1, 1, 1, 1), persistent=False)
        self.register_buffer("mask", (torch.arange(self.Emax)[None, :] < E[:, None]).float().view(self.M, 1, 1, -1),
                             persistent=False)
        # the real heads among the M Hmax padded ones: attention runs over these only (its cost grows with the
        # number of heads times L^2, which padding to the most heads would multiply)
        self.register_buffer("heads", torch.tensor([m * self.Hmax + i for m, mod in enumerate(models)
                                                    for i in range(mod.h)]), persistent=False)

        def pad(tensors, shape):
            out = torch.zeros((self.M,) + shape)
            for i, t in enumerate(tensors):
                out[(i,) + tuple(slice(0, s) for s in t.shape)] = t.detach()
            return nn.Parameter(out)

        H, N, Em, Fm = self.Hmax, self.n, self.Emax, self.Fmax
        d = models[0].proj.weight.shape[1]
        self.proj_w = pad([m.proj.weight for m in models], (Em, d))
        self.proj_b = pad([m.proj.bias for m in models], (Em,))
        shapes = {"W_Q": (H, N, Em), "b_Q": (H, N), "W_K": (H, N, Em), "b_K": (H, N), "W_V": (H, N, Em),
                  "b_V": (H, N), "b_O": (Em,), "W_1": (Fm, Em), "b_1": (Fm,), "W_2": (Em, Fm), "b_2": (Em,)}
        self.layer_params = nn.ModuleList()
        for li in range(self.n_layers):
            p = nn.ParameterDict()
            for name, shape in shapes.items():
                p[name] = pad([getattr(m.layers[li], name) for m in models], shape)
            # W_O (E, h n) on the concatenated heads: head i of model m owns columns i n .. (i + 1) n - 1
            p["W_O"] = pad([m.layers[li].W_O.view(m.E, m.h, N) for m in models], (Em, H, N))
            for ln in ("ln1", "ln2"):
                p[f"{ln}_w"] = pad([getattr(m.layers[li], ln).weight for m in models], (Em,))
                p[f"{ln}_b"] = pad([getattr(m.layers[li], ln).bias for m in models], (Em,))
            self.layer_params.append(p)
        self.norm_w = pad([m.norm.weight for m in models], (Em,))
        self.norm_b = pad([m.norm.bias for m in models], (Em,))
        self.score_w = pad([m.score.weight[0] for m in models], (Em,))
        self.score_b = pad([m.score.bias[0] for m in models], ())

    def _ln(self, x, w, b):
        return _masked_layer_norm(x, w, b, self.mask, self.count)

    def forward(self, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """q (M, B, d) pooled queries, c (M, B, T, d) pooled candidates (or q (B, d), c (B, T, d), the same lists
        for every model) -> scores (M, B, T)."""
        if q.dim() == 2:  # one batch of lists for every model (evaluation): projected without copying it M times
            xq, xc = torch.einsum("bd,med->mbe", q, self.proj_w), torch.einsum("btd,med->mbte", c, self.proj_w)
        else:
            xq, xc = torch.einsum("mbd,med->mbe", q, self.proj_w), torch.einsum("mbtd,med->mbte", c, self.proj_w)
        M, B = xq.shape[:2]
        x = torch.cat([xq[:, :, None, :], xc], dim=2) + self.proj_b[:, None, None, :]
        # (M, B, L, Emax), L = T + 1 (projected before joining: the frozen vectors are 384 wide)
        L = x.shape[2]
        for p in self.layer_params:
            y = self._ln(x, p["ln1_w"], p["ln1_b"])
            q_, k_, v_ = ((torch.einsum("mhne,mble->bmhln", p[f"W_{s}"], y) + p[f"b_{s}"][None, :, :, None, :])
                          .reshape(B, M * self.Hmax, L, self.n).index_select(1, self.heads)
                          for s in "QKV")  # (B, real heads, L, n)
            o = y.new_zeros(B, M * self.Hmax, L, self.n).index_copy(1, self.heads, attend(q_, k_, v_))
            x = x + torch.einsum("bmhln,mehn->mble", o.view(B, M, self.Hmax, L, self.n), p["W_O"]) \
                + p["b_O"][:, None, None, :]
            f = nn.functional.gelu(torch.einsum("mble,mfe->mblf", self._ln(x, p["ln2_w"], p["ln2_b"]), p["W_1"])
                                   + p["b_1"][:, None, None, :])
            x = x + torch.einsum("mblf,mef->mble", f, p["W_2"]) + p["b_2"][:, None, None, :]
        y = self._ln(x, self.norm_w, self.norm_b)
        return torch.einsum("mble,me->mbl", y[:, :, 1:], self.score_w) + self.score_b[:, None, None]

    def grad_norms(self) -> torch.Tensor:
        """(M,) the norm of each model's gradient over all its parameters (padding adds zeros)."""
        sq = torch.zeros(self.M, dtype=torch.float64)
        for t in self.parameters():
            if t.grad is not None:
                sq += t.grad.double().pow(2).reshape(self.M, -1).sum(1)
        return sq.sqrt()

    def snapshot(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i].detach().clone() for k, v in self.named_parameters()}

    def retire(self, i: int) -> None:
        """Leave model i's heads out of the attention from now on (a model that stopped early: its parameters
        were saved by `snapshot` and are restored before evaluation, so what it computes afterwards does not
        matter; without its heads it costs little)."""
        self.heads = self.heads[self.heads // self.Hmax != i]

    def all_heads(self, models_h: list[int]) -> None:
        self.heads = torch.tensor([m * self.Hmax + i for m, h in enumerate(models_h) for i in range(h)],
                                  device=self.heads.device)

    def restore(self, i: int, snap: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.named_parameters():
                v[i].copy_(snap[k])


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------------------------------------
# data on the device, metrics, training


class ListTensors:
    """The lists of one RetrievalLists as tensors, with the frozen part precomputed once (pooled text
    vectors for the list fusion), so that a training step is only the projection and the encoder."""

    def __init__(self, data: msmarco.RetrievalLists, fusion: str, device: str,
                 frozen: FrozenBertEmbedding | None = None):
        self.fusion, self.device = fusion, device
        t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        self.cands, self.ex_q = t(data.candidates), t(data.example_query)
        self.q_tok, self.q_len, self.p_tok, self.p_len = (t(data.query_tokens), t(data.query_len),
                                                          t(data.passage_tokens), t(data.passage_len))
        if fusion == "list":
            frozen = frozen if frozen is not None else FrozenBertEmbedding().to(device)
            self.q_vec = frozen.pooled(self.q_tok, self.q_len, segment=0)  # (nq, d)
            self.p_vec = frozen.pooled(self.p_tok, self.p_len, segment=1)  # (np, d)

    def inputs(self, idx: torch.Tensor) -> tuple:
        q, c = self.ex_q[idx], self.cands[idx]
        if self.fusion == "list":
            return self.q_vec[q], self.p_vec[c]
        return self.q_tok[q], self.q_len[q], self.p_tok[c]


def scores_of(model: CandidateScorer, inputs: tuple) -> torch.Tensor:
    return model.forward_list(*inputs) if model.fusion == "list" else model.forward_pair(*inputs)


def positive_rank(scores: torch.Tensor) -> torch.Tensor:
    """Rank of the positive (column 0) in each row of scores (B, T): 1 + #negatives scoring >= it."""
    return 1 + (scores[:, 1:] >= scores[:, :1]).sum(dim=1)


@torch.no_grad()
def evaluate(model: CandidateScorer, lists: ListTensors, idx: np.ndarray, batch_size: int = 256) -> dict:
    """Top-1 accuracy and MRR of the positive over the lists idx (nan when idx is empty)."""
    if len(idx) == 0:
        return {"acc": float("nan"), "mrr": float("nan")}
    model.eval()
    ranks = []
    for s in range(0, len(idx), batch_size):
        b = torch.as_tensor(idx[s:s + batch_size], device=lists.device)
        ranks.append(positive_rank(scores_of(model, lists.inputs(b))).cpu())
    r = torch.cat(ranks).double()
    return {"acc": float((r == 1).double().mean()), "mrr": float((1.0 / r).mean())}


def lr_factor(step: int, total: int, warmup_frac: float) -> float:
    """Linear warm-up over the first warmup_frac of the steps, then cosine decay to zero."""
    warm = max(1, int(round(warmup_frac * total)))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def _result(run: RetrievalRun, evals: dict, loss_curve: list, acc_curve: list, n_params: int, data, seconds: float,
            device: str, engine: str) -> dict:
    return {
        "train_acc": evals["train"]["acc"], "train_mrr": evals["train"]["mrr"],
        "val_acc": evals["val"]["acc"], "val_mrr": evals["val"]["mrr"],
        "test_acc": evals["test"]["acc"], "test_mrr": evals["test"]["mrr"],
        "final_loss": loss_curve[-1], "loss_curve": loss_curve, "running_acc_curve": acc_curve,
        "epochs_run": len(loss_curve), "chance_acc": 1.0 / run.T, "n_params": n_params, "E": run.E,
        "n_train_lists": int(len(data.split("train"))), "n_val_lists": int(len(data.split("val"))),
        "n_test_lists": int(len(data.split("test"))), "train_seconds": seconds, "device": device, "engine": engine,
    }


def _perfect_for(acc_curve: list, k: int) -> bool:
    """A model that ranked every training list right in each of its last k epochs has shown all it can."""
    return bool(k) and len(acc_curve) >= k and all(a == 1.0 for a in acc_curve[-k:])


def train_run(run: RetrievalRun, data: msmarco.RetrievalLists, lists: ListTensors | None = None) -> dict:
    """Train one model on the training lists of `data` (the reference engine, "single"); returns its metrics
    (train/val/test accuracy and MRR at the end of training, per-epoch loss and running accuracy, parameter
    count, time, device)."""
    device = resolve_device(run.device)
    t0 = time.perf_counter()
    torch.manual_seed(run.seed)  # dropout masks
    frozen = FrozenBertEmbedding().to(device) if run.fusion == "pair" or lists is None else None
    lists = lists if lists is not None else ListTensors(data, run.fusion, device, frozen)
    d_in = frozen.d if frozen is not None else lists.q_vec.shape[1]
    model = CandidateScorer(run, d_in, frozen if run.fusion == "pair" else None).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    train_idx = data.split("train")
    if len(train_idx) == 0:
        raise ValueError("no training lists: every query is held out")
    gen = torch.Generator().manual_seed(run.seed)
    steps_per_epoch = math.ceil(len(train_idx) / run.batch_size)
    total, step = run.epochs * steps_per_epoch, 0
    target = torch.zeros(run.batch_size, dtype=torch.long, device=device)  # the positive sits in column 0
    loss_curve, acc_curve = [], []
    for _ in range(run.epochs):
        model.train()
        order = torch.as_tensor(train_idx)[torch.randperm(len(train_idx), generator=gen)]
        tot_loss, correct = 0.0, 0
        for s in range(0, len(order), run.batch_size):
            b = order[s:s + run.batch_size].to(device)
            for g in opt.param_groups:
                g["lr"] = run.lr * lr_factor(step, total, run.warmup_frac)
            scores = scores_of(model, lists.inputs(b))  # (B, T)
            loss = nn.functional.cross_entropy(scores, target[:len(b)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tot_loss += float(loss.detach()) * len(b)
            correct += int((positive_rank(scores.detach()) == 1).sum())
        loss_curve.append(tot_loss / len(order))
        acc_curve.append(correct / len(order))
        # stopping saves the rest of the schedule (the accuracy reported is still measured after training)
        if _perfect_for(acc_curve, run.stop_after_perfect):
            break
    eval_bs = 512 if run.fusion == "list" else run.batch_size  # a pair list holds T whole token sequences
    evals = {sp: evaluate(model, lists, data.split(sp), eval_bs) for sp in msmarco.SPLITS}
    return _result(run, evals, loss_curve, acc_curve, count_trainable(model), data, time.perf_counter() - t0,
                   device, "single")


def stackable(run: RetrievalRun) -> bool:
    """Runs the stacked engine trains: the list fusion without dropout (a stacked model would draw its dropout
    masks for all models at once, so they could not equal a model's own; the pair fusion is a cross-encoder
    over token sequences of different lengths, meant for a GPU, and runs one model at a time)."""
    return run.fusion == "list" and run.dropout == 0


def stack_key(config: dict, across_heads: bool = True) -> tuple:
    """Configs with equal keys can train as one stack: everything but h and seed (but seed only, when not
    across_heads)."""
    free = ("h", "seed") if across_heads else ("seed",)
    return tuple(sorted((k, v) for k, v in config.items() if k not in free))


def stacks_across_heads(device: str) -> bool:
    """Whether a group stacks its head grid (models padded to the widest) or only the seeds of one h (no
    padding). On a CPU the padded stack was measured slower than one model at a time (make bench, retrieval
    section: 0.77x on the laptop grid row, the padding tripling the matrix products while the attention, the
    bulk of a step, is the same work either way), so there only seeds are stacked; on a GPU, where a step of
    these small models is mostly launch overhead, the head grid is."""
    return device.startswith("cuda")


@torch.no_grad()
def evaluate_stack(stack: StackedScorer, lists: ListTensors, idx: np.ndarray, batch_size: int = 64) -> list[dict]:
    """`evaluate` for every model of a stack: [{acc, mrr}] in stack order."""
    if len(idx) == 0:
        return [{"acc": float("nan"), "mrr": float("nan")} for _ in range(stack.M)]
    ranks = []
    for s in range(0, len(idx), batch_size):
        b = torch.as_tensor(idx[s:s + batch_size], device=lists.device)
        q, c = lists.inputs(b)
        scores = stack(q, c)  # (M, B, T)
        ranks.append(positive_rank(scores.reshape(-1, scores.shape[-1])).view(stack.M, -1).cpu())
    r = torch.cat(ranks, dim=1).double()
    return [{"acc": float((r[m] == 1).double().mean()), "mrr": float((1.0 / r[m]).mean())} for m in range(stack.M)]


def train_stack(runs: list[RetrievalRun], data: msmarco.RetrievalLists, lists: ListTensors) -> list[dict]:
    """Train several list-fusion runs that differ only in h and seed as one stacked model (engine "stacked");
    each model is initialised, ordered, clipped and stopped as `train_run` would do it alone. Metrics in run
    order."""
    keys = {stack_key(r.to_dict()) for r in runs}
    if len(keys) != 1 or not all(stackable(r) for r in runs):
        raise ValueError("a stack needs list-fusion runs without dropout that differ only in h and seed")
    run0, M = runs[0], len(runs)
    device = resolve_device(run0.device)
    t0 = time.perf_counter()
    d_in = lists.q_vec.shape[1]
    stack = StackedScorer([CandidateScorer(r, d_in) for r in runs]).to(device)
    opt = torch.optim.AdamW(stack.parameters(), lr=run0.lr, weight_decay=run0.weight_decay)
    train_idx = torch.as_tensor(data.split("train"))
    n = len(train_idx)
    if n == 0:
        raise ValueError("no training lists: every query is held out")
    gens = [torch.Generator().manual_seed(r.seed) for r in runs]
    total, step = run0.epochs * math.ceil(n / run0.batch_size), 0
    loss_curves, acc_curves = [[] for _ in runs], [[] for _ in runs]
    done: dict[int, dict] = {}  # model -> its parameters when it stopped
    for _ in range(run0.epochs):
        stack.train()
        order = torch.stack([train_idx[torch.randperm(n, generator=g)] for g in gens])  # (M, n)
        tot_loss = torch.zeros(M, dtype=torch.float64)
        correct = torch.zeros(M, dtype=torch.long)
        for s in range(0, n, run0.batch_size):
            b = order[:, s:s + run0.batch_size].to(device)  # (M, B)
            for g in opt.param_groups:
                g["lr"] = run0.lr * lr_factor(step, total, run0.warmup_frac)
            q, c = lists.inputs(b)  # (M, B, d), (M, B, T, d)
            scores = stack(q, c)  # (M, B, T)
            B, T = scores.shape[1:]
            loss = nn.functional.cross_entropy(scores.reshape(M * B, T), torch.zeros(M * B, dtype=torch.long,
                                               device=device), reduction="none").view(M, B).mean(1)  # (M,)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # each model's gradient is that of its own loss
            coef = (1.0 / (stack.grad_norms() + 1e-6)).clamp(max=1.0)  # clip_grad_norm_(1.0), model by model
            for m in done:
                coef[m] = 0.0  # a stopped model's gradient is dropped (its saved parameters are what counts)
            for t in stack.parameters():
                if t.grad is not None:
                    t.grad.mul_(coef.to(t.grad.dtype).to(device).view(-1, *([1] * (t.dim() - 1))))
            opt.step()
            step += 1
            tot_loss += loss.detach().double().cpu() * B
            correct += (positive_rank(scores.detach().reshape(M * B, T)) == 1).view(M, B).sum(1).cpu()
        for m in range(M):
            if m in done:
                continue
            loss_curves[m].append(float(tot_loss[m]) / n)
            acc_curves[m].append(int(correct[m]) / n)
            if _perfect_for(acc_curves[m], runs[m].stop_after_perfect):
                done[m] = stack.snapshot(m)
                stack.retire(m)
        if len(done) == M:
            break
    for m, snap in done.items():
        stack.restore(m, snap)
    stack.all_heads([r.h for r in runs])
    seconds = time.perf_counter() - t0
    stack.eval()
    evals = {sp: evaluate_stack(stack, lists, data.split(sp)) for sp in msmarco.SPLITS}
    return [_result(r, {sp: evals[sp][m] for sp in msmarco.SPLITS}, loss_curves[m], acc_curves[m],
                    count_trainable(CandidateScorer(r, d_in)), data, seconds / M, device, "stacked")
            for m, r in enumerate(runs)]


# ----------------------------------------------------------------------------------------------------------
# the store experiment


def lists_key(config: dict) -> tuple:
    """Configs with equal keys share their candidate lists (and run in one group)."""
    return tuple(sorted(msmarco.lists_config_dict(msmarco.ListsConfig.from_dict(config)).items())) + (
        ("fusion", config.get("fusion", "list")),)


def run_group(configs: list[dict]) -> list[dict]:
    """Train every config of a group (all share their lists): the stackable ones that differ only in h and
    seed as one stack each, the others one at a time; metrics in config order."""
    out: list = [None] * len(configs)
    runs = [RetrievalRun.from_dict(c) for c in configs]
    device = resolve_device(runs[0].device)
    data = msmarco.build_lists(runs[0].lists_config())
    lists = ListTensors(data, runs[0].fusion, device)
    stacks: dict[tuple, list[int]] = {}
    across = stacks_across_heads(device)
    for i, r in enumerate(runs):
        if stackable(r):
            stacks.setdefault(stack_key(configs[i], across), []).append(i)
        else:
            out[i] = train_run(r, data, lists)
    for idx in stacks.values():
        if len(idx) == 1:  # a stack of one is the reference engine's run
            out[idx[0]] = train_run(runs[idx[0]], data, lists)
            continue
        for i, m in zip(idx, train_stack([runs[i] for i in idx], data, lists)):
            out[i] = m
    for m in out:
        m["lists_stats"] = data.stats
    return out


def experiment() -> Experiment:
    """The store experiment 'msmarco': one group per set of candidate lists."""
    return Experiment("msmarco", run_group, CODE_MODULES, group_by=lists_key, max_group=64)


def configs(base: dict, **axes) -> list[dict]:
    """Full RetrievalRun dicts for a grid over `axes` on top of `base` (fields checked)."""
    from headcount.engine.sweep import grid

    full = RetrievalRun.from_dict(base).to_dict()
    out = grid(full, **axes)
    for c in out:
        RetrievalRun.from_dict(c)
    return out
