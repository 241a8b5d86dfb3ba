"""The paper's own numbers, in one place: its transcribed tables (data/paper_tables, one CSV each, first line
saying what it is) and the constants its text states. Everything here is the paper's, never ours: pages
show these beside our numbers, labelled as the paper's.
"""

from __future__ import annotations

import pandas as pd

from headcount.paths import REPO

PAPER_TABLES = REPO / "data" / "paper_tables"

# Synthetic experiments (Section 6.1, Appendix B.1)
SYNTHETIC = dict(D=4, d=4, n=8, N=32)  # the setting of Figure 1a and Table 2
FIXED_E = 32  # the fixed total width E = n h of Tables 3 and 4

# MS MARCO (Section 6.2, Appendix B.2)
MSMARCO_H_STAR = 12  # where the paper sees the T-dependence of training accuracy vanish
MSMARCO_ALPHA, MSMARCO_DELTA = -1.40, 0.25  # the fitted error law of Fig. 2b (c and beta not reported)
MSMARCO_FIT_EXCLUDE = (1, 12, 14, 16)  # head counts the paper leaves out of that fit
MSMARCO_SCALE = ("paper: 28,000 training and 2,000 validation queries per T, negatives mined from the 8.8M-passage "
                 "collection, BERT embeddings of width 768, per-head width n = 32")

# CIFAR-10 (Section 6.2, Appendix B.3)
CIFAR_H_STAR = 10  # where the paper places the transition (Fig. 2c, 2d)
CIFAR_PATCH = 4  # the patch size that turns the paper's canvases {32, ..., 128} into its tables' T values
CIFAR_VAL_PEAK = (8, 12)  # C28: validation accuracy peaks at h in this range


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's transcribed tables by file stem prefix, e.g. 'table2' -> DataFrame.

    The first line of each file says what it is; it is kept in `df.attrs['caption']`."""
    matches = sorted(PAPER_TABLES.glob(f"{name}*.csv"))
    if len(matches) != 1:
        avail = sorted(p.stem.split("_")[0] for p in PAPER_TABLES.glob("*.csv"))
        raise ValueError(f"paper table {name!r} not found; available: {avail}")
    caption = matches[0].read_text().splitlines()[0].lstrip("# ").strip()
    df = pd.read_csv(matches[0], comment="#")
    df.attrs["caption"] = caption
    return df
