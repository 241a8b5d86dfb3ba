"""Where things are, how files are written, and the record of what a page wrote: a leaf module that every
layer may import (it imports nothing of the package).

`atomic_write_*` write to a temporary file in the target's folder, fsync it and rename it over the target,
so a reader sees the old content or the new one, never a part; on any error the temporary file is removed.
`note_written` appends a path to the file named by HEADCOUNT_WRITTEN, which the runner sets while a page
executes (the page cache hashes what a page wrote).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO = PACKAGE_DIR.parents[1]
WRITTEN_ENV = "HEADCOUNT_WRITTEN"


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
    dest = os.environ.get(WRITTEN_ENV)
    if dest:
        with open(dest, "a") as fh:
            fh.write(str(Path(path).resolve()) + "\n")
