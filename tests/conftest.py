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


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"a unit test started {what}: mark it @pytest.mark.integration (see tests/conftest.py)")

    return refuse


@pytest.fixture(autouse=True)
def _unit_tests_start_no_kernel(request, monkeypatch):
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setattr("papermill.execute_notebook", _refuse("a papermill kernel"))
        monkeypatch.setattr("headcount.book.runner.ProcessPoolExecutor", _refuse("the runner's page processes"))
