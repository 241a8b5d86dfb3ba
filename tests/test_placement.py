"""Results do not depend on where or in which order a sweep ran: stacks are formed from the full planned grid,
so a one-shot, a resumed (after a kill between stacks, or with a config cached by another sweep), and a
parallel sweep store bit-identical metrics on one processor. The distributed (Dask) case is in
tests/test_cluster.py."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

from headcount.engine.batched import run_synthetic_group, stack_key
from headcount.engine.store import ResultsStore
from headcount.engine.sweep import Experiment, sweep
from headcount.engine.train import SyntheticRun


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kw) -> dict:
    base = dict(T=6, n=4, N=8, n_train=128, n_val=64, batch_size=32, epochs=2, lr=1e-2, h=2, seed=0)
    return SyntheticRun(**{**base, **kw}).to_dict()


# two stack keys (T = 5 and 6); max_group 3 splits the T = 6 configs into stacks of 3 and 2
GRID = [tiny(T=6, h=h, seed=s) for h in (1, 2, 4) for s in (0, 1)][:5] + [tiny(T=5, h=h) for h in (1, 3)]
EXP = Experiment("placement", run_synthetic_group, ("model", "tasks", "engine.train"), group_by=stack_key, max_group=3)


class Interrupt(RuntimeError):
    pass


def metrics_bits(records) -> list:
    return [(r["key"], r["metrics"]["val_nmse"], r["metrics"]["train_nmse"], r["stack"]) for r in records]


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory):
    return metrics_bits(sweep(EXP, GRID, ResultsStore(tmp_path_factory.mktemp("one")), progress=False).records)


def test_the_stacks_are_the_planned_ones(one_shot):
    stacks = {}
    for key, *_, stack in one_shot:
        stacks.setdefault(stack, []).append(key)
    assert sorted(len(v) for v in stacks.values()) == [2, 2, 3]


def test_a_sweep_killed_between_stacks_resumes_to_the_same_bits(tmp_path, one_shot):
    calls = []

    def dies_on_the_second_stack(configs):
        calls.append(len(configs))
        if len(calls) == 2:
            raise Interrupt("killed")
        return run_synthetic_group(configs)

    store = ResultsStore(tmp_path)
    with pytest.raises(Interrupt):
        sweep(Experiment(EXP.name, dies_on_the_second_stack, EXP.code_modules, EXP.group_by, EXP.max_group),
              GRID, store, progress=False)
    assert len(store.records(EXP.name)) == 3
    resumed = sweep(EXP, GRID, store, progress=False)
    assert (resumed.hits, resumed.misses) == (3, 4)
    assert metrics_bits(resumed.records) == one_shot


def test_a_config_cached_by_another_sweep_does_not_change_its_partners_bits(tmp_path, one_shot):
    store = ResultsStore(tmp_path)
    alone = sweep(EXP, [GRID[1]], store, progress=False)  # another page's sweep trained it in a stack of its own
    assert alone.records[0]["group_size"] == 1
    full = sweep(EXP, GRID, store, progress=False)
    assert (full.hits, full.misses, full.trained) == (1, 6, 7)  # its stack was trained whole
    got = metrics_bits(full.records)
    assert [g for i, g in enumerate(got) if i != 1] == [w for i, w in enumerate(one_shot) if i != 1]
    assert full.records[1] == alone.records[0]  # the cached record is served, not overwritten


def test_a_parallel_sweep_stores_the_same_bits(tmp_path, one_shot):
    with ProcessPoolExecutor(max_workers=2) as pool:
        par = sweep(EXP, GRID, ResultsStore(tmp_path), executor=pool, progress=False)
    assert metrics_bits(par.records) == one_shot
