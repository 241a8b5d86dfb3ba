"""The fused per-token kernel of the stacked engine (kernels/tokenpool.c), compiled on first use.

`batched._TokenPool` computes the per-token part of the fused form with batched matrix products: every
(models x sequences x T) x N activation tensor goes to memory and is read back by the next product, and
the products themselves are skinny (inner size d + 1 = 5, or h <= 5 rows). `kernels/tokenpool.c` does
the same sums one sequence at a time with the sequence's activations held in cache, and recomputes them
in the backward pass instead of storing them. On the CPU the stacked engine uses it when it can be built;
otherwise (no C compiler, a failed build, or HEADCOUNT_CKERNEL=0) it uses `_TokenPool`, and records
which in each result's `engine` field. Both compute the same function; tests/test_ckernel.py compares
values and gradients.

The shared library is built with the system's C compiler (`cc`, or $CC) with -O3 -march=native into
<cache>/kernels/, named by a hash of the source, the flags, the compiler's version and this CPU, so a
changed source or another machine gets its own build; concurrent builds write to a temporary name and
rename. Building takes about a second.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("kernels") / "tokenpool.c"
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast", "-fPIC", "-shared", "-std=gnu11")

_f, _i, _i64, _p = ctypes.c_float, ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
_DIMS = [_i] * 6 + [_p, _p, _i64, _p]  # G, B, T, d1, N, H, hs, x, x_sm, idx


class KernelUnavailable(RuntimeError):
    """The C kernel could not be built or loaded (the message says why)."""


def _cpu_id() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def _compiler() -> tuple[str, str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise KernelUnavailable("no C compiler found (set CC, or install cc/gcc/clang)")
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise KernelUnavailable(f"C compiler {cc!r} does not run: {e}") from e
    return cc, version


def build(cache: Path | None = None) -> Path:
    """Path of the compiled kernel for this source, compiler and CPU, building it if it is not there."""
    from headcount.engine.store import cache_dir

    cc, version = _compiler()
    src = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([src, " ".join(FLAGS).encode(), version.encode(), _cpu_id().encode()]))
    out_dir = (cache or cache_dir()) / "kernels"
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / f"tokenpool-{key.hexdigest()[:16]}.so"
    if lib.exists():
        return lib
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        res = subprocess.run([cc, *FLAGS, str(SOURCE), "-o", tmp, "-lm"], capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            raise KernelUnavailable(f"building {SOURCE.name} with {cc} failed:\n{res.stderr.strip()}")
        os.replace(tmp, lib)  # atomic: a concurrent build of the same key writes the same bytes
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


@functools.lru_cache(maxsize=1)
def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(build()))
    lib.tp_forward.argtypes = _DIMS + [_p] * 5  # W1a, At, ct, pooled, att
    lib.tp_backward.argtypes = _DIMS + [_p] * 7  # W1a, At, att, gpooled, gW1a, gAt, gct
    lib.tp_forward.restype = lib.tp_backward.restype = _i
    return lib


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether the kernel is in use: not disabled by HEADCOUNT_CKERNEL=0, and built and loaded."""
    if os.environ.get("HEADCOUNT_CKERNEL", "1") == "0":
        return False
    try:
        _load()
    except (KernelUnavailable, OSError):
        return False
    return True


def why_unavailable() -> str | None:
    """None if the kernel is usable, else the reason."""
    if os.environ.get("HEADCOUNT_CKERNEL", "1") == "0":
        return "disabled by HEADCOUNT_CKERNEL=0"
    try:
        _load()
    except (KernelUnavailable, OSError) as e:
        return str(e)
    return None


def _check(x1: torch.Tensor, *tensors: torch.Tensor) -> int:
    """Model stride of x1 (0 when one input serves every model); raises unless dtypes and devices are the
    kernel's and each model's input is contiguous."""
    for t in (x1, *tensors):
        if t.device.type != "cpu" or t.dtype != torch.float32:
            raise ValueError(f"the C kernel takes float32 CPU tensors, got {t.dtype} on {t.device}")
    if tensors and tensors[0].shape[2] % 8:
        raise ValueError(f"the C kernel needs N a multiple of 8, got N={tensors[0].shape[2]}")
    if not x1[0].is_contiguous():
        raise ValueError("the C kernel needs each model's input (B, T, d + 1) contiguous")
    return x1.stride(0)


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


def _opt(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


# FLOPs of the kernel's products (multiply-adds counted as 2, like torch's FlopCounterMode counts a matrix
# product), tallied while `counting` is on: the kernel runs outside torch, so a counter cannot see it.
_tally: list[float] | None = None


class counting:
    """Context manager: `with counting() as c: ...; c.flops` = FLOPs the kernel executed inside the block."""

    def __enter__(self):
        global _tally
        self._outer, _tally = _tally, [0.0]
        return self

    def __exit__(self, *exc):
        global _tally
        self.flops = _tally[0]
        _tally = self._outer


def flops(B: int, T: int, d1: int, N: int, hs: list[int], backward: bool) -> float:
    """Multiply-add FLOPs of one kernel call (2 per multiply-add, as torch's FlopCounterMode counts a matrix
    product) over B sequences of T tokens for models with head counts hs, each at its own h. Per token:
    forward, the activations in two layouts (2 d1 N each) and the logits and pooling (2 h N each); backward,
    the activations again (2 x 2 d1 N), d att and d At (2 h N each), d a (4 h N) and d W1a (2 d1 N). The
    by-unit layout and the products that read it run over T rounded up to a multiple of 8."""
    Tp = (T + 7) // 8 * 8
    total = 0.0
    for h in hs:
        by_unit = Tp * (2 * d1 * N + 2 * h * N)  # activations by unit, then logits (forward) or d att (backward)
        by_token = T * (2 * d1 * N + 2 * h * N) if not backward else T * (4 * d1 * N + 6 * h * N)
        total += by_unit + by_token
    return total * B


def _add(n: float) -> None:
    if _tally is not None:
        _tally[0] += n


class TokenPoolC(torch.autograd.Function):
    """`batched._TokenPool` through the C kernel: forward(x1, W1a, At, ct, hs, idx) -> pooled (G, B, H, N).

    x1 is (G, B, T, d1) (each model its own inputs; a model axis of stride 0 shares one input), or, with
    idx (G, B) int64, the whole set (n, T, d1) of which model m reads sequences idx[m] (the minibatch is
    never gathered into a copy). ct is (G, H, 1) as in `_TokenPool`; hs holds each model's own head count
    (heads beyond it give pooled = 0 and zero gradients, as the padded heads of `_TokenPool` do).
    Gradients flow to W1a, At and ct."""

    @staticmethod
    def forward(ctx, x1, W1a, At, ct, hs: list[int], idx: torch.Tensor | None = None):
        if idx is None:
            G, B, T, d1 = x1.shape
            x_sm = _check(x1, W1a, At)
        else:
            (G, B), (T, d1) = idx.shape, x1.shape[1:]
            if idx.dtype != torch.int64 or not idx.is_contiguous() or not x1.is_contiguous():
                raise ValueError("with idx, the C kernel needs contiguous x1 and a contiguous int64 idx")
            x_sm = _check(x1[None], W1a, At)
        N, H = W1a.shape[2], At.shape[1]
        W1a, At, ct2 = W1a.contiguous(), At.contiguous(), ct.reshape(G, H).contiguous()
        hs_t = torch.tensor(hs, dtype=torch.int32)
        pooled = torch.empty(G, B, H, N)
        keep = any(ctx.needs_input_grad)
        att = torch.empty(G, B, H, T) if keep else None
        rc = _load().tp_forward(G, B, T, d1, N, H, _ptr(hs_t), _ptr(x1), x_sm, _opt(idx), _ptr(W1a), _ptr(At),
                                _ptr(ct2), _ptr(pooled), _opt(att))
        if rc != 0:
            raise MemoryError("tp_forward could not allocate its scratch memory")
        _add(flops(B, T, d1, N, hs, backward=False))
        if keep:
            ctx.save_for_backward(x1, W1a, At, att, idx)
            ctx.hs_t, ctx.hs, ctx.x_sm, ctx.shape = hs_t, hs, x_sm, (G, B, T, d1)
        return pooled

    @staticmethod
    def backward(ctx, g_pooled):
        x1, W1a, At, att, idx = ctx.saved_tensors
        G, B, T, d1 = ctx.shape
        N, H = W1a.shape[2], At.shape[1]
        g_pooled = g_pooled.contiguous()
        gW1a, gAt, gct = torch.empty(G, d1, N), torch.empty(G, H, N), torch.empty(G, H, 1)
        rc = _load().tp_backward(G, B, T, d1, N, H, _ptr(ctx.hs_t), _ptr(x1), ctx.x_sm, _opt(idx), _ptr(W1a),
                                 _ptr(At), _ptr(att), _ptr(g_pooled), _ptr(gW1a), _ptr(gAt), _ptr(gct))
        if rc != 0:
            raise MemoryError("tp_backward could not allocate its scratch memory")
        _add(flops(B, T, d1, N, ctx.hs, backward=True))
        return None, gW1a, gAt, gct, None, None
