"""Notebook parameters: declared once per page, validated before any work, resolved per tier.

A notebook's `parameters` cell sets `tier` and leaves every other parameter at None, which means
"the tier's value". `spec.resolve(tier=..., **given)` returns the full, validated parameter dict or
raises ValueError naming the parameter and what is allowed. The runner (`headcount run`) also checks
that every name passed with -p exists in the notebook, since papermill only warns on unknown names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

TIERS = ("smoke", "laptop", "paper")

# Upper bounds of sizes, by parameter name (a Param's own `maximum` wins): every size a page accepts is bounded
# before any work, so an absurd value is refused with a message instead of failing in an allocation. A bound
# is far above every tier (the paper's largest T is 1025, its widest model n = 64, its longest run 400
# epochs), so it only refuses what could not run anyway.
_SEED_MAX = 2**31 - 1
NAME_MAXIMA: dict[str, float] = {
    **{k: 4096 for k in ("T_grid", "T_grid_long", "T_grid_depth", "selector_T", "mech_T_grid", "lemma9_T")},
    "T_max": 10**7,  # Corollary 1's margins for every T up to T_max: arrays of that length (80 MB at the bound)
    "table_T": 10**6, "plot_T_max": 10**6,  # a table and a plot of formulas, no allocation of that length
    "lemma2_T": 28,  # Lemma 2's brute force visits all C(T, T/4) subsets: C(28, 7) = 1.2 million
    "lemma2_d": 64, "lemma2_random": 10_000, "lemma1_grid": 10**7, "lemma4_widths": 4096, "lemma4_in_dims": 4096,
    "lemma4_nets": 10_000, "lemma5_directions": 100_000,
    **{k: 256 for k in ("h_grid", "h_grid_long", "h_grid_other", "h_grid_depth", "fit_exclude_h")},
    **{k: 4096 for k in ("n", "N", "N_grid", "E")},
    **{k: 64 for k in ("d", "d_other", "D", "D_other")},
    "selector_inputs": 10_000, "mech_base": 100_000,
    **{k: 16 for k in ("L", "n_layers", "ffn_mult")},
    "patch": 32, "canvas_grid": 1024, "canvas_grid_long": 1024,
    "epochs": 10_000, "epochs_long": 10_000, "stop_after_perfect": 10_000, "batch_size": 65_536,
    "n_train": 1_000_000, "n_val": 1_000_000, "n_eval": 1_000_000, "curve_pairs": 100_000,
    "train_per_class": 5000, "val_per_class": 1000,  # CIFAR-10 has 5000 training and 1000 test images a class
    "n_queries": 1_000_000, "n_val_queries": 1_000_000, "max_positives": 1_000_000, "test_max_positives": 1_000_000,
    "mine_depth": 10_000,
    "max_query_tokens": 512, "max_passage_tokens": 512, "dense_max_tokens": 512,
    **{k: _SEED_MAX for k in ("seed", "seeds", "seeds_long", "seeds_depth", "mech_seeds", "a_seed", "data_seed",
                              "split_seed", "placement_seed")},
}
MAX_LIST = 1000  # the most values a grid may hold
# The most floats (4 bytes) a page's training data may hold, n_sequences x T x d: 2^31 (8 GiB).
MAX_DATA_FLOATS = 2**31


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int", "float", "str", "bool", "int_list", "float_list"
    doc: str
    minimum: float | None = None  # for numbers and list elements
    choices: tuple | None = None  # for str / list elements
    check: Callable[[Any], str | None] | None = None  # extra rule: returns an error text or None
    maximum: float | None = None  # for numbers and list elements; default NAME_MAXIMA[name] where listed

    @property
    def upper(self) -> float | None:
        return self.maximum if self.maximum is not None else NAME_MAXIMA.get(self.name)

    def allowed(self) -> str:
        parts = {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False",
                 "int_list": "a non-empty list of integers", "float_list": "a non-empty list of numbers"}
        text = parts[self.kind]
        lo, hi = self.minimum, self.upper
        if lo is not None and hi is not None:
            text += f" in [{lo:g}, {hi:g}]" if self.kind in ("int", "float") else f", each in [{lo:g}, {hi:g}]"
        elif lo is not None:
            text += f" >= {lo:g}" if self.kind in ("int", "float") else f", each >= {lo:g}"
        elif hi is not None:
            text += f" <= {hi:g}" if self.kind in ("int", "float") else f", each <= {hi:g}"
        if self.choices is not None:
            text += f" from {list(self.choices)}"
        return text

    def validate(self, value: Any) -> Any:
        err = f"parameter {self.name!r} must be {self.allowed()}; got {value!r}"
        if self.kind in ("int_list", "float_list"):
            if not isinstance(value, (list, tuple)):  # a mapping or a set would pass as its keys
                raise ValueError(err)
            value = list(value)
            if not value:
                raise ValueError(err + " (the grid is empty)")
            if len(value) > MAX_LIST:
                raise ValueError(f"parameter {self.name!r}: at most {MAX_LIST} values; got {len(value)}")
            elem = Param(self.name, self.kind[:-5], self.doc, self.minimum, self.choices, maximum=self.upper)
            value = [elem._scalar(v, err) for v in value]
            if len(set(value)) != len(value):
                raise ValueError(err + " (values repeat)")
        else:
            value = self._scalar(value, err)
        if self.check is not None:
            msg = self.check(value)
            if msg:
                raise ValueError(f"parameter {self.name!r}: {msg}; got {value!r}")
        return value

    def _scalar(self, v: Any, err: str) -> Any:
        if self.kind == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                else:
                    raise ValueError(err)
        elif self.kind == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(err)
            v = float(v)
            if not math.isfinite(v):
                raise ValueError(err + " (not a finite number)")
        elif self.kind == "str":
            if not isinstance(v, str):
                raise ValueError(err)
        elif self.kind == "bool":
            if not isinstance(v, bool):
                raise ValueError(err)
        if self.minimum is not None and v < self.minimum:
            raise ValueError(err)
        if self.upper is not None and v > self.upper:
            raise ValueError(err + " (above the largest value this parameter allows)")
        if self.choices is not None and v not in self.choices:
            raise ValueError(err)
        return v


@dataclass
class ParamSpec:
    """The parameters of one notebook and their value at each tier."""

    notebook: str
    params: list[Param]
    tiers: dict[str, dict]  # tier -> {name: value}; every tier must give every parameter
    rules: list[Callable[[dict], str | None]] = field(default_factory=list)  # cross-parameter checks

    def __post_init__(self) -> None:
        names = {p.name for p in self.params}
        for tier in TIERS:
            missing = names - set(self.tiers.get(tier, {}))
            extra = set(self.tiers.get(tier, {})) - names
            if missing or extra:
                raise ValueError(f"{self.notebook}: tier {tier!r} misses {sorted(missing)} / has unknown {sorted(extra)}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def resolve(self, tier: str = "laptop", **given: Any) -> dict:
        """Validated parameters: the tier's values, overridden by every given value that is not None."""
        if tier not in TIERS:
            raise ValueError(f"parameter 'tier' must be one of {list(TIERS)}; got {tier!r}")
        unknown = sorted(set(given) - set(self.names))
        if unknown:
            raise ValueError(f"{self.notebook}: unknown parameter(s) {unknown}; allowed: {self.names}")
        out = {"tier": tier}
        for p in self.params:
            value = given.get(p.name)
            out[p.name] = p.validate(self.tiers[tier][p.name] if value is None else value)
        for rule in [*self.rules, data_size_rule]:
            msg = rule(out)
            if msg:
                raise ValueError(f"{self.notebook}: {msg}")
        return out

    def resolve_from(self, namespace: dict) -> dict:
        """`resolve` with the tier and the parameters found in a namespace (a notebook passes globals()): its
        parameters cell sets only `tier`, and a run's values are injected after it (papermill); a parameter
        the namespace lacks takes the tier's value. The namespace must define `tier`."""
        if "tier" not in namespace:
            raise ValueError(f"{self.notebook}: the parameters cell does not define 'tier'")
        return self.resolve(tier=namespace["tier"], **{n: namespace[n] for n in self.names if n in namespace})

    def table(self, resolved: dict) -> str:
        """A markdown table of the resolved parameters with their meaning, for the page."""
        lines = ["| parameter | value | meaning |", "|---|---|---|", f"| tier | `{resolved['tier']}` | scale of the run |"]
        for p in self.params:
            lines.append(f"| `{p.name}` | `{resolved[p.name]}` | {p.doc} |")
        return "\n".join(lines)


def data_size_rule(P: dict) -> str | None:
    """Every page with synthetic sequences: (n_train + n_val) x the longest T x d floats fit MAX_DATA_FLOATS."""
    Ts = [v for k in ("T_grid", "T_grid_long", "T_grid_depth", "T_max") if k in P
          for v in (P[k] if isinstance(P[k], list) else [P[k]])]
    if "n_train" not in P or not Ts:
        return None
    floats = (P["n_train"] + P.get("n_val", 0)) * max(Ts) * max(P.get("d", 1), P.get("d_other", 1))
    if floats > MAX_DATA_FLOATS:
        return (f"the data would hold {floats:,} floats ({floats * 4 / 2**30:.0f} GiB): (n_train + n_val) x "
                f"max T x d must stay within {MAX_DATA_FLOATS:,}; lower n_train, n_val or the longest T")
    return None


def longer_training_rule(grid: str) -> Callable[[dict], str | None]:
    """The rule of a page's longer-training check: `epochs_long` is 0 (no check) or more than `epochs`, and the
    grid it compares over (the parameter named `grid`) has at least two distinct values."""

    def rule(P: dict) -> str | None:
        if P["epochs_long"] == 0:
            return None
        if P["epochs_long"] <= P["epochs"]:
            return f"epochs_long must be 0 (no check) or more than epochs = {P['epochs']}; got {P['epochs_long']}"
        if len(set(P[grid])) < 2:
            return f"{grid} needs at least two values (the check compares the shortest and the longest T)"
        return None

    return rule
