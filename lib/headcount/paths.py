"""Where things are, how files are written, and the record of what a page wrote: a leaf module that every
layer may import (it imports nothing of the package).

`atomic_write_*` write to a temporary file in the target's folder, fsync it and rename it over the target,
so a reader sees the old content or the new one, never a part; on any error the temporary file is removed.
`note_written` appends a path to the file named by HEADCOUNT_WRITTEN, which the runner sets while a page
executes (the page cache hashes what a page wrote).
"""

from __future__ import annotations

import functools
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO = PACKAGE_DIR.parents[1]
WRITTEN_ENV = "HEADCOUNT_WRITTEN"

# The variables that name a path (or, for the layers, a list of paths separated by os.pathsep). One rule for all
# of them, everywhere: an empty value means unset; a relative path is relative to the folder of the process that
# was given it (`normalize_env` makes every one absolute before any kernel or worker starts, so a page kernel,
# whose working folder differs, reads the same path).
PATH_ENV = ("HEADCOUNT_STORE", "HEADCOUNT_CACHE", "HEADCOUNT_DATA", "HEADCOUNT_CLAIMS_DIR", "HEADCOUNT_FIGURES_DIR",
            "HEADCOUNT_PROGRESS", WRITTEN_ENV)
PATH_LIST_ENV = ("HEADCOUNT_STORE_LAYERS",)


# A page executed again at another tier as a page of its own (the book's "at the paper's scale" part) runs with
# HEADCOUNT_VARIANT = that tier: its figure files, its ledger and its labels carry the tier, so nothing it
# writes replaces what the page wrote at the book's tier.
VARIANT_ENV = "HEADCOUNT_VARIANT"
VARIANTS = ("smoke", "laptop", "paper")  # the tiers (headcount.params.TIERS; this module imports nothing)


def variant() -> str | None:
    """The tier of a variant page being executed (see VARIANT_ENV), or None."""
    v = (os.environ.get(VARIANT_ENV) or "").strip()
    if not v:
        return None
    if v not in VARIANTS:
        raise ValueError(f"{VARIANT_ENV} must be one of {list(VARIANTS)} or unset; got {v!r}")
    return v


def variant_suffix() -> str:
    """'-paper' while a paper-tier variant page executes, else ''."""
    v = variant()
    return f"-{v}" if v else ""


@functools.lru_cache(maxsize=1)
def source_version() -> dict:
    """The commit of the repository's HEAD (with whether the tree had uncommitted changes) and the date, as a
    page or figure records what it was made from; commit None outside a git checkout. Asked of git once per
    process (a page kernel saves several figures and prints its footer; the tree does not change meanwhile)."""
    import subprocess
    import time

    def git(*args):
        try:
            r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    return {"commit": commit, "uncommitted_changes": dirty, "date": time.strftime("%Y-%m-%d")}


@contextmanager
def env_override(values: dict):
    """Within the block os.environ holds `values` (a value None unsets its variable); afterwards every one of
    them is as it was before."""
    before = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = str(v)
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def env_path(name: str) -> Path | None:
    """The path a variable names, absolute, or None when it is unset or empty (see PATH_ENV)."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return Path(value.strip()).expanduser().absolute()


def env_paths(name: str) -> list[Path]:
    """The paths of a list variable (os.pathsep-separated; empty entries ignored), absolute."""
    return [Path(v.strip()).expanduser().absolute() for v in os.environ.get(name, "").split(os.pathsep) if v.strip()]


def normalize_env() -> None:
    """Apply the rule of PATH_ENV to os.environ itself: empty path variables removed, relative ones made
    absolute against the current folder. The CLI calls this first, so everything it starts inherits it."""
    for name in PATH_ENV:
        p = env_path(name)
        if p is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(p)
    for name in PATH_LIST_ENV:
        ps = env_paths(name)
        if ps:
            os.environ[name] = os.pathsep.join(map(str, ps))
        else:
            os.environ.pop(name, None)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def note_written(path: str | os.PathLike) -> None:
    """Record that the running page wrote `path` (no-op outside a runner-driven execution)."""
    dest = env_path(WRITTEN_ENV)
    if dest:
        with open(dest, "a") as fh:
            fh.write(str(Path(path).resolve()) + "\n")
