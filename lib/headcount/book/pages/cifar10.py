"""Page: accuracy vs number of heads on CIFAR-10 padded to longer patch sequences (paper Figures 2c, 2d;
Tables 8, 9; claims C26, C27, C28)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd

from headcount import analysis, claims
from headcount.params import Param, ParamSpec, longer_training_rule
from headcount.book.plots import OURS_STYLE, PAPER_STYLE, markdown_table, new_figure, runs_provenance
from headcount.paper import paper_table
from headcount.engine.realdata import cifar
from headcount.engine.realdata import caches
from headcount.engine.sweep import Experiment, grid, sweep
from headcount.engine.vit import CifarRun, run_cifar_group

from headcount.paper import CIFAR_H_STAR as PAPER_H_STAR  # noqa: E402 - the paper's numbers (headcount.paper)
from headcount.paper import CIFAR_PATCH as PAPER_PATCH  # noqa: E402
from headcount.paper import CIFAR_VAL_PEAK as PAPER_VAL_PEAK  # noqa: E402
N_CLASSES = len(cifar.CLASSES)
CHANCE_PCT = 100.0 / N_CLASSES  # accuracy of a guess, in percent
# An assumption for the time estimate, not a measurement: a sustained bfloat16 throughput of one data-centre GPU
# on this model (peak rates are several times higher; small matrices reach a fraction of them).
ASSUMED_GPU_FLOPS = 2e14


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
    Param("chance_margin", "float", "an accuracy at most this fraction above chance (100 / 10 classes %) is at "
          "chance: no evidence either way, and left out of the checks", minimum=0.0),
    Param("min_drop", "float", "training (validation) accuracy falls with T when it loses at least this many "
          "points from the shortest to the longest T", minimum=0.0),
    Param("flat_tol", "float", "training accuracy is flat in T when it loses at most this many points from the "
          "shortest to the longest T", minimum=0.0),
    Param("fit_pct", "float", "a model fits its training set at a T when its training accuracy (%) reaches this; "
          "when the longer-training check fits it at every T of the check at some h < 10, the tier cannot reach "
          "the claims' capacity-bound regime", minimum=0.0, check=lambda v: None if v <= 100 else "must be <= 100"),
]

_MODEL = dict(n=16, n_layers=4, mlp_ratio=4.0, dropout=0.1, placement="fixed", placement_seed=0,
              weight_decay=0.05, warmup_frac=0.05, clip_norm=1.0, source="auto", chance_margin=0.5, min_drop=1.0,
              flat_tol=1.5, fit_pct=99.0)
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
    return Experiment("cifar10", run_cifar_group, ("engine.vit", "engine.realdata.cifar"), wants_gpu=True)


def run_configs(P: dict) -> list[dict]:
    """One CifarRun dict per (canvas, h, seed), longest sequences last: every CifarRun field the page has a
    parameter for, from P."""
    base = CifarRun(**{f.name: P[f.name] for f in fields(CifarRun) if f.name in P}).to_dict()  # h, canvas, seed: the grid
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


def sweeps(P: dict):
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


def run_flops(config: dict) -> float:
    """Approximate floating-point operations to train one run (3 x forward per training image and epoch, plus
    one forward pass over the training and validation images); a multiply-add counts 2. Forward per image:
    patch embedding 2 (T-1) 3p^2 E, and per block 2 T 4E^2 (Q, K, V, O) + 4 T^2 E (scores and weighted sum)
    + 4 T E W (MLP of width W)."""
    run = CifarRun.from_dict(config)
    cfg = run.model_config()
    T, E, W = cfg.T, cfg.E, cfg.mlp_width
    fwd = 2 * (T - 1) * cfg.patch_dim * E + cfg.n_layers * (8 * T * E * E + 4 * T * T * E + 4 * T * E * W)
    n_tr = 10 * min(run.train_per_class, cifar.PER_CLASS["train"])
    n_va = 10 * min(run.val_per_class, cifar.PER_CLASS["test"])
    return float(fwd * (3 * n_tr * run.epochs + n_tr + n_va))


def train_flops(P: dict) -> float:
    """Approximate floating-point operations to train every run of the page's main grid (`run_flops`)."""
    return sum(run_flops(c) for c in run_configs(P))


def throughput(result) -> dict:
    """The throughput the stored runs of a sweep sustained: their estimated operations (`run_flops`) over their
    summed training and evaluation seconds, per device; {device: (flops, seconds)}."""
    out: dict = {}
    for r in result.records:
        m = r["metrics"]
        f, sec = out.get(m["device"], (0.0, 0.0))
        out[m["device"]] = (f + run_flops(r["config"]), sec + m["train_seconds"] + m.get("eval_seconds", 0.0))
    return out


def cost_text(P: dict, result) -> str:
    """Markdown: the operations this tier and the paper tier need, the throughput measured on this tier's stored
    runs, and the paper tier's time at that rate and at the assumed GPU rate (ASSUMED_GPU_FLOPS, an
    assumption)."""
    ours, paper = train_flops(P), train_flops({**SPEC.tiers["paper"], "tier": "paper"})
    measured = throughput(result)
    parts = [f"{dev}: {f / s / 1e9:.3g} GFLOP/s ({f:.2e} operations in {s:.0f} s)" for dev, (f, s) in
             sorted(measured.items()) if s > 0]
    text = (f"Training the runs of this tier takes about {ours:.1e} floating-point operations (estimated by "
            f"`run_flops`); the paper tier about {paper:.1e}. Measured on the stored runs of this tier: "
            + "; ".join(parts) + ".")
    rates = [f / s for f, s in measured.values() if s > 0]
    if rates:
        text += f" At the slowest of these rates the paper tier would take about {paper / min(rates) / 3600:.3g} hours"
    text += (f"; at an assumed {ASSUMED_GPU_FLOPS / 1e12:.0f} TFLOP/s on one GPU (an assumption, not measured) "
             f"about {paper / ASSUMED_GPU_FLOPS / 3600:.2g} hours.")
    return text


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


def _pm(m, s, n, digits: int = 1) -> str:
    """'mean ± std', the std only with two or more seeds (n: the seed count; NaN for the paper's tables, whose
    std the paper reports)."""
    if pd.isna(m):
        return "—"
    if pd.isna(s) or (not pd.isna(n) and n < 2):
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def wide(summary: pd.DataFrame, metric: str, digits: int = 1) -> pd.DataFrame:
    """h x T table of 'mean ± std' strings of a metric ('train' or 'val'); ± std only with two or more seeds."""
    n = summary["seeds"] if "seeds" in summary else pd.Series(np.nan, index=summary.index)
    cells = summary.assign(cell=[_pm(m, s, k, digits) for m, s, k in
                                 zip(summary[f"{metric}_mean"], summary[f"{metric}_std"], n)])
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
    """Ours beside the paper per (h, T); ours without ± when one seed."""
    return pd.DataFrame({
        "h": df["h"], "T": df["T"], "canvas": df["canvas"], "patch": df["patch"],
        "ours: train %": [_pm(m, s, k) for m, s, k in zip(df["train_mean"], df["train_std"], df["seeds"])],
        "paper Table 8: train %": [_pm(m, s, np.nan) for m, s in zip(df["paper_train_mean"], df["paper_train_std"])],
        "ours: val %": [_pm(m, s, k, 2) for m, s, k in zip(df["val_mean"], df["val_std"], df["seeds"])],
        "paper Table 9: val %": [_pm(m, s, np.nan, 2) for m, s in zip(df["paper_val_mean"], df["paper_val_std"])],
        "seeds": df["seeds"],
    })


# ----------------------------------------------------------------------------------------------------------
# figures


def _palette(k: int):
    import seaborn as sns

    return sns.color_palette("viridis", k)


def figure_accuracy(summary: pd.DataFrame, paper: pd.DataFrame | None, scale: str):
    """Two panels, training (Fig. 2c / Table 8) and validation accuracy (Table 9) against h, one colour per
    T: ours solid with a mean +- std band, the paper dotted with open markers. A paper T that we did not run
    with the paper's patch size has a colour and a marker of its own (red to dark purple); legends below.""" 
    fig, axes = new_figure(ncols=2, width=5.0, height=4.2)
    ours_T = sorted(summary["T"].unique())
    colors = dict(zip(ours_T, _palette(len(ours_T))))
    if paper is not None:  # paper T values we did not run: their own hues (red to dark purple) and markers
        import seaborn as sns

        pT = sorted(paper["T"].unique())
        greys = dict(zip(pT, sns.color_palette("rocket_r", len(pT) + 1)[1:]))
        markers = dict(zip(pT, ["x", "+", "^", "s", "d", "v", "*"] * 2))
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
                ax.plot(p["h"], p[f"{m}_mean"], alpha=0.85, label=f"paper, T={T}",
                        **{**PAPER_STYLE, "color": c, "marker": markers[T], "markerfacecolor": "none"})
        ax.axvline(PAPER_H_STAR, color="grey", linestyle="--", linewidth=1)
        ax.text(PAPER_H_STAR, 0.5, "paper's h = 10 ", transform=ax.get_xaxis_transform(), fontsize=8,
                color="grey", rotation=90, ha="right", va="center")
        _h_ticks(ax, summary, paper)
        ax.set_xlabel("number of heads h")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)  # below
    fig.suptitle(scale, fontsize=8)
    return fig


def _h_ticks(ax, summary: pd.DataFrame, paper: pd.DataFrame | None) -> None:
    # every h of either grid, but without crowding the labels at 10..14 (the paper's Fig. 2c does the same)
    hs = sorted(set(summary["h"]) | (set(paper["h"]) if paper is not None else set()))
    ax.set_xticks(hs)
    crowded = {11, 13} if len(hs) > 9 else set()
    ax.set_xticklabels(["" if h in crowded and h not in set(summary["h"]) else str(h) for h in hs], fontsize=8)


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
    ax.legend(fontsize=8)
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


def _chance_row(sub: pd.DataFrame, col: str, margin: float) -> bool:
    """Whether an accuracy column (%) is at chance (CHANCE_PCT, `claims.at_chance`) at every row of sub."""
    return all(claims.at_chance(float(v), CHANCE_PCT, margin) for v in sub[col])


def _grid_reason(summary: pd.DataFrame, h_star: int = PAPER_H_STAR) -> str | None:
    hs = sorted(int(h) for h in summary["h"].unique())
    return None if hs and max(hs) >= h_star else f"the grid has no h >= {h_star} (largest h: {max(hs) if hs else 'none'})"


def memorisation_reason(summary: pd.DataFrame, long: pd.DataFrame | None, fit_pct: float = 99.0,
                        epochs: int | None = None, epochs_long: int | None = None, n_train: int | None = None,
                        h_star: int = PAPER_H_STAR) -> str | None:
    """Why the tier cannot reach the claims' capacity-bound regime, or None. The claims are about models with
    h < h_star that cannot fit their training set at long T. When the longer-training check fits the training set
    (>= fit_pct at every T of the check) at some h < h_star, every larger h of the grid (wider: E = n h) can too,
    so at this training-set size the falls with T of the main grid measure the training budget, not capacity."""
    if long is None or not len(long):
        return None
    for h in sorted(int(h) for h in long["h"].unique() if h < h_star):
        g = long[long["h"] == h].sort_values("T")
        if len(g) >= 2 and (g["train_mean"] >= fit_pct).all():
            Ts = [int(T) for T in g["T"]]
            short = summary[(summary["h"] == h) & summary["T"].isin(Ts)].sort_values("T")
            was = ("" if len(short) < 2 else
                   f" (after {epochs} epochs: {short['train_mean'].iloc[0]:.1f} -> {short['train_mean'].iloc[-1]:.1f}%)")
            images = f" of the {n_train} training images" if n_train else ""
            return (f"the longer-training check fits the training set at h = {h}: with {epochs_long} epochs it reaches "
                    f"{g['train_mean'].min():.1f}% or more{images} at every T of the check (T = "
                    f"{', '.join(map(str, Ts))}: {', '.join(f'{v:.1f}' for v in g['train_mean'])}%){was}, and every "
                    f"larger h of the grid is wider; at this training-set size the models from h = {h} on are not "
                    f"limited by capacity (fit_pct = {fit_pct:g}), so the tier cannot reach the capacity-bound regime "
                    f"the claim is about")
    return None


def _regime(*reasons: str | None) -> str | None:
    r = [x for x in reasons if x]
    return "; ".join(r) if r else None


def falls_with_T(summary: pd.DataFrame, h_star: int = PAPER_H_STAR, min_drop: float = 1.0, chance_margin: float = 0.5,
                 out_of_regime: str | None = None) -> claims.Verdict:
    """C26a. Core: for every h < h_star above chance, training accuracy at the longest T is at least `min_drop`
    points below that at the shortest T (the paper: 4.9 to 9.7 points). A head count at chance at every T is no
    evidence."""
    test = f"training accuracy falls by >= {min_drop:g} points from the shortest to the longest T at every h < {h_star}"
    d = {h: v for h, v in _drops(summary, "train_mean").items() if h < h_star}
    chance = [h for h in d if _chance_row(summary[summary["h"] == h], "train_mean", chance_margin)]
    ev = {h: v for h, v in d.items() if h not in chance}
    text = "; ".join(f"h={h}: {a:.1f} -> {b:.1f}%" + (" (at chance: no evidence)" if h in chance else "")
                     for h, (a, b, _) in sorted(d.items()))
    core = claims.core(f"falls at every h < {h_star}", all(v[2] >= min_drop for v in ev.values()) if ev else None,
                       text or f"no h < {h_star} with two or more T",
                       **({"least_drop": min(v[2] for v in ev.values())} if ev else {}))
    return claims.judge("C26a", test, [core], out_of_regime=out_of_regime)


def flattens(summary: pd.DataFrame, h_star: int = PAPER_H_STAR, flat_tol: float = 1.5,
             out_of_regime: str | None = None) -> claims.Verdict:
    """C26b. Core: for every h >= h_star, training accuracy drops by at most `flat_tol` points from the shortest
    to the longest T (the paper: 1.4 at h = 10, <= 0.6 from h = 12). Supporting: by less than at every h < h_star.
    Not testable without h >= h_star."""
    test = f"training accuracy drops by at most {flat_tol:g} points from the shortest to the longest T at every h >= {h_star}"
    d = _drops(summary, "train_mean")
    above = {h: v for h, v in d.items() if h >= h_star}
    below = {h: v for h, v in d.items() if h < h_star}
    reason = _regime(_grid_reason(summary, h_star), out_of_regime)
    core = claims.core(f"flat at every h >= {h_star}", all(v[2] <= flat_tol for v in above.values()) if above else None,
                       "; ".join(f"h={h}: drop {v[2]:+.1f}" for h, v in sorted(above.items())),
                       **({"largest_drop": max(v[2] for v in above.values())} if above else {}))
    checks = [core]
    if above and below:
        least_below = min(v[2] for v in below.values())
        checks.append(claims.supporting(f"flatter than every h < {h_star}",
                                        all(v[2] < least_below for v in above.values()),
                                        f"smallest drop below h={h_star}: {least_below:+.1f}"))
    return claims.judge("C26b", test, checks, out_of_regime=reason)


def transition_in_grid(summary: pd.DataFrame, min_drop: float = 1.0, flat_tol: float = 1.5,
                       out_of_regime: str | None = None) -> claims.Verdict:
    """C26c, the scale-free form of C26. Core: some h' of the grid splits it in two, every h < h' losing at
    least `min_drop` training-accuracy points from the shortest to the longest T and every h >= h' at most
    `flat_tol`, with at least one h on each side. At the paper's scale h' is 10; a reduced data set may move it."""
    test = (f"some h' of the grid separates falling accuracy (h < h', drop >= {min_drop:g}) from flat accuracy "
            f"(h >= h', drop <= {flat_tol:g})")
    d = _drops(summary, "train_mean")
    if len(d) < 2:
        return claims.judge("C26c", test, [claims.core("one h' separates", None,
                                                       "needs two or more head counts with two or more T")],
                            out_of_regime=out_of_regime)
    h_obs = observed_transition(summary, flat_tol)
    text = "; ".join(f"h={h}: drop {v[2]:+.1f}" for h, v in sorted(d.items()))
    if h_obs is None:
        ok, text = False, text + "; even the largest h loses more"
    else:
        below = [v[2] >= min_drop for h, v in d.items() if h < h_obs]
        ok = bool(below) and all(below)
        text += (f"; h' = {h_obs}" if ok else "; accuracy is flat at every h of the grid" if not below
                 else f"; flat from h = {h_obs} on, but not every smaller h falls")
    return claims.judge("C26c", test, [claims.core("one h' separates", ok, text,
                                                   **({"h_prime": h_obs} if h_obs is not None else {}))],
                        out_of_regime=out_of_regime)


def reversal_transition(scores: pd.DataFrame, h_star: int = PAPER_H_STAR, out_of_regime: str | None = None,
                        chance_h: tuple = ()) -> claims.Verdict:
    """C27. Core: R(h) = 0 for every h < h_star, and R(h) > 0 for every h >= h_star (head counts in chance_h, at
    chance at every T, are left out). Not testable without h >= h_star: the claim is about where R turns positive."""
    test = f"weighted reversal score R(h) is 0 for h < {h_star} and positive for h >= {h_star}"
    r = scores.set_index("h")["R"]
    r = r[[h not in chance_h for h in r.index]]
    below, above = r[r.index < h_star], r[r.index >= h_star]
    fmt = lambda x: ", ".join(f"R({h})={v:.3g}" for h, v in x.items())  # noqa: E731
    grid = None if len(above) else f"the grid has no h >= {h_star} (largest h: {int(r.index.max()) if len(r) else 'none'})"
    checks = [claims.core(f"R = 0 below h = {h_star}", bool((below == 0).all()) if len(below) else None, fmt(below),
                          **({"largest_R_below": float(below.max())} if len(below) else {})),
              claims.core(f"R > 0 from h = {h_star} on", bool((above > 0).all()) if len(above) else None, fmt(above),
                          **({"least_R_above": float(above.min())} if len(above) else {}))]
    return claims.judge("C27", test, checks, out_of_regime=_regime(grid, out_of_regime))


def val_peak(summary: pd.DataFrame, peak: tuple[int, int] = PAPER_VAL_PEAK, chance_margin: float = 0.5,
             out_of_regime: str | None = None) -> claims.Verdict:
    """C28a. Core: at every T (validation above chance somewhere), validation accuracy is highest at some h in
    [peak[0], peak[1]] and lower at the largest h of the grid. Not testable unless the grid has head counts below
    peak[0] and above peak[1]."""
    test = f"validation accuracy peaks at h in {peak[0]}..{peak[1]} and is lower at the largest h, at every T"
    hs = sorted(int(h) for h in summary["h"].unique())
    grid = (None if hs and max(hs) > peak[1] and min(hs) < peak[0] else
            f"needs head counts below {peak[0]} and above {peak[1]}; grid h = {hs}")
    ok, rows = [], []
    for T, g in summary.groupby("T"):
        g = g.sort_values("h")
        best = int(g.loc[g["val_mean"].idxmax(), "h"])
        last = float(g["val_mean"].iloc[-1])
        line = f"T={T}: best h={best} ({g['val_mean'].max():.1f}%), h={int(g['h'].iloc[-1])}: {last:.1f}%"
        if _chance_row(g, "val_mean", chance_margin):
            rows.append(line + " (at chance: no evidence)")
            continue
        ok.append(peak[0] <= best <= peak[1] and last < float(g["val_mean"].max()))
        rows.append(line)
    core = claims.core(f"peak in {peak[0]}..{peak[1]}, lower at the largest h", all(ok) if ok else None,
                       "; ".join(rows))
    return claims.judge("C28a", test, [core], out_of_regime=_regime(grid, out_of_regime))


def val_falls_with_T(summary: pd.DataFrame, min_drop: float = 1.0, chance_margin: float = 0.5,
                     out_of_regime: str | None = None) -> claims.Verdict:
    """C28b. Core: at every h above chance, validation accuracy at the longest T is at least min_drop points below
    that at the shortest T (the paper: 10 points or more)."""
    test = f"validation accuracy falls by >= {min_drop:g} points from the shortest to the longest T at every h"
    d = _drops(summary, "val_mean")
    chance = [h for h in d if _chance_row(summary[summary["h"] == h], "val_mean", chance_margin)]
    ev = {h: v for h, v in d.items() if h not in chance}
    text = "; ".join(f"h={h}: {a:.1f} -> {b:.1f}%" + (" (at chance: no evidence)" if h in chance else "")
                     for h, (a, b, _) in sorted(d.items()))
    core = claims.core("falls with T at every h", all(v[2] >= min_drop for v in ev.values()) if ev else None,
                       text or "fewer than two T values",
                       **({"least_drop": min(v[2] for v in ev.values())} if ev else {}))
    return claims.judge("C28b", test, [core], out_of_regime=out_of_regime)


def verdicts(summary: pd.DataFrame, P: dict, long: pd.DataFrame | None = None, n_train: int | None = None,
             tier: str = "") -> list[claims.Verdict]:
    """Every verdict of the page from a summary (ours or the paper's tables) and, where the longer-training
    check ran, its summary (which decides whether the tier reaches the claims' regime)."""
    m = P["chance_margin"]
    memo = memorisation_reason(summary, long, P["fit_pct"], P.get("epochs"), P.get("epochs_long"), n_train)
    chance_h = tuple(h for h, g in summary.groupby("h") if _chance_row(g, "train_mean", m))
    vs = [falls_with_T(summary, min_drop=P["min_drop"], chance_margin=m, out_of_regime=memo),
          flattens(summary, flat_tol=P["flat_tol"], out_of_regime=memo),
          transition_in_grid(summary, P["min_drop"], P["flat_tol"], out_of_regime=memo),
          reversal_transition(reversal_scores(summary), out_of_regime=memo, chance_h=chance_h),
          val_peak(summary, chance_margin=m, out_of_regime=memo),
          val_falls_with_T(summary, P["min_drop"], m, out_of_regime=memo)]
    for v in vs:
        v.tier = tier
    return vs


def judge(P: dict, ev: dict) -> list[claims.Verdict]:
    """The page's verdicts, a pure function of the evidence (`evidence`)."""
    runs = ev["runs"]
    long = ev.get("runs_long")
    long = summarise(long) if isinstance(long, pd.DataFrame) and len(long) else None
    n_train = int(runs["n_train"].iloc[0]) if "n_train" in runs and len(runs) else None
    return verdicts(summarise(runs), P, long, n_train, P["tier"])


def evidence(P: dict, store, device: str = "cpu") -> dict:
    """Every run the verdicts depend on, raw (one row per run, with its seed), read through `sweep` from store:
    exactly the sweeps of `sweeps(P)`, the main grid and, when on, the longer-training check. Damaged decoded-data
    caches are deleted first (and rebuilt by the loader; `realdata.caches`)."""
    damaged = caches.check("cifar10")
    (exp, main), *rest = sweeps(P)
    res = sweep(exp, main, store, device=device)
    ev = {"damaged_caches": damaged, "runs": res.frame(), "result": res}
    for exp_long, configs in rest:
        res_long = sweep(exp_long, configs, store, device=device)
        ev["runs_long"], ev["result_long"] = res_long.frame(), res_long
    return ev


def outcome_text(vs: list[claims.Verdict], summary: pd.DataFrame, flat_tol: float = 1.5) -> str:
    """Markdown: the claims not (fully) reproduced at this tier, and from which h on our training accuracy stops
    depending on T."""
    text = claims.claims_by_verdict(vs) + " "
    h_obs = observed_transition(summary, flat_tol)
    return text + (f"In our grid, training accuracy stops depending on $T$ (drop of at most {flat_tol:g} points) "
                   f"from h = {h_obs} on." if h_obs is not None else
                   "In our grid, training accuracy still falls with $T$ at the largest $h$.")


def matched_text(side: pd.DataFrame) -> str:
    """Markdown: how many of our cells are settings the paper ran."""
    matched = int(side["paper_train_mean"].notna().sum())
    if matched:
        return f"{matched} of our {len(side)} cells are settings the paper ran (same $h$, canvas and patch)."
    return ("None of our cells is a setting the paper ran (different patch size or canvas), so the paper columns "
            "are empty; compare the shapes in the figure instead.")


def paper_ties_text(R_paper: pd.DataFrame, h_star: int = PAPER_H_STAR) -> str:
    """Markdown: the head counts h >= h_star where R recomputed from the paper's rounded Table 8 is 0."""
    r = R_paper.set_index("h")["R"]
    zero = [int(h) for h, v in r.items() if h >= h_star and v == 0]
    if not zero:
        return f"Recomputed from the paper's Table 8 means, R(h) > 0 at every h >= {h_star}."
    return (f"Recomputed from the paper's Table 8 means (rounded to 0.1 points), R(h) = 0 at h = "
            f"{', '.join(map(str, zero))}: the rounded accuracies never rise with T there, which the paper's plot "
            "(from unrounded values) does not show.")


def validation_text(summary: pd.DataFrame, paper: pd.DataFrame) -> str:
    """Markdown: the range of our validation accuracy beside chance and the paper's Table 9."""
    return (f"Our validation accuracy lies between {summary['val_mean'].min():.1f} and {summary['val_mean'].max():.1f}% "
            f"(chance {CHANCE_PCT:g}%), the paper's Table 9 between {paper['val_mean'].min():.1f} and "
            f"{paper['val_mean'].max():.1f}%.")


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


# ----------------------------------------------------------------------------------------------------------
# the page's blocks of text, computed (the notebook only calls these and displays them)


def header_markdown(P: dict, device: str) -> str:
    """The tier, the device, the scale of this run and the table of this page's parameters."""
    scale = scale_text(P)
    return (f"**Tier `{P['tier']}`** on `{device}`. {scale[0].upper() + scale[1:]}.\n\n"
            "Parameters of this page (every choice the paper leaves open is here):\n\n" + SPEC.table(P))


def source_path(P: dict):
    """The archive the images are read from: the offline JPEG copy when it is asked for (or `auto`) and present,
    else the canonical python archive."""
    jpg = cifar.jpg_archive_path()
    return jpg if P["source"] in ("auto", "jpg") and jpg.is_file() else cifar.python_archive_path()


def data_markdown(P: dict, ev: dict) -> str:
    """Markdown: the data read, the store's runs and their training time, and what the tiers cost."""
    result, df = ev["result"], ev["runs"]
    return (f"Data: `{df['data_source'].iloc[0]}` (from `{source_path(P).name}`; checksum verified when decoded). "
            f"Runs: {result.summary()}. Training time of all runs, computed now or earlier, summed: "
            f"{df['train_seconds'].sum():.0f} s on {', '.join(sorted(set(df['device'])))}.\n\n"
            + cost_text(P, result))


def figure_meta(P: dict, ev: dict, device: str) -> dict:
    """What each figure's metadata records: the parameters, the code hash of the runs drawn, the device."""
    return {"params": P, "code_hash": ev["result"].records[0]["code_hash"], "device": device,
            **runs_provenance(ev["result"], *[v for k, v in ev.items() if k.startswith("result_")])}


def accuracy_tables_markdown(summary: pd.DataFrame, paper: pd.DataFrame, which: str) -> str:
    """Markdown: our training ('train') or validation ('val') accuracy in the paper's layout, above the paper's
    Table 8 (training) or 9 (validation)."""
    name, table, digits = {"train": ("Training", 8, 1), "val": ("Validation", 9, 2)}[which]
    return (f"### {name} accuracy (%), ours\n\n" + wide(summary, which, digits).to_markdown(index=False)
            + f"\n\n### Paper Table {table}: {name.lower()} accuracy (%)\n\n"
            + wide(paper, which, digits).to_markdown(index=False))


def side_markdown(side: pd.DataFrame) -> str:
    """Markdown: ours beside the paper cell by cell, with how many cells the paper ran."""
    return ("### Ours beside the paper, cell by cell\n\n" + matched_text(side) + "\n\n"
            + format_side(side).to_markdown(index=False))


def reversal_table(R_ours: pd.DataFrame, R_paper: pd.DataFrame) -> pd.DataFrame:
    """Per h: R(h) and its number of T values, ours and recomputed from the paper's Table 8 (the figure's table)."""
    return R_ours.merge(R_paper.rename(columns={"R": "R_paper", "n_T": "n_T_paper"}), on="h", how="outer")


def reversal_markdown(R_table: pd.DataFrame, R_paper: pd.DataFrame) -> str:
    """Markdown: R(h) ours and the paper's in one row each ('—' where a side has no value), then the paper's
    head counts whose rounded accuracies give R = 0."""
    def row(values):
        return " | ".join("—" if r != r else f"{r:.3g}" for r in values)

    return ("| h | " + " | ".join(str(h) for h in R_table["h"]) + " |\n|---|" + "---|" * len(R_table) + "\n"
            + "| R(h), ours | " + row(R_table["R"]) + " |\n"
            + "| R(h), paper Table 8 | " + row(R_table["R_paper"]) + " |\n\n" + paper_ties_text(R_paper))


def reference_markdown(paper: pd.DataFrame, P: dict) -> str:
    """Markdown: the page's checks applied to the paper's own Tables 8 and 9."""
    ref = verdicts(paper, P, tier="paper's numbers")
    return "For reference, the same checks on the paper's Tables 8 and 9:\n\n" + claims.markdown_table(ref)


def longer_training_markdown(P: dict, summary: pd.DataFrame, ev: dict) -> str:
    """Markdown of the longer-training section: the runs, the accuracy at both budgets and what it says, or that
    the check is off at this tier."""
    if not P["epochs_long"]:
        return "Not run at this tier (`epochs_long` = 0)."
    summary_long = summarise(ev["runs_long"])
    _, long_table = longer_training(summary, summary_long, P["epochs"], P["epochs_long"])
    return (f"Runs: {ev['result_long'].summary()}.\n\nAccuracy in %, after {P['epochs']} and "
            f"{P['epochs_long']} epochs:\n\n" + markdown_table(long_table)
            + "\n\n" + longer_training_text(summary, summary_long, P["epochs"], P["epochs_long"]))


def tiers_markdown(P: dict) -> str:
    """Markdown: one item per tier with its scale, marking this page's."""
    return "\n".join(f"- **{name}**: " + scale_text({**SPEC.tiers[name], "tier": name})
                     + (" (this page)." if name == P["tier"] else ".") for name in ("smoke", "laptop", "paper"))
