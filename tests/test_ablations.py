"""The synthetic ablation pages: parameter specs, run grids (and their sharing with the head-count page),
and the claim checks C17-C22, each fed numbers that agree with the claim and numbers that contradict it."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from headcount import claims  # noqa: E402
from headcount.book.pages import ablation_controls as controls  # noqa: E402
from headcount.book.pages import ablation_width as width  # noqa: E402
from headcount.book.pages import ablation_zoom_reversal as zoom  # noqa: E402
from headcount.book.pages import synthetic_heads  # noqa: E402
from headcount.paper import paper_table  # noqa: E402
from headcount.engine.store import canonical_json  # noqa: E402


# ---------------------------------------------------------------- parameter specs

@pytest.mark.parametrize("spec", [width.SPEC, controls.SPEC, zoom.SPEC])
def test_every_tier_resolves(spec):
    for tier in ("smoke", "laptop", "paper"):
        P = spec.resolve(tier)
        assert P["tier"] == tier


@pytest.mark.parametrize("given, match", [
    (dict(h_grid=[1, 2, 3]), "h_grid must contain"),  # no h = D = 4
    (dict(D=6), "h_grid must contain"),  # the default grid stops below D
    (dict(N_grid=[32]), "at least two values"),
    (dict(N_grid=[8, 8]), "repeat"),
    (dict(D=0), "'D'"),
    (dict(T_grid=[]), "empty"),
    (dict(engine="gpu"), "'engine'"),
    (dict(r2_min=-1.0), "'r2_min'"),
    (dict(floor_factor=0.5), "'floor_factor'"),
    (dict(heads=[1]), "unknown parameter"),
])
def test_width_spec_rejects_bad_values(given, match):
    with pytest.raises(ValueError, match=match):
        width.SPEC.resolve("laptop", **given)


def test_width_spec_follows_D():
    P = width.SPEC.resolve("laptop", D=3, h_grid=[2, 3])
    assert P["D"] == 3 and P["h_grid"] == [2, 3]


@pytest.mark.parametrize("given, match", [
    (dict(h_grid=[1, 2, 4, 5]), "h_grid must contain 3 and 4"),
    (dict(D_other=6), "h_grid_other must contain 5 and 6"),
    (dict(h_grid_other=[1, 3]), "h_grid_other must contain 2 and 3"),
    (dict(h_grid_depth=[2, 3]), "h_grid_depth must contain 1 and 2"),
    (dict(L=3, h_grid_depth=[1, 3]), "h_grid_depth must contain 1 and 2"),  # ceil(4/3) = 2
    (dict(L=1), "'L'"),
    (dict(E=0), "'E'"),
    (dict(seeds_depth=[-1]), "'seeds_depth'"),
    (dict(factor=0.5), "'factor'"),
])
def test_controls_spec_rejects_bad_values(given, match):
    with pytest.raises(ValueError, match=match):
        controls.SPEC.resolve("laptop", **given)


@pytest.mark.parametrize("given, match", [
    (dict(reversal_tol=-0.1), "'reversal_tol'"),
    (dict(seeds=[0, 0]), "repeat"),
    (dict(h_grid="1,2"), "'h_grid'"),
])
def test_zoom_spec_rejects_bad_values(given, match):
    with pytest.raises(ValueError, match=match):
        zoom.SPEC.resolve("laptop", **given)


# ---------------------------------------------------------------- run grids

def test_training_settings_match_the_head_count_page():
    for tier in ("smoke", "laptop", "paper"):
        main = synthetic_heads.SPEC.tiers[tier]
        for spec in (width.SPEC, controls.SPEC, zoom.SPEC):
            for k in ("epochs", "lr", "batch_size", "n_train", "n_val", "data_seed", "D", "d", "a_seed"):
                assert spec.tiers[tier][k] == main[k], (spec.notebook, tier, k)


def test_width_runs_at_N32_are_head_count_runs():
    """The width sweep's N = 32 configurations are configurations the head-count page also trains."""
    main = {canonical_json(c) for c in synthetic_heads.run_configs(synthetic_heads.SPEC.resolve("laptop"))}
    cs = width.run_configs(width.SPEC.resolve("laptop"))
    at32 = [c for c in cs if c["N"] == 32]
    assert at32 and all(canonical_json(c) in main for c in at32)
    assert {c["N"] for c in cs} == set(width.SPEC.tiers["laptop"]["N_grid"])


def test_controls_grids():
    P = controls.SPEC.resolve("laptop")
    fe = controls.run_configs(P, "fixed_E")
    assert all(c["n"] == math.ceil(P["E"] / c["h"]) and c["n_layers"] == 1 for c in fe)
    main = {canonical_json(c) for c in synthetic_heads.run_configs(synthetic_heads.SPEC.resolve("laptop"))}
    assert any(canonical_json(c) in main for c in fe)  # h = 4, n = 8 is shared
    od = controls.run_configs(P, "other_D")
    assert {(c["D"], c["d"]) for c in od} == {(P["D_other"], P["d_other"])}
    assert {c["h"] for c in od} == set(P["h_grid_other"])
    dp = controls.run_configs(P, "depth")
    assert {c["n_layers"] for c in dp} == {P["L"]} and {c["T"] for c in dp} == set(P["T_grid_depth"])
    assert {c["seed"] for c in dp} == set(P["seeds_depth"])
    with pytest.raises(ValueError, match="section"):
        controls.run_configs(P, "width")
    assert len(controls.sweeps(P)) == 3


def test_transition_follows_D_and_L():
    assert controls.transition_h(4, 1) == 4 and controls.transition_h(4, 2) == 2 and controls.transition_h(5, 2) == 3
    P = controls.SPEC.resolve("laptop", D=5, D_other=2, h_grid=[1, 2, 3, 4, 5], h_grid_other=[1, 2], h_grid_depth=[2, 3])
    assert controls.h_star(P, "fixed_E") == 5 and controls.h_star(P, "other_D") == 2 and controls.h_star(P, "depth") == 3
    # the paper's numbers only where the page runs the paper's setting
    assert controls.paper_values(P, "fixed_E") is None and controls.paper_values(P, "depth") is None
    P4 = controls.SPEC.resolve("laptop")
    for section, table in (("fixed_E", "table3"), ("other_D", "table4"), ("depth", "table5")):
        pd.testing.assert_frame_equal(controls.paper_values(P4, section), paper_table(table))
    # Table 4's token width is not stated: any d_other is compared; another D_other is not
    pd.testing.assert_frame_equal(controls.paper_values(controls.SPEC.resolve("laptop", d_other=6), "other_D"),
                                  paper_table("table4"))
    assert controls.paper_values(controls.SPEC.resolve("laptop", D_other=2, h_grid_other=[1, 2]), "other_D") is None


# ---------------------------------------------------------------- C17: width

def width_summary(D=4, hs=(1, 2, 3, 4), Ts=(8, 32), Ns=(8, 16, 32), b=1.0, t_exp=0.5, floor=1e-6, floor_slope=0.0):
    """h < D: err = 0.1 * 2^-h * T^t_exp * N^-b (a power law, higher for longer T); h >= D: floor * N^floor_slope."""
    rows = []
    for h in hs:
        for T in Ts:
            for N in Ns:
                v = 0.1 * 2.0 ** -h * T**t_exp * N**-b if h < D else floor * (N / Ns[0]) ** floor_slope
                rows.append(dict(h=h, T=T, N=N, min=v, mean=v, std=0.0, seeds=1))
    return pd.DataFrame(rows)


def width_runs(**kw):
    """Two seeds of width_summary: seed 1 is seed 0 times 1.2 (the min over seeds is seed 0)."""
    s = width_summary(**kw)
    rows = [dict(h=r.h, T=r.T, N=r.N, seed=k, val_nmse=r.min * f) for r in s.itertuples() for k, f in ((0, 1.0), (1, 1.2))]
    return pd.DataFrame(rows)


def width_judge(runs, **given):
    P = width.SPEC.resolve("laptop", **given)
    return {v.claim_id: v for v in width.judge(P, {"runs": runs})}


def test_width_checks_pass_on_agreeing_numbers():
    vs = width_judge(width_runs())
    assert [vs[c].verdict for c in ("C17a", "C17b", "C17c")] == [claims.REPRODUCED] * 3
    assert vs["C17a"].numbers["falls as a power of N: h1"] == pytest.approx(-1.0)
    # the paper's "slightly rising" h = D also counts as flat
    assert width_judge(width_runs(floor_slope=0.1))["C17c"].verdict == claims.REPRODUCED
    f = width.fits(width_summary()).set_index(["h", "T"])
    assert f.loc[(1, 8), "slope"] == pytest.approx(-1.0) and f.loc[(1, 8), "r2"] == pytest.approx(1.0)


def test_C17a_core_and_supporting():
    s = width_summary()
    # error growing with N, or falling by less than the margin: core fails
    assert width.power_law(width_summary(b=-1.0), 4, 0.1, 0.8).verdict == claims.NOT_REPRODUCED
    assert width.power_law(width_summary(b=0.05), 4, 0.1, 0.8).verdict == claims.NOT_REPRODUCED
    assert width.power_law(width_summary(b=0.05), 4, 0.01, 0.8).verdict == claims.REPRODUCED
    # a jagged, non-linear dependence on N that still falls overall: the core passes, R^2 (supporting) fails
    j = s.copy()
    j.loc[j["N"] == 16, "min"] *= 3
    v = width.power_law(j, 4, 0.1, 0.8)
    assert v.verdict == claims.PARTIAL and v.numbers["falls as a power of N: h1"] == pytest.approx(-1.0)
    # one seed's own line rises: supporting fails
    r = width_runs()
    r.loc[(r["seed"] == 1) & (r["h"] == 1) & (r["T"] == 8), "val_nmse"] = [0.01, 0.02, 0.03]
    assert width.power_law(s, 4, 0.1, 0.8, runs=r).verdict == claims.PARTIAL


def test_C17a_out_of_regime_and_two_N():
    # two N: the core (slope) decides, R^2 is no evidence
    v = width.power_law(width_summary(Ns=(8, 16)), 4, 0.1, 0.8)
    assert v.verdict == claims.REPRODUCED and "R² not informative" in v.evidence
    v = width.power_law(width_summary(Ns=(8,)), 4, 0.1, 0.8)
    assert v.verdict == claims.NOT_TESTABLE and "two N" in v.out_of_regime
    assert width.power_law(width_summary(hs=(4,)), 4, 0.1, 0.8).verdict == claims.NOT_TESTABLE
    # every series at chance: no evidence
    c = width_summary()
    c.loc[c["h"] < 4, "min"] = 0.99
    assert width.power_law(c, 4, 0.1, 0.8).verdict == claims.NOT_TESTABLE


def test_C17b_core_supporting_regime():
    assert width.longer_T_needs_larger_N(width_summary(t_exp=-0.5), 4, 0.1).verdict == claims.NOT_REPRODUCED
    # longer T higher by x1.05 only (t_exp small): within the margin, core fails
    assert width.longer_T_needs_larger_N(width_summary(t_exp=0.03), 4, 0.1).verdict == claims.NOT_REPRODUCED
    # higher on the fitted line but not at one N: supporting fails
    s = width_summary()
    s.loc[(s["h"] == 1) & (s["T"] == 32) & (s["N"] == 32), "min"] /= 3
    assert width.longer_T_needs_larger_N(s, 4, 0.1).verdict == claims.PARTIAL
    v = width.longer_T_needs_larger_N(width_summary(Ts=(8,)), 4, 0.1)
    assert v.verdict == claims.NOT_TESTABLE and "two T" in v.out_of_regime.replace("2 T", "two T")


def test_C17c_core_and_regime():
    # h = D falls as steeply as h < D: flat fails
    assert width.flat_at_D(width_summary(floor=1e-4, floor_slope=-1.0), 4, 0.5, 10.0).verdict == claims.NOT_REPRODUCED
    # h = D no better than h = D-1: floor fails
    assert width.flat_at_D(width_summary(floor=1e-2), 4, 0.5, 10.0).verdict == claims.NOT_REPRODUCED
    # h = D at chance (NMSE near 1): no evidence
    assert width.flat_at_D(width_summary(floor=1.0), 4, 0.5, 10.0).verdict == claims.NOT_TESTABLE
    s = width_summary(D=3, hs=(1, 2, 3))
    assert width.flat_at_D(s, 3, 0.5, 10.0).verdict == claims.REPRODUCED
    v = width.flat_at_D(s, 4, 0.5, 10.0)
    assert v.verdict == claims.NOT_TESTABLE and "h = 4" in v.out_of_regime


def test_width_judge_with_a_seed_left_out():
    from headcount.book import judging

    P = width.SPEC.resolve("laptop")
    vs = judging.page_verdicts("ablation_width", P, {"runs": width_runs()})
    assert all(v.robust for v in vs)


# ---------------------------------------------------------------- C19-C21: controls

def as_summary(table: pd.DataFrame) -> pd.DataFrame:
    return table.rename(columns={"nmse": "min"}).assign(mean=lambda t: t["min"], std=0.0, seeds=1)


@pytest.mark.parametrize("section, table", [("fixed_E", "table3"), ("other_D", "table4"), ("depth", "table5")])
def test_controls_verdicts_on_the_papers_tables(section, table):
    P = controls.SPEC.resolve("paper")
    s = as_summary(paper_table(table))
    v = controls.verdict(s, P, section)
    assert v.verdict == claims.REPRODUCED and v.claim_id == {"fixed_E": "C19", "other_D": "C20", "depth": "C21"}[section]


def test_controls_verdicts_fail_on_contradicting_numbers():
    P = controls.SPEC.resolve("paper")
    # Table 3's numbers judged as a D = 3 task: the big drop is at h = 4, not 3
    assert controls.verdict(as_summary(paper_table("table3")), P, "other_D").verdict == claims.NOT_REPRODUCED
    # a smooth decline with no jump anywhere
    smooth = pd.DataFrame([dict(h=h, T=T, min=0.1 / 2**h) for h in range(1, 6) for T in (8, 32)])
    for section in controls.SECTIONS:
        assert controls.verdict(as_summary(smooth.rename(columns={"min": "nmse"})), P, section).verdict \
            == claims.NOT_REPRODUCED


def test_controls_tables_and_figure():
    P = controls.SPEC.resolve("laptop")
    s = as_summary(paper_table("table3"))
    paper = controls.paper_values(P, "fixed_E")
    side = controls.side_by_side(s, paper, {h: math.ceil(32 / h) for h in range(1, 6)})
    assert (side["ours_min"] == side["paper"]).all() and side.loc[side["h"] == 3, "n"].eq(11).all()
    r = controls.ratio_table(s, paper, 4)
    assert r["step"].str.contains("predicted").sum() == 5
    fig = controls.figure(s, paper, [(4, "h = D"), (2, "L h = D")], "the title", "Table 3")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:5] == [f"ours, min over seeds, T={T}" for T in (8, 16, 32, 64, 128)]
    assert labels[5] == "paper Table 3 (as printed), T=8"
    vlines = [line for line in ax.get_lines() if line.get_label().startswith("_") and len(set(line.get_xdata())) == 1]
    assert sorted(line.get_xdata()[0] for line in vlines) == [2, 4]
    assert ax.get_title() == "the title" and ax.get_yscale() == "log"


# ---------------------------------------------------------------- C18, C22: zoom and reversal

def zoom_summary(after):
    """h = 1..3 grow with T; h = 4, 5 follow `after` (a list over T = 8, 16, 32, 64)."""
    rows = []
    for h in range(1, 6):
        for i, T in enumerate((8, 16, 32, 64)):
            v = 0.1 / 4**h * (1 + i) if h < 4 else after[i] * (1 if h == 4 else 0.9)
            rows.append(dict(h=h, T=T, min=v, mean=v, std=0.0, seeds=1))
    return pd.DataFrame(rows)


def test_zoom_check():
    falls_then_rises = [4e-6, 1e-6, 1.5e-6, 2e-6]
    v = zoom.falls_then_rises(zoom_summary(falls_then_rises), 4)
    assert v.verdict == claims.REPRODUCED and v.numbers["falls then rises: h4_fall"] == pytest.approx(4.0)
    # monotone decrease: no rise (core fails)
    assert zoom.falls_then_rises(zoom_summary([4e-6, 3e-6, 2e-6, 1e-6]), 4).verdict == claims.NOT_REPRODUCED
    # our laptop shape: smallest at the shortest T, then rising: core fails
    assert zoom.falls_then_rises(zoom_summary([4.9e-5, 5.5e-5, 5.5e-5, 7.9e-5]), 4).verdict == claims.NOT_REPRODUCED
    # a fall within the tolerance (x1.1 < 1.2) is no fall
    assert zoom.falls_then_rises(zoom_summary([1.1e-6, 1e-6, 1.5e-6, 2e-6]), 4).verdict == claims.NOT_REPRODUCED
    assert zoom.falls_then_rises(zoom_summary([1.1e-6, 1e-6, 1.5e-6, 2e-6]), 4, tol=0.05).verdict == claims.PARTIAL
    # rises faster than it fell: core passes, supporting fails
    assert zoom.falls_then_rises(zoom_summary([2e-6, 1e-6, 3e-6, 9e-6]), 4).verdict == claims.PARTIAL
    # the paper's Table 3: h = 4 falls then rises, h = 5 keeps falling: the core fails for h = 5
    t3 = as_summary(paper_table("table3"))
    assert zoom.falls_then_rises(t3, 4).verdict == claims.NOT_REPRODUCED
    assert zoom.falls_then_rises(t3[t3["h"] <= 4], 4).verdict == claims.REPRODUCED


def test_zoom_check_out_of_regime():
    s = zoom_summary([4e-6, 1e-6, 1.5e-6, 2e-6])
    v = zoom.falls_then_rises(s[s["T"] <= 16], 4)  # like the smoke tier's T = [8, 16]
    assert v.verdict == claims.NOT_TESTABLE and "three T" in v.out_of_regime
    assert zoom.falls_then_rises(s[s["h"] < 4], 4).verdict == claims.NOT_TESTABLE


def test_reversal_verdict_and_table():
    P = zoom.SPEC.resolve("laptop")
    good = zoom_summary([4e-6, 1e-6, 1.5e-6, 2e-6])
    assert zoom.reversal_verdict(good, P).verdict == claims.REPRODUCED
    # errors growing with T on both sides of D: R = 0 everywhere, so not positive at D: core fails
    bad = zoom_summary([1e-6, 2e-6, 3e-6, 4e-6])
    assert zoom.reversal_verdict(bad, P).verdict == claims.NOT_REPRODUCED
    # reversals below D and none above
    worse = bad.copy()
    worse.loc[worse["h"] < 4, "min"] = worse.loc[worse["h"] < 4, "min"].to_numpy()[::-1]
    assert zoom.reversal_verdict(worse, P).verdict == claims.NOT_REPRODUCED
    # h = D missing from the grid: not testable
    assert zoom.reversal_verdict(good[good["h"] != 4], P).verdict == claims.NOT_TESTABLE
    tab = zoom.reversal_table(good, P)
    assert [round(v, 2) for v in tab["paper Table 3, T 8-128"]] == [0.0, 0.0, 0.0, 3.98, 4.17]
    # restricted to T <= 64, Table 3's h = 5 row still falls throughout: R = K(K-1)/2 / ... > 0
    assert tab.loc[tab["h"] == 5, "paper Table 3, our T"].iloc[0] > 0
    # outside the paper's setting the paper's columns are absent
    tab6 = zoom.reversal_table(good, zoom.SPEC.resolve("laptop", N=16))
    assert not any(c.startswith("paper") for c in tab6.columns)
    rfig = zoom.reversal_figure(tab, P, "t")
    labels = {line.get_label() for line in rfig.axes[0].get_lines()}
    assert {"ours (min over seeds)", "ours (mean over seeds)", "paper Table 3, T 8-128", "paper Table 2 means, our T"} <= labels
    zfig = zoom.zoom_figure(good, P, "t")
    assert [ax.get_title() for ax in zfig.axes] == ["h = 4 = D", "h = 5 > D = 4"]
    ours = next(line for line in zfig.axes[0].get_lines() if line.get_label() == "ours: min over seeds")
    assert list(ours.get_ydata()) == list(good[good["h"] == 4].sort_values("T")["min"])
    assert len(zoom.zoom_figure(good, zoom.SPEC.resolve("laptop", N=16), "t").axes[0].get_lines()) == 2  # no paper


def test_zoom_judge_on_raw_runs():
    P = zoom.SPEC.resolve("laptop")
    s = zoom_summary([4e-6, 1e-6, 1.5e-6, 2e-6])
    runs = pd.DataFrame([dict(h=r.h, T=r.T, seed=k, val_nmse=r.min * f) for r in s.itertuples()
                         for k, f in ((0, 1.0), (1, 1.3))])
    vs = zoom.judge(P, {"runs": runs})
    assert [v.claim_id for v in vs] == ["C18", "C22"] and all(v.verdict == claims.REPRODUCED for v in vs)


def test_zoom_table_reports_the_papers_rows():
    P = zoom.SPEC.resolve("laptop")
    z = zoom.zoom_table(zoom_summary([4e-6, 1e-6, 1.5e-6, 2e-6]), P)
    row = z[(z["source"] == "paper Table 3") & (z["h"] == 4)].iloc[0]
    assert row["T of the minimum"] == 32


def test_width_figure_and_table():
    P = width.SPEC.resolve("laptop")
    s = width_summary()
    paper = width.paper_at_N32(P)
    t = width.width_table(s, paper)
    assert "paper Table 2 mean, N=32" in t.columns and len(t) == 8
    fig = width.figure(s, P, paper, "t")
    assert [ax.get_title() for ax in fig.axes] == ["h = 1 (h < D)", "h = 2 (h < D)", "h = 3 (h < D)", "h = 4 (h = D)"]
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "T=8: ours, min over seeds (fit slope -1.00)" in labels and "T=32: paper Table 2 mean (N = 32)" in labels
    assert width.paper_at_N32(width.SPEC.resolve("laptop", n=4)) is None
    assert np.isfinite(width.fits(s)["slope"]).all()


def test_width_reading_states_the_numbers():
    P = width.SPEC.resolve("laptop")
    text = width.reading(width_summary(floor_slope=0.1), P)
    assert "-1.00" in text and "+0.10" in text and "slight rise" in text
    assert "slight rise" not in width.reading(width_summary(floor_slope=-0.1), P)


def test_zoom_longer_training_check():
    P = zoom.SPEC.resolve("laptop")
    long = zoom.long_configs(P)
    assert long and {c["epochs"] for c in long} == {P["epochs_long"]} and {c["h"] for c in long} == set(P["h_grid_long"])
    assert len(zoom.sweeps(P)) == 2
    assert zoom.long_configs(zoom.SPEC.resolve("laptop", epochs_long=0)) == []
    assert len(zoom.sweeps(zoom.SPEC.resolve("laptop", epochs_long=0))) == 1
    with pytest.raises(ValueError, match="h_grid_long must hold"):
        zoom.SPEC.resolve("laptop", h_grid_long=[3])
    with pytest.raises(ValueError, match="h_grid_long must hold"):
        zoom.SPEC.resolve("laptop", D=5, h_grid=[1, 2, 3, 4, 5])  # default h_grid_long = [4] < D


def test_zoom_fit_table_and_texts():
    P = zoom.SPEC.resolve("laptop")
    rows = []
    for ep, scale, gap in ((100, 1.0, 1.0), (300, 0.1, 3.0)):
        for T in (8, 32):
            for seed in (0, 1):
                v = scale * 1e-5 * (1 + T / 32) * (1 + seed)
                rows.append(dict(epochs=ep, h=4, T=T, seed=seed, val_nmse=v, train_nmse=v / gap))
    rows.append(dict(epochs=100, h=3, T=8, seed=0, val_nmse=1e-2, train_nmse=1e-2))
    fits = zoom.fit_table(pd.DataFrame(rows), 4)
    assert set(fits["h"]) == {4} and len(fits) == 4  # h < D dropped; one row per (epochs, T)
    best = fits[(fits["epochs"] == 300) & (fits["T"] == 8)].iloc[0]
    assert best["val_nmse"] == pytest.approx(1e-6 * 1.25) and best["val / train"] == pytest.approx(3.0)
    text = zoom.long_reading(fits, P)
    assert "grows" in text and "10.0x to 10.0x" in text
    s = zoom_summary([4.9e-5, 5.5e-5, 5.5e-5, 7.9e-5])
    scores = R_scores = pd.DataFrame({"h": [1, 2, 3, 4, 5], "R": [0.0, 0.0, 0.0, 0.02, 0.14], "n_T": 4})
    d = zoom.disagreement(fits, scores, s, P)
    assert "still grows" in d and "not of memorising" in d
    assert "$R(D) = R(4) = 0.02$ is not above the threshold 0.5" in d
    assert "$h = 4$: smallest at $T = 8$, no fall, then rises (fall 1.00x" in d
    scores2 = R_scores.assign(R=[0.0, 0.0, 0.0, 2.0, 2.0])
    assert "is above the threshold" in zoom.disagreement(fits, scores2, s, P)
    # an error that falls with T after longer training is reported as such
    fits2 = fits.copy()
    fits2.loc[(fits2["epochs"] == 300) & (fits2["T"] == 32), "val_nmse"] = 1e-7
    assert "now falls" in zoom.disagreement(fits2, scores, s, P)
    # agreement only when both verdicts are reproduced
    ok = [claims.judge("C18", "t", [claims.core("x", True)]), claims.judge("C22", "t", [claims.core("x", True)])]
    assert zoom.summary_text(ok, fits, scores, s, P).startswith("**Our runs agree")
    no = [ok[0], claims.judge("C22", "t", [claims.core("x", False)])]
    assert "differ" in zoom.summary_text(no, fits, scores, s, P)


def test_zoom_paper_text_reads_the_papers_tables():
    P = zoom.SPEC.resolve("laptop")
    t = zoom.paper_text(P)
    assert "Table 3: $R(h)$ is at most 0.00 below $h = D$ and between 3.98 and 4.17" in t
    assert "Table 2 means: $R(h)$ is at most 0.06" in t
    assert "$h = 4$ is smallest at $T = 32$, falls then rises" in t  # Table 3
    assert "$h = 5$ is smallest at $T = 128$, falls, no rise after" in t
    assert "exceeds its mean at $T$ = [8, 16, 32, 64, 128]" in t
    assert zoom.paper_text(zoom.SPEC.resolve("laptop", N=16)) == ""


def test_controls_texts_and_judge():
    P = controls.SPEC.resolve("laptop")
    t = controls.widths_text(P, "other_D")
    assert "$E = n h = 32$" in t and "$h = 2$: $n = 16$" in t and "$h = 3$: $n = 11$ ($n h = 33$)" in t
    assert "n = 32, 16, 11, 8 at h = 1, 2, 3, 4" in controls.widths_title(P, "other_D")
    s = as_summary(paper_table("table3"))
    side = controls.side_by_side(s.assign(min=s["min"] * 10), controls.paper_values(P, "fixed_E"),
                                 {h: math.ceil(32 / h) for h in range(1, 6)})
    assert controls.level_text({"fixed width": (side, 4)}) == \
        "After the transition, fixed width: ours is 10.0x to 10.0x the paper's value at $h \\ge 4$."
    assert controls.level_text({"x": (side.assign(paper=np.nan), 4)}) == ""
    one = controls.format_table(side.assign(ours_seeds=1), "Table 3")
    assert not one["ours: mean ± std"].str.contains("±").any()
    runs = {sec: pd.DataFrame([dict(h=r.h, T=r.T, seed=k, val_nmse=r.nmse * (1 + k)) for r in paper_table(tab).itertuples()
                               for k in (0, 1)]) for sec, tab in (("fixed_E", "table3"), ("other_D", "table4"), ("depth", "table5"))}
    vs = controls.judge(controls.SPEC.resolve("paper"), runs)
    assert [v.claim_id for v in vs] == ["C19", "C20", "C21"] and all(v.verdict == claims.REPRODUCED for v in vs)


def test_width_reading_compares_means_with_the_papers():
    P = width.SPEC.resolve("laptop")
    s = width_summary(Ts=(8, 32))
    paper = width.paper_at_N32(P)
    text = width.reading(s, P, paper)
    pm = paper[(paper["h"] == 4) & (paper["T"] == 8)]["mean"].iloc[0]
    assert f"{1e-6 / pm:.1f}x ($T = 8$)" in text


# ---------------------------------------------------------------- a page is declared once

PAGES = {"synthetic_heads": synthetic_heads, "ablation_width": width, "ablation_controls": controls,
         "ablation_zoom_reversal": zoom}


def fake_sweep(calls: list, nmse=lambda c: 1e-3 * 2.0 ** -c["h"] * (1 + c["seed"])):
    """A stand-in for `sweep` that records (experiment, configs) and returns runs with NMSE nmse(config) and 2 s
    of training each; nothing is trained or stored."""
    from headcount.engine.sweep import SweepResult

    def sweep(exp, configs, store):
        calls.append((exp.name, [dict(c) for c in configs]))
        recs = [{"key": f"k{i}", "config": dict(c), "code_hash": "c0de", "env": {"cpu": "test cpu"},
                 "metrics": {"val_nmse": nmse(c), "train_nmse": nmse(c) / 2, "train_seconds": 2.0}}
                for i, c in enumerate(configs)]
        return SweepResult(records=recs, hits=len(recs), misses=0, wall_seconds=0.0)

    return sweep


def evidence_of(monkeypatch, mod, P, **kw):
    calls: list = []
    monkeypatch.setattr(mod, "sweep", fake_sweep(calls, **kw))
    return mod.evidence(P, store=None), calls


@pytest.mark.parametrize("stem", list(PAGES))
@pytest.mark.parametrize("tier", ["smoke", "laptop"])
def test_evidence_sweeps_exactly_what_sweeps_declares(monkeypatch, stem, tier):
    mod = PAGES[stem]
    P = mod.SPEC.resolve(tier)
    _, calls = evidence_of(monkeypatch, mod, P)
    assert calls == [(exp.name, cs) for exp, cs in mod.sweeps(P)]
    if stem == "ablation_zoom_reversal":
        _, calls = evidence_of(monkeypatch, mod, mod.SPEC.resolve(tier, epochs_long=0))
        assert len(calls) == 1


# The store keys are hashes of the run configs: these digests of every page's configs at each tier change
# exactly when a stored run would be looked up under another key (recompute the bundle, then update them).
CONFIG_DIGESTS = {
    "synthetic_heads/smoke": (4, "abceaa82f0a1650e"),
    "synthetic_heads/laptop": (60, "f3026cb146e8d7fd"),
    "synthetic_heads/paper": (125, "ffaab07c8f21f1e6"),
    "ablation_width/smoke": (4, "0a9198b4a8a26585"),
    "ablation_width/laptop": (48, "5a4a6c3990481469"),
    "ablation_width/paper": (300, "9da6c25113b4f30f"),
    "ablation_controls/smoke": (7, "858baf22fc370416"),
    "ablation_controls/laptop": (42, "22407cd7accbbf16"),
    "ablation_controls/paper": (210, "a93c838928f0b720"),
    "ablation_zoom_reversal/smoke": (6, "b29f070e23314029"),
    "ablation_zoom_reversal/laptop": (64, "d8dfad74d22984e6"),
    "ablation_zoom_reversal/paper": (134, "18917453262a6110"),
}


@pytest.mark.parametrize("stem", list(PAGES))
@pytest.mark.parametrize("tier", ["smoke", "laptop", "paper"])
def test_the_run_configs_are_unchanged(stem, tier):
    import hashlib

    mod = PAGES[stem]
    cs = [c for _, configs in mod.sweeps(mod.SPEC.resolve(tier)) for c in configs]
    digest = hashlib.sha256("\n".join(canonical_json(c) for c in cs).encode()).hexdigest()[:16]
    assert (len(cs), digest) == CONFIG_DIGESTS[f"{stem}/{tier}"]


def test_run_configs_come_from_the_run_dataclass():
    from dataclasses import fields

    from headcount.engine.train import SyntheticRun

    names = [f.name for f in fields(SyntheticRun)]
    for mod in (width, controls):
        for _, cs in mod.sweeps(mod.SPEC.resolve("smoke")):
            assert all(list(c) == names for c in cs)
    P = width.SPEC.resolve("smoke", n=4)
    assert {c["n"] for c in width.run_configs(P)} == {4}
    P = controls.SPEC.resolve("smoke", lr=1e-3, N=16)
    assert {(c["lr"], c["N"]) for s in controls.SECTIONS for c in controls.run_configs(P, s)} == {(1e-3, 16)}


@pytest.mark.parametrize("stem", list(PAGES))
def test_the_notebook_is_narrative_and_calls_only(stem):
    """No loops, conditionals, functions, comprehensions or string building in a notebook's code cells, no
    thread setting, and a parameters cell with the tier only."""
    import ast

    import jupytext

    from headcount.book.pages import notebook_path
    from headcount.book.runner import parameter_names

    nb = jupytext.read(notebook_path(stem))
    assert parameter_names(nb) == ["tier"]
    banned = (ast.For, ast.While, ast.If, ast.IfExp, ast.FunctionDef, ast.Lambda, ast.ListComp, ast.DictComp,
              ast.SetComp, ast.GeneratorExp, ast.JoinedStr, ast.BinOp)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "set_num_threads" not in cell.source
            found = [type(n).__name__ for n in ast.walk(ast.parse(cell.source)) if isinstance(n, banned)]
            assert not found, (stem, found, cell.source)


# ---------------------------------------------------------------- what the notebooks show

def test_width_results_and_table(monkeypatch):
    P = width.SPEC.resolve("laptop")
    ev, _ = evidence_of(monkeypatch, width, P, nmse=lambda c: 0.1 * c["N"] ** -1.0 * (1 + c["seed"]) * 2.0 ** -c["h"])
    R = width.results(P, ev)
    assert len(R["summary"]) == 4 * 2 * 3 and (R["summary"]["seeds"] == 2).all()
    ft = R["figure_table"]
    assert len(ft) == len(R["summary"]) and ft["slope"].to_numpy() == pytest.approx(-1.0)
    assert list(ft.columns) == ["h", "T", "N", "mean", "std", "min", "seeds", "slope", "intercept", "r2", "n_N"]
    assert list(R["table"].columns) == ["h", "T", "ours N=8", "ours N=16", "ours N=32", "ours: slope", "ours: R²",
                                        "paper Table 2 mean, N=32"]
    assert R["store"].endswith("Training time of these runs, summed: 96 s.")
    assert R["scale"] == "Tier laptop: T in [8, 32], N in [8, 16, 32], 2 seed(s), 8000 train / 2000 val, 100 epochs"
    assert R["meta"]["code_hash"] == "c0de"
    md = width.table_markdown(R["table"])
    assert md.startswith("### Our numbers beside the paper's\n\nMinimum validation NMSE over seeds per $N$")
    assert md.count("\n| 4 ") == 2  # one row per T at h = 4
    assert width.parameters_markdown(P).startswith("**Tier `laptop`.** Parameters of this page (the training settings")


def test_controls_sections_as_shown(monkeypatch):
    P = controls.SPEC.resolve("laptop")
    ev, calls = evidence_of(monkeypatch, controls, P)
    assert [len(cs) for _, cs in calls] == [5 * 2 * 2, 4 * 2 * 2, 3 * 2 * 1]
    vs = controls.judge(P, ev)
    S = controls.section_view(P, ev, vs, "depth")
    assert S["verdict"].claim_id == "C21" and S["label"] == "ablation-depth" and S["h_star"] == 2
    assert list(S["side"]["n"]) == [32, 32, 16, 16, 11, 11]
    assert S["side"]["paper"].notna().all() and S["store"].endswith("Training time of these runs, summed: 12 s.")
    assert {k: S["meta"][k] for k in ("params", "section", "code_hash")} == {"params": P, "section": "depth", "code_hash": "c0de"}
    assert S["meta"]["processors"] == ["test cpu"] and S["meta"]["runs"] == len(S["meta"]["run_keys"]) > 0
    assert S["title"] == ("2 layers, D = 4, fixed E = n h = 32 (n = 32, 16, 11 at h = 1, 2, 3): T in [8, 32], 1 seed(s)"
                          "\ntier laptop, 8000 train / 2000 val, 100 epochs")
    assert S["marks"] == [(2, "L h = D: h = 2"), (4, "h = D = 4 (one layer)")]
    assert controls.section_marks(P, "other_D") == [(3, "h = D = 3")]
    assert controls.section_title(P, "other_D").startswith("D = 3 task (d = 4), fixed E = n h = 32")
    parts = controls.tables_markdown(S).split("\n\n")
    assert parts[0] == "**Ours beside the paper's Table 5**:" and parts[2].startswith("**The drop between")
    assert parts[-1] == claims.markdown_table([S["verdict"]]) and "h=1→2 (predicted)" in parts[3]
    assert controls.section_figure(S).axes[0].get_title() == S["title"]
    # outside the paper's setting: said so, and the levels fall back to a sentence
    Q = controls.SPEC.resolve("laptop", N=16)
    evq, _ = evidence_of(monkeypatch, controls, Q)
    SQ = {s: controls.section_view(Q, evq, controls.judge(Q, evq), s) for s in controls.SECTIONS}
    assert "(the paper has no numbers for these parameters)" in controls.tables_markdown(SQ["fixed_E"])
    assert controls.levels_markdown(SQ) == "The paper has no numbers for these parameters."
    SP = {s: controls.section_view(P, ev, vs, s) for s in controls.SECTIONS}
    assert controls.levels_markdown({"depth": SP["depth"]}).startswith("After the transition, depth: ours is ")


def test_zoom_results_and_sections(monkeypatch):
    P = zoom.SPEC.resolve("laptop")
    ev, calls = evidence_of(monkeypatch, zoom, P, nmse=lambda c: 1e-5 * (1 + c["seed"]) * (300 / c["epochs"])
                            * (1 + c["T"] / 64) if c["h"] >= 4 else 0.1 * c["T"] / 8)
    assert [len(cs) for _, cs in calls] == [60, 4]
    R = zoom.results(P, ev)
    assert len(zoom.all_runs(ev)) == 64 and set(R["after"]["h"]) == {4, 5}
    f = R["fits"]
    assert sorted(set(f["epochs"])) == [100, 300] and len(f) == 2 * 4 + 2  # h = 4, 5 at 100 epochs; h = 4 at 300
    assert f["val / train"].to_numpy() == pytest.approx(2.0)
    assert R["store"].startswith("Store: 60 runs: 60 from the store") and R["meta"]["code_hash"] == "c0de"
    shown = zoom.format_fits(f)
    assert list(shown.columns) == ["epochs", "h", "T", "validation NMSE (min over seeds)", "training NMSE (same model)",
                                   "val / train"]
    assert shown["val / train"].eq("2.00").all()
    long = zoom.long_markdown(R, P, ev).split("\n\n")
    assert long[0].startswith("Longer-training check: 4 runs: 4 from the store") and long[1].startswith("| epochs")
    assert long[2].startswith("In numbers: ") and "going from 100 to 300 epochs lowered it 3.0x to 3.0x" in long[2]
    P0 = zoom.SPEC.resolve("laptop", epochs_long=0)
    ev0, _ = evidence_of(monkeypatch, zoom, P0)
    R0 = zoom.results(P0, ev0)
    assert "long_runs" not in ev0 and not zoom.long_markdown(R0, P0, ev0).startswith("Longer-training")
    rev = zoom.reversal_markdown(R["reversal"])
    assert rev.startswith("**$R(h)$, ours beside the paper's**") and "ours (min over seeds)" in rev
    vs = zoom.judge(P, ev)
    reading = zoom.reading_markdown(vs, R, P).split("\n\n")
    assert reading == [zoom.paper_text(P), zoom.summary_text(vs, R["fits"], R["scores"], R["summary"], P)]
    Q = zoom.SPEC.resolve("laptop", N=16)
    evq, _ = evidence_of(monkeypatch, zoom, Q)
    RQ = zoom.results(Q, evq)
    assert zoom.reading_markdown(vs, RQ, Q) == zoom.summary_text(vs, RQ["fits"], RQ["scores"], RQ["summary"], Q)
    z = zoom.zoom_markdown(R["summary"], P)
    assert z.startswith("**Where the minimum over $T$ sits**") and "paper Table 3" in z
