"""A content-addressed results store: one JSON record per run.

The key of a run is sha256(canonical JSON of its resolved config + the hash of the library code it
depends on), so a change of that code can never serve a stale figure. Writes are atomic (temporary
file in the same folder, fsync, rename): a killed sweep loses at most the runs in flight, two writers
never interleave bytes, and a record that fails to parse or whose key does not match is treated as
missing and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path

from headcount.paths import PACKAGE_DIR, REPO, atomic_write_text  # code_hash names modules relative to the package root
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
    except (ImportError, AttributeError):
        pass
    return env


class ResultsStore:
    """Records live at <root>/<experiment>/<key[:2]>/<key>.json."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, experiment: str, key: str) -> Path:
        return self.root / experiment / key[:2] / f"{key}.json"

    def get(self, experiment: str, key: str) -> dict | None:
        """The record, or None if absent or corrupt (a corrupt file is left for put() to replace)."""
        p = self.path(experiment, key)
        try:
            rec = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            return None
        if not isinstance(rec, dict) or rec.get("key") != key or "metrics" not in rec:
            return None
        return rec

    def put(self, experiment: str, record: dict) -> Path:
        """Atomically write a record (must hold its 'key')."""
        key = record["key"]
        # temporary file in the same folder, fsync, rename; removed on any error (headcount.paths)
        return atomic_write_text(self.path(experiment, key), json.dumps(record, indent=1, sort_keys=True, default=str))

    def prune_stale(self) -> tuple[int, int]:
        """Delete records whose library code has changed since they were computed (their code hash no
        longer matches the current source of their `code_modules`) and unreadable ones; returns
        (kept, deleted). Such records can never be served again, since keys include the code hash."""
        kept = deleted = 0
        current: dict[tuple, str] = {}
        for p in sorted(self.root.glob("*/*/*.json")):
            try:
                rec = json.loads(p.read_text())
                mods = tuple(rec["code_modules"])
                if mods not in current:
                    current[mods] = code_hash(mods)
                stale = rec["code_hash"] != current[mods]
            except (json.JSONDecodeError, OSError, KeyError, ValueError):
                stale = True
            if stale:
                p.unlink()
                deleted += 1
            else:
                kept += 1
        return kept, deleted

    def records(self, experiment: str) -> list[dict]:
        """Every readable record of an experiment (stale ones included; filter by code hash if needed)."""
        out = []
        for p in sorted((self.root / experiment).glob("*/*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (json.JSONDecodeError, OSError):
                continue
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
        return rec

    def records(self, experiment: str) -> list[dict]:
        out = super().records(experiment)
        for layer in self.layers:
            out.extend(layer.records(experiment))
        return out

    def prune_stale(self) -> tuple[int, int]:
        return super().prune_stale()  # the read-only layers are never pruned from here


COMMITTED_STORE = REPO / "data" / "results"
STORE_LAYERS_ENV = "HEADCOUNT_STORE_LAYERS"  # os.pathsep-separated read-only stores under HEADCOUNT_STORE


def default_store() -> ResultsStore:
    """The project's store: HEADCOUNT_STORE if set, else <repo>/data/results (committed result bundles).
    With HEADCOUNT_STORE_LAYERS (paths separated by os.pathsep) the store reads those too, read-only."""
    root = os.environ.get("HEADCOUNT_STORE")
    layers = [p for p in os.environ.get(STORE_LAYERS_ENV, "").split(os.pathsep) if p]
    root = root if root else COMMITTED_STORE
    return LayeredStore(root, layers) if layers else ResultsStore(root)


def committed_store() -> ReadOnlyStore:
    """The committed result bundle, read-only."""
    return ReadOnlyStore(COMMITTED_STORE)


def cache_dir() -> Path:
    """Where decoded data and embeddings are cached (never next to the shared data):
    HEADCOUNT_CACHE if set, else ~/.cache/headcount."""
    p = Path(os.environ.get("HEADCOUNT_CACHE", Path.home() / ".cache" / "headcount"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def shared_data_dir() -> Path:
    """The offline copies of real data: HEADCOUNT_DATA if set, else <repo>/../shared/data."""
    return Path(os.environ.get("HEADCOUNT_DATA", REPO.parent / "shared" / "data"))


def smoke_store_dir() -> Path:
    """Where smoke-tier runs go unless HEADCOUNT_STORE is set: throwaway, never the committed store."""
    return cache_dir() / "smoke-store"
