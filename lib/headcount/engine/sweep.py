"""Grids of run configs, executed through any executor with `submit`, cached in a ResultsStore.

An Experiment says how to run a *group* of configs (a stackable set, e.g. all seeds and head counts
of one T, trained as one batched computation) and which library modules its results depend on.
`sweep` looks every config up in the store, forms the groups from the whole list of configs (so a config
always trains with the same partners, and a resumed or distributed sweep stores the same bits as a one-shot
one), submits each group that has a miss, and writes each record as soon as its group returns, so an
interrupted sweep resumes where it stopped.

Executors: None (in process, or the Dask scheduler HEADCOUNT_SCHEDULER names: `headcount.engine.cluster`),
`concurrent.futures.ProcessPoolExecutor`, a `headcount.engine.cluster.DaskExecutor`, or anything whose
`submit(fn, *args)` returns an object with `.result()`. Records are written by the caller as stacks finish.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import Counter
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable

import pandas as pd

from headcount.engine.progress import progress_bar
from headcount.engine.store import (MissingRuns, NonFiniteMetrics, ResultsStore, canonical_json, code_hash,
                                    environment, run_key, seal)



@dataclass(frozen=True)
class Experiment:
    name: str  # folder in the store
    run_group: Callable[[list[dict]], list[dict]]  # configs -> metrics, same order; module-level for pickling
    code_modules: tuple[str, ...]  # library modules whose source keys the cache
    group_by: Callable[[dict], Hashable] | None = None  # configs with equal keys may run together
    max_group: int = 64
    wants_gpu: bool = False  # on a Dask cluster with GPU workers its stacks carry the resource tag GPU=1

    def code(self) -> str:
        return code_hash(self.code_modules)


CLAIM_POLL_S = 1.0  # how often a sweep looks whether another sweep has finished a stack it waits for


def grid(base: dict, **axes: Iterable) -> list[dict]:
    """The cartesian product of axes over a base config, e.g. grid(base, T=[8, 16], h=[1, 2], seed=[0, 1])."""
    for name, values in axes.items():
        if len(list(values)) == 0:
            raise ValueError(f"grid axis {name!r} is empty; give at least one value")
    names = list(axes)
    return [{**base, **dict(zip(names, combo))} for combo in itertools.product(*(list(axes[k]) for k in names))]


class InProcess:
    """The default executor: runs each submission immediately in this process."""

    def submit(self, fn, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # surfaced by .result(), as with any executor
            fut.set_exception(exc)
        return fut


@dataclass
class SweepResult:
    records: list[dict]  # in the order of the configs given
    hits: int
    misses: int
    wall_seconds: float
    stale: int = 0  # configs that had a record only under an older code hash
    trained: int = 0  # models trained: the misses and any cached partners of their stacks
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.records)} runs: {self.hits} from the store, {self.misses} computed "
            f"({self.stale} of them replacing records of older code"
            + (f"; {self.trained - self.misses} cached partner(s) retrained with them" if self.trained > self.misses else "")
            + f") in {self.wall_seconds:.1f} s; "
            + self.provenance()
        )

    def provenance(self) -> str:
        """Where the runs were computed: each processor (and, where the records name one, training engine)
        with its count of runs. Results agree across processors only up to rounding, which training can
        amplify, so a page says whose numbers it shows."""
        def counts(values) -> str:
            tally = sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
            return ", ".join(f"{k} ({n})" for k, n in tally)

        def where(r: dict) -> str:
            env = r.get("env", {})
            if str(r.get("device", "cpu")).startswith("cuda") and isinstance(env.get("gpu"), dict):
                return f"{env['gpu'].get('name', 'a GPU')} (CUDA {env['gpu'].get('cuda')})"
            return env.get("cpu") or "processor not recorded"

        cpus = counts(where(r) for r in self.records)
        engines = [r["metrics"]["engine"] for r in self.records if isinstance(r.get("metrics", {}).get("engine"), str)]
        return f"computed on {cpus}" + (f"; engines: {counts(engines)}" if engines else "")

    def frame(self) -> pd.DataFrame:
        return records_frame(self.records)


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Tidy table: one row per run, config columns plus every scalar metric."""
    rows = []
    for r in records:
        row = dict(r["config"])
        row.update({k: v for k, v in r["metrics"].items() if isinstance(v, (int, float, str, bool))})
        row["wall_seconds"] = r.get("wall_seconds")
        row["key"] = r["key"]
        rows.append(row)
    return pd.DataFrame(rows)


def plan(exp: Experiment, configs: list[dict], store: ResultsStore) -> dict:
    """What a sweep would do: counts of cached and missing runs (and the missing configs themselves), and
    missing runs whose config has records only under other code (stale). Computes nothing."""
    code = exp.code()
    cached, missing = [], []
    for c in configs:
        (cached if store.get(exp.name, run_key(c, code)) else missing).append(c)
    old = {canonical_json(r["config"]) for r in store.records(exp.name) if r.get("code_hash") != code}
    stale = [c for c in missing if canonical_json(c) in old]
    return {"experiment": exp.name, "code_hash": code, "cached": len(cached), "missing": len(missing),
            "stale": len(stale), "missing_configs": missing}


def _groups(exp: Experiment, configs: list[dict]) -> list[list[int]]:
    if exp.group_by is None:
        return [[i] for i in range(len(configs))]
    buckets: dict[Hashable, list[int]] = {}
    for i, c in enumerate(configs):
        buckets.setdefault(exp.group_by(c), []).append(i)
    out = []
    for idx in buckets.values():
        out.extend(idx[j : j + exp.max_group] for j in range(0, len(idx), exp.max_group))
    return out


def sweep(
    exp: Experiment,
    configs: list[dict],
    store: ResultsStore,
    executor=None,
    progress: bool = True,
    device: str = "cpu",
) -> SweepResult:
    """Run every config not already in the store; returns all records in config order."""
    if not configs:
        raise ValueError("sweep: the list of configs is empty")
    t0 = time.perf_counter()
    code = exp.code()
    keys = [run_key(c, code) for c in configs]
    records: list[dict | None] = [store.get(exp.name, k) for k in keys]
    todo = [i for i, r in enumerate(records) if r is None]
    hits = len(configs) - len(todo)
    if todo and getattr(store, "read_only", False):
        some = ", ".join(canonical_json({k: configs[i][k] for k in sorted(configs[i])[:6]}) for i in todo[:2])
        raise MissingRuns(
            f"{exp.name}: the read-only store {store.root} has no record for {len(todo)} of {len(configs)} runs "
            f"(code hash {code}; e.g. {some}). If library code changed the store keys, recompute the bundle "
            f"(make book) and commit it; nothing is trained here.")
    if todo:
        store.check_writable(exp.name)  # a read-only store is refused before training, not after
    stale = plan(exp, [configs[i] for i in todo], store)["stale"] if todo else 0
    if executor is None:
        from headcount.engine.cluster import default_executor  # HEADCOUNT_SCHEDULER, if set

        executor = default_executor()
    executor = executor if executor is not None else InProcess()

    # Stacks are formed from the full list of configs, cached or not, so a config always trains with the same
    # partners: a one-shot, a resumed, a parallel and a distributed sweep store the same bits (on one
    # processor). A stack with any run missing is trained whole; only its missing runs are stored (a cached
    # partner keeps its record).
    missing = set(todo)
    groups = [g for g in _groups(exp, configs) if missing.intersection(g)]
    trained = sum(len(g) for g in groups)

    def finish(idx: list[int], metrics_list: list[dict], seconds: float, env: dict) -> None:
        stack = stack_id(idx)
        for i, metrics in zip(idx, metrics_list):
            if i not in missing:
                continue  # a cached partner, retrained only so that the others train with their planned partners
            rec = {
                "key": keys[i],
                "experiment": exp.name,
                "config": configs[i],
                "seed": configs[i].get("seed"),
                "metrics": metrics,
                "wall_seconds": seconds / len(idx),  # a group's wall time shared among its runs
                "group_size": len(idx),
                "stack": stack,  # the same for every run trained in one computation
                "device": metrics.get("device", device) if isinstance(metrics, dict) else device,
                "code_hash": code,
                "code_modules": list(exp.code_modules),
                "env": env,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            try:
                rec = seal(rec)
            except NonFiniteMetrics as exc:  # not a result: the rest of the group is still stored
                failed.append(str(exc))
                continue
            store.put(exp.name, rec)  # written as soon as its group is done: a kill loses only runs in flight
            records[i] = rec
        bar.update(sum(i in missing for i in idx))

    failed: list[str] = []

    def stack_id(idx: list[int]) -> str:
        return hashlib.sha256("|".join(keys[i] for i in idx).encode()).hexdigest()[:16]

    def still_missing(idx: list[int]) -> bool:
        """Re-read a stack's missing runs from the store (another sweep may have stored them meanwhile)."""
        for i in idx:
            if i in missing and records[i] is None:
                records[i] = store.get(exp.name, keys[i])
        return any(i in missing and records[i] is None for i in idx)

    # progress goes to the runner's per-page file, not into the page (see headcount.engine.progress)
    with progress_bar(len(todo), f"{exp.name}: {hits} cached, computing", "run", enabled=bool(progress and todo)) as bar:
        pending = groups
        while pending:
            # each stack is claimed before it trains (headcount.engine.store.ResultsStore.claim): a stack that
            # another live sweep on this store is training is left to it, and taken up again below
            deferred = []

            def claimed(idx: list[int]) -> bool:
                """Whether this sweep trains the stack now: False when its runs were stored meanwhile (counted
                done) or another sweep holds it (deferred)."""
                if not still_missing(idx):
                    bar.update(sum(i in missing for i in idx))
                    return False
                if not store.claim(exp.name, stack_id(idx)):
                    deferred.append(idx)
                    return False
                return True

            if isinstance(executor, InProcess):
                for idx in pending:  # one group at a time, each stored before the next starts
                    if claimed(idx):
                        try:
                            finish(idx, *executor.submit(_timed_group, exp.run_group,
                                                         [configs[i] for i in idx]).result())
                        finally:
                            store.release(exp.name, stack_id(idx))
            else:
                stack_submit = getattr(executor, "submit_stack", None)
                futures = {}
                for idx in [g for g in pending if claimed(g)]:
                    args = (_timed_group, exp.run_group, [configs[i] for i in idx])
                    fut = stack_submit(*args, gpu=exp.wants_gpu) if stack_submit else executor.submit(*args)
                    futures[fut] = idx
                try:
                    waiting = list(futures)
                    done_iter = as_completed(waiting) if all(isinstance(f, Future) for f in waiting) else waiting
                    for fut in done_iter:
                        finish(futures[fut], *fut.result())
                        store.release(exp.name, stack_id(futures[fut]))
                finally:
                    for idx in futures.values():
                        store.release(exp.name, stack_id(idx))
            while deferred and all(store.claimed_elsewhere(exp.name, stack_id(idx)) for idx in deferred):
                time.sleep(CLAIM_POLL_S)  # every stack left is being trained by another sweep: wait for one
            pending = deferred
    if failed:
        raise NonFiniteMetrics(f"{exp.name}: {len(failed)} of {len(todo)} runs came out non-finite and were not "
                               f"stored (the others were); first: {failed[0]}")
    return SweepResult(records=records, hits=hits, misses=len(todo), stale=stale, trained=trained,
                       wall_seconds=time.perf_counter() - t0)


def _timed_group(fn, configs):
    """Runs where the stack trains (this process, a pool worker, a Dask worker): its metrics, its wall time and
    the environment of the machine that computed it (recorded with each run)."""
    t = time.perf_counter()
    out = fn(configs)
    if len(out) != len(configs):
        raise RuntimeError(f"run_group returned {len(out)} results for {len(configs)} configs")
    return out, time.perf_counter() - t, environment()
