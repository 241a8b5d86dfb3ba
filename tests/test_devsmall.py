"""The MS MARCO dev-small loader on the real files, and on damaged copies (each a clear error)."""

from __future__ import annotations

import shutil

import pytest

from headcount.engine.realdata import devsmall
from headcount.engine.realdata.msmarco import MsMarcoDataError

REAL = devsmall.devsmall_dir()
needs_data = pytest.mark.skipif(not REAL.is_dir(), reason="the dev-small copy is not available")


@needs_data
def test_the_real_files_load_with_the_published_counts():
    c = devsmall.load_devsmall()
    assert c.counts() == {"queries": 6980, "passages": 6978, "qrels": 6980}
    assert sum(p.startswith("devsmall-q") for p in c.passages) == 390  # several judged passages: id unknown
    assert c.queries["300674"] == "how many years did william bradford serve as governor of plymouth colony?"
    assert c.qrels["300674"] == ("7067032",)
    assert c.passages["7067032"].startswith("William Bradford, Governor of Plymouth Colony")
    assert c.passages[c.qrels["125705"][0]].startswith("Adjective[edit] preventive")  # the '- ' title stripped
    assert "1935 untitled positives" in c.source


@pytest.fixture
def copy(tmp_path):
    if not REAL.is_dir():
        pytest.skip("the dev-small copy is not available")
    dst = tmp_path / "devsmall"
    shutil.copytree(REAL, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def _edit(path, line_no: int, fn):
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line_no - 1] = fn(lines[line_no - 1])
    path.write_text("\n".join(lines), encoding="utf-8")


CASES = {
    "missing file": (lambda d: (d / "qrels.txt").unlink(), "dev-small qrels file not found"),
    "wrong column count": (lambda d: _edit(d / "pairs.tsv", 3, lambda s: s + "\textra"),
                           "pairs.tsv:3: expected 5 tab-separated columns"),
    "query id not in the list": (lambda d: _edit(d / "pairs.tsv", 2, lambda s: "999999999" + s[s.index("\t"):]),
                                 "pairs.tsv:2: query id '999999999' is not in the official query list"),
    "query text changed": (lambda d: _edit(d / "pairs.tsv", 2, lambda s: s.replace("william", "walter")),
                           "pairs.tsv:2: the text of query 300674 differs"),
    "judgment changed": (lambda d: _edit(d / "pairs.tsv", 2, lambda s: s.replace("\t7067032\t7067032\t", "\t7067032\t7067033\t")),
                         "differ from the official judgments"),
    "header changed": (lambda d: _edit(d / "pairs.tsv", 1, lambda s: s.replace("positive", "passage")),
                       "pairs.tsv:1: expected the header"),
    "row removed": (lambda d: _edit(d / "pairs.tsv", 5, lambda s: ""), "6979 queries, the official list has 6980"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_copy_is_a_clear_error_naming_the_file(copy, case):
    damage, message = CASES[case]
    damage(copy)
    with pytest.raises(MsMarcoDataError, match=message.replace("(", r"\(").replace("[", r"\[")):
        devsmall.load_devsmall(copy)


def test_the_published_checksum_is_checked_when_asked(copy):
    _edit(copy / "pairs.tsv", 2, lambda s: s + " ")
    with pytest.raises(MsMarcoDataError, match="sha256 .* differs from the published"):
        devsmall.load_devsmall(copy, check_sha=True)


def test_a_missing_folder_says_where_to_point(tmp_path):
    with pytest.raises(MsMarcoDataError, match="dev-small folder not found: .*HEADCOUNT_DATA"):
        devsmall.load_devsmall(tmp_path / "nowhere")
