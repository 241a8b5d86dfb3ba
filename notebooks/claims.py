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
# Each page of this book judges the claims it is about from the numbers it computes, with a check that
# can fail, and records the verdict. This page collects them all, with the tier at which they were
# judged. Claims of the paper that no page of this build judges are listed as **not yet covered**.
# Verdicts: *reproduced* (every sub-check passes), *partly reproduced*, *not reproduced*, *not tested
# at this tier*.

# %% tags=["parameters", "remove-cell"]
tier = "laptop"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from headcount.pages import claims as page

page.SPEC.resolve(tier=tier)
ledger = page.ledger_table()
display(Markdown(f"**Summary** ({len(ledger)} rows): {page.summary(ledger)}."))
display(Markdown(page.markdown(ledger)))
