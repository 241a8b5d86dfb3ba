"""The book builds with warnings as errors and no broken internal link, from notebooks executed by papermill.

The table of contents matches notebooks/; a part of the book (every hand-written page and the claims
page) builds with the real configuration; every notebook of the book runs at the smoke tier under
papermill, then the whole book builds from those outputs. Everything is written under tmp dirs.
"""

import json
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from headcount import claims, registry
from headcount.book import runner
from headcount.book.pages import variant_pages

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = runner.book_notebooks()
subset_toc = runpy.run_path(str(REPO / "scripts" / "subset_toc.py"))["subset"]


def copy_book(root: Path) -> Path:
    """book/ without build outputs (executed notebooks, ledger, figures); MathJax comes along."""
    book = root / "book"
    shutil.copytree(REPO / "book", book, ignore=shutil.ignore_patterns("nb", "_claims", "figures", ".*"))
    return book


def build(root: Path, toc: Path | None = None) -> Path:
    """jupyter-book build with -W -n --keep-going into root/_build/html; fails the test on any warning."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", str(root / "book"), "--config", str(REPO / "_config.yml"), "--path-output", str(root),
           "-W", "-n", "--keep-going"]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, (p.stdout + p.stderr)[-5000:]
    return root / "_build" / "html"


def assert_site_is_sound(site: Path) -> None:
    """No broken internal link or anchor; MathJax served by the site itself; figures ship with their tables."""
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "linkcheck.py"), str(site)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]
    intro = (site / "intro.html").read_text()
    assert "mathjax/tex-mml-chtml.js" in intro and "cdn.jsdelivr" not in intro
    assert (site / "mathjax" / "tex-mml-chtml.js").exists()
    assert list((site / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    for png in (site / "figures").glob("*.png"):
        assert png.with_suffix(".csv").exists() and png.with_suffix(".svg").exists()
    # no inline script twice on a page (a repeated `const` is a SyntaxError in the console; book/_ext/dedupe_scripts)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    archive = site / f"headcount-source-{commit[:12]}.tar.gz"
    for page in site.rglob("*.html"):
        text = page.read_text()
        name = page.relative_to(site)
        assert text.count("const THEBE_JS_URL") <= 1, f"{name}: sphinx-thebe's script twice"
        if name.parts[0] in ("_static", "_sources", "figures") or 'http-equiv="Refresh"' in text[:2000]:
            continue  # theme files, interactive figures, the root's redirect
        # every page's footer: the commit it was built from and the archive of that commit (book/_ext/provenance.py)
        assert f"from commit <code>{commit[:12]}</code>" in text and f'{archive.name}">Download the exact source' in text, name
        assert "mybinder.org" not in text and "colab.research" not in text, f"{name}: a launch button without a repository"
    import tarfile

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    prefix = f"headcount-{commit[:12]}/"
    assert {prefix + "README.md", prefix + "lib/headcount/model.py", prefix + "_config.yml"} <= names
    assert any(n.startswith(prefix + "data/results/") for n in names)  # the committed results come with it


def test_every_notebook_is_in_the_book():
    on_disk = {p.stem for p in (REPO / "notebooks").glob("*.py")}
    assert on_disk <= set(NOTEBOOKS), f"notebooks not in book/_toc.yml: {sorted(on_disk - set(NOTEBOOKS))}"
    assert NOTEBOOKS[-1] == "claims", "the claims page collects the others' verdicts, so it runs last"


def test_every_page_of_the_book_has_its_notebook():
    missing = [n for n in NOTEBOOKS if not (REPO / "notebooks" / f"{n}.py").exists()]
    assert not missing, f"book/_toc.yml lists pages without notebooks/<name>.py: {missing}"


def test_subset_toc_drops_pages_their_empty_chapters_and_parts():
    toc = {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "A", "chapters": [{"file": "a", "sections": [{"file": "nb/x"}, {"file": "nb/y"}]}]},
        {"caption": "B", "chapters": [{"file": "nb/z"}, {"file": "b"}]},
        {"caption": "C", "chapters": [{"file": "nb/w"}]},
    ]}
    small = subset_toc(toc, lambda f: f in ("nb/y", "nb/z"))
    assert small == {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "A", "chapters": [{"file": "a", "sections": [{"file": "nb/y"}]}]},
        {"caption": "B", "chapters": [{"file": "nb/z"}, {"file": "b"}]},
    ]}
    assert subset_toc(toc, lambda f: f == "nb/w")["parts"] == [
        {"caption": "B", "chapters": [{"file": "b"}]}, {"caption": "C", "chapters": [{"file": "nb/w"}]}]
    real = yaml.safe_load((REPO / "book" / "_toc.yml").read_text())
    assert subset_toc(real, lambda f: True) == real


def test_linkcheck_finds_missing_files_and_anchors(tmp_path):
    site = tmp_path / "html"
    (site / "nb").mkdir(parents=True)
    (site / "index.html").write_text('<a href="nb/page.html#sec">ok</a> <a href="https://example.org">ext</a>')
    (site / "nb" / "page.html").write_text(
        '<h2 id="sec">s</h2><a href="../index.html">up</a><a href="#nowhere">x</a>'
        '<img src="../figures/fig.png"><a href="#sec">self</a>')
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "linkcheck.py"), str(site)], capture_output=True, text=True)
    assert p.returncode == 1
    broken = [line for line in p.stdout.splitlines() if line.startswith("BROKEN")]
    assert broken == ["BROKEN nb/page.html: #nowhere (missing anchor)",
                      "BROKEN nb/page.html: ../figures/fig.png (missing file)"]
    (site / "figures").mkdir()
    (site / "figures" / "fig.png").write_bytes(b"png")
    (site / "nb" / "page.html").write_text('<h2 id="sec">s</h2><img src="../figures/fig.png"><a href="#sec">self</a>')
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "linkcheck.py"), str(site)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout


@pytest.mark.integration
def test_part_of_the_book_builds_with_warnings_as_errors(tmp_path, monkeypatch):
    """The intro and the claims page: config, theorem directives, bibliography, offline MathJax."""
    book = copy_book(tmp_path)
    monkeypatch.setenv("HEADCOUNT_CLAIMS_DIR", str(tmp_path / "claims"))
    monkeypatch.setenv("HEADCOUNT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HEADCOUNT_FIGURES_DIR", str(book / "_extra" / "figures"))  # and the pages' sources beside
    # a verdict left by a page the book no longer has must not be shown (it would be a dangling link)
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "retired_page.json").write_text(json.dumps([{
        "claim_id": "C15", "test": "drop at h = D", "verdict": claims.REPRODUCED, "evidence": "made up",
        "page": "retired_page"}]))
    runner.run("claims", {"tier": "smoke"}, out_dir=book / "nb")
    toc = tmp_path / "toc.yml"
    toc.write_text(yaml.safe_dump(subset_toc(yaml.safe_load((book / "_toc.yml").read_text()),
                                             lambda f: f == "nb/claims")))
    site = build(tmp_path, toc)
    assert_site_is_sound(site)
    intro = (site / "intro.html").read_text()
    assert 'id="def-d-retrieval"' in intro and 'id="thm-informal"' in intro  # sphinx-proof directives
    assert "Cybenko" in intro and "Krizhevsky" in intro  # the bibliography was rendered
    ledger = (site / "nb" / "claims.html").read_text()
    assert "made up" not in ledger
    for cid in registry.CLAIMS:  # every claim has its anchor, and with no page built none is covered
        assert f'id="{cid.lower()}"' in ledger, cid
    assert ledger.count("not yet covered") >= len(registry.CLAIMS)


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """A copy of book/ whose nb/ holds every notebook executed at the smoke tier; errors kept per notebook."""
    root = tmp_path_factory.mktemp("book")
    book = copy_book(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("HEADCOUNT_STORE", str(root / "store"))
    mp.setenv("HEADCOUNT_FIGURES_DIR", str(book / "_extra" / "figures"))
    mp.setenv("HEADCOUNT_CLAIMS_DIR", str(root / "claims"))
    # every page in its own process, as `headcount notebooks` runs them; failures are reported per notebook
    # and the pages the book shows again at another tier, from the committed bundle (nb/<tier>/ in the toc)
    result = runner.run_many(NOTEBOOKS, {"tier": "smoke"}, out_dir=book / "nb", keep_going=True,
                             variants=variant_pages())
    errors = {name: err[-3000:] for name, err in result.items() if err is not None}
    yield root, errors
    mp.undo()


@pytest.mark.integration
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_smoke_tier(smoke_book, name):
    root, errors = smoke_book
    assert name not in errors, errors.get(name)
    assert (root / "book" / "nb" / f"{name}.ipynb").exists()


@pytest.mark.integration
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_figures_reach_a_page_only_through_glue(smoke_book, name):
    """A figure left open at the end of a cell is drawn there by the inline backend as well as where it is
    glued, so the page would show it twice: no executed cell may carry an image output of its own."""
    import nbformat

    root, errors = smoke_book
    if name in errors:
        pytest.skip("the notebook failed; test_notebook_runs_at_smoke_tier reports it")
    nb = nbformat.read(root / "book" / "nb" / f"{name}.ipynb", as_version=4)
    stray = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             for o in c.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {}))]
    assert not stray, f"{name}: cells {stray} display a figure outside glue"


@pytest.fixture(scope="module")
def smoke_site(smoke_book):
    """The smoke book built into a site (once for the module)."""
    root, errors = smoke_book
    assert not errors, f"notebooks failed: {sorted(errors)}"
    return build(root)


@pytest.mark.integration
def test_whole_book_builds_with_warnings_as_errors_and_links_resolve(smoke_book, smoke_site):
    root, errors = smoke_book
    site = smoke_site
    for name in NOTEBOOKS:
        assert (site / "nb" / f"{name}.html").exists()
    assert_site_is_sound(site)
    # every verdict recorded by a page reached the claims page, anchored and linked to its evidence
    ledger = (site / "nb" / "claims.html").read_text()
    for v in claims.load_all(root / "claims"):
        c = registry.claim(v["claim_id"])
        assert f'id="{c.id.lower()}"' in ledger and f'href="{c.page}.html#{c.anchor.lower()}"' in ledger, c.id  # Sphinx lowercases ids


@pytest.mark.integration
def test_the_smoke_figures_draw_what_their_golden_tables_hold(smoke_book):
    import os

    import golden_tables

    root, errors = smoke_book
    assert not errors, f"notebooks failed: {sorted(errors)}"
    figures = root / "book" / "_extra" / "figures"
    if os.environ.get("HEADCOUNT_UPDATE_GOLDEN") == "1":
        golden_tables.update(figures)
    problems = golden_tables.compare(figures)
    assert not problems, "the smoke tier's figure tables changed (tests/golden_tables.py says how to update):\n" + \
        "\n".join(problems)


@pytest.mark.integration
def test_every_page_of_the_smoke_site_renders_cleanly_in_chromium(smoke_site):
    """A real browser over every built page, at 1100 and 390 px (scripts/render_check.py): no console error, every
    equation typeset, every image loaded, no request leaving the site, nothing wider than a phone's screen."""
    render = runpy.run_path(str(REPO / "scripts" / "render_check.py"))
    if render["find_chromium"]() is None:
        pytest.skip("no Chromium on this machine (scripts/setup.sh installs Debian's chromium where it can): "
                    "the pages were not rendered")
    found, seen = render["check_site"](smoke_site)
    assert not found, "\n".join(found)
    assert set(seen) == set(render["pages_of"](smoke_site)) and len(seen) >= len(NOTEBOOKS)
    assert sum(r[1100]["images"] for r in seen.values()) > 0  # the figures were there to load
