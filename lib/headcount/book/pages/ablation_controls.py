"""Page: three controls of the head-count transition (paper Tables 3, 4, 5; claims C19, C20, C21).

- fixed total width: E = n h held at E (n = ceil(E / h)) while h varies; the transition should stay at h = D;
- another intrinsic dimension: the sum-of-max task with D_other features; the transition should move to
  h = D_other;
- depth: the L-layer model (no positional encoding, no LayerNorm, fixed E) on the D task; the transition
  should move to the smallest h with L h >= D (Conjecture 1).

All runs go through the shared store experiment "synthetic" with the head-count page's training settings,
so the fixed-E run with n = 8 (h = 4 when E = 32) is shared with that page.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from headcount import analysis, claims
from headcount.engine import synthetic
from headcount.params import Param, ParamSpec
from headcount.book.plots import markdown_table, new_figure
from headcount.paper import paper_table
from headcount.engine.sweep import sweep
from headcount.book.pages import synthetic_heads
from headcount.book.pages.ablation_width import _param, shared_settings

TRAIN = ("epochs", "lr", "batch_size", "n_train", "n_val", "data_seed")

PARAMS = [
    *(_param(k) for k in ("D", "d", "a_seed")),
    Param("E", "int", "total width E = n h held fixed: each h gets per-head width n = ceil(E / h)", minimum=1),
    _param("N"),
    _param("T_grid"),
    Param("h_grid", "int_list", "head counts h of the fixed-E section", minimum=1),
    Param("D_other", "int", "intrinsic dimension of the second task (paper Table 4: 3)", minimum=1),
    Param("h_grid_other", "int_list", "head counts h of the other-D section (paper Table 4: 1 to 4)", minimum=1),
    Param("d_other", "int", "token width of the second task (the paper does not say; we use the main task's 4, "
          "so only the number of features changes)", minimum=1),
    Param("L", "int", "number of layers of the depth section (paper Table 5: 2)", minimum=2),
    Param("h_grid_depth", "int_list", "head counts h of the depth section", minimum=1),
    Param("T_grid_depth", "int_list", "sequence lengths T of the depth section (L-layer models train one at a "
          "time, so this grid can be smaller)", minimum=1),
    _param("seeds"),
    Param("seeds_depth", "int_list", "model seeds of the depth section", minimum=0),
    *(_param(k) for k in (*TRAIN, "engine")),
    Param("factor", "float", "the drop at the transition must be at least this many-fold (and the largest)",
          minimum=1.0),
]


def transition_h(D: int, L: int = 1) -> int:
    """The smallest h with L h >= D: where the transition should sit for L layers (Conjecture 1)."""
    return math.ceil(D / L)


def _rule_pairs(P: dict) -> str | None:
    """Each section's head grid must hold both sides of its predicted transition."""
    for name, h_star, key in ((f"D = {P['D']}", P["D"], "h_grid"), (f"D_other = {P['D_other']}", P["D_other"], "h_grid_other"),
                              (f"L h >= D, i.e. h = ceil({P['D']}/{P['L']})", transition_h(P["D"], P["L"]), "h_grid_depth")):
        if h_star >= 2 and not {h_star - 1, h_star} <= set(P[key]):
            return (f"{key} must contain {h_star - 1} and {h_star} to locate the transition at {name}; "
                    f"got {P[key]}")
    return None


_COMMON = dict(E=32, N=32, D_other=3, d_other=4, L=2, factor=10.0)
_S = {t: {k: v for k, v in shared_settings(t).items() if k in ("D", "d", "a_seed", *TRAIN, "engine")}
      for t in ("smoke", "laptop", "paper")}
SPEC = ParamSpec(
    notebook="ablation_controls",
    params=PARAMS,
    tiers={
        "smoke": {**_S["smoke"], **_COMMON, "T_grid": [8], "h_grid": [2, 3, 4], "h_grid_other": [2, 3],
                  "h_grid_depth": [1, 2],
                  "T_grid_depth": [8], "seeds": [0], "seeds_depth": [0]},
        # laptop: the L-layer models train one at a time (a stack of them measured no faster), so the depth
        # section runs the two T of the other sections with one seed (about 9 minutes of the page's 16)
        "laptop": {**_S["laptop"], **_COMMON, "T_grid": [8, 32], "h_grid": [1, 2, 3, 4, 5], "h_grid_other": [1, 2, 3, 4],
                   "h_grid_depth": [1, 2, 3], "T_grid_depth": [8, 32], "seeds": [0, 1], "seeds_depth": [0]},
        "paper": {**_S["paper"], **_COMMON, "T_grid": [8, 16, 32, 64, 128], "h_grid": [1, 2, 3, 4, 5],
                  "h_grid_other": [1, 2, 3, 4],
                  "h_grid_depth": [1, 2, 3, 4, 5], "T_grid_depth": [8, 16, 32, 64, 128], "seeds": [0, 1, 2],
                  "seeds_depth": [0, 1, 2]},
    },
    rules=[_rule_pairs],
)

SECTIONS = ("fixed_E", "other_D", "depth")


def _fixed_E(base: dict, E: int, hs, **axes) -> list[dict]:
    # n depends on h, so the grid is built one h at a time
    out = []
    for h in hs:
        out += synthetic.configs({**base, "h": h, "n": math.ceil(E / h)}, **axes)
    return out


def run_configs(P: dict, section: str) -> list[dict]:
    """SyntheticRun dicts of one section: 'fixed_E', 'other_D' or 'depth'."""
    base = synthetic.run_fields(P, task="sum_of_max")  # D, d, a_seed, N and the TRAIN settings
    if section == "fixed_E":
        return _fixed_E(base, P["E"], P["h_grid"], T=P["T_grid"], seed=P["seeds"])
    if section == "other_D":
        return _fixed_E({**base, "D": P["D_other"], "d": P["d_other"]}, P["E"], P["h_grid_other"], T=P["T_grid"],
                        seed=P["seeds"])
    if section == "depth":
        return _fixed_E({**base, "n_layers": P["L"]}, P["E"], P["h_grid_depth"], T=P["T_grid_depth"],
                        seed=P["seeds_depth"])
    raise ValueError(f"section must be one of {SECTIONS}, got {section!r}")


def sweeps(P: dict):
    exp = synthetic.experiment(P["engine"])
    return [(exp, run_configs(P, s)) for s in SECTIONS]


def h_star(P: dict, section: str) -> int:
    """The predicted transition of a section: D, D_other, or ceil(D / L)."""
    return {"fixed_E": P["D"], "other_D": P["D_other"], "depth": transition_h(P["D"], P["L"])}[section]


def paper_values(P: dict, section: str) -> pd.DataFrame | None:
    """The paper's table for a section as (h, T, nmse) when the page runs the paper's setting, else None.

    Table 3: D = d = 4, E = 32, N = 32; Table 4: D_other = 3, E = 32, N = 32 (its token width is not
    stated, so any d_other is compared); Table 5: D = d = 4, L = 2, E = 32, N = 32."""
    main = (P["E"], P["N"]) == (32, 32)
    if section == "fixed_E" and main and (P["D"], P["d"]) == (4, 4):
        return paper_table("table3")
    if section == "other_D" and main and P["D_other"] == 3:
        return paper_table("table4")
    if section == "depth" and main and (P["D"], P["d"], P["L"]) == (4, 4, 2):
        return paper_table("table5")
    return None


PAPER_NAME = {"fixed_E": "Table 3", "other_D": "Table 4", "depth": "Table 5"}


def figure(summary: pd.DataFrame, paper: pd.DataFrame | None, marks: list[tuple[float, str]], title: str,
           paper_label: str):
    """NMSE vs h (log y), one colour per T: ours solid (min over seeds, band mean +- std), the paper's
    values dotted with x markers in the same colour; vertical dashed lines at `marks` [(h, label)]."""
    fig, (ax,) = new_figure(width=6.0, height=4.2)
    Ts = sorted(set(summary["T"]) | (set(paper["T"]) if paper is not None else set()))
    synthetic_heads.draw_nmse_vs_h(ax, summary, paper, Ts, "nmse", f"{paper_label} (as printed)", paper_alpha=0.75,
                                   ours_col="min", ours_label="min over seeds")
    for i, (x, label) in enumerate(marks):
        ax.axvline(x, color="grey", linestyle="--" if i == 0 else "-.", linewidth=1)
        ax.text(x, 1.0 - 0.06 * i, f" {label}", transform=ax.get_xaxis_transform(), va="top", fontsize=8,
                color="grey")
    ax.set_yscale("log")
    hs = sorted(set(summary["h"]) | (set(paper["h"]) if paper is not None else set()))
    ax.set_xticks(hs)
    ax.set_xlabel("number of heads h")
    ax.set_ylabel("validation NMSE (ours: min over seeds; paper: as printed)", fontsize=8)
    ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not labels[i].startswith("ours"))  # ours first, then the paper's
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, loc="lower left", ncol=2)
    return fig


def side_by_side(summary: pd.DataFrame, paper: pd.DataFrame | None, ns: dict[int, int]) -> pd.DataFrame:
    """Tidy table per (h, T): n, ours (min, mean, std, seeds) and the paper's value (NaN where absent)."""
    out = summary.rename(columns={"min": "ours_min", "mean": "ours_mean", "std": "ours_std", "seeds": "ours_seeds"})
    out.insert(1, "n", out["h"].map(ns))
    if paper is not None:
        out = out.merge(paper.rename(columns={"nmse": "paper"}), on=["h", "T"], how="left")
    else:
        out["paper"] = np.nan
    return out.sort_values(["h", "T"]).reset_index(drop=True)


def format_table(side: pd.DataFrame, paper_label: str) -> pd.DataFrame:
    out = pd.DataFrame({"h": side["h"], "n": side["n"], "T": side["T"]})
    out["ours: min over seeds"] = side["ours_min"].map(lambda v: f"{v:.2e}")
    out["ours: mean ± std"] = [synthetic_heads.mean_std(m, s, k)
                               for m, s, k in zip(side["ours_mean"], side["ours_std"], side["ours_seeds"])]
    out["seeds"] = side["ours_seeds"]
    out[f"paper {paper_label}"] = side["paper"].map(lambda v: "—" if pd.isna(v) else f"{v:.2e}")
    return out


def ratio_table(summary: pd.DataFrame, paper: pd.DataFrame | None, h_star: int) -> pd.DataFrame:
    """Per T: the drop NMSE(h-1)/NMSE(h) at every consecutive pair, ours (min over seeds) and the paper's;
    the pair ending at h_star is the predicted transition."""
    ours = analysis.transition_ratios(summary, "min").rename(columns={"ratio": "ours"})
    if paper is not None:
        pap = analysis.transition_ratios(paper.rename(columns={"nmse": "min"}), "min").rename(columns={"ratio": "paper"})
        ours = ours.merge(pap, on=["T", "h"], how="left")
    else:
        ours["paper"] = np.nan
    out = pd.DataFrame({"T": ours["T"], "step": [f"h={h - 1}→{h}" + (" (predicted)" if h == h_star else "")
                                                 for h in ours["h"]]})
    out["ours: drop"] = ours["ours"].map(lambda v: f"{v:.1f}x")
    out["paper: drop"] = ours["paper"].map(lambda v: "—" if pd.isna(v) else f"{v:.1f}x")
    return out


CLAIM = {"fixed_E": "C19", "other_D": "C20", "depth": "C21"}


def verdict(summary: pd.DataFrame, P: dict, section: str) -> claims.Verdict:
    """C19 / C20 / C21 on our numbers (min over seeds): the transition sits at the predicted h (core: the drop
    into it is at least `factor` and the largest; supporting: larger h stay low; analysis.transition_at)."""
    hs = h_star(P, section)
    what = {
        "fixed_E": f"fixed E = {P['E']} (n = ceil(E/h)), D = {P['D']}: transition stays at h = D",
        "other_D": f"D = {P['D_other']} task, fixed E = {P['E']}: transition moves to h = D = {P['D_other']}",
        "depth": f"{P['L']}-layer model, D = {P['D']}, fixed E = {P['E']}: transition at the smallest h with L h >= D",
    }[section]
    return analysis.transition_at(summary, hs, CLAIM[section], what, col="min", factor=P["factor"])


# each claim rests on its own section's runs (the depth section has its own seeds)
CLAIM_TABLES = {"C19": ("fixed_E",), "C20": ("other_D",), "C21": ("depth",)}


def evidence(P: dict, store) -> dict:
    """Each section's runs, one row per (h, T, seed), under the section's name; the sweep results under
    'results'. The sections are the sweeps of `sweeps(P)`, in the order of SECTIONS."""
    results = {s: sweep(exp, configs, store) for s, (exp, configs) in zip(SECTIONS, sweeps(P), strict=True)}
    return {**{s: r.frame() for s, r in results.items()}, "results": results}


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    return [verdict(analysis.summarise(ev[s]), P, s) for s in SECTIONS]


def widths_text(P: dict, section: str) -> str:
    """The per-head widths a section runs, from the parameters: E = n h with n = ceil(E / h)."""
    hs = {"fixed_E": P["h_grid"], "other_D": P["h_grid_other"], "depth": P["h_grid_depth"]}[section]
    parts = [f"$h = {h}$: $n = {math.ceil(P['E'] / h)}$ ($n h = {math.ceil(P['E'] / h) * h}$)" for h in hs]
    return f"Fixed total width $E = n h = {P['E']}$, $n = \\lceil E/h \\rceil$: " + ", ".join(parts) + "."


def level_text(sides: dict[str, tuple[pd.DataFrame, int]]) -> str:
    """Our errors after each section's transition against the paper's table at the same (h, T): the range of
    ours / paper's (min over seeds against the value printed). Empty where the paper has no numbers."""
    out = []
    for name, (side, hs) in sides.items():
        after = side[(side["h"] >= hs) & side["paper"].notna()]
        if len(after):
            r = after["ours_min"] / after["paper"]
            out.append(f"{name}: ours is {r.min():.1f}x to {r.max():.1f}x the paper's value at $h \\ge {hs}$")
    return ("After the transition, " + "; ".join(out) + ".") if out else ""


def widths_title(P: dict, section: str) -> str:
    """The same widths for a figure title (plain text)."""
    hs = {"fixed_E": P["h_grid"], "other_D": P["h_grid_other"], "depth": P["h_grid_depth"]}[section]
    return (f"fixed E = n h = {P['E']} (n = " + ", ".join(str(math.ceil(P["E"] / h)) for h in hs)
            + " at h = " + ", ".join(map(str, hs)) + ")")


# ----------------------------------------------------------------------------------------------------
# What the notebook shows, computed here (the notebook only calls these and displays the result)
# ----------------------------------------------------------------------------------------------------

LABEL = {"fixed_E": "ablation-fixed-width", "other_D": "ablation-other-dimension", "depth": "ablation-depth"}


def parameters_markdown(P: dict) -> str:
    """The page's opening line: the tier and the table of every parameter."""
    return (f"**Tier `{P['tier']}`.** Parameters of this page (training settings as on the head-count page "
            "at the same tier):\n\n" + SPEC.table(P))


def scale_text(P: dict) -> str:
    """The tier and training scale, the last line of every figure title."""
    return f"tier {P['tier']}, {P['n_train']} train / {P['n_val']} val, {P['epochs']} epochs"


def section_title(P: dict, section: str) -> str:
    """A section's figure title: its task, widths, grid and seeds, then the scale."""
    head = {
        "fixed_E": f"D = {P['D']}, {widths_title(P, 'fixed_E')}: T in {P['T_grid']}, {len(P['seeds'])} seed(s)",
        "other_D": f"D = {P['D_other']} task (d = {P['d_other']}), {widths_title(P, 'other_D')}: T in {P['T_grid']}, "
                   f"{len(P['seeds'])} seed(s)",
        "depth": f"{P['L']} layers, D = {P['D']}, {widths_title(P, 'depth')}: T in {P['T_grid_depth']}, "
                 f"{len(P['seeds_depth'])} seed(s)",
    }[section]
    return f"{head}\n{scale_text(P)}"


def section_marks(P: dict, section: str) -> list[tuple[int, str]]:
    """The vertical lines of a section's figure: its predicted transition first (and, for depth, h = D of the
    one-layer model)."""
    if section == "depth":
        hL = h_star(P, "depth")
        return [(hL, f"L h = D: h = {hL}"), (P["D"], f"h = D = {P['D']} (one layer)")]
    hs = h_star(P, section)
    return [(hs, f"h = D = {hs}")]


def section_view(P: dict, ev: dict, vs: list[claims.Verdict], name: str) -> dict:
    """Everything one section shows, from the page's evidence and verdicts: `summary` (per h, T over seeds),
    `paper` (its table, or None), `side` (ours beside the paper's, with n: the figure's table), `h_star`,
    `verdict`, `label` (of the figure), `title`, `marks`, `paper_label`, `widths` (a sentence), `store` (a
    sentence) and `meta` (the figure's provenance)."""
    s = analysis.summarise(ev[name])
    paper = paper_values(P, name)
    result = ev["results"][name]
    return {"section": name, "summary": s, "paper": paper, "h_star": h_star(P, name),
            "side": side_by_side(s, paper, {h: math.ceil(P["E"] / h) for h in s["h"].unique()}),
            "verdict": next(v for v in vs if v.claim_id == CLAIM[name]), "label": LABEL[name],
            "title": section_title(P, name), "marks": section_marks(P, name), "paper_label": PAPER_NAME[name],
            "widths": widths_text(P, name),
            "store": synthetic_heads.store_text(result, ev[name], "these runs"),
            "meta": synthetic_heads.figure_meta(P, result, section=name)}


def section_figure(S: dict):
    """A section's figure (see `figure`)."""
    return figure(S["summary"], S["paper"], S["marks"], S["title"], S["paper_label"])


def tables_markdown(S: dict) -> str:
    """A section's tables: ours beside the paper's, the drops between consecutive head counts, its verdict."""
    plabel = S["paper_label"]
    return "\n\n".join([
        f"**Ours beside the paper's {plabel}**" + ("" if S["paper"] is not None else
                                                    " (the paper has no numbers for these parameters)") + ":\n\n"
        + markdown_table(format_table(S["side"], plabel)),
        "**The drop between consecutive head counts** (NMSE at $h-1$ over NMSE at $h$; ours on the minimum over "
        "seeds):\n\n" + markdown_table(ratio_table(S["summary"], S["paper"], S["h_star"])),
        claims.markdown_table([S["verdict"]]),
    ])


def levels_markdown(sections: dict[str, dict]) -> str:
    """Our errors after each section's transition against the paper's (`level_text`), or a sentence saying
    the paper has no numbers for these parameters."""
    return level_text({name: (S["side"], S["h_star"]) for name, S in sections.items()}) or \
        "The paper has no numbers for these parameters."
