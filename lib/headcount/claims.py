"""The paper's claims as named, executable checks with verdicts computed from numbers.

A check function takes the evidence (numbers, usually a tidy DataFrame) and returns a Verdict. Pages
evaluate their claims and `record()` them into a claims ledger (one JSON file per page, written
atomically), from which the book's claims page is built. A check must be able to fail: the tests feed
each one numbers that contradict the claim.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .pagecache import note_written

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
PARTIAL = "partly reproduced"
NOT_TESTED = "not tested at this tier"
NOT_CHECKABLE = "proof only: not checkable by computation"  # statements about all networks, or open conjectures
VERDICTS = (REPRODUCED, PARTIAL, NOT_REPRODUCED, NOT_TESTED, NOT_CHECKABLE)


@dataclass
class Verdict:
    claim_id: str  # the digest's number where there is one, e.g. "C15"
    statement: str  # the claim, in one line
    verdict: str  # one of VERDICTS
    evidence: str  # the numbers that decided it, in words
    page: str = ""  # the page (docname) that holds the evidence
    tier: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def verdict_from(passed: bool | list[bool]) -> str:
    """reproduced if every sub-check passes, not reproduced if none does, partly otherwise."""
    flags = [passed] if isinstance(passed, bool) else list(passed)
    if not flags:
        return NOT_TESTED
    if all(flags):
        return REPRODUCED
    return NOT_REPRODUCED if not any(flags) else PARTIAL


def ledger_dir() -> Path:
    """Where pages record their verdicts (HEADCOUNT_CLAIMS_DIR, default <repo>/book/_claims)."""
    env = os.environ.get("HEADCOUNT_CLAIMS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "book" / "_claims"


def record(page: str, verdicts: list[Verdict], directory: str | os.PathLike | None = None) -> Path:
    """Replace the ledger entry of one page with these verdicts (atomic write)."""
    d = Path(directory) if directory is not None else ledger_dir()
    d.mkdir(parents=True, exist_ok=True)
    for v in verdicts:
        v.page = v.page or page
    p = d / f"{page}.json"
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump([v.to_dict() for v in verdicts], fh, indent=1)
    os.replace(tmp, p)
    note_written(p)
    return p


def load_all(directory: str | os.PathLike | None = None) -> list[dict]:
    """Every recorded verdict, sorted by claim id."""
    d = Path(directory) if directory is not None else ledger_dir()
    out = []
    for p in sorted(d.glob("*.json")):
        out.extend(json.loads(p.read_text()))

    def order(v):
        cid = v["claim_id"]
        num = "".join(ch for ch in cid if ch.isdigit())
        return (cid.rstrip("0123456789."), int(num) if num else 0, cid)

    return sorted(out, key=order)


def markdown_table(verdicts: list[Verdict | dict]) -> str:
    rows = ["| claim | statement | verdict | evidence |", "|---|---|---|---|"]
    for v in verdicts:
        v = v.to_dict() if isinstance(v, Verdict) else v
        cells = [v["claim_id"], v["statement"], f"**{v['verdict']}**", v["evidence"]]
        rows.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")  # a '|' would end the cell
    return "\n".join(rows)
