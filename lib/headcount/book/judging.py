"""A page's verdicts computed from its evidence, the same way in the notebook and in the regression guard.

Every page module that judges claims defines two functions:

- `evidence(P, store) -> dict`: everything its verdicts depend on, for the resolved parameters P. Runs are
  read through `sweep` from `store` (a `store.ReadOnlyStore` makes a missing run an error instead of a
  training); per-run tables are DataFrames with a `seed` column, not summaries. Theory pages compute their
  tables here (no store needed).
- `judge(P, evidence) -> list[claims.Verdict]`: the verdicts, a pure function of the evidence.
- optionally `CLAIM_TABLES = {claim_id: (table key, ...)}`: the tables a claim is judged from, where a page's
  claims rest on different tables (its seeds are then left out of those tables only, and a claim judged from
  one seed is reported as not assessed).

`page_verdicts` calls `judge`, stamps page and tier, and re-judges with each seed left out in turn
(`claims.robustness`). `committed_verdicts` does it for every page of the book from the committed result
bundle, read-only: that is what the regression guard compares with its committed list.
"""

from __future__ import annotations

import importlib

import pandas as pd

from headcount import claims


from headcount.book.pages import page_module  # noqa: E402


def evidence_seeds(evidence: dict) -> list:
    """The model seeds present in the evidence's per-run tables (those with a `seed` column)."""
    seeds: set = set()
    for v in evidence.values():
        if isinstance(v, pd.DataFrame) and "seed" in v.columns:
            seeds |= set(v["seed"].dropna().tolist())
    return sorted(seeds)


def without_seed(evidence: dict, seed, only=None) -> dict:
    """The evidence with every run of one seed removed from each table with a seed column (of the tables named
    in `only`, when given); other tables are kept whole."""
    return {k: (v[v["seed"] != seed].reset_index(drop=True)
                if isinstance(v, pd.DataFrame) and "seed" in v.columns and (only is None or k in only) else v)
            for k, v in evidence.items()}


def claim_tables(mod, claim_id: str, evidence: dict) -> tuple | None:
    """The evidence tables a claim is judged from: the page's CLAIM_TABLES entry, else None (all of them)."""
    keys = getattr(mod, "CLAIM_TABLES", {}).get(claim_id)
    return tuple(keys) if keys else None


def page_verdicts(stem: str, P: dict, evidence: dict) -> list[claims.Verdict]:
    """The page's verdicts on this evidence, each marked with whether it survives leaving a seed out."""
    mod = page_module(stem)

    def once(ev: dict) -> list[claims.Verdict]:
        vs = mod.judge(P, ev)
        for v in vs:
            v.page, v.tier = stem, P["tier"]
        return vs

    vs = once(evidence)
    groups: dict = {}
    for v in vs:  # verdicts judged from the same tables are re-judged together
        groups.setdefault(claim_tables(mod, v.claim_id, evidence), []).append(v)
    for only, group in groups.items():
        seeds = evidence_seeds(evidence if only is None else {k: evidence[k] for k in only})
        claims.robustness(group, once, seeds, lambda s, only=only: without_seed(evidence, s, only))
    return vs


def judged_pages() -> list[str]:
    """Pages of the book that judge claims, in the book's order."""
    from headcount.book.pages import book_notebooks

    return [s for s in book_notebooks() if hasattr(page_module(s), "judge")]


def tier_pages(tier: str) -> list[str]:
    """The pages judged at a tier: every judging page at the book's tier (laptop), else the pages the book shows
    again at that tier (its nb/<tier>/ variant pages)."""
    if tier == "laptop":
        return judged_pages()
    from headcount.book.pages import variant_pages

    return [s for t, s in variant_pages() if t == tier and hasattr(page_module(s), "judge")]


def committed_verdicts(tier: str = "laptop", store=None, pages: list[str] | None = None) -> list[claims.Verdict]:
    """Every page's verdicts at a tier's own parameters, from the committed bundle (read-only: a missing run
    raises store.MissingRuns; nothing is trained)."""
    from headcount.engine.store import committed_store

    store = store if store is not None else committed_store()
    out = []
    for stem in pages if pages is not None else tier_pages(tier):
        mod = page_module(stem)
        P = mod.SPEC.resolve(tier=tier)
        out.extend(page_verdicts(stem, P, mod.evidence(P, store)))
    return out


# ----------------------------------------------------------------------------------------------------
# The committed list of verdicts (the regression guard)
# ----------------------------------------------------------------------------------------------------

def verdicts_file(tier: str = "laptop"):
    """data/verdicts/<tier>.json: every verdict of the committed bundle with the key numbers of its evidence."""
    from headcount.paths import REPO

    return REPO / "data" / "verdicts" / f"{tier}.json"


# Key numbers are recomputed from the same committed records, so they agree to rounding of the post-processing
# (fits, sums) on any machine; a change beyond this is a change of what the book reports.
TOLERANCE = {"rel": 1e-6, "abs": 1e-9}


def snapshot(verdicts: list[claims.Verdict], tier: str) -> dict:
    return {"tier": tier, "tolerance": TOLERANCE,
            "about": "every verdict of the book at this tier, recomputed from the committed result bundle; "
                     "tests/test_verdicts.py fails when one changes (update with: headcount verdicts --update)",
            "claims": [{"claim": v.claim_id, "page": v.page, "verdict": v.verdict, "robust": v.robust,
                        "numbers": v.numbers} for v in verdicts]}


def compare(expected: dict, verdicts: list[claims.Verdict]) -> list[str]:
    """Every difference between a committed list and recomputed verdicts, one line each naming the claim."""
    tol = expected.get("tolerance", TOLERANCE)
    got = {v.claim_id: v for v in verdicts}
    want = {c["claim"]: c for c in expected["claims"]}
    problems = [f"{cid}: in the committed list but no page judges it now" for cid in want if cid not in got]
    problems += [f"{cid}: judged now ({got[cid].verdict}) but not in the committed list" for cid in got if cid not in want]
    for cid in [c for c in want if c in got]:
        w, v = want[cid], got[cid]
        if w["verdict"] != v.verdict:
            problems.append(f"{cid}: verdict changed from {w['verdict']!r} to {v.verdict!r} ({v.evidence})")
        if w.get("robust") != v.robust:
            problems.append(f"{cid}: robustness over seeds changed from {w.get('robust')} to {v.robust} ({v.robustness})")
        nums = v.numbers
        for name in sorted(set(w["numbers"]) | set(nums)):
            a, b = w["numbers"].get(name), nums.get(name)
            if name not in nums or name not in w["numbers"]:
                problems.append(f"{cid}: key number {name!r} is {'gone' if name not in nums else 'new'}")
            elif not _close(a, b, tol):
                problems.append(f"{cid}: key number {name!r} changed from {a!r} to {b!r} "
                                f"(tolerance rel {tol['rel']:g}, abs {tol['abs']:g})")
    return problems


def _close(a, b, tol) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    import math

    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol["abs"] + tol["rel"] * max(abs(a), abs(b))
