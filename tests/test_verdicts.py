"""The regression guard: every verdict of the book, recomputed from the committed result bundle without
training, must equal the committed list data/verdicts/laptop.json (verdict, robustness over seeds and the key
numbers of its evidence, within the list's stated tolerance)."""

import json
import shutil

import pytest

from headcount import claims
from headcount.book import judging
from headcount.engine.store import COMMITTED_STORE, MissingRuns, ReadOnlyStore, seal

EXPECTED = json.loads(judging.verdicts_file("laptop").read_text())


@pytest.fixture(scope="module")
def committed():
    return judging.committed_verdicts("laptop")


@pytest.mark.integration
def test_every_committed_verdict_and_key_number_is_unchanged(committed):
    problems = judging.compare(EXPECTED, committed)
    assert not problems, ("verdicts recomputed from data/results differ from data/verdicts/laptop.json "
                          "(if the change is meant, run `headcount verdicts --update` and say why):\n" + "\n".join(problems))


@pytest.mark.integration
def test_the_committed_list_covers_every_page_that_judges_claims(committed):
    from headcount.registry import CLAIMS

    assert {c["claim"] for c in EXPECTED["claims"]} == set(CLAIMS)
    assert all(v.verdict in claims.VERDICTS for v in committed)


@pytest.mark.integration
def test_a_verdict_is_kept_with_each_seed_left_out_or_marked_uncertain(committed):
    """Re-judge every page on the committed runs with each seed left out; a verdict that changes must be the
    one marked robust=False (and shown as uncertain), every other one robust=True."""
    for stem in judging.judged_pages():
        mod = judging.page_module(stem)
        P = mod.SPEC.resolve(tier="laptop")
        ev = mod.evidence(P, ReadOnlyStore(COMMITTED_STORE))
        base = {v.claim_id: v.verdict for v in mod.judge(P, ev)}
        for v in (v for v in committed if v.page == stem):
            only = judging.claim_tables(mod, v.claim_id, ev)
            seeds = judging.evidence_seeds(ev if only is None else {k: ev[k] for k in only})
            flips = [s for s in seeds if len(seeds) > 1 and {w.claim_id: w.verdict for w in
                     mod.judge(P, judging.without_seed(ev, s, only))}[v.claim_id] != base[v.claim_id]]
            if len(seeds) < 2:
                assert v.robust is None, v.claim_id
            else:
                assert v.robust is (not flips), (v.claim_id, flips)


def _copy_bundle(tmp_path):
    dst = tmp_path / "results"
    shutil.copytree(COMMITTED_STORE, dst)
    return dst


@pytest.mark.integration
def test_the_guard_fails_on_a_committed_record_with_one_metric_changed(tmp_path):
    store = _copy_bundle(tmp_path)
    # the best seed of h = D = 4 at the shortest T decides the drop at h = D there (C15): make it 1000x worse
    def main_grid(c):
        return (c["h"], c["T"], c["D"], c["n"], c["N"], c["epochs"], c["n_layers"], c["task"]) == (
            4, 8, 4, 8, 32, 100, 1, "sum_of_max")

    runs = [(json.loads(p.read_text()), p) for p in sorted((store / "synthetic").glob("*/*.json"))]
    rec, rec_path = min(((r, p) for r, p in runs if main_grid(r["config"])), key=lambda rp: rp[0]["metrics"]["val_nmse"])
    rec["metrics"]["val_nmse"] *= 1000
    rec_path.write_text(json.dumps(rec))  # edited by hand: its digest no longer matches, so it is never served
    with pytest.raises(MissingRuns, match="no record for 1 of 60 runs"):
        judging.committed_verdicts("laptop", store=ReadOnlyStore(store), pages=["synthetic_heads"])
    rec_path.write_text(json.dumps(seal(rec)))  # as a recomputed bundle with that value would hold it
    vs = judging.committed_verdicts("laptop", store=ReadOnlyStore(store), pages=["synthetic_heads"])
    expected = {**EXPECTED, "claims": [c for c in EXPECTED["claims"] if c["page"] == "synthetic_heads"]}
    problems = judging.compare(expected, vs)
    assert any(p.startswith("C15") for p in problems), problems


@pytest.mark.integration
def test_a_bundle_that_no_longer_matches_the_store_keys_fails_loudly_without_training(tmp_path):
    store = _copy_bundle(tmp_path)
    # one record a laptop page reads (the bundle also holds paper-tier records, which these pages do not read)
    laptop_epochs = judging.page_module("synthetic_heads").SPEC.resolve(tier="laptop")["epochs"]
    used = [p for p in sorted((store / "synthetic").glob("*/*.json"))
            if json.loads(p.read_text())["config"].get("epochs") == laptop_epochs]
    used[0].unlink()
    with pytest.raises(MissingRuns, match="recompute the bundle"):
        judging.committed_verdicts("laptop", store=ReadOnlyStore(store),
                                   pages=["synthetic_heads", "ablation_width", "ablation_controls", "ablation_zoom_reversal"])


def test_compare_names_the_claim_of_each_difference():
    v = claims.judge("C15", "drop", [claims.core("drop", True, T8=143.9)])
    v.page = "synthetic_heads"
    exp = judging.snapshot([v], "laptop")
    assert judging.compare(exp, [v]) == []
    w = claims.judge("C15", "drop", [claims.core("drop", False, T8=9.0)])
    problems = judging.compare(exp, [w])
    assert any("C15: verdict changed" in p for p in problems) and any("C15: key number 'drop: T8'" in p for p in problems)
    x = claims.judge("C15", "drop", [claims.core("drop", True, T8=143.9 * (1 + 1e-9))])
    assert judging.compare(exp, [x]) == []


@pytest.mark.parametrize("tier", [t for t in ("smoke", "paper") if judging.verdicts_file(t).exists()])
def test_the_verdicts_of_each_variant_tier_are_unchanged(tier):
    """The pages the book shows again at another tier (nb/<tier>/ in the toc) are guarded like the laptop tier."""
    expected = json.loads(judging.verdicts_file(tier).read_text())
    got = judging.committed_verdicts(tier)
    assert got, f"data/verdicts/{tier}.json exists but no page of the book is shown at tier {tier}"
    problems = judging.compare(expected, got)
    assert not problems, "\n".join(problems)
