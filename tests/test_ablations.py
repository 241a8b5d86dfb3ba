"""The synthetic ablation pages: parameter specs, run grids (and their sharing with the head-count page),
and the claim checks C17-C22, each fed numbers that agree with the claim and numbers that contradict it."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from headcount import claims  # noqa: E402
from headcount.pages import ablation_controls as controls  # noqa: E402
from headcount.pages import ablation_width as width  # noqa: E402
from headcount.pages import ablation_zoom_reversal as zoom  # noqa: E402
from headcount.pages import synthetic_heads  # noqa: E402
from headcount.plots import paper_table  # noqa: E402
from headcount.store import canonical_json  # noqa: E402


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
    assert len(controls.planned_sweeps(P)) == 3


def test_transition_follows_D_and_L():
    assert controls.transition_h(4, 1) == 4 and controls.transition_h(4, 2) == 2 and controls.transition_h(5, 2) == 3
    P = controls.SPEC.resolve("laptop", D=5, D_other=2, h_grid=[1, 2, 3, 4, 5], h_grid_other=[1, 2], h_grid_depth=[2, 3])
    assert controls.h_star(P, "fixed_E") == 5 and controls.h_star(P, "other_D") == 2 and controls.h_star(P, "depth") == 3
    # the paper's numbers only where the page runs the paper's setting
    assert controls.paper_values(P, "fixed_E") is None and controls.paper_values(P, "depth") is None
    P4 = controls.SPEC.resolve("laptop")
    assert controls.paper_values(P4, "fixed_E") is not None and controls.paper_values(P4, "other_D") is not None


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


def test_width_checks_pass_on_agreeing_numbers():
    s = width_summary()
    assert width.power_law(s, 4, 0.8).verdict == claims.REPRODUCED
    assert width.longer_T_needs_larger_N(s, 4).verdict == claims.REPRODUCED
    assert width.flat_at_D(s, 4, 0.5, 10.0).verdict == claims.REPRODUCED
    # the paper's "slightly rising" h = D also counts as flat
    assert width.flat_at_D(width_summary(floor_slope=0.1), 4, 0.5, 10.0).verdict == claims.REPRODUCED
    f = width.fits(s).set_index(["h", "T"])
    assert f.loc[(1, 8), "slope"] == pytest.approx(-1.0) and f.loc[(1, 8), "r2"] == pytest.approx(1.0)


def test_width_checks_fail_on_contradicting_numbers():
    # error growing with N
    assert width.power_law(width_summary(b=-1.0), 4, 0.8).verdict == claims.NOT_REPRODUCED
    # a jagged, non-linear dependence on N
    s = width_summary()
    s.loc[s["N"] == 16, "min"] *= 30
    assert width.power_law(s, 4, 0.8).verdict == claims.NOT_REPRODUCED
    # longer T easier
    assert width.longer_T_needs_larger_N(width_summary(t_exp=-0.5), 4).verdict == claims.NOT_REPRODUCED
    # h = D falls as steeply as h < D
    steep = width_summary(floor=1e-4, floor_slope=-1.0)
    assert width.flat_at_D(steep, 4, 0.5, 10.0).verdict != claims.REPRODUCED
    # h = D no better than h = D-1
    assert width.flat_at_D(width_summary(floor=1.0), 4, 0.5, 10.0).verdict != claims.REPRODUCED


def test_width_linearity_needs_three_N():
    s = width_summary(Ns=(8, 16))
    assert width.power_law(s, 4, 0.8).verdict == claims.NOT_TESTED


def test_width_checks_follow_D():
    s = width_summary(D=3, hs=(1, 2, 3))
    assert width.flat_at_D(s, 3, 0.5, 10.0).verdict == claims.REPRODUCED
    assert width.flat_at_D(s, 4, 0.5, 10.0).verdict == claims.NOT_TESTED


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
    fig = controls.figure(s, paper, [(4, "h = D")], "t", "Table 3")
    assert fig is not None


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
    assert zoom.falls_then_rises(zoom_summary(falls_then_rises), 4).verdict == claims.REPRODUCED
    # monotone decrease: no rise
    assert zoom.falls_then_rises(zoom_summary([4e-6, 3e-6, 2e-6, 1e-6]), 4).verdict == claims.NOT_REPRODUCED
    # rises faster than it fell: partly (interior minimum, but not a slow rise)
    assert zoom.falls_then_rises(zoom_summary([2e-6, 1e-6, 3e-6, 9e-6]), 4).verdict == claims.PARTIAL
    # the paper's Table 3: h = 4 falls then rises, h = 5 keeps falling
    t3 = as_summary(paper_table("table3"))
    assert zoom.falls_then_rises(t3, 4).verdict == claims.PARTIAL


def test_reversal_verdict_and_table():
    P = zoom.SPEC.resolve("laptop")
    good = zoom_summary([4e-6, 1e-6, 1.5e-6, 2e-6])
    assert zoom.reversal_verdict(good, P).verdict == claims.REPRODUCED
    # errors growing with T on both sides of D: R = 0 everywhere
    bad = zoom_summary([1e-6, 2e-6, 3e-6, 4e-6])
    assert zoom.reversal_verdict(bad, P).verdict == claims.PARTIAL
    # reversals below D and none above
    worse = bad.copy()
    worse.loc[worse["h"] < 4, "min"] = worse.loc[worse["h"] < 4, "min"].to_numpy()[::-1]
    assert zoom.reversal_verdict(worse, P).verdict == claims.NOT_REPRODUCED
    tab = zoom.reversal_table(good, P)
    assert [round(v, 2) for v in tab["paper Table 3, T 8-128"]] == [0.0, 0.0, 0.0, 3.98, 4.17]
    # restricted to T <= 64, Table 3's h = 5 row still falls throughout: R = K(K-1)/2 / ... > 0
    assert tab.loc[tab["h"] == 5, "paper Table 3, our T"].iloc[0] > 0
    # outside the paper's setting the paper's columns are absent
    tab6 = zoom.reversal_table(good, zoom.SPEC.resolve("laptop", N=16))
    assert not any(c.startswith("paper") for c in tab6.columns)
    assert zoom.reversal_figure(tab, P, "t") is not None and zoom.zoom_figure(good, P, "t") is not None


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
    assert width.figure(s, P, paper, "t") is not None
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
    assert len(zoom.planned_sweeps(P)) == 2
    assert zoom.long_configs(zoom.SPEC.resolve("laptop", epochs_long=0)) == []
    assert len(zoom.planned_sweeps(zoom.SPEC.resolve("laptop", epochs_long=0))) == 1
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
    d = zoom.disagreement(fits, P)
    assert "still grows" in d and "not of memorising" in d
    # an error that falls with T after longer training is reported as such
    fits2 = fits.copy()
    fits2.loc[(fits2["epochs"] == 300) & (fits2["T"] == 32), "val_nmse"] = 1e-7
    assert "now falls" in zoom.disagreement(fits2, P)
