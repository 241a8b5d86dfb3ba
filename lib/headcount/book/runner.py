"""Execute the book's jupytext notebooks with papermill, parameters validated first.

papermill cannot read jupytext text notebooks, so each notebook is read with `jupytext.read` and the
NotebookNode is handed to `papermill.execute_notebook`. Before a kernel starts, every parameter name
passed is checked against the notebook's `parameters` cell, and the values against the page's
ParamSpec (module `headcount.book.pages.<notebook stem>`, attribute SPEC) when it has one.
"""

from __future__ import annotations

import ast
import importlib
import logging
import os
import re
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

from headcount.book import pagecache
from headcount.book.pages import NOTEBOOKS, book_notebooks, notebook_path, page_spec, planned_runs  # noqa: F401
from headcount.engine.progress import PROGRESS_ENV
from headcount.engine.store import COMMITTED_STORE, READ_ONLY_ENV, STORE_LAYERS_ENV, canonical_json, smoke_store_dir

from headcount.paths import REPO, VARIANT_ENV, env_override  # noqa: E402
EXECUTED = REPO / "book" / "nb"  # the book renders executed notebooks from here (build output)
RUNS = REPO / "runs"  # a reader's runs with other parameters than a tier's (never part of the book)
# Pages that read what the other pages record (the claims ledger): executed after every other page.
RUN_LAST = ("claims",)
# The thread policy (headcount.engine.cluster.THREADS, the same for Dask workers): each page's kernel computes on one
# thread (the models are small; on 2 shared cores two threads ran about 10x slower per epoch), and a build runs one
# page per core. OMP_NUM_THREADS set by the caller wins.
from headcount.engine.cluster import THREADS  # noqa: E402


def parameter_names(nb) -> list[str]:
    """Names assigned in the cell tagged `parameters`."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            names = []
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    raise ValueError("notebook has no cell tagged 'parameters'")


def validate(name: str | Path, params: dict) -> tuple[Path, object, dict]:
    """Check a notebook's parameters without running it; returns (path, notebook, params)."""
    import jupytext

    path = notebook_path(name)
    nb = jupytext.read(path)
    spec = page_spec(path.stem)
    # a page's parameters are its spec's (declared once); a notebook without a spec takes its parameters cell's
    allowed = ["tier", *spec.names] if spec is not None else parameter_names(nb)
    if "tier" not in parameter_names(nb):
        raise ValueError(f"{path.stem}: the notebook's parameters cell must set 'tier'")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"{path.stem}: unknown parameter(s) {unknown}; this notebook takes {allowed}")
    if spec is not None:
        given = {k: v for k, v in params.items() if k != "tier"}
        spec.resolve(tier=params.get("tier", "laptop"), **given)
    return path, nb, params


@contextmanager
def env_unless_set(var: str, value: str | None):
    """Within the block, os.environ[var] = value if var is unset (or empty: empty means unset) and value is not
    None (then removed again); yields whether it was set here."""
    if value is None or (os.environ.get(var) or "").strip():
        yield False
        return
    os.environ[var] = value
    try:
        yield True
    finally:
        os.environ.pop(var, None)


def smoke_store_for(params: dict) -> str | None:
    """Smoke runs are throwaway: they go to their own store unless HEADCOUNT_STORE names one."""
    return str(smoke_store_dir()) if params.get("tier") == "smoke" else None


def _shown(p: Path) -> Path:
    return p.relative_to(REPO) if p.is_relative_to(REPO) else p


def resolved(name: str | Path, params: dict) -> dict:
    """The page's full, validated parameters for `params` (tier plus overrides); {} for a page without a spec."""
    path, _, params = validate(name, params)
    spec = page_spec(path.stem)
    if spec is None:
        return {}
    return spec.resolve(tier=params.get("tier", "laptop"), **{k: v for k, v in params.items() if k != "tier"})


def is_tier_run(name: str | Path, params: dict) -> bool:
    """Whether these parameters are exactly the tier's own: such a run is part of the book; any other is a
    reader's run."""
    params = dict(params or {})
    tier = params.get("tier", "laptop")
    return resolved(name, params) == resolved(name, {"tier": tier})


def run_folder(name: str | Path, params: dict) -> Path:
    """runs/<page>-<first 10 hex digits of the hash of its resolved parameters>/: one folder per setting, so a
    re-run with the same parameters resumes in it."""
    import hashlib

    stem = notebook_path(name).stem
    digest = hashlib.sha256(canonical_json(resolved(name, params)).encode()).hexdigest()[:10]
    return RUNS / f"{stem}-{digest}"


@contextmanager
def _reader_run_env(folder: Path):
    """Every output of a reader's run goes under `folder`: executed notebook, figures, verdicts and new stored
    runs (folder/results); the committed bundle is read as a read-only layer (HEADCOUNT_STORE_LAYERS)."""
    with env_override({"HEADCOUNT_FIGURES_DIR": folder / "figures", "HEADCOUNT_CLAIMS_DIR": folder / "claims",
                       "HEADCOUNT_STORE": folder / "results", STORE_LAYERS_ENV: COMMITTED_STORE}):
        yield


def run_reader(name: str | Path, params: dict | None = None, out_dir: Path | None = None, into_book: bool = False,
               log_output: bool = False) -> dict:
    """`headcount run`: execute one page and say where its outputs are.

    At a tier's own parameters (or with into_book, for those who maintain the committed bundle) the page
    executes into the book as a book build would. With any other parameters it executes into a run folder of
    its own (`run_folder`, or out_dir): its notebook, figures, verdicts and newly computed runs go there, the
    committed results are read but never written, and the book's ledger, figures and data/results stay
    byte-identical. Returns a summary (also what `--json` prints)."""
    params = dict(params or {})
    validate(name, params)
    stem = notebook_path(name).stem
    book = into_book or is_tier_run(name, params)
    if book:
        out = run(name, params, out_dir=out_dir, log_output=log_output)
        from headcount.claims import ledger_dir
        from headcount.book.plots import figures_dir

        claims_dir, fig_dir, store_dir = ledger_dir(), figures_dir(), None
    else:
        folder = Path(out_dir) if out_dir is not None else run_folder(name, params)
        folder.mkdir(parents=True, exist_ok=True)
        with _reader_run_env(folder):
            out = run(name, params, out_dir=folder, log_output=log_output)
        claims_dir, fig_dir, store_dir = folder / "claims", folder / "figures", folder / "results"
        (folder / "params.json").write_text(canonical_json(resolved(name, params)) + "\n")
    import json

    ledger = claims_dir / f"{stem}.json"
    verdicts = [{"claim": v["claim_id"], "verdict": v["verdict"], "robust": v.get("robust")}
                for v in (json.loads(ledger.read_text()) if ledger.exists() else [])]
    written = sorted(str(p) for p in fig_dir.glob("*")) if (fig_dir.exists() and not book) else []
    return {"page": stem, "into_book": book, "params": resolved(name, params), "notebook": str(out),
            "folder": None if book else str(out.parent), "verdicts": verdicts, "ledger": str(ledger),
            "figures": written, "new_results": None if store_dir is None else str(store_dir)}


def run(name: str | Path, params: dict | None = None, out_dir: Path | None = None, log_output: bool = False,
        reuse: bool = False, post=None) -> Path:
    """Validate, then execute one notebook with papermill; returns the executed .ipynb path.

    With reuse, a page whose inputs and outputs are unchanged since it last executed into out_dir is kept
    as it is instead of executed again (see `headcount.book.pagecache`)."""
    import papermill as pm

    params = dict(params or {})
    path, nb, params = validate(name, params)
    clean = {"tier": params.get("tier", "laptop"), **resolved(path, params)} if page_spec(path.stem) else params
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    out_dir = Path(out_dir) if out_dir is not None else EXECUTED
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{path.stem}.ipynb"
    # names of this run alone: two runs of one page into one folder never share a temporary file
    me = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = out_dir / f".{path.stem}.{me}.running.ipynb"
    t0 = time.perf_counter()
    log = out_dir / f".{path.stem}.progress"  # sweeps report progress to this file, not into the page
    written = out_dir / f".{path.stem}.{me}.written"  # what the page writes besides the notebook (pagecache)
    reads_ledger = path.stem in RUN_LAST
    with env_unless_set("HEADCOUNT_STORE", smoke_store_for(params)):
        why = ""
        if reuse:
            current, why = pagecache.check(path, params, out_dir, reads_ledger)
            if current:
                print(f"up to date {path.name}: inputs and outputs unchanged since it executed at {why} "
                      f"({_shown(out)}; --force executes it again)", flush=True)
                return out
            why = f"; {why}"
        written.write_text("")
        with env_unless_set(PROGRESS_ENV, str(log)) as own_log, env_unless_set(pagecache.WRITTEN_ENV, str(written)), \
                env_unless_set("OMP_NUM_THREADS", THREADS), env_unless_set("MKL_NUM_THREADS", THREADS):
            if own_log:
                log.write_text(f"{path.stem} ({params.get('tier', 'laptop')}): started {time.strftime('%H:%M:%S')}\n")
                print(f"started {path.name} at {time.strftime('%H:%M:%S')} (progress: tail -f {_shown(log)}{why})",
                      flush=True)
            try:
                # only validated, resolved values reach the notebook: papermill writes a value's text into the
                # parameters cell, so a raw value (e.g. a YAML mapping whose keys passed a list check) never goes there
                pm.execute_notebook(nb, str(tmp), parameters=clean, kernel_name="python3", cwd=str(REPO),
                                    log_output=log_output, progress_bar=False)
            except BaseException as exc:  # an error in a cell, or Ctrl-C: nothing of this run is left half-named
                failed = out_dir / f"{path.stem}.failed.ipynb"
                if tmp.exists():
                    tmp.replace(failed)  # keep the failed notebook for inspection; the last good one stays
                written.unlink(missing_ok=True)
                if isinstance(exc, Exception):
                    raise PageFailed(path.stem, _one_line(exc), failed if failed.exists() else None, str(exc)) from None
                raise
        # one read and one write of the executed notebook, before the page cache hashes it: papermill's parameters
        # cell hidden (the page shows its parameters as a table), every figure's alt text from its caption, and
        # the caller's own edit (a variant page's labels, run_variant)
        _edit_notebook(tmp, [_hide_injected_parameters, alt_text_from_captions, *([post] if post else [])])
        tmp.replace(out)  # the previous good output is replaced only by a complete run
        (out_dir / f"{path.stem}.failed.ipynb").unlink(missing_ok=True)  # an older failure is history now
        seconds = time.perf_counter() - t0
        files = [Path(line) for line in written.read_text().splitlines() if line]
        if path.parent == NOTEBOOKS:  # a page of the book: its jupytext source, linked from its re-run footer
            files.append(_publish_source(path))
        pagecache.save(path, params, out_dir, out, files, seconds, reads_ledger)
        written.unlink()
    print(f"executed {path.name} -> {_shown(out)} ({seconds:.0f} s)")
    return out


def _publish_source(path: Path) -> Path:
    """Copy a page's jupytext source next to its figures (book/_extra/source/<stem>.py, on the site as
    /source/<stem>.py), for the download link of its re-run footer (`headcount.book.plots.rerun_markdown`)."""
    from headcount.book.plots import figures_dir
    from headcount.paths import atomic_write_bytes

    return atomic_write_bytes(figures_dir().parent / "source" / path.name, path.read_bytes())


_FIGURE = re.compile(r"(```\{glue:figure\}[^\n]*\n)((?::[a-z_-]+:[^\n]*\n)*)\n(.*?)```", re.S)


def _plain(text: str) -> str:
    """A caption made plain for alt text: roles, math markers, emphasis and line breaks removed."""
    text = re.sub(r"\{[a-z]+\}`([^`<]*)(<[^>]*>)?`", r"\1", text)
    text = re.sub(r"[$*`_\\]", "", text)
    return " ".join(text.split())


def alt_text_from_captions(nb) -> None:
    """Give every {glue:figure} of a notebook without an :alt: option the first sentence of its caption as alt
    text (what a screen reader says, and what shows when the image does not load)."""

    def add(m):
        if ":alt:" in m.group(2):
            return m.group(0)
        first = re.split(r"(?<=[.!?])\s", _plain(m.group(3)), maxsplit=1)[0][:300]
        return f"{m.group(1)}{m.group(2)}:alt: {first}\n\n{m.group(3)}```"

    for c in nb.cells:
        if c.cell_type == "markdown" and "{glue:figure}" in c.source:
            c.source = _FIGURE.sub(add, c.source)


def _edit_notebook(path: Path, edits) -> None:
    """Read a notebook once, apply each edit (a function changing the NotebookNode in place), write it once."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for edit in edits:
        edit(nb)
    nbformat.write(nb, str(path))


def run_variant(tier: str, stem: str, reuse: bool = False, log_output: bool = False,
                store_root: Path | None = None, out_root: Path | None = None) -> Path:
    """Execute a page again at `tier` as a page of its own (toc entry nb/<tier>/<stem>): from the committed
    results only (a missing run is an error naming it; nothing is trained during a book build), into
    book/nb/<tier>/, with figure files, ledger and labels carrying the tier (`headcount.paths.VARIANT_ENV`), so
    the book's page at its own tier is left as it is. Whatever tier the book is built at, a variant page
    always shows its own tier's committed results."""
    out_dir = Path(out_root if out_root is not None else EXECUTED) / tier
    # the committed bundle (or store_root), read-only, even in a smoke build
    with env_override({VARIANT_ENV: tier, READ_ONLY_ENV: "1", "HEADCOUNT_STORE": store_root}):
        return run(stem, {"tier": tier}, out_dir=out_dir, log_output=log_output, reuse=reuse,
                   post=lambda nb: relabel(nb, tier))


_LABEL = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$", re.M)
_NAME = re.compile(r"^(:name:\s*)([A-Za-z0-9_.:-]+)\s*$", re.M)


def relabel(nb, tier: str) -> None:
    """Give every label a variant page's notebook defines (`(label)=` targets and `:name:` of figures) the suffix
    -<tier>, and its references to them ({ref}, {numref}) the same, so the variant's labels never clash with the
    book page's; the first heading says the tier. Idempotent (a reused page is not relabelled twice)."""
    suffix = f"-{tier}"
    md = [c for c in nb.cells if c.cell_type == "markdown"]
    labels = {m.group(1) for c in md for m in _LABEL.finditer(c.source)} | {
        m.group(2) for c in md for m in _NAME.finditer(c.source)}
    labels = {x for x in labels if not x.endswith(suffix)}
    if not labels and any(suffix in c.source for c in md):
        return
    for c in md:
        src = _LABEL.sub(lambda m: f"({m.group(1)}{suffix})=" if m.group(1) in labels else m.group(0), c.source)
        src = _NAME.sub(lambda m: f"{m.group(1)}{m.group(2)}{suffix}" if m.group(2) in labels else m.group(0), src)
        for x in labels:
            src = re.sub(r"(\{(?:ref|numref)\}`[^`<]*<)" + re.escape(x) + r">`", lambda m: f"{m.group(1)}{x}{suffix}>`", src)
            src = re.sub(r"(\{(?:ref|numref)\}`)" + re.escape(x) + r"`", lambda m: f"{m.group(1)}{x}{suffix}`", src)
        c.source = src
    heading = next(((c, i) for c in md for i, line in enumerate(c.source.splitlines()) if line.startswith("# ")), None)
    if heading is not None:
        c, i = heading
        lines = c.source.splitlines()
        if f"({tier} tier)" not in lines[i]:
            lines[i] = f"{lines[i]} ({tier} tier)"
            c.source = "\n".join(lines)


class PageFailed(RuntimeError):
    """A page's execution failed: `line` is the error in one line, `notebook` the failed notebook (with the
    full traceback in its cells), `detail` papermill's whole text."""

    def __init__(self, page: str, line: str, notebook: Path | None, detail: str):
        self.page, self.line, self.notebook, self.detail = page, line, notebook, detail
        where = f"; the failed notebook with its traceback: {_shown(notebook)}" if notebook else ""
        super().__init__(f"{page}: {line}{where}")


def _one_line(exc: BaseException) -> str:
    """The useful line of a failure: a failed cell's exception name and message (papermill), else the last
    non-empty line of the error text."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {str(evalue).splitlines()[0] if evalue else ''}".strip()[:400]
    return summary(str(exc))


class _KnownParameters(logging.Filter):
    """papermill warns about every value whose name the parameters cell does not assign; a page's cell sets only
    `tier` and its parameters are its spec's, checked before the kernel starts, so that warning says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


logging.getLogger("papermill").addFilter(_KnownParameters())


def _hide_injected_parameters(nb) -> None:
    """Tag papermill's injected parameters cell `remove-cell`, so the rendered page does not show it (every page
    prints its parameters as a table; the cell stays in the downloadable notebook)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]


def default_jobs(n_pages: int) -> int:
    """Pages executed at once by default: one per CPU core (every page trains on one torch thread), at most 8."""
    return max(1, min(os.cpu_count() or 1, 8, n_pages))


def _run_quietly(name: str, params: dict, out_dir: Path | None, reuse: bool = False) -> tuple[str, str | None]:
    """run() that returns failures as text (papermill's errors do not always pickle)."""
    try:
        run(name, params, out_dir=out_dir, reuse=reuse)
        return name, None
    except Exception as exc:  # noqa: BLE001 - reported by run_many
        return name, f"{type(exc).__name__}: {exc}"


def _run_chain(chain: list[str], params: dict, out_dir: Path | None, reuse: bool = False) -> list[tuple[str, str | None]]:
    """The pages of a chain one after another (in a worker process); the first failure ends the chain."""
    done = []
    for name in chain:
        done.append(_run_quietly(name, params, out_dir, reuse))
        if done[-1][1] is not None:
            break
    return done


def chains(names: list, params: dict) -> list[list]:
    """The pages split into chains that share no stored run, each chain in the given order.

    Pages that use a common run must not run at once: whichever computed it first would decide the run's
    record, and a stacked run's last digits depend on which models it was stacked with (training can
    amplify them), so a parallel build would not be reproducible. Within a chain, pages run in the order
    given, which is the order of a one-page-at-a-time build, so both give the same store."""
    keys = [planned_runs(n, params) for n in names]
    parent = list(range(len(names)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i):
            if keys[i] & keys[j]:
                parent[root(i)] = root(j)
    groups: dict[int, list] = {}
    for i, n in enumerate(names):
        groups.setdefault(root(i), []).append(n)
    return list(groups.values())


NOT_RUN = "not run: another page failed first"


def summary(error: str, width: int = 400) -> str:
    """One line of an error text: its last non-empty line (papermill puts the cell's traceback first)."""
    lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
    return (lines[-1] if lines else error)[:width]


def run_many(names: list, params: dict | None = None, out_dir: Path | None = None,
             jobs: int | None = None, keep_going: bool = False, reuse: bool = False,
             variants: list[tuple[str, str]] = ()) -> dict:
    """Execute several notebooks, `jobs` at a time, each in its own kernel; pages in RUN_LAST after all the
    others. Every notebook's parameters are validated before any starts (ValueError).

    Pages that share stored runs form a chain (see `chains`) that runs one page after another in the given
    order; chains run in parallel worker processes, those with the most pages first. The results are those
    of a one-page-at-a-time build.

    Returns {name: None if it ran, else the error text, or NOT_RUN}. A failed page ends its chain (the pages
    after it in the chain are NOT_RUN); unless keep_going, no new chain starts either, while chains already
    running go on to their end (whatever they compute is stored as usual). A failed notebook is kept as
    <name>.failed.ipynb beside the last good output. jobs None: `default_jobs`; jobs 1: every page one after
    another, in the given order, in this process. reuse: keep pages whose inputs are unchanged (see `run`).

    A page reused from an earlier build is cheap, so a warm build only executes what changed. `variants`: (tier,
    stem) pages executed after the others and before RUN_LAST (`run_variant`), results under "<tier>/<stem>"."""
    params = dict(params or {})
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    for name in names:  # a typo must not cost the runs before it
        validate(name, params)
    first = [n for n in names if Path(n).stem not in RUN_LAST]
    last = [n for n in names if Path(n).stem in RUN_LAST]
    groups = chains(first, params)
    jobs = jobs or default_jobs(len(groups))
    result: dict = dict.fromkeys(names, NOT_RUN)

    def go_on() -> bool:
        return keep_going or all(v is None or v == NOT_RUN for v in result.values())

    with env_unless_set("HEADCOUNT_STORE", smoke_store_for(params)):  # set once, for every worker (see run)
        if jobs == 1:
            for name in first:
                if go_on():
                    result[name] = _run_quietly(name, params, out_dir, reuse)[1]
        else:
            todo = sorted(groups, key=lambda g: (-len(g), first.index(g[0])))
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
                running: set = set()
                while running or (todo and go_on()):
                    while todo and len(running) < jobs and go_on():
                        running.add(pool.submit(_run_chain, todo.pop(0), params, out_dir, reuse))
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        for name, err in fut.result():
                            result[name] = err
                            if err is not None:
                                print(f"failed {Path(name).stem}: {summary(err)}", flush=True)
        for tier, stem in variants:
            key = f"{tier}/{stem}"
            result[key] = NOT_RUN
            if go_on():
                try:
                    run_variant(tier, stem, reuse=reuse, out_root=out_dir)
                    result[key] = None
                except Exception as exc:  # noqa: BLE001 - reported like any page
                    result[key] = f"{type(exc).__name__}: {exc}"
        for name in last:
            if go_on():
                result[name] = _run_quietly(name, params, out_dir, reuse)[1]
    return result
