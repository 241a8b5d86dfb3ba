"""The stacked retrieval engine computes what each of its models computes alone.

Tolerances: values and gradients agree to 1e-5 (absolute, on O(1) numbers): a stacked product sums the same
terms plus exact zeros, in another order, so only the last float32 digits may differ; a short training run
agrees to 1e-4 in its loss curve (those differences grow a little with every step). Padding stays exactly zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headcount.engine import retrieval
from headcount.engine.realdata import msmarco as mm

D_IN = 12


def _lists(T: int = 5, n_lists: int = 24, n_passages: int = 60, seed: int = 0):
    """Random pooled vectors and lists: (RetrievalLists, ListTensors) without any text."""
    rng = np.random.default_rng(seed)
    cands = np.stack([rng.choice(n_passages, T, replace=False) for _ in range(n_lists)])
    split = np.array([0] * (n_lists - 8) + [1] * 4 + [2] * 4)
    data = mm.RetrievalLists(config=mm.ListsConfig(T=T), qids=[str(i) for i in range(n_lists)],
                             pids=[str(p) for p in range(n_passages)], candidates=cands,
                             example_query=np.arange(n_lists), example_split=split,
                             query_tokens=np.zeros((n_lists, 3), np.int64), query_len=np.full(n_lists, 3),
                             passage_tokens=np.zeros((n_passages, 3), np.int64), passage_len=np.full(n_passages, 3),
                             stats={})
    lists = retrieval.ListTensors.__new__(retrieval.ListTensors)
    lists.fusion, lists.device = "list", "cpu"
    lists.cands, lists.ex_q = torch.as_tensor(cands), torch.arange(n_lists)
    g = torch.Generator().manual_seed(seed)
    lists.q_vec, lists.p_vec = torch.randn(n_lists, D_IN, generator=g), torch.randn(n_passages, D_IN, generator=g)
    return data, lists


def _runs(hs=(1, 2, 3, 5), seeds=(0,), **kw):
    base = {**dict(T=5, n=2, epochs=3, batch_size=8, lr=1e-2), **kw}
    return [retrieval.RetrievalRun(h=h, seed=s, **base) for h in hs for s in seeds]


def test_a_stacked_model_computes_each_models_scores():
    data, lists = _lists()
    runs = _runs(seeds=(0, 1))
    models = [retrieval.CandidateScorer(r, D_IN) for r in runs]
    stack = retrieval.StackedScorer(models)
    idx = torch.arange(10)
    q, c = lists.inputs(idx)
    stacked = stack(q, c)  # the same lists for every model
    per_model = stack(q.expand(len(runs), *q.shape), c.expand(len(runs), *c.shape))
    for m, model in enumerate(models):
        alone = model.forward_list(q, c)
        assert torch.allclose(stacked[m], alone, atol=1e-5), (runs[m].h, (stacked[m] - alone).abs().max())
        assert torch.allclose(per_model[m], alone, atol=1e-5)
    # different seeds are different models: the check above is not comparing one model with itself
    assert not torch.allclose(stacked[0], stacked[1], atol=1e-3)


def test_a_stacked_model_has_each_models_gradients_and_zero_padding_gradients():
    data, lists = _lists()
    runs = _runs()
    models = [retrieval.CandidateScorer(r, D_IN) for r in runs]
    stack = retrieval.StackedScorer(models)
    q, c = lists.inputs(torch.arange(12))
    target = torch.zeros(12, dtype=torch.long)
    stack(q, c).log_softmax(-1)[:, :, 0].neg().mean(1).sum().backward()
    for m, model in enumerate(models):
        torch.nn.functional.cross_entropy(model.forward_list(q, c), target).backward()
        E, h = model.E, model.h
        lay, slay = model.layers[1], stack.layer_params[1]
        assert torch.allclose(slay["W_Q"].grad[m, :h, :, :E], lay.W_Q.grad, atol=1e-5)
        assert torch.allclose(slay["W_O"].grad[m, :E, :h], lay.W_O.grad.view(E, h, -1), atol=1e-5)
        assert torch.allclose(slay["W_1"].grad[m, :4 * E, :E], lay.W_1.grad, atol=1e-5)
        assert torch.allclose(stack.proj_w.grad[m, :E], model.proj.weight.grad, atol=1e-5)
        assert torch.allclose(stack.score_w.grad[m, :E], model.score.weight.grad[0], atol=1e-5)
        # nothing flows into the padding: heads beyond h, features beyond E
        assert slay["W_Q"].grad[m, h:].abs().max() == 0 if h < stack.Hmax else True
        assert slay["W_Q"].grad[m, :, :, E:].abs().max() == 0 if E < stack.Emax else True
        assert slay["ln1_w"].grad[m, E:].abs().sum() == 0 and stack.proj_w.grad[m, E:].abs().sum() == 0


def test_padding_stays_exactly_zero_through_adamw_steps():
    data, lists = _lists()
    runs = _runs(hs=(1, 4), weight_decay=0.1)
    stack = retrieval.StackedScorer([retrieval.CandidateScorer(r, D_IN) for r in runs])
    opt = torch.optim.AdamW(stack.parameters(), lr=1e-2, weight_decay=0.1)
    q, c = lists.inputs(torch.arange(16))
    for _ in range(5):
        opt.zero_grad()
        stack(q, c)[:, :, 1:].sum().backward()
        opt.step()
    E0 = runs[0].E
    for p in stack.layer_params:
        assert p["W_Q"][0, 1:].abs().max() == 0 and p["W_1"][0, :, E0:].abs().max() == 0
        assert p["W_O"][0, E0:].abs().max() == 0 and p["ln2_b"][0, E0:].abs().max() == 0
    assert stack.proj_w[0, E0:].abs().max() == 0


def test_a_stacked_training_run_matches_training_each_model_alone():
    data, lists = _lists()
    runs = _runs(seeds=(0, 3), epochs=4)
    stacked = retrieval.train_stack(runs, data, lists)
    for run, s in zip(runs, stacked):
        alone = retrieval.train_run(run, data, lists)
        assert s["engine"] == "stacked" and alone["engine"] == "single"
        assert np.allclose(s["loss_curve"], alone["loss_curve"], atol=1e-4), (run.h, run.seed)
        assert s["n_params"] == alone["n_params"] and s["epochs_run"] == alone["epochs_run"] == 4
        for k in ("train_mrr", "val_mrr", "test_mrr"):
            assert s[k] == pytest.approx(alone[k], abs=0.07), k  # two of 16 ranks may flip on near ties
        assert s["n_test_lists"] == 4 and np.isfinite(s["test_acc"])


def test_early_stopping_inside_a_stack_is_each_models_own():
    data, lists = _lists(T=2, n_lists=20)
    runs = [retrieval.RetrievalRun(h=h, T=2, n=4, epochs=40, batch_size=4, lr=3e-2, stop_after_perfect=2)
            for h in (1, 6)]
    stacked = retrieval.train_stack(runs, data, lists)
    alone = [retrieval.train_run(r, data, lists) for r in runs]
    assert [s["epochs_run"] for s in stacked] == [a["epochs_run"] for a in alone]
    assert any(a["epochs_run"] < 40 for a in alone)  # the check is about a model that did stop
    for s, a in zip(stacked, alone):
        assert s["train_acc"] == pytest.approx(a["train_acc"], abs=0.06)


def test_a_group_stacks_what_it_can_and_trains_the_rest_alone(monkeypatch):
    data, lists = _lists()
    monkeypatch.setattr(mm, "build_lists", lambda cfg: data)
    monkeypatch.setattr(retrieval, "ListTensors", lambda *a, **k: lists)
    configs = [r.to_dict() for r in _runs(hs=(1, 2))] + [r.to_dict() for r in _runs(hs=(2,), dropout=0.1)]
    monkeypatch.setattr(retrieval, "stacks_across_heads", lambda device: True)  # as on a GPU
    out = retrieval.run_group(configs)
    assert [m["engine"] for m in out] == ["stacked", "stacked", "single"]
    with pytest.raises(ValueError, match="differ only in h and seed"):
        retrieval.train_stack(_runs(hs=(1,)) + _runs(hs=(2,), lr=1e-3), data, lists)


def test_on_a_cpu_a_group_stacks_seeds_and_not_the_head_grid(monkeypatch):
    data, lists = _lists()
    monkeypatch.setattr(mm, "build_lists", lambda cfg: data)
    monkeypatch.setattr(retrieval, "ListTensors", lambda *a, **k: lists)
    assert not retrieval.stacks_across_heads("cpu") and retrieval.stacks_across_heads("cuda:0")
    configs = [r.to_dict() for r in _runs(hs=(1, 2), seeds=(0, 1))] + [r.to_dict() for r in _runs(hs=(3,))]
    out = retrieval.run_group([{**c, "device": "cpu"} for c in configs])
    assert [m["engine"] for m in out] == ["stacked"] * 4 + ["single"]
    assert retrieval.stack_key(configs[0], False) != retrieval.stack_key(configs[2], False)
    assert retrieval.stack_key(configs[0]) == retrieval.stack_key(configs[2])
