"""The paper's image model (Section 6.2, Appendix B.3): a 4-layer Vision Transformer whose head count h
varies at a fixed per-head width n = 16, so E = n h; and its training on padded CIFAR-10.

    tokens  = [c0 ; W_P patch_1 ; ... ; W_P patch_{T-1}] + P          (B, T, E), P learned, c0 learned
    block   = x + Drop(W_O Concat_i softmax(Q_i K_i^T / sqrt(n)) V_i)   on LN(x)   (pre-LayerNorm)
              x + Drop(MLP(LN(x)))                                     GELU MLP of width mlp_ratio * E
    logits  = W_C LN(x_c0)                                            the class token after the last block

Per-head weights are first-class tensors, W_Q, W_K, W_V of shape (h, n, E) and W_O of shape (E, h n), as in
the synthetic model and the retrieval encoder, so h and n vary independently. Shapes are in the comments: B batch, T tokens,
h heads, n per-head width, E total width.

What the paper leaves open is fixed in `CifarRun` (every field keys the results store): AdamW with a
linear warm-up then cosine decay to zero, weight decay on matrices only, no augmentation beyond the
random placement, gradient clipping, dropout on the embeddings and on each residual branch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from headcount.engine.realdata import cifar


@dataclass(frozen=True)
class ViTConfig:
    h: int = 4  # heads; the paper sweeps 1..24
    n: int = 16  # per-head width (paper: 16), so E = 16 h
    T: int = 65  # tokens including the class token
    patch_dim: int = 48  # width of a flattened patch, 3 p^2
    n_layers: int = 4  # paper: 4
    n_classes: int = 10
    mlp_ratio: float = 4.0  # hidden width of each MLP is mlp_ratio * E (the usual ViT choice)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("h", "n", "T", "patch_dim", "n_layers", "n_classes"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"ViTConfig.{name} must be an integer >= 1, got {v!r}")
        if self.T < 2:
            raise ValueError("ViTConfig.T counts the class token and at least one patch, so T >= 2")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"ViTConfig.dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def E(self) -> int:
        """Total width E = n h."""
        return self.n * self.h

    @property
    def mlp_width(self) -> int:
        return max(1, int(round(self.mlp_ratio * self.E)))


class HeadAttention(nn.Module):
    """Multi-head self-attention over all T tokens with per-head weights in the layout of the synthetic model
    (`headcount.model`) and the retrieval encoder: W_Q, W_K, W_V of shape (h, n, E) (head i maps the width E to
    its n), W_O of shape (E, h n) on the concatenated heads."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        h, n, E = cfg.h, cfg.n, cfg.E
        self.h, self.n = h, n
        # drawn as (h, E, n) and (h, n, E) tensors, then laid out: the same initial values as before the layout
        # was shared, so a run's numbers do not depend on it
        drawn = [torch.empty(h, E, n) for _ in range(3)] + [torch.empty(h, n, E)]
        for w in drawn:
            nn.init.trunc_normal_(w, std=0.02)
        self.W_Q, self.W_K, self.W_V = (nn.Parameter(w.transpose(1, 2).contiguous()) for w in drawn[:3])
        self.b_Q = nn.Parameter(torch.zeros(h, n))
        self.b_K = nn.Parameter(torch.zeros(h, n))
        self.b_V = nn.Parameter(torch.zeros(h, n))
        self.W_O = nn.Parameter(drawn[3].reshape(h * n, E).T.contiguous())
        self.b_O = nn.Parameter(torch.zeros(E))

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # (B, T, E) x (h, n, E) -> (B, h, T, n) for each of Q, K, V
        q = torch.einsum("bte,hne->bhtn", x, self.W_Q) + self.b_Q[:, None, :]
        k = torch.einsum("bte,hne->bhtn", x, self.W_K) + self.b_K[:, None, :]
        v = torch.einsum("bte,hne->bhtn", x, self.W_V) + self.b_V[:, None, :]
        return q, k, v

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, h, T, T) attention probabilities of each head (rows: queries)."""
        q, k, _ = self.qkv(x)
        return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.n), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x)
        o = F.scaled_dot_product_attention(q, k, v)  # (B, h, T, n), scale 1/sqrt(n)
        B, T = x.shape[:2]
        return o.transpose(1, 2).reshape(B, T, self.h * self.n) @ self.W_O.T + self.b_O  # concat, then W_O: (B, T, E)


class Block(nn.Module):
    """Pre-LayerNorm transformer block with residual connections and dropout on each branch."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.E)
        self.attn = HeadAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.E)
        self.mlp = nn.Sequential(nn.Linear(cfg.E, cfg.mlp_width), nn.GELU(), nn.Linear(cfg.mlp_width, cfg.E))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.mlp(self.ln2(x)))


class ViT(nn.Module):
    """patches (B, T-1, 3 p^2) -> class logits (B, n_classes)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.cfg = cfg
        E = cfg.E
        self.patch_embed = nn.Linear(cfg.patch_dim, E)  # W_P: one linear map per patch, no convolution stem
        self.c0 = nn.Parameter(torch.zeros(1, 1, E))  # class token
        self.pos = nn.Parameter(torch.zeros(1, cfg.T, E))  # learned positional embedding, one per token
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(E)
        self.head = nn.Linear(E, cfg.n_classes)
        for lin in [self.patch_embed, self.head] + [m for b in self.blocks for m in b.mlp if isinstance(m, nn.Linear)]:
            nn.init.trunc_normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)
        nn.init.trunc_normal_(self.c0, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        B, P, _ = patches.shape
        if P + 1 != self.cfg.T:
            raise ValueError(f"got {P} patches, the model was built for T = {self.cfg.T} (T - 1 patches)")
        x = self.patch_embed(patches)  # (B, T-1, E)
        x = torch.cat([self.c0.expand(B, -1, -1), x], dim=1)  # (B, T, E), class token first
        return self.drop(x + self.pos)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        x = self.embed(patches)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x[:, 0]))  # (B, n_classes)

    @torch.no_grad()
    def attention_weights(self, patches: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, the (B, h, T, T) attention probabilities (eval mode recommended)."""
        x, out = self.embed(patches), []
        for blk in self.blocks:
            out.append(blk.attn.weights(blk.ln1(x)))
            x = blk(x)
        return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------------------
# one training run


@dataclass(frozen=True)
class CifarRun:
    """Everything that determines one CIFAR-10 run (its hash is the store key)."""

    h: int = 4
    n: int = 16  # per-head width (paper: 16)
    canvas: int = 32  # side S of the padded canvas; T = (S / patch)^2 + 1
    patch: int = 4  # see the page: 4 matches the T values of the paper's tables
    n_layers: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    train_per_class: int = 5000  # the first k training images of each class (paper: all 5000)
    val_per_class: int = 1000  # the first k test images of each class (paper: all 1000)
    placement: str = "fixed"  # "fixed": one position per image, drawn once; "per_epoch": redrawn every epoch
    placement_seed: int = 0
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05  # fraction of all steps with a linear warm-up before the cosine decay
    clip_norm: float = 1.0
    source: str = "auto"  # which archive (see realdata.cifar.load_cifar10)
    seed: int = 0  # model initialisation, minibatch order and dropout

    def __post_init__(self) -> None:
        cifar.seq_len(self.canvas, self.patch)  # raises on an impossible canvas / patch pair
        if self.placement not in ("fixed", "per_epoch"):
            raise ValueError(f"placement must be 'fixed' or 'per_epoch', got {self.placement!r}")

    @property
    def T(self) -> int:
        return cifar.seq_len(self.canvas, self.patch)

    def model_config(self) -> ViTConfig:
        return ViTConfig(h=self.h, n=self.n, T=self.T, patch_dim=3 * self.patch**2, n_layers=self.n_layers,
                         mlp_ratio=self.mlp_ratio, dropout=self.dropout)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CifarRun":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown CifarRun fields {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**d)


def data_key(run: CifarRun) -> tuple:
    """Runs with equal keys use the same images (placements may still differ by canvas)."""
    return (run.source, run.train_per_class, run.val_per_class)


def load_data(run: CifarRun) -> dict:
    """The run's images as uint8 tensors (N, 32, 32, 3), labels, and the per-channel mean and std of the
    training images (in [0, 1] units) used to standardise every canvas."""
    tr = cifar.load_cifar10("train", per_class=run.train_per_class, source=run.source)
    va = cifar.load_cifar10("test", per_class=run.val_per_class, source=run.source)
    x = tr.images.reshape(-1, 3).astype(np.float64) / 255.0
    return {"xtr": torch.from_numpy(tr.images), "ytr": torch.from_numpy(tr.labels),
            "xva": torch.from_numpy(va.images), "yva": torch.from_numpy(va.labels),
            "mean": torch.tensor(x.mean(0), dtype=torch.float32), "std": torch.tensor(x.std(0), dtype=torch.float32),
            "source": tr.source}


def offsets_for(run: CifarRun, n: int, split: str, epoch: int | None = None) -> torch.Tensor:
    """Positions of the n images of a split on the run's canvas. Fixed placement (and evaluation) uses one
    draw per (placement_seed, canvas, split); per_epoch placement draws anew for every training epoch."""
    stream = [run.placement_seed, run.canvas, cifar.SPLITS.index(split)]
    if epoch is not None:
        stream.append(epoch + 1)
    return torch.from_numpy(cifar.draw_offsets(n, run.canvas, stream))


def make_tokens(images: torch.Tensor, offsets: torch.Tensor, run: CifarRun, mean: torch.Tensor,
                std: torch.Tensor) -> torch.Tensor:
    """uint8 images (B, 32, 32, 3) -> standardised patches (B, T-1, 3 p^2) of their padded canvases."""
    canv = cifar.pad_to_canvas(images, run.canvas, offsets).float() / 255.0  # (B, S, S, 3)
    canv = (canv - mean.to(canv.device)) / std.to(canv.device)
    return cifar.patchify(canv, run.patch)


def default_device() -> str:
    """cuda when a GPU is visible, else cpu."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.no_grad()
def accuracy(model: ViT, images: torch.Tensor, labels: torch.Tensor, offsets: torch.Tensor, run: CifarRun,
             mean: torch.Tensor, std: torch.Tensor, device: str, batch_size: int = 512) -> float:
    """Top-1 accuracy in eval mode (dropout off) on fixed placements."""
    model.eval()
    correct = 0
    for i in range(0, len(labels), batch_size):
        xb = images[i:i + batch_size].to(device)
        with _autocast(device):
            logits = model(make_tokens(xb, offsets[i:i + batch_size], run, mean, std))
        correct += int((logits.argmax(-1).cpu() == labels[i:i + batch_size]).sum())
    return correct / len(labels)


def _autocast(device: str):
    # bfloat16 matrix products on a GPU (same accuracy in practice, several times faster); fp32 on CPU
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up to `peak` over `warmup` steps, then cosine decay to 0 at step `total`."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, progress)))


def train_cifar(run: CifarRun, data: dict | None = None, device: str | None = None) -> dict:
    """Train one ViT; returns train_acc and val_acc (eval mode, fixed placements), the last epoch's running
    training accuracy (train mode, as a training log reports it), per-epoch loss curve, parameter count,
    T, E and timings. Deterministic for a given run on a given device."""
    device = device or default_device()
    data = data if data is not None else load_data(run)
    xtr, ytr, xva, yva, mean, std = (data[k] for k in ("xtr", "ytr", "xva", "yva", "mean", "std"))
    n_train = len(ytr)
    off_tr = offsets_for(run, n_train, "train")
    off_va = offsets_for(run, len(yva), "test")
    steps_per_epoch = math.ceil(n_train / run.batch_size)
    total = run.epochs * steps_per_epoch
    warmup = int(run.warmup_frac * total)
    xtr_dev, ytr_dev = xtr.to(device), ytr.to(device)
    t0 = time.perf_counter()
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):  # seeds init and dropout without touching the caller's RNG
        torch.manual_seed(run.seed)
        model = ViT(run.model_config()).to(device)
        decay = [p for name, p in model.named_parameters() if p.ndim >= 2 and name not in ("c0", "pos")]
        no_decay = [p for name, p in model.named_parameters() if not (p.ndim >= 2 and name not in ("c0", "pos"))]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": run.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=run.lr, betas=(0.9, 0.999))
        order_gen = torch.Generator().manual_seed(run.seed)
        curve, step = [], 0
        for epoch in range(run.epochs):
            model.train()
            off = off_tr if run.placement == "fixed" else offsets_for(run, n_train, "train", epoch)
            perm = torch.randperm(n_train, generator=order_gen)
            # summed on the device and read once per epoch: a read per step would stall a GPU
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            for i in range(0, n_train, run.batch_size):
                idx = perm[i:i + run.batch_size]
                for g in opt.param_groups:
                    g["lr"] = lr_at(step, total, run.lr, warmup)
                idx_dev = idx.to(device)
                yb = ytr_dev[idx_dev]
                with _autocast(device):
                    logits = model(make_tokens(xtr_dev[idx_dev], off[idx], run, mean, std))
                    loss = F.cross_entropy(logits.float(), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if run.clip_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), run.clip_norm)
                opt.step()
                step += 1
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(-1) == yb).sum()
            curve.append({"epoch": epoch + 1, "loss": float(loss_sum) / n_train, "running_acc": int(correct) / n_train})
            if not math.isfinite(curve[-1]["loss"]):
                raise FloatingPointError(f"training diverged at epoch {epoch + 1} (loss {curve[-1]['loss']})")
        train_seconds = time.perf_counter() - t0
        train_acc = accuracy(model, xtr, ytr, off_tr, run, mean, std, device)
        val_acc = accuracy(model, xva, yva, off_va, run, mean, std, device)
    return {"train_acc": train_acc, "val_acc": val_acc, "running_train_acc": curve[-1]["running_acc"],
            "final_loss": curve[-1]["loss"], "curve": curve, "T": run.T, "E": run.model_config().E,
            "n_params": count_parameters(model), "n_train": n_train, "n_val": len(yva),
            "train_seconds": train_seconds, "eval_seconds": time.perf_counter() - t0 - train_seconds,
            "device": device, "data_source": data.get("source", "")}


def run_cifar_group(configs: list[dict]) -> list[dict]:
    """sweep's run_group: trains each config, loading each set of images once."""
    out, cache = [], {}
    for c in configs:
        run = CifarRun.from_dict(c)
        key = data_key(run)
        if key not in cache:
            cache = {key: load_data(run)}  # consecutive configs usually share their images
        out.append(train_cifar(run, cache[key]))
    return out
