"""Page: every claim of the paper with the verdict a page of this book computed for it.

The claim list follows the digest of the paper (claims C1-C30). Pages record verdicts under these ids
(sometimes split, e.g. C16a/C16b); a claim no page has judged is listed as not yet covered, so nothing
is hidden.
"""

from __future__ import annotations

import pandas as pd

from ..claims import load_all
from ..params import ParamSpec

SPEC = ParamSpec(notebook="claims", params=[], tiers={"smoke": {}, "laptop": {}, "paper": {}})

PAPER_CLAIMS = {
    "C1": "Generalized D-retrieval targets are dense in C(X_T) (Theorem 1).",
    "C2": "Lemma 2: subset minima give the m-th order statistics and clipped coordinates.",
    "C3": "Lemma 3: the smooth selector converges uniformly as q grows.",
    "C4": "Lemma 1: bump-and-shift turns a continuous f into an admissible C^2 f within 5 eta.",
    "C5": "Theorem 2(1), eq. (15): head i's output is within (|S_i|-1)/(e beta) + T e^-beta of min Psi_i.",
    "C6": "Theorem 2(1): with h = D hand-set heads the error reaches eps with beta ~ T/eps; FFN size independent of T.",
    "C7": "Theorem 2(2): the exponent k grows linearly in T; vacuous unless T > 4((n+2)s + D).",
    "C8": "Lemma 4: separating outputs by B on inputs A apart needs width >= c B/(A sqrt(n)).",
    "C9": "Lemma 5: local linear growth of f_i on a segment near its minimiser.",
    "C10": "Theorem 2(2) mechanism: with h < D, near-equal head outputs with targets >= 3 eps apart.",
    "C11": "Theorem 2(3): encoder e_t (x) x(t) with c0 = 0 memorises the sequence with one head.",
    "C12": "Lemma 9: a 3-layer ReLU network computes the max within 1/n with widths <= 2T ceil(1/eps).",
    "C13": "Lemma 8: stacking 2-, 3- and 2-layer networks gives an exact 5-layer network.",
    "C14": "Corollary 1: the intrinsic dimension D is unique when D1^2 + D2^2 <= T/50.",
    "C15": "Synthetic D = 4: min NMSE drops sharply (>= 10x) from h = 3 to h = 4 at every T.",
    "C16": "Synthetic: for h < D NMSE grows with T; for h >= D it is flat or falls.",
    "C17": "Width sweep: for h < D, -log NMSE ~ linear in log N, longer T needs larger N; h = D near its floor.",
    "C18": "For h >= D, NMSE first falls then slowly rises with T (Remark B.1.1).",
    "C19": "Fixed total width E = 32: the transition stays at h = 4.",
    "C20": "D = 3 task: the transition moves to h = 3.",
    "C21": "Two-layer model: the transition moves to h = 2 (L h >= D).",
    "C22": "Weighted reversal score turns positive exactly at h = D = 4 (synthetic).",
    "C23": "MS MARCO: training accuracy falls with T for h < 12 and is ~T-independent for h >= 12.",
    "C24": "MS MARCO: Err ~ c T^beta exp(alpha h / T^delta) with delta = 0.25, alpha = -1.40.",
    "C25": "MS MARCO: validation accuracy does not improve with more heads.",
    "C26": "CIFAR-10: training accuracy falls with T for h < 10 and flattens for h >= 10.",
    "C27": "CIFAR-10: the weighted reversal score is positive for h >= 10 and zero below.",
    "C28": "CIFAR-10: validation accuracy peaks at h ~ 8-12 and declines for more heads and longer T.",
    "C29": "Tightness: a five-layer F gives Omega(1/eps^(k/4)); Heaviside activations or huge norms break the bound.",
    "C30": "Conjecture 1: log(parameter count) = Omega(|log eps| a_L T^b_L / (n h)) when L h < D.",
}


def base_id(claim_id: str) -> str:
    """C16a -> C16."""
    return claim_id.rstrip("abcdefghijklmnopqrstuvwxyz")


def ledger_table(directory=None) -> pd.DataFrame:
    """Recorded verdicts (one row each) followed by the paper's claims that no page has judged."""
    recorded = load_all(directory)
    rows = [
        {"claim": v["claim_id"], "statement": v["statement"], "verdict": v["verdict"], "tier": v.get("tier", ""),
         "evidence": v["evidence"], "page": v["page"]}
        for v in recorded
    ]
    covered = {base_id(v["claim_id"]) for v in recorded}
    for cid, text in PAPER_CLAIMS.items():
        if cid not in covered:
            rows.append({"claim": cid, "statement": text, "verdict": "not yet covered", "tier": "",
                         "evidence": "no page of this build judges it", "page": ""})
    df = pd.DataFrame(rows, columns=["claim", "statement", "verdict", "tier", "evidence", "page"])
    order = df["claim"].map(lambda c: (int("".join(ch for ch in base_id(c) if ch.isdigit()) or 0), c))
    return df.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def markdown(df: pd.DataFrame) -> str:
    """The ledger as a markdown table, each claim linked to the page that holds its evidence."""
    lines = ["| claim | statement | verdict | tier | evidence |", "|---|---|---|---|---|"]
    for r in df.itertuples():
        cid = f"{{doc}}`{r.claim} <{r.page}>`" if r.page else r.claim
        ev = str(r.evidence).replace("|", "/")
        lines.append(f"| {cid} | {r.statement} | **{r.verdict}** | {r.tier} | {ev} |")
    return "\n".join(lines)
