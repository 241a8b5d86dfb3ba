"""A page's verdicts computed from its evidence, the same way in the notebook and in the regression guard.

Every page module that judges claims defines two functions:

- `evidence(P, store) -> dict`: everything its verdicts depend on, for the resolved parameters P. Runs are
  read through `sweep` from `store` (a `store.ReadOnlyStore` makes a missing run an error instead of a
  training); per-run tables are DataFrames with a `seed` column, not summaries. Theory pages compute their
  tables here (no store needed).
- `judge(P, evidence) -> list[claims.Verdict]`: the verdicts, a pure function of the evidence.

`page_verdicts` calls `judge`, stamps page and tier, and re-judges with each seed left out in turn
(`claims.robustness`). `committed_verdicts` does it for every page of the book from the committed result
bundle, read-only: that is what the regression guard compares with its committed list.
"""

from __future__ import annotations

import importlib

import pandas as pd

from . import claims


def page_module(stem: str):
    return importlib.import_module(f"headcount.pages.{stem}")


def evidence_seeds(evidence: dict) -> list:
    """The model seeds present in the evidence's per-run tables (those with a `seed` column)."""
    seeds: set = set()
    for v in evidence.values():
        if isinstance(v, pd.DataFrame) and "seed" in v.columns:
            seeds |= set(v["seed"].dropna().tolist())
    return sorted(seeds)


def without_seed(evidence: dict, seed) -> dict:
    """The evidence with every run of one seed removed (tables without a seed column are kept whole)."""
    return {k: (v[v["seed"] != seed].reset_index(drop=True) if isinstance(v, pd.DataFrame) and "seed" in v.columns
                else v) for k, v in evidence.items()}


def page_verdicts(stem: str, P: dict, evidence: dict) -> list[claims.Verdict]:
    """The page's verdicts on this evidence, each marked with whether it survives leaving a seed out."""
    mod = page_module(stem)

    def once(ev: dict) -> list[claims.Verdict]:
        vs = mod.judge(P, ev)
        for v in vs:
            v.page, v.tier = stem, P["tier"]
        return vs

    vs = once(evidence)
    seeds = evidence_seeds(evidence)
    if seeds:
        claims.robustness(vs, once, seeds, lambda s: without_seed(evidence, s))
    return vs


def judged_pages() -> list[str]:
    """Pages of the book that judge claims, in the book's order."""
    from .runner import book_notebooks

    return [s for s in book_notebooks() if hasattr(page_module(s), "judge")]


def committed_verdicts(tier: str = "laptop", store=None, pages: list[str] | None = None) -> list[claims.Verdict]:
    """Every page's verdicts at a tier's own parameters, from the committed bundle (read-only: a missing run
    raises store.MissingRuns; nothing is trained)."""
    from .store import committed_store

    store = store if store is not None else committed_store()
    out = []
    for stem in pages if pages is not None else judged_pages():
        mod = page_module(stem)
        P = mod.SPEC.resolve(tier=tier)
        out.extend(page_verdicts(stem, P, mod.evidence(P, store)))
    return out
