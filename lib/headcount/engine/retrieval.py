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
- encoder layers: PyTorch's TransformerEncoderLayer with pre-LayerNorm, GELU feed-forward of width
  ffn_mult * E, dropout `dropout`, and a final LayerNorm;
- training: AdamW, linear warm-up then cosine decay to zero, gradient norm clipped at 1, full passes over
  the training lists in seeded random order; optionally stopped once every training list has been ranked
  right during `stop_after_perfect` consecutive epochs (such a model has shown all it can).

Metrics: top-1 accuracy (the positive scores strictly above every negative; ties count as misses) and MRR
(mean of 1 / rank of the positive, ties ranked pessimistically), on the training lists (the paper's main
metric) and on the lists of held-out queries.

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

CODE_MODULES = ("engine.retrieval", "engine.realdata.msmarco")


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


class CandidateScorer(nn.Module):
    """Projection d -> E = n h, an n_layers encoder with h heads of width n, and a linear score per candidate."""

    def __init__(self, run: RetrievalRun, d_in: int, frozen: FrozenBertEmbedding | None = None):
        super().__init__()
        self.fusion = run.fusion
        self.h, self.n, self.E = run.h, run.n, run.E
        self.proj = nn.Linear(d_in, self.E)
        layer = nn.TransformerEncoderLayer(self.E, run.h, run.ffn_mult * self.E, dropout=run.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        # head width E / h = n exactly: heads and per-head width vary independently, as in the paper
        assert self.E % run.h == 0
        self.encoder = nn.TransformerEncoder(layer, run.n_layers, norm=nn.LayerNorm(self.E),
                                             enable_nested_tensor=False)
        self.score = nn.Linear(self.E, 1)
        self.frozen = frozen  # needed by the pair fusion only; holds buffers, nothing trainable
        if run.fusion == "pair" and frozen is None:
            raise ValueError("the pair fusion needs the frozen embedding tables")

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
        y = self.encoder(x, src_key_padding_mask=pad)  # (B T, L, E)
        return self.score(y[:, 0]).view(B, T)  # [CLS] read-out


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


def train_run(run: RetrievalRun, data: msmarco.RetrievalLists, lists: ListTensors | None = None) -> dict:
    """Train one model on the training lists of `data`; returns its metrics (train/val accuracy and MRR at
    the end of training, per-epoch loss and running accuracy, parameter count, time, device)."""
    device = resolve_device(run.device)
    t0 = time.perf_counter()
    torch.manual_seed(run.seed)
    frozen = FrozenBertEmbedding().to(device) if run.fusion == "pair" or lists is None else None
    lists = lists if lists is not None else ListTensors(data, run.fusion, device, frozen)
    d_in = frozen.d if frozen is not None else lists.q_vec.shape[1]
    model = CandidateScorer(run, d_in, frozen if run.fusion == "pair" else None).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    train_idx, val_idx = data.split(False), data.split(True)
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
        # a model that already ranks every training list right cannot show more expressivity: stopping saves
        # the rest of the schedule (the accuracy reported is still measured after training, on all lists)
        k = run.stop_after_perfect
        if k and len(acc_curve) >= k and all(a == 1.0 for a in acc_curve[-k:]):
            break
    eval_bs = 512 if run.fusion == "list" else run.batch_size  # a pair list holds T whole token sequences
    tr, va = evaluate(model, lists, train_idx, eval_bs), evaluate(model, lists, val_idx, eval_bs)
    return {
        "train_acc": tr["acc"], "train_mrr": tr["mrr"], "val_acc": va["acc"], "val_mrr": va["mrr"],
        "final_loss": loss_curve[-1], "loss_curve": loss_curve, "running_acc_curve": acc_curve,
        "epochs_run": len(loss_curve),
        "chance_acc": 1.0 / run.T, "n_params": count_trainable(model), "E": run.E,
        "n_train_lists": int(len(train_idx)), "n_val_lists": int(len(val_idx)),
        "train_seconds": time.perf_counter() - t0, "device": device,
    }


# ----------------------------------------------------------------------------------------------------------
# the store experiment


def lists_key(config: dict) -> tuple:
    """Configs with equal keys share their candidate lists (and run in one group)."""
    return tuple(sorted(msmarco.lists_config_dict(msmarco.ListsConfig.from_dict(config)).items())) + (
        ("fusion", config.get("fusion", "list")),)


def run_group(configs: list[dict]) -> list[dict]:
    """Train every config of a group (all share their lists); metrics in config order."""
    out = []
    cache: dict = {}
    for c in configs:
        run = RetrievalRun.from_dict(c)
        key = (lists_key(c), resolve_device(run.device))
        if key not in cache:
            data = msmarco.build_lists(run.lists_config())
            cache = {key: (data, ListTensors(data, run.fusion, resolve_device(run.device)))}
        data, lists = cache[key]
        m = train_run(run, data, lists)
        m["lists_stats"] = data.stats
        out.append(m)
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
