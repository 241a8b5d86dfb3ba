"""Throughput of the stacked training engine against one model at a time, on this machine.

    python -m headcount.engine.bench            # the laptop synthetic grid, a few epochs (a few minutes)
    python -m headcount.engine.bench --quick    # a reduced grid for smoke use (about a minute)

Prints, in one run: samples per second of each engine on the laptop grid (D = 4, h = 1..5, 3 seeds,
T in {8, 16, 32, 64}, N = 32, n = 8, n_train = 8000) and their ratio; the floating-point rate the stacked
engine achieves (matrix-product FLOPs counted by torch's FlopCounterMode, plus those the C kernel of the
per-token part tallies itself) against a large matrix product timed in the same run; time per epoch
against T and against the number of stacked models; the same comparison on every core of the machine
(the loop with torch's threads on all cores, the stack in one single-threaded process per core, as
`make book` runs its pages); peak memory. The last line is `speedup <ratio>x`: samples per second of the
stacked engine over one model at a time, wall clock, median over repeats.

The machine may be shared: every timing is reported as wall clock and as this process's CPU time, and
repeats are shown, so a noisy neighbour is visible rather than hidden.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

from headcount.engine import ckernel
from headcount.engine.batched import train_stack
from headcount.engine.store import cpu_description
from headcount.engine.train import SyntheticRun, default_device, make_data, train_one

GRID = dict(task="sum_of_max", D=4, d=4, a_seed=0, data_seed=1234, n=8, N=32, batch_size=128, lr=1e-2)
HS, SEEDS = (1, 2, 3, 4, 5), (0, 1, 2)


def grid_runs(T: int, epochs: int, n_train: int, n_val: int, hs=HS, seeds=SEEDS) -> list[SyntheticRun]:
    """The laptop grid's runs at one T: every (h, seed)."""
    return [SyntheticRun(**GRID, T=T, h=h, seed=s, epochs=epochs, n_train=n_train, n_val=n_val)
            for h in hs for s in seeds]


class Clock:
    """Wall-clock and process CPU seconds of a block (CUDA synchronised)."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        self._sync()
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self._sync()
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def matmul_ceiling(device: torch.device, n: int, reps: int = 5) -> float:
    """Best FLOP/s of an n x n float32 matrix product (2 n^3 FLOPs): the machine's practical ceiling."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    torch.mm(a, b)
    for _ in range(reps):
        with Clock(device) as c:
            torch.mm(a, b)
        best = min(best, c.wall)
    return 2 * n**3 / best


def _count(fn) -> float:
    """Matrix-product FLOPs executed inside fn(): those torch runs, counted by
    torch.utils.flop_counter.FlopCounterMode (mm, bmm, baddbmm and the like, each at its actual shape:
    padding and batching included), plus those of the C kernel, which runs outside torch and tallies its
    own (`ckernel.flops`: the same multiply-adds, recomputed activations included)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, ckernel.counting() as kernel:
        fn()
    return float(counter.get_total_flops()) + kernel.flops


def _step_and_eval_flops(model_fn, B: int, X: torch.Tensor, y: torch.Tensor, params) -> tuple[float, float]:
    """(FLOPs of one training step on B sequences: forward, loss, backward; FLOPs of a forward pass per
    evaluated sequence), counted on real data. The forward pass is counted with autograd on (the counter's
    module tracker fails under no_grad); evaluation computes the same products, in other chunk sizes."""
    def step():
        loss = ((model_fn(X[:B]) - y[:B]) ** 2).mean()
        loss.backward()

    train = _count(step)
    k = min(len(X), 4 * B)
    evaluate = _count(lambda: model_fn(X[:k])) / k
    for p in params:
        p.grad = None
    return train, evaluate


def counted_flops(runs: list[SyntheticRun], data: dict, engine: str) -> float:
    """Matrix-product FLOPs of training the runs as the benchmark times it, counted by torch on one real
    minibatch step and one evaluation pass, then scaled: n_train / B steps an epoch (forward, loss,
    backward), a forward pass over the n_val validation sequences every epoch and one over the n_train
    training sequences at the end (train NMSE).

    engine "stacked": what the stacked fused engine executes (its weight products padded to the stack's
    largest h, n and E; its per-token part in the C kernel where that is in use, at each model's own h,
    activations recomputed in the backward pass included); "stacked-torch": the same with the per-token part
    in batched torch products (padded to each token chunk's largest h); "single": each model alone, equation
    (4) as written (what the one-model-at-a-time engine executes); "direct": the stack with equation (4)
    computed as written."""
    from headcount.engine.batched import StackedTransformers, with_ones
    from headcount.model import HeadcountTransformer

    r0 = runs[0]
    B = r0.batch_size
    X, y = data["Xtr"], data["ytr"]
    if engine == "single":
        train = evaluate = 0.0
        for r in runs:
            m = HeadcountTransformer(r.model_config(), seed=r.seed)
            t, e = _step_and_eval_flops(m, B, X, y, list(m.parameters()))
            train, evaluate = train + t, evaluate + e
    elif engine in ("stacked", "stacked-torch", "direct"):
        order = sorted(range(len(runs)), key=lambda i: (runs[i].h, runs[i].n))  # as fit_stack orders them
        st = StackedTransformers.from_models([HeadcountTransformer(runs[i].model_config(), seed=runs[i].seed)
                                              for i in order])
        st.kernel = "torch" if engine == "stacked-torch" else "auto"
        form = "direct" if engine == "direct" else "fused"
        train, evaluate = _step_and_eval_flops(lambda x1: st(x1, form=form), B, with_ones(X), y,  # (G, B) - (B,)
                                               list(st.parameters()))
    else:
        raise ValueError(f"engine must be 'stacked', 'stacked-torch', 'single' or 'direct', got {engine!r}")
    return r0.epochs * (train * r0.n_train / B + evaluate * r0.n_val) + evaluate * r0.n_train


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _peak_line(device: torch.device) -> str:
    line = f"peak resident memory so far (ru_maxrss) {_maxrss_mb():.0f} MB"
    if device.type == "cuda":
        line += f"; CUDA max allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
        torch.cuda.reset_peak_memory_stats()
    return line


def _peak_in_subprocess(what: str, device: torch.device, threads: int, n_train: int, n_val: int) -> float:
    """Peak resident memory (MB, VmHWM) of a fresh process that imports, makes the T=64 data and then runs `what`:
    'none' (the baseline: imports, data, an optimiser), 'stacked' (the 15 grid models as one stack) or 'single' (the largest model
    alone: one at a time, the peak is that of the largest). One epoch each."""
    code = (
        "import torch\n"
        f"torch.set_num_threads({threads})\n"
        "from headcount.engine.bench import grid_runs, run_single, run_stacked\n"
        "from headcount.engine.train import make_data\n"
        f"runs = grid_runs(64, 1, {n_train}, {n_val}); data = make_data(runs[0]); dev = torch.device('{device}')\n"
        f"what = '{what}'\n"
        "torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the baseline pays the optimiser's imports too\n"
        "if what == 'stacked': run_stacked(runs, data, dev)\n"
        "if what == 'single': run_single(runs[-1:], data, dev)\n"
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's resident size at fork
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run_single(runs, data, device):
    return [train_one(r, data, device=device) for r in runs]


def run_stacked(runs, data, device, form="fused", kernel="auto"):
    return train_stack(runs, data, device=device, form=form, kernel=kernel)


def _machine_worker(Ts, epochs, n_train, n_val, barrier, out) -> None:
    """One worker of the whole-machine run: one torch thread, the stacked grid rows of its Ts. Data is made
    before the common start (the barrier), as in the timed runs above; reports (start, end) wall clock."""
    torch.set_num_threads(1)
    rows = [(runs, make_data(runs[0])) for runs in (grid_runs(T, epochs, n_train, n_val) for T in Ts)]
    run_stacked(rows[0][0][:1], rows[0][1], torch.device("cpu"))  # the process's one-off setup costs
    barrier.wait()
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    for runs, data in rows:
        run_stacked(runs, data, torch.device("cpu"))
    out.put((t0, time.perf_counter()))


def stacked_on_every_core(Ts, cost: dict, epochs: int, n_train: int, n_val: int, workers: int) -> float:
    """Wall seconds of the stacked grid spread over `workers` processes of one thread each, as `make book`
    spreads its pages over the cores: the grid rows (one per T) go longest first to the least loaded worker,
    by their measured one-thread times `cost`; from the common start to the last worker's end."""
    import multiprocessing as mp

    loads = [[0.0, []] for _ in range(workers)]
    for T in sorted(Ts, key=lambda T: -cost[T]):
        w = min(loads, key=lambda l: l[0])
        w[0] += cost[T]
        w[1].append(T)
    ctx = mp.get_context("spawn")  # a forked child of a process that has used torch's thread pool can hang
    parts = [ts for _, ts in loads if ts]
    barrier, out = ctx.Barrier(len(parts)), ctx.Queue()
    procs = [ctx.Process(target=_machine_worker, args=(ts, epochs, n_train, n_val, barrier, out)) for ts in parts]
    for p in procs:
        p.start()
    spans = [out.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a whole-machine benchmark worker failed (exit code {p.exitcode})")
    return max(e for _, e in spans) - min(s for s, _ in spans)


def bench_two_layers(quick: bool, device: torch.device, say) -> float:
    """L = 2 models (the depth control's row: E = 32 split over h = 1..3 heads, one seed), trained one at a time
    with the reference forward (`train.train_one`) and with the fused attention (`batched.train_deep`), the same
    runs both ways; prints samples/s of each and returns their ratio. (Stacking L = 2 models was measured
    slower than this loop: see the note in headcount.engine.batched.)"""
    from headcount.engine.batched import train_deep

    Ts = (32,) if quick else (32, 128)
    n_train, n_val = (512, 128) if quick else (2048, 512)
    say("\n## two-layer models (L = 2), one at a time: reference forward vs fused attention")
    t_ref = t_fast = 0.0
    samples = 0
    warm = SyntheticRun(T=8, h=2, n=16, n_layers=2, epochs=1, n_train=256, n_val=64)
    train_one(warm, device=device), train_deep(warm, device=device)  # first-call costs out of the timing
    for T in Ts:
        runs = [SyntheticRun(T=T, h=h, n=math.ceil(32 / h), n_layers=2, epochs=1, n_train=n_train, n_val=n_val)
                for h in (1, 2, 3)]
        data = make_data(runs[0])
        for run in runs:
            t = time.perf_counter()
            ref = train_one(run, data, device=device)
            t_ref += time.perf_counter() - t
            t = time.perf_counter()
            fast = train_deep(run, data, device=device)
            t_fast += time.perf_counter() - t
            samples += n_train
            if not math.isclose(fast["val_nmse"], ref["val_nmse"], rel_tol=1e-3):
                say(f"warning: T={T} h={run.h}: the two paths differ beyond 1e-3 ({fast['val_nmse']} vs {ref['val_nmse']})")
    ratio = t_ref / t_fast
    say(f"T in {list(Ts)}, h in [1, 2, 3], 1 epoch of {n_train} sequences each: reference {samples / t_ref:,.0f} "
        f"samples/s, fused attention {samples / t_fast:,.0f} samples/s, ratio {ratio:.1f}x")
    return ratio


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(prog="python -m headcount.engine.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced grid for smoke use (~1 minute)")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads for both engines (default 1: the machine is shared)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 2, quick 1)")
    p.add_argument("--repeats", type=int, default=None, help="repeats of the grid comparison (default 3, quick 1)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    quick = args.quick
    epochs = args.epochs or (1 if quick else 2)
    repeats = args.repeats or (1 if quick else 3)
    n_train, n_val = (2000, 500) if quick else (8000, 2000)
    Ts = (8, 32) if quick else (8, 16, 32, 64)
    say = lambda *a: print(*a, flush=True)  # noqa: E731

    say("# headcount.engine.bench: stacked training engine vs one model at a time")
    say(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, cpu {cpu_description()}, "
        f"{os.cpu_count()} logical cores, load average at start {os.getloadavg()[0]:.2f}")
    say(f"grid: D=4, h in {list(HS)}, seeds {list(SEEDS)}, T in {list(Ts)}, N=32, n=8, batch 128, "
        f"n_train={n_train}, n_val={n_val}, epochs={epochs}, validation every epoch"
        + (" [quick: reduced]" if quick else ""))
    if device.type == "cpu":
        why = ckernel.why_unavailable()
        say("per-token part of the stacked engine: " + ("the C kernel (lib/headcount/kernels/tokenpool.c)" if why is None
            else f"batched torch products (C kernel unavailable: {why.splitlines()[0]})"))

    # Warm-up: the first optimiser and the first products of a process pay one-off import and setup costs.
    warm = grid_runs(8, 1, 256, 64, hs=(1, 5), seeds=(0,))
    wdata = make_data(warm[0])
    run_single(warm, wdata, device)
    run_stacked(warm, wdata, device)

    # -- matmul ceiling ------------------------------------------------------------------------------
    n_mm = 4096 if device.type == "cuda" else (1024 if quick else 2048)
    ceiling = matmul_ceiling(device, n_mm)
    say(f"\n## ceiling: float32 {n_mm}x{n_mm} matrix product, best of 5: {ceiling / 1e9:.1f} GFLOP/s")

    # -- the grid, both engines ----------------------------------------------------------------------
    say("\n## laptop grid, both engines (per repeat: every T, single engine then stacked)")
    datas = {T: make_data(grid_runs(T, epochs, n_train, n_val)[0]) for T in Ts}
    samples = len(HS) * len(SEEDS) * epochs * n_train * len(Ts)
    rows = {eng: [] for eng in ("single", "stacked")}  # per repeat: (wall, cpu) summed over T
    per_T = {eng: {T: [] for T in Ts} for eng in rows}
    check = []
    for rep in range(repeats):
        tot = {eng: [0.0, 0.0] for eng in rows}
        for T in Ts:
            runs = grid_runs(T, epochs, n_train, n_val)
            with Clock(device) as c1:
                single = run_single(runs, datas[T], device)
            with Clock(device) as c2:
                stacked = run_stacked(runs, datas[T], device)
            for eng, c in (("single", c1), ("stacked", c2)):
                tot[eng][0] += c.wall
                tot[eng][1] += c.cpu
                per_T[eng][T].append((c.wall, c.cpu))
            if rep == 0:
                check += [abs(a["val_nmse"] / b["val_nmse"] - 1) for a, b in zip(stacked, single)]
        for eng in rows:
            rows[eng].append(tuple(tot[eng]))
        s, k = rows["single"][-1], rows["stacked"][-1]
        say(f"repeat {rep + 1}: single {s[0]:7.1f} s wall ({s[1]:7.1f} s CPU) | stacked {k[0]:6.1f} s wall "
            f"({k[1]:6.1f} s CPU) | ratio {s[0] / k[0]:5.1f}x wall, {s[1] / k[1]:5.1f}x CPU "
            f"| load {os.getloadavg()[0]:.1f}")
    ratios = [s[0] / k[0] for s, k in zip(rows["single"], rows["stacked"])]
    cpu_ratios = [s[1] / k[1] for s, k in zip(rows["single"], rows["stacked"])]
    med = {eng: statistics.median(w for w, _ in rows[eng]) for eng in rows}
    say(f"samples/s (median wall): single {samples / med['single']:,.0f}, stacked {samples / med['stacked']:,.0f}; "
        f"ratio median {statistics.median(ratios):.1f}x (repeats {', '.join(f'{r:.1f}' for r in ratios)}); "
        f"CPU-time ratio median {statistics.median(cpu_ratios):.1f}x")
    say(f"agreement: largest relative val_nmse difference stacked vs single over the grid: {max(check):.1e}")
    wall = {eng: {T: statistics.median(w for w, _ in per_T[eng][T]) for T in Ts} for eng in per_T}
    cput = {eng: {T: statistics.median(c for _, c in per_T[eng][T]) for T in Ts} for eng in per_T}
    say("per T, s per epoch for all 15 models (median wall / CPU): "
        + "; ".join(f"T={T}: single {wall['single'][T] / epochs:.2f}/{cput['single'][T] / epochs:.2f}, "
                    f"stacked {wall['stacked'][T] / epochs:.2f}/{cput['stacked'][T] / epochs:.2f} "
                    f"({wall['single'][T] / wall['stacked'][T]:.1f}x)" for T in Ts))
    say(_peak_line(device))

    # -- FLOP rate -----------------------------------------------------------------------------------
    say("\n## floating-point rate: matrix-product FLOPs counted by torch (FlopCounterMode), plus the multiply-adds the"
        " C kernel tallies itself (ckernel.flops), on one real training step and one evaluation pass, scaled to the"
        " timed work (every step, validation every epoch, the final training-set evaluation)")
    say("executed (hardware FLOPs) = what the stacked fused engine computes, padding and the C kernel's recomputed"
        " activations included; model (model FLOPs) ="
        " equation (4) as written for each model alone, i.e. what the one-at-a-time engine computes. The fused"
        " form reassociates equation (4), so it executes several times fewer FLOPs than the model's own count.")
    share = {}  # T -> (executed, model) FLOPs per wall second as fractions of the ceiling
    executed = {}  # T -> executed FLOPs of the timed work
    for T in Ts:
        runs = grid_runs(T, epochs, n_train, n_val)
        ex, mo = counted_flops(runs, datas[T], "stacked"), counted_flops(runs, datas[T], "single")
        executed[T] = ex
        tw, tc = wall["stacked"][T], cput["stacked"][T]
        share[T] = (ex / tw / ceiling, mo / tw / ceiling)
        say(f"T={T:3d} stacked: executed {ex / tw / 1e9:5.2f} GFLOP/s wall = {100 * ex / tw / ceiling:4.1f}% of the "
            f"ceiling ({ex / tc / 1e9:5.2f} per CPU s = {100 * ex / tc / ceiling:4.1f}%); model FLOPs per wall s "
            f"{mo / tw / 1e9:5.2f} G = {100 * mo / tw / ceiling:4.1f}% (executes {mo / ex:.1f}x fewer) | single "
            f"engine: {mo / wall['single'][T] / 1e9:5.2f} GFLOP/s wall = {100 * mo / wall['single'][T] / ceiling:4.1f}%")

    # -- time per epoch against T --------------------------------------------------------------------
    say("\n## time per epoch against T (15 models, incl. validation; T of the grid: medians above; others: 1 epoch,"
        " single engine timed on h=1..5 with one seed and multiplied by 3, as the seed does not change the work)")
    T_scan = (8, 32, 128) if quick else (8, 16, 32, 64, 128)
    for T in T_scan:
        if T in Ts:
            kw, kc = wall["stacked"][T] / epochs, cput["stacked"][T] / epochs
            sw, sc = wall["single"][T] / epochs, cput["single"][T] / epochs
        else:
            runs = grid_runs(T, 1, n_train, n_val)
            data = make_data(runs[0])
            with Clock(device) as ck:
                run_stacked(runs, data, device)
            kw, kc = ck.wall, ck.cpu
            sw = sc = None
            if not quick:
                with Clock(device) as cs:
                    run_single(runs[::3], data, device)
                sw, sc = 3 * cs.wall, 3 * cs.cpu
        line = f"T={T:3d}: stacked {kw:6.2f} s wall ({kc:6.2f} CPU)"
        if sw is not None:
            line += f" | single {sw:6.2f} s wall ({sc:6.2f} CPU) | {sw / kw:4.1f}x"
        say(line)

    # -- time per epoch against the number of stacked models -----------------------------------------
    say("\n## time per epoch against the number of stacked models G (T=32, 1 epoch; h cycles 1..5)")
    all_runs = [r for s in SEEDS for r in grid_runs(32, 1, n_train, n_val, seeds=(s,))]  # h=1..5, seed 0, then 1, 2
    data = make_data(all_runs[0])
    for G in (1, 3, 5, 15):
        with Clock(device) as ck:
            run_stacked(all_runs[:G], data, device)
        say(f"G={G:2d}: {ck.wall:6.2f} s wall ({ck.cpu:6.2f} CPU), {ck.wall / G:5.2f} s per model")

    # -- direct form ablation ------------------------------------------------------------------------
    if not quick:
        say("\n## ablations at T=64, one epoch each: the stacked engine with equation (4) computed as written (no"
            " reassociation), and with the fused form's per-token part in batched torch products instead of the C kernel")
        runs = grid_runs(64, 1, n_train, n_val)
        data = datas[64]
        timed = {}
        for name, kw in (("direct", dict(form="direct")), ("stacked-torch", dict(kernel="torch")), ("stacked", {})):
            with Clock(device) as c:
                run_stacked(runs, data, device, **kw)
            timed[name] = c
        say(f"direct {timed['direct'].wall:.2f} s wall ({timed['direct'].cpu:.2f} CPU); fused, torch products "
            f"{timed['stacked-torch'].wall:.2f} s wall ({timed['stacked-torch'].cpu:.2f} CPU); fused, default "
            f"{timed['stacked'].wall:.2f} s wall ({timed['stacked'].cpu:.2f} CPU)")
        for name, what in (("direct", "direct form (every model padded to h=5)"),
                           ("stacked-torch", "fused form, torch products")):
            ex = counted_flops(runs, data, name)
            say(f"{what}: executed {ex / timed[name].wall / 1e9:.2f} GFLOP/s = "
                f"{100 * ex / timed[name].wall / ceiling:.1f}% of the ceiling")

    # -- the whole machine ---------------------------------------------------------------------------
    cores = os.cpu_count() or 1
    whole = None
    if device.type == "cpu" and cores > 1:
        say(f"\n## the whole machine ({cores} cores): the one-model-at-a-time loop with torch's {cores} threads, against"
            f" the stacked engine in {cores} processes of one thread each (grid rows, longest first, to the least"
            f" loaded process, as make book spreads pages over the cores); the ceiling with {cores} threads")
        torch.set_num_threads(cores)
        try:
            ceiling_all = matmul_ceiling(device, n_mm)
            run_single(warm, wdata, device)
            with Clock(device) as c_all:
                for T in Ts:
                    run_single(grid_runs(T, epochs, n_train, n_val), datas[T], device)
        finally:
            torch.set_num_threads(args.threads)
        k_all = stacked_on_every_core(Ts, wall["stacked"], epochs, n_train, n_val, cores)
        ex_all = sum(executed.values())
        whole = (c_all.wall / k_all, ex_all / k_all / ceiling_all)
        say(f"ceiling, float32 {n_mm}x{n_mm} matrix product with {cores} threads, best of 5: {ceiling_all / 1e9:.1f} GFLOP/s")
        say(f"single engine, {cores} threads: {c_all.wall:.1f} s wall ({c_all.cpu:.1f} s CPU), {samples / c_all.wall:,.0f}"
            f" samples/s | stacked, {cores} processes: {k_all:.1f} s wall, {samples / k_all:,.0f} samples/s | ratio "
            f"{whole[0]:.1f}x")
        say(f"stacked, {cores} processes: executed {ex_all / k_all / 1e9:.2f} GFLOP/s = {100 * whole[1]:.1f}% of the"
            f" {cores}-thread ceiling (over the whole grid, every T)")

    say("\n## memory")
    say(_peak_line(device) + " (this process, both engines and every section above)")
    if not quick and device.type == "cpu":
        base, st, si = (_peak_in_subprocess(w, device, args.threads, n_train, n_val) for w in ("none", "stacked", "single"))
        say(f"separate processes at T=64, 1 epoch, peak RSS: imports + data {base:.0f} MB; stacked, 15 models "
            f"{st:.0f} MB (+{st - base:.0f}); single engine, largest model (h=5) {si:.0f} MB (+{si - base:.0f})")
    l2 = bench_two_layers(quick, device, say)
    from headcount.engine.bench_realdata import bench_retrieval

    ret = bench_retrieval(quick, device, say, ceiling)
    ratio = statistics.median(ratios)
    say("\n## targets (measured above)")
    say(f"throughput at least 5x the one-model-at-a-time loop: median {ratio:.1f}x: "
        f"{'met' if ratio >= 5 else 'not met'}")
    big = max(Ts)
    ex_share, mo_share = share[big]
    say(f"at least 25% of the matrix-product ceiling on the largest configuration (T={big}): executed FLOPs "
        f"{100 * ex_share:.1f}%: {'met' if ex_share >= 0.25 else 'not met'}; the model's own FLOPs (the usual "
        f"model-FLOP utilisation) {100 * mo_share:.1f}%: {'met' if mo_share >= 0.25 else 'not met'}")
    if whole is not None:
        say(f"the same on the whole machine ({cores} cores, above): {whole[0]:.1f}x the loop with {cores} threads: "
            f"{'met' if whole[0] >= 5 else 'not met'}; executed FLOPs over the grid {100 * whole[1]:.1f}% of the "
            f"{cores}-thread ceiling: {'met' if whole[1] >= 0.25 else 'not met'}")
    say(f"retrieval stacked engine at least 4x the one-model-at-a-time loop on a laptop grid row: {ret:.2f}x: "
        f"{'met' if ret >= 4 else 'not met'}")
    say(f"speedup L2 {l2:.1f}x")
    say(f"speedup retrieval {ret:.2f}x")
    say(f"speedup {ratio:.1f}x")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
