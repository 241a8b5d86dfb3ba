"""The site's provenance footer and the repository configuration (book/_ext/provenance.py); the built site's
footer and source archive are checked in tests/test_book.py."""

import runpy
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
prov = runpy.run_path(str(REPO / "book" / "_ext" / "provenance.py"))


def test_no_repository_means_no_repository_or_launch_button():
    opts = prov["repository_options"]("", "main")
    assert opts == {"repository_url": "", "use_repository_button": False, "launch_buttons": {}}


def test_a_repository_turns_on_its_button_and_binder_and_colab():
    opts = prov["repository_options"]("https://github.com/o/headcount/", "pages")
    assert opts["repository_url"] == "https://github.com/o/headcount" and opts["repository_branch"] == "pages"
    assert opts["use_repository_button"] and opts["path_to_docs"] == "book"
    assert set(opts["launch_buttons"]) >= {"binderhub_url", "colab_url"}


def test_a_repository_that_is_not_a_web_address_is_refused_naming_the_value():
    with pytest.raises(ValueError, match=r"headcount_repository_url: 'git@github.com:o/h.git' is not an http\(s\) URL"):
        prov["repository_options"]("git@github.com:o/h.git", "main")


def test_the_footer_says_what_the_archive_holds():
    info = {"commit": "a" * 40, "uncommitted_changes": True, "date": "2026-12-02", "archive": "x.tar.gz"}
    html = prov["footer_html"](info, "../x.tar.gz")
    assert "from commit <code>aaaaaaaaaaaa</code> (the working tree had uncommitted changes; the archive holds the commit)" in html
    assert '<a href="../x.tar.gz">' in html
    assert "outside a git checkout" in prov["footer_html"]({**info, "commit": None}, None)


def test_the_archive_is_the_commit_itself(tmp_path):
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = prov["write_archive"](REPO, commit, tmp_path / "src.tar.gz")
    listed = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", commit], capture_output=True,
                            text=True).stdout.split()
    with tarfile.open(out) as tar:
        files = {n.split("/", 1)[1] for n in tar.getnames() if tar.getmember(n).isfile()}
    assert files == set(listed)
    assert not list(tmp_path.glob("*.part"))


def test_figures_are_numbered_per_chapter_across_parts():
    ext = runpy.run_path(str(REPO / "book" / "_ext" / "chapter_figures.py"))

    class Env:
        class config:
            root_doc = "intro"
        toctree_includes = {"intro": ["theory", "experiments", "nb/msmarco"],
                            "theory": ["nb/t1", "nb/t2"], "experiments": ["nb/s1"]}

    book = ext["chapters"](Env)
    assert book == [["theory", "nb/t1", "nb/t2"], ["experiments", "nb/s1"], ["nb/msmarco"]]
    glob = {"nb/t1": {"figure": {"a": (1,), "b": (2,)}}, "nb/t2": {"figure": {"c": (3,)}, "table": {"t": (1,)}},
            "nb/s1": {"figure": {"e": (5,), "d": (4,)}}, "nb/msmarco": {"figure": {"f": (6,)}},
            "intro": {"figure": {"g": (7,)}}}
    out = ext["renumber"](glob, book)
    assert out["nb/t1"]["figure"] == {"a": (1, 1), "b": (1, 2)} and out["nb/t2"]["figure"] == {"c": (1, 3)}
    assert out["nb/t2"]["table"] == {"t": (1, 1)}
    assert out["nb/s1"]["figure"] == {"d": (2, 1), "e": (2, 2)} and out["nb/msmarco"]["figure"] == {"f": (3, 1)}
    assert out["intro"]["figure"] == {"g": (7,)}  # outside every chapter: as Sphinx numbered it
