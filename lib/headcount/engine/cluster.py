"""Scale-out on a Dask cluster: each stack of a sweep is one Dask task.

`HEADCOUNT_SCHEDULER` (or `--scheduler` of `headcount run`, `notebooks` and `compute`) names where stacks run:

    tcp://host:8786   a running Dask scheduler (start one with `dask scheduler`, workers with
                      `dask worker tcp://host:8786 --nthreads 1`, adding `--resources GPU=1` on a GPU machine)
    local:N           a LocalCluster of N worker processes with one thread each, started on this machine

unset or empty: stacks train in this process, one after another (the default).

How it works (`sweep` in `headcount.engine.sweep` drives it):
- Each stack is submitted through `client.get_executor(retries=RETRIES)`: a task that raises is retried
  RETRIES times; a worker that dies while running a task has the task rescheduled on another worker (up to
  Dask's `distributed.scheduler.allowed-failures`, default 3, then KilledWorker stops the sweep). Records of
  stacks that finished are already stored: a rerun trains only what is missing.
- Workers return metrics; the client writes every record into its own store. So the store need not be
  reachable from the workers (no shared filesystem for results); the workers need the same environment
  (this package and its pinned requirements) and read access to the data (../shared/data or
  HEADCOUNT_DATA), and each keeps its decoded-data cache in its own HEADCOUNT_CACHE.
- Every task runs with one torch thread (OMP/MKL_NUM_THREADS=1 unless the worker's environment sets them),
  as a page kernel does, so a stack computes the same bits on a worker as in process on the same processor
  (stacks are formed from the full planned grid, whatever ran where).
- Stacks of experiments that benefit from a GPU (`Experiment.wants_gpu`: the ViT and the retrieval
  encoder) carry the Dask resource tag GPU=1 when some worker offers that resource, so they run only
  there; synthetic stacks (CPU with the C kernel) carry none. Without a GPU worker nothing is tagged.
"""

from __future__ import annotations

import contextlib
import os
import re

from headcount.paths import env_override

SCHEDULER_ENV = "HEADCOUNT_SCHEDULER"
RETRIES = 2  # a task that raises is submitted this many more times before the sweep stops
THREADS = "1"  # torch threads per training process: page kernels (the runner), Dask workers, headcount compute
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[A-Za-z0-9_.\-\[\]:]+(:\d+)?$")


def parse(text: str | None) -> tuple[str, object] | None:
    """('local', N), ('address', 'tcp://host:port'), or None for unset/empty. Anything else is refused."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    m = re.fullmatch(r"local:(\d+)", text)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 256:
            raise ValueError(f"scheduler {text!r}: local:N takes N between 1 and 256 worker processes")
        return ("local", n)
    if _ADDRESS.match(text):
        return ("address", text)
    raise ValueError(f"scheduler {text!r}: give the address of a running Dask scheduler (tcp://host:port) or "
                     "local:N for a LocalCluster of N one-thread worker processes")


def _require_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ValueError("a scheduler was given but Dask distributed is not installed: pip install -e .[cluster] "
                         "(scripts/setup.sh installs it)") from None


def one_thread_per_process() -> None:
    """The runner's thread policy for a process that trains: OMP/MKL_NUM_THREADS 1 unless already set, and torch
    on as many threads (a Dask worker's tasks, `headcount compute`)."""
    os.environ.setdefault("OMP_NUM_THREADS", THREADS)
    os.environ.setdefault("MKL_NUM_THREADS", THREADS)
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def _on_worker(fn, *args):
    """Runs on the worker: one torch thread (the runner's policy), then the stack."""
    one_thread_per_process()
    return fn(*args)


def worker_threads() -> dict:
    """What a worker reports about its threads (the tests check it on a real cluster)."""
    import torch

    return {"torch": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS"), "pid": os.getpid()}


class DaskExecutor:
    """What `sweep` needs from an executor (submit, submit_stack) on top of a distributed.Client; the futures are
    concurrent.futures ones (client.get_executor), so the sweep stores each stack's records as it finishes."""

    def __init__(self, client, retries: int = RETRIES):
        self.client = client
        self.retries = retries
        # concurrent.futures executors over the client: their futures complete as their stacks do
        self._cpu = client.get_executor(retries=retries, pure=False)
        self._gpu = client.get_executor(retries=retries, pure=False, resources={"GPU": 1})

    def gpu_workers(self) -> int:
        info = self.client.scheduler_info(n_workers=-1) if _takes_n_workers(self.client) else self.client.scheduler_info()
        return sum(1 for w in info["workers"].values() if w.get("resources", {}).get("GPU", 0) >= 1)

    def submit(self, fn, *args):
        return self._cpu.submit(_on_worker, fn, *args)

    def submit_stack(self, fn, *args, gpu: bool = False):
        """A stack as one task; tagged GPU=1 (so only a GPU worker takes it) when it wants a GPU and the
        cluster has a worker offering one."""
        return (self._gpu if gpu and self.gpu_workers() else self._cpu).submit(_on_worker, fn, *args)


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


@contextlib.contextmanager
def cluster(text: str | None):
    """Within the block, HEADCOUNT_SCHEDULER names a running scheduler (a LocalCluster started here for
    local:N, closed at the end), so every sweep of this process and of the page kernels it starts submits
    its stacks there. Yields the scheduler address, or None when `text` is unset or empty."""
    spec = parse(text)
    if spec is None:
        yield None
        return
    _require_distributed()
    if spec[0] == "address":
        with env_override({SCHEDULER_ENV: spec[1]}):
            try:
                yield spec[1]
            finally:
                _close(spec[1])
        return
    # spawned workers inherit this process's environment: one thread each unless the caller set otherwise
    threads = {k: os.environ.get(k) or THREADS for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with env_override(threads), _local_cluster(spec[1]) as lc, env_override({SCHEDULER_ENV: lc.scheduler_address}):
        try:
            yield lc.scheduler_address
        finally:
            _close(lc.scheduler_address)  # before the cluster itself closes


def _local_cluster(n: int):
    """A LocalCluster of n worker processes with one thread each, no dashboard, quiet logs."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40)


_CLIENTS: dict[str, DaskExecutor] = {}


def _close(address: str) -> None:
    ex = _CLIENTS.pop(address, None)
    if ex is not None:
        ex.client.close()


def default_executor():
    """The executor a sweep uses when given none: a DaskExecutor on HEADCOUNT_SCHEDULER's scheduler (one
    client per process), or None (in process). local:N in the variable starts a LocalCluster for this
    process alone; the CLI starts one for all its pages instead (`cluster`)."""
    spec = parse(os.environ.get(SCHEDULER_ENV))
    if spec is None:
        return None
    _require_distributed()
    if spec[0] == "local":
        key = f"local:{spec[1]}"
        if key not in _CLIENTS:
            os.environ.setdefault("OMP_NUM_THREADS", THREADS)
            _CLIENTS[key] = DaskExecutor(_local_cluster(spec[1]).get_client())
        return _CLIENTS[key]
    if spec[1] not in _CLIENTS:
        from distributed import Client

        _CLIENTS[spec[1]] = DaskExecutor(Client(spec[1], timeout="30s"))
    return _CLIENTS[spec[1]]
