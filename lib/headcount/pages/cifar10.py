"""Page: accuracy vs number of heads on CIFAR-10 padded to longer patch sequences (paper Figures 2c, 2d;
Tables 8, 9; claims C26, C27, C28)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import analysis, claims
from ..params import Param, ParamSpec, longer_training_rule
from ..plots import OURS_STYLE, PAPER_STYLE, new_figure, paper_table
from ..realdata import cifar
from ..sweep import Experiment, grid
from ..vit import CifarRun, run_cifar_group

PAPER_H_STAR = 10  # where the paper places the transition on CIFAR-10 (Fig. 2c, 2d)
PAPER_PATCH = 4  # the patch size that turns the paper's canvases {32, ..., 128} into its tables' T values
PAPER_VAL_PEAK = (8, 12)  # C28: validation accuracy peaks at h in this range


def _canvas_rule(P: dict) -> str | None:
    for name in ("canvas_grid", "canvas_grid_long"):
        bad = [S for S in P[name] if S < cifar.SIDE or S % P["patch"]]
        if bad:
            return (f"every canvas in {name} must be >= {cifar.SIDE} and a multiple of patch = {P['patch']}; "
                    f"these are not: {bad}")
    return None


PARAMS = [
    Param("h_grid", "int_list", "head counts h (E = n h)", minimum=1),
    Param("canvas_grid", "int_list", "canvas sides S the 32 x 32 image is edge-padded onto; T = (S/patch)^2 + 1",
          minimum=32),
    Param("patch", "int", "patch side p in pixels (each token is a p x p x 3 patch)", minimum=1),
    Param("n", "int", "per-head width n (paper: 16)", minimum=1),
    Param("n_layers", "int", "transformer blocks (paper: 4)", minimum=1),
    Param("mlp_ratio", "float", "MLP hidden width / E in each block (not stated in the paper)", minimum=0.01),
    Param("dropout", "float", "dropout on the embeddings and on each residual branch (rate not stated)", minimum=0.0,
          check=lambda v: None if v < 1 else "must be below 1"),
    Param("train_per_class", "int", "training images per class: the first k of each class (paper: 5000)", minimum=1),
    Param("val_per_class", "int", "validation (test-split) images per class (paper: 1000)", minimum=1),
    Param("placement", "str", "random position of the image on its canvas: drawn once per image, or anew each epoch",
          choices=("fixed", "per_epoch")),
    Param("placement_seed", "int", "seed of the positions", minimum=0),
    Param("seeds", "int_list", "model seeds (initialisation, minibatch order, dropout) per (h, T)", minimum=0),
    Param("epochs", "int", "passes over the training images", minimum=1),
    Param("batch_size", "int", "minibatch size", minimum=1),
    Param("lr", "float", "peak learning rate of AdamW (linear warm-up, then cosine decay to 0)", minimum=1e-8),
    Param("weight_decay", "float", "AdamW weight decay on weight matrices (not on biases, LayerNorm, c0, positions)",
          minimum=0.0),
    Param("warmup_frac", "float", "fraction of all steps spent in the linear warm-up", minimum=0.0,
          check=lambda v: None if v < 1 else "must be below 1"),
    Param("clip_norm", "float", "gradient-norm clipping threshold (0 = none)", minimum=0.0),
    Param("source", "str", "archive: the offline JPEG copy, the canonical python archive, or whichever is present",
          choices=("auto", "jpg", "python")),
    Param("epochs_long", "int", "longer-training check: the runs at h in h_grid_long and canvases in "
          "canvas_grid_long trained again for this many epochs, everything else unchanged (0 = no check)", minimum=0),
    Param("h_grid_long", "int_list", "head counts of the longer-training check", minimum=1),
    Param("canvas_grid_long", "int_list", "canvas sides of the longer-training check", minimum=32),
]

_MODEL = dict(n=16, n_layers=4, mlp_ratio=4.0, dropout=0.1, placement="fixed", placement_seed=0,
              weight_decay=0.05, warmup_frac=0.05, clip_norm=1.0, source="auto")
SPEC = ParamSpec(
    notebook="cifar10",
    params=PARAMS,
    tiers={
        # seconds: a few hundred images, two short runs per canvas; used by the test suite
        "smoke": {**_MODEL, "h_grid": [1, 2], "canvas_grid": [32, 48], "patch": 8, "train_per_class": 20,
                  "val_per_class": 10, "seeds": [0], "epochs": 2, "batch_size": 50, "lr": 2e-3,
                  "epochs_long": 4, "h_grid_long": [1], "canvas_grid_long": [32, 48]},
        # under ten minutes on one CPU core: 200 training images fitted for 60 epochs (long enough that the
        # widest model fits them at every T), heads up to 8, canvases up to 64 with 8 x 8 patches (T <= 65);
        # the two narrowest models again at four times the epochs, at the shortest and longest T (about 2.5 min)
        "laptop": {**_MODEL, "h_grid": [1, 2, 4, 8], "canvas_grid": [32, 48, 64], "patch": 8,
                   "train_per_class": 20, "val_per_class": 100, "seeds": [0], "epochs": 60, "batch_size": 50,
                   "lr": 2e-3, "epochs_long": 240, "h_grid_long": [1, 2], "canvas_grid_long": [32, 64]},
        # the paper's grid; a GPU job (T up to 1025, 50,000 images, 60 (h, T) cells per seed); no check
        "paper": {**_MODEL, "h_grid": [1, 2, 4, 8, 10, 11, 12, 13, 14, 16, 20, 24],
                  "canvas_grid": [32, 48, 64, 96, 128], "patch": PAPER_PATCH, "train_per_class": 5000,
                  "val_per_class": 1000, "seeds": [0, 1, 2], "epochs": 100, "batch_size": 128, "lr": 1e-3,
                  "epochs_long": 0, "h_grid_long": [1, 2], "canvas_grid_long": [32, 128]},
    },
    rules=[_canvas_rule, longer_training_rule("canvas_grid_long")],
)


# ----------------------------------------------------------------------------------------------------------
# the sweep


def experiment() -> Experiment:
    """Store experiment 'cifar10': results keyed by the run config and the source of vit.py and realdata/cifar.py.

    Every run is its own group (nothing is gained by stacking models of different widths), so each record
    is stored as soon as its run ends and an interrupted sweep loses at most one run."""
    return Experiment("cifar10", run_cifar_group, ("vit", "realdata.cifar"))


def run_configs(P: dict) -> list[dict]:
    """One CifarRun dict per (canvas, h, seed), longest sequences last."""
    base = CifarRun(patch=P["patch"], n=P["n"], n_layers=P["n_layers"], mlp_ratio=P["mlp_ratio"],
                    dropout=P["dropout"], train_per_class=P["train_per_class"], val_per_class=P["val_per_class"],
                    placement=P["placement"], placement_seed=P["placement_seed"], epochs=P["epochs"],
                    batch_size=P["batch_size"], lr=P["lr"], weight_decay=P["weight_decay"],
                    warmup_frac=P["warmup_frac"], clip_norm=P["clip_norm"], source=P["source"]).to_dict()
    out = grid(base, canvas=sorted(P["canvas_grid"]), h=P["h_grid"], seed=P["seeds"])
    for c in out:
        CifarRun.from_dict(c)  # raises on an impossible combination
    return out


def long_configs(P: dict) -> list[dict]:
    """The longer-training check: run_configs at epochs_long on h_grid_long x canvas_grid_long (empty when off)."""
    if P["epochs_long"] == 0:
        return []
    return run_configs({**P, "epochs": P["epochs_long"], "h_grid": P["h_grid_long"],
                        "canvas_grid": P["canvas_grid_long"]})


def planned_sweeps(P: dict):
    return [(experiment(), run_configs(P))] + ([(experiment(), long_configs(P))] if P["epochs_long"] else [])


def longer_training(short: pd.DataFrame, long: pd.DataFrame, epochs: int, epochs_long: int):
    """Per (h, T) of the longer-training check: training and validation accuracy (mean over seeds, %) at both
    budgets, as (numbers, printed table); see `analysis.budget_table`."""
    return analysis.budget_table(short, long, "train_mean", "val_mean", epochs, epochs_long, "{:.1f}")


def longer_training_text(short: pd.DataFrame, long: pd.DataFrame, epochs: int, epochs_long: int,
                         min_drop: float = 1.0) -> str:
    """Markdown: whether the fall of training accuracy with T at the checked head counts survives a longer
    budget, computed from the shortest and longest T of the check."""
    Ts = sorted(long["T"].unique())
    d_short = _drops(short[short["T"].isin(Ts)], "train_mean")
    d_long = _drops(long, "train_mean")
    hs = [h for h in sorted(d_long) if h in d_short]
    if not hs:
        return "The check shares no (h, T) with the main grid, so there is nothing to compare."
    parts = [f"h = {h}: {d_short[h][0]:.1f} -> {d_short[h][1]:.1f}% after {epochs} epochs, "
             f"{d_long[h][0]:.1f} -> {d_long[h][1]:.1f}% after {epochs_long}" for h in hs]
    text = f"Training accuracy from T = {Ts[0]} to T = {Ts[-1]}: " + "; ".join(parts) + ". "
    text += (f"After {epochs_long} epochs every checked model fits at least {long['train_mean'].min():.1f}% of the "
             f"training images at every T of the check (after {epochs}: as little as "
             f"{short[short['T'].isin(Ts) & short['h'].isin(hs)]['train_mean'].min():.1f}%). ")
    fell = [h for h in hs if d_short[h][2] >= min_drop]
    gone = [h for h in fell if d_long[h][2] < min_drop]
    if fell and gone == fell:
        text += (f"With {epochs_long / epochs:g} times the epochs the fall with T is gone at h = "
                 f"{', '.join(map(str, gone))}: at this scale it measured how fast a narrow model fits the "
                 "training images at a longer T, not whether it can fit them. Whether the paper's fall at 50,000 "
                 "images is one of capacity, this scale cannot tell.")
    elif gone:
        text += (f"With {epochs_long / epochs:g} times the epochs the fall with T is gone at h = "
                 f"{', '.join(map(str, gone))} and remains at h = "
                 f"{', '.join(str(h) for h in fell if h not in gone)}.")
    elif fell:
        text += (f"With {epochs_long / epochs:g} times the epochs the fall with T remains at h = "
                 f"{', '.join(map(str, fell))}: it is not a matter of training length at this scale.")
    else:
        text += f"Training accuracy does not fall by {min_drop:g} point(s) with T at either budget."
    return text


def scale_text(P: dict) -> str:
    """One line stating the exact scale of a run of this page."""
    Ts = [cifar.seq_len(S, P["patch"]) for S in sorted(P["canvas_grid"])]
    return (f"tier {P['tier']}: {10 * min(P['train_per_class'], 5000)} training / "
            f"{10 * min(P['val_per_class'], 1000)} validation images, canvases S = {sorted(P['canvas_grid'])} "
            f"with {P['patch']}x{P['patch']} patches (T = {Ts}), h = {P['h_grid']} (E = {P['n']}h), "
            f"{P['epochs']} epochs, {len(P['seeds'])} seed(s)")


def train_flops(P: dict) -> float:
    """Approximate floating-point operations to train every run of the page (3 x forward per training
    image and epoch, plus one forward pass over the training and validation images per run); a
    multiply-add counts 2. Forward per image: patch embedding 2 (T-1) 3p^2 E, and per block
    2 T 4E^2 (Q, K, V, O) + 4 T^2 E (scores and weighted sum) + 4 T E W (MLP of width W)."""
    total = 0.0
    for c in run_configs(P):
        run = CifarRun.from_dict(c)
        cfg = run.model_config()
        T, E, W = cfg.T, cfg.E, cfg.mlp_width
        fwd = 2 * (T - 1) * cfg.patch_dim * E + cfg.n_layers * (8 * T * E * E + 4 * T * T * E + 4 * T * E * W)
        n_tr = 10 * min(run.train_per_class, cifar.PER_CLASS["train"])
        n_va = 10 * min(run.val_per_class, cifar.PER_CLASS["test"])
        total += fwd * (3 * n_tr * run.epochs + n_tr + n_va)
    return total


# ----------------------------------------------------------------------------------------------------------
# summaries and the paper's tables


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per (h, T, canvas, patch): mean and std (ddof=1; 0 for one seed) over seeds of the training and
    validation accuracy, in percent, and the seed count."""
    d = df.assign(train_pct=100 * df["train_acc"], val_pct=100 * df["val_acc"])
    keys = ["h", "T", "canvas", "patch"]
    rows = []
    for k, sub in d.groupby(keys):
        row = dict(zip(keys, k))
        for m in ("train", "val"):
            v = sub[f"{m}_pct"]
            row[f"{m}_mean"] = float(v.mean())
            row[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        row["seeds"] = len(sub)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["h", "T"]).reset_index(drop=True)


def paper_summary() -> pd.DataFrame:
    """Paper Tables 8 (training) and 9 (validation) in the layout of `summarise`, with the canvas and
    patch implied by patch 4: S = 4 sqrt(T - 1)."""
    tr = paper_table("table8").rename(columns={"acc_pct_mean": "train_mean", "acc_pct_std": "train_std"})
    va = paper_table("table9").rename(columns={"acc_pct_mean": "val_mean", "acc_pct_std": "val_std"})
    out = tr.merge(va, on=["h", "T"], how="outer")
    out["patch"] = PAPER_PATCH
    out["canvas"] = (PAPER_PATCH * np.sqrt(out["T"] - 1)).round().astype(int)
    return out.sort_values(["h", "T"]).reset_index(drop=True)


def reversal_scores(summary: pd.DataFrame, col: str = "train_mean") -> pd.DataFrame:
    """R(h) (analysis.reversal_score, the paper's Fig. 2d) with err(T) = 1 - accuracy, the accuracy in percent
    in `col` (mean over seeds); one row per h with columns h, R, n_T."""
    err = summary[["h", "T"]].assign(err=1 - summary[col] / 100.0)
    return analysis.reversal_scores(err)


def wide(summary: pd.DataFrame, metric: str, digits: int = 1) -> pd.DataFrame:
    """h x T table of 'mean ± std' strings of a metric ('train' or 'val')."""
    cells = summary.assign(cell=[f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in
                                 zip(summary[f"{metric}_mean"], summary[f"{metric}_std"])])
    out = cells.pivot(index="h", columns="T", values="cell")
    out.columns = [f"T={T}" for T in out.columns]
    return out.reset_index()


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """One row per (h, T) of ours, with the paper's mean ± std where the paper ran the same setting
    (same h, canvas and patch; a T reached with another patch size is not the same experiment)."""
    pap = paper.rename(columns={c: f"paper_{c}" for c in ("train_mean", "train_std", "val_mean", "val_std")})
    pap = pap[["h", "canvas", "patch", "paper_train_mean", "paper_train_std", "paper_val_mean", "paper_val_std"]]
    return ours.merge(pap, on=["h", "canvas", "patch"], how="left").sort_values(["h", "T"]).reset_index(drop=True)


def format_side(df: pd.DataFrame) -> pd.DataFrame:
    def pm(m, s, d=1):
        return "—" if pd.isna(m) else f"{m:.{d}f} ± {s:.{d}f}"

    return pd.DataFrame({
        "h": df["h"], "T": df["T"], "canvas": df["canvas"], "patch": df["patch"],
        "ours: train %": [pm(m, s) for m, s in zip(df["train_mean"], df["train_std"])],
        "paper Table 8: train %": [pm(m, s) for m, s in zip(df["paper_train_mean"], df["paper_train_std"])],
        "ours: val %": [pm(m, s, 2) for m, s in zip(df["val_mean"], df["val_std"])],
        "paper Table 9: val %": [pm(m, s, 2) for m, s in zip(df["paper_val_mean"], df["paper_val_std"])],
        "seeds": df["seeds"],
    })


# ----------------------------------------------------------------------------------------------------------
# figures


def _palette(k: int):
    import seaborn as sns

    return sns.color_palette("viridis", k)


def figure_accuracy(summary: pd.DataFrame, paper: pd.DataFrame | None, scale: str):
    """Two panels, training (Fig. 2c / Table 8) and validation accuracy (Table 9) against h, one colour per
    T: ours solid with a mean +- std band, the paper dotted with x markers. A paper T that we did not run
    with the paper's patch size is drawn in grey."""
    fig, axes = new_figure(ncols=2, width=5.0, height=4.2)
    ours_T = sorted(summary["T"].unique())
    colors = dict(zip(ours_T, _palette(len(ours_T))))
    if paper is not None:  # paper T values we did not run: shades of grey, light (short T) to dark (long T)
        pT = sorted(paper["T"].unique())
        greys = {T: str(round(0.72 - 0.55 * i / max(1, len(pT) - 1), 2)) for i, T in enumerate(pT)}
    for ax, m, title in ((axes[0], "train", "training accuracy (Fig. 2c, Table 8)"),
                         (axes[1], "val", "validation accuracy (Table 9)")):
        for T in ours_T:
            s = summary[summary["T"] == T].sort_values("h")
            ax.plot(s["h"], s[f"{m}_mean"], color=colors[T], label=f"ours, T={T}", **OURS_STYLE)
            ax.fill_between(s["h"], s[f"{m}_mean"] - s[f"{m}_std"], s[f"{m}_mean"] + s[f"{m}_std"],
                            color=colors[T], alpha=0.15, linewidth=0)
        if paper is not None:
            same = set(zip(summary["T"], summary["patch"]))  # a paper T shares our colour only if its patch is ours
            for T in sorted(paper["T"].unique()):
                p = paper[paper["T"] == T].sort_values("h")
                c = colors[T] if (T, PAPER_PATCH) in same else greys[T]
                ax.plot(p["h"], p[f"{m}_mean"], alpha=0.75, label=f"paper, T={T}", **{**PAPER_STYLE, "color": c})
        ax.axvline(PAPER_H_STAR, color="grey", linestyle="--", linewidth=1)
        ax.text(PAPER_H_STAR, 0.5, "paper's h = 10 ", transform=ax.get_xaxis_transform(), fontsize=7,
                color="grey", rotation=90, ha="right", va="center")
        _h_ticks(ax, summary, paper)
        ax.set_xlabel("number of heads h")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6, ncol=2, loc="best")
    fig.suptitle(scale, fontsize=8)
    return fig


def _h_ticks(ax, summary: pd.DataFrame, paper: pd.DataFrame | None) -> None:
    # every h of either grid, but without crowding the labels at 10..14 (the paper's Fig. 2c does the same)
    hs = sorted(set(summary["h"]) | (set(paper["h"]) if paper is not None else set()))
    ax.set_xticks(hs)
    crowded = {11, 13} if len(hs) > 9 else set()
    ax.set_xticklabels(["" if h in crowded and h not in set(summary["h"]) else str(h) for h in hs], fontsize=7)


def figure_reversal(ours: pd.DataFrame, paper: pd.DataFrame | None, scale: str):
    """R(h) against h: ours solid, the paper's (recomputed from Table 8 means) dotted."""
    fig, (ax,) = new_figure(width=7.2, height=3.8)
    o = ours.sort_values("h")
    ax.plot(o["h"], o["R"], color="C0", label="ours (training accuracy, mean over seeds)", **OURS_STYLE)
    if paper is not None:
        p = paper.sort_values("h")
        ax.plot(p["h"], p["R"], label="paper Table 8 means (recomputed)", **PAPER_STYLE)
    ax.axvline(PAPER_H_STAR, color="grey", linestyle="--", linewidth=1)
    ax.axhline(0, color="black", linewidth=0.5)
    _h_ticks(ax, o, paper)
    ax.set_xlabel("number of heads h")
    ax.set_ylabel("weighted reversal score R(h)")
    ax.set_title(f"Weighted reversal score, err = 1 - training accuracy\n{scale}", fontsize=8)
    ax.legend(fontsize=7)
    return fig


# ----------------------------------------------------------------------------------------------------------
# claim checks (each must be able to fail: the tests feed them contradicting numbers)


def _drops(summary: pd.DataFrame, col: str) -> dict[int, tuple[float, float, float]]:
    """Per h: (accuracy at the shortest T, at the longest T, drop = first - last) in percentage points."""
    out = {}
    for h, sub in summary.groupby("h"):
        sub = sub.sort_values("T")
        if len(sub) >= 2:
            a, b = float(sub[col].iloc[0]), float(sub[col].iloc[-1])
            out[int(h)] = (a, b, a - b)
    return out


def falls_with_T(summary: pd.DataFrame, h_star: int = PAPER_H_STAR, min_drop: float = 1.0) -> claims.Verdict:
    """C26 (a): for every h < h_star, training accuracy at the longest T is at least `min_drop` points
    below that at the shortest T (the paper: 4.9 to 9.7 points)."""
    d = {h: v for h, v in _drops(summary, "train_mean").items() if h < h_star}
    stmt = f"training accuracy falls with T for h < {h_star} (by >= {min_drop:g} points from shortest to longest T)"
    if not d:
        return claims.Verdict("C26a", stmt, claims.NOT_TESTED, f"no h < {h_star} with two or more T values")
    flags = [v[2] >= min_drop for v in d.values()]
    ev = "; ".join(f"h={h}: {a:.1f} -> {b:.1f}%" for h, (a, b, _) in sorted(d.items()))
    return claims.Verdict("C26a", stmt, claims.verdict_from(flags), ev)


def flattens(summary: pd.DataFrame, h_star: int = PAPER_H_STAR, flat_tol: float = 1.5) -> claims.Verdict:
    """C26 (b): for every h >= h_star, training accuracy drops by at most `flat_tol` points from the shortest
    to the longest T (the paper: 1.4 at h = 10, <= 0.6 from h = 12), and by less than for every h < h_star."""
    d = _drops(summary, "train_mean")
    above = {h: v for h, v in d.items() if h >= h_star}
    below = {h: v for h, v in d.items() if h < h_star}
    stmt = f"for h >= {h_star} training accuracy is flat in T (drop <= {flat_tol:g} points, below every h < {h_star})"
    if not above:
        return claims.Verdict("C26b", stmt, claims.NOT_TESTED,
                              f"the grid has no h >= {h_star} (largest h: {max(d) if d else 'none'})")
    least_below = min((v[2] for v in below.values()), default=np.inf)
    flags = [v[2] <= flat_tol and v[2] < least_below for v in above.values()]
    ev = "; ".join(f"h={h}: drop {v[2]:+.1f}" for h, v in sorted(above.items()))
    if below:
        ev += f" (smallest drop below h={h_star}: {least_below:+.1f})"
    return claims.Verdict("C26b", stmt, claims.verdict_from(flags), ev)


def reversal_transition(scores: pd.DataFrame, h_star: int = PAPER_H_STAR) -> claims.Verdict:
    """C27: R(h) = 0 for every h < h_star and R(h) > 0 for every h >= h_star. Without h >= h_star in the
    grid only the first half can be judged, and the verdict says so."""
    r = scores.set_index("h")["R"]
    below, above = r[r.index < h_star], r[r.index >= h_star]
    stmt = f"weighted reversal score R(h) is 0 for h < {h_star} and positive for h >= {h_star}"
    flags = [bool(v == 0) for v in below] + [bool(v > 0) for v in above]
    ev = ", ".join(f"R({h})={v:.3g}" for h, v in r.items())
    if len(above) == 0:
        part = claims.verdict_from([bool(v == 0) for v in below]) if len(below) else claims.NOT_TESTED
        zero_ok = part == claims.REPRODUCED
        return claims.Verdict("C27", stmt, claims.NOT_TESTED if zero_ok else part,
                              ev + f"; the grid has no h >= {h_star}, so only 'R = 0 below' is checked: "
                              + ("holds" if zero_ok else "fails"))
    return claims.Verdict("C27", stmt, claims.verdict_from(flags), ev)


def val_peak(summary: pd.DataFrame, peak: tuple[int, int] = PAPER_VAL_PEAK) -> claims.Verdict:
    """C28 (a): at every T, validation accuracy is highest at some h in [peak[0], peak[1]] and lower at the
    largest h of the grid (which must exceed peak[1] for the decline to be seen)."""
    stmt = f"validation accuracy peaks at h in {peak[0]}..{peak[1]} and is lower for larger h"
    hs = sorted(summary["h"].unique())
    if max(hs) <= peak[1] or min(hs) >= peak[0]:
        best = {int(T): int(s.loc[s["val_mean"].idxmax(), "h"]) for T, s in summary.groupby("T")}
        return claims.Verdict("C28a", stmt, claims.NOT_TESTED,
                              f"needs head counts below {peak[0]} and above {peak[1]}; grid h = {[int(h) for h in hs]}; "
                              f"best h per T here: {best}")
    flags, rows = [], []
    for T, s in summary.groupby("T"):
        s = s.sort_values("h")
        best = int(s.loc[s["val_mean"].idxmax(), "h"])
        last = float(s["val_mean"].iloc[-1])
        ok = peak[0] <= best <= peak[1] and last < float(s["val_mean"].max())
        flags.append(ok)
        rows.append(f"T={T}: best h={best} ({s['val_mean'].max():.1f}%), h={int(s['h'].iloc[-1])}: {last:.1f}%")
    return claims.Verdict("C28a", stmt, claims.verdict_from(flags), "; ".join(rows))


def val_falls_with_T(summary: pd.DataFrame) -> claims.Verdict:
    """C28 (b): at every h, validation accuracy at the longest T is below that at the shortest T."""
    d = _drops(summary, "val_mean")
    stmt = "validation accuracy declines for longer T (at every h)"
    if not d:
        return claims.Verdict("C28b", stmt, claims.NOT_TESTED, "fewer than two T values")
    flags = [v[2] > 0 for v in d.values()]
    ev = "; ".join(f"h={h}: {a:.1f} -> {b:.1f}%" for h, (a, b, _) in sorted(d.items()))
    return claims.Verdict("C28b", stmt, claims.verdict_from(flags), ev)


def transition_in_grid(summary: pd.DataFrame, min_drop: float = 1.0, flat_tol: float = 1.5) -> claims.Verdict:
    """C26 (c), the scale-free form of C26: some h' of the grid splits it in two, every h < h' losing at
    least `min_drop` training-accuracy points from the shortest to the longest T and every h >= h' at
    most `flat_tol`. At the paper's scale h' is 10; a reduced data set may move it."""
    d = _drops(summary, "train_mean")
    stmt = (f"some head count h' of the grid separates falling accuracy (h < h', drop >= {min_drop:g}) from "
            f"flat accuracy (h >= h', drop <= {flat_tol:g})")
    if len(d) < 2:
        return claims.Verdict("C26c", stmt, claims.NOT_TESTED, "needs two or more head counts with two or more T")
    h_obs = observed_transition(summary, flat_tol)
    ev = "; ".join(f"h={h}: drop {v[2]:+.1f}" for h, v in sorted(d.items()))
    if h_obs is None:
        return claims.Verdict("C26c", stmt, claims.NOT_REPRODUCED, ev + "; even the largest h loses more")
    below = [v[2] >= min_drop for h, v in d.items() if h < h_obs]
    if not below:
        return claims.Verdict("C26c", stmt, claims.NOT_REPRODUCED, ev + "; accuracy is flat at every h of the grid")
    return claims.Verdict("C26c", stmt, claims.REPRODUCED if all(below) else claims.NOT_REPRODUCED,
                          ev + f"; h' = {h_obs}" + ("" if all(below) else ", but not every smaller h falls"))


def verdicts(summary: pd.DataFrame, tier: str) -> list[claims.Verdict]:
    vs = [falls_with_T(summary), flattens(summary), transition_in_grid(summary),
          reversal_transition(reversal_scores(summary)), val_peak(summary), val_falls_with_T(summary)]
    for v in vs:
        v.tier = tier
    return vs


def observed_transition(summary: pd.DataFrame, flat_tol: float = 1.5) -> int | None:
    """The smallest h of our grid from which every larger h also loses at most `flat_tol` training-accuracy
    points from the shortest to the longest T; None if even the largest h loses more."""
    d = _drops(summary, "train_mean")
    found = None
    for h in sorted(d, reverse=True):
        if d[h][2] <= flat_tol:
            found = h
        else:
            break
    return found
