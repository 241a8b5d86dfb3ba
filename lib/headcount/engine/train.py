"""Training the synthetic-task models and measuring NMSE.

Choices the paper leaves open are fixed here and recorded in every run's config:
Adam, cosine decay of the learning rate to zero, MSE loss on targets standardised with the training
set's mean and std (NMSE is invariant to that affine change), full passes over a fixed training set.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import torch

from headcount.model import HeadcountTransformer, ModelConfig
from headcount.tasks import make_task


@dataclass(frozen=True)
class SyntheticRun:
    """Everything that determines one synthetic training run (its hash is the store key)."""

    task: str = "sum_of_max"
    D: int = 4
    d: int = 4
    T: int = 8
    a_seed: int = 0  # seed of the a_i vectors
    data_seed: int = 1234  # seed of the train/validation draws (same data for every model seed)
    n_train: int = 8000  # paper: 8000 training sequences per T
    n_val: int = 2000  # paper: 2000 validation sequences per T
    h: int = 4
    n: int = 8  # per-head width (paper: 8)
    N: int = 32  # MLP hidden width (paper: 32)
    n_layers: int = 1
    beta: float = 1.0
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-2
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0  # model init and minibatch order

    def model_config(self) -> ModelConfig:
        return ModelConfig(d=self.d, h=self.h, n=self.n, N=self.N, beta=self.beta, n_layers=self.n_layers)

    def task_kwargs(self) -> dict:
        if self.task == "sum_of_max":
            return {"D": self.D, "d": self.d, "T": self.T, "a_seed": self.a_seed}
        return {"T": self.T}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SyntheticRun":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown SyntheticRun fields {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**d)


def nmse(pred: torch.Tensor, y: torch.Tensor) -> float:
    """NMSE = mean((pred - y)^2) / Var(y), the variance taken over the same evaluation targets."""
    pred, y = pred.reshape(-1).double(), y.reshape(-1).double()
    if y.numel() < 2:
        raise ValueError("NMSE needs at least two targets")
    var = y.var(unbiased=False)
    if var == 0:
        raise ValueError("NMSE is undefined for constant targets")
    return float(((pred - y) ** 2).mean() / var)


def make_data(run: SyntheticRun) -> dict[str, torch.Tensor]:
    """Fixed train/validation sets for a run's task (depends on data_seed, not on the model seed)."""
    task = make_task(run.task, **run.task_kwargs())
    Xtr, ytr = task.sample(run.n_train, seed=run.data_seed)
    Xva, yva = task.sample(run.n_val, seed=run.data_seed + 1)
    return {"Xtr": Xtr, "ytr": ytr, "Xva": Xva, "yva": yva}


def lr_at(step: int, total: int, lr: float) -> float:
    """Cosine decay from lr to 0 over `total` optimiser steps."""
    return 0.5 * lr * (1 + math.cos(math.pi * min(step, total) / total))


def default_device() -> torch.device:
    """CUDA when present (paper tier on a GPU), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_one(run: SyntheticRun, data: dict[str, torch.Tensor] | None = None, eval_every: int = 1,
              device: torch.device | str | None = None) -> dict:
    """Train one model; returns metrics: val_nmse (final), train_nmse, curve (epoch, val_nmse), n_params."""
    if run.optimizer != "adam":
        raise ValueError(f"optimizer must be 'adam', got {run.optimizer!r}")
    device = torch.device(device) if device is not None else default_device()
    data = data if data is not None else make_data(run)
    Xtr, ytr, Xva, yva = (data[k].to(device) for k in ("Xtr", "ytr", "Xva", "yva"))
    mu, sd = ytr.mean(), ytr.std()
    # weights are drawn on the CPU from the run's seed, so a seed means the same model on every device
    model = HeadcountTransformer(run.model_config(), seed=run.seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    gen = torch.Generator().manual_seed(int(run.seed) + 1_000_003)  # minibatch order
    steps_per_epoch = math.ceil(run.n_train / run.batch_size)
    total = steps_per_epoch * run.epochs
    curve, step, t0 = [], 0, time.perf_counter()
    for epoch in range(run.epochs):
        perm = torch.randperm(run.n_train, generator=gen).to(device)
        model.train()
        for b in range(steps_per_epoch):
            idx = perm[b * run.batch_size : (b + 1) * run.batch_size]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, run.lr)
            loss = ((model(Xtr[idx]) - (ytr[idx] - mu) / sd) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if (epoch + 1) % eval_every == 0 or epoch + 1 == run.epochs:
            curve.append((epoch + 1, evaluate(model, Xva, yva, mu, sd)))
    return {
        "val_nmse": curve[-1][1],
        "train_nmse": evaluate(model, Xtr, ytr, mu, sd),
        "curve": curve,
        "n_params": sum(p.numel() for p in model.parameters()),
        "train_seconds": time.perf_counter() - t0,
        "device": str(device),
    }


@torch.no_grad()
def evaluate(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, mu, sd, chunk: int = 4096) -> float:
    """NMSE of a model trained on standardised targets, on (X, y) in original units."""
    model.eval()
    preds = torch.cat([model(X[i : i + chunk]) for i in range(0, len(X), chunk)])
    return nmse(preds * sd + mu, y)
