# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# (theory-too-few-heads)=
# # Theorem 2(2): too few heads cost a size exponential in T
#
# The negative half of the main result. With fewer heads than features, at least one head has to serve two
# features; a softmax head only forms weighted averages, so the information about both is squeezed into $n$
# numbers, and the feed-forward block must untangle it. The theorem quantifies the price.
#
# ```{prf:theorem} Too few heads (the paper's Theorem 2(2))
# :label: thm-too-few-heads
# :nonumber:
#
# Let $H \in \mathcal F_D$ satisfy Assumption 2, and let the model have $h = s < D$ heads of width $n$ and satisfy
# Assumption 1. With
#
# $$ k = \frac{T/4 - s - D + 1}{(n+1)s + 1} - 1 , $$
#
# the smallest parameter count $M$ at which the class $\mathcal H(s, n, d, T, M)$ approximates $H$ within $\varepsilon$
# is $\Omega(1/\varepsilon^{k})$. For fixed $n, s, D$, $k$ grows linearly in $T$: the size needed is
# $1/\varepsilon^{\Omega(T)}$.
# ```
#
# **Assumptions.** Assumption 1 restricts the model: $\lVert P_\phi(x, t) \rVert_2 \le 1$ (1.1); $\hat F$ is a two-layer network
# with a 1-Lipschitz activation (1.2); every entry of $\hat F$, $W_{Q,i}$, $W_{K,i}$, $W_{V,i}$, $W_O$ is at most 1 in magnitude
# (1.3). Assumption 2 restricts the target: unique minimisers $x^{(i)}$ of the $f_i$ (2.1), pairwise distinct (2.2), with
# positive definite Hessians (2.3), and $\partial_i F_0 \ne 0$ at the vector of minima (2.4). The $\Omega$ hides constants
# that depend on the $f_i$ and $F_0$.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"

# %% tags=["remove-input"]
import time

from IPython.display import Markdown, display

from headcount import claims, theory
from headcount.book import judging
from headcount.book.pages import theory_too_few_heads as page
from headcount.book.plots import downloads_markdown, glue_figure, rerun_markdown, save_figure, shown_table
from headcount.engine.store import default_store

t_start = time.perf_counter()
P = page.SPEC.resolve_from(globals())  # the tier's values, and a run's values injected after the parameters cell
display(Markdown(page.header_markdown(P)))
ev = page.evidence(P, default_store())  # computed here: this page trains nothing

# %% [markdown]
# ## The exponent k and where it says nothing
#
# $k > 0$ exactly when $T/4 - s - D + 1 > (n+1)s + 1$, i.e. when
#
# $$ T > 4\big((n+2)s + D\big) . $$
#
# At or below that length the bound allows a constant number of parameters: it is vacuous. The slope of $k$ in $T$ is
# $1/(4((n+1)s+1))$, so wider heads ($n$) and more heads ($s$) both flatten it.
#
# **At the experiments' scale.** The paper's synthetic experiments run $T \le 128$: Table 2 with per-head width $n = 8$,
# Tables 3 and 4 under a fixed total width $E = n h$ (so $n = \lceil E/h \rceil$ and a smaller $h$ gets wider heads). The
# table below gives $k$ there for every $h < D$; the sentence under it is computed from it.

# %% tags=["remove-input"]
table = ev["table"]
exp_scale = ev["experiment_scale"]
display(Markdown("Exponents at the synthetic experiments' grid:\n\n" + theory.number_table(exp_scale, 3)))
display(Markdown(page.scale_text(exp_scale)))
display(Markdown(page.long_T_text(table)))
display(Markdown("Exponents for a range of settings ($k/4$ is the exponent the paper gives if $\\hat F$ may have five "
                 "layers, see the end of the page):\n\n" + theory.number_table(table, 3)))

# %% tags=["remove-input"]
curve = ev["curve"]
fig_k = page.exponent_figure(curve, page.exponent_scale(P))
save_figure(fig_k, curve, "theory-too-few-heads-k", meta={"params": P})
glue_figure("fig-theory-too-few-heads-k", fig_k)

# %% [markdown]
# ```{glue:figure} fig-theory-too-few-heads-k
# :name: fig-theory-too-few-heads-k
#
# The lower-bound exponent $k(T)$ for four settings (closed form). The grey band is $k \le 0$, where the bound is
# vacuous; each dotted vertical line is that setting's threshold $4((n+2)s+D)$. Black crosses: $k$ at the synthetic
# experiment's lengths $T = 8, \dots, 128$ with $h = 3$, $n = 8$, $D = 4$.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("theory-too-few-heads-k")))

# %% [markdown]
# ## Lemma 4: a large Lipschitz constant needs many parameters
#
# ```{prf:lemma} Lipschitz constant and size (the paper's Lemma 4)
# :label: lem-lipschitz-size
# :nonumber:
#
# Let $\hat F(x) = V\sigma(Ux + b) + c$ be a two-layer network with every entry at most 1 in magnitude and $\sigma$
# 1-Lipschitz, with input width $n$. If $\lVert v_1 - v_2 \rVert_2 \le A$ and $|\hat F(v_1) - \hat F(v_2)| \ge B$, then
# $\hat F$ has $\Omega(B / (A\sqrt n))$ parameters.
# ```
#
# The proof is one line: $|\Delta \hat F_j| = |\sum_k V_{jk} \Delta\sigma_k| \le \sum_k |u_k^\top \Delta x| \le p \sqrt n \lVert \Delta x\rVert$ for
# hidden width $p$, since each row $u_k$ has $n$ entries of size at most 1. We check the inequality on random networks
# (entries uniform in $[-1, 1]$, ReLU and tanh, pairs at scales from $10^{-3}$ to $10$, half of them along the sign
# pattern of a row of $U$), and test whether it is tight: with all entries 1 and every unit active, a step along the
# all-ones direction should reach it exactly.

# %% tags=["remove-input"]
l4 = ev["lemma4"]
display(Markdown(shown_table(theory.number_table(l4, 4))))
display(Markdown(page.lemma4_text(l4)))

# %% [markdown]
# ## Lemma 5: a feature grows linearly near its minimiser
#
# ```{prf:lemma} Local linear growth (the paper's Lemma 5)
# :label: lem-linear-growth
# :nonumber:
#
# Under Assumption 2, there is a segment $G_i = \{x^{(i)} + t v_i : t \in [r/4, r/2]\}$ inside the ball $B(x^{(i)}, r)$ on
# which $|f_i(x) - f_i(y)| \ge L_i \lVert x - y \rVert$ with $L_i = \lambda_{\min}(\nabla^2 f_i(x^{(i)}))\, r / 8$, and $f_i > z_i$
# on $G_i$.
# ```
#
# This is what lets the proof place a fine grid of $\Theta(1/\varepsilon)$ distinguishable values on each free position.
# Concrete feature: $f(x) = 1 - \exp(-\tfrac12 (x - x^*)^\top A (x - x^*))$ on $[0,1]^2$ with $x^* = (0.4, 0.6)$ and
# $A = \begin{pmatrix} 6 & 2 \\ 2 & 3 \end{pmatrix}$: $C^2$, values in $[0,1)$, unique minimiser with Hessian $A$. It
# is concave far from $x^*$, so $r$ cannot be arbitrary: we take the largest $r$ on a grid for which the Hessian stays
# $\succeq \lambda_{\min}/2$ at random points of $B(x^*, r)$ (the region where the lemma's Taylor argument holds),
# then test many directions $v$ and random pairs on each segment.

# %% tags=["remove-input"]
l5, r5, lam5 = ev["lemma5"], ev["lemma5_r"], ev["lemma5_lambda"]
display(Markdown(page.lemma5_text(l5, r5, lam5)))

# %% [markdown]
# ## The mechanism, on max + min with one head
#
# The proof finds two sequences whose head outputs nearly coincide but whose targets differ by at least $3\varepsilon$.
# A feed-forward block that is $\varepsilon$-accurate on both must change by at least $|H(W_1) - H(W_2)| - 2\varepsilon$
# between two nearly equal inputs, so it needs a large Lipschitz constant, and by Lemma 4 a large width. We
# illustrate this (it is not a proof: the theorem covers every model of the class, we test a handful). For a given
# model we draw base sequences in $[0.1, 0.9]^T$ and pair each with copies in which the maximum token moves up, the
# minimum token moves down, or both, by a multiple of $\varepsilon$; we report the largest
# $(|\Delta H| - 2\varepsilon) / \lVert \Delta u \rVert$, with $u$ the vector fed to $\hat F$.
#
# Models: random one-head models ($n = 2$, encoder width 16) moved into Assumption 1 (entries clipped to $[-1, 1]$,
# encoder output norm at most 1), at two temperatures; the min-retrieving head of the Theorem 2(1) construction alone; the
# full $h = D = 2$ construction at the proof's temperature; and, for reference, a random bounded two-head model at $\beta = 1$.

# %% tags=["remove-input"]
mech = ev["mechanism"]
fig_m = page.mechanism_figure(mech, page.mechanism_scale(P))
save_figure(fig_m, mech, "theory-too-few-heads-mechanism", meta={"params": P})
glue_figure("fig-theory-too-few-heads-mechanism", fig_m)

# %% [markdown]
# ```{glue:figure} fig-theory-too-few-heads-mechanism
# :name: fig-theory-too-few-heads-mechanism
#
# The Lipschitz constant the feed-forward block would need, found by the pair search, against $T$. Red: one-head
# models (random bounded ones, and the construction's min head alone). Blue: the $h = D$ construction. Grey dashed: a
# random bounded two-head model. Infinite values (head outputs identical within a pair) are drawn on the dotted line.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("theory-too-few-heads-mechanism")))
display(Markdown(page.mechanism_text(mech)))
display(Markdown(shown_table(theory.number_table(mech, 3))))

# %% [markdown]
# **Reading it.** A head whose weights obey Assumption 1 and whose temperature is moderate spreads its attention over
# all $T$ tokens, so moving one token changes its output by $O(1/T)$: the block must amplify by $O(T)$. A sharp head
# (large $\beta$) avoids the dilution but sees only what it attends to; the other extreme then does not reach
# $\hat F$ at all. With $h = D$ each feature gets its own sharp head, so no such amplification should be needed.
# The last column turns the constant into the hidden width Lemma 4 requires of a two-layer block with entries at most 1,
# $p \ge L / \sqrt{E}$. The theorem's $1/\varepsilon^{k}$ comes from pushing the same idea through
# $\Theta(1/\varepsilon)$-fine grids on $T/4 - s - D + 1$ free positions at once (pigeonhole), which no search over a few
# hundred pairs can reproduce.
#
# ## Tightness (Remark A.2.2)
#
# The paper notes the bound depends on the restrictions on $\hat F$: with Heaviside activations matching upper bounds
# can be built; with parameter norms allowed to grow like $T^{1/\varepsilon}$ the count drops to $O(1/\varepsilon^{\gamma+1})$;
# and with a five-layer $\hat F$ the lower bound becomes $\Omega(1/\varepsilon^{k/4})$ (the $k/4$ column above). These are
# statements about all networks of a class, with nothing to compute (claim C29, verdict below); the
# {ref}`memorisation page <theory-memorise>` builds a five-layer ReLU readout with large weights for one head of width
# $T d$ and measures its parameter count.

# %% [markdown]
# ## Verdicts

# %% tags=["remove-input"]
vs = judging.page_verdicts("theory_too_few_heads", P, ev)
claims.record("theory_too_few_heads", vs)
display(Markdown(claims.markdown_table(vs)))
display(Markdown(f"Page computed in {time.perf_counter() - t_start:.1f} s."))

# %% tags=["remove-input"]
display(Markdown(rerun_markdown("theory_too_few_heads", P)))
