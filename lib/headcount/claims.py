"""Verdicts on the paper's claims, graded by one rule from checks that can fail.

A page judges a claim of the registry (`headcount.registry`) by making **checks** on its own numbers.
Each check is either part of the claim's **core** (what the claim asserts) or **supporting** (a
sub-check that adds to the evidence but is not what the claim is about), and each has three outcomes:
passed, failed, or no evidence (`None`: the quantity sits at its chance level, or the grid has nothing
to compare). `grade` turns the checks into a verdict:

- a claim the tier cannot reach (its regime lies outside the grid: `out_of_regime`), or whose core has
  no check with evidence, is **not testable at this tier**;
- a core check that fails makes it **not reproduced**, whatever the supporting checks say;
- every core check passing and a supporting check failing makes it **partly reproduced**;
- everything passing makes it **reproduced**.

Theorem-level claims (lemmas, theorems and corollaries, judged by computing the steps of their proofs
on instances) read **proof steps checked** where an experiment would read reproduced: a computation
checks instances, it does not prove. Claims about every network of a class, or open conjectures, are
**proof only**. Pages `record` their verdicts into a ledger (one JSON file per page) from which the
claims page is built.

A verdict also carries the key numbers of its evidence (for the regression guard in the tests) and,
where the page has several seeds, whether it survives leaving each seed out in turn (`robustness`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from headcount.paths import atomic_write_text, note_written
from headcount.registry import EXPERIMENT, KINDS, PROOF, THEOREM, claim, order_key  # noqa: F401 - kinds re-exported

REPRODUCED = "reproduced"
PARTIAL = "partly reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable at this tier"
PROOF_CHECKED = "proof steps checked"
PROOF_ONLY = "proof only"
VERDICTS = (REPRODUCED, PARTIAL, NOT_REPRODUCED, NOT_TESTABLE, PROOF_CHECKED, PROOF_ONLY)


CORE = "core"
SUPPORTING = "supporting"

GRADING_RULE = (
    "Each claim is judged by checks on our numbers, each either part of the claim's **core** (what the claim "
    "asserts) or **supporting** (a sub-check that adds to the evidence). A check passes, fails, or gives no "
    "evidence (the quantity sits at its chance level, or there is nothing to compare). A claim is "
    "*reproduced* when its core and its supporting checks pass, *partly reproduced* when its core passes and a "
    "supporting check fails, and *not reproduced* when a core check fails, whatever the supporting checks say. "
    "It is *not testable at this tier* when the tier's grid cannot reach the claim's regime (e.g. the claim is "
    "about h >= 10 and the grid stops at 8) or when no core check has evidence. For lemmas, theorems and "
    "corollaries a computation checks instances of the statement or the steps of its proof, which is not a "
    "proof: they read *proof steps checked* where an experiment would read reproduced, and *proof only* where "
    "nothing can be computed (statements about every network of a class, open conjectures). Where a page "
    "has several seeds, every verdict is recomputed with each seed left out in turn; a verdict that changes "
    "is marked *uncertain*, with the verdicts it changes to.")


@dataclass
class Check:
    """One check of a claim: its role (core or supporting), what it tests, and its outcome.

    passed: True, False, or None for no evidence (e.g. at chance level). numbers: the key values it
    decided on (name -> float), kept in the ledger for the regression guard."""

    name: str
    passed: bool | None
    detail: str = ""
    role: str = CORE
    numbers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in (CORE, SUPPORTING):
            raise ValueError(f"check role must be {CORE!r} or {SUPPORTING!r}, got {self.role!r}")
        if self.passed is not None:
            self.passed = bool(self.passed)
        self.numbers = {str(k): _number(v) for k, v in self.numbers.items()}

    def to_dict(self) -> dict:
        return asdict(self)


def core(name: str, passed: bool | None, detail: str = "", **numbers) -> Check:
    return Check(name, passed, detail, CORE, numbers)


def supporting(name: str, passed: bool | None, detail: str = "", **numbers) -> Check:
    return Check(name, passed, detail, SUPPORTING, numbers)


def _number(v):
    if isinstance(v, bool) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"a check's key number must be a number, got {v!r}") from None


def grade(checks: Iterable[Check], kind: str = EXPERIMENT, out_of_regime: str | None = None) -> str:
    """The verdict of a claim of `kind` from its checks (see the module docstring for the rule)."""
    if kind not in KINDS:
        raise ValueError(f"claim kind must be one of {KINDS}, got {kind!r}")
    if kind == PROOF:
        return PROOF_ONLY
    if out_of_regime:
        return NOT_TESTABLE
    checks = list(checks)
    core_ev = [c.passed for c in checks if c.role == CORE and c.passed is not None]
    if not core_ev:
        return NOT_TESTABLE
    if not all(core_ev):
        return NOT_REPRODUCED
    if any(c.passed is False for c in checks if c.role == SUPPORTING):
        return PARTIAL
    return PROOF_CHECKED if kind == THEOREM else REPRODUCED


@dataclass
class Verdict:
    claim_id: str  # an id of the registry, e.g. "C15", "C17a"
    test: str  # what our checks test, in one line (the claim's own statement is in the registry)
    verdict: str  # one of VERDICTS
    evidence: str  # the numbers that decided it, in words
    page: str = ""  # the page (docname) that holds the evidence
    tier: str = ""
    checks: list = field(default_factory=list)  # Check.to_dict() of each check
    out_of_regime: str = ""  # why the tier cannot reach the claim, when it cannot
    robust: bool | None = None  # None: not assessed (one seed, or no seeds)
    robustness: str = ""  # what leaving each seed out gave

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def numbers(self) -> dict:
        """Every key number of every check, prefixed by the check's name."""
        return {f"{c['name']}: {k}": v for c in self.checks for k, v in c["numbers"].items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["numbers"] = self.numbers
        return d

    @property
    def shown(self) -> str:
        """The verdict as the page prints it (marked uncertain when leaving a seed out changes it)."""
        return self.verdict + (" (uncertain)" if self.robust is False else "")


def judge(claim_id: str, test: str, checks: Iterable[Check], evidence: str = "", out_of_regime: str | None = None,
          kind: str | None = None) -> Verdict:
    """A Verdict on a registered claim graded from `checks`; the evidence text is the checks' details
    unless given. The claim's kind comes from the registry."""
    c = claim(claim_id)
    checks = list(checks)
    verdict = grade(checks, kind or c.kind, out_of_regime)
    if not evidence:
        evidence = "; ".join(f"{ch.name}: {_outcome(ch)}" + (f" ({ch.detail})" if ch.detail else "") for ch in checks)
    if out_of_regime:
        evidence = f"not testable here: {out_of_regime}" + (f"; {evidence}" if evidence else "")
    return Verdict(claim_id, test, verdict, evidence, page=c.page, checks=[ch.to_dict() for ch in checks],
                   out_of_regime=out_of_regime or "")


def _outcome(ch: Check) -> str:
    role = "" if ch.role == CORE else " (supporting)"
    return ("no evidence" if ch.passed is None else "passes" if ch.passed else "fails") + role


def proof_only(claim_id: str, test: str, evidence: str) -> Verdict:
    return judge(claim_id, test, [], evidence, kind=PROOF)


def at_chance(value: float, chance: float, margin: float) -> bool:
    """Whether a measured value is indistinguishable from its chance level: within `margin` (relative) of it,
    or below it. A quantity at chance is no evidence of anything."""
    return bool(value <= chance * (1 + margin))


def robustness(verdicts: list[Verdict], judge_fn: Callable[[object], list[Verdict]], seeds: list,
               drop_seed: Callable[[object], object]) -> list[Verdict]:
    """Mark each verdict with whether it survives leaving each seed out in turn.

    `drop_seed(s)` returns the evidence without seed s and `judge_fn(evidence)` the verdicts on it. With fewer
    than two seeds nothing is assessed (robust stays None). Returns the verdicts, annotated in place."""
    seeds = list(seeds)
    if len(seeds) < 2:
        note = f"one seed ({seeds[0]}): robustness over seeds not assessed" if seeds else ""
        for v in verdicts:
            v.robust, v.robustness = None, note
        return verdicts
    flips: dict[str, list[str]] = {v.claim_id: [] for v in verdicts}
    for s in seeds:
        again = {w.claim_id: w.verdict for w in judge_fn(drop_seed(s))}
        for v in verdicts:
            if again.get(v.claim_id, v.verdict) != v.verdict:
                flips[v.claim_id].append(f"seed {s} left out: {again[v.claim_id]}")
    for v in verdicts:
        v.robust = not flips[v.claim_id]
        v.robustness = ("kept with each seed left out in turn (seeds " + ", ".join(map(str, seeds)) + ")"
                        if v.robust else "; ".join(flips[v.claim_id]))
    return verdicts


def ledger_dir() -> Path:
    """Where pages record their verdicts (HEADCOUNT_CLAIMS_DIR, default <repo>/book/_claims)."""
    from headcount.paths import REPO, env_path, variant

    base = env_path("HEADCOUNT_CLAIMS_DIR") or REPO / "book" / "_claims"
    v = variant()
    return base / v if v else base  # a variant page (another tier) records beside, never over, the book's tier


def record(page: str, verdicts: list[Verdict], directory: str | os.PathLike | None = None) -> Path:
    """Replace the ledger entry of one page with these verdicts (atomic write). Every claim id must be
    registered to this page (`headcount.registry`)."""
    d = Path(directory) if directory is not None else ledger_dir()
    for v in verdicts:
        owner = claim(v.claim_id).page
        if owner != page:
            raise ValueError(f"claim {v.claim_id} is judged on page {owner!r}, not {page!r} (headcount.registry)")
        v.page = page
    p = d / f"{page}.json"
    atomic_write_text(p, json.dumps([v.to_dict() for v in verdicts], indent=1))
    note_written(p)
    return p


def load_all(directory: str | os.PathLike | None = None) -> list[dict]:
    """Every recorded verdict, in the registry's order (unregistered ids last)."""
    d = Path(directory) if directory is not None else ledger_dir()
    out = []
    for p in sorted(d.glob("*.json")):
        out.extend(json.loads(p.read_text()))
    return sorted(out, key=lambda v: order_key(v["claim_id"]))


def escape_markdown(text: str) -> str:
    """Plain text made safe inside Markdown: '_' and '*' would start emphasis, '|' would end a table cell.
    Spans between $...$ (math) are left as they are."""
    parts = str(text).split("$")
    for i in range(0, len(parts), 2):  # outside math
        for ch in ("\\", "*", "_", "|", "<", "`"):
            parts[i] = parts[i].replace(ch, "\\" + ch)
    return "$".join(parts)


def markdown_table(verdicts: list[Verdict | dict]) -> str:
    """The verdicts of one page as a Markdown table: claim, what we test, verdict, evidence."""
    rows = ["| claim | what we test | verdict | evidence |", "|---|---|---|---|"]
    for v in verdicts:
        v = v.to_dict() if isinstance(v, Verdict) else v
        shown = v["verdict"] + (" (uncertain)" if v.get("robust") is False else "")
        evidence = v["evidence"] + (f"; leaving seeds out: {v['robustness']}" if v.get("robust") is False else "")
        cells = [v["claim_id"], escape_markdown(v["test"]), f"**{shown}**", escape_markdown(evidence)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def claims_by_verdict(vs: list[Verdict]) -> str:
    """Markdown: 'Every claim ... is reproduced', or the claim ids under each verdict other than reproduced."""
    groups: dict[str, list[str]] = {}
    for v in vs:
        if v.verdict != REPRODUCED:
            groups.setdefault(v.shown, []).append(v.claim_id)
    if not groups:
        return "Every claim of this page is reproduced at this tier."
    return ("; ".join(f"**{verdict}**: {', '.join(ids)}" for verdict, ids in groups.items())
            + ". The evidence column gives the numbers and, for a claim not testable here, the reason.")
