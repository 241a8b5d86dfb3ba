"""The suite's two tiers (markers registered in pyproject.toml, targets in the Makefile).

unit (`make test-unit`): every test not marked `integration`. It starts no papermill kernel, builds no book
with Sphinx and kills no process; the whole tier runs in under a minute on two cores.
integration (`make test-integration`): tests marked `@pytest.mark.integration`: the smoke book, Sphinx
builds, papermill runs, the regression guard over the committed bundle, killed processes.
slow (`make test-slow`): slow beyond both tiers; left out of both unless asked for.

A unit test that would start a page's kernel fails at once, saying which marker it lacks, instead of quietly
making the fast tier slow: papermill and the runner's page processes are refused outside the integration tier.
A unit test may still replace papermill by a stand-in of its own (its monkeypatch comes after this one).
"""

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module (as a page kernel runs): these tensors are tiny, and on a shared
    2-core machine a second thread spends its time waiting at barriers (the tests ran ~10x slower with two)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"a unit test started {what}: mark it @pytest.mark.integration (see tests/conftest.py)")

    return refuse


@pytest.fixture(autouse=True)
def _unit_tests_start_no_kernel(request, monkeypatch):
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setattr("papermill.execute_notebook", _refuse("a papermill kernel"))
        monkeypatch.setattr("headcount.book.runner.ProcessPoolExecutor", _refuse("the runner's page processes"))


# The book's build outputs are never a test's to write: a test that ran a page without pointing the ledger,
# the figures and the executed notebooks at a folder of its own would leave smoke results in the real book.
_BOOK_OUTPUTS = ("book/nb", "book/_claims", "book/_extra/figures", "book/_extra/source")


def _outputs_state():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    state = {}
    for rel in _BOOK_OUTPUTS:
        for p in sorted((repo / rel).rglob("*")) if (repo / rel).exists() else []:
            if p.is_file():
                st = p.stat()
                state[str(p.relative_to(repo))] = (st.st_size, st.st_mtime_ns)
    return state


def pytest_sessionstart(session):
    session.config._book_outputs = _outputs_state()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_book_outputs", None)
    if before is None:
        return
    after = _outputs_state()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        print(f"\nERROR: the tests wrote into the book's build outputs: {changed[:8]}"
              + (f" and {len(changed) - 8} more" if len(changed) > 8 else ""))
        session.exitstatus = 1
