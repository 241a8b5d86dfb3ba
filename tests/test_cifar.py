"""CIFAR-10: loaders on the shipped archive and on a tiny canonical-format archive, checksums, edge
padding at random positions, patch counts, the ViT's per-head shapes, the page's claim checks (which
must be able to fail), and the page's pipeline end to end at the smoke tier."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch

from headcount import claims
from headcount.book.pages import cifar10 as page
from headcount.engine.realdata import cifar
from headcount.engine.vit import CifarRun, ViT, ViTConfig, lr_at, make_tokens, offsets_for, train_cifar

needs_archive = pytest.mark.skipif(not cifar.jpg_archive_path().is_file(),
                                   reason="the offline CIFAR-10 JPEG copy is not present")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test writes its caches, results, figures and verdicts under tmp_path."""
    monkeypatch.setenv("HEADCOUNT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HEADCOUNT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HEADCOUNT_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("HEADCOUNT_CLAIMS_DIR", str(tmp_path / "claims"))
    torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------- loaders


@needs_archive
def test_jpg_subset_decode_of_the_shipped_archive():
    s = cifar.read_jpg_archive(split="test", per_class=3)  # the test split comes first: a short read
    assert s.images.shape == (30, 32, 32, 3) and s.images.dtype == np.uint8
    assert s.labels.dtype == np.int64 and set(s.labels.tolist()) == set(range(10))
    assert np.bincount(s.labels, minlength=10).tolist() == [3] * 10
    assert s.index.tolist() == [0, 1, 2] * 10  # class-major, source order within a class
    assert 40 < s.images.mean() < 200 and s.images.std() > 20  # real photographs, not a blank array
    assert len({s.images[i].tobytes() for i in range(30)}) == 30


@needs_archive
def test_load_caches_decoded_arrays_outside_the_shared_data(tmp_path):
    a = cifar.load_cifar10("test", per_class=2, source="jpg")
    files = list((tmp_path / "cache" / "cifar10").glob("*.npz"))
    assert len(files) == 1 and "test-k2" in files[0].name
    b = cifar.load_cifar10("test", per_class=2, source="jpg")  # now from the cache
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not list(cifar.jpg_archive_path().parent.glob("*.npz"))


def test_corrupt_archive_gives_a_clear_error(tmp_path):
    bad = tmp_path / "cifar10-jpg.tar.xz"
    bad.write_bytes(b"not the archive")
    with pytest.raises(cifar.CifarDataError, match="sha256 .* expected 613bffa3"):
        cifar.read_jpg_archive(bad, split="test", per_class=1)
    with pytest.raises(FileNotFoundError, match="not found"):
        cifar.read_jpg_archive(tmp_path / "absent.tar.xz", split="test")


def test_missing_archives_name_both_places_and_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADCOUNT_DATA", str(tmp_path / "no-data"))
    with pytest.raises(FileNotFoundError, match="download_python_archive"):
        cifar.load_cifar10("train", per_class=1)


def _python_archive(path, per_batch=6, seed=0):
    """A tiny archive in the canonical format: data_batch_1..5 and test_batch, pickled dicts with bytes
    keys, rows of 3072 bytes (R plane, G plane, B plane)."""
    rng = np.random.default_rng(seed)
    truth = {"train": [], "test": []}
    with tarfile.open(path, "w:gz") as tar:
        for name in cifar.PY_MEMBERS["train"] + cifar.PY_MEMBERS["test"]:
            imgs = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
            batch = {b"batch_label": b"x", b"labels": labels,
                     b"data": imgs.transpose(0, 3, 1, 2).reshape(per_batch, 3072),
                     b"filenames": [b"f.png"] * per_batch}
            blob = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            truth["test" if name.endswith("test_batch") else "train"].append((imgs, labels))
    return truth


def test_python_archive_reader_on_a_tiny_archive(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    truth = _python_archive(path)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    s = cifar.read_python_archive(path, split="train", expected_md5=md5)
    imgs = np.concatenate([b[0] for b in truth["train"]])
    labs = np.concatenate([b[1] for b in truth["train"]])
    assert s.images.shape == (30, 32, 32, 3) and s.images.dtype == np.uint8
    order = np.lexsort((np.arange(30), labs))  # the reader returns class-major, batch order within a class
    assert np.array_equal(s.images, imgs[order]) and np.array_equal(s.labels, labs[order])
    t = cifar.read_python_archive(path, split="test", per_class=1, expected_md5=None)
    assert np.array_equal(np.sort(t.labels), np.unique(truth["test"][0][1]))
    assert (t.index == 0).all()
    with pytest.raises(cifar.CifarDataError, match="md5"):
        cifar.read_python_archive(path, split="train")  # not the canonical file: its md5 differs


def test_python_archive_refuses_code_in_pickles(tmp_path):
    path = tmp_path / "evil.tar.gz"
    blob = pickle.dumps({b"data": eval, b"labels": []}, protocol=2)  # a pickle that references a builtin
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(cifar.PY_MEMBERS["test"][0])
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(cifar.CifarDataError, match="refusing to unpickle"):
        cifar.read_python_archive(path, split="test", expected_md5=None)


def test_download_checks_the_md5_and_keeps_nothing_bad(tmp_path):
    src = tmp_path / "remote.tar.gz"
    src.write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    dest = cifar.download_python_archive(tmp_path / "d", url=src.as_uri(), expected_md5=good)
    assert dest.read_bytes() == b"payload"
    with pytest.raises(cifar.CifarDataError, match="md5"):
        cifar.download_python_archive(tmp_path / "e", url=src.as_uri(), expected_md5="0" * 32)
    assert list((tmp_path / "e").iterdir()) == []


# ---------------------------------------------------------------------------------------------- padding


@pytest.mark.parametrize("canvas", [32, 48, 64])
def test_padding_keeps_the_image_at_its_position_and_repeats_edges(canvas):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    off = cifar.draw_offsets(5, canvas, seed=3)
    assert off.min() >= 0 and off.max() <= canvas - 32
    out = cifar.pad_to_canvas(torch.from_numpy(imgs), canvas, torch.from_numpy(off)).numpy()
    assert out.shape == (5, canvas, canvas, 3) and out.dtype == np.uint8
    for b in range(5):
        r, c = off[b]
        assert np.array_equal(out[b, r:r + 32, c:c + 32], imgs[b])  # intact where it was placed
        ref = np.pad(imgs[b], ((r, canvas - 32 - r), (c, canvas - 32 - c), (0, 0)), mode="edge")
        assert np.array_equal(out[b], ref)


def test_offsets_are_seeded_and_cover_the_canvas():
    a, b = cifar.draw_offsets(2000, 64, seed=[0, 64, 0]), cifar.draw_offsets(2000, 64, seed=[0, 64, 0])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, cifar.draw_offsets(2000, 64, seed=[0, 64, 1]))
    assert a.min() == 0 and a.max() == 32  # every position 0..S-32 can occur
    run = CifarRun(canvas=64, patch=8, placement="per_epoch")
    assert not torch.equal(offsets_for(run, 50, "train", 0), offsets_for(run, 50, "train", 1))
    assert torch.equal(offsets_for(run, 50, "train"), offsets_for(run, 50, "train"))


@pytest.mark.parametrize("canvas,p", [(32, 4), (48, 4), (128, 4), (32, 8), (64, 8)])
def test_patch_count_is_T_minus_one(canvas, p):
    T = cifar.seq_len(canvas, p)
    assert T == (canvas // p) ** 2 + 1
    x = torch.zeros(2, canvas, canvas, 3)
    assert cifar.patchify(x, p).shape == (2, T - 1, 3 * p * p)


def test_paper_T_values_come_from_patch_4():
    assert [cifar.seq_len(S, 4) for S in (32, 48, 64, 96, 128)] == [65, 145, 257, 577, 1025]
    assert [cifar.seq_len(S, 8) for S in (32, 48, 64, 96, 128)] == [17, 37, 65, 145, 257]
    with pytest.raises(ValueError, match="multiple of the patch"):
        cifar.seq_len(36, 8)


def test_patchify_keeps_pixels_of_each_patch_together():
    x = torch.arange(8 * 8 * 3).reshape(1, 8, 8, 3)
    p = cifar.patchify(x, 4)  # 4 patches, row-major
    assert torch.equal(p[0, 1], x[0, 0:4, 4:8].reshape(-1))
    assert torch.equal(p[0, 2], x[0, 4:8, 0:4].reshape(-1))


# ---------------------------------------------------------------------------------------------- model


@pytest.mark.parametrize("h", [1, 3, 8])
def test_vit_shapes_per_head(h):
    cfg = ViTConfig(h=h, n=16, T=17, patch_dim=192)
    assert cfg.E == 16 * h
    model = ViT(cfg)
    for blk in model.blocks:
        assert blk.attn.W_Q.shape == blk.attn.W_K.shape == blk.attn.W_V.shape == (h, 16, 16 * h)
        assert blk.attn.W_O.shape == (16 * h, 16 * h)
    assert len(model.blocks) == 4 and model.pos.shape == (1, 17, 16 * h)
    x = torch.randn(5, 16, 192)
    assert model(x).shape == (5, 10)
    w = model.eval().attention_weights(x)
    assert len(w) == 4 and w[0].shape == (5, h, 17, 17)
    assert torch.allclose(w[0].sum(-1), torch.ones(5, h, 17), atol=1e-5)
    with pytest.raises(ValueError, match="T = 17"):
        model(torch.randn(5, 15, 192))


def test_attention_matches_an_explicit_per_head_loop():
    torch.manual_seed(0)
    model = ViT(ViTConfig(h=3, n=4, T=5, patch_dim=6, n_layers=1, dropout=0.0)).eval()
    att = model.blocks[0].attn
    x = torch.randn(2, 5, 12)
    heads = []
    for i in range(3):
        q, k, v = (x @ W[i].T + b[i] for W, b in ((att.W_Q, att.b_Q), (att.W_K, att.b_K), (att.W_V, att.b_V)))
        a = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
        heads.append(a @ v @ att.W_O[:, 4 * i:4 * (i + 1)].T)  # head i owns columns i n .. (i + 1) n - 1 of W_O
    assert torch.allclose(att(x), sum(heads) + att.b_O, atol=1e-5)


def test_schedule_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 1.0, 10) for s in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[100] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def _random_data(n_per_class=4, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.integers(0, 256, size=(10 * n_per_class, 32, 32, 3), dtype=np.uint8))
    y = torch.arange(10).repeat_interleave(n_per_class)
    return {"xtr": x, "ytr": y, "xva": x[:20], "yva": y[:20], "mean": torch.full((3,), 0.5),
            "std": torch.full((3,), 0.29)}


def test_training_is_deterministic_and_can_fit():
    run = CifarRun(h=2, canvas=32, patch=8, epochs=2, batch_size=16, lr=3e-3)
    data = _random_data()
    a, b = train_cifar(run, data, "cpu"), train_cifar(run, data, "cpu")
    assert a["train_acc"] == b["train_acc"] and a["curve"] == b["curve"] and a["T"] == 17 and a["E"] == 32
    fit = train_cifar(CifarRun(h=2, canvas=32, patch=8, epochs=40, batch_size=20, lr=3e-3, dropout=0.0,
                               weight_decay=0.0), _random_data(2), "cpu")
    assert fit["train_acc"] >= 0.6  # memorises 20 random images (chance: 0.1)


def test_tokens_are_standardised_patches_of_the_padded_canvas():
    run = CifarRun(canvas=48, patch=8)
    imgs = torch.full((2, 32, 32, 3), 255, dtype=torch.uint8)
    tok = make_tokens(imgs, torch.tensor([[0, 0], [16, 16]]), run, torch.zeros(3), torch.full((3,), 0.5))
    assert tok.shape == (2, 36, 192) and torch.allclose(tok, torch.full_like(tok, 2.0))


# ---------------------------------------------------------------------------------------------- analysis


def test_reversal_scores_use_one_minus_accuracy():
    s = pd.DataFrame(dict(h=[1, 1, 1, 2, 2, 2], T=[17, 37, 65] * 2, train_mean=[60, 50, 40, 90, 80, 85.0]))
    R = page.reversal_scores(s).set_index("h")["R"]
    assert R[1] == 0.0  # accuracy falls with T: no reversal
    assert R[2] == pytest.approx(0.05 / 0.10)  # err 0.10, 0.20, 0.15: one drop of 0.05, w = 0.10


def test_reversal_score_on_the_papers_table_8():
    R = page.reversal_scores(page.paper_summary()).set_index("h")["R"]
    assert (R[[1, 2, 4, 8]] == 0).all()
    assert R[10] == pytest.approx(0.2 * 0.01 / (0.016))  # only 96.5 -> 96.7 reverses; w = 98.1 - 96.5
    assert R[16] > 0 and R[20] > 0 and R[24] > 0


def _summary(drop_below=5.0, drop_above=0.3, val_best=10, hs=(1, 2, 4, 8, 10, 12, 16, 24), Ts=(65, 145, 257)):
    rows = []
    for h in hs:
        for i, T in enumerate(Ts):
            base = 50 + 2 * h if h < 10 else 98.0
            drop = drop_below if h < 10 else drop_above
            # past h = 10 the longest T ends a little above the middle one: a reversal, as in the paper
            train = base - drop * i / (len(Ts) - 1) + (0.2 * (i == len(Ts) - 1) if h >= 10 else 0)
            val = 70 - abs(h - val_best) - 3 * i
            rows.append(dict(h=h, T=T, canvas=32, patch=4, train_mean=train, train_std=0.1, val_mean=val,
                             val_std=0.1, seeds=3))
    return pd.DataFrame(rows)


P_LAPTOP = page.SPEC.resolve("laptop")


def _v(summary, long=None):
    return {v.claim_id: v for v in page.verdicts(summary, P_LAPTOP, long, 200, "t")}


def test_claim_checks_pass_on_paperlike_numbers_and_on_the_paper():
    for vs in (_v(_summary()), _v(page.paper_summary())):
        got = {k: v.verdict for k, v in vs.items()}
        assert got["C26a"] == got["C26b"] == got["C28a"] == got["C28b"] == claims.REPRODUCED, got
        assert got["C26c"] == claims.REPRODUCED, got
    assert page.reversal_transition(page.reversal_scores(_summary())).verdict == claims.REPRODUCED
    # the paper's own rounded Table 8 ties at h = 12 and 14, so R = 0 there: a core check fails
    v = page.reversal_transition(page.reversal_scores(page.paper_summary()))
    assert v.verdict == claims.NOT_REPRODUCED and "R > 0 from h = 10 on: fails" in v.evidence
    assert "h = 12, 14" in page.paper_ties_text(page.reversal_scores(page.paper_summary()))


def test_claim_checks_fail_on_contradicting_numbers():
    flat = {k: v.verdict for k, v in _v(_summary(drop_below=0.0)).items()}
    assert flat["C26a"] == flat["C26c"] == claims.NOT_REPRODUCED
    steep = {k: v.verdict for k, v in _v(_summary(drop_above=6.0)).items()}
    assert steep["C26b"] == steep["C26c"] == claims.NOT_REPRODUCED
    assert steep["C27"] == claims.NOT_REPRODUCED  # R = 0 below h = 10 holds, R > 0 above does not: core fails
    swapped = pd.DataFrame([dict(h=h, R=(0.5 if h < 10 else 0.0)) for h in (1, 2, 4, 8, 10, 12)])
    assert page.reversal_transition(swapped).verdict == claims.NOT_REPRODUCED
    assert _v(_summary(val_best=24))["C28a"].verdict == claims.NOT_REPRODUCED
    s = _summary()
    s.loc[s["T"] == 257, "val_mean"] += 10  # validation accuracy rising with T
    assert page.val_falls_with_T(s).verdict == claims.NOT_REPRODUCED
    # the supporting half of C26b: flat within 1.5 points but not flatter than some h < 10
    s = _summary(drop_below=1.0, drop_above=1.2)
    assert page.flattens(s).verdict == claims.PARTIAL


def test_rows_at_chance_are_no_evidence():
    s = _summary()
    s.loc[s["h"] == 1, "train_mean"] = [10.5, 10.0, 9.0]  # at chance (10 classes): its (non-)fall is no evidence
    s.loc[s["h"] == 2, "train_mean"] = [60.0, 50.0, 40.0]
    v = page.falls_with_T(s)
    assert v.verdict == claims.REPRODUCED and "h=1: 10.5 -> 9.0% (at chance" in v.evidence
    s.loc[s["h"] == 1, "train_mean"] = [10.0, 10.5, 12.0]  # rising, but at chance: still no evidence
    assert page.falls_with_T(s).verdict == claims.REPRODUCED
    assert page.falls_with_T(s, chance_margin=0.0).verdict == claims.NOT_REPRODUCED  # counted when not at chance
    v = page.val_falls_with_T(s.assign(val_mean=10.0))
    assert v.verdict == claims.NOT_TESTABLE  # every validation row at chance: no core evidence


def test_claims_beyond_the_grid_are_not_testable():
    vs = _v(_summary(hs=(1, 2, 4, 8)))
    for c in ("C26b", "C27", "C28a"):
        assert vs[c].verdict == claims.NOT_TESTABLE, c
    assert "the grid has no h >= 10 (largest h: 8)" in vs["C27"].out_of_regime
    assert "needs head counts below 8 and above 12" in vs["C28a"].out_of_regime
    assert vs["C26c"].verdict == claims.NOT_REPRODUCED  # every h of this grid falls with T
    small = _summary(hs=(1, 2, 4, 8)).assign(train_mean=lambda d: d["train_mean"].where(d["h"] < 8, 100.0))
    c = page.transition_in_grid(small)
    assert c.verdict == claims.REPRODUCED and "h' = 8" in c.evidence  # the shape, at a smaller h'
    noisy = _summary(hs=(1, 2, 4, 8))
    noisy.loc[(noisy["h"] == 4) & (noisy["T"] == 257), "train_mean"] += 20  # a reversal below h = 10
    v = page.reversal_transition(page.reversal_scores(noisy))
    assert v.verdict == claims.NOT_TESTABLE and "R = 0 below h = 10: fails" in v.evidence


def test_a_memorised_training_set_is_out_of_the_claims_regime():
    """The laptop tier's case: the longer-training check fits all training images at every T at h = 2."""
    short = _summary(hs=(1, 2, 4, 8), Ts=(17, 65))
    long = pd.DataFrame([dict(h=h, T=T, train_mean=a, val_mean=20.0) for h, T, a in
                         [(1, 17, 93.0), (1, 65, 90.5), (2, 17, 100.0), (2, 65, 100.0)]])
    vs = _v(short, long)
    for c in ("C26a", "C26b", "C26c", "C27", "C28a", "C28b"):
        assert vs[c].verdict == claims.NOT_TESTABLE, c
        assert "fits the training set at h = 2" in vs[c].out_of_regime, c
    assert "100.0, 100.0%" in vs["C26a"].out_of_regime and "200 training images" in vs["C26a"].out_of_regime
    # without it (the fall survives the longer budget, nothing fits): judged on the core
    long_unfit = long.assign(train_mean=[60.0, 50.0, 80.0, 70.0])
    vs = _v(_summary(), long_unfit)
    assert vs["C26a"].verdict == claims.REPRODUCED and not vs["C26a"].out_of_regime
    # a fitted training set only at h >= 10 does not take the h < 10 claims out of their regime
    assert page.memorisation_reason(short, long.assign(h=[10, 10, 12, 12]), 99.0) is None


def test_page_texts_follow_the_numbers():
    s = _summary()
    vs = page.verdicts(s, P_LAPTOP, tier="t")
    assert page.outcome_text(vs, s).startswith("Every claim") and "from h = 10 on" in page.outcome_text(vs, s)
    bad = page.verdicts(_summary(drop_above=6.0), P_LAPTOP, tier="t")
    assert "**not reproduced**: C26b" in page.outcome_text(bad, _summary(drop_above=6.0))
    assert "still falls with $T$ at the largest" in page.outcome_text(bad, _summary(drop_above=6.0))
    side = page.side_by_side(page.summarise(pd.DataFrame([dict(h=1, T=17, canvas=32, patch=8, seed=0,
                                                                train_acc=0.5, val_acc=0.2)])), page.paper_summary())
    assert page.matched_text(side).startswith("None of our cells")
    assert "between 20.0 and 20.0% (chance 10%)" in page.validation_text(page.summarise(pd.DataFrame(
        [dict(h=1, T=17, canvas=32, patch=8, seed=0, train_acc=0.5, val_acc=0.2)])), page.paper_summary())


def test_one_seed_prints_no_std():
    one = page.summarise(pd.DataFrame([dict(h=1, T=17, canvas=32, patch=8, seed=0, train_acc=0.5, val_acc=0.2)]))
    assert page.wide(one, "train").iloc[0]["T=17"] == "50.0"
    two = page.summarise(pd.DataFrame([dict(h=1, T=17, canvas=32, patch=8, seed=k, train_acc=a, val_acc=0.2)
                                       for k, a in ((0, 0.5), (1, 0.6))]))
    assert page.wide(two, "train").iloc[0]["T=17"] == "55.0 ± 7.1"
    assert "±" in page.wide(page.paper_summary(), "train").iloc[0]["T=65"]  # the paper's reported std
    f = page.format_side(page.side_by_side(one, page.paper_summary()))
    assert f.iloc[0]["ours: train %"] == "50.0" and f.iloc[0]["paper Table 8: train %"] == "—"


def test_measured_throughput_and_assumed_gpu_rate():
    class R:
        records = [{"config": c, "metrics": {"device": "cpu", "train_seconds": 10.0, "eval_seconds": 0.0}}
                   for c in page.run_configs(page.SPEC.resolve("smoke"))]
    f = sum(page.run_flops(r["config"]) for r in R.records)
    assert page.throughput(R)["cpu"] == (pytest.approx(f), 40.0)
    text = page.cost_text(page.SPEC.resolve("smoke"), R)
    assert f"{f / 40 / 1e9:.3g} GFLOP/s" in text and "assumed 200 TFLOP/s" in text and "not measured" in text


def test_spec_rejects_a_canvas_that_is_not_a_multiple_of_the_patch():
    with pytest.raises(ValueError, match="multiple of patch"):
        page.SPEC.resolve("smoke", canvas_grid=[32, 36])
    P = page.SPEC.resolve("paper")
    assert [cifar.seq_len(S, P["patch"]) for S in P["canvas_grid"]] == [65, 145, 257, 577, 1025]
    assert P["h_grid"] == [1, 2, 4, 8, 10, 11, 12, 13, 14, 16, 20, 24] and P["train_per_class"] == 5000


# ---------------------------------------------------------------------------------------------- end to end


@needs_archive
@pytest.mark.slow
def test_smoke_tier_end_to_end(tmp_path):
    from headcount.engine.store import default_store
    from headcount.engine.sweep import sweep

    P = page.SPEC.resolve("smoke")
    cfgs = page.run_configs(P)
    res = sweep(page.experiment(), cfgs, default_store(), progress=False)
    assert res.misses == len(cfgs) == 4
    s = page.summarise(res.frame())
    assert len(s) == 4 and s["train_mean"].between(0, 100).all() and set(s["T"]) == {17, 37}
    again = sweep(page.experiment(), cfgs, default_store(), progress=False)
    assert again.hits == 4 and again.frame()["train_acc"].tolist() == res.frame()["train_acc"].tolist()
    vs = page.judge(P, {"runs": res.frame()})
    assert {v.claim_id for v in vs} == {"C26a", "C26b", "C26c", "C27", "C28a", "C28b"}
    fig = page.figure_accuracy(s, page.paper_summary(), page.scale_text(P))
    side = page.side_by_side(s, page.paper_summary())
    assert side["paper_train_mean"].isna().all()  # patch 8: no cell is a setting the paper ran
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert len(fig.axes) == 2 and {"ours, T=17", "ours, T=37"} <= labels


def test_pipeline_on_random_images_is_cached_and_plotted(monkeypatch, tmp_path):
    """The smoke tier's pipeline (sweep -> store -> summary -> verdicts -> figures) with random images in
    place of the decoded archive, so it runs in seconds everywhere."""
    from headcount.engine import vit
    from headcount.book.plots import save_figure
    from headcount.engine.store import default_store
    from headcount.engine.sweep import sweep

    monkeypatch.setattr(vit, "load_data", lambda run: {**_random_data(2), "source": "random"})
    P = page.SPEC.resolve("smoke", epochs=1)
    cfgs = page.run_configs(P)
    res = sweep(page.experiment(), cfgs, default_store(), progress=False)
    assert res.misses == 4 and {r["config"]["canvas"] for r in res.records} == {32, 48}
    again = sweep(page.experiment(), cfgs, default_store(), progress=False)
    assert again.hits == 4 and again.misses == 0
    s = page.summarise(res.frame())
    assert sorted(s["T"].unique()) == [17, 37] and len(s) == 4
    vs = page.judge(P, {"runs": res.frame()})
    assert [v.claim_id for v in vs] == ["C26a", "C26b", "C26c", "C27", "C28a", "C28b"]
    fig = page.figure_reversal(page.reversal_scores(s), page.reversal_scores(page.paper_summary()), "x")
    out = save_figure(fig, s, "cifar10-test")
    assert out["png"].exists() and (tmp_path / "figures" / "cifar10-test.csv").exists()


def test_longer_training_check_says_whether_the_fall_with_T_survives():
    from headcount.book.pages import cifar10 as page

    def summ(rows):
        return pd.DataFrame([{"h": h, "T": T, "train_mean": tr, "val_mean": 20.0} for h, T, tr in rows])

    short = summ([(1, 17, 40.0), (1, 65, 41.5), (2, 17, 83.5), (2, 37, 70.0), (2, 65, 65.5)])
    gone = summ([(1, 17, 93.0), (1, 65, 93.0), (2, 17, 100.0), (2, 65, 100.0)])
    text = page.longer_training_text(short, gone, 60, 240)
    assert "h = 2: 83.5 -> 65.5% after 60 epochs, 100.0 -> 100.0% after 240" in text
    assert "at least 93.0% of the training images" in text and "as little as 40.0%" in text
    assert "the fall with T is gone at h = 2" in text
    stays = summ([(1, 17, 93.0), (1, 65, 93.0), (2, 17, 100.0), (2, 65, 90.0)])
    assert "the fall with T remains at h = 2: it is not a matter of training length" in page.longer_training_text(
        short, stays, 60, 240)
    num, table = page.longer_training(short, gone, 60, 240)
    assert list(table.columns) == ["h", "T", "training, 60 epochs", "training, 240 epochs",
                                   "validation, 60 epochs", "validation, 240 epochs"]
    assert len(table) == 4 and 37 not in set(num["T"])  # T = 37 is not in the check
    assert table.iloc[3].tolist() == [2, 65, "65.5", "100.0", "20.0", "20.0"]


def test_longer_training_check_parameters_are_validated():
    from headcount.book.pages import cifar10 as page

    with pytest.raises(ValueError, match="epochs_long must be 0 .* more than epochs = 60"):
        page.SPEC.resolve(tier="laptop", epochs_long=30)
    with pytest.raises(ValueError, match="canvas_grid_long must be >= 32 and a multiple of patch = 8"):
        page.SPEC.resolve(tier="laptop", canvas_grid_long=[36, 64])
    assert page.long_configs(page.SPEC.resolve(tier="laptop", epochs_long=0)) == []
    long = page.long_configs(page.SPEC.resolve(tier="laptop"))
    assert {(c["h"], c["canvas"], c["epochs"]) for c in long} == {(1, 32, 240), (1, 64, 240), (2, 32, 240), (2, 64, 240)}


# ---------------------------------------------------------------------------------------------- the page declared once


class _FakeResult:
    """What `sweep` returns, for the runs of one sweep: a frame with one row per config, and the records."""

    def __init__(self, configs):
        self.configs = configs
        self.records = [{"config": c, "code_hash": "abc",
                         "metrics": {"device": "cpu", "train_seconds": 2.0, "eval_seconds": 1.0}} for c in configs]

    def frame(self):
        return pd.DataFrame([{**c, "T": cifar.seq_len(c["canvas"], c["patch"]), "train_acc": 50.0, "val_acc": 20.0,
                              "train_seconds": 2.0, "device": "cpu", "data_source": "random"} for c in self.configs])

    def summary(self):
        return f"{len(self.configs)} runs"


@pytest.mark.parametrize("tier,epochs_long", [("smoke", None), ("laptop", None), ("laptop", 0), ("paper", None)])
def test_evidence_reads_exactly_the_sweeps_it_declares(monkeypatch, tier, epochs_long):
    P = page.SPEC.resolve(tier, epochs_long=epochs_long)
    calls = []

    def fake_sweep(exp, configs, store, device="cpu"):
        calls.append((exp.name, exp.code(), configs))
        return _FakeResult(configs)

    monkeypatch.setattr(page, "sweep", fake_sweep)
    ev = page.evidence(P, store=None)
    assert calls == [(exp.name, exp.code(), configs) for exp, configs in page.sweeps(P)]
    assert len(calls) == (2 if P["epochs_long"] else 1) and ("runs_long" in ev) == bool(P["epochs_long"])
    assert len(ev["runs"]) == len(P["h_grid"]) * len(P["canvas_grid"]) * len(P["seeds"])


def test_run_configs_take_every_run_field_from_the_parameters():
    from dataclasses import fields

    P = page.SPEC.resolve("laptop")
    grid_fields = {"h", "canvas", "seed"}
    for c in page.run_configs(P):
        assert set(c) == {f.name for f in fields(CifarRun)}
        assert {k: v for k, v in c.items() if k not in grid_fields} == {k: P[k] for k in c if k not in grid_fields}
    changed = page.run_configs(page.SPEC.resolve("laptop", clip_norm=0.5, placement="per_epoch"))
    assert {c["clip_norm"] for c in changed} == {0.5} and {c["placement"] for c in changed} == {"per_epoch"}


def test_the_laptop_tiers_runs_keep_their_store_keys():
    """The store keys of the committed runs are hashes of these configs: one changed value or key re-keys them."""
    P = page.SPEC.resolve("laptop")
    c = page.run_configs(P)[0]
    assert c == {"h": 1, "n": 16, "canvas": 32, "patch": 8, "n_layers": 4, "mlp_ratio": 4.0, "dropout": 0.1,
                 "train_per_class": 20, "val_per_class": 100, "placement": "fixed", "placement_seed": 0, "epochs": 60,
                 "batch_size": 50, "lr": 2e-3, "weight_decay": 0.05, "warmup_frac": 0.05, "clip_norm": 1.0,
                 "source": "auto", "seed": 0}
    assert [(c["canvas"], c["h"]) for c in page.run_configs(P)][:5] == [(32, 1), (32, 2), (32, 4), (32, 8), (48, 1)]


def test_the_pages_text_blocks_follow_their_tables():
    P = page.SPEC.resolve("smoke")
    head = page.header_markdown(P, "cpu")
    assert head.startswith("**Tier `smoke`** on `cpu`. Tier smoke: 200 training / 100 validation images")
    assert "| `h_grid` | `[1, 2]` |" in head
    tiers = page.tiers_markdown(P).splitlines()
    assert len(tiers) == 3 and tiers[0].endswith("(this page).") and tiers[2].startswith("- **paper**: tier paper")
    assert not tiers[1].endswith("(this page).")

    ours = pd.DataFrame({"h": [1, 2], "R": [0.0, 0.25], "n_T": [3, 3]})
    theirs = pd.DataFrame({"h": [2, 10], "R": [0.5, 0.0], "n_T": [5, 5]})
    table = page.reversal_table(ours, theirs)
    assert table["h"].tolist() == [1, 2, 10] and list(table.columns) == ["h", "R", "n_T", "R_paper", "n_T_paper"]
    md = page.reversal_markdown(table, theirs)
    assert md.startswith("| h | 1 | 2 | 10 |\n|---|---|---|---|\n| R(h), ours | 0 | 0.25 | — |\n"
                         "| R(h), paper Table 8 | — | 0.5 | 0 |")
    assert "R(h) = 0 at h = 10" in md

    summary = pd.DataFrame({"h": [1, 2], "T": [17, 17], "canvas": [32, 32], "patch": [8, 8], "seeds": [1, 1],
                            "train_mean": [40.0, 60.0], "train_std": [0.0, 0.0], "val_mean": [20.0, 22.5],
                            "val_std": [0.0, 0.0]})
    assert page.longer_training_markdown({**P, "epochs_long": 0}, summary, {}) == "Not run at this tier (`epochs_long` = 0)."
    train = page.accuracy_tables_markdown(summary, page.paper_summary(), "train")
    assert train.startswith("### Training accuracy (%), ours") and "### Paper Table 8: training accuracy (%)" in train
    val = page.accuracy_tables_markdown(summary, page.paper_summary(), "val")
    assert "### Paper Table 9: validation accuracy (%)" in val
    ours_train, ours_val = train.split("### Paper")[0], val.split("### Paper")[0]
    assert "60" in ours_train and "22.5" not in ours_train and "22.5" in ours_val and "60" not in ours_val


def test_outcome_text_lists_the_claims_not_reproduced():
    def v(cid, verdict):
        return claims.Verdict(claim_id=cid, test="t", verdict=verdict, evidence="e")

    s = _summary()
    text = page.outcome_text([v("C26a", claims.REPRODUCED), v("C27", claims.NOT_REPRODUCED)], s)
    assert text.startswith("**not reproduced**: C27. The evidence column")
    assert page.outcome_text([v("C26a", claims.REPRODUCED)], s).startswith("Every claim of this page is reproduced")
