# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# (theory-memorise)=
# # Theorem 2(3): one wide head can memorise the sequence
#
# The third regime. One head is enough after all, if it is wide enough to hold the whole sequence: then attention
# does no selection, it just copies, and the feed-forward block does the retrieval itself.
#
# ```{prf:theorem} One head, large embedding (the paper's Theorem 2(3))
# :label: thm-memorise
# :nonumber:
#
# Let $H \in \mathcal F_D$, $h = 1$ head of width $n \ge T d$, and let $\hat F$ be a five-layer ReLU network. There is a
# constant $C_{d,D,T}$ such that for every $M > C_{d,D,T} / \varepsilon^{1+\gamma}$, some model of equation (4) with $M$
# parameters approximates $H$ within $\varepsilon$.
# ```
#
# **Assumptions.** Only Assumption 3 (two-layer networks approximate the $f_i$ and $F_0$ at width $C/\delta^\gamma$).
# The price is hidden in $n \ge Td$: the width of the model grows with the sequence length, and (see below) so does
# the feed-forward block.
#
# ## The construction
#
# The encoder writes token $t$ into its own block, $P_\phi(x(t), t) = e_t \otimes x(t) \in \mathbb R^{Td}$, and the class
# token is $c_0 = 0$, so every logit $(W_Q c_0)^\top W_K \hat x(t)$ is 0 and the softmax is uniform. With $W_V = W_O = I$
# the head outputs $\frac1T (x(1), \dots, x(T))$: the whole sequence, scaled. The feed-forward block is
# $\hat F = F_3 \circ F_2 \circ F_1$:
#
# - $F_1$ (two layers) evaluates $1 - f_i(x(t))$ for every $i$ and every $t \in S_i$ (here exactly: for max + min
#   these are $x$ and $1 - x$, one ReLU unit each, with input weight $T$ to undo the $1/T$);
# - $F_2$ (three layers) takes the maximum over each $S_i$ with Lemma 9, so $\min_{S_i} f_i = 1 - \max_{S_i}(1 - f_i)$;
# - $F_3$ (two layers) applies $F_0$ (here linear and exact).
#
# Lemma 8 merges the last affine map of each part with the first of the next, giving $2 + 3 + 2 - 2 = 5$ affine maps:
# a five-layer ReLU network. Our implementation (`headcount.constructions.memorising`) is again an instance of the
# same model class, in float64, with sparse weight matrices.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"

# %% tags=["remove-input"]
import time

from IPython.display import Markdown, display

from headcount import claims, theory
from headcount.book import judging
from headcount.book.pages import theory_memorise as page
from headcount.book.plots import downloads_markdown, glue_figure, rerun_markdown, save_figure, shown_table
from headcount.engine.store import default_store

t_start = time.perf_counter()
P = page.SPEC.resolve_from(globals())  # the tier's values, and a run's values injected after the parameters cell
display(Markdown(page.header_markdown(P)))
ev = page.evidence(P, default_store())  # computed here from the constructions: this page trains nothing

# %% [markdown]
# ## The head memorises exactly
#
# We run sampled max + min sequences ($d = 1$) through the model and compare the attention weights with $1/T$ and the
# head output with the flattened sequence times $1/T$. In floating point both should be exact: the logits are exact
# zeros, the softmax of zeros is $1/T$ rounded once, and each output coordinate is the single product of that number
# with one token value (every other term is a product with an exact zero).

# %% tags=["remove-input"]
att = ev["attention"]
display(Markdown(shown_table(theory.number_table(att))))
display(Markdown(page.attention_text(att)))

# %% [markdown]
# ## Lemma 9: the maximum with a shallow ReLU network
#
# ```{prf:lemma} The maximum with a shallow ReLU network (the paper's Lemma 9)
# :label: lem-relu-max
# :nonumber:
#
# Let $n = \lceil 1/\varepsilon \rceil$. The network with first layer $h_1(t, i) = \mathrm{ReLU}(y_t - i/n)$, second layer
# $h_2(i) = \mathrm{ReLU}(S_i) - \mathrm{ReLU}(S_i - 1/n)$ with $S_i = \sum_t h_1(t, i)$, and output $\sum_i h_2(i)$, satisfies
# $\max_t y_t \le \hat f(y) < \max_t y_t + 1/n$ on $[0,1]^T$, with hidden widths at most $2T\lceil 1/\varepsilon\rceil$.
# ```
#
# Each term $h_2(i) = \min(S_i, 1/n)$ is $1/n$ for every level $i/n$ well below the maximum and a fraction of $1/n$ at the
# last level, so the sum overshoots by less than one grid step. We test random inputs and inputs placed on and next to
# the levels $i/n$; by our calculation the worst case is all tokens at $i/n + 1/(nT)$, where the top partial sum is
# exactly $1/n$ and the error is $(1 - 1/T)/n$ (so for $T = 1$ the network is exact).

# %% tags=["remove-input"]
l9 = ev["lemma9"]
display(Markdown(shown_table(theory.number_table(l9, 3))))
display(Markdown(page.lemma9_text(l9)))

# %% [markdown]
# ## The whole construction: accuracy, Lemma 8, parameter count
#
# For max + min ($L_0 = \sum_i |\partial_i F_0| = 2$) the Lemma 9 grid is $n = \lceil 2/\varepsilon \rceil$, so the two maxima are
# each off by less than $\varepsilon/2$. We measure the sup error on random sequences and on the level-straddling ones,
# compare the merged five-layer readout with the three parts applied in turn (Lemma 8), and count parameters:
# non-zero weights plus biases (the count that matters for the rate), beside the dense count of the merged matrices
# and the sum over the unmerged parts.

# %% tags=["remove-input"]
cons, merge = ev["construction"], ev["merge"]
fig = page.count_figure(cons, page.count_scale(P))
save_figure(fig, cons, "theory-memorise-count", meta={"params": P})
glue_figure("fig-theory-memorise-count", fig)

# %% [markdown]
# ```{glue:figure} fig-theory-memorise-count
# :name: fig-theory-memorise-count
#
# Parameters of the one-head memorising construction that reaches accuracy $\varepsilon$ on max + min: left against
# $1/\varepsilon$ (one line per $T$), right against $T$ (one line per $\varepsilon$), both axes logarithmic. Dashed: the
# parameter count of the $h = D = 2$ construction of Theorem 2(1) on the same task.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("theory-memorise-count")))
display(Markdown(page.count_text(cons)))
display(Markdown(shown_table(theory.number_table(cons, 3))))
display(Markdown("Lemma 8, merged against composed:\n\n" + theory.number_table(merge, 3)))

# %% [markdown]
# **Reading it.** The features and $F_0$ are exact here, so $\gamma$ plays no role and the construction's count should
# grow like $1/\varepsilon$ (with fitted features it would add $\gamma$, as the theorem's $1 + \gamma$ says) and linearly
# with $T$ (the slopes measured above): the max network needs $T\lceil 1/\varepsilon\rceil$ units per feature, and the head itself has width $n = T d$. The paper
# calls this regime impractical for that reason, and notes that, unlike memorising training data, the network computes
# the relation itself and so applies to unseen sequences: every sequence tested above is new to it.

# %% [markdown]
# ## Verdicts

# %% tags=["remove-input"]
vs = judging.page_verdicts("theory_memorise", P, ev)
claims.record("theory_memorise", vs)
display(Markdown(claims.markdown_table(vs)))
display(Markdown(f"Page computed in {time.perf_counter() - t_start:.1f} s."))

# %% tags=["remove-input"]
display(Markdown(rerun_markdown("theory_memorise", P)))
