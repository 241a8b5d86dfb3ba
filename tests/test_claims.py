"""The verdict layer: the grading rule, the claim registry, the ledger and the claims page built from it."""

import json

import pandas as pd
import pytest

from headcount import claims, registry
from headcount.book import judging
from headcount.book.pages import claims as page

C, S = claims.core, claims.supporting


@pytest.mark.parametrize("checks, kind, regime, want", [
    ([C("a", True), S("b", True)], claims.EXPERIMENT, None, claims.REPRODUCED),
    ([C("a", True), S("b", False)], claims.EXPERIMENT, None, claims.PARTIAL),
    # a supporting check passing never rescues a failed core
    ([C("a", False), S("b", True), S("c", True)], claims.EXPERIMENT, None, claims.NOT_REPRODUCED),
    ([C("a", True), C("b", False)], claims.EXPERIMENT, None, claims.NOT_REPRODUCED),
    # at chance level: no evidence; a core with no evidence at all is not testable
    ([C("a", None), S("b", True)], claims.EXPERIMENT, None, claims.NOT_TESTABLE),
    ([C("a", None), C("b", True)], claims.EXPERIMENT, None, claims.REPRODUCED),
    ([C("a", None), C("b", False)], claims.EXPERIMENT, None, claims.NOT_REPRODUCED),
    ([], claims.EXPERIMENT, None, claims.NOT_TESTABLE),
    # out of the tier's regime: not testable, whatever was computed
    ([C("a", False)], claims.EXPERIMENT, "the grid stops at h = 8", claims.NOT_TESTABLE),
    ([C("a", True)], claims.THEOREM, None, claims.PROOF_CHECKED),
    ([C("a", True), S("b", False)], claims.THEOREM, None, claims.PARTIAL),
    ([C("a", False)], claims.THEOREM, None, claims.NOT_REPRODUCED),
    ([], claims.PROOF, None, claims.PROOF_ONLY),
])
def test_grading_rule(checks, kind, regime, want):
    assert claims.grade(checks, kind, regime) == want


def test_a_check_names_its_role_and_numbers():
    with pytest.raises(ValueError, match="role"):
        claims.Check("a", True, role="main")
    with pytest.raises(ValueError, match="number"):
        claims.core("a", True, ratio="large")
    assert claims.core("a", 1, ratio=3).passed is True


def test_chance_level():
    assert claims.at_chance(0.126, 1 / 8, 0.25)  # h = 1 on MS MARCO at T = 8
    assert claims.at_chance(0.013, 1 / 64, 0.25)
    assert not claims.at_chance(0.688, 1 / 8, 0.25)


def test_judge_takes_kind_page_and_statement_from_the_registry():
    v = claims.judge("C15", "drop >= 10x", [C("drop", True, "T=8: 143.9x", T8=143.9)])
    assert (v.verdict, v.page) == (claims.REPRODUCED, "synthetic_heads")
    assert v.numbers == {"drop: T8": 143.9}
    assert claims.judge("C2", "identities", [C("U", True)]).verdict == claims.PROOF_CHECKED
    assert claims.proof_only("C29", "tightness", "a statement about all networks").verdict == claims.PROOF_ONLY
    with pytest.raises(ValueError, match="not in the registry"):
        claims.judge("C99", "x", [C("a", True)])
    v = claims.judge("C26b", "flat for h >= 10", [C("flat", True)], out_of_regime="the grid stops at h = 8")
    assert v.verdict == claims.NOT_TESTABLE and "the grid stops at h = 8" in v.evidence


def test_record_refuses_a_claim_of_another_page(tmp_path):
    v = claims.judge("C15", "drop", [C("drop", True)])
    with pytest.raises(ValueError, match="synthetic_heads"):
        claims.record("msmarco", [v], tmp_path)
    p = claims.record("synthetic_heads", [v], tmp_path)
    assert json.loads(p.read_text())[0]["verdict"] == claims.REPRODUCED
    assert not list(tmp_path.glob("*.tmp"))


def test_robustness_marks_a_verdict_that_leaving_a_seed_out_changes():
    df = pd.DataFrame({"seed": [0, 1, 2], "x": [5.0, 5.0, 4.0]})

    def judge_fn(ev):  # reproduced when the mean of x is above 3
        return [claims.judge("C15", "mean > 3", [C("mean", float(ev["runs"]["x"].mean()) > 3)])]

    ev = {"runs": df}
    vs = claims.robustness(judge_fn(ev), judge_fn, [0, 1, 2], lambda s: judging.without_seed(ev, s))
    assert vs[0].verdict == claims.REPRODUCED and vs[0].robust is True  # leave-one-out means 4.5, 4.5, 5
    ev = {"runs": pd.DataFrame({"seed": [0, 1, 2], "x": [9.0, 0.5, 0.5]})}
    vs = claims.robustness(judge_fn(ev), judge_fn, [0, 1, 2], lambda s: judging.without_seed(ev, s))
    assert vs[0].robust is False and "seed 0 left out: not reproduced" in vs[0].robustness
    assert vs[0].shown == "reproduced (uncertain)"
    one = claims.robustness(judge_fn(ev), judge_fn, [0], lambda s: ev)
    assert one[0].robust is None


def test_every_registered_claim_belongs_to_a_page_of_the_book_and_its_anchor_exists():
    from headcount.book.runner import NOTEBOOKS, book_notebooks

    pages = set(book_notebooks())
    for c in registry.CLAIMS.values():
        assert c.page in pages, c
        text = (NOTEBOOKS / f"{c.page}.py").read_text()
        assert f"({c.anchor})=" in text or f":name: {c.anchor}" in text, f"{c.id}: no label {c.anchor} on {c.page}"


def test_registry_covers_the_digest_claims_once():
    numbers = sorted({registry.base_number(c) for c in registry.CLAIMS})
    assert numbers == list(range(1, 31))
    assert registry.order_key("C2") < registry.order_key("C10") < registry.order_key("C99")


def test_markdown_escapes_emphasis_outside_math():
    text = claims.escape_markdown("z~_i - min_{S_i} * x and $\\min_{S_i}$")
    assert text == "z~\\_i - min\\_{S\\_i} \\* x and $\\min_{S_i}$"


def _ledger(tmp_path, rows):
    for pg, vs in rows.items():
        claims.record(pg, vs, tmp_path)
    return page.ledger_table(tmp_path, pages=list(rows))


def test_claims_page_lists_every_registered_claim_with_its_anchor_and_counts_from_its_rows(tmp_path):
    vs = [claims.judge("C15", "drop", [C("drop", True)]), claims.judge("C16a", "grows", [C("grows", False)])]
    for v in vs:
        v.tier = "laptop"
    vs[0].robust, vs[0].robustness = False, "seed 1 left out: not reproduced"
    df = _ledger(tmp_path, {"synthetic_heads": vs})
    assert list(df["claim"]) == list(registry.CLAIMS)
    counts = page.counts(df)
    assert counts["reproduced (uncertain)"] == 1 and counts[claims.NOT_REPRODUCED] == 1
    assert counts[page.NOT_COVERED] == len(registry.CLAIMS) - 2
    assert sum(counts.values()) == len(df)
    md = page.markdown(df)
    assert "(c15)=" in md and "### C15: reproduced (uncertain)" in md and "{ref}`evidence on its page <fig-synthetic-heads-nmse>`" in md
    assert "(c17b)=" in md
    assert "{ref}`C16a <c16a>`" in page.overview(df)
    assert "experiments (" in page.summary(df) and "theory (" in page.summary(df)


def test_a_ledger_of_an_unregistered_claim_is_refused(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps([{"claim_id": "C99", "test": "", "verdict": "reproduced",
                                                  "evidence": "", "page": "x"}]))
    with pytest.raises(ValueError, match="C99"):
        page.ledger_table(tmp_path, pages=["x"])
