"""Page: every claim of the registry with the verdict a page of this book computed for it.

The rows follow `headcount.registry`; a claim no page of this build has judged is listed as not yet
covered, so nothing is hidden. The summary counts are taken from the same rows the page lists.
"""

from __future__ import annotations

import pandas as pd

from headcount import claims
from headcount.params import ParamSpec
from headcount.registry import CLAIMS

NOT_COVERED = "not yet covered"
UNCERTAIN = " (uncertain)"

SPEC = ParamSpec(notebook="claims", params=[], tiers={"smoke": {}, "laptop": {}, "paper": {}})

COLUMNS = ["claim", "statement", "kind", "source", "test", "verdict", "robust", "robustness", "tier", "evidence",
           "page", "anchor", "other_tiers"]


def ledger_table(directory=None, pages=None, variants=None) -> pd.DataFrame:
    """One row per registered claim: its recorded verdict, or NOT_COVERED; `other_tiers` holds the verdicts of
    the same claim judged by a variant page at another tier ({tier: verdict dict}).

    Only verdicts recorded by a page of this book count (`pages`: notebook stems, default the book's table of
    contents; `variants`: (tier, stem) pairs, default the toc's nb/<tier>/ entries): a ledger left behind by a
    page that is no longer built is not evidence."""
    from pathlib import Path

    from headcount.book.pages import book_notebooks, variant_pages

    pages = book_notebooks() if pages is None else pages
    variants = variant_pages() if variants is None else variants
    base = Path(directory) if directory is not None else claims.ledger_dir()
    recorded = {v["claim_id"]: v for v in claims.load_all(base) if v["page"] in set(pages)}
    other: dict[str, dict] = {}
    for tier in sorted({t for t, _ in variants}):
        stems = {s for t, s in variants if t == tier}
        for v in claims.load_all(base / tier):
            if v["page"] in stems:
                other.setdefault(v["claim_id"], {})[tier] = v
    rows = []
    for cid, c in CLAIMS.items():
        v = recorded.get(cid)
        base = {"claim": cid, "statement": c.statement, "kind": c.kind, "source": c.source, "anchor": c.anchor}
        if v is None:
            rows.append({**base, "test": "", "verdict": NOT_COVERED, "robust": None, "robustness": "", "tier": "",
                         "evidence": "no page of this build judges it", "page": "", "other_tiers": other.get(cid, {})})
        else:
            rows.append({**base, "test": v["test"], "verdict": v["verdict"], "robust": v.get("robust"),
                         "robustness": v.get("robustness", ""), "tier": v.get("tier", ""), "evidence": v["evidence"],
                         "page": v["page"], "other_tiers": other.get(cid, {})})
    unknown = sorted((set(recorded) | set(other)) - set(CLAIMS))
    if unknown:
        raise ValueError(f"the ledger holds claims the registry does not know: {unknown}")
    return pd.DataFrame(rows, columns=COLUMNS)


def shown_verdict(row) -> str:
    return row["verdict"] + (UNCERTAIN if row["robust"] is False else "")


def counts(df: pd.DataFrame) -> dict[str, int]:
    """How many rows have each verdict (uncertain ones counted apart), in a fixed order."""
    tally = df.apply(shown_verdict, axis=1).value_counts()
    order = [x for v in (*claims.VERDICTS, NOT_COVERED) for x in (v, v + UNCERTAIN)]
    return {v: int(tally[v]) for v in order if v in tally}


def summary(df: pd.DataFrame) -> str:
    """One line: how many rows have each verdict, experiments and theory apart."""
    parts = []
    for label, kinds in (("experiments", (claims.EXPERIMENT,)), ("theory", (claims.THEOREM, claims.PROOF))):
        sub = df[df["kind"].isin(kinds)]
        if len(sub):
            parts.append(f"{label} ({len(sub)} claims): " + ", ".join(f"{v}: {n}" for v, n in counts(sub).items()))
    return "; ".join(parts)


def anchor_id(cid: str) -> str:
    """The HTML anchor of a claim's row on this page: C17b -> c17b."""
    return cid.lower()


def _evidence_link(row) -> str:
    if not row["page"]:
        return ""
    return f"{{ref}}`evidence on its page <{row['anchor']}>`"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def other_tiers(df: pd.DataFrame) -> list[str]:
    """The tiers other than the book's whose variant pages judged some claim, sorted."""
    return sorted({t for d in df["other_tiers"] for t in d})


def _shown(v: dict) -> str:
    return v["verdict"] + (UNCERTAIN if v.get("robust") is False else "")


def overview(df: pd.DataFrame) -> str:
    """A compact table (claim, verdict, tier, and one column per other tier judged) that fits a phone screen;
    each id links to its row below."""
    extra = other_tiers(df)
    lines = ["| claim | verdict | tier |" + "".join(f" {t} tier |" for t in extra), "|---|---|---|" + "---|" * len(extra)]
    for _, r in df.iterrows():
        lines.append(f"| {{ref}}`{r['claim']} <{anchor_id(r['claim'])}>` | {shown_verdict(r)} | {r['tier'] or '—'} |"
                     + "".join(f" {_shown(r['other_tiers'][t]) if t in r['other_tiers'] else '—'} |" for t in extra))
    return "\n".join(lines)


def tier_summary(df: pd.DataFrame) -> str:
    """One line per other tier: how many claims its variant pages judged, with each verdict's count."""
    out = []
    for t in other_tiers(df):
        vs = [r["other_tiers"][t] for _, r in df.iterrows() if t in r["other_tiers"]]
        tally = pd.Series([_shown(v) for v in vs]).value_counts()
        out.append(f"At the {t} tier, {len(vs)} claims judged so far: "
                   + ", ".join(f"{k}: {n}" for k, n in tally.items()))
    return "; ".join(out)


def markdown(df: pd.DataFrame) -> str:
    """Every claim as its own block: an anchored title (`#c15`), the paper's statement (rendered math), what our
    checks test, the verdict, the evidence and a link to the section or figure that holds it. Blocks stack, so
    the page reads at phone width."""
    out = []
    for _, r in df.iterrows():
        cid = r["claim"]
        link = _evidence_link(r)
        block = [f"({anchor_id(cid)})=", f"### {cid}: {shown_verdict(r)}", "",
                 f"{_one_line(r['statement'])} *({claims.escape_markdown(r['source'])})*", ""]
        if r["test"]:
            block += [f"**What we test.** {claims.escape_markdown(_one_line(r['test']))}", ""]
        block += [f"**Evidence{' at tier ' + r['tier'] if r['tier'] else ''}.** "
                  f"{claims.escape_markdown(_one_line(r['evidence']))}" + (f" ({link})" if link else ""), ""]
        for t, v in sorted(r["other_tiers"].items()):
            block += [f"**At the {t} tier: {_shown(v)}.** {claims.escape_markdown(_one_line(v['evidence']))} "
                      f"({{ref}}`evidence on its {t}-tier page <{r['anchor']}-{t}>`)", ""]
        if r["robust"] is False:
            block += [f"**Uncertain.** Leaving one seed out changes the verdict: "
                      f"{claims.escape_markdown(_one_line(r['robustness']))}.", ""]
        elif r["robustness"]:
            block += [f"*Seeds:* {claims.escape_markdown(_one_line(r['robustness']))}.", ""]
        out.append("\n".join(block))
    return "\n".join(out)


def rule() -> str:
    """The grading rule, one paragraph."""
    return claims.GRADING_RULE
