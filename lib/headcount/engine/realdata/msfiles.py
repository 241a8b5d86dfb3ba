"""The MS MARCO file formats every loader shares: the `Collection` a loader returns, and readers of
tab-separated id/text files and TREC qrels whose errors name the file and line (`MsMarcoDataError`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class MsMarcoDataError(ValueError):
    """A data file is missing, malformed or inconsistent (the message names the file and line)."""


@dataclass(frozen=True)
class Collection:
    """Queries, passages and relevance judgments. Dicts keep file order; ids are strings (MS MARCO ids)."""

    queries: dict[str, str]  # qid -> text
    passages: dict[str, str]  # pid -> text
    qrels: dict[str, tuple[str, ...]]  # qid -> judged relevant pids (file order); queries without one absent
    source: str
    negatives: dict[str, tuple[str, ...]] = field(default_factory=dict)  # given negatives (toy triplets only)
    # every passage judged relevant to a query where that is more than its positives in `qrels` (dev-small: the
    # official judgments of a query whose pair gives one of several); never mined as the query's negative
    judged: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"queries": len(self.queries), "passages": len(self.passages),
                "qrels": sum(len(v) for v in self.qrels.values())}


def _tsv_rows(path: Path, columns: tuple[str, ...], what: str):
    """(line number, stripped columns) of every non-blank line of a tab-separated file, each line checked to
    have exactly len(columns) columns and to be UTF-8 (the error names the file and line)."""
    for lineno, line in _lines(path, what):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(columns):
            raise MsMarcoDataError(f"{path}:{lineno}: expected {len(columns)} tab-separated columns "
                                   f"({', '.join(columns)}) in the {what} file, found {len(cols)}")
        yield lineno, [c.strip() for c in cols]


def _lines(path: Path, what: str):
    """(line number, text) of every line of a UTF-8 text file; a missing file or bytes that are not UTF-8
    raise MsMarcoDataError naming the file (and the line)."""
    if not path.is_file():
        raise MsMarcoDataError(f"{what} file not found: {path}")
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MsMarcoDataError(f"{path}:{lineno}: the {what} file is not UTF-8 (byte {exc.start} of the "
                                       f"line: {raw[exc.start:exc.start + 1]!r})") from None


def _read_id_text(path: Path, what: str) -> dict[str, str]:
    """A `id<TAB>text` file as an ordered dict; every line must have exactly two columns and a unique id."""
    out: dict[str, str] = {}
    for lineno, (key, text) in _tsv_rows(path, ("id", "text"), what):
        if not key:
            raise MsMarcoDataError(f"{path}:{lineno}: empty id in the {what} file")
        if key in out:
            raise MsMarcoDataError(f"{path}:{lineno}: {what} id {key!r} appears twice")
        out[key] = text
    if not out:
        raise MsMarcoDataError(f"{path}: the {what} file is empty")
    return out


def _read_qrels(path: Path, queries: dict, passages: dict | None = None,
                what: str = "queries file") -> dict[str, tuple[str, ...]]:
    """TREC qrels `qid iter pid relevance`; keeps relevance > 0, in file order. Every query id must be in
    `queries` (named `what` in the error) and, when `passages` is given, every passage id in it."""
    out: dict[str, list[str]] = {}
    for lineno, line in _lines(path, "qrels"):
        cols = line.split()
        if not cols:
            continue
        if len(cols) != 4:
            raise MsMarcoDataError(f"{path}:{lineno}: expected 4 columns (qid iter pid relevance), found "
                                   f"{len(cols)}")
        qid, _, pid, rel = cols
        try:
            rel_value = int(rel)
        except ValueError:
            raise MsMarcoDataError(f"{path}:{lineno}: relevance {rel!r} is not an integer") from None
        if qid not in queries:
            raise MsMarcoDataError(f"{path}:{lineno}: query id {qid!r} is not in the {what}")
        if passages is not None and pid not in passages:
            raise MsMarcoDataError(f"{path}:{lineno}: passage id {pid!r} is not in the collection")
        if rel_value > 0:
            out.setdefault(qid, []).append(pid)
    return {q: tuple(p) for q, p in out.items()}


