"""The generalized D-retrieval family (paper Section 3) and its concrete instances.

A target H in F_D is given by D feature maps f_i : R^d -> R, position subsets S_i of [T], and an outer
function F0 : R^D -> R:

    z_i(X) = min_{t in S_i} f_i(x(t)),     H(X) = F0(z_1(X), ..., z_D(X)).

A max-type feature is the same thing with f -> -f (the paper uses 1 - f on [0,1]).

Example (the paper's synthetic task, D = 4): with a_i drawn once from `a_seed`,

    >>> task = make_task("sum_of_max", D=4, d=4, T=8, a_seed=0)
    >>> X, y = task.sample(3, seed=1)      # X: (3, 8, 4) standard normal tokens
    >>> y.shape                            # y = sum_i max_t a_i . x(t)
    torch.Size([3])

Tasks are stateless apart from their fixed definition; every draw takes an explicit seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

Feature = Callable[[torch.Tensor], torch.Tensor]  # (..., d) -> (...)


@dataclass
class RetrievalTask:
    """A generalized D-retrieval target H(X) = F0(min_{t in S_i} f_i(x(t)))_{i=1..D}."""

    name: str
    d: int
    T: int
    features: list[Feature]  # f_1..f_D
    subsets: list[list[int]]  # S_1..S_D, 0-based positions
    F0: Callable[[torch.Tensor], torch.Tensor]  # (B, D) -> (B,)
    sampler: Callable[[int, int, int, torch.Generator], torch.Tensor]  # (n_samples, T, d, gen) -> (n_samples, T, d)
    info: dict = field(default_factory=dict)  # the recorded definition (e.g. the a_i), for the page

    def __post_init__(self) -> None:
        if len(self.features) != len(self.subsets):
            raise ValueError("one subset S_i is needed per feature f_i")
        for i, S in enumerate(self.subsets):
            if not S or min(S) < 0 or max(S) >= self.T:
                raise ValueError(f"S_{i + 1} must be a non-empty subset of positions 0..{self.T - 1}")

    @property
    def D(self) -> int:
        return len(self.features)

    def z(self, X: torch.Tensor) -> torch.Tensor:
        """The D retrieved features z_i = min_{t in S_i} f_i(x(t)), shape (B, D)."""
        cols = []
        for f, S in zip(self.features, self.subsets):
            vals = f(X[:, S, :])  # (B, |S_i|)
            cols.append(vals.min(dim=1).values)
        return torch.stack(cols, dim=1)

    def target(self, X: torch.Tensor) -> torch.Tensor:
        """H(X) = F0(z(X)), shape (B,)."""
        return self.F0(self.z(X))

    def sample(self, n_samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n_samples sequences X of shape (n_samples, T, d) and their targets y (n_samples,), from a private
        generator (n is the per-head width elsewhere, never a sample count)."""
        gen = torch.Generator().manual_seed(int(seed))
        X = self.sampler(n_samples, self.T, self.d, gen)
        return X, self.target(X)


def _gaussian(n_samples: int, T: int, d: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(n_samples, T, d, generator=gen)


def _uniform(n_samples: int, T: int, d: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n_samples, T, d, generator=gen)


def draw_a(D: int, d: int, a_seed: int) -> torch.Tensor:
    """The vectors a_1..a_D (rows, shape (D, d)): standard normal draws scaled to unit length.

    The paper only says they are fixed; unit length puts every feature on the same scale."""
    gen = torch.Generator().manual_seed(int(a_seed))
    a = torch.randn(D, d, generator=gen)
    return a / a.norm(dim=1, keepdim=True)


def sum_of_max(D: int = 4, d: int = 4, T: int = 8, a_seed: int = 0) -> RetrievalTask:
    """The paper's synthetic task: y = sum_{i=1..D} max_t a_i . x(t), x(t) ~ N(0, I_d).

    As a D-retrieval target: f_i(x) = -a_i . x, S_i = [T], F0(z) = -sum_i z_i."""
    a = draw_a(D, d, a_seed)
    feats = [(lambda X, ai=ai: -(X @ ai.to(X.dtype))) for ai in a]  # a_i stay float32; X may be float64
    return RetrievalTask(
        name="sum_of_max",
        d=d,
        T=T,
        features=feats,
        subsets=[list(range(T))] * D,
        F0=lambda z: -z.sum(dim=1),
        sampler=_gaussian,
        info={"a": a.tolist(), "a_seed": a_seed},
    )


def max_plus_min(T: int = 8) -> RetrievalTask:
    """The toy target of equation (7): d = 1, x(t) ~ U[0, 1], H(X) = max_t x(t) + min_t x(t).

    As a D = 2 retrieval: f_1(x) = 1 - x (so z_1 = 1 - max), f_2(x) = x, F0(z) = 1 - z_1 + z_2."""
    return RetrievalTask(
        name="max_plus_min",
        d=1,
        T=T,
        features=[lambda X: 1.0 - X[..., 0], lambda X: X[..., 0]],
        subsets=[list(range(T))] * 2,
        F0=lambda z: 1.0 - z[:, 0] + z[:, 1],
        sampler=_uniform,
        info={},
    )


TASKS: dict[str, Callable[..., RetrievalTask]] = {
    "sum_of_max": sum_of_max,
    "max_plus_min": max_plus_min,
}


def make_task(name: str, **kwargs) -> RetrievalTask:
    """Build a registered task by name; raises with the allowed names on a typo."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name](**kwargs)
