"""Figures drawn from tidy tables, saved with the table and provenance beside them.

Every figure gets a stable label; `save_figure` writes <label>.png/.svg/.pdf, the tidy table
<label>.csv that the figure was drawn from, and <label>.json (parameters, tier, library code hash)
into the book's figure folder, which the build copies to the site as /figures/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from headcount.paths import note_written

from headcount.paths import REPO, env_path, source_version, variant_suffix  # noqa: E402
PAPER_STYLE = dict(color="black", marker="x", linestyle=":", linewidth=1.0, markersize=6)  # paper series
OURS_STYLE = dict(marker="o", linewidth=1.6, markersize=4)
MIN_FONT_PT = 8.0  # no text of a saved figure is smaller (legends, ticks, notes): legible at the embedded size
PNG_DPI = 150  # the PNG download and the image embedded in the page (the same bytes)


def figures_dir() -> Path:
    """HEADCOUNT_FIGURES_DIR, default <repo>/book/_extra/figures (build output, copied to the site as /figures/)."""
    return env_path("HEADCOUNT_FIGURES_DIR") or REPO / "book" / "_extra" / "figures"


_STABLE = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
           "pdf": {"CreationDate": None, "Producer": None, "Creator": None}}


def save_figure(fig, table: pd.DataFrame, label: str, meta: dict | None = None,
                directory: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write the figure in three formats, its tidy table and provenance; returns the paths. A variant page (another
    tier, `headcount.paths.variant`) writes under the label with its tier appended."""
    label = label + variant_suffix()
    if not label.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"figure label must be letters, digits, '-' or '_'; got {label!r}")
    small = illegible_texts(fig)
    if small:
        raise ValueError(f"figure {label}: text smaller than {MIN_FONT_PT:g} pt: {'; '.join(small[:5])}")
    d = Path(directory) if directory is not None else figures_dir()
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for ext in ("png", "svg", "pdf"):
        out[ext] = d / f"{label}.{ext}"
        # byte-stable files: no creation date or software stamp in any format, the SVG's ids salted by the label
        # instead of at random, so the same figure always has the same bytes (and can carry a content hash)
        with plt.rc_context({"svg.hashsalt": label}):
            fig.savefig(out[ext], dpi=PNG_DPI if ext == "png" else None, bbox_inches="tight", metadata=_STABLE[ext])
    out["csv"] = d / f"{label}.csv"
    table.to_csv(out["csv"], index=False)
    out["json"] = d / f"{label}.json"
    from headcount.engine.store import environment

    built = {"source": source_version(), "environment": environment(), "figure": label}
    out["json"].write_text(json.dumps({**(meta or {}), "built": built}, indent=1, default=str))
    for path in out.values():
        note_written(path)
    return out


def illegible_texts(fig) -> list[str]:
    """The visible, non-empty texts of a figure (legend entries, tick labels, titles, notes) set smaller than
    MIN_FONT_PT, as 'text' at N pt."""
    from matplotlib.text import Text

    return [f"{t.get_text()[:40]!r} at {t.get_fontsize():g} pt" for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT]


def png_bytes(fig) -> bytes:
    """The figure as the PNG download is written (`save_figure`): PNG_DPI, tight box, no software stamp."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight", metadata=_STABLE["png"])
    return buf.getvalue()


PLOTLY_JS = "plotly.min.js"  # served once from the site's figures/ folder, shared by every interactive figure


def save_interactive(fig, label: str, directory: str | os.PathLike | None = None) -> Path:
    """Write a plotly figure as <label>.html beside the static figure's files (a variant page's label with its
    tier appended), loading plotly.js from figures/plotly.min.js, which is written there once (from the pinned
    plotly package): the page works offline and asks nothing of another site. Byte-stable: the div id is the
    label, not a random one."""
    import plotly
    import plotly.offline

    label = label + variant_suffix()
    d = Path(directory) if directory is not None else figures_dir()
    d.mkdir(parents=True, exist_ok=True)
    js = d / PLOTLY_JS
    stamp = f"/* plotly.js of plotly {plotly.__version__} */\n"
    if not js.is_file() or not js.read_text(errors="replace").startswith(stamp):
        tmp = js.with_name(js.name + f".{os.getpid()}.part")
        tmp.write_text(stamp + plotly.offline.get_plotlyjs())
        os.replace(tmp, js)
    out = d / f"{label}.html"
    fig.write_html(out, include_plotlyjs=PLOTLY_JS, full_html=True, div_id=label,
                   config={"displaylogo": False, "responsive": True})
    for path in (js, out):
        note_written(path)
    return out


def _site_root() -> str:
    """The site's root relative to the page being executed: a page sits in nb/, a variant page in nb/<tier>/."""
    return "../../" if variant_suffix() else "../"


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def figure_bibtex(label: str, directory: str | os.PathLike | None = None) -> str:
    """A BibTeX entry for one saved figure (its label with the variant suffix, as in its file names): the
    companion, its version and commit, the figure's label and the sha256 of its PNG and CSV files as saved, so a
    reader can check that the files cited are the files downloaded."""
    from importlib.metadata import PackageNotFoundError, version

    d = Path(directory) if directory is not None else figures_dir()
    try:
        ver = version("headcount")
    except PackageNotFoundError:
        ver = "unknown"
    src = source_version()
    commit = src["commit"] or "unknown"
    if src["uncommitted_changes"]:
        commit += " (with uncommitted changes)"
    key = "headcount_fig_" + label.replace("-", "_")
    return (f"@misc{{{key},\n"
            f"  title   = {{Figure {label} of headcount, an executable companion to \"The Effect of Attention Head "
            f"Count on Transformer Approximation\"}},\n"
            f"  author  = {{{{The headcount contributors}}}},\n  year    = {{{src['date'][:4]}}},\n"
            f"  version = {{{ver}}},\n  note    = {{commit {commit}; figure {label}; "
            f"sha256 of {label}.png {_sha256(d / f'{label}.png')}; "
            f"sha256 of {label}.csv {_sha256(d / f'{label}.csv')}}}\n}}")


def _anchor(name: str) -> str:
    """The HTML id Sphinx gives a target name (docutils' make_id: lower case, other characters as hyphens)."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def downloads_markdown(label: str, interactive: bool = False) -> str:
    """Links to a saved figure's files, relative to a page one folder below the book root, a permalink to the
    figure on its page, and a collapsed citation block with the figure's BibTeX entry (`figure_bibtex`).
    `interactive`: the figure also has an interactive twin (`save_interactive`), linked first."""
    # raw HTML anchors: MyST would treat a markdown link to a non-page file as a cross-reference
    label = label + variant_suffix()
    up = _site_root()
    links = [f'<a href="{up}figures/{label}.{ext}">{ext.upper()}</a>' for ext in ("png", "svg", "pdf", "csv", "json")]
    if interactive:
        links.insert(0, f'<a href="{up}figures/{label}.html">interactive (hover for every seed)</a>')
    return (f"Download figure `{label}`: " + " · ".join(links) + f' · <a href="#{_anchor("fig-" + label)}">permalink</a>\n\n'
            f"````{{admonition}} Cite figure `{label}` (BibTeX; the hashes are those of the files above)\n"
            f":class: dropdown\n\n```bibtex\n{figure_bibtex(label)}\n```\n````")


def glue_figure(key: str, fig) -> None:
    """Hand a figure to myst-nb glue (for a `{glue:figure}` on the page) as the PNG bytes of its download (so the
    page shows the figure at the download's resolution), and close it, so the kernel does not also display it
    where the cell ends."""
    from IPython.display import Image
    from myst_nb import glue

    glue(key, Image(data=png_bytes(fig), format="png"), display=False)
    plt.close(fig)


def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a markdown table, cells printed exactly as given (no re-parsing of numbers)."""
    return df.to_markdown(index=False, disable_numparse=True)


def runs_provenance(*results) -> dict:
    """What a figure's provenance JSON records of the stored runs it was drawn from (one or more SweepResults):
    their store keys (each a file data/results/<experiment>/<key[:2]>/<key>.json), code hashes, processors,
    GPUs and engines."""
    records = [r for res in results for r in res.records]
    return {"runs": len(records), "run_keys": sorted({r["key"] for r in records}),
            "code_hashes": sorted({r["code_hash"] for r in records}),
            "processors": sorted({str(r.get("env", {}).get("cpu")) for r in records}),
            "gpus": sorted({r["env"]["gpu"]["name"] for r in records if isinstance(r.get("env", {}).get("gpu"), dict)}),
            "engines": sorted({str(r["metrics"].get("engine", "")) for r in records if r["metrics"].get("engine")})}


def shown_table(table: str, keep: int = 12) -> str:
    """A markdown table for the page: column names in words (underscores as spaces), and a table of more than
    keep + 4 rows as its first `keep` rows, then the whole table in a collapsed block (opened with a click), so
    a long table does not fill the page."""
    lines = table.strip("\n").split("\n")
    if lines and lines[0].startswith("|"):  # column names in words: head_excess_min -> head excess min
        lines[0] = "|".join(cell.replace("_", " ") for cell in lines[0].split("|"))
    head, rows = lines[:2], lines[2:]
    if len(rows) <= keep + 4 or not (head and head[0].startswith("|")):
        return "\n".join(lines)
    return ("\n".join(head + rows[:keep]) + f"\n\n*The first {keep} of {len(rows)} rows; all of them below.*\n\n"
            f"```{{admonition}} All {len(rows)} rows\n:class: dropdown\n\n" + "\n".join(lines) + "\n```")


def new_figure(ncols: int = 1, width: float = 5.2, height: float = 3.8):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def rerun_markdown(stem: str, P: dict, example: str = "") -> str:
    """The footer every page ends with: how to re-run it (the same form on every page), where its parameters
    are, and its source. `example`: `-p NAME VALUE` pairs of a meaningful variation (optional)."""
    tier = P.get("tier", "laptop")
    up = _site_root()
    cmd = f".venv/bin/headcount run {stem} --tier {tier}" + (f" {example}" if example else "")
    return ("**Re-run this page.** "
            f"From a clone of the repository (after `make setup`), this page at its tier, `{tier}`"
            + (", and with other parameters" if example else "") + ":\n\n"
            f"```bash\n.venv/bin/headcount run {stem} --tier {tier}\n" + (f"{cmd}\n" if example else "") + "```\n\n"
            + (f"Any parameter of the table at the top can be given with `-p NAME VALUE` "
               f"(`.venv/bin/headcount params {stem} --tier {tier}` lists them with their meaning); "
               "with values other than the tier's, the outputs go to `runs/<page>-<hash>/` and the book is left "
               "as it is. " if len(P) > 1 else "")
            + f'Source of this page: <a href="{up}source/{stem}.py">{stem}.py</a> (jupytext); the executed '
            "notebook is the download button at the top of the page. " + _executed_from())


def _executed_from() -> str:
    v = source_version()
    if not v["commit"]:
        return f"Executed on {v['date']} outside a git checkout."
    return (f"Executed on {v['date']} from commit `{v['commit'][:12]}`"
            + (" with uncommitted changes." if v["uncommitted_changes"] else "."))
