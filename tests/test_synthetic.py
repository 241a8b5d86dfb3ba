"""Training loop determinism, the synthetic summaries, and the claim checks (which must be able to fail)."""

import numpy as np
import pandas as pd
import pytest

from headcount import analysis, claims
from headcount.engine import synthetic
from headcount.book.pages import synthetic_heads as page
from headcount.engine.train import SyntheticRun, make_data, train_one


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
    s = analysis.summarise(frame({(1, 8): [1.0, 3.0], (2, 8): [0.5]}))
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
    return analysis.summarise(frame(vals))


def judge(summary_or_values, P=None):
    P = P or page.SPEC.resolve(tier="laptop")
    return {v.claim_id: v for v in page.judge(P, {"runs": summary_or_values})}


def runs(drop=100.0, growth_below=2.0, growth_above=0.8, hs=(1, 2, 3, 4, 5), Ts=(8, 16, 32)):
    """Raw runs (two seeds) of `paperlike`."""
    vals = {}
    for T_i, T in enumerate(Ts):
        for h in hs:
            v = 0.1 * 2.0 ** (-h) * growth_below ** T_i if h < 4 else 0.1 * 2.0 ** (-3) / drop * growth_above ** T_i
            vals[(h, T)] = [v, v * 1.5]
    return frame(vals)


def test_claim_checks_pass_on_agreeing_numbers():
    vs = judge(runs(drop=20.0))  # x20 at T = 8 to x125 at T = 32: within 1 to 2.5 orders
    assert [vs[c].verdict for c in ("C15", "C16a", "C16b")] == [claims.REPRODUCED] * 3
    assert vs["C15"].numbers["drop >= 10x: T8"] == pytest.approx(20.0)
    assert vs["C16a"].numbers["grows: h1"] == pytest.approx(4.0)


def test_C15_core_fails_when_no_transition():
    v = analysis.drop_at_D(paperlike(drop=2.0, growth_above=2.0), D=4)
    assert v.verdict == claims.NOT_REPRODUCED


def test_C15_supporting_fails_when_the_drop_is_beyond_the_papers_range():
    v = analysis.drop_at_D(paperlike(drop=1e4), D=4)
    assert v.verdict == claims.PARTIAL
    # a larger drop elsewhere (h = 1 -> 2 made 400x): the drop at D still >= 10x, supporting fails
    s = paperlike()
    s.loc[s["h"] == 1, ["min", "mean"]] *= 200
    assert analysis.drop_at_D(s, D=4).verdict == claims.PARTIAL


def test_C15_out_of_regime_and_chance():
    s = paperlike()
    v = analysis.drop_at_D(s[s["h"] != 3], D=4)  # like the smoke tier's h = [1, 4]
    assert v.verdict == claims.NOT_TESTABLE and "h = 3" in v.out_of_regime
    assert analysis.drop_at_D(s, D=6).verdict == claims.NOT_TESTABLE
    # the checks follow D: the same numbers put no transition at h = 3
    assert analysis.drop_at_D(s, D=3).verdict == claims.NOT_REPRODUCED
    # h = D at chance (NMSE near 1) at every T: no evidence
    c = s.copy()
    c.loc[c["h"] >= 4, "min"] = 0.95
    c.loc[c["h"] < 4, "min"] = 1.2
    assert analysis.drop_at_D(c, D=4).verdict == claims.NOT_TESTABLE


def test_C16a_core_and_supporting():
    assert analysis.grows_with_T(paperlike(growth_below=0.5), D=4).verdict == claims.NOT_REPRODUCED
    # growth within the tolerance (x1.1 over the grid, tolerance 0.2): not "grows"
    assert analysis.grows_with_T(paperlike(growth_below=1.05), D=4, tol=0.2).verdict == claims.NOT_REPRODUCED
    assert analysis.grows_with_T(paperlike(growth_below=1.05), D=4, tol=0.05).verdict == claims.REPRODUCED
    # grows overall but dips at one step: core passes, supporting fails
    s = paperlike()
    s.loc[(s["h"] < 4) & (s["T"] == 16), "min"] *= 3
    assert analysis.grows_with_T(s, D=4).verdict == claims.PARTIAL


def test_C16a_out_of_regime_and_chance():
    s = paperlike()
    assert analysis.grows_with_T(s[s["T"] == 8], D=4).verdict == claims.NOT_TESTABLE
    assert analysis.grows_with_T(s[s["h"] >= 4], D=4).verdict == claims.NOT_TESTABLE
    c = s.copy()
    c.loc[c["h"] < 4, "min"] = [0.95, 0.97, 0.99, 0.96, 0.98, 1.0, 0.97, 0.99, 1.01][: int((c["h"] < 4).sum())]
    v = analysis.grows_with_T(c, D=4)
    assert v.verdict == claims.NOT_TESTABLE and "at chance" in v.evidence


def test_C16b_core_and_supporting():
    # h >= D grows x1.6 over the grid (our laptop numbers): not flat, whatever the comparison with h < D
    assert analysis.flattens(paperlike(growth_below=1.5, growth_above=4.0), D=4).verdict == claims.NOT_REPRODUCED
    v = analysis.flattens(paperlike(growth_below=1.2, growth_above=1.265), D=4)  # x1.6 vs x1.44
    assert v.verdict == claims.NOT_REPRODUCED and v.numbers["flat or falls: h4"] == pytest.approx(1.265 ** 2)
    # flat within the tolerance (x1.1) but h < D grows less (x1.02): core passes, supporting fails
    assert analysis.flattens(paperlike(growth_below=1.01, growth_above=1.05), D=4).verdict == claims.PARTIAL
    assert analysis.flattens(paperlike(growth_above=0.5), D=4).verdict == claims.REPRODUCED


def test_C16b_out_of_regime():
    s = paperlike()
    v = analysis.flattens(s[s["h"] < 4], D=4)
    assert v.verdict == claims.NOT_TESTABLE and "h >= 4" in v.out_of_regime


def test_judge_survives_leaving_a_seed_out():
    from headcount.book import judging

    P = page.SPEC.resolve(tier="laptop")
    ev = {"runs": runs()}
    vs = judging.page_verdicts("synthetic_heads", P, ev)
    assert all(v.robust for v in vs) and all(v.tier == "laptop" for v in vs)
    # a page with one seed: robustness not assessed
    one = {"runs": ev["runs"][ev["runs"]["seed"] == 0]}
    assert all(v.robust is None for v in judging.page_verdicts("synthetic_heads", P, one))


def test_table_prints_the_std_only_with_two_seeds():
    s = analysis.summarise(frame({(1, 8): [1.0, 3.0], (2, 8): [0.5]}))
    t = page.format_table(page.side_by_side(s, page.paper_summary().iloc[0:0])).set_index("h")
    assert "±" in t.loc[1, "ours: mean ± std"] and "±" not in t.loc[2, "ours: mean ± std"]
    assert "1 seed" in t.loc[2, "ours: mean ± std"]


def test_differences_are_computed_from_the_numbers():
    P = page.SPEC.resolve(tier="laptop")
    paper = page.paper_summary()
    Ts = (8, 16, 32, 64)
    text = page.differences(analysis.summarise(runs(growth_above=1.2, Ts=Ts)), paper, P)
    assert "x1.73 ($h = 4$)" in text  # 1.2 ** 3
    assert "At $h = 4$ the paper's Table 2 mean falls" in text and "our mean over seeds grows" in text
    assert "(a different direction)" in text and "is at least 100x at every $T$, larger than" in text
    text = page.differences(analysis.summarise(runs(growth_above=0.5, Ts=Ts)), paper, P)
    assert "our mean over seeds falls" in text and "At $h = 4$" in text
    assert "(the same direction)" in text.split("At $h = 4$")[1].split(".")[1] or "same direction" in text
    # a drop smaller than the growth with T is reported as not larger
    small = page.differences(analysis.summarise(runs(drop=1.5, growth_below=3.0, Ts=Ts)), None, P)
    assert "not larger" in small and "Table 2" not in small
    assert page.differences(analysis.summarise(runs(Ts=(8,))), paper, P) == ""


def test_spec_validates_before_work():
    with pytest.raises(ValueError, match=r"'h_grid'.*each in \[1, 256\]"):
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


# ---------------------------------------------------------------- run configs from the run dataclass

def test_run_fields_takes_the_run_fields_of_the_parameters_and_the_fixed_values():
    P = {"tier": "laptop", "D": 3, "N": 16, "seeds": [0, 1], "T_grid": [8], "epochs": 5, "trend_tol": 0.2}
    assert synthetic.run_fields(P, task="sum_of_max") == {"D": 3, "N": 16, "epochs": 5, "task": "sum_of_max"}
    assert synthetic.run_fields({"epochs": 5}, epochs=7) == {"epochs": 7}  # a page's fixed value wins


def test_run_configs_are_full_runs_of_the_resolved_parameters():
    from dataclasses import fields

    P = page.SPEC.resolve(tier="smoke")
    cs = page.run_configs(P)
    names = [f.name for f in fields(SyntheticRun)]
    assert all(list(c) == names for c in cs)  # every field, in the dataclass's order
    assert sorted((c["T"], c["h"], c["seed"]) for c in cs) == sorted(
        (T, h, s) for T in P["T_grid"] for h in P["h_grid"] for s in P["seeds"])
    for k in ("D", "d", "a_seed", "n", "N", "epochs", "lr", "batch_size", "n_train", "n_val", "data_seed"):
        assert {c[k] for c in cs} == {P[k]}, k
    assert {(c["task"], c["n_layers"], c["optimizer"]) for c in cs} == {("sum_of_max", 1, "adam")}
    Q = page.SPEC.resolve(tier="smoke", N=16, D=3)
    assert {(c["N"], c["D"]) for c in page.run_configs(Q)} == {(16, 3)}


# ---------------------------------------------------------------- what the notebook shows

def fake_sweep(calls: list, nmse=None):
    """A stand-in for `sweep` that records (experiment, configs) and returns runs whose NMSE is nmse(config)
    (by default `runs`' shape: h < 4 halves per head and doubles per T step, h >= 4 100x below h = 3), each
    with 2 s of training; nothing is trained or stored."""
    from headcount.engine.sweep import SweepResult

    Ts = {}

    def default(c):
        i = Ts.setdefault(c["T"], len(Ts))
        v = 0.1 * 2.0 ** -c["h"] * 2.0 ** i if c["h"] < 4 else 0.1 * 2.0 ** -3 / 100 * 0.8 ** i
        return v * (1 + 0.5 * c["seed"])

    f = nmse or default

    def sweep(exp, configs, store):
        calls.append((exp.name, [dict(c) for c in configs]))
        recs = [{"key": f"k{i}", "config": dict(c), "code_hash": "c0de", "env": {"cpu": "test cpu"},
                 "metrics": {"val_nmse": f(c), "train_nmse": f(c) / 2, "train_seconds": 2.0, "engine": "test"}}
                for i, c in enumerate(configs)]
        return SweepResult(records=recs, hits=len(recs), misses=0, wall_seconds=0.0)

    return sweep


def page_evidence(monkeypatch, P, nmse=None):
    calls: list = []
    monkeypatch.setattr(page, "sweep", fake_sweep(calls, nmse))
    return page.evidence(P, store=None), calls


def test_results_hold_the_tables_the_page_shows(monkeypatch):
    P = page.SPEC.resolve(tier="laptop", T_grid=[8, 16], seeds=[0, 1])
    ev, calls = page_evidence(monkeypatch, P)
    assert [(name, len(cs)) for name, cs in calls] == [("synthetic", 2 * 5 * 2)]
    R = page.results(P, ev)
    s = R["summary"].set_index(["h", "T"])
    assert len(s) == 10 and (s["seeds"] == 2).all()
    assert s.loc[(1, 8), "min"] == pytest.approx(0.05) and s.loc[(1, 8), "mean"] == pytest.approx(0.0625)
    side = R["side"].set_index(["h", "T"])
    assert side.loc[(4, 8), "paper_mean"] == pytest.approx(page.paper_summary().set_index(["h", "T"]).loc[(4, 8), "mean"])
    assert list(R["side"][["h", "T"]].itertuples(index=False, name=None)) == sorted(s.index)
    assert R["store"] == ("Store: 20 runs: 20 from the store, 0 computed (0 of them replacing records of older code) in "
                          "0.0 s; computed on test cpu (20); engines: test (20). Training time of the runs computed "
                          "now or earlier, summed: 40 s.")
    meta = R["meta"]
    assert (meta["params"], meta["code_hash"], meta["code_hashes"], meta["processors"]) == (P, "c0de", ["c0de"], ["test cpu"])
    assert meta["run_keys"] == sorted(r["key"] for r in ev["result"].records) and meta["runs"] == len(meta["run_keys"])
    assert R["scale"] == "tier laptop: T in [8, 16], h in [1, 2, 3, 4, 5], 2 seeds, 8000 train / 2000 val, 100 epochs"
    # outside the paper's setting: no paper series, and the figures' table has empty paper columns
    Q = page.SPEC.resolve(tier="laptop", T_grid=[8, 16], N=16)
    RQ = page.results(Q, page_evidence(monkeypatch, Q)[0])
    assert RQ["paper"] is None and RQ["side"]["paper_mean"].isna().all() and len(RQ["side"]) == 10


def test_markdown_of_the_page():
    P = page.SPEC.resolve(tier="smoke")
    head = page.parameters_markdown(P)
    assert head.startswith("**Tier `smoke`.** Parameters of this page")
    assert all(f"| `{name}` |" in head for name in page.SPEC.names)
    rows = [line for line in page.a_markdown(P).splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == P["D"]
    a = np.array([[float(x) for x in r.strip("| ").split(" | ")[1:]] for r in rows])
    assert a.shape == (P["D"], P["d"]) and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-3)
    assert page.a_markdown(page.SPEC.resolve(tier="smoke", a_seed=1)) != page.a_markdown(P)
    s = analysis.summarise(frame({(1, 8): [1.0, 3.0], (4, 8): [0.5]}))
    t = page.side_markdown(page.side_by_side(s, page.paper_summary()))
    assert t.startswith("### Ours beside the paper's Table 2\n\n| h ") and "2.00e+00 ± 1.4e+00" in t
    assert "(1 seed)" in t


def test_verdicts_markdown_adds_the_trends_in_T_only_with_two_T(monkeypatch):
    P = page.SPEC.resolve(tier="laptop", T_grid=[8, 64])
    R = page.results(P, page_evidence(monkeypatch, P)[0])
    vs = page.judge(P, {"runs": R["summary"].assign(val_nmse=R["summary"]["min"], seed=0)})
    text = page.verdicts_markdown(vs, R, P)
    table, _, trends = text.partition("\n\n")
    assert table == claims.markdown_table(vs)
    assert trends.startswith("**Our trends in $T$, beside the paper's.** For $h < D$ our min NMSE over seeds changes by")
    Q = page.SPEC.resolve(tier="laptop", T_grid=[8])
    RQ = page.results(Q, page_evidence(monkeypatch, Q)[0])
    assert page.verdicts_markdown(vs, RQ, Q) == claims.markdown_table(vs)


def test_figures_draw_ours_beside_the_papers():
    import matplotlib

    matplotlib.use("Agg")
    s = paperlike()
    fig = page.figure(s, 4, page.paper_summary(), "scale")
    left, right = fig.axes
    labels = [line.get_label() for line in left.get_lines()]
    assert "ours, mean over seeds, T=8" in labels and "paper Table 2 mean, T=8" in labels
    assert "paper Table 2 mean, T=64" not in labels  # a T of the paper our grid lacks is not drawn
    ours = next(line for line in right.get_lines() if line.get_label() == "ours, min over seeds, T=16")
    assert list(ours.get_ydata()) == list(s[s["T"] == 16].sort_values("h")["min"])
    assert not any(line.get_label().startswith("paper") for line in right.get_lines())
    fig_T = page.figure_vs_T(s, 4, None, "scale")
    below, above = fig_T.axes
    assert {line.get_label() for line in below.get_lines()} == {
        f"ours h={h}, {w} over seeds" for h in (1, 2, 3) for w in ("mean", "min")}
    assert all(int(line.get_label().split("=")[1].split(",")[0]) >= 4 for line in above.get_lines())
