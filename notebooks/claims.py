# ---
# jupyter:
#   jupytext:
#     text_representation: {extension: .py, format_name: percent}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
# ---

# %% [markdown]
# (claims-ledger)=
# # Every claim and its verdict
#
# Each page of this book judges the claims it is about from the numbers it computes, with checks that
# can fail, and records the verdicts. This page collects them, one entry per claim of the paper (a claim
# with parts judged apart has an id per part, e.g. C17a, C17b), in the paper's notation, with the tier
# at which it was judged and a link to the section or figure of its evidence. A claim of the paper that no
# page of this build judges is listed as **not yet covered**.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from headcount.book.plots import rerun_markdown

from headcount.book.pages import claims as page

page.SPEC.resolve(tier=tier)
ledger = page.ledger_table()
display(Markdown("**How a verdict is reached.** " + page.rule()))

# %% [markdown]
# ## Summary

# %% tags=["remove-input"]
extra = page.tier_summary(ledger)
display(Markdown(f"{len(ledger)} claims. {page.summary(ledger)}." + (f" {extra}." if extra else "")
                 + "\n\n" + page.overview(ledger)))

# %% [markdown]
# ## The claims one by one

# %% tags=["remove-input"]
display(Markdown(page.markdown(ledger)))

# %% tags=["remove-input"]
display(Markdown(rerun_markdown("claims", {"tier": tier})))
