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


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int", "float", "str", "bool", "int_list", "float_list"
    doc: str
    minimum: float | None = None  # for numbers and list elements
    choices: tuple | None = None  # for str / list elements
    check: Callable[[Any], str | None] | None = None  # extra rule: returns an error text or None

    def allowed(self) -> str:
        parts = {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False",
                 "int_list": "a non-empty list of integers", "float_list": "a non-empty list of numbers"}
        text = parts[self.kind]
        if self.minimum is not None:
            text += f" >= {self.minimum:g}" if self.kind in ("int", "float") else f", each >= {self.minimum:g}"
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
            elem = Param(self.name, self.kind[:-5], self.doc, self.minimum, self.choices)
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
        for rule in self.rules:
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
