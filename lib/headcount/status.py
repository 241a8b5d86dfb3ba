"""`headcount status`: what the results store holds for each page at a tier, and what a build would compute.

A page that trains models exposes `planned_sweeps(P) -> [(Experiment, configs), ...]` in its
`headcount.pages.<page>` module; pages without it compute everything at build time (cheap pages)."""

from __future__ import annotations

from .runner import book_notebooks, page_spec
import os

from .store import ResultsStore, cache_dir, default_store
from .sweep import plan


def report(tier: str = "laptop") -> str:
    """One line per page of the book: cached / missing / stale runs in the store at this tier."""
    import importlib

    if tier == "smoke" and not os.environ.get("HEADCOUNT_STORE"):
        store = ResultsStore(cache_dir() / "smoke-store")  # where the runner sends smoke runs
    else:
        store = default_store()
    lines = [f"results store: {store.root}", f"tier: {tier}"]
    total_missing = 0
    for name in book_notebooks():
        spec = page_spec(name)
        try:
            mod = importlib.import_module(f"headcount.pages.{name}")
        except ModuleNotFoundError:
            mod = None
        planner = getattr(mod, "planned_sweeps", None)
        if spec is None or planner is None:
            lines.append(f"  {name:28s} computes at build time (no stored runs)")
            continue
        P = spec.resolve(tier=tier)
        for exp, configs in planner(P):
            p = plan(exp, configs, store)
            total_missing += p["missing"]
            lines.append(f"  {name:28s} {exp.name:12s} {p['cached']:5d} cached  {p['missing']:5d} to compute"
                         f"  ({p['stale']} stale: recorded under older code)  code {p['code_hash']}")
    lines.append(f"a build at tier {tier} would train {total_missing} model(s)")
    return "\n".join(lines)
