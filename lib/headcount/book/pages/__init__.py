"""The book's pages: which there are (in the order of book/_toc.yml), and for each its module
`headcount.book.pages.<stem>` with

- `SPEC`: its parameters and their value at each tier (the only list of them; the notebook's parameters
  cell holds the tier, and a run's overrides are injected after it);
- `sweeps(P)`: the stored runs it reads, as [(Experiment, configs)] for resolved parameters P (what the runner
  plans, the page cache fingerprints, `status` counts, and the page's `evidence` reads: declared once);
- `evidence(P, store)` and `judge(P, evidence)`, for pages that judge claims (see `headcount.book.judging`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from headcount.paths import REPO

NOTEBOOKS = REPO / "notebooks"
TOC = REPO / "book" / "_toc.yml"


def page_module(stem: str):
    return importlib.import_module(f"headcount.book.pages.{stem}")


def notebook_path(name: str | Path) -> Path:
    """notebooks/<name>.py for a bare name, or the path given."""
    p = Path(name)
    if p.suffix != ".py":
        p = NOTEBOOKS / f"{p.name}.py"
    if not p.exists():
        avail = sorted(q.stem for q in NOTEBOOKS.glob("*.py"))
        raise ValueError(f"notebook {str(name)!r} not found; available: {avail}")
    return p

def page_spec(stem: str):
    """The ParamSpec of a page, or None when the page declares none."""
    try:
        mod = importlib.import_module(f"headcount.book.pages.{stem}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("headcount.book.pages"):
            return None
        raise
    return getattr(mod, "SPEC", None)

def _toc_notebooks(toc: Path | None = None) -> list[Path]:
    """Every table-of-contents entry under nb/ (nb/<stem>, or nb/<tier>/<stem> for a variant page), in order."""
    import yaml

    found: list[Path] = []

    def walk(node):
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, str) and f.startswith("nb/"):
                found.append(Path(f))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load((toc or TOC).read_text()))
    return found


def variant_pages(toc: Path | None = None) -> list[tuple[str, str]]:
    """(tier, notebook stem) of every entry nb/<tier>/<stem> of the table of contents: a page of the book
    executed again at another tier, from the committed results, as a page of its own."""
    from headcount.paths import VARIANTS

    found = []
    for f in _toc_notebooks(toc):
        if len(f.parts) == 3:
            if f.parts[1] not in VARIANTS:
                raise ValueError(f"table of contents: {f}: nb/<tier>/ takes a tier of {list(VARIANTS)}")
            found.append((f.parts[1], f.stem))
    return found


def book_notebooks(toc: Path | None = None) -> list[str]:
    """Notebook stems in the order the book's table of contents lists them (entries nb/<stem>; the variant
    pages nb/<tier>/<stem> are `variant_pages`)."""
    return [f.stem for f in _toc_notebooks(toc) if len(f.parts) == 2]


def page_planner(stem: str) -> tuple:
    """(SPEC, sweeps) of a page; sweeps is None for a page that stores no runs (see `status`
    for the convention)."""
    spec = page_spec(stem)
    planner = getattr(importlib.import_module(f"headcount.book.pages.{stem}"), "sweeps", None) if spec else None
    return spec, planner

def planned_runs(name: str | Path, params: dict) -> set[tuple[str, str]]:
    """(experiment, run key) of every stored run the page will use with these parameters (empty for a page
    that stores nothing); see `status` for the sweeps convention."""
    from headcount.engine.store import run_key

    spec, planner = page_planner(Path(name).stem)
    if planner is None:
        return set()
    P = spec.resolve(tier=params.get("tier", "laptop"), **{k: v for k, v in params.items() if k != "tier"})
    return {(exp.name, run_key(c, exp.code())) for exp, configs in planner(P) for c in configs}
