"""Training loop determinism, the synthetic summaries, and the claim checks (which must be able to fail)."""

import pandas as pd
import pytest

from headcount import claims, synthetic
from headcount.pages import synthetic_heads as page
from headcount.train import SyntheticRun, make_data, train_one


def tiny(**kw):
    base = dict(T=6, h=2, n=2, N=4, epochs=2, n_train=64, n_val=32, batch_size=16)
    base.update(kw)
    return SyntheticRun(**base)


def test_training_is_deterministic_per_seed_and_learns():
    r = tiny()
    m1, m2 = train_one(r), train_one(r)
    assert m1["val_nmse"] == m2["val_nmse"] and m1["curve"] == m2["curve"]
    assert train_one(tiny(seed=1))["val_nmse"] != m1["val_nmse"]
    longer = train_one(tiny(epochs=30, lr=1e-2, n_train=256))
    assert longer["val_nmse"] < 0.9  # beats predicting the mean (NMSE 1) on held-out data
    assert len(m1["curve"]) == 2 and m1["n_params"] > 0


def test_data_depends_on_data_seed_not_model_seed():
    a, b = make_data(tiny(seed=0)), make_data(tiny(seed=5))
    assert a["Xtr"].equal(b["Xtr"]) and a["yva"].equal(b["yva"])
    assert not make_data(tiny(data_seed=9))["Xtr"].equal(a["Xtr"])


def test_unknown_run_field_is_rejected():
    with pytest.raises(ValueError, match="unknown SyntheticRun fields"):
        SyntheticRun.from_dict({**tiny().to_dict(), "heads": 3})


def frame(values: dict[tuple[int, int], list[float]]) -> pd.DataFrame:
    rows = [dict(h=h, T=T, seed=s, val_nmse=v) for (h, T), vs in values.items() for s, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_summarise_min_mean_std():
    s = synthetic.summarise(frame({(1, 8): [1.0, 3.0], (2, 8): [0.5]}))
    r = s.set_index("h")
    assert r.loc[1, "min"] == 1.0 and r.loc[1, "mean"] == 2.0 and abs(r.loc[1, "std"] - 2**0.5) < 1e-12
    assert r.loc[2, "std"] == 0.0 and r.loc[2, "seeds"] == 1


def paperlike(drop=100.0, growth_below=2.0, growth_above=0.8):
    """h < 4: halves per head and grows with T; h >= 4: the h = 3 value divided by `drop`, times its own T trend."""
    vals = {}
    for T_i, T in enumerate([8, 16, 32]):
        for h in [1, 2, 3, 4, 5]:
            if h < 4:
                v = 0.1 * 2.0 ** (-h) * growth_below ** T_i
            else:
                v = 0.1 * 2.0 ** (-3) / drop * growth_above ** T_i
            vals[(h, T)] = [v, v * 1.5]
    return synthetic.summarise(frame(vals))


def test_claim_checks_pass_on_agreeing_numbers():
    vs = page.verdicts(paperlike(), D=4, tier="smoke")
    assert [v.verdict for v in vs] == [claims.REPRODUCED] * 3


def test_drop_check_fails_when_no_transition():
    v = synthetic.drop_at_D(paperlike(drop=2.0, growth_above=2.0), D=4)
    assert v.verdict == claims.NOT_REPRODUCED


def test_growth_check_fails_when_error_falls_with_T_below_D():
    v = synthetic.grows_with_T(paperlike(growth_below=0.5), D=4)
    assert v.verdict == claims.NOT_REPRODUCED


def test_flattening_check_fails_when_above_D_grows_fastest():
    v = synthetic.flattens(paperlike(growth_below=1.5, growth_above=4.0), D=4)
    assert v.verdict == claims.NOT_REPRODUCED


def test_checks_follow_D_not_a_fixed_head_count():
    s = paperlike()  # the drop is between h = 3 and h = 4
    assert synthetic.drop_at_D(s, D=3).verdict == claims.NOT_REPRODUCED
    assert synthetic.drop_at_D(s, D=6).verdict == claims.NOT_TESTED


def test_spec_validates_before_work():
    with pytest.raises(ValueError, match="'h_grid'.*>= 1"):
        page.SPEC.resolve(tier="smoke", h_grid=[0, 1])
    with pytest.raises(ValueError, match="'T_grid'.*empty"):
        page.SPEC.resolve(tier="smoke", T_grid=[])
    with pytest.raises(ValueError, match="'D'"):
        page.SPEC.resolve(tier="smoke", D=0)
    with pytest.raises(ValueError, match="'tier' must be one of"):
        page.SPEC.resolve(tier="huge")
    with pytest.raises(ValueError, match="unknown parameter"):
        page.SPEC.resolve(tier="smoke", heads=[1])
    with pytest.raises(ValueError, match="'engine'.*stacked"):
        page.SPEC.resolve(tier="smoke", engine="gpu")
    P = page.SPEC.resolve(tier="laptop")
    assert P["h_grid"] == [1, 2, 3, 4, 5] and P["T_grid"] == [8, 16, 32, 64] and len(P["seeds"]) >= 3
    assert len(page.run_configs(P)) == 4 * 5 * len(P["seeds"])
