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
# this page's code at the tier stated; the paper's Table 2 values are drawn as a separate black dotted
# series and printed in their own column.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"
D = None
d = None
a_seed = None
T_grid = None
h_grid = None
n = None
N = None
seeds = None
epochs = None
lr = None
batch_size = None
n_train = None
n_val = None
data_seed = None
engine = None

# %% tags=["remove-input"]
import torch
from IPython.display import Markdown, display

from headcount import claims, synthetic
from headcount.pages import synthetic_heads as page
from headcount.plots import downloads_markdown, glue_figure, markdown_table, save_figure
from headcount.store import default_store
from headcount.sweep import sweep
from headcount.tasks import draw_a

P = page.SPEC.resolve_from(globals())  # the parameters cell's values, validated
torch.set_num_threads(1)  # one thread: on 2 shared cores two threads ran ~10x slower per epoch
display(Markdown(f"**Tier `{P['tier']}`.** Parameters of this page (every choice the paper leaves open is here):\n\n"
                 + page.SPEC.table(P)))

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
#   Like the paper we plot the **minimum over seeds** and tabulate mean ± standard deviation.

# %% tags=["remove-input"]
a = draw_a(P["D"], P["d"], P["a_seed"])
display(Markdown("The $a_i$ used here (rows):\n\n| i | " + " | ".join(f"coord {j + 1}" for j in range(P["d"]))
                 + " |\n|---|" + "---|" * P["d"] + "\n"
                 + "\n".join(f"| {i + 1} | " + " | ".join(f"{v:+.4f}" for v in row) + " |" for i, row in enumerate(a.tolist()))))

# %% tags=["remove-input"]
configs = page.run_configs(P)
result = sweep(synthetic.experiment(P["engine"]), configs, default_store())
df = result.frame()
summary = synthetic.summarise(df)
paper = page.paper_summary() if (P["D"], P["d"], P["n"], P["N"]) == (4, 4, 8, 32) else None
scale = (f"tier {P['tier']}: T in {P['T_grid']}, h in {P['h_grid']}, {len(P['seeds'])} seeds, "
         f"{P['n_train']} train / {P['n_val']} val, {P['epochs']} epochs")
display(Markdown(f"Store: {result.summary()}. Training time of the runs computed now or earlier, summed: "
                 f"{df['train_seconds'].sum():.0f} s."))

# %% tags=["remove-input"]
fig = page.figure(summary, P["D"], paper, scale)
side = page.side_by_side(summary, paper if paper is not None else page.paper_summary().iloc[0:0])
save_figure(fig, side, "synthetic-heads-nmse", meta={"params": P, "code_hash": result.records[0]["code_hash"]})
glue_figure("fig-synthetic-heads", fig)

# %% [markdown]
# ```{glue:figure} fig-synthetic-heads
# :name: fig-synthetic-heads
#
# Validation NMSE against the number of heads $h$, one coloured line per sequence length $T$ (ours: the
# minimum over seeds, with a band from mean − std to mean + std). Dotted lines with × markers, same
# colour: the paper's Table 2 means for the same $T$ (shown only when the page runs the paper's setting
# $D = d = 4$, $n = 8$, $N = 32$). The dashed vertical line marks $h = D$. Tier and scale are in the title.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("synthetic-heads-nmse")))
display(Markdown("### Ours beside the paper's Table 2\n\n" + markdown_table(page.format_table(side))))

# %% tags=["remove-input"]
fig_T = page.figure_vs_T(summary, P["D"], paper, scale)
save_figure(fig_T, side, "synthetic-heads-nmse-vs-T", meta={"params": P, "code_hash": result.records[0]["code_hash"]})
glue_figure("fig-synthetic-heads-vs-T", fig_T)

# %% [markdown]
# ```{glue:figure} fig-synthetic-heads-vs-T
# :name: fig-synthetic-heads-vs-T
#
# The same results against $T$ (log-log). Left, $h < D$: the theory predicts error growing with $T$ at a
# fixed model size. Right, $h \ge D$: the error should not grow with $T$. Solid: ours (minimum over seeds);
# dotted, same colour: the paper's Table 2 means.
# ```

# %% tags=["remove-input"]
display(Markdown(downloads_markdown("synthetic-heads-nmse-vs-T")))

# %% [markdown]
# ## The claims of this experiment, judged on our numbers
#
# (a) NMSE drops by at least 10× from $h = D-1$ to $h = D$ at every $T$ (on the minimum over seeds, the
# quantity the paper plots); (b) for $h < D$, NMSE grows with $T$; (c) for $h \ge D$ the $T$-dependence
# flattens. Each verdict below is computed from the table above.

# %% tags=["remove-input"]
vs = page.verdicts(summary, P["D"], P["tier"])
claims.record("synthetic_heads", vs)
display(Markdown(claims.markdown_table(vs)))
failed = [v for v in vs if v.verdict != claims.REPRODUCED]
if failed:
    display(Markdown("**Not (fully) reproduced at this tier:** " + "; ".join(
        f"{v.claim_id} ({v.verdict})" for v in failed)
        + ". The evidence column gives the numbers; the paragraphs below discuss why, as far as we know."))
if any(v.claim_id == "C16b" and v.verdict != claims.REPRODUCED for v in vs):
    above = summary[summary["h"] >= P["D"]]
    trend = ""
    if paper is not None:
        pD = paper[(paper["h"] == P["D"]) & paper["T"].isin(P["T_grid"])].sort_values("T")
        trend = (f" The paper's Table 2 means at $h = D$ keep falling with $T$ ({pD['mean'].iloc[0]:.1e} at "
                 f"$T = {pD['T'].iloc[0]}$, {pD['mean'].iloc[-1]:.1e} at $T = {pD['T'].iloc[-1]}$); ours do not.")
    display(Markdown(
        f"**Why (c) fails here.** For $h \\ge D$ our minimum NMSE stays between {above['min'].min():.1e} and "
        f"{above['min'].max():.1e} at every $T$, and it rises from the shortest to the longest $T$." + trend +
        " At that level a rise of some tens of percent is comparable to the growth of the $h < D$ curves over the"
        " same short range of $T$, so the strict comparison in (c) does not separate the two sides. The drop at"
        " $h = D$ itself, claim (a), is two orders of magnitude larger than either trend. Whether the rise is a"
        " matter of training length is taken up below."))

# %% [markdown]
# ## Reading the result
#
# The size of the jump at $h = D$ is what the theory is about: with $D$ heads each head can retrieve one
# feature ($\max_t a_i^\top x(t)$) by attending to its arg-max token, and the feed-forward block only has
# to add the $D$ retrieved numbers; with fewer heads at least one head must carry information about two
# features at once, which a softmax average over $T$ tokens cannot do without the feed-forward block
# untangling a mixture whose complexity grows with $T$.
#
# Our absolute NMSE values differ from the paper's (the table above has both): the paper does not state
# its optimiser, schedule or number of epochs, and the laptop tier trains for 100 epochs on two CPU cores.
# Training length does not explain everything, though: the longer-training check of the
# {ref}`zoom and reversal page <ablation-zoom-reversal>` trains the $h = D$ models three times longer at the
# laptop tier, and their error falls several-fold but still grows with $T$, where the paper's Table 2 means
# at $h = D$ fall with $T$. We do not know the reason for that difference. The `paper` tier runs the
# paper's full grid ($T$ up to 128, five seeds) for 400 epochs.
#
# To rerun this page with other settings, e.g. another intrinsic dimension:
#
# ```bash
# .venv/bin/headcount run synthetic_heads --tier laptop -p D 3 -p h_grid "[1, 2, 3, 4]" -p T_grid "[8, 32]"
# ```
