"""Verification of the decoded-data caches (CIFAR-10 arrays, MiniLM embeddings) before a page uses them.

The loaders write their caches atomically, but a cache can still be damaged afterwards (a truncated copy, a
full disk during a copy, a hand edit). `check(name)` opens every `.npz` cache of a data set and reads every
array in it; a file that fails is deleted (the loader decodes or embeds it again on next use) and named in
the returned list. The pages of the real-data experiments call it before their sweeps; a Dask worker keeps
its own cache (HEADCOUNT_CACHE on its machine), checked by the page that runs there.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from headcount.engine.store import cache_dir

DATA_SETS = ("cifar10", "msmarco")


def damage(path: Path) -> str | None:
    """Why an .npz cache file cannot be used, or None if every array in it reads back."""
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in z.files:
                z[name]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check(name: str) -> list[str]:
    """Verify the caches of data set `name` (one of DATA_SETS); delete the damaged ones. Returns one line per
    deleted file, naming it and what was wrong."""
    if name not in DATA_SETS:
        raise ValueError(f"data set must be one of {list(DATA_SETS)}; got {name!r}")
    out = []
    for path in sorted((cache_dir() / name).glob("*.npz")):
        why = damage(path)
        if why:
            path.unlink(missing_ok=True)
            out.append(f"{path}: damaged cache deleted, rebuilt on next use ({why})")
    return out
