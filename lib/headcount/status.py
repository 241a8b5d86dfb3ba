"""`headcount status`: what the results store holds for each page at a tier, and what a build would compute.

Convention: a page that trains models exposes `planned_sweeps(P) -> [(Experiment, configs), ...]` in its
`headcount.pages.<page>` module, P being its SPEC resolved at the tier: exactly the sweeps the notebook
will run. Pages without it compute everything at build time and store nothing.
"""

from __future__ import annotations

import os

from .runner import NOTEBOOKS, book_notebooks, page_planner
from .store import ResultsStore, default_store, smoke_store_dir
from .sweep import plan


def tier_store(tier: str) -> ResultsStore:
    """The store a build at this tier uses: smoke runs go to a throwaway store (as `runner.run` does)."""
    if tier == "smoke" and not os.environ.get("HEADCOUNT_STORE"):
        return ResultsStore(smoke_store_dir())
    return default_store()


def report(tier: str = "laptop") -> str:
    """One line per stored sweep of each page of the book: cached / missing / stale runs at this tier."""
    store = tier_store(tier)
    lines = [f"results store: {store.root}", f"tier: {tier}"]
    total_missing = 0
    for name in book_notebooks():
        if not (NOTEBOOKS / f"{name}.py").exists():
            lines.append(f"  {name:28s} listed in the book, but notebooks/{name}.py does not exist")
            continue
        spec, planner = page_planner(name)
        if planner is None:
            lines.append(f"  {name:28s} computes at build time (no stored runs)")
            continue
        for exp, configs in planner(spec.resolve(tier=tier)):
            p = plan(exp, configs, store)
            total_missing += p["missing"]
            lines.append(f"  {name:28s} {exp.name:12s} {p['cached']:5d} cached  {p['missing']:5d} to compute"
                         f"  ({p['stale']} stale: recorded under older code)  code {p['code_hash']}")
    lines.append(f"a build at tier {tier} would train {total_missing} model(s)")
    return "\n".join(lines)
