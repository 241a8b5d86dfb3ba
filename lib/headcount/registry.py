"""The paper's claims: one registry of id, statement (in the paper's notation), kind, the page that judges
the claim and the label of its evidence on that page.

The ids follow the claims list of the paper's digest (C1-C30); where a claim has parts that are judged
apart, each part has its own id (C17a, C17b, ...). Pages judge claims by id (`claims.judge`), and
`claims.record` refuses an id that is not registered to the recording page, so a claim is stated once,
here, and judged in one place. Statements use $...$ for math (rendered on the claims page).
"""

from __future__ import annotations

from dataclasses import dataclass

EXPERIMENT = "experiment"  # kinds of claim: graded reproduced / partly / not reproduced / not testable
THEOREM = "theorem"  # lemmas, theorems, corollaries: graded proof steps checked / not reproduced
PROOF = "proof only"  # statements about every network of a class, open conjectures: nothing to compute
KINDS = (EXPERIMENT, THEOREM, PROOF)


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # the paper's claim, in its notation
    kind: str  # claims.EXPERIMENT, claims.THEOREM or claims.PROOF
    page: str  # notebook stem of the page that judges it
    anchor: str  # label (section or figure) of the evidence on that page
    source: str  # where the paper makes it

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}")


def _c(id, statement, kind, page, anchor, source):
    return Claim(id, statement, kind, page, anchor, source)


_CLAIMS = [
    _c("C1", r"Generalized $D$-retrieval targets are dense in $C(\mathcal X_T)$.", THEOREM,
       "theory_density", "theory-density", "Theorem 1"),
    _c("C2", r"With $m = T/4$, the maximum of subset minima $U_j$ is the $m$-th largest value, "
             r"$Y_{t,j} = \min\{x(t)_j, v_{m,j}\}$ and $1 - Z_{t,j} = \max\{x(t)_j, w_{m,j}\}$.", THEOREM,
       "theory_density", "theory-density", "Lemma 2"),
    _c("C3", r"The smooth selector $\tilde x_q(t)$ converges to $x(t)$ uniformly as $q \to \infty$.", THEOREM,
       "theory_density", "fig-theory-density-selector", "Lemma 3"),
    _c("C4", r"A bump and a small shift turn a continuous $\tilde f_i$ into an admissible $C^2$ $f_i$ within "
             r"$5\eta$.", THEOREM, "theory_density", "fig-theory-density-lemma1", "Lemma 1"),
    _c("C5", r"With $h = D$ heads, head $i$ returns $\tilde z_i$ with "
             r"$0 \le \tilde z_i - \min_{S_i}\Psi_i \le (\lvert S_i\rvert - 1)/(e\beta) + T e^{-\beta}$.", THEOREM,
       "theory_heads_suffice", "theory-heads-suffice-subsets", "Theorem 2(1), eq. (15)"),
    _c("C5b", r"(Our repair of eq. (15).) With $r_i = -2$ off $S_i$: "
              r"$-(T - \lvert S_i\rvert)e^{-\beta} \le \tilde z_i - \min_{S_i}\Psi_i \le (\lvert S_i\rvert - 1)/(e\beta) + T e^{-\beta}$.",
       THEOREM, "theory_heads_suffice", "theory-heads-suffice-subsets", "Theorem 2(1), proof"),
    _c("C6", r"Hand-set weights with $h = D$ heads reach error $\varepsilon$ with $\beta \approx 4 C_T L_0 D/\varepsilon$; "
             r"the $\varepsilon$-exponent of the parameter count does not grow with $T$.", THEOREM,
       "theory_heads_suffice", "fig-theory-heads-suffice-error", "Theorem 2(1)"),
    _c("C7", r"$k = \frac{T/4 - s - D + 1}{(n+1)s + 1} - 1$ grows linearly in $T$; the bound is vacuous unless "
             r"$T > 4((n+2)s + D)$.", THEOREM, "theory_too_few_heads", "fig-theory-too-few-heads-k", "Theorem 2(2)"),
    _c("C8", r"A two-layer $\hat F$ with entries $\le 1$ that separates outputs by $B$ on inputs $A$ apart needs "
             r"$\Omega(B/(A\sqrt n))$ parameters, since $\lvert \Delta F_j\rvert \le p\sqrt n\,\lVert\Delta x\rVert$.",
       THEOREM, "theory_too_few_heads", "theory-too-few-heads", "Lemma 4"),
    _c("C9", r"Near its minimiser, $f_i$ grows at least linearly: $\lvert f_i(x) - f_i(y)\rvert \ge "
             r"(\lambda_{\min} r/8)\lVert x - y\rVert$ on a segment $G_i$.", THEOREM,
       "theory_too_few_heads", "theory-too-few-heads", "Lemma 5"),
    _c("C10", r"With $h < D$, two sequences with near-equal head outputs have targets $\ge 3\varepsilon$ apart, so "
              r"the Lipschitz constant $\hat F$ needs grows with $T$.", THEOREM,
       "theory_too_few_heads", "fig-theory-too-few-heads-mechanism", "Theorem 2(2), proof"),
    _c("C11a", r"The encoder $e_t \otimes x(t)$ with $\hat c_0 = 0$ makes one head output "
               r"$\frac1T(x(1), \dots, x(T))$.", THEOREM, "theory_memorise", "theory-memorise", "Theorem 2(3)"),
    _c("C11b", r"One head of width $Td$ and a five-layer ReLU readout reach $\varepsilon$ with a parameter count "
               r"$O(T/\varepsilon)$.", THEOREM, "theory_memorise", "fig-theory-memorise-count", "Theorem 2(3)"),
    _c("C12", r"A three-layer ReLU network computes the maximum over $[0,1]^T$ within $1/n$, with widths "
              r"$\le 2T\lceil 1/\varepsilon\rceil$.", THEOREM, "theory_memorise", "theory-memorise", "Lemma 9"),
    _c("C13", r"Stacking two-, three- and two-layer ReLU networks gives an exact five-layer network.", THEOREM,
       "theory_memorise", "theory-memorise", "Lemma 8"),
    _c("C14", r"The intrinsic dimension is unique when $D_1^2 + D_2^2 \le T/50$: "
              r"$k(s = D_1, n = 2, D = D_2) > \max(D_1, D_2)$.", THEOREM,
       "theory_uniqueness", "fig-theory-uniqueness-margin", "Corollary 1"),
    _c("C15", r"Synthetic $D = 4$: the minimum NMSE drops by 1 to 2.5 orders of magnitude from $h = 3$ to $h = 4$, "
              r"at every $T$.", EXPERIMENT, "synthetic_heads", "fig-synthetic-heads-nmse", "Fig. 1a, Table 2"),
    _c("C16a", r"Synthetic: for $h < D$ the NMSE grows with $T$.", EXPERIMENT,
       "synthetic_heads", "fig-synthetic-heads-nmse-vs-T", "Fig. 1a, Table 2"),
    _c("C16b", r"Synthetic: for $h \ge D$ the NMSE is flat or falls in $T$.", EXPERIMENT,
       "synthetic_heads", "fig-synthetic-heads-nmse-vs-T", "Fig. 1a, Table 2"),
    _c("C17a", r"Width sweep: for $h < D$, $-\log \mathrm{NMSE}$ is about linear in $\log N$.", EXPERIMENT,
       "ablation_width", "fig-ablation-width", "Fig. 1b, Fig. 4"),
    _c("C17b", r"Width sweep: for $h < D$, a longer $T$ needs a larger $N$ for the same error.", EXPERIMENT,
       "ablation_width", "fig-ablation-width", "Fig. 1b"),
    _c("C17c", r"Width sweep: at $h = D$ the NMSE sits near its floor and hardly changes with $N$.", EXPERIMENT,
       "ablation_width", "fig-ablation-width", "Fig. 1b"),
    _c("C18", r"For $h \ge D$ the NMSE first falls, then slowly rises with $T$.", EXPERIMENT,
       "ablation_zoom_reversal", "fig-ablation-zoom", "Remark B.1.1, Fig. 3"),
    _c("C19", r"Fixed total width $E = nh = 32$: the transition stays at $h = 4$.", EXPERIMENT,
       "ablation_controls", "fig-ablation-fixed-width", "Table 3"),
    _c("C20", r"$D = 3$ task: the transition moves to $h = 3$.", EXPERIMENT,
       "ablation_controls", "fig-ablation-other-dimension", "Table 4"),
    _c("C21", r"Two-layer model: the transition moves to $h = 2$, consistent with $Lh \ge D$.", EXPERIMENT,
       "ablation_controls", "fig-ablation-depth", "Table 5, Conjecture 1"),
    _c("C22", r"The weighted reversal score $R(h)$ turns positive exactly at $h = D = 4$ (synthetic).", EXPERIMENT,
       "ablation_zoom_reversal", "fig-ablation-reversal", "Fig. 2e"),
    _c("C23a", r"MS MARCO: training accuracy falls with $T$ for $h < 12$.", EXPERIMENT,
       "msmarco", "fig-msmarco-accuracy", "Fig. 2a, Table 6"),
    _c("C23b", r"MS MARCO: training accuracy is about $T$-independent for $h \ge 12$.", EXPERIMENT,
       "msmarco", "fig-msmarco-accuracy", "Fig. 2a, Table 6"),
    _c("C24", r"MS MARCO: $\mathrm{Err} \approx c\,T^{\beta} \exp(\alpha h / T^{\delta})$ with $\delta = 0.25$, "
              r"$\alpha = -1.40$.", EXPERIMENT, "msmarco", "fig-msmarco-error-law", "Fig. 2b"),
    _c("C25", r"MS MARCO: validation accuracy does not improve with more heads.", EXPERIMENT,
       "msmarco", "msmarco", "Table 7"),
    _c("C26a", r"CIFAR-10: training accuracy falls with $T$ for $h < 10$.", EXPERIMENT,
       "cifar10", "fig-cifar10-accuracy", "Fig. 2c, Table 8"),
    _c("C26b", r"CIFAR-10: training accuracy is flat in $T$ for $h \ge 10$.", EXPERIMENT,
       "cifar10", "fig-cifar10-accuracy", "Fig. 2c, Table 8"),
    _c("C26c", r"CIFAR-10: one head count separates falling training accuracy (below it) from flat (from it on).",
       EXPERIMENT, "cifar10", "fig-cifar10-accuracy", "Fig. 2c, Table 8"),
    _c("C27", r"CIFAR-10: the weighted reversal score is positive for $h \ge 10$ and zero below.", EXPERIMENT,
       "cifar10", "fig-cifar10-reversal", "Fig. 2d"),
    _c("C28a", r"CIFAR-10: validation accuracy peaks at $h \approx 8$ to $12$ and is lower for more heads.",
       EXPERIMENT, "cifar10", "cifar10", "Table 9"),
    _c("C28b", r"CIFAR-10: validation accuracy declines for longer $T$.", EXPERIMENT, "cifar10", "cifar10", "Table 9"),
    _c("C29", r"Tightness: a five-layer $\hat F$ gives $\Omega(\varepsilon^{-k/4})$; Heaviside activations or huge "
              r"norms break the bound.", PROOF, "theory_too_few_heads", "theory-too-few-heads", "Remark A.2.2"),
    _c("C30", r"Conjecture 1: $\log(\text{parameter count}) = \Omega(\lvert\log\varepsilon\rvert\, a_L T^{b_L}/(nh))$ "
              r"when $Lh < D$.", PROOF, "theory_uniqueness", "theory-uniqueness", "Conjecture 1"),
]

CLAIMS: dict[str, Claim] = {c.id: c for c in _CLAIMS}
if len(CLAIMS) != len(_CLAIMS):
    raise RuntimeError("headcount.registry: a claim id is registered twice")


def claim(claim_id: str) -> Claim:
    try:
        return CLAIMS[claim_id]
    except KeyError:
        raise ValueError(f"claim {claim_id!r} is not in the registry (headcount.registry); registered: "
                         f"{', '.join(CLAIMS)}") from None


def page_claims(page: str) -> list[str]:
    """Ids of the claims a page judges, in registry order."""
    return [c.id for c in _CLAIMS if c.page == page]


def order_key(claim_id: str) -> tuple:
    """Registry order; an unregistered id sorts after every registered one."""
    ids = list(CLAIMS)
    return (ids.index(claim_id), "") if claim_id in CLAIMS else (len(ids), claim_id)


def base_number(claim_id: str) -> int:
    """C17b -> 17."""
    digits = "".join(ch for ch in claim_id if ch.isdigit())
    return int(digits) if digits else 0
