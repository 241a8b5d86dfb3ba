"""Cost estimates from measured rates (headcount status)."""

import math

import pytest

from headcount.book.estimate import Rates, estimate


def rec(T, epochs=10, n_train=100, secs=1.0, layers=1):
    return {"config": {"n_layers": layers, "d": 4, "N": 32, "T": T, "epochs": epochs, "n_train": n_train},
            "wall_seconds": secs, "env": {"cpu": "Test CPU"}}


def test_the_rate_is_a_power_of_T_fitted_on_the_stored_runs():
    records = [rec(8, secs=1.0), rec(32, secs=4.0)]  # linear in T
    r = Rates("synthetic", records, cpu="Test CPU")
    s, out = r.seconds(rec(16)["config"])
    assert s == pytest.approx(2.0) and not out
    s, out = r.seconds(rec(128, epochs=40)["config"])  # 4x the epochs, 4x the T of the longest measured
    assert s == pytest.approx(64.0) and out


def test_an_estimate_names_its_source_and_never_guesses_an_unmeasured_kind():
    records = [rec(8, secs=1.0), rec(32, secs=4.0)]
    line, secs = estimate("synthetic", [rec(16)["config"], rec(64)["config"]], records)
    assert secs == pytest.approx(2.0 + 8.0)
    assert "rates from 2 stored runs on Test CPU" in line and "1 run(s) extrapolated beyond the measured T <= 32" in line
    line, secs = estimate("synthetic", [rec(16, layers=2)["config"]], records)
    assert secs is None and line.startswith("no estimate")
    line, secs = estimate("synthetic", [rec(16, layers=2)["config"], rec(16)["config"]], records)
    assert "1 run(s) of a kind never measured left out" in line and secs == pytest.approx(2.0)
    assert estimate("synthetic", [], records) == ("nothing to compute", 0.0)


def test_runs_of_this_processor_are_preferred_where_there_are_any():
    mixed = [rec(8, secs=1.0), rec(32, secs=4.0), {**rec(8, secs=10.0), "env": {"cpu": "Other CPU"}}]
    assert Rates("synthetic", mixed, cpu="Other CPU").seconds(rec(8)["config"])[0] == pytest.approx(10.0)
    assert Rates("synthetic", mixed, cpu="Test CPU").seconds(rec(8)["config"])[0] == pytest.approx(1.0)
    assert Rates("synthetic", mixed, cpu="Unseen CPU").fits  # none from this processor: all of them


def test_one_measured_length_scales_linearly_and_cost_never_falls_with_T():
    assert Rates("synthetic", [rec(8, secs=1.0)]).seconds(rec(16)["config"])[0] == pytest.approx(2.0)
    falling = Rates("synthetic", [rec(8, secs=2.0), rec(32, secs=1.0)])
    assert falling.seconds(rec(64)["config"])[0] >= falling.seconds(rec(8)["config"])[0] - 1e-12
    assert math.isfinite(falling.seconds(rec(64)["config"])[0])
