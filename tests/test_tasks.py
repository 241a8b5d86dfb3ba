"""The D-retrieval task family: determinism per seed, targets against brute force, NMSE."""

import itertools

import pytest
import torch

from headcount.tasks import draw_a, make_task, max_plus_min, sum_of_max, RetrievalTask
from headcount.engine.train import nmse


def test_sum_of_max_is_deterministic_per_seed():
    t = sum_of_max(D=4, d=4, T=8, a_seed=0)
    X1, y1 = t.sample(50, seed=3)
    X2, y2 = sum_of_max(D=4, d=4, T=8, a_seed=0).sample(50, seed=3)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    X3, _ = t.sample(50, seed=4)
    assert not torch.equal(X1, X3)
    assert not torch.equal(draw_a(4, 4, 0), draw_a(4, 4, 1))


def test_sum_of_max_target_equals_brute_force():
    t = sum_of_max(D=4, d=4, T=6, a_seed=2)
    a = torch.tensor(t.info["a"])
    X, y = t.sample(20, seed=0)
    for b in range(20):
        want = sum(max(float(a[i] @ X[b, s]) for s in range(6)) for i in range(4))
        assert abs(float(y[b]) - want) < 1e-5
    assert torch.allclose(a.norm(dim=1), torch.ones(4))


def test_sum_of_max_features_take_float64_sequences():
    t = sum_of_max(D=4, d=4, T=6, a_seed=2)
    X, _ = t.sample(20, seed=0)
    for f in t.features:
        z32, z64 = f(X), f(X.double())
        assert z32.dtype == torch.float32 and z64.dtype == torch.float64
        assert torch.allclose(z64, z32.double(), atol=1e-6)


def test_max_plus_min_target_equals_brute_force():
    t = max_plus_min(T=5)
    X, y = t.sample(30, seed=1)
    assert X.min() >= 0 and X.max() <= 1
    for b in range(30):
        vals = [float(v) for v in X[b, :, 0]]
        assert abs(float(y[b]) - (max(vals) + min(vals))) < 1e-6


def test_general_family_subset_minimum_by_enumeration():
    # z_i = min over S_i of f_i(x(t)), with proper subsets, checked against an explicit enumeration
    T = 6
    task = RetrievalTask(
        name="custom", d=2, T=T,
        features=[lambda X: X[..., 0] ** 2, lambda X: X[..., 1] - X[..., 0]],
        subsets=[[0, 2, 4], [1, 5]],
        F0=lambda z: z[:, 0] * 3 - z[:, 1],
        sampler=lambda n, T, d, g: torch.rand(n, T, d, generator=g),
    )
    X, y = task.sample(10, seed=0)
    for b, (i, j) in itertools.product(range(10), [(0, 1)]):
        z1 = min(float(X[b, t, 0]) ** 2 for t in [0, 2, 4])
        z2 = min(float(X[b, t, 1] - X[b, t, 0]) for t in [1, 5])
        assert abs(float(y[b]) - (3 * z1 - z2)) < 1e-5
    assert task.D == 2


def test_bad_task_definitions_are_rejected():
    with pytest.raises(ValueError, match="task must be one of"):
        make_task("sum_of_maxx")
    with pytest.raises(ValueError, match="S_1"):
        RetrievalTask("x", 1, 4, [lambda X: X[..., 0]], [[0, 7]], lambda z: z[:, 0], lambda *a: None)


def test_nmse_on_known_inputs():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])  # variance (population) 1.25
    assert nmse(y, y) == 0.0
    assert abs(nmse(torch.full((4,), 2.5), y) - 1.0) < 1e-12  # predicting the mean gives NMSE 1
    assert abs(nmse(y + 0.5, y) - 0.25 / 1.25) < 1e-12
    with pytest.raises(ValueError, match="constant"):
        nmse(y, torch.ones(4))
