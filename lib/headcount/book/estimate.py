"""Estimates of what a build would cost, from the rates measured by the runs already in the store.

For each stored experiment a run's cost is modelled as (work units) x (seconds per unit at its sequence length
T), with the seconds per unit fitted per cost class as a power of T on the stored runs of that class
(log-log least squares; a single measured T is scaled linearly in T). Units and classes:

    synthetic  units = epochs x n_train      class = (n_layers, d, N)     stacked runs: a stack's time / its size
    cifar10    units = epochs x images       class = (n_layers, patch)
    msmarco    units = epochs                class = (lists: source, n_queries, ..., n_layers)

An estimate is only as good as its rates: they come from the stored runs made on this machine's processor where
there are any, else from whatever processor made them (named in the output; rates differ between processors by
several times), extrapolation beyond the measured T is flagged, and a class without a stored run has no estimate
(said so, never guessed). Stacked synthetic runs were timed in stacks of the laptop tier's sizes; the paper
tier's larger stacks run somewhat faster per model.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict


def _cost(exp: str, c: dict) -> tuple[tuple, float, int] | None:
    """(class, units, T) of a config, or None for an experiment without a cost model."""
    try:
        if exp == "synthetic":
            return (("layers", c["n_layers"]), ("d", c["d"]), ("N", c["N"])), c["epochs"] * c["n_train"], c["T"]
        if exp == "cifar10":
            T = (c["canvas"] // c["patch"]) ** 2 + 1
            return (("layers", c["n_layers"]), ("patch", c["patch"])), c["epochs"] * 10 * c["train_per_class"], T
        if exp == "msmarco":
            keep = ("source", "n_queries", "n_val_queries", "max_positives", "fusion", "n_layers", "batch_size")
            return tuple((k, c.get(k)) for k in keep), c["epochs"], c["T"]
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    return None


class Rates:
    """Seconds per unit as a function of T, per cost class, fitted on an experiment's stored records."""

    def __init__(self, exp: str, records: list[dict], cpu: str | None = None):
        self.exp = exp
        # rates differ between processors by several times: for a kind of run with stored runs made on this
        # processor (`cpu`, default this machine's), only those are used
        from headcount.engine.store import cpu_description

        cpu = cpu if cpu is not None else cpu_description()
        pts: dict[tuple, list[tuple[float, float, str]]] = defaultdict(list)
        for r in records:
            cost = _cost(exp, r.get("config", {}))
            secs = r.get("wall_seconds")
            if cost is None or not isinstance(secs, (int, float)) or secs <= 0 or cost[1] <= 0:
                continue
            pts[cost[0]].append((float(cost[2]), secs / cost[1], r.get("env", {}).get("cpu", "processor not recorded")))
        cpus: Counter = Counter()
        for cls, p in list(pts.items()):
            mine = [q for q in p if q[2] == cpu]
            pts[cls] = mine or p
            cpus.update(q[2] for q in pts[cls])
        self.cpus = cpus
        self.fits = {}
        for cls, p in pts.items():
            xs = sorted({x for x, _, _ in p})
            lx = [math.log(x) for x, _, _ in p]
            ly = [math.log(y) for _, y, _ in p]
            if len(xs) >= 2:
                mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
                b = sum((a - mx) * (c - my) for a, c in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)
                b = max(b, 0.0)  # cost never falls with T
            else:
                mx, my, b = lx[0], sum(ly) / len(ly), 1.0
            self.fits[cls] = (mx, my, b, xs[0], xs[-1], len(p))

    def seconds(self, config: dict) -> tuple[float | None, bool]:
        """(estimated seconds or None, whether T lies outside the measured range)."""
        cost = _cost(self.exp, config)
        if cost is None or cost[0] not in self.fits:
            return None, False
        mx, my, b, lo, hi, _ = self.fits[cost[0]]
        T = float(cost[2])
        return cost[1] * math.exp(my + b * (math.log(T) - mx)), not lo <= T <= hi


def human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(exp_name: str, missing: list[dict], records: list[dict]) -> tuple[str, float | None]:
    """(one line: the estimated CPU time of the missing runs, with where the rates come from; the seconds of
    the runs that have an estimate, None when none has)."""
    if not missing:
        return "nothing to compute", 0.0
    rates = Rates(exp_name, records)
    total, unknown, extrapolated, maxT = 0.0, 0, 0, 0
    for c in missing:
        s, out = rates.seconds(c)
        if s is None:
            unknown += 1
            continue
        total += s
        extrapolated += out
    if unknown == len(missing):
        return f"no estimate: no stored {exp_name} run of the same kind to measure a rate on", None
    measured = max((f[4] for f in rates.fits.values()), default=0)
    cpu = ", ".join(k for k, _ in rates.cpus.most_common(2))
    parts = [f"about {human(total)} of one CPU core", f"rates from {sum(rates.cpus.values())} stored runs on {cpu}"]
    if extrapolated:
        parts.append(f"{extrapolated} run(s) extrapolated beyond the measured T <= {measured:g}")
    if unknown:
        parts.append(f"{unknown} run(s) of a kind never measured left out")
    return "; ".join(parts), total
