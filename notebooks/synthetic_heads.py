# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# (synthetic-heads)=
# # Head count on the synthetic task: the transition at h = D
#
# The paper's central experiment (its Section 6.1, Figure 1a and Table 2). A single-layer transformer
# exactly as equation (4) (two-layer ReLU encoder of width $N$, no positional encoding, a trainable
# class token $c_0$ that alone queries, $h$ heads of width $n$, $W_O$, then a two-layer GELU block of
# width $N$ to a scalar) is trained on
#
# $$ y = \sum_{i=1}^{D} \max_{1 \le t \le T} a_i^\top x(t), \qquad x(t) \sim \mathcal N(0, I_d), $$
#
# a generalized $D$-retrieval target with $D = 4$ features. Theorem 2 predicts that with $h \ge D$ heads
# the error needs parameters independent of $T$, while with $h < D$ it needs parameters exponential in
# $T$: at a fixed model size, the error should drop sharply at $h = D$ and, below $D$, grow with $T$.
#
# **What is ours and what is the paper's.** Every number in our series and tables below is computed by
# this page's code at the tier stated; the paper's Table 2 values are drawn as separate dotted series (× markers,
# in the colour of the same $T$) and printed in their own column.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from headcount import claims
from headcount.book import judging
from headcount.book.pages import synthetic_heads as page
from headcount.book.plots import downloads_markdown, glue_figure, rerun_markdown, save_figure, save_interactive
from headcount.engine.store import default_store

P = page.SPEC.resolve_from(globals())  # the tier's parameters and a run's injected values, validated
display(Markdown(page.parameters_markdown(P)))

# %% [markdown]
# ## Choices the paper does not specify
#
# - **The vectors $a_i$**: drawn from a standard normal with the seed `a_seed` and scaled to unit length,
#   so that the $D$ features share one scale. They are printed below.
# - **Optimiser**: Adam, no weight decay, learning rate `lr` with cosine decay to zero over all steps;
#   mean-squared error on targets standardised with the training set's mean and standard deviation (NMSE
#   does not change under that affine map); `epochs` full passes in minibatches of `batch_size`.
# - **Initialisation**: PyTorch's default uniform initialisation for the two MLPs; $W_Q, W_K, W_V, W_O$
#   and $c_0$ normal with standard deviation $1/\sqrt{E}$; temperature $\beta = 1$ (a trained model can
#   scale its logits itself). No attention biases, as in equation (4).
# - **Data**: one training set and one validation set per $T$ (seed `data_seed`), shared by every model
#   seed, so seeds vary only the initialisation and the minibatch order.
# - **Metric**: NMSE = MSE / Var(y) on the validation set, at the end of training (no early stopping).
#   The claims are judged on the **minimum over seeds**, the quantity the paper plots in its Figure 1a; its
#   Table 2 gives means ± standard deviations, which we compare with our means. A standard deviation is
#   printed only where there are two or more seeds.

# %% tags=["remove-input"]
display(Markdown(page.a_markdown(P)))

# %% tags=["remove-input"]
ev = page.evidence(P, default_store())
R = page.results(P, ev)
display(Markdown(R["store"]))

# %% tags=["remove-input"]
fig = page.figure(R["summary"], P["D"], R["paper"], R["scale"])
save_figure(fig, R["side"], "synthetic-heads-nmse", meta=R["meta"])
glue_figure("fig-synthetic-heads-nmse", fig)
save_interactive(page.interactive_figure(ev["runs"], R["summary"], P["D"], R["paper"], R["scale"]), "synthetic-heads-nmse")

# %% [markdown]
# ```{glue:figure} fig-synthetic-heads-nmse
# :name: fig-synthetic-heads-nmse
#
# Validation NMSE against the number of heads $h$, one colour per sequence length $T$. Left, means over
# seeds: ours solid, with a band from mean − std to mean + std where there are two or more seeds; dotted
# with × markers, same colour: the paper's Table 2 means for the same $T$ (shown only when the page runs
# the paper's setting $D = d = 4$, $n = 8$, $N = 32$). Right: ours, the minimum over seeds, the quantity
# the verdicts are computed from (the paper tabulates no minima). The dashed vertical line marks $h = D$.
# Tier and scale are in the title.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("synthetic-heads-nmse", interactive=True)))
display(Markdown(page.side_markdown(R["side"])))

# %% tags=["remove-input"]
fig_T = page.figure_vs_T(R["summary"], P["D"], R["paper"], R["scale"])
save_figure(fig_T, R["side"], "synthetic-heads-nmse-vs-T", meta=R["meta"])
glue_figure("fig-synthetic-heads-nmse-vs-T", fig_T)

# %% [markdown]
# ```{glue:figure} fig-synthetic-heads-nmse-vs-T
# :name: fig-synthetic-heads-nmse-vs-T
#
# The same results against $T$ (log-log), one colour per $h$. Left, $h < D$: the theory predicts error
# growing with $T$ at a fixed model size. Right, $h \ge D$: the error should not grow with $T$. Solid: ours,
# mean over seeds; thin dashed: ours, minimum over seeds; dotted with × markers: the paper's Table 2 means.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("synthetic-heads-nmse-vs-T")))

# %% [markdown]
# ## The claims of this experiment, judged on our numbers
#
# Each claim is judged on the minimum NMSE over seeds. **C15**: the drop from $h = D-1$ to $h = D$ is at least
# 10× (one order of magnitude) at every $T$ (core); supporting: at most $10^{2.5}$× (the paper's range) and
# the largest drop between consecutive head counts. **C16a**: for every $h < D$, the NMSE at the longest $T$
# is more than $1 +$ `trend_tol` times that at the shortest $T$ (core); supporting: it grows at every step of
# the $T$ grid. **C16b**: for every $h \ge D$ it is at most $1 +$ `trend_tol` times (core, the same tolerance);
# supporting: it grows less than every $h < D$. A $T$ or $h$ whose NMSE is at chance (near 1, what
# predicting the mean gives) is no evidence. Each verdict is recomputed with each seed left out in turn.

# %% tags=["remove-input"]
vs = judging.page_verdicts("synthetic_heads", P, ev)
claims.record("synthetic_heads", vs)
display(Markdown(page.verdicts_markdown(vs, R, P)))

# %% [markdown]
# (synthetic-heads-c16b)=
# ## The error at $h \ge D$ against $T$: what drives it (C16b)
#
# C16b asks whether the error at $h \ge D$ stays flat or falls with $T$; the sentences below say, from the
# numbers, which way ours goes, which way the paper's Table 2 goes, and where they differ. Three explanations of
# a difference can be tested from the stored runs and the data they were trained on, without training anything
# new. **Normalisation**: our NMSE
# divides the squared error by the variance of the validation targets, and that variance changes with $T$
# (the target is a sum of maxima over $T$ tokens); the page recomputes the error divided by $E[y^2]$, by
# the training targets' variance, and undivided (the MSE is recovered exactly as NMSE times the variance).
# **Seeds that miss the solution**: at $h = D$ single seeds can land far from the best error, so a mean can
# rise through the share of such seeds rather than through the error of the seeds that succeed; the page
# counts, per $(h, T)$, the seeds within `seed_floor_factor` of the best $h \ge D$ seed at that $T$.
# **Training budget and data** (learning rate, epochs, fresh draws per epoch) need new runs and are not
# tested on this page. The verdict of C16b above stays computed from the stated definition (NMSE by the
# validation variance); the alternatives below are shown as such.

# %% tags=["remove-input"]
study = page.c16b_study(P, ev["runs"], R["paper"])
display(Markdown(page.c16b_markdown(study)))

# %% [markdown]
# ## Reading the result
#
# The size of the jump at $h = D$ is what the theory is about: with $D$ heads each head can retrieve one
# feature ($\max_t a_i^\top x(t)$) by attending to its arg-max token, and the feed-forward block only has
# to add the $D$ retrieved numbers; with fewer heads at least one head must carry information about two
# features at once, which a softmax average over $T$ tokens cannot do without the feed-forward block
# untangling a mixture whose complexity grows with $T$.
#
# The table above puts our absolute NMSE values beside the paper's. The paper does not state its optimiser,
# schedule or number of epochs; ours are in the parameter table (`epochs`). The
# {ref}`zoom and reversal page <ablation-zoom-reversal>` trains the $h = D$ models longer and reports how the
# error against $T$ changes with the training length. The `paper` tier runs the paper's full grid ($T$ up to
# 128, five seeds) with longer training; the book shows this page executed at both tiers from their stored
# runs: {doc}`at the laptop tier </nb/synthetic_heads>` and {doc}`at the paper tier </nb/paper/synthetic_heads>`.

# %% tags=["remove-input"]
display(Markdown(rerun_markdown("synthetic_heads", P, example='-p D 3 -p h_grid "[1, 2, 3, 4]" -p T_grid "[8, 32]"')))
