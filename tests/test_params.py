"""ParamSpec: a bad value stops before any work with a message that names the parameter and what it allows."""

import re

import pytest

from headcount.params import Param, ParamSpec


def spec() -> ParamSpec:
    tier = {"h": 4, "T_grid": [8, 16], "lr": 1e-2, "init": "normal", "pinned": False}
    return ParamSpec(
        notebook="toy",
        params=[
            Param("h", "int", "number of heads", minimum=1),
            Param("T_grid", "int_list", "sequence lengths T", minimum=2),
            Param("lr", "float", "learning rate", minimum=0, check=lambda v: "must be below 1" if v >= 1 else None),
            Param("init", "str", "weight init", choices=("normal", "uniform")),
            Param("pinned", "bool", "pin memory"),
        ],
        tiers={"smoke": dict(tier, T_grid=[4]), "laptop": tier, "paper": dict(tier, T_grid=[8, 16, 32, 64, 128])},
        rules=[lambda P: f"h = {P['h']} exceeds the longest T" if P["h"] > max(P["T_grid"]) else None],
    )


def test_tier_values_and_overrides():
    s = spec()
    assert s.resolve("smoke")["T_grid"] == [4]
    P = s.resolve("laptop", h=2, T_grid=None)  # None means "the tier's value"
    assert P == {"tier": "laptop", "h": 2, "T_grid": [8, 16], "lr": 0.01, "init": "normal", "pinned": False}
    assert s.resolve("paper", h=3.0)["h"] == 3 and isinstance(s.resolve("paper", h=3.0)["h"], int)
    assert s.resolve("laptop", lr=0)["lr"] == 0.0


@pytest.mark.parametrize(
    "given,message",
    [
        ({"h": 0}, "parameter 'h' must be an integer >= 1; got 0"),
        ({"h": -3}, "parameter 'h' must be an integer >= 1; got -3"),
        ({"h": 2.5}, "parameter 'h' must be an integer >= 1; got 2.5"),
        ({"h": "4"}, "parameter 'h' must be an integer >= 1; got '4'"),
        ({"h": True}, "parameter 'h' must be an integer"),
        ({"T_grid": []}, "parameter 'T_grid' must be a non-empty list of integers, each in [2, 4096]; got [] (the grid is empty)"),
        ({"T_grid": [8, 1]}, "parameter 'T_grid' must be a non-empty list of integers, each in [2, 4096]"),
        ({"T_grid": [8, 1000000]}, "each in [2, 4096]; got [8, 1000000] (above the largest value this parameter allows)"),
        ({"T_grid": list(range(2, 1100))}, "parameter 'T_grid': at most 1000 values; got 1098"),
        ({"T_grid": [8, 8]}, "(values repeat)"),
        ({"T_grid": "8,16"}, "parameter 'T_grid' must be a non-empty list of integers"),
        ({"T_grid": 8}, "parameter 'T_grid' must be a non-empty list of integers"),
        ({"lr": "fast"}, "parameter 'lr' must be a number >= 0; got 'fast'"),
        ({"lr": 2.0}, "parameter 'lr': must be below 1; got 2.0"),
        ({"init": "zeros"}, "parameter 'init' must be a string from ['normal', 'uniform']; got 'zeros'"),
        ({"pinned": 1}, "parameter 'pinned' must be True or False; got 1"),
        ({"heads": 4}, "toy: unknown parameter(s) ['heads']; allowed: ['h', 'T_grid', 'lr', 'init', 'pinned']"),
        ({"h": 32}, "toy: h = 32 exceeds the longest T"),
    ],
)
def test_bad_values_name_the_parameter_and_what_is_allowed(given, message):
    with pytest.raises(ValueError) as info:
        spec().resolve("laptop", **given)
    assert message in str(info.value)


def test_unknown_tier_lists_the_tiers():
    with pytest.raises(ValueError, match=r"parameter 'tier' must be one of \['smoke', 'laptop', 'paper'\]; got 'huge'"):
        spec().resolve("huge")


def test_a_tier_must_give_every_parameter():
    with pytest.raises(ValueError, match=r"toy: tier 'smoke' misses \['b'\]"):
        ParamSpec("toy", [Param("a", "int", ""), Param("b", "int", "")],
                  tiers={"smoke": {"a": 1}, "laptop": {"a": 1, "b": 2}, "paper": {"a": 1, "b": 2}})
    with pytest.raises(ValueError, match=r"has unknown \['c'\]"):
        ParamSpec("toy", [Param("a", "int", "")], tiers={"smoke": {"a": 1, "c": 0}, "laptop": {"a": 1}, "paper": {"a": 1}})


def test_table_states_every_resolved_choice():
    s = spec()
    table = s.table(s.resolve("smoke", h=2))
    for row in ("| tier | `smoke` |", "| `h` | `2` | number of heads |", "| `T_grid` | `[4]` |", "| `init` | `normal` |"):
        assert row in table
    assert table.count("\n") == 2 + len(s.params)  # header, rule, tier row, one row per parameter


def test_resolve_from_a_namespace_takes_the_tier_and_every_parameter():
    """A notebook's namespace holds `tier` and whatever a run injected: a parameter it lacks takes the tier's
    value, a name that is no parameter is ignored, an injected value is checked."""
    s = spec()
    ns = {"tier": "smoke", "h": None, "lr": 0.5, "other": 1}
    assert s.resolve_from(ns) == s.resolve("smoke", lr=0.5)
    assert s.resolve_from({"tier": "paper"}) == s.resolve("paper")
    with pytest.raises(ValueError, match=r"toy: the parameters cell does not define 'tier'"):
        s.resolve_from({k: v for k, v in ns.items() if k != "tier"})
    with pytest.raises(ValueError, match="'lr'"):
        s.resolve_from({**ns, "lr": 2.0})


def test_every_page_parameters_cell_sets_only_the_tier():
    """A page's parameters are declared once, in its spec: the notebook's parameters cell holds `tier` alone."""
    import jupytext

    from headcount.book import runner

    cells = {name: runner.parameter_names(jupytext.read(runner.NOTEBOOKS / f"{name}.py"))
             for name in runner.book_notebooks()}
    assert {name: cell for name, cell in cells.items() if cell != ["tier"]} == {}


def test_every_size_of_every_page_is_bounded_above_before_any_work():
    """The reproductions: n 1e9, T_grid [8, 1e6], T_max 1e9, train_per_class 100000 are refused at resolve."""
    from headcount.book.pages import book_notebooks, page_spec

    cases = [("synthetic_heads", "n", 1_000_000_000), ("synthetic_heads", "T_grid", [8, 1_000_000]),
             ("theory_too_few_heads", "T_max", 1_000_000_000), ("cifar10", "train_per_class", 100_000),
             ("synthetic_heads", "epochs", 10**9), ("msmarco", "max_passage_tokens", 10**6)]
    for page, name, value in cases:
        spec = page_spec(page)
        if name not in spec.names:
            continue
        with pytest.raises(ValueError, match=f"parameter {name!r} must be .*(in \\[|<= )"):
            spec.resolve("smoke", **{name: value})
    unbounded = []
    for page in book_notebooks():
        spec = page_spec(page)
        for p in (spec.params if spec else []):
            if p.kind in ("int", "int_list") and p.upper is None and p.choices is None:
                unbounded.append(f"{page}.{p.name}")
    assert unbounded == [], f"integer parameters without an upper bound: {unbounded}"


def test_the_data_of_a_synthetic_page_must_fit_in_memory():
    from headcount.book.pages import page_spec

    with pytest.raises(ValueError, match=r"the data would hold .* floats .*lower n_train, n_val or the longest T"):
        page_spec("synthetic_heads").resolve("smoke", n_train=1_000_000, T_grid=[8, 4096])


def test_every_page_with_a_longer_training_check_refuses_one_not_longer():
    from headcount.book.pages import book_notebooks, page_spec

    pages = [p for p in book_notebooks() if page_spec(p) and "epochs_long" in page_spec(p).names]
    assert {"ablation_zoom_reversal", "msmarco", "cifar10"} <= set(pages)
    for page in pages:
        spec = page_spec(page)
        epochs = spec.tiers["smoke"]["epochs"]
        with pytest.raises(ValueError, match=re.escape(f"epochs_long must be 0 (no check) or more than epochs = {epochs}")):
            spec.resolve("smoke", epochs_long=epochs)


def test_every_tier_of_every_page_resolves_within_the_bounds():
    from headcount.book.pages import book_notebooks, page_spec

    for page in book_notebooks():
        spec = page_spec(page)
        for tier in ("smoke", "laptop", "paper"):
            if spec is not None:
                spec.resolve(tier)  # raises naming the parameter if a tier's own value were refused
