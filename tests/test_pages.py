"""A page is declared once: its spec is the only list of its parameters, and what its `evidence` reads from the
store is exactly what `sweeps(P)` declares (what the runner plans, the page cache fingerprints and `status`
counts), so they cannot drift."""

import pytest

from headcount.book.pages import book_notebooks, page_module, planned_runs
from headcount.engine.store import COMMITTED_STORE, ReadOnlyStore

pytestmark = pytest.mark.integration


class RecordingStore(ReadOnlyStore):
    def __init__(self, root):
        super().__init__(root)
        self.read: set = set()

    def get(self, experiment, key):
        self.read.add((experiment, key))
        return super().get(experiment, key)


@pytest.mark.parametrize("stem", [s for s in book_notebooks() if hasattr(page_module(s), "evidence")])
def test_a_page_reads_exactly_the_runs_its_sweeps_declare(stem):
    mod = page_module(stem)
    P = mod.SPEC.resolve(tier="laptop")
    store = RecordingStore(COMMITTED_STORE)
    mod.evidence(P, store)
    assert store.read == planned_runs(stem, {"tier": "laptop"})


@pytest.mark.parametrize("stem", book_notebooks())
def test_a_notebooks_parameters_cell_sets_only_the_tier(stem):
    import jupytext

    from headcount.book.pages import notebook_path
    from headcount.book.runner import parameter_names

    assert parameter_names(jupytext.read(notebook_path(stem))) == ["tier"]
