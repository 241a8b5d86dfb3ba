"""Throughput of the stacked real-data engines against one model at a time, for `headcount.engine.bench`.

Retrieval: one row of the MS MARCO page's laptop grid (dev-small lists, h = 1, 2, 3, 4, 6, 8, 12 at n = 4, one
seed), trained for one epoch one model at a time (`retrieval.train_run`) and as one stack
(`retrieval.train_stack`), the same runs both ways, evaluation included in both; samples/s (training lists
times models over wall seconds), their ratio, the executed floating-point rate of one stacked step
(FlopCounterMode: matrix products only) against the matrix-product ceiling, and this process's peak memory.
"""

from __future__ import annotations

import resource
import time

import torch

LAPTOP_ROW = dict(source="devsmall", n_queries=3000, n_val_queries=1000, test_source="dl19", test_max_positives=40,
                  max_passage_tokens=64, dense_max_tokens=64, n=4, batch_size=128, lr=3e-3, epochs=1)
HS = (1, 2, 3, 4, 6, 8, 12)


def _step_flops(runs, data, lists) -> tuple[float, float]:
    """Matrix-product FLOPs of one training step (forward and backward): (stacked, sum of the single models)."""
    from torch.utils.flop_counter import FlopCounterMode

    from headcount.engine import retrieval

    B = runs[0].batch_size
    idx = torch.as_tensor(data.split("train")[:B])
    d = lists.q_vec.shape[1]
    stack = retrieval.StackedScorer([retrieval.CandidateScorer(r, d) for r in runs])
    q, c = lists.inputs(idx.expand(len(runs), -1))
    with FlopCounterMode(display=False) as fc:
        stack(q, c).sum().backward()
    stacked = fc.get_total_flops()
    single = 0
    for r in runs:
        model = retrieval.CandidateScorer(r, d)
        with FlopCounterMode(display=False) as fc:
            model.forward_list(*lists.inputs(idx)).sum().backward()
        single += fc.get_total_flops()
    return float(stacked), float(single)


def _both_ways(runs, data, lists) -> tuple[float, float]:
    """Wall seconds to train the runs one at a time (`retrieval.train_run`) and as one stack (`train_stack`)."""
    from headcount.engine import retrieval

    t = time.perf_counter()
    for r in runs:
        retrieval.train_run(r, data, lists)
    single = time.perf_counter() - t
    t = time.perf_counter()
    retrieval.train_stack(runs, data, lists)
    return single, time.perf_counter() - t


def bench_retrieval(quick: bool, device: torch.device, say, ceiling: float) -> float:
    """Prints the retrieval section and returns the ratio of samples/s (stacked over one at a time)."""
    from headcount.engine import retrieval
    from headcount.engine.realdata import msmarco

    row = {**LAPTOP_ROW, **({"n_queries": 400, "n_val_queries": 100, "test_max_positives": 4} if quick else {})}
    Ts = (8,) if quick else (8, 64)
    say(f"\n## MS MARCO retrieval encoder, one laptop grid row: h in {list(HS)}, n = {row['n']}, one seed, "
        f"{row['n_queries'] - row['n_val_queries']} training lists, batch {row['batch_size']}, 1 epoch, T in {list(Ts)}"
        + (" [quick: fewer lists]" if quick else ""))
    t_single = t_stack = 0.0
    samples = 0
    for T in Ts:
        runs = [retrieval.RetrievalRun(**row, T=T, h=h, device=device.type) for h in HS]
        data = msmarco.build_lists(runs[0].lists_config())
        lists = retrieval.ListTensors(data, "list", device.type)
        retrieval.train_stack(runs[:2], data, lists)  # first-call costs out of the timing
        ts, tt = _both_ways(runs, data, lists)
        n = len(data.split("train")) * len(runs)
        fl_stack, fl_single = _step_flops(runs, data, lists)
        steps = -(-len(data.split("train")) // row["batch_size"])
        say(f"T={T}: one at a time {n / ts:,.0f} samples/s ({ts:.1f} s), stacked {n / tt:,.0f} samples/s ({tt:.1f} s), "
            f"ratio {ts / tt:.2f}x; executed matrix-product FLOPs of the stacked training {fl_stack * steps / tt / 1e9:.2f} "
            f"GFLOP/s = {100 * fl_stack * steps / tt / ceiling:.1f}% of the ceiling (the models' own "
            f"{fl_single / fl_stack:.0%} of them; the rest is padding to the widest model)")
        t_single, t_stack, samples = t_single + ts, t_stack + tt, samples + n
        if T == Ts[0]:  # the stack a CPU group uses: the seeds of one h, no padding
            seeds = [retrieval.RetrievalRun(**row, T=T, h=4, seed=s, device=device.type) for s in (0, 1, 2)]
            s1, s2 = _both_ways(seeds, data, lists)
            say(f"T={T}, h = 4, seeds 0, 1, 2 (no padding): one at a time {s1:.1f} s, stacked {s2:.1f} s, "
                f"ratio {s1 / s2:.2f}x")
    ratio = t_single / t_stack
    say(f"row total: one at a time {samples / t_single:,.0f} samples/s, stacked {samples / t_stack:,.0f} samples/s, "
        f"ratio {ratio:.2f}x; peak memory of this process so far "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    say("why no more: at these widths (n = 4, E <= 48) a step's time goes to the attention weights of every head "
        "over the T + 1 elements (h (T + 1)^2 numbers per list, read and written by the softmax and its gradient), "
        "the same work in both engines; stacking removes only the per-model overhead, which matters at small T")
    return ratio
