"""The prepared device check (`scripts/gpu_check.sh`): a reduced paper-tier slice of each training engine,
trained on the CPU and on a CUDA GPU with the same code, compared within stated tolerances, with throughput.

Slices (each small enough that the whole check, CPU references included, fits in a few minutes on one GPU
and a 16-core host):
- synthetic: one stack of the paper tier's longest sequences (T = 128, h = 1..5, n = 8, one seed), EPOCHS_SYN
  epochs on N_TRAIN_SYN sequences (fp32 everywhere; TF32 turned off for the comparison);
- CIFAR-10: the ViT at h in {1, 8} on the two shortest paper canvases (T = 65 and 145 at patch 4), EPOCHS_VIT
  epochs on the smoke tier's images (bf16 autocast on the GPU, as the page trains there; fp32 on the CPU);
- MS MARCO: one row of the retrieval grid (the smoke tier's lists, T = its first value, h in {1, 2}).

Tolerances (the GPU result against the CPU one; training amplifies reordering, bf16 more so):
    synthetic: |val NMSE_gpu / val NMSE_cpu - 1| <= SYN_RTOL
    ViT and retrieval: |final training loss_gpu / loss_cpu - 1| <= REAL_RTOL
Without a CUDA device the CPU half runs and the comparison is reported as not run (exit status 0); with
one, any comparison outside its tolerance makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

EPOCHS_SYN, N_TRAIN_SYN = 3, 2048
EPOCHS_VIT = 2
SYN_RTOL = 1e-2
REAL_RTOL = 5e-2


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def synthetic(device: str) -> dict:
    from headcount.engine.batched import train_stack
    from headcount.engine.train import SyntheticRun

    runs = [SyntheticRun(T=128, h=h, n=8, seed=0, epochs=EPOCHS_SYN, n_train=N_TRAIN_SYN, n_val=512) for h in range(1, 6)]
    out, s = _time(lambda: train_stack(runs, device=device))
    seqs = len(runs) * EPOCHS_SYN * N_TRAIN_SYN
    return {"metric": [m["val_nmse"] for m in out], "metric_name": "val NMSE", "rtol": SYN_RTOL,
            "throughput": f"{seqs / s:,.0f} sequences/s ({len(runs)} models x {EPOCHS_SYN} epochs, T = 128)", "seconds": s}


def vit(device: str) -> dict:
    from headcount.book.pages import cifar10 as page
    from headcount.engine.vit import CifarRun, load_data, train_cifar

    P = page.SPEC.resolve(tier="smoke")
    out, total, images = [], 0.0, 0
    for canvas in (32, 48):  # patch 4: T = 65 and 145
        for h in (1, 8):
            run = CifarRun.from_dict({**page.run_configs(P)[0], "h": h, "canvas": canvas, "patch": 4,
                                      "epochs": EPOCHS_VIT})
            data = load_data(run)
            m, s = _time(lambda: train_cifar(run, data, device=device))
            out.append(m["final_loss"])
            total += s
            images += EPOCHS_VIT * 10 * run.train_per_class
    return {"metric": out, "metric_name": "final training loss", "rtol": REAL_RTOL, "seconds": total,
            "throughput": f"{images / total:,.0f} images/s (h in 1, 8; T = 65, 145; {EPOCHS_VIT} epochs)"}


def retrieval(device: str) -> dict:
    from headcount.book.pages import msmarco as page
    from headcount.engine import retrieval as eng

    P = page.SPEC.resolve(tier="smoke")
    configs = [c for c in page.run_configs(P) if c["T"] == P["T_grid"][0] and c["seed"] == P["seeds"][0]]
    configs = [{**c, "device": device} for c in configs]
    out, s = _time(lambda: eng.run_group(configs))
    return {"metric": [m["final_loss"] for m in out],
            "metric_name": "final training loss", "rtol": REAL_RTOL, "seconds": s,
            "throughput": f"{len(configs) * P['epochs'] / s:,.2f} model-epochs/s (one row: T = {P['T_grid'][0]}, h in {P['h_grid']})"}


ENGINES = {"synthetic": synthetic, "vit": vit, "retrieval": retrieval}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="gpu_check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", nargs="*", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)
    import torch

    from headcount.engine.store import environment

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for the comparison
    torch.backends.cudnn.allow_tf32 = False
    cuda = torch.cuda.is_available()
    env = environment()
    print(f"CPU: {env['cpu']}; GPU: {env['gpu']['name'] + ' (CUDA ' + str(env['gpu']['cuda']) + ')' if cuda else 'none'}")
    report, bad = {"env": env, "engines": {}}, 0
    for name in args.engines:
        cpu = ENGINES[name]("cpu")
        row = {"cpu": cpu}
        print(f"{name:10s} cpu : {cpu['throughput']}  [{cpu['seconds']:.1f} s]")
        if cuda:
            gpu = ENGINES[name]("cuda")
            worst = max(abs(g / c - 1) for g, c in zip(gpu["metric"], cpu["metric"]) if c)
            ok = worst <= cpu["rtol"] and all(math.isfinite(g) for g in gpu["metric"])
            bad += not ok
            row.update(gpu=gpu, worst_rel_diff=worst, within_tolerance=ok)
            print(f"{name:10s} cuda: {gpu['throughput']}  [{gpu['seconds']:.1f} s]; speedup "
                  f"{cpu['seconds'] / gpu['seconds']:.1f}x; {cpu['metric_name']} worst relative difference "
                  f"{worst:.2e} (tolerance {cpu['rtol']:g}): {'ok' if ok else 'OUTSIDE TOLERANCE'}")
        else:
            print(f"{name:10s} cuda: not run (no CUDA device visible)")
        report["engines"][name] = row
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1, default=str)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
