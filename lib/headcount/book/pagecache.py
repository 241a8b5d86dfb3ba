"""Reusing an executed page whose inputs have not changed since it last ran.

A page is a function of its inputs: the notebook's text, the parameters it is given, the library's source,
the installed packages, the HEADCOUNT_* settings, the stored runs it reads (those its `sweeps`
lists), the paper's tables, the offline data files and, for the claims page (which reads every other
page's verdicts), the claims ledger. When a page executes, `save` records a fingerprint of those inputs
and a hash of every file the page wrote (the executed notebook, its figures and their tables, its ledger
entry) in `<out_dir>/.<page>.inputs.json`. A later build calls `check`: when every input and every output
is unchanged, executing the page again would compute the same tables, figures and verdicts (pages are
seeded; only their own timings would differ), so the build keeps it (`headcount notebooks --force`,
`make book FORCE=1`, re-executes regardless).

Pages report what they write through `note_written` (figures in `plots.save_figure`, verdicts in
`claims.record`), which appends to the file named by HEADCOUNT_WRITTEN when the runner sets it. The check
hashes files and asks the page's `sweeps` which stored runs it reads; it starts no kernel.
The check is deliberately coarse where tracing would be fragile: any change to any library module counts
as a change for every page.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from headcount.paths import PACKAGE_DIR, REPO, WRITTEN_ENV, note_written  # noqa: F401 - note_written is re-exported
# Settings that only say where progress or this list goes, or where stacks train (the Dask scheduler), change
# nothing a page computes; the store's location is covered by the content of the records the page reads.
_NEUTRAL_ENV = ("HEADCOUNT_PROGRESS", WRITTEN_ENV, "HEADCOUNT_STORE", "HEADCOUNT_SCHEDULER")



def manifest_path(stem: str, out_dir: Path) -> Path:
    return Path(out_dir) / f".{stem}.inputs.json"


def _sha_files(files, root: Path | None = None, base: Path | None = None) -> str:
    """sha256 over names (relative to root when given) and contents of files (relative names under base)."""
    h = hashlib.sha256()
    for f in files:
        f = Path(f)
        h.update((str(f.relative_to(root)) if root else str(f)).encode() + b"\0")
        f = base / f if base else f
        h.update(f.read_bytes() if f.exists() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()


def file_sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _packages() -> str:
    """Name and version of every installed distribution (pinned or not: a page imports transitive dependencies
    too), once per process."""
    found = {(d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()}
    return json.dumps(sorted(found.items()))


def _data_files() -> str:
    """Names, sizes and modification times of the offline data files (read only by the real-data pages)."""
    from headcount.engine.store import shared_data_dir

    root = shared_data_dir()
    h = hashlib.sha256(str(root).encode())
    if root.is_dir():
        for f in sorted(p for p in root.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _stored_runs(stem: str, params: dict) -> str:
    """The records of every stored run the page reads (absent ones hash as missing)."""
    from headcount.book.pages import planned_runs
    from headcount.engine.store import default_store

    store = default_store()
    keys = sorted(planned_runs(stem, params))
    return _sha_files([store.path(exp, key).relative_to(store.root) for exp, key in keys], None, store.root) \
        + f"|{len(keys)} runs"


def fingerprint(notebook: Path, params: dict, reads_ledger: bool) -> dict:
    """Hashes of everything a page's output depends on (see the module docstring)."""
    from headcount.claims import ledger_dir

    stem = Path(notebook).stem
    fp = {
        "notebook": _sha_files([notebook]),
        "params": json.dumps(params, sort_keys=True, default=str),
        "library": _sha_files(sorted([*PACKAGE_DIR.rglob("*.py"), *PACKAGE_DIR.rglob("*.c")]), PACKAGE_DIR),
        "paper_tables": _sha_files(sorted((REPO / "data" / "paper_tables").glob("*")), REPO),
        "python": f"{sys.executable} {platform.python_version()}",
        "packages": _packages(),
        "settings": json.dumps({k: v for k, v in sorted(os.environ.items())
                                if k.startswith("HEADCOUNT_") and k not in _NEUTRAL_ENV}),
        "stored_runs": _stored_runs(stem, params),
        "data_files": _data_files(),
    }
    if reads_ledger:
        d = ledger_dir()
        fp["ledger"] = _sha_files(sorted(d.glob("*.json")) if d.is_dir() else [], None)
    return fp


def save(notebook: Path, params: dict, out_dir: Path, executed: Path, written: list[Path], seconds: float,
         reads_ledger: bool) -> Path:
    """Record the inputs and outputs of a page that has just executed successfully."""
    outputs = {str(Path(p).resolve()): file_sha(p) for p in sorted({*map(Path, written), Path(executed)})}
    entry = {"page": Path(notebook).stem, "executed_at": time.strftime("%Y-%m-%d %H:%M:%S"),
             "seconds": round(seconds, 1), "inputs": fingerprint(notebook, params, reads_ledger), "outputs": outputs}
    dest = manifest_path(Path(notebook).stem, out_dir)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry, indent=1))
    os.replace(tmp, dest)
    return dest


def check(notebook: Path, params: dict, out_dir: Path, reads_ledger: bool) -> tuple[bool, str]:
    """(True, when it executed) if the page's last outputs are current; else (False, what changed)."""
    dest = manifest_path(Path(notebook).stem, out_dir)
    try:
        entry = json.loads(dest.read_text())
        old, outputs = entry["inputs"], entry["outputs"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return False, "no record of a previous execution"
    for path, sha in outputs.items():
        if file_sha(Path(path)) != sha:
            return False, f"output {Path(path).name} is missing or was changed since"
    new = fingerprint(notebook, params, reads_ledger)
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        return False, f"{', '.join(changed).replace('_', ' ')} changed"
    return True, entry.get("executed_at", "?")
