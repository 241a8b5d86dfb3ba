"""CIFAR-10 (Krizhevsky 2009) as arrays, and its longer-sequence version: images edge-padded onto larger
canvases at a random position, cut into p x p patches (the paper's Section 6.2 / Appendix B.3).

Two sources give the same 60,000 images (50,000 train / 10,000 test, 10 classes):

- the offline JPEG copy ``<shared data>/cifar10/cifar10-jpg.tar.xz`` (members ``train/<class>/NNNN.jpg``
  and ``test/<class>/NNNN.jpg``, JPEG quality 75, so pixel values differ slightly from the canonical set);
- the canonical "CIFAR-10 python version" archive ``cifar-10-python.tar.gz`` from
  https://www.cs.toronto.edu/~kriz/, which `download_python_archive` fetches on a machine with internet.

Each archive is checked against its published checksum before it is read, decoded once, and cached as
uint8 arrays under ``headcount.engine.store.cache_dir()/cifar10`` (never next to the shared data). Every split is
returned class-major: all images of class 0 in their source order, then class 1, and so on, so that
"the first k images per class" is the same set from either source and at any k.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from headcount.engine.store import cache_dir, shared_data_dir

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
PER_CLASS = {"train": 5000, "test": 1000}  # images per class in the full splits
SIDE = 32  # CIFAR-10 images are 32 x 32 RGB

JPG_RELPATH = Path("cifar10") / "cifar10-jpg.tar.xz"
JPG_SHA256 = "613bffa31430dd9578c0a742c42ae36f0f2ff20bf75d41bea3cde4dc33da81d5"
PY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PY_FILENAME = "cifar-10-python.tar.gz"
PY_MD5 = "c58f30108f718f92721af3b95e74349a"
PY_MEMBERS = {"train": [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)],
              "test": ["cifar-10-batches-py/test_batch"]}


class CifarDataError(RuntimeError):
    """An archive is corrupt, incomplete or not the expected file."""


@dataclass(frozen=True)
class CifarSplit:
    """One split, class-major. images (N, 32, 32, 3) uint8 RGB; labels (N,) int64 in 0..9;
    index (N,) int64: position of the image within its class in the source (NNNN of the JPEG copy)."""

    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def first_per_class(self, k: int) -> "CifarSplit":
        """The images whose within-class index is below k (k per class when the split holds them)."""
        keep = self.index < k
        return CifarSplit(self.images[keep], self.labels[keep], self.index[keep], self.source)


# ----------------------------------------------------------------------------------------------------------
# checksums and files


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | os.PathLike, expected: str, algo: str = "sha256", hint: str = "") -> Path:
    """The path, after checking that it exists and has the expected digest; a clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 archive not found at {path}. {hint}".strip())
    got = file_digest(path, algo)
    if got != expected.lower():
        raise CifarDataError(
            f"CIFAR-10 archive {path} has {algo} {got}, expected {expected}: the file is corrupt, truncated "
            f"or a different file. Replace it with an intact copy. {hint}".strip())
    return path


def jpg_archive_path() -> Path:
    """Where the offline JPEG copy lives: <shared data dir>/cifar10/cifar10-jpg.tar.xz."""
    return shared_data_dir() / JPG_RELPATH


def python_archive_path() -> Path:
    """The canonical python-version archive: in the shared data folder if a copy is there, else where
    `download_python_archive` puts it (<cache dir>/cifar10/cifar-10-python.tar.gz)."""
    shared = shared_data_dir() / "cifar10" / PY_FILENAME
    return shared if shared.is_file() else cache_dir() / "cifar10" / PY_FILENAME


_GET_HINT = (f"Either point HEADCOUNT_DATA at a folder holding {JPG_RELPATH}, or, with internet, run "
             f"`python -c 'from headcount.engine.realdata.cifar import download_python_archive as d; d()'` to fetch "
             f"{PY_URL} (md5 {PY_MD5}).")


# ----------------------------------------------------------------------------------------------------------
# readers

_JPG_NAME = re.compile(r"^(?:\./)?(train|test)/([a-z]+)/(\d+)\.jpg$")


def read_jpg_archive(path: str | os.PathLike | None = None, split: str = "train", per_class: int | None = None,
                     expected_sha256: str | None = JPG_SHA256) -> CifarSplit:
    """Decode one split of the JPEG copy (only the first `per_class` images of each class if given).

    The checksum is verified first (pass expected_sha256=None to skip, e.g. for a test archive). The xz
    stream is read once from start to end; only the selected JPEGs are decoded."""
    from PIL import Image

    _check_split(split)
    path = Path(path) if path is not None else jpg_archive_path()
    if expected_sha256 is not None:
        verify_file(path, expected_sha256, "sha256", hint=_GET_HINT)
    elif not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 archive not found at {path}. {_GET_HINT}")
    images, labels, index = [], [], []
    # once every class has all the images asked for, the rest of the stream cannot add any: stop there
    # (the test split comes first in the shipped archive, so a test subset reads only its beginning)
    target = per_class if per_class is not None else (PER_CLASS[split] if expected_sha256 == JPG_SHA256 else None)
    counts = [0] * len(CLASSES)
    try:
        with tarfile.open(path, mode="r|xz") as tar:  # stream mode: one sequential pass
            for m in tar:
                if target is not None and min(counts) >= target:
                    break
                match = _JPG_NAME.match(m.name)
                if not m.isfile() or match is None or match.group(1) != split:
                    continue
                cls, idx = match.group(2), int(match.group(3))
                if cls not in CLASSES:
                    raise CifarDataError(f"{path}: member {m.name} names an unknown class {cls!r}")
                if per_class is not None and idx >= per_class:
                    continue
                with Image.open(io.BytesIO(tar.extractfile(m).read())) as im:
                    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
                if arr.shape != (SIDE, SIDE, 3):
                    raise CifarDataError(f"{path}: {m.name} decodes to shape {arr.shape}, expected (32, 32, 3)")
                images.append(arr)
                labels.append(CLASSES.index(cls))
                index.append(idx)
                counts[labels[-1]] += 1
    except (tarfile.TarError, EOFError, OSError) as exc:  # lzma errors are OSError subclasses
        if isinstance(exc, FileNotFoundError):
            raise
        raise CifarDataError(f"{path} could not be read as a .tar.xz archive of JPEGs: {exc}") from exc
    return _assemble(images, labels, index, source=f"jpg:{path.name}", split=split, per_class=per_class,
                     where=str(path), complete=expected_sha256 == JPG_SHA256)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches (dicts of bytes, lists and numpy arrays) and nothing else, so that a
    tampered archive cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes in protocol 2 pickles; it only encodes text
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise CifarDataError(f"refusing to unpickle {module}.{name} from a CIFAR-10 batch file")
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core"):]  # numpy 2 name of the same functions
        return super().find_class(module, name)


def read_python_archive(path: str | os.PathLike | None = None, split: str = "train", per_class: int | None = None,
                        expected_md5: str | None = PY_MD5) -> CifarSplit:
    """One split of the canonical cifar-10-python.tar.gz (pickled batches of 10,000 rows of 3072 bytes:
    1024 red, then 1024 green, then 1024 blue values, each plane row-major)."""
    _check_split(split)
    path = Path(path) if path is not None else python_archive_path()
    if expected_md5 is not None:
        verify_file(path, expected_md5, "md5", hint=_GET_HINT)
    elif not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 archive not found at {path}. {_GET_HINT}")
    datas, labs = [], []
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for name in PY_MEMBERS[split]:
                try:
                    fh = tar.extractfile(name)
                except KeyError:
                    fh = None
                if fh is None:
                    raise CifarDataError(f"{path} has no member {name}: not the CIFAR-10 python archive")
                batch = _NumpyOnlyUnpickler(fh, encoding="bytes").load()
                data = np.asarray(batch[b"data"], dtype=np.uint8)
                lab = np.asarray(batch[b"labels"], dtype=np.int64)
                if data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE or len(lab) != len(data):
                    raise CifarDataError(f"{path}:{name}: data {data.shape} / labels {lab.shape} are not CIFAR-10 rows")
                datas.append(data)
                labs.append(lab)
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, KeyError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CifarDataError(f"{path} could not be read as the CIFAR-10 python archive: {exc}") from exc
    data = np.concatenate(datas).reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)  # (N, 32, 32, 3)
    lab = np.concatenate(labs)
    if lab.min() < 0 or lab.max() >= len(CLASSES):
        raise CifarDataError(f"{path}: labels outside 0..9")
    # the position of each image within its class, in the batches' order (the JPEG copy's NNNN)
    idx = np.zeros(len(lab), dtype=np.int64)
    for c in range(len(CLASSES)):
        where = np.flatnonzero(lab == c)
        idx[where] = np.arange(len(where))
    keep = idx < per_class if per_class is not None else np.ones(len(lab), bool)
    return _assemble(list(data[keep]), list(lab[keep]), list(idx[keep]), source=f"python:{path.name}",
                     split=split, per_class=per_class, where=str(path), complete=expected_md5 == PY_MD5)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _assemble(images, labels, index, source, split, per_class, where, complete) -> CifarSplit:
    if not images:
        raise CifarDataError(f"{where} holds no {split} images")
    lab = np.asarray(labels, dtype=np.int64)
    idx = np.asarray(index, dtype=np.int64)
    order = np.lexsort((idx, lab))  # class-major, source order within a class
    out = CifarSplit(np.stack(images)[order], lab[order], idx[order], source)
    if complete:  # the real archives: every class must be there in full (or with per_class images)
        want = PER_CLASS[split] if per_class is None else min(per_class, PER_CLASS[split])
        counts = np.bincount(out.labels, minlength=len(CLASSES))
        if not (counts == want).all():
            raise CifarDataError(f"{where}: {split} split has {counts.tolist()} images per class, expected {want} each")
    return out


# ----------------------------------------------------------------------------------------------------------
# download (needs internet; never called by the tests or the book build)


def download_python_archive(dest_dir: str | os.PathLike | None = None, url: str = PY_URL,
                            expected_md5: str = PY_MD5) -> Path:
    """Fetch the canonical archive into dest_dir (default <cache dir>/cifar10) unless an intact copy is
    there; returns its path. The file only appears under its final name once its md5 matches."""
    dest_dir = Path(dest_dir) if dest_dir is not None else cache_dir() / "cifar10"
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / PY_FILENAME
    if dest.is_file() and file_digest(dest, "md5") == expected_md5:
        return dest
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{PY_FILENAME}.", suffix=".part")
    os.close(fd)
    try:
        urllib.request.urlretrieve(url, tmp)
        got = file_digest(tmp, "md5")
        if got != expected_md5:
            raise CifarDataError(f"download from {url} has md5 {got}, expected {expected_md5}; not kept")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


# ----------------------------------------------------------------------------------------------------------
# decoded cache


def _cache_file(tag: str, split: str, per_class: int | None) -> Path:
    return cache_dir() / "cifar10" / f"{tag}-{split}-{'all' if per_class is None else f'k{per_class}'}.npz"


def _save(path: Path, s: CifarSplit) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, images=s.images, labels=s.labels, index=s.index, source=np.array(s.source))
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load(path: Path) -> CifarSplit | None:
    try:
        with np.load(path) as z:
            return CifarSplit(z["images"], z["labels"], z["index"], str(z["source"]))
    except (OSError, ValueError, KeyError, EOFError):
        return None  # missing or damaged cache entry: decode again


def load_cifar10(split: str = "train", per_class: int | None = None, source: str = "auto") -> CifarSplit:
    """A split of CIFAR-10 as uint8 arrays, class-major; the first `per_class` images of each class if given.

    source: "jpg" (the offline JPEG copy), "python" (the canonical archive, downloaded beforehand with
    `download_python_archive`), or "auto" (the JPEG copy if present, else the python archive).
    Decoding happens once: the arrays are cached under cache_dir()/cifar10, a subset is cut from a cached
    full split when there is one, and a subset is decoded on its own (fast) otherwise."""
    _check_split(split)
    if per_class is not None and (not isinstance(per_class, int) or per_class < 1):
        raise ValueError(f"per_class must be a positive integer or None, got {per_class!r}")
    if source == "auto":
        source = "jpg" if jpg_archive_path().is_file() else "python"
        if source == "python" and not python_archive_path().is_file():
            raise FileNotFoundError(f"no CIFAR-10 archive found (looked for {jpg_archive_path()} and "
                                    f"{python_archive_path()}). {_GET_HINT}")
    if source == "jpg":
        tag, reader = f"jpg-{JPG_SHA256[:8]}", read_jpg_archive
    elif source == "python":
        tag, reader = f"py-{PY_MD5[:8]}", read_python_archive
    else:
        raise ValueError(f"source must be 'auto', 'jpg' or 'python', got {source!r}")
    if per_class is not None and per_class >= PER_CLASS[split]:
        per_class = None
    full = _load(_cache_file(tag, split, None))
    if full is not None:
        return full if per_class is None else full.first_per_class(per_class)
    path = _cache_file(tag, split, per_class)
    cached = _load(path)
    if cached is not None:
        return cached
    out = reader(split=split, per_class=per_class)
    _save(path, out)
    return out


# ----------------------------------------------------------------------------------------------------------
# longer sequences: edge padding at a random position, then patches


def seq_len(canvas: int, patch: int) -> int:
    """T = (S / p)^2 + 1: the patches of an S x S canvas plus the class token."""
    if canvas < SIDE or canvas % patch:
        raise ValueError(f"canvas {canvas} must be >= {SIDE} and a multiple of the patch size {patch}")
    return (canvas // patch) ** 2 + 1


def draw_offsets(n: int, canvas: int, seed) -> np.ndarray:
    """(n, 2) int64 top-left positions (row, column) of each image on an S x S canvas, uniform over the
    S - 31 possible values per axis, from numpy's PCG64 seeded with `seed` (an int or a list of ints)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, canvas - SIDE + 1, size=(n, 2), dtype=np.int64)


def pad_to_canvas(images: torch.Tensor, canvas: int, offsets: torch.Tensor) -> torch.Tensor:
    """Each (32, 32, C) image placed at its offset on an S x S canvas whose outside is filled by repeating
    the nearest border pixel (edge padding, as numpy's mode="edge"). images (B, 32, 32, C), offsets (B, 2)
    -> (B, S, S, C), same dtype and device. Works by index arithmetic, so it runs on a GPU per batch."""
    B, H, W, _ = images.shape
    if canvas < max(H, W):
        raise ValueError(f"canvas {canvas} is smaller than the image ({H} x {W})")
    ar = torch.arange(canvas, device=images.device)
    offsets = offsets.to(images.device)
    rows = (ar[None, :] - offsets[:, :1]).clamp(0, H - 1)  # (B, S) source row of each canvas row
    cols = (ar[None, :] - offsets[:, 1:]).clamp(0, W - 1)  # (B, S)
    b = torch.arange(B, device=images.device)[:, None, None]
    return images[b, rows[:, :, None], cols[:, None, :]]  # (B, S, S, C)


def patchify(canvas_images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, S, S, C) -> (B, (S/p)^2, p*p*C): non-overlapping p x p patches in row-major order, each
    flattened (row, column, channel)."""
    B, S, S2, C = canvas_images.shape
    if S != S2 or S % patch:
        raise ValueError(f"canvas {S} x {S2} is not square or not a multiple of the patch size {patch}")
    g = S // patch
    x = canvas_images.reshape(B, g, patch, g, patch, C)  # (B, gy, py, gx, px, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, g * g, patch * patch * C)
