"""MS MARCO passage dev-small: 6,980 real queries, each with the text of one human-judged positive passage.

Files (<shared data>/msmarco-devsmall/, see ../shared/data/README.md):
    pairs.tsv     header `qid pid_if_unique all_qrel_pids query positive`, one row per query (tab-separated)
    queries.tsv   the official dev-small query list `qid<TAB>text` (6,980)
    qrels.txt     its judgments `qid 0 pid 1` (7,437)

`load_devsmall` checks every row against the official list and judgments: the query id is in the list and its
text is the official one; the judged passages (`all_qrel_pids`, comma-separated) are exactly the query's
judgments; `pid_if_unique` is given exactly when the query has one judged passage, and is that passage. Each
error names the file and line. The positive's text is stored by MS MARCO as `<title> <passage>`; the title
is `-` where the passage has none, and that `- ` is stripped (a real title cannot be told from the passage
text, so it is kept: the texts are "title and passage"). A passage judged for several queries has one id
where it is known; for the 390 queries with several judged passages the text is one of them, which one is
not known, so its id is `devsmall-q<qid>` (never equal to an official id).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from headcount.engine.realdata.msfiles import Collection, MsMarcoDataError, _read_id_text, _read_qrels, _tsv_rows
from headcount.engine.store import shared_data_dir

DEVSMALL_DIR = "msmarco-devsmall"
FILES = {"pairs": "pairs.tsv", "queries": "queries.tsv", "qrels": "qrels.txt"}
SHA256 = {
    "pairs.tsv": "5c084357363f855416799e9f909e15d3ca9c9d16b64552e12d97b5ced684ea26",
    "queries.tsv": "f4f71fa87b6be4fb968cca2b8f8554c4ebd003e6c3488af3ac1cc5629c3de189",
    "qrels.txt": "34ef51a24e049b3dd19b0a448b764f26b0def22ec42f421ecba2db91f82e7042",
}
COUNTS = {"queries": 6980, "unique_pid": 6590, "judgments": 7437}
HEADER = ("qid", "pid_if_unique", "all_qrel_pids", "query", "positive")
NO_TITLE = "- "


def devsmall_dir() -> Path:
    return shared_data_dir() / DEVSMALL_DIR


def _check_sha(path: Path) -> None:
    want = SHA256[path.name]
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != want:
        raise MsMarcoDataError(f"{path}: sha256 {got} differs from the published {want}; the copy is damaged "
                               "or another file (pass check_sha=False to read it anyway)")


def load_devsmall(root: str | os.PathLike | None = None, check_sha: bool | None = None) -> Collection:
    """The dev-small pairs as a Collection (queries, one positive passage per query, its judgment), checked
    against the official query list and judgments (see the module docstring). root defaults to <shared
    data>/msmarco-devsmall, whose published checksums are checked (check_sha=None); any other folder is only
    checked for consistency unless check_sha=True."""
    folder = Path(root) if root is not None else devsmall_dir()
    if not folder.is_dir():
        raise MsMarcoDataError(f"MS MARCO dev-small folder not found: {folder}. Point HEADCOUNT_DATA at the folder "
                               f"holding {DEVSMALL_DIR}/ (pairs.tsv, queries.tsv, qrels.txt).")
    paths = {k: folder / v for k, v in FILES.items()}
    for k, p in paths.items():
        if not p.is_file():
            raise MsMarcoDataError(f"dev-small {k} file not found: {p}")
    if check_sha if check_sha is not None else root is None:
        for p in paths.values():
            _check_sha(p)
    official = _read_id_text(paths["queries"], "official dev-small queries")
    judged = _read_qrels(paths["qrels"], official, what="official query list")
    queries: dict[str, str] = {}
    passages: dict[str, str] = {}
    qrels: dict[str, tuple[str, ...]] = {}
    also_judged: dict[str, tuple[str, ...]] = {}
    untitled = 0
    rows = _tsv_rows(paths["pairs"], HEADER, "dev-small pairs")
    first = next(rows, None)
    if first is None or tuple(first[1]) != HEADER:
        raise MsMarcoDataError(f"{paths['pairs']}:1: expected the header {' '.join(HEADER)}")
    for lineno, (qid, pid, all_pids, query, positive) in rows:
        where = f"{paths['pairs']}:{lineno}"
        if qid not in official:
            raise MsMarcoDataError(f"{where}: query id {qid!r} is not in the official query list {paths['queries']}")
        if qid in queries:
            raise MsMarcoDataError(f"{where}: query id {qid!r} appears twice")
        if query != official[qid].strip():
            raise MsMarcoDataError(f"{where}: the text of query {qid} differs from the official list")
        listed = [p for p in all_pids.split(",") if p]
        if sorted(listed) != sorted(judged.get(qid, [])):
            raise MsMarcoDataError(f"{where}: judged passages {listed} of query {qid} differ from the official "
                                   f"judgments {judged.get(qid, [])}")
        if (len(listed) == 1) != bool(pid) or (pid and pid != listed[0]):
            raise MsMarcoDataError(f"{where}: pid_if_unique {pid!r} must be the query's one judged passage "
                                   f"(given exactly when it has one; judged: {listed})")
        if not positive:
            raise MsMarcoDataError(f"{where}: the positive passage of query {qid} is empty")
        if positive.startswith(NO_TITLE):
            positive, untitled = positive[len(NO_TITLE):], untitled + 1
        key = pid or f"devsmall-q{qid}"
        queries[qid] = query
        passages.setdefault(key, positive)
        qrels[qid] = (key,)
        if len(listed) > 1:
            also_judged[qid] = tuple(listed)
    if len(queries) != len(official):
        missing = [q for q in official if q not in queries][:5]
        raise MsMarcoDataError(f"{paths['pairs']}: {len(queries)} queries, the official list has {len(official)} "
                               f"(missing e.g. {missing})")
    return Collection(queries=queries, passages=passages, qrels=qrels, judged=also_judged,
                      source=f"devsmall:{folder} ({untitled} untitled positives, their '- ' stripped)")
