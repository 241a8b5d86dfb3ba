"""A page executed again at another tier as a page of its own (toc entries nb/<tier>/<stem>): it reads a bundle
read-only, and its figures, ledger and labels carry the tier, so the book's page is left as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headcount import paths
from headcount.book import runner
from headcount.book.pages import claims as claims_page
from headcount.book.pages import variant_pages


def test_variant_pages_come_from_the_toc_and_name_a_tier(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: intro\nparts:\n  - caption: x\n    chapters:\n      - file: nb/a\n"
                   "      - file: nb/paper/a\n")
    assert variant_pages(toc) == [("paper", "a")]
    toc.write_text("format: jb-book\nroot: intro\nparts:\n  - caption: x\n    chapters:\n      - file: nb/huge/a\n")
    with pytest.raises(ValueError, match="nb/<tier>/ takes a tier of"):
        variant_pages(toc)


def test_relabel_suffixes_labels_names_and_their_references(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("(page-x)=\n# Title\n\nSee {ref}`the figure <fig-x>` and {numref}`fig-x`,"
                                              " and {ref}`elsewhere <other-page>`."),
                nbformat.v4.new_markdown_cell("```{glue:figure} fig-x\n:name: fig-x\n\nCaption\n```")]
    p = tmp_path / "x.ipynb"
    nbformat.write(nb, str(p))
    runner._edit_notebook(p, [lambda nb: runner.relabel(nb, "paper")])
    runner._edit_notebook(p, [lambda nb: runner.relabel(nb, "paper")])  # idempotent
    a, b = [c.source for c in nbformat.read(str(p), as_version=4).cells]
    assert a.startswith("(page-x-paper)=\n# Title (paper tier)")
    assert "{ref}`the figure <fig-x-paper>`" in a and "{numref}`fig-x-paper`" in a and "<other-page>" in a
    assert ":name: fig-x-paper" in b and "{glue:figure} fig-x\n" in b  # the glue key is the page's own


def test_ledger_table_gives_each_claim_its_verdict_at_every_tier(tmp_path):
    rec = lambda cid, verdict, tier: {"claim_id": cid, "test": "t", "verdict": verdict, "evidence": f"{tier} numbers",  # noqa: E731
                                      "page": "synthetic_heads", "tier": tier, "robust": True}
    (tmp_path / "synthetic_heads.json").write_text(json.dumps([rec("C16b", "not reproduced", "laptop")]))
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "synthetic_heads.json").write_text(json.dumps([rec("C16b", "reproduced", "paper")]))
    df = claims_page.ledger_table(tmp_path, pages=["synthetic_heads"], variants=[("paper", "synthetic_heads")])
    row = df.set_index("claim").loc["C16b"]
    assert row["verdict"] == "not reproduced" and row["other_tiers"]["paper"]["verdict"] == "reproduced"
    assert "| paper tier |" in claims_page.overview(df).splitlines()[0]
    assert "**At the paper tier: reproduced.** paper numbers" in claims_page.markdown(df)
    assert claims_page.tier_summary(df) == "At the paper tier, 1 claims judged so far: reproduced: 1"
    none = claims_page.ledger_table(tmp_path, pages=["synthetic_heads"], variants=[])
    assert claims_page.other_tiers(none) == [] and "tier |" in claims_page.overview(none)


@pytest.mark.integration
def test_a_variant_page_reads_its_bundle_read_only_and_writes_beside_the_book(tmp_path, monkeypatch):
    from headcount.book.compute import compute

    store = tmp_path / "bundle"
    monkeypatch.setenv("HEADCOUNT_STORE", str(store))
    compute(["synthetic_heads"], "smoke")
    before = sorted(p.name for p in store.rglob("*.json"))
    monkeypatch.delenv("HEADCOUNT_STORE")
    monkeypatch.setattr(paths, "VARIANTS", ("paper", "smoke"))
    monkeypatch.setattr(runner, "EXECUTED", tmp_path / "nb")
    monkeypatch.setenv("HEADCOUNT_CLAIMS_DIR", str(tmp_path / "claims"))
    monkeypatch.setenv("HEADCOUNT_FIGURES_DIR", str(tmp_path / "figures"))
    out = runner.run_variant("smoke", "synthetic_heads", store_root=store)
    assert out == tmp_path / "nb" / "smoke" / "synthetic_heads.ipynb"
    text = out.read_text()
    assert "(synthetic-heads-smoke)=" in text and ":name: fig-synthetic-heads-nmse-smoke" in text
    assert (tmp_path / "claims" / "smoke" / "synthetic_heads.json").exists()
    assert not (tmp_path / "claims" / "synthetic_heads.json").exists()
    figs = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figs and all("-smoke." in f for f in figs if f != "plotly.min.js")  # plotly.js: one copy for every figure
    assert sorted(p.name for p in store.rglob("*.json")) == before  # read-only: nothing trained or written
    assert "HEADCOUNT_VARIANT" not in __import__("os").environ


def test_the_variant_tiers_are_the_tiers():
    from headcount.params import TIERS

    assert paths.VARIANTS == TIERS


def test_a_figure_saved_twice_has_the_same_bytes_in_every_format(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from headcount.book.plots import save_figure

    def draw():
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2], label="ours")
        ax.legend()
        return fig

    a = save_figure(draw(), pd.DataFrame({"x": [1]}), "twice", directory=tmp_path / "a")
    b = save_figure(draw(), pd.DataFrame({"x": [1]}), "twice", directory=tmp_path / "b")
    for ext in ("png", "svg", "pdf", "csv"):
        assert a[ext].read_bytes() == b[ext].read_bytes(), ext
    assert b"CreationDate" not in a["pdf"].read_bytes()


def test_every_page_ends_with_the_same_rerun_footer():
    from headcount.book.pages import NOTEBOOKS, book_notebooks
    from headcount.book.plots import rerun_markdown

    for stem in book_notebooks():
        text = (NOTEBOOKS / f"{stem}.py").read_text().rstrip()
        assert text.splitlines()[-1].startswith(f'display(Markdown(rerun_markdown("{stem}", ')
        assert "# .venv/bin/headcount run" not in text  # the command is printed by the footer, in one form
    md = rerun_markdown("synthetic_heads", {"tier": "laptop", "D": 4}, example="-p D 3")
    assert ".venv/bin/headcount run synthetic_heads --tier laptop\n.venv/bin/headcount run synthetic_heads --tier laptop -p D 3" in md
    assert '<a href="../source/synthetic_heads.py">' in md


def test_figures_get_their_captions_first_sentence_as_alt_text(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        "```{glue:figure} fig-a\n:name: fig-a\n\nNMSE against $h$, one line per $T$. Solid: *ours*; see "
        "{ref}`the table <tab-x>`.\n```\n\ntext\n\n```{glue:figure} fig-b\n:alt: given\n\nOther.\n```")]
    p = tmp_path / "x.ipynb"
    nbformat.write(nb, str(p))
    runner._edit_notebook(p, [runner.alt_text_from_captions, runner.alt_text_from_captions])
    src = nbformat.read(str(p), as_version=4).cells[0].source
    assert ":name: fig-a\n:alt: NMSE against h, one line per T.\n\nNMSE against $h$" in src
    assert src.count(":alt:") == 2 and ":alt: given\n\nOther." in src


def test_a_long_table_shows_its_first_rows_and_keeps_the_rest_one_click_away():
    import pandas as pd

    from headcount.book.plots import markdown_table, shown_table

    short = markdown_table(pd.DataFrame({"T": range(10)}))
    assert shown_table(short) == short
    assert shown_table(markdown_table(pd.DataFrame({"head_excess_min": [1]}))).splitlines()[0] == "| head excess min   |"
    long = markdown_table(pd.DataFrame({"T": range(140)}))
    out = shown_table(long, keep=12)
    first, _, rest = out.partition("*The first 12 of 140 rows; all of them below.*")
    assert first.strip().count("\n") == 1 + 12 and "```{admonition} All 140 rows\n:class: dropdown\n\n" + long in rest


def test_a_figures_bibtex_carries_the_hashes_of_its_files(tmp_path):
    import hashlib

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from headcount.book.plots import figure_bibtex, save_figure

    fig, ax = plt.subplots()
    ax.plot([1, 2], [2, 1])
    out = save_figure(fig, pd.DataFrame({"x": [1, 2]}), "cite-me", directory=tmp_path)
    bib = figure_bibtex("cite-me", tmp_path)
    for ext in ("png", "csv"):
        assert f"sha256 of cite-me.{ext} {hashlib.sha256(out[ext].read_bytes()).hexdigest()}" in bib
    assert bib.startswith("@misc{headcount_fig_cite_me,") and "figure cite-me" in bib
    assert f"commit {paths.source_version()['commit']}" in bib
    out["csv"].write_text("x\n3\n")  # another file: another hash
    assert hashlib.sha256(b"x\n3\n").hexdigest() in figure_bibtex("cite-me", tmp_path)


def test_the_page_embeds_the_download_png_and_refuses_text_below_8_pt(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from headcount.book import plots

    fig, ax = plt.subplots()
    ax.plot([1, 2], [2, 1], label="ours")
    ax.legend(fontsize=8)
    out = plots.save_figure(fig, pd.DataFrame({"x": [1, 2]}), "embed-me", directory=tmp_path)
    glued = {}
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda key, obj, display: glued.update({key: obj}))
    plots.glue_figure("embed-me", fig)
    assert glued["embed-me"].data == out["png"].read_bytes()  # the page's image is the download, byte for byte

    fig, ax = plt.subplots()
    ax.plot([1, 2], [2, 1], label="tiny legend")
    ax.legend(fontsize=6)
    with pytest.raises(ValueError, match=r"embed-tiny: text smaller than 8 pt: 'tiny legend' at 6 pt"):
        plots.save_figure(fig, pd.DataFrame({"x": [1]}), "embed-tiny", directory=tmp_path)
    assert not (tmp_path / "embed-tiny.png").exists()


def test_the_headline_figure_has_an_offline_interactive_twin_with_every_seed(tmp_path):
    import pandas as pd

    from headcount.book import plots
    from headcount.book.pages import synthetic_heads as page

    runs = pd.DataFrame({"h": [3, 3, 4, 4], "T": [8] * 4, "seed": [0, 1, 0, 1],
                         "val_nmse": [0.5, 0.25, 1.5e-3, 2.5e-3]})
    summary = page.analysis.summarise(runs)
    paper = pd.DataFrame({"h": [3, 4], "T": [8, 8], "mean": [0.3, 2e-3], "std": [0.1, 1e-3]})
    a = plots.save_interactive(page.interactive_figure(runs, summary, 4, paper, "smoke"), "twin", tmp_path / "a")
    b = plots.save_interactive(page.interactive_figure(runs, summary, 4, paper, "smoke"), "twin", tmp_path / "b")
    html = a.read_text()
    assert a.read_bytes() == b.read_bytes()  # byte-stable: the div id is the label
    assert '<script charset="utf-8" src="plotly.min.js"></script>' in html and "cdn.plot.ly" not in html
    assert (tmp_path / "a" / "plotly.min.js").stat().st_size > 1_000_000  # plotly.js itself, served by the site
    for text in ("seed 0: 1.500e-03", "seed 1: 2.500e-03", "mean 2.000e-03, min 1.500e-03",
                 "paper (Table 2): 2.000e-03 \\u00b1 1.0e-03"):  # the hover text, JSON-escaped
        assert text in html, text
    assert '<a href="../figures/twin.html">interactive' in plots.downloads_markdown("twin", interactive=True)
