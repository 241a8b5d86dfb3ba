"""The Dask scale-out engine on a real LocalCluster: one-thread workers, retries, a worker killed mid-sweep,
GPU resource tags, and records bit-identical to an in-process sweep (through the CLI too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headcount.engine import cluster
from headcount.engine.store import ResultsStore, environment, gpu_description
from headcount.engine.sweep import Experiment, grid, sweep

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, want", [(None, None), ("", None), ("  ", None), ("local:2", ("local", 2)),
                                        ("tcp://10.0.0.5:8786", ("address", "tcp://10.0.0.5:8786")),
                                        ("tcp://scheduler.example.org:8786", ("address", "tcp://scheduler.example.org:8786"))])
def test_scheduler_values(text, want):
    assert cluster.parse(text) == want


@pytest.mark.parametrize("text", ["local", "local:0", "local:-1", "local:x", "local:999", "http://h:1", "h:8786",
                                  "tcp://h:1; rm -rf /", "tcp://$(id)"])
def test_bad_scheduler_values_are_refused_naming_what_is_allowed(text):
    with pytest.raises(ValueError, match="tcp://host:port|local:N takes N"):
        cluster.parse(text)


def test_the_cli_refuses_a_bad_scheduler_before_any_work(capsys):
    from headcount.book.cli import main

    assert main(["compute", "synthetic_heads", "--tier", "smoke", "--scheduler", "nowhere"]) == 2
    assert "scheduler 'nowhere'" in capsys.readouterr().err


def test_records_name_the_gpu_and_precision_policy(monkeypatch):
    import torch

    env = environment()
    assert env["float32_matmul_precision"] in ("highest", "high", "medium") and env["default_dtype"] == "float32"
    if not torch.cuda.is_available():
        assert "gpu" not in env
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA H200")
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (9, 0))
        monkeypatch.setattr(torch.version, "cuda", "12.8")
        monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    gpu = gpu_description(torch)
    assert set(gpu) >= {"name", "cuda", "cudnn", "capability", "tf32_matmul", "tf32_cudnn", "float32_matmul_precision"}


# --- on a real LocalCluster -------------------------------------------------------------------------------------

def square(configs):
    return [{"y": c["x"] ** 2, "pid": os.getpid()} for c in configs]


def flaky(configs):
    """Raises the first time it sees each marker file's config, then succeeds (a transient fault)."""
    marker = Path(configs[0]["marker"])
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("transient fault")
    return square(configs)


def dies_once(configs):
    """Kills its worker process the first time (like an OOM kill or a lost machine), then succeeds."""
    marker = Path(configs[0]["marker"])
    if configs[0]["x"] == 3 and not marker.exists():
        marker.write_text("killed once")
        os.kill(os.getpid(), 9)
    return square(configs)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as lc, distributed.Client(lc) as c:
        yield c




@pytest.mark.integration
def test_workers_run_one_thread_each(client):
    with cluster.cluster(client.scheduler.address):
        ex = cluster.default_executor()
        threads = [f.result() for f in [ex.submit(cluster.worker_threads) for _ in range(4)]]
    assert {t["torch"] for t in threads} == {1}
    assert {t["OMP_NUM_THREADS"] for t in threads} == {"1"} and {t["MKL_NUM_THREADS"] for t in threads} == {"1"}
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.integration
def test_a_failing_task_is_retried_and_the_sweep_completes(client, tmp_path):
    exp = Experiment("flaky", flaky, ("tasks",))
    cfgs = grid({"marker": str(tmp_path / "m")}, x=[1])
    res = sweep(exp, cfgs, ResultsStore(tmp_path / "store"), executor=cluster.DaskExecutor(client), progress=False)
    assert res.records[0]["metrics"]["y"] == 1 and (tmp_path / "m").exists()


@pytest.mark.integration
def test_a_worker_killed_mid_sweep_loses_nothing(client, tmp_path):
    exp = Experiment("dies", dies_once, ("tasks",))
    cfgs = grid({"marker": str(tmp_path / "m")}, x=list(range(6)))
    store = ResultsStore(tmp_path / "store")
    res = sweep(exp, cfgs, store, executor=cluster.DaskExecutor(client), progress=False)
    assert (tmp_path / "m").read_text() == "killed once"  # a worker did die
    assert [r["metrics"]["y"] for r in res.records] == [x * x for x in range(6)]
    assert sorted(r["metrics"]["y"] for r in ResultsStore(tmp_path / "store").records("dies")) == [x * x for x in range(6)]
    assert not list((tmp_path / "store").rglob("*.tmp"))


@pytest.mark.integration
def test_stacks_that_want_a_gpu_are_tagged_only_where_a_gpu_worker_exists(client, tmp_path):
    distributed = pytest.importorskip("distributed")
    ex = cluster.DaskExecutor(client)
    assert ex.gpu_workers() == 0
    assert ex.submit_stack(square, [{"x": 2}], gpu=True).result()[0]["y"] == 4  # no GPU worker: untagged, runs
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  resources={"GPU": 1}, silence_logs=40) as lc, distributed.Client(lc) as c:
        gex = cluster.DaskExecutor(c)
        assert gex.gpu_workers() == 1
        tagged, plain = gex.submit_stack(square, [{"x": 3}], gpu=True), gex.submit_stack(square, [{"x": 4}], gpu=False)
        assert (tagged.result()[0]["y"], plain.result()[0]["y"]) == (9, 16)  # both held, so the scheduler keeps both
        tags = c.run_on_scheduler(lambda dask_scheduler: sorted(
            str(ts.resource_restrictions) for ts in dask_scheduler.tasks.values()))
    assert tags == ["None", "{'GPU': 1}"]


@pytest.mark.integration
def test_the_cli_on_a_local_cluster_stores_what_the_in_process_run_stores(tmp_path):
    """`headcount run synthetic_heads --tier smoke --scheduler local:2` (a real papermill run, two one-thread
    worker processes) stores records bit-identical to the in-process sweep's."""
    env = {**os.environ, "HEADCOUNT_STORE": str(tmp_path / "dask"), "HEADCOUNT_CACHE": str(tmp_path / "cache"),
           "HEADCOUNT_CLAIMS_DIR": str(tmp_path / "claims"), "HEADCOUNT_FIGURES_DIR": str(tmp_path / "figures")}
    env.pop(cluster.SCHEDULER_ENV, None)
    out = tmp_path / "out"
    p = subprocess.run([str(REPO / ".venv/bin/headcount"), "run", "synthetic_heads", "--tier", "smoke", "--scheduler",
                        "local:2", "--out", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    env["HEADCOUNT_STORE"] = str(tmp_path / "inproc")
    q = subprocess.run([str(REPO / ".venv/bin/headcount"), "compute", "synthetic_heads", "--tier", "smoke"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert q.returncode == 0, q.stderr[-3000:]

    def bits(root):
        recs = [json.loads(f.read_text()) for f in sorted(Path(root).rglob("*.json"))]
        return {r["key"]: (r["metrics"], r["stack"]) for r in recs}

    dask_bits, inproc_bits = bits(tmp_path / "dask"), bits(tmp_path / "inproc")
    assert dask_bits and dask_bits.keys() == inproc_bits.keys()
    for k in dask_bits:
        a, b = dict(dask_bits[k][0]), dict(inproc_bits[k][0])
        for timing in ("train_seconds", "eval_seconds", "seconds"):
            a.pop(timing, None), b.pop(timing, None)
        assert (a, dask_bits[k][1]) == (b, inproc_bits[k][1]), k


def test_the_gpu_check_runs_its_cpu_half_and_says_when_no_gpu_ran(tmp_path, capsys):
    import torch

    from headcount.book import gpucheck

    out = tmp_path / "gpu.json"
    assert gpucheck.main(["--engines", "synthetic", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    row = report["engines"]["synthetic"]
    assert len(row["cpu"]["metric"]) == 5 and all(0 < m < 10 for m in row["cpu"]["metric"])
    if not torch.cuda.is_available():
        assert "synthetic  cuda: not run (no CUDA device visible)" in text and "gpu" not in row
