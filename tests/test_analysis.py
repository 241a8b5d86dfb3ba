"""The weighted reversal score, log-log fits and the transition check, on hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from headcount import analysis, claims
from headcount.paper import paper_table


def test_reversal_score_hand_cases():
    # increasing in T: no pair reverses
    assert analysis.reversal_score([1.0, 2.0, 3.0]) == 0.0
    # all equal (and a single T): defined as 0
    assert analysis.reversal_score([5.0, 5.0, 5.0]) == 0.0
    assert analysis.reversal_score({8: 0.3}) == 0.0
    # strictly decreasing, K = 3: every pair reverses; drops 1 + 2 + 1 = 4 over w = 2
    assert analysis.reversal_score([3.0, 2.0, 1.0]) == pytest.approx(2.0)
    # e = 4, 3, 2, 1: drops 1+2+3 + 1+2 + 1 = 10 over w = 3
    assert analysis.reversal_score([4.0, 3.0, 2.0, 1.0]) == pytest.approx(10 / 3)
    # one reversal: e = 1, 3, 2 -> only (T2, T3) drops by 1; w = 2
    assert analysis.reversal_score([1.0, 3.0, 2.0]) == pytest.approx(0.5)
    # scale invariance
    assert analysis.reversal_score([1e-6, 3e-6, 2e-6]) == pytest.approx(0.5)


def test_reversal_score_orders_mapping_and_series_by_T():
    # the dict is given out of order; sorted by T it is 1, 3, 2
    assert analysis.reversal_score({32: 2.0, 8: 1.0, 16: 3.0}) == pytest.approx(0.5)
    assert analysis.reversal_score(pd.Series([2.0, 1.0, 3.0], index=[32, 8, 16])) == pytest.approx(0.5)


def test_reversal_score_rejects_bad_input():
    with pytest.raises(ValueError):
        analysis.reversal_score([])
    with pytest.raises(ValueError):
        analysis.reversal_score([1.0, float("nan")])
    with pytest.raises(TypeError):
        analysis.reversal_score("123")


def test_reversal_scores_on_paper_table3_match_the_digest():
    t = paper_table("table3")
    r = analysis.reversal_scores(t, "h", "T", "nmse").set_index("h")["R"]
    assert [round(v, 2) for v in r.tolist()] == [0.0, 0.0, 0.0, 3.98, 4.17]


def test_reversal_scores_on_paper_table2_means_match_the_digest():
    t = paper_table("table2")
    r = analysis.reversal_scores(t, "h", "T", "nmse_mean").set_index("h")["R"]
    assert r[1] == 0.0 and r[2] == 0.0
    assert round(r[3], 2) == 0.06 and round(r[4], 1) == 5.3 and round(r[5], 1) == 4.5


def test_reversal_scores_refuse_duplicate_rows():
    df = pd.DataFrame({"h": [1, 1], "T": [8, 8], "err": [0.1, 0.2]})
    with pytest.raises(ValueError, match="reduce over seeds"):
        analysis.reversal_scores(df)
    with pytest.raises(ValueError, match="columns"):
        analysis.reversal_scores(df, err_col="nmse")


def test_loglog_fit_recovers_exact_power_laws():
    x = np.array([8, 16, 32, 64, 128])
    for p, c in [(-1.5, 3.0), (0.5, 1e-4), (0.0, 2.0)]:
        slope, intercept = analysis.loglog_fit(x, c * x**p)
        assert slope == pytest.approx(p, abs=1e-12) and intercept == pytest.approx(np.log10(c), abs=1e-12)
        assert analysis.loglog_r2(x, c * x**p) == pytest.approx(1.0)
    # a noisy curve has r2 < 1
    assert analysis.loglog_r2(x, x ** -1.0 * np.array([1, 3, 1, 3, 1])) < 0.99


def test_loglog_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        analysis.loglog_fit([1, 2], [1, 0])
    with pytest.raises(ValueError):
        analysis.loglog_fit([4, 4], [1, 2])
    with pytest.raises(ValueError):
        analysis.loglog_fit([1, 2, 3], [1, 2])


def summary_from(table: pd.DataFrame, col: str) -> pd.DataFrame:
    return table.rename(columns={col: "min"})[["h", "T", "min"]]


def test_transition_at_passes_on_paper_tables_and_fails_elsewhere():
    t3 = summary_from(paper_table("table3"), "nmse")
    v = analysis.transition_at(t3, 4, "C19", "fixed E")
    assert v.verdict == claims.REPRODUCED and v.numbers["drop >= 10x: T128"] == pytest.approx(4.77e-4 / 5.70e-7)
    # the same numbers do not put the transition at h = 3: the core fails
    assert analysis.transition_at(t3, 3, "C19", "fixed E").verdict == claims.NOT_REPRODUCED
    t4 = summary_from(paper_table("table4"), "nmse")
    assert analysis.transition_at(t4, 3, "C20", "D = 3").verdict == claims.REPRODUCED
    t5 = summary_from(paper_table("table5"), "nmse")
    assert analysis.transition_at(t5, 2, "C21", "two layers").verdict == claims.REPRODUCED
    assert analysis.transition_at(t5, 4, "C21", "two layers").verdict == claims.NOT_REPRODUCED


def test_transition_at_out_of_regime_when_the_grid_lacks_a_side():
    t5 = summary_from(paper_table("table5"), "nmse")
    v = analysis.transition_at(t5[t5["h"] >= 2], 2, "C21", "x")
    assert v.verdict == claims.NOT_TESTABLE and "h = 1" in v.out_of_regime
    assert analysis.transition_at(t5[t5["h"] != 2], 2, "C21", "x").verdict == claims.NOT_TESTABLE


def test_transition_at_core_size_and_location():
    # the largest drop is at h = 2 but only 3x: the size check (core) fails with factor 10, passes with 2
    s = pd.DataFrame({"h": [1, 2, 3], "T": [8, 8, 8], "min": [0.3, 0.1, 0.08]})
    assert analysis.transition_at(s, 2, "C19", "x").verdict == claims.NOT_REPRODUCED
    assert analysis.transition_at(s, 2, "C19", "x", factor=2.0).verdict == claims.REPRODUCED
    # a 20x drop at h = 2 but a 50x drop at h = 3: the location check (core) fails
    s = pd.DataFrame({"h": [1, 2, 3], "T": [8, 8, 8], "min": [1.0e-1, 5e-3, 1e-4]})
    v = analysis.transition_at(s, 2, "C19", "x")
    assert v.verdict == claims.NOT_REPRODUCED
    assert [c["passed"] for c in v.checks if c["role"] == claims.CORE] == [True, False]


def test_transition_at_supporting_and_chance():
    # a step at h = 2, but h = 3 climbs back to the h = 1 level: core passes, supporting fails
    s = pd.DataFrame({"h": [1, 2, 3], "T": [8, 8, 8], "min": [1e-2, 1e-4, 5e-3]})
    assert analysis.transition_at(s, 2, "C19", "x").verdict == claims.PARTIAL
    # no h above the transition: supporting has no evidence, the core decides
    s2 = s[s["h"] <= 2]
    assert analysis.transition_at(s2, 2, "C19", "x").verdict == claims.REPRODUCED
    # the predicted h at chance (NMSE near 1) at every T: no evidence, not testable
    s3 = pd.DataFrame({"h": [1, 2], "T": [8, 8], "min": [5.0, 0.97]})
    assert analysis.nmse_at_chance(0.97) and not analysis.nmse_at_chance(0.5)
    assert analysis.transition_at(s3, 2, "C19", "x").verdict == claims.NOT_TESTABLE
    # at chance at one T only: that T is left out, the other decides
    s4 = pd.concat([s3, pd.DataFrame({"h": [1, 2], "T": [16, 16], "min": [1e-2, 1e-4]})])
    v = analysis.transition_at(s4, 2, "C19", "x")
    assert v.verdict == claims.REPRODUCED and "at chance" in v.evidence


def R_table(values, h0=1):
    return pd.DataFrame({"h": list(range(h0, h0 + len(values))), "R": values, "n_T": 4})


def test_reversal_turns_positive_at():
    t3 = analysis.reversal_scores(paper_table("table3"), "h", "T", "nmse")
    assert analysis.reversal_turns_positive_at(t3, 4, "C22", "x").verdict == claims.REPRODUCED
    # at h = 3 Table 3 has R = 0: "positive at h_star" (core) fails
    assert analysis.reversal_turns_positive_at(t3, 3, "C22", "x").verdict == claims.NOT_REPRODUCED
    t2 = analysis.reversal_scores(paper_table("table2"), "h", "T", "nmse_mean")
    # the Table 2 means give R(3) = 0.06: not zero (core fails) unless a tolerance absorbs it
    assert analysis.reversal_turns_positive_at(t2, 4, "C22", "x").verdict == claims.NOT_REPRODUCED
    assert analysis.reversal_turns_positive_at(t2, 4, "C22", "x", tol=0.5).verdict == claims.REPRODUCED


def test_reversal_not_above_the_tolerance_at_D_is_not_reproduced():
    # our laptop numbers: R = 0, 0, 0, 0.02, 0.14 with tolerance 0.5: zero below, but not positive at D
    v = analysis.reversal_turns_positive_at(R_table([0.0, 0.0, 0.0, 0.02, 0.14]), 4, "C22", "x", tol=0.5)
    assert v.verdict == claims.NOT_REPRODUCED
    assert v.numbers["positive at h = 4: R4"] == pytest.approx(0.02)
    # positive at D but not after it: core passes, supporting fails
    assert analysis.reversal_turns_positive_at(R_table([0, 0, 0, 2.0, 0.1]), 4, "C22", "x", tol=0.5).verdict \
        == claims.PARTIAL
    # reversals below D: core fails even with R(D) positive
    assert analysis.reversal_turns_positive_at(R_table([1.0, 0, 0, 2.0, 2.0]), 4, "C22", "x", tol=0.5).verdict \
        == claims.NOT_REPRODUCED
    assert analysis.reversal_turns_positive_at(R_table([0, 0, 0, 2.0, 2.0]), 4, "C22", "x", tol=0.5).verdict \
        == claims.REPRODUCED


def test_reversal_out_of_regime_and_chance():
    # h = D missing from the grid, or nothing below it
    v = analysis.reversal_turns_positive_at(R_table([0, 0, 0, 2.0]), 5, "C22", "x")
    assert v.verdict == claims.NOT_TESTABLE and "h = 5" in v.out_of_regime
    assert analysis.reversal_turns_positive_at(R_table([2.0, 2.0], h0=4), 4, "C22", "x").verdict == claims.NOT_TESTABLE
    # one T only: R is 0 by definition
    one = R_table([0, 0, 0, 0]).assign(n_T=1)
    assert analysis.reversal_turns_positive_at(one, 4, "C22", "x").verdict == claims.NOT_TESTABLE
    # h = D at chance: no evidence for where R turns positive, so no core evidence: not testable
    v = analysis.reversal_turns_positive_at(R_table([0, 0, 0, 0.0, 2.0]), 4, "C22", "x", tol=0.5, no_evidence=[4])
    assert v.verdict == claims.NOT_TESTABLE and [c["passed"] for c in v.checks][:2] == [None, None]
    # an h below D at chance is left out of "zero below"
    v = analysis.reversal_turns_positive_at(R_table([3.0, 0, 0, 2.0, 2.0]), 4, "C22", "x", tol=0.5, no_evidence=[1])
    assert v.verdict == claims.REPRODUCED


def test_a_degenerate_lad_fit_picks_the_same_vertex_whatever_the_rounding():
    """Points on which a whole segment of parameters fits equally well: the fit returns the vertex of smallest
    norm among those within rounding of the best, so the answer does not depend on the processor's rounding."""
    from headcount.analysis import _lad

    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    y = np.array([0.0, 2.0, 1.0, 3.0])  # LAD optimum not unique
    theta, mae = _lad(X, y)
    for eps in (1e-15, -1e-15, 3e-15):
        t2, m2 = _lad(X, y + eps * np.array([1, -1, 1, -1]))
        assert np.allclose(t2, theta, atol=1e-9) and abs(m2 - mae) < 1e-12
