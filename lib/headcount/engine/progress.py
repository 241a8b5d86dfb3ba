"""Progress of long computations, kept out of the rendered pages.

A notebook kernel forwards everything written to its own stderr into the page, so a progress bar drawn
there would end up in the book. The runner therefore names a file in the environment variable
HEADCOUNT_PROGRESS for every page it executes (`book/nb/.<page>.progress`, to follow with `tail -f`);
without it (a script, a terminal), progress goes to this process's stderr.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

from headcount.paths import env_path

PROGRESS_ENV = "HEADCOUNT_PROGRESS"


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool = True):
    """A tqdm bar on the channel described above (the file: appended, plain ASCII, redrawn at most every
    5 s); a bar that shows nothing when not enabled. Use as `with progress_bar(n, "what") as bar: bar.update()`."""
    if not enabled:
        yield _Silent()
        return
    from tqdm import tqdm

    dest = env_path(PROGRESS_ENV)
    log = open(dest, "a", encoding="utf-8") if dest else None  # noqa: SIM115 - closed below
    bar = tqdm(total=total, desc=desc, unit=unit, file=log or sys.__stderr__, mininterval=5 if log else 0.1,
               ascii=bool(log))
    try:
        yield bar
    finally:
        bar.close()
        if log is not None:
            log.write("\n")
            log.close()
