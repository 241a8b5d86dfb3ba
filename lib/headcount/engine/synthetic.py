"""The synthetic sum-of-max experiments as one store experiment (their summaries and claim checks are analysis:
`headcount.analysis`).

Every synthetic page (head count, width, fixed E, D = 3, depth, zoom) runs its configs through the same
store experiment "synthetic", so a configuration shared by two pages is trained once.
"""

from __future__ import annotations

from dataclasses import fields

from headcount.engine.sweep import Experiment, grid
from headcount.engine.train import SyntheticRun

# The code a synthetic result depends on: the task, the model and the training recipe. A change there
# re-keys every cached run. The engine (one model at a time, or a stack trained as one computation) is an
# execution strategy: tests/test_batched.py checks that both compute the same models from the same seeds
# (equal up to floating-point reordering), so their results share one cache and each record names the
# engine that produced it. Speed work on the engine therefore does not discard finished runs.
CODE_MODULES = {"single": ("model", "tasks", "engine.train"), "stacked": ("model", "tasks", "engine.train")}


def _run_group_single(configs: list[dict]) -> list[dict]:
    """One model at a time (the reference engine)."""
    from headcount.engine.train import train_one, make_data

    out, cache = [], {}
    for c in configs:
        run = SyntheticRun.from_dict(c)
        dkey = (run.task, run.D, run.d, run.T, run.a_seed, run.data_seed, run.n_train, run.n_val)
        if dkey not in cache:
            cache = {dkey: make_data(run)}  # consecutive configs usually share data
        out.append(train_one(run, cache[dkey]))
    return out


def experiment(engine: str = "stacked") -> Experiment:
    """The store experiment for synthetic runs; engine 'stacked' (default) or 'single' give equal results."""
    if engine == "single":
        return Experiment("synthetic", _run_group_single, CODE_MODULES["single"])
    if engine != "stacked":
        raise ValueError(f"engine must be 'stacked' or 'single', got {engine!r}")
    from headcount.engine.batched import run_synthetic_group, stack_key

    return Experiment("synthetic", run_synthetic_group, CODE_MODULES["stacked"], group_by=stack_key, max_group=64)


def configs(base: dict, **axes) -> list[dict]:
    """Full SyntheticRun dicts for a grid over `axes` on top of `base` (fields checked by SyntheticRun)."""
    full = SyntheticRun.from_dict(base).to_dict()
    out = grid(full, **axes)
    for c in out:
        SyntheticRun.from_dict(c)  # raises on an unknown field
    return out


def run_fields(P: dict, **fixed) -> dict:
    """The SyntheticRun fields a page's resolved parameters P set (the names P shares with SyntheticRun), plus
    the page's `fixed` values (which win): the base of a page's run configs, derived from the run dataclass
    rather than listed by hand."""
    return {**{f.name: P[f.name] for f in fields(SyntheticRun) if f.name in P}, **fixed}
