"""`headcount status`: what the results store holds for each page at a tier, what a build would compute, and
which executed pages a build would keep (see `headcount.book.pagecache`).

Convention: a page that trains models exposes `sweeps(P) -> [(Experiment, configs), ...]` in its
`headcount.book.pages.<page>` module, P being its SPEC resolved at the tier: exactly the sweeps the notebook
will run. Pages without it compute everything at build time and store nothing.
"""

from __future__ import annotations

from headcount.engine import ckernel
from headcount.book import pagecache
from headcount.book.pages import NOTEBOOKS, book_notebooks, page_planner
from headcount.book.runner import EXECUTED, RUN_LAST, env_unless_set, smoke_store_for
from headcount.book.estimate import estimate, human
from headcount.engine.store import default_store
from headcount.engine.sweep import plan


def report(tier: str = "laptop") -> str:
    """One line per stored sweep of each page of the book (cached / missing / stale runs at this tier), and
    one per page saying whether a build would keep its executed notebook in book/nb or execute it."""
    params = {"tier": tier}
    with env_unless_set("HEADCOUNT_STORE", smoke_store_for(params)):  # the store a build at this tier uses
        store = default_store()
        why = ckernel.why_unavailable()
        lines = [f"results store: {store.root}", f"tier: {tier}",
                 "stacked synthetic models on the CPU train with their per-token part in " + (
                     "the C kernel (headcount.engine.ckernel)" if why is None
                     else f"batched torch products: the C kernel is unavailable ({why.splitlines()[0]})")]
        total_missing, keep, measured, est_total, est_unknown = 0, [], {}, 0.0, 0
        for name in book_notebooks():
            path = NOTEBOOKS / f"{name}.py"
            if not path.exists():
                lines.append(f"  {name:28s} listed in the book, but notebooks/{name}.py does not exist")
                continue
            spec, planner = page_planner(name)
            current, why = pagecache.check(path, params, EXECUTED, name in RUN_LAST)
            keep.append(f"  {name:28s} " + (f"kept (unchanged since it executed at {why})" if current
                                            else f"executes ({why})"))
            if planner is None:
                lines.append(f"  {name:28s} computes at build time (no stored runs)")
                continue
            for exp, configs in planner(spec.resolve(tier=tier)):
                p = plan(exp, configs, store)
                total_missing += p["missing"]
                lines.append(f"  {name:28s} {exp.name:12s} {p['cached']:5d} cached  {p['missing']:5d} to compute"
                             f"  ({p['stale']} stale: recorded under older code)  code {p['code_hash']}")
                if p["missing"]:
                    if exp.name not in measured:
                        measured[exp.name] = store.records(exp.name)
                    line, secs = estimate(exp.name, p["missing_configs"], measured[exp.name])
                    lines.append(f"  {'':28s} {'':12s} estimate: {line}")
                    est_total += secs or 0.0
                    est_unknown += secs is None
        if store.damaged:
            lines.append(f"{len(store.damaged)} damaged or edited record file(s), never served: a build treats "
                         "each as missing and writes a sound record in its place")
            lines += [f"  {path}: {why}" for path, why in store.damaged]
    lines.append(f"a build at tier {tier} would train {total_missing} model(s)" + (
        f"; estimated {human(est_total)} of one CPU core" + (f", plus {est_unknown} sweep(s) without an estimate"
                                                              if est_unknown else "") if total_missing else ""))
    lines += [f"executed pages in {EXECUTED.relative_to(NOTEBOOKS.parent)} (make book FORCE=1 executes every page):",
              *keep]
    return "\n".join(lines)
