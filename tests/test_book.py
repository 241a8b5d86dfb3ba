"""Every notebook of the book runs under papermill at the smoke tier, and the book builds with warnings as
errors from those outputs, with no broken internal link. Everything is written under a temporary folder."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from headcount import runner

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = runner.book_notebooks()


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """A copy of book/ whose nb/ holds every notebook executed at the smoke tier; errors kept per notebook."""
    root = tmp_path_factory.mktemp("book")
    book = root / "book"
    shutil.copytree(REPO / "book", book, ignore=shutil.ignore_patterns("nb", "_claims", "figures"))
    mp = pytest.MonkeyPatch()
    mp.setenv("HEADCOUNT_STORE", str(root / "store"))
    mp.setenv("HEADCOUNT_FIGURES_DIR", str(book / "_extra" / "figures"))
    mp.setenv("HEADCOUNT_CLAIMS_DIR", str(root / "claims"))
    errors = {}
    for name in NOTEBOOKS:
        try:
            runner.run(name, {"tier": "smoke"}, out_dir=book / "nb")
        except Exception as exc:  # recorded, reported by the per-notebook test
            errors[name] = f"{type(exc).__name__}: {str(exc)[-3000:]}"
    yield root, errors
    mp.undo()


def test_every_notebook_is_in_the_book():
    on_disk = {p.stem for p in (REPO / "notebooks").glob("*.py")}
    assert on_disk == set(NOTEBOOKS), f"notebooks not in book/_toc.yml: {sorted(on_disk - set(NOTEBOOKS))}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_smoke_tier(smoke_book, name):
    root, errors = smoke_book
    assert name not in errors, errors.get(name)
    assert (root / "book" / "nb" / f"{name}.ipynb").exists()


def test_book_builds_with_warnings_as_errors_and_links_resolve(smoke_book):
    root, errors = smoke_book
    assert not errors, f"notebooks failed: {sorted(errors)}"
    jb = Path(sys.executable).parent / "jupyter-book"
    p = subprocess.run(
        [str(jb), "build", str(root / "book"), "--config", str(REPO / "_config.yml"), "--path-output", str(root),
         "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert p.returncode == 0, (p.stdout + p.stderr)[-5000:]
    site = root / "_build" / "html"
    for name in NOTEBOOKS:
        assert (site / "nb" / f"{name}.html").exists()
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "linkcheck.py"), str(site)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]
    # equations are served by the site itself (offline MathJax), not a CDN
    intro = (site / "intro.html").read_text()
    assert "mathjax/tex-mml-chtml.js" in intro and "cdn.jsdelivr" not in intro
    assert (site / "mathjax" / "tex-mml-chtml.js").exists()
    # every figure saved by a page reached the site with its table
    for png in (site / "figures").glob("*.png"):
        assert png.with_suffix(".csv").exists() and png.with_suffix(".svg").exists()
