"""The benchmark's FLOP accounting: torch's counter against a hand count of equation (4), and the scaling of
counted FLOPs with the timed work. (Timings themselves are printed by `make bench`, never asserted.)"""

import os
import re

import pytest
import torch

from headcount.engine import bench, ckernel
from headcount.model import HeadcountTransformer, ModelConfig
from headcount.engine.train import make_data


def eq4_forward_flops(B, T, d, N, h, n):
    """Equation (4) by hand, per sequence: encoder (d N + N E per token), K and V (2 E^2 per token), logits and
    the weighted sum (E each per token), then q = W_Q c0 and W_O (E^2 each), F (E N + N); 2 FLOPs a MAC."""
    E = h * n
    return 2 * B * (T * (d * N + N * E + 2 * E * E + 2 * E) + 2 * E * E + E * N + N)


@pytest.mark.parametrize("T,h", [(8, 1), (16, 3), (64, 5)])
def test_counter_counts_equation_4_as_written(T, h):
    m = HeadcountTransformer(ModelConfig(d=4, h=h, n=8, N=32), seed=0)
    assert bench._count(lambda: m(torch.randn(16, T, 4))) == eq4_forward_flops(16, T, 4, 32, h, 8)


def test_counted_flops_follow_the_timed_work_and_the_engines():
    runs1 = bench.grid_runs(16, 1, 512, 128)
    runs2 = bench.grid_runs(16, 2, 512, 128)
    data = make_data(runs1[0])
    f = {e: bench.counted_flops(runs1, data, e) for e in ("stacked", "stacked-torch", "single", "direct")}
    # the fused stack executes fewer FLOPs than the models as written, with its per-token part in the C kernel or
    # in torch products; the direct stack pads every model to h = 5
    assert max(f["stacked"], f["stacked-torch"]) < f["single"] < f["direct"]
    if ckernel.available():  # the kernel recomputes the activations (6 d1 N a token) but pads no head
        assert f["stacked"] != f["stacked-torch"]
    # one more epoch adds its steps and its validation pass, not the final training-set evaluation
    extra = bench.counted_flops(runs2, data, "single") - f["single"]
    per_seq = sum(eq4_forward_flops(1, 16, 4, 32, r.h, r.n) for r in runs1)
    assert f["single"] > extra > 3 * 512 * per_seq  # training alone is more than 3x forward for 512 sequences
    assert extra == pytest.approx(f["single"] - 512 * per_seq)
    with pytest.raises(ValueError, match="engine must be"):
        bench.counted_flops(runs1, data, "fast")


@pytest.mark.slow
def test_quick_benchmark_ends_with_the_speedup_line(capsys):
    ratio = bench.main(["--quick", "--repeats", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"speedup \d+\.\dx", lines[-1]) and lines[-1] == f"speedup {ratio:.1f}x"
    assert re.fullmatch(r"speedup L2 \d+\.\dx", lines[-3])
    assert re.fullmatch(r"speedup retrieval \d+\.\d\dx", lines[-2])
    assert any(line.startswith("T=8: one at a time ") and "GFLOP/s" in line for line in lines)
    assert any(line.startswith("T in [32], h in [1, 2, 3], 1 epoch of 512 sequences each: reference ") for line in lines)
    targets = lines[lines.index("## targets (measured above)") + 1 : -1]
    assert targets[0].startswith("throughput at least 5x") and targets[0].endswith(("met", "not met"))
    assert "(T=32): executed FLOPs" in targets[1] and "model-FLOP utilisation" in targets[1]
    if (os.cpu_count() or 1) > 1:  # the whole-machine comparison, one process per core
        assert targets[2].startswith(f"the same on the whole machine ({os.cpu_count()} cores, above): ")
        assert "x the loop with" in targets[2] and "-thread ceiling: " in targets[2]
