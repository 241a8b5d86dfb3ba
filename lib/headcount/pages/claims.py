"""Page: every claim of the paper with the verdict a page of this book computed for it.

The claim list follows the digest of the paper (claims C1-C30). Pages record verdicts under these ids
(sometimes split, e.g. C16a/C16b); a claim no page has judged is listed as not yet covered, so nothing
is hidden.
"""

from __future__ import annotations

import pandas as pd

from ..claims import VERDICTS, load_all
from ..params import ParamSpec

NOT_COVERED = "not yet covered"

SPEC = ParamSpec(notebook="claims", params=[], tiers={"smoke": {}, "laptop": {}, "paper": {}})

# The digest's claims list, one line each, in our words ($...$ is rendered as math on the page; no "|",
# which would split a table cell).
PAPER_CLAIMS = {
    "C1": r"Generalized $D$-retrieval targets are dense in $C(\mathcal X_T)$ (Theorem 1).",
    "C2": r"Lemma 2: maxima of subset minima ($m = T/4$) give the $m$-th order statistics and clipped coordinates.",
    "C3": r"Lemma 3: the smooth selector $\tilde x_q(t)$ converges to $x(t)$ uniformly as $q \to \infty$.",
    "C4": r"Lemma 1: a bump and a small shift turn a continuous $\tilde f_i$ into an admissible $C^2$ $f_i$ within $5\eta$.",
    "C5": r"Theorem 2(1), eq. (15): head $i$ returns $\min_{S_i}\Psi_i$ up to $(\lvert S_i\rvert-1)/(e\beta) + T e^{-\beta}$.",
    "C6": r"Theorem 2(1): hand-set weights with $h = D$ heads reach error $\varepsilon$ with $\beta \approx 4 C_T L_0 D/\varepsilon$; "
          r"the $\varepsilon$-exponent of the parameter count does not grow with $T$.",
    "C7": r"Theorem 2(2): $k = \frac{T/4 - s - D + 1}{(n+1)s + 1} - 1$ grows linearly in $T$; vacuous unless $T > 4((n+2)s + D)$.",
    "C8": r"Lemma 4: a two-layer $\hat F$ with entries $\le 1$ separating outputs by $B$ on inputs $A$ apart needs "
          r"$\Omega(B/(A\sqrt n))$ parameters.",
    "C9": r"Lemma 5: near its minimiser, $f_i$ changes at least linearly, with slope $\lambda_{\min} r/8$, along a segment.",
    "C10": r"Theorem 2(2) mechanism: with $h < D$, two sequences with near-equal head outputs have targets $\ge 3\varepsilon$ apart.",
    "C11": r"Theorem 2(3): the encoder $e_t \otimes x(t)$ with $\hat c_0 = 0$ makes one head output $\frac1T(x(1), \dots, x(T))$.",
    "C12": r"Lemma 9: a 3-layer ReLU network computes the max within $1/n$, with widths $\le 2T\lceil 1/\varepsilon\rceil$.",
    "C13": r"Lemma 8: stacking 2-, 3- and 2-layer networks gives an exact 5-layer network.",
    "C14": r"Corollary 1: the intrinsic dimension is unique when $D_1^2 + D_2^2 \le T/50$.",
    "C15": r"Synthetic $D = 4$: the minimum NMSE drops by 1 to 2.5 orders of magnitude from $h = 3$ to $h = 4$, at every $T$.",
    "C16": r"Synthetic: for $h < D$ the NMSE grows with $T$; for $h \ge D$ it is flat or falls.",
    "C17": r"Width sweep: for $h < D$, $-\log \mathrm{NMSE}$ is about linear in $\log N$ and longer $T$ needs larger $N$; "
           r"$h = D$ sits near its floor.",
    "C18": r"For $h \ge D$ the NMSE first falls, then slowly rises with $T$ (Remark B.1.1).",
    "C19": r"Fixed total width $E = 32$: the transition stays at $h = 4$.",
    "C20": r"$D = 3$ task: the transition moves to $h = 3$.",
    "C21": r"Two-layer model: the transition moves to $h = 2$, consistent with $L h \ge D$.",
    "C22": r"The weighted reversal score $R(h)$ turns positive exactly at $h = D = 4$ (synthetic).",
    "C23": r"MS MARCO: training accuracy falls with $T$ for $h < 12$ and is about $T$-independent for $h \ge 12$.",
    "C24": r"MS MARCO: $\mathrm{Err} \approx c\,T^{\beta} \exp(\alpha h / T^{\delta})$ with $\delta = 0.25$, $\alpha = -1.40$.",
    "C25": r"MS MARCO: validation accuracy does not improve with more heads.",
    "C26": r"CIFAR-10: training accuracy falls with $T$ for $h < 10$ and flattens for $h \ge 10$.",
    "C27": r"CIFAR-10: the weighted reversal score is positive for $h \ge 10$ and zero below.",
    "C28": r"CIFAR-10: validation accuracy peaks at $h \approx 8$ to $12$ and declines for more heads and longer $T$.",
    "C29": r"Tightness: a five-layer $\hat F$ gives $\Omega(\varepsilon^{-k/4})$; Heaviside activations or huge norms break the bound.",
    "C30": r"Conjecture 1: $\log(\text{parameter count}) = \Omega(\lvert\log\varepsilon\rvert\, a_L T^{b_L}/(nh))$ when $L h < D$.",
}


def base_id(claim_id: str) -> str:
    """C16a -> C16."""
    return claim_id.rstrip("abcdefghijklmnopqrstuvwxyz")


def ledger_table(directory=None, pages=None) -> pd.DataFrame:
    """Recorded verdicts (one row each) followed by the paper's claims that no page has judged.

    Only verdicts recorded by a page of this book count (`pages`: notebook stems, default the book's
    table of contents): a ledger left behind by a page that is no longer built is not evidence."""
    if pages is None:
        from ..runner import book_notebooks

        pages = book_notebooks()
    recorded = [v for v in load_all(directory) if v["page"] in set(pages)]
    rows = [
        {"claim": v["claim_id"], "statement": v["statement"], "verdict": v["verdict"], "tier": v.get("tier", ""),
         "evidence": v["evidence"], "page": v["page"]}
        for v in recorded
    ]
    covered = {base_id(v["claim_id"]) for v in recorded}
    for cid, text in PAPER_CLAIMS.items():
        if cid not in covered:
            rows.append({"claim": cid, "statement": text, "verdict": NOT_COVERED, "tier": "",
                         "evidence": "no page of this build judges it", "page": ""})
    df = pd.DataFrame(rows, columns=["claim", "statement", "verdict", "tier", "evidence", "page"])
    order = df["claim"].map(lambda c: (int("".join(ch for ch in base_id(c) if ch.isdigit()) or 0), c))
    return df.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def summary(df: pd.DataFrame) -> str:
    """One line: how many rows have each verdict, in a fixed order."""
    counts = df["verdict"].value_counts()
    order = [*VERDICTS, NOT_COVERED]
    return ", ".join(f"{v}: {counts[v]}" for v in order if v in counts)


def markdown(df: pd.DataFrame) -> str:
    """The ledger as a MyST list-table (column widths set, so long evidence stays readable), each claim
    linked to the page that holds its evidence."""
    lines = ["```{list-table}", ":header-rows: 1", ":widths: 8 34 15 9 34", ":width: 100%", ":class: claims-ledger", "",
             "* - claim", "  - statement", "  - verdict", "  - tier", "  - evidence"]
    for r in df.itertuples():
        cid = f"{{doc}}`{r.claim} <{r.page}>`" if r.page else r.claim
        cells = [cid, r.statement, f"**{r.verdict}**", r.tier, r.evidence]
        # one line per cell: a newline inside a cell would end the list item
        cells = [" ".join(str(c).split()) for c in cells]
        lines += [f"* - {cells[0]}", *(f"  - {c}" for c in cells[1:])]
    lines.append("```")
    return "\n".join(lines)
