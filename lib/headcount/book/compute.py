"""`headcount compute`: train and store every run some pages use at a tier, without executing the pages.

A page's `sweeps(P)` are exactly the sweeps its notebook runs (see `headcount.book.status`), so computing
them here and executing the page afterwards finds every run in the store. This is how a long tier (the paper
tier) is spread over several sittings: each stack is stored as soon as it is trained, a killed or stopped
computation resumes where it stopped, and the bits do not depend on where it stopped (stacks are formed
from the full planned grid; `headcount.engine.sweep`). With an executor (e.g. a Dask cluster,
`headcount.engine.cluster`) the stacks of a sweep are trained in parallel.
"""

from __future__ import annotations

import sys
import time

from headcount.book.pages import book_notebooks, page_planner
from headcount.book.runner import env_unless_set, smoke_store_for
from headcount.engine.cluster import one_thread_per_process
from headcount.engine.store import default_store
from headcount.engine.sweep import plan, sweep


def storing_pages(tier: str) -> list[str]:
    """The pages of the book that store runs, in toc order."""
    return [name for name in book_notebooks() if page_planner(name)[1] is not None]


def compute(pages: list[str] | None, tier: str, executor=None, dry_run: bool = False, log=sys.stdout) -> dict:
    """Train what `pages` (default: every page that stores runs) would compute at `tier`; returns
    {page: [(experiment, cached, computed), ...]}. Unknown pages are refused before any work."""
    known = storing_pages(tier)
    pages = list(pages) if pages else known
    unknown = [p for p in pages if p not in known]
    if unknown:
        raise ValueError(f"compute: {', '.join(map(repr, unknown))} is not a page that stores runs; "
                         f"choose from {', '.join(known)}")
    one_thread_per_process()  # the runner's thread policy, also for in-process training
    out: dict = {}
    with env_unless_set("HEADCOUNT_STORE", smoke_store_for({"tier": tier})):
        store = default_store()
        plans = []
        for name in pages:
            spec, planner = page_planner(name)
            for exp, configs in planner(spec.resolve(tier=tier)):
                plans.append((name, exp, configs, plan(exp, configs, store)))
        todo = sum(p["missing"] for *_, p in plans)
        print(f"compute --tier {tier}: {len(plans)} sweeps of {len(pages)} page(s), {todo} run(s) to train, "
              f"store {store.root}", file=log, flush=True)
        for name, exp, configs, p in plans:
            if dry_run or p["missing"] == 0:
                out.setdefault(name, []).append((exp.name, p["cached"], 0))
                continue
            t = time.perf_counter()
            res = sweep(exp, configs, store, executor=executor)
            out.setdefault(name, []).append((exp.name, res.hits, res.misses))
            print(f"  {name:24s} {exp.name:10s} {res.summary()} ({time.perf_counter() - t:.0f} s)", file=log,
                  flush=True)
    return out
