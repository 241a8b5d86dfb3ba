"""A content-addressed results store: one JSON record per run.

The key of a run is sha256(canonical JSON of its resolved config + the hash of the library code it
depends on), so a change of that code can never serve a stale figure. Writes are atomic (temporary
file in the same folder, fsync, rename): a killed sweep loses at most the runs in flight, and two writers
never interleave bytes.

What a read verifies (`verify_record`): the file parses as a JSON object; its key is the one asked for and
equals run_key(its config, its code hash), so an edited config or code hash cannot be served under the
key; its metrics are a mapping of finite values whose sha256 (over their canonical JSON) matches the
record's `metrics_sha256`, so an edited metric cannot be served either. A record that fails any of these is
treated as missing (a sweep recomputes it and writes a good record in its place) and is listed, with its
file and the reason, in `store.damaged` (shown by `headcount status`). Nothing else is trusted: the digest
is a check against damage and hand edits, not a signature.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import tempfile
import time
import platform
import re
from importlib import metadata
from pathlib import Path

from headcount.paths import PACKAGE_DIR, REPO, atomic_write_text, env_path, env_paths  # code_hash names modules relative to the package root
VERSIONED_PACKAGES = ("torch", "numpy", "pandas")


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def code_hash(modules: tuple[str, ...]) -> str:
    """sha256 over the source of the named library modules (e.g. ("model", "tasks", "train")).

    A module name may name a subpackage folder, whose .py files are all hashed."""
    h = hashlib.sha256()
    for name in sorted(modules):
        path = PACKAGE_DIR / f"{name.replace('.', '/')}.py"
        files = [path] if path.exists() else sorted((PACKAGE_DIR / name.replace(".", "/")).rglob("*.py"))
        if not files:
            raise ValueError(f"code_hash: no library module named {name!r} under {PACKAGE_DIR}")
        for f in files:
            h.update(str(f.relative_to(PACKAGE_DIR)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def run_key(config: dict, code: str) -> str:
    """The store key of a run: hash of its canonical config plus the code hash."""
    return hashlib.sha256((canonical_json(config) + "|" + code).encode()).hexdigest()[:24]


def cpu_description() -> str:
    """The processor's model name and the widest x86 vector extension it has (e.g. "AMD EPYC, avx512f"), or
    the architecture where /proc/cpuinfo is not there. Floating-point results depend on it: the numerical
    libraries pick their kernels by vector extension, and sums taken in another order round differently."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    name = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    have = set(flags.group(1).split()) if flags else set()
    widest = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in have), None)
    return ", ".join(x for x in ((name.group(1).strip() if name else platform.machine()), widest) if x)


def environment() -> dict:
    """Package versions and machine facts recorded with every run."""
    versions = {}
    for pkg in VERSIONED_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpu": cpu_description(),
           "versions": versions}
    try:  # the vector extension torch's own CPU kernels were dispatched to (e.g. "AVX512", "AVX2")
        import torch

        env["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        env["float32_matmul_precision"] = torch.get_float32_matmul_precision()
        env["default_dtype"] = str(torch.get_default_dtype()).replace("torch.", "")
        gpu = gpu_description(torch)
        if gpu:
            env["gpu"] = gpu
    except (ImportError, AttributeError):
        pass
    return env


def gpu_description(torch) -> dict | None:
    """The GPU a CUDA run used, as the records name it: device name, CUDA and cuDNN versions, compute
    capability, and the precision policy that changes its results (TF32 for matmuls and convolutions, the
    float32 matmul precision). None where no GPU is visible."""
    if not torch.cuda.is_available():
        return None
    i = torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(i)
    return {"name": torch.cuda.get_device_name(i), "count": torch.cuda.device_count(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "capability": f"{major}.{minor}",
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32), "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


def metrics_digest(metrics) -> str:
    """sha256 of a record's metrics as canonical JSON (what `verify_record` checks against `metrics_sha256`)."""
    return hashlib.sha256(canonical_json(metrics).encode()).hexdigest()


def non_finite(metrics: dict) -> list[str]:
    """Names of the metrics whose value (a number, or a number inside a list) is NaN or infinite."""
    bad = []
    for name, v in metrics.items():
        values = v if isinstance(v, (list, tuple)) else [v]
        if any(isinstance(x, float) and not math.isfinite(x) for x in values):
            bad.append(name)
    return bad


def seal(record: dict) -> dict:
    """The record as the store writes it: metrics normalised through JSON (what a reader will parse) and
    their digest added. Refuses metrics that are not finite: they are not results."""
    metrics = json.loads(json.dumps(record["metrics"], default=str))
    if not isinstance(metrics, dict):
        raise ValueError(f"record {record.get('key')}: metrics must be a mapping, got {type(metrics).__name__}")
    bad = non_finite(metrics)
    if bad:
        raise NonFiniteMetrics(
            f"run {record.get('key')} ({canonical_json(record.get('config'))}) came out with non-finite "
            f"{', '.join(bad)}; not stored (a diverged training is not a result: lower lr or check the inputs)")
    return {**record, "metrics": metrics, "metrics_sha256": metrics_digest(metrics)}


def verify_record(rec, key: str | None = None) -> str | None:
    """Why a parsed record must not be served, or None if it is sound (see the module docstring)."""
    if not isinstance(rec, dict):
        return f"not a JSON object but {type(rec).__name__}"
    missing = [f for f in ("key", "config", "code_hash", "metrics", "metrics_sha256") if f not in rec]
    if missing:
        return f"lacks {', '.join(missing)}"
    if key is not None and rec["key"] != key:
        return f"holds key {str(rec['key'])[:24]!r}, not the key of its file name"
    if not isinstance(rec["config"], dict) or not isinstance(rec["code_hash"], str):
        return "config is not a mapping or code_hash not a string"
    if run_key(rec["config"], rec["code_hash"]) != rec["key"]:
        return "its config and code hash do not give its key (config or code_hash edited)"
    if not isinstance(rec["metrics"], dict):
        return f"metrics are {type(rec['metrics']).__name__}, not a mapping"
    if metrics_digest(rec["metrics"]) != rec["metrics_sha256"]:
        return "metrics do not match their sha256 (edited or damaged)"
    bad = non_finite(rec["metrics"])
    if bad:
        return f"non-finite {', '.join(bad)}"
    return None


class StoreNotWritable(OSError):
    """The store's folder cannot be written: refused before any training."""


class NonFiniteMetrics(ValueError):
    """A run produced NaN or infinite metrics; the store refuses to keep them as results."""


class ResultsStore:
    """Records live at <root>/<experiment>/<key[:2]>/<key>.json.

    `damaged` collects (path, reason) for every record file read and refused since the store was made."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.damaged: list[tuple[Path, str]] = []

    def path(self, experiment: str, key: str) -> Path:
        return self.root / experiment / key[:2] / f"{key}.json"

    def _read(self, p: Path, key: str | None) -> dict | None:
        try:
            rec = json.loads(p.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            return self._refuse(p, "a directory where a record file should be")
        except UnicodeDecodeError:
            return self._refuse(p, "not UTF-8 text")
        except json.JSONDecodeError as exc:
            return self._refuse(p, f"not valid JSON ({exc.msg} at line {exc.lineno})")
        except (OSError, RecursionError, ValueError) as exc:
            return self._refuse(p, f"unreadable ({type(exc).__name__}: {exc})")
        why = verify_record(rec, key)
        return self._refuse(p, why) if why else rec

    def _refuse(self, p: Path, why: str) -> None:
        if all(q != p for q, _ in self.damaged):
            self.damaged.append((p, why))
        return None

    def check_writable(self, experiment: str) -> None:
        """Raise StoreNotWritable (before any training) unless a record of `experiment` can be written here."""
        folder = self.root / experiment
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StoreNotWritable(f"the results store {self.root} cannot be written ({exc.strerror or exc}): "
                                   "nothing was trained; set HEADCOUNT_STORE to a writable folder") from None

    # claims: two sweeps on one store (two pages, two terminals) never train the same stack at once
    CLAIM_STALE_S = 6 * 3600  # a claim from another machine older than this is taken over

    def _claim_path(self, experiment: str, stack: str) -> Path:
        return self.root / experiment / ".claims" / f"{stack}.claim"

    def claim(self, experiment: str, stack: str) -> bool:
        """Claim a stack for this process (an exclusive create); False if another live sweep holds it. A claim
        left by a dead process of this machine, or older than CLAIM_STALE_S, is taken over."""
        p = self._claim_path(experiment, stack)
        p.parent.mkdir(parents=True, exist_ok=True)
        me = f"{socket.gethostname()} {os.getpid()}"
        for _ in range(2):
            try:
                fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._claim_alive(p):
                    return False
                p.unlink(missing_ok=True)  # stale: its holder is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(me)
            return True
        return False

    def _claim_alive(self, p: Path) -> bool:
        try:
            host, pid = p.read_text().split()
            age = time.time() - p.stat().st_mtime
        except (OSError, ValueError):
            return False  # unreadable or half-written: treat as stale (its writer died between create and write)
        if host != socket.gethostname():
            return age < self.CLAIM_STALE_S
        if int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def claimed_elsewhere(self, experiment: str, stack: str) -> bool:
        p = self._claim_path(experiment, stack)
        return p.exists() and self._claim_alive(p)

    def release(self, experiment: str, stack: str) -> None:
        self._claim_path(experiment, stack).unlink(missing_ok=True)

    def get(self, experiment: str, key: str) -> dict | None:
        """The record, or None if absent or refused by `verify_record` (then listed in `damaged`; put()
        replaces it)."""
        return self._read(self.path(experiment, key), key)

    def put(self, experiment: str, record: dict) -> Path:
        """Atomically write a record (must hold its 'key'), sealed with its metrics' digest (`seal`). A
        damaged entry in the way (e.g. a directory) is moved aside to <name>.damaged first."""
        key = record["key"]
        sealed = seal(record)
        why = verify_record(sealed, key)
        if why:
            raise ValueError(f"refusing to store record {key}: {why}")
        p = self.path(experiment, key)
        if p.is_dir():
            os.replace(p, p.with_name(p.name + ".damaged"))
        # temporary file in the same folder, fsync, rename; removed on any error (headcount.paths)
        return atomic_write_text(p, json.dumps(sealed, indent=1, sort_keys=True, default=str))

    def prune_stale(self) -> tuple[int, int]:
        """Delete records whose library code has changed since they were computed (their code hash no
        longer matches the current source of their `code_modules`) and unreadable ones; returns
        (kept, deleted). Such records can never be served again, since keys include the code hash."""
        kept = deleted = 0
        current: dict[tuple, str] = {}
        for p in sorted(self.root.glob("*/*/*.json")):
            rec = self._read(p, p.stem)
            try:
                mods = tuple(rec["code_modules"])
                if mods not in current:
                    current[mods] = code_hash(mods)
                stale = rec["code_hash"] != current[mods]
            except (TypeError, KeyError, ValueError):  # refused by verify_record, or no code_modules
                stale = True
            if stale:
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                deleted += 1
            else:
                kept += 1
        return kept, deleted

    def records(self, experiment: str) -> list[dict]:
        """Every sound record of an experiment (stale ones included; filter by code hash if needed); refused
        files are skipped and listed in `damaged`."""
        out = []
        for p in sorted((self.root / experiment).glob("*/*.json")):
            rec = self._read(p, p.stem)
            if rec is not None:
                out.append(rec)
        return out


class MissingRuns(RuntimeError):
    """A read-only store was asked for runs it does not hold (nothing is trained in its place)."""


class ReadOnlyStore(ResultsStore):
    """A store that serves records and refuses to write: `sweep` raises MissingRuns instead of training
    when a run is missing (the regression guard reads the committed bundle this way)."""

    read_only = True

    def put(self, experiment: str, record: dict) -> Path:
        raise MissingRuns(f"the store {self.root} is read-only; refusing to write {experiment}/{record.get('key')}")


class LayeredStore(ResultsStore):
    """Writes go to `root`; reads try `root` first, then each read-only layer in turn. A reader's re-run with
    other parameters uses its own folder as `root` and the committed bundle as a layer, so it reuses every
    committed run and never writes into the bundle."""

    def __init__(self, root: str | os.PathLike, layers: list[str | os.PathLike]):
        super().__init__(root)
        self.layers = [ResultsStore(p) for p in layers]

    def get(self, experiment: str, key: str) -> dict | None:
        rec = super().get(experiment, key)
        for layer in self.layers:
            if rec is not None:
                break
            rec = layer.get(experiment, key)
            self.damaged.extend(d for d in layer.damaged if d not in self.damaged)
        return rec

    def records(self, experiment: str) -> list[dict]:
        out = super().records(experiment)
        for layer in self.layers:
            out.extend(layer.records(experiment))
        return out

    def prune_stale(self) -> tuple[int, int]:
        return super().prune_stale()  # the read-only layers are never pruned from here


COMMITTED_STORE = REPO / "data" / "results"
READ_ONLY_ENV = "HEADCOUNT_STORE_READ_ONLY"  # "1": default_store() serves records and trains nothing
STORE_LAYERS_ENV = "HEADCOUNT_STORE_LAYERS"  # os.pathsep-separated read-only stores under HEADCOUNT_STORE


def default_store() -> ResultsStore:
    """The project's store: HEADCOUNT_STORE if set, else <repo>/data/results (committed result bundles).
    With HEADCOUNT_STORE_LAYERS (paths separated by os.pathsep) the store reads those too, read-only."""
    if (os.environ.get(READ_ONLY_ENV) or "").strip() == "1":  # a variant page reads the committed bundle only
        return ReadOnlyStore(env_path("HEADCOUNT_STORE") or COMMITTED_STORE)
    root = env_path("HEADCOUNT_STORE") or COMMITTED_STORE  # empty means unset (headcount.paths.PATH_ENV)
    layers = env_paths(STORE_LAYERS_ENV)
    return LayeredStore(root, layers) if layers else ResultsStore(root)


def committed_store() -> ReadOnlyStore:
    """The committed result bundle, read-only."""
    return ReadOnlyStore(COMMITTED_STORE)


def cache_dir() -> Path:
    """Where decoded data and embeddings are cached (never next to the shared data):
    HEADCOUNT_CACHE if set, else ~/.cache/headcount."""
    p = env_path("HEADCOUNT_CACHE") or Path.home() / ".cache" / "headcount"
    p.mkdir(parents=True, exist_ok=True)
    return p


def shared_data_dir() -> Path:
    """The offline copies of real data: HEADCOUNT_DATA if set, else <repo>/../shared/data."""
    return env_path("HEADCOUNT_DATA") or REPO.parent / "shared" / "data"


def smoke_store_dir() -> Path:
    """Where smoke-tier runs go unless HEADCOUNT_STORE is set: throwaway, never the committed store."""
    return cache_dir() / "smoke-store"
