# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# (theory-uniqueness)=
# # Corollary 1 and Conjecture 1: the intrinsic dimension, and depth
#
# A target may be written as a $D$-retrieval problem in more than one way (any $f_i$ can be split, any $F_0$ can
# ignore a feature). Is the number of features $D$ then a property of the target, or of the way we wrote it? The
# paper answers with the two halves of Theorem 2: a representation with fewer features would give an efficient
# model with fewer heads, which the lower bound forbids.
#
# ```{prf:corollary} Uniqueness of the intrinsic dimension (the paper's Corollary 1)
# :label: cor-unique-D
# :nonumber:
#
# Suppose $H$ has two representations, $(\{f_i, S_i\}_{i \le D_1}, F_0)$ and $(\{\tilde f_i, \tilde S_i\}_{i \le D_2}, \tilde F_0)$,
# both satisfying Assumptions 1 and 2, with $D_1^2 + D_2^2 \le T/50$. Then $D_1 = D_2$.
# ```
#
# **Why.** Say $D_1 < D_2$. {prf:ref}`Theorem 2(1) <thm-heads-suffice>` with $D_1$ heads of width $n = 2$ approximates $H$ with $M \le C/\varepsilon^\gamma$
# parameters. {prf:ref}`Theorem 2(2) <thm-too-few-heads>`, applied to the second representation with $s = D_1 < D_2$ heads of width 2, says any such
# model needs $M \ge C'/\varepsilon^{k}$ with
#
# $$ k = \frac{T/4 - D_1 - D_2 + 1}{3 D_1 + 1} - 1 . $$
#
# For $C^1$ features and $F_0$ the paper takes $\gamma \le \max(D_1, D_2)$, so the two bounds contradict each other for
# small $\varepsilon$ as soon as $k > \max(D_1, D_2)$. The condition $D_1^2 + D_2^2 \le T/50$ is there to guarantee that
# inequality. The analytic parts (the two theorems, the bound on $\gamma$) are proofs; **the arithmetic is what we check**,
# exhaustively: every pair $D_1 < D_2$ and every integer $T$ up to `T_max` that the condition allows.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"

# %% tags=["remove-input"]
import time

from IPython.display import Markdown, display

from headcount import claims, theory
from headcount.book import judging
from headcount.book.pages import theory_uniqueness as page
from headcount.book.plots import downloads_markdown, glue_figure, rerun_markdown, save_figure, shown_table
from headcount.engine.store import default_store

t_start = time.perf_counter()
P = page.SPEC.resolve_from(globals())  # the tier's values, and a run's values injected after the parameters cell
display(Markdown(page.header_markdown(P)))
ev = page.evidence(P, default_store())  # computed here: this page trains nothing
vs = judging.page_verdicts("theory_uniqueness", P, ev)

# %% tags=["remove-input"]
df = ev["margins"]
fig = page.margin_figure(df, P, page.margin_scale(P))
save_figure(fig, df, "theory-uniqueness-margin", meta={"params": P})
glue_figure("fig-theory-uniqueness-margin", fig)

# %% [markdown]
# ```{glue:figure} fig-theory-uniqueness-margin
# :name: fig-theory-uniqueness-margin
#
# Corollary 1's arithmetic. Left: the margin $k - \max(D_1, D_2)$ against $T$ for the pairs with the smallest
# required $T$, with a horizontal line at 0; each dot is where the condition $D_1^2 + D_2^2 \le T/50$ starts to hold.
# Right: for every pair, the $T$ the condition requires against the smallest $T$ at which the margin is positive, with
# the diagonal.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("theory-uniqueness-margin")))
display(Markdown(shown_table(theory.number_table(df, 4))))
display(Markdown(page.margin_text(df)))

# %% [markdown]
# The table's last columns show how much shorter the sequences may be before the arithmetic fails.
#
# ## Conjecture 1: depth
#
# All results above are about a single layer. For $L$ layers the paper conjectures that heads multiply with depth:
#
# ```{prf:conjecture} Depth (the paper's Conjecture 1)
# :label: conj-depth
# :nonumber:
#
# For a transformer with $L$ layers of $h$ heads, $L h \ge D$ is necessary for efficient approximation of a generalized
# $D$-retrieval target. When $L h < D$, $\log(\text{parameter count}) = \Omega\big(|\log \varepsilon|\, a_L T^{b_L} / (n h)\big)$ with
# constants $a_L, b_L > 0$ that depend only on $L$.
# ```
#
# It is an open conjecture, so there is nothing to compute here. Its evidence in the paper is the two-layer synthetic
# experiment (Table 5), where the paper reports the drop in error moving from $h = 4$ to $h = 2 = D/L$ with $L = 2$ and
# $D = 4$. We rerun that experiment, with its own verdict (claim C21), on the {ref}`controls page <ablation-controls>`
# (its two-layer section).
#
# ```{admonition} Since the paper
# :class: note
#
# A later paper by four of the paper's authors, *InfoFlow* {cite}`yu2026infoflow`, proves a
# separation between one and two layers: for certain retrieval tasks any single-layer transformer needs at least
# $\Omega(\varepsilon^{-k})$ parameters for precision $\varepsilon$, with $k$ growing linearly in $T$, while a
# two-layer transformer with one head per layer needs at most $O(\varepsilon^{-1})$. Its mechanism is the one
# this book's head-count pages turn on: softmax attention retrieves efficiently only the token with the largest
# score, so retrieving the $k$-th largest ($k \ge 2$) in one layer costs parameters exponential in $T$. This bears
# on the conjecture's direction (depth can do what a single layer would need more heads or exponentially many
# parameters for); it is a result for its own tasks, not a proof of $L h \ge D$, and the conjecture stays open here.
# ```

# %% tags=["remove-input"]
display(Markdown(page.proof_only_text(vs)))

# %% [markdown]
# ## Verdicts

# %% tags=["remove-input"]
claims.record("theory_uniqueness", vs)
display(Markdown(claims.markdown_table(vs)))
display(Markdown(f"Page computed in {time.perf_counter() - t_start:.1f} s."))

# %% tags=["remove-input"]
display(Markdown(rerun_markdown("theory_uniqueness", P)))
