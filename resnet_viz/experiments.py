"""Why residual learning helps, as experiments that run on a CPU: pure torch, no Streamlit.

* :func:`synthetic_shapes` — an offline, procedurally generated 10-class image data set (CIFAR-10 is not
  shipped and there may be no internet), deterministic from a seed;
* :func:`gradient_flow` — one backward pass at initialisation through a plain and a residual network with the
  same weights on the same batch: the gradient norm of every conv layer along depth;
* :func:`identity_at_init` — with ``zero_init_residual`` every block starts as the identity: ‖F(x)‖ measured;
* :func:`train_degradation` — train plain-20/56 and ResNet-20/56 on the same data, errors per epoch
  (the paper's Figures 1 and 6), with a progress callback and a stop flag checked between batches;
* :func:`remove_block` / :func:`block_removal_sweep` — Veit et al. (2016): delete one block's residual branch
  (the block becomes its shortcut) and measure the accuracy left, versus deleting a block of the plain net.

Every function builds its own fresh models, so no shared (cached) model is ever touched.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from .catalogue import get_spec
from .models import CifarResNet, PlainBasicBlock, PlainBottleneck, build_model

# --------------------------------------------------------------------------------------------------------------
# The offline data set
# --------------------------------------------------------------------------------------------------------------

#: torch's default generator is process-wide: seeding it and drawing a model's initial weights must not interleave
#: with another session doing the same, or "seed 0" would not mean the same weights.
_INIT_LOCK = threading.Lock()


def _seeded_build(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    with _INIT_LOCK:
        torch.manual_seed(seed)
        return build()


#: Class ids of :func:`synthetic_shapes`, in label order (the page translates them).
SHAPE_CLASSES: tuple[str, ...] = (
    "disk",
    "square",
    "triangle",
    "plus",
    "ring",
    "diamond",
    "bar",
    "frame",
    "two_dots",
    "half_disk",
)

#: Fixed normalisation of the generated images (their pixel values are roughly uniform on [0, 1]).
_MEAN, _STD = 0.5, 0.3


def _shape_mask(cls: int, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Binary mask of shape class ``cls`` in the images' own rotated, scaled coordinates (u, v), radius r."""
    au, av = np.abs(u), np.abs(v)
    if cls == 0:  # disk
        return u * u + v * v < r * r
    if cls == 1:  # square
        return np.maximum(au, av) < 0.8 * r
    if cls == 2:  # triangle
        return (v > -0.5 * r) & (np.sqrt(3.0) * au + v < r)
    if cls == 3:  # plus
        return ((au < 0.28 * r) & (av < r)) | ((av < 0.28 * r) & (au < r))
    if cls == 4:  # ring
        rad2 = u * u + v * v
        return (rad2 > (0.55 * r) ** 2) & (rad2 < r * r)
    if cls == 5:  # diamond
        return au + av < r
    if cls == 6:  # bar
        return (au < r) & (av < 0.3 * r)
    if cls == 7:  # frame (hollow square)
        m = np.maximum(au, av)
        return (m < 0.85 * r) & (m > 0.5 * r)
    if cls == 8:  # two dots
        d2 = (0.38 * r) ** 2
        return ((u - 0.55 * r) ** 2 + v * v < d2) | ((u + 0.55 * r) ** 2 + v * v < d2)
    if cls == 9:  # half disk
        return (u * u + v * v < r * r) & (v > 0)
    raise ValueError(f"no shape class {cls}")


def synthetic_shapes(
    n: int, *, size: int = 32, seed: int = 0, noise: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of 10 shape classes (:data:`SHAPE_CLASSES`) at ``size``×``size``, and their labels.

    Each image is one shape at a random position, scale and rotation (±20°, so a square never turns into a
    diamond) in a light random tint on a darker, faintly striped background of random tint, with Gaussian pixel noise.
    Colour and texture carry no information about the class; the shape does. Labels are balanced. The same
    ``(n, size, seed, noise)`` always gives the same tensors. Returns normalised float32 ``(n, 3, size, size)``
    images and int64 labels.
    """
    if n < 1 or size < 8:
        raise ValueError("need n >= 1 images of size >= 8")
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.arange(n) % len(SHAPE_CLASSES))
    ys, xs = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    ys, xs = ys[None] / size - 0.5, xs[None] / size - 0.5  # image coordinates in [-0.5, 0.5]
    r = rng.uniform(0.22, 0.38, n)[:, None, None]
    cy, cx = (rng.uniform(-0.42, 0.42, (2, n)) * (0.5 - r[:, 0, 0]) / 0.5)[:, :, None, None]
    angle = np.deg2rad(rng.uniform(-20, 20, n))[:, None, None]
    dy, dx = ys - cy, xs - cx
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    mask = np.zeros(u.shape, dtype=bool)
    for cls in range(len(SHAPE_CLASSES)):
        sel = label == cls
        mask[sel] = _shape_mask(cls, u[sel], v[sel], r[sel])
    mask = mask[:, None]  # (N, 1, H, W)

    # Background: a sinusoidal grating of random orientation, frequency and phase between two random colours.
    theta = rng.uniform(0, np.pi, n)[:, None, None]
    freq = rng.uniform(2, 9, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(theta) * xs + np.sin(theta) * ys) + phase)
    # A light shape on a darker, faintly striped background, both in random tints: the shape is always visible,
    # the texture, tint and noise are distractions, and only the outline tells the class.
    bg_a = rng.uniform(0.0, 0.35, (n, 3, 1, 1))
    bg_b = np.clip(bg_a + rng.uniform(-0.15, 0.15, (n, 3, 1, 1)), 0, 1)
    fg = rng.uniform(0.6, 1.0, (n, 3, 1, 1))
    background = bg_a + (bg_b - bg_a) * grating[:, None]
    img = np.where(mask, fg, background) + rng.normal(0, noise, (n, 3, size, size))
    img = (np.clip(img, 0, 1) - _MEAN) / _STD
    return torch.from_numpy(img.astype(np.float32)), torch.from_numpy(label.astype(np.int64))


# --------------------------------------------------------------------------------------------------------------
# Models for the experiments
# --------------------------------------------------------------------------------------------------------------


def cifar_net(depth: int, *, plain: bool, width: int = 16, num_classes: int = 10) -> nn.Module:
    """The paper's CIFAR network of ``depth`` = 6n+2 layers (plain or residual), optionally narrower.

    ``width`` is the first stage's channels (the paper: 16, so 16/32/64); ``build_model`` builds the paper's
    width, a smaller one comes from the same :class:`CifarResNet` with the catalogue's widths scaled, so that a
    live run fits in minutes on a CPU. Returned in train mode.
    """
    spec = get_spec(f"resnet{depth}")
    if spec.family != "cifar":
        raise ValueError(f"resnet{depth} is not a CIFAR network (depth 6n+2: 20, 32, 44, 56, 110)")
    if width == spec.stem_width:
        model = build_model(spec.name, plain=plain, num_classes=num_classes)
    else:
        narrow = dataclasses.replace(spec, stem_width=width, widths=(width, 2 * width, 4 * width))
        model = CifarResNet(narrow, plain=plain, num_classes=num_classes)
    return model.train()


def main_path_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The conv layers on the main path, in network order (projection shortcuts ``downsample.0`` excluded).

    These are the layers the paper counts in a network's depth, and they exist in the plain and the residual
    network alike, so their gradients can be compared name by name.
    """
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and ".downsample." not in name
    ]


# --------------------------------------------------------------------------------------------------------------
# Gradient flow at initialisation
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradientFlow:
    """Per main-path conv layer: the L2 norm of ∂loss/∂weights, plain and residual, same weights, same batch."""

    arch: str
    input_size: int
    batch_size: int
    seed: int
    layers: tuple[str, ...]
    plain: tuple[float, ...]
    residual: tuple[float, ...]
    loss_plain: float
    loss_residual: float

    @property
    def first_layer_ratio(self) -> float:
        """Residual ÷ plain gradient norm at the first conv layer (conv1)."""
        return self.residual[0] / self.plain[0]


def _copy_shared_weights(src: nn.Module, dst: nn.Module) -> None:
    """Give ``dst`` every parameter/buffer of ``src`` with the same name and shape (the projections keep theirs)."""
    dst_state = dst.state_dict()
    shared = {k: v for k, v in src.state_dict().items() if k in dst_state and dst_state[k].shape == v.shape}
    dst.load_state_dict(shared, strict=False)


def gradient_flow(
    arch: str, *, input_size: int | None = None, batch_size: int = 16, seed: int = 0, device: Any = "cpu"
) -> GradientFlow:
    """One forward and backward pass at initialisation through plain and residual ``arch`` on one batch.

    Both networks are freshly built with identical weights (the residual one differs only by its shortcuts and,
    for the ImageNet nets, the projection convs, which are left out of the comparison) and see the same batch of
    :func:`synthetic_shapes` images with their labels, so the curves differ only because of the shortcuts.

    BatchNorm is in **train mode**, as it is in the first step of training: it normalises with the batch's own
    statistics. (In eval mode a fresh BN would use its initial running statistics, mean 0 and variance 1, i.e.
    no normalisation at all: a situation training never meets.) The models are fresh, so updating their
    running statistics harms nobody.
    """
    spec = get_spec(arch)
    size = int(input_size or spec.default_input)
    images, labels = synthetic_shapes(batch_size, size=size, seed=seed)
    images = images.to(device)
    labels = (labels % spec.num_classes).to(device)
    plain = _seeded_build(seed, lambda: build_model(arch, plain=True)).train().to(device)
    residual = _seeded_build(seed, lambda: build_model(arch)).train().to(device)
    _copy_shared_weights(plain, residual)

    norms: dict[str, list[float]] = {}
    losses: dict[str, float] = {}
    layer_names: list[str] = []
    with torch.enable_grad():
        for key, model in (("plain", plain), ("residual", residual)):
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            convs = main_path_convs(model)
            layer_names = [name for name, _ in convs]
            norms[key] = [float(m.weight.grad.norm()) for _, m in convs]
            losses[key] = loss.item()
    return GradientFlow(
        arch=arch,
        input_size=size,
        batch_size=batch_size,
        seed=seed,
        layers=tuple(layer_names),
        plain=tuple(norms["plain"]),
        residual=tuple(norms["residual"]),
        loss_plain=losses["plain"],
        loss_residual=losses["residual"],
    )


# --------------------------------------------------------------------------------------------------------------
# Identity at initialisation
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockIdentity:
    """One block on a real batch: ‖x‖, ‖F(x)‖ (the residual branch) and ‖block(x) − ReLU(shortcut(x))‖."""

    name: str
    input_norm: float
    residual_norm: float
    output_minus_shortcut: float


def residual_branch(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """F(x) of a torchvision block: its main branch up to (not including) the addition and the last ReLU."""
    if isinstance(block, BasicBlock):
        return block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    if isinstance(block, Bottleneck):
        out = block.relu(block.bn1(block.conv1(x)))
        out = block.relu(block.bn2(block.conv2(out)))
        return block.bn3(block.conv3(out))
    raise TypeError(f"not a residual block: {type(block).__name__}")


def shortcut_branch(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x if block.downsample is None else block.downsample(x)


def _stem(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = model.relu(model.bn1(model.conv1(x)))
    maxpool = getattr(model, "maxpool", None)
    return maxpool(x) if maxpool is not None else x


def _stages(model: nn.Module) -> Iterator[tuple[str, nn.Sequential]]:
    for i in range(1, 5):
        stage = getattr(model, f"layer{i}", None)
        if stage is not None:
            yield f"layer{i}", stage


def identity_at_init(
    arch: str,
    *,
    zero_init_residual: bool = True,
    input_size: int | None = None,
    batch_size: int = 8,
    seed: int = 0,
) -> list[BlockIdentity]:
    """Measure every block of a freshly initialised residual ``arch`` on a batch of real (synthetic) images.

    With ``zero_init_residual=True`` (torchvision's option: the last BN of every residual branch starts with
    γ = 0) the branch outputs F(x) = 0, so each block outputs ReLU(x + 0) = x: the whole network starts as
    the identity on its shortcuts. The numbers are measured here, not assumed. Eval mode, no gradients.
    """
    spec = get_spec(arch)
    size = int(input_size or spec.default_input)
    model = _seeded_build(seed, lambda: build_model(arch, zero_init_residual=zero_init_residual)).eval()
    images, _ = synthetic_shapes(batch_size, size=size, seed=seed)
    rows: list[BlockIdentity] = []
    with torch.inference_mode():
        x = _stem(model, images)
        for stage_name, stage in _stages(model):
            for i, block in enumerate(stage):
                f = residual_branch(block, x)
                s = shortcut_branch(block, x)
                out = block(x)
                rows.append(
                    BlockIdentity(
                        name=f"{stage_name}.{i}",
                        input_norm=float(x.norm()),
                        residual_norm=float(f.norm()),
                        output_minus_shortcut=float((out - F.relu(s)).norm()),
                    )
                )
                x = out
    return rows


# --------------------------------------------------------------------------------------------------------------
# The degradation experiment
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a degradation run; recorded beside the shipped curves."""

    depths: tuple[int, ...] = (20, 56)
    width: int = 16
    n_train: int = 5000
    n_test: int = 1000
    image_size: int = 32
    noise: float = 0.1
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    # The learning rate is divided by 10 at these fractions of the run (the paper: at 32k and 48k of 64k steps).
    lr_drops: tuple[float, ...] = (0.5, 0.75)
    # The paper's augmentation: pad 4 pixels with zeros, random 32×32 crop, random horizontal flip.
    augment: bool = True
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})

    @property
    def runs(self) -> list[tuple[str, int, bool]]:
        """(label, depth, plain) of every network trained, plain ones first."""
        return [(f"{'plain' if p else 'resnet'}-{d}", d, p) for p in (True, False) for d in self.depths]


@dataclass
class RunCurves:
    """Per-epoch errors (fractions) of one network; ``train_error`` is averaged over each epoch's batches,
    as the paper's curves are, ``test_error`` is measured after the epoch in eval mode."""

    label: str
    depth: int
    plain: bool
    train_error: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DegradationResult:
    config: TrainConfig
    runs: list[RunCurves]
    stopped: bool = False
    device: str = "cpu"
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.config.to_dict(),
            "device": self.device,
            "stopped": self.stopped,
            "runs": [r.to_dict() for r in self.runs],
        }


#: progress(done_batches, total_batches, label, epoch) — called after every batch.
ProgressFn = Callable[[int, int, str, int], None]


class Stopped(Exception):
    """Raised inside :func:`train_one` when ``should_stop()`` turns true between batches."""


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 256) -> dict:
    """Top-1 and top-5 error of ``model`` (switched to eval mode, restored after) on a labelled set."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    wrong1 = wrong5 = 0
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size].to(device)
            y = labels[i : i + batch_size].to(device)
            top5 = model(x).topk(5, dim=1).indices
            wrong1 += int((top5[:, 0] != y).sum())
            wrong5 += int((top5 != y[:, None]).all(dim=1).sum())
    model.train(was_training)
    n = len(images)
    return {"top1_error": wrong1 / n, "top5_error": wrong5 / n}


def augment_batch(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The paper's CIFAR augmentation on a batch: zero-pad by ``pad``, random crop back, random flip."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
        crop = padded[i, :, dy : dy + h, dx : dx + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def train_one(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    config: TrainConfig,
    curves: RunCurves,
    *,
    device: Any = "cpu",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
    done_offset: int = 0,
    total_steps: int | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> None:
    """Train ``model`` in place with SGD + momentum + weight decay and the paper's step schedule.

    Appends each epoch's errors to ``curves``. ``should_stop`` is checked before every batch (raises
    :class:`Stopped`); ``step_guard()`` is entered around every batch (the app's forward gate, so a training run
    shares the machine fairly). The batch order is fixed by ``config.seed``.
    """
    x_train, y_train, x_test, y_test = data
    model.to(device).train()
    opt = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    total_run = steps_per_epoch * config.epochs
    milestones = sorted({int(f * total_run) for f in config.lr_drops})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    gen = torch.Generator().manual_seed(config.seed)
    guard = step_guard or contextlib.nullcontext
    step = 0
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x_train), generator=gen)
        wrong, seen, loss_sum = 0, 0, 0.0
        for b in range(steps_per_epoch):
            if should_stop is not None and should_stop():
                curves.seconds += time.perf_counter() - start
                raise Stopped
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            x = augment_batch(x_train[idx], gen) if config.augment else x_train[idx]
            x, y = x.to(device), y_train[idx].to(device)
            with guard(), torch.enable_grad():
                out = model(x)
                loss = F.cross_entropy(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
            wrong += int((out.argmax(1) != y).sum())
            seen += len(y)
            loss_sum += loss.item() * len(y)
            step += 1
            if progress is not None:
                progress(done_offset + step, total_steps or total_run, curves.label, epoch)
        with guard():
            test = evaluate(model, x_test, y_test)
        curves.train_error.append(wrong / seen)
        curves.train_loss.append(loss_sum / seen)
        curves.test_error.append(test["top1_error"])
        if on_epoch is not None:
            on_epoch()
    curves.seconds += time.perf_counter() - start


def make_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training and test sets of ``config`` (disjoint seeds, so no test image is a training image)."""
    x_train, y_train = synthetic_shapes(
        config.n_train, size=config.image_size, seed=config.seed, noise=config.noise
    )
    x_test, y_test = synthetic_shapes(
        config.n_test, size=config.image_size, seed=config.seed + 1_000_003, noise=config.noise
    )
    return x_train, y_train, x_test, y_test


def train_degradation(
    config: TrainConfig,
    *,
    device: Any = "cpu",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
    on_run_end: Callable[[DegradationResult], None] | None = None,
    on_epoch: Callable[[DegradationResult], None] | None = None,
    keep_models: bool = False,
) -> DegradationResult:
    """Train every network of ``config.runs`` on the same data, one after the other.

    Each network starts from ``torch.manual_seed(config.seed)`` and sees the same batches in the same order.
    When ``should_stop()`` turns true the run ends between two batches and the result (``stopped=True``) holds
    the epochs completed so far. ``on_epoch`` / ``on_run_end`` receive the partial result after every epoch /
    after each network is trained.
    """
    data = make_data(config)
    result = DegradationResult(config=config, runs=[], device=str(torch.device(device)))
    steps = math.ceil(config.n_train / config.batch_size) * config.epochs
    total = steps * len(config.runs)
    for i, (label, depth, plain) in enumerate(config.runs):
        model = _seeded_build(config.seed, lambda d=depth, p=plain: cifar_net(d, plain=p, width=config.width))
        curves = RunCurves(label=label, depth=depth, plain=plain)
        result.runs.append(curves)
        try:
            train_one(
                model,
                data,
                config,
                curves,
                device=device,
                progress=progress,
                should_stop=should_stop,
                step_guard=step_guard,
                done_offset=i * steps,
                total_steps=total,
                on_epoch=None if on_epoch is None else (lambda: on_epoch(result)),
            )
        except Stopped:
            result.stopped = True
            return result
        if keep_models:
            result.models[label] = model.cpu().eval()
        if on_run_end is not None:
            on_run_end(result)
    return result


# --------------------------------------------------------------------------------------------------------------
# Deleting one block (Veit, Wilber & Belongie 2016)
# --------------------------------------------------------------------------------------------------------------


class ShortcutOnly(nn.Module):
    """A residual block with its residual branch deleted: only the shortcut is left (identity or option A)."""

    def __init__(self, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x)


def load_trained(path: str | Path, *, depth: int, width: int, plain: bool) -> nn.Module:
    """A fresh CIFAR network (eval mode, CPU) with the weights saved by ``scripts/make_curves.py``.

    safetensors only (runs no code); a missing file raises ``FileNotFoundError``.
    """
    from safetensors.torch import load_file

    model = cifar_net(depth, plain=plain, width=width)
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def block_names(model: nn.Module) -> list[str]:
    return [f"{s}.{i}" for s, stage in _stages(model) for i in range(len(stage))]


def removable(model: nn.Module, name: str) -> bool:
    """Can block ``name`` be deleted without breaking shapes? Always for a residual block (its shortcut stays);
    for a plain block only where it keeps the shape (not the first block of a down-sampling stage)."""
    stage_name, idx = name.split(".")
    block = getattr(model, stage_name)[int(idx)]
    if isinstance(block, PlainBasicBlock | PlainBottleneck):
        return block.conv1.stride == (1, 1) and block.conv1.in_channels == _block_out_channels(block)
    return isinstance(block, BasicBlock | Bottleneck)


def _block_out_channels(block: nn.Module) -> int:
    last = block.conv3 if hasattr(block, "conv3") else block.conv2
    return last.out_channels


def remove_block(model: nn.Module, name: str) -> nn.Module:
    """A deep copy of ``model`` with block ``name`` (e.g. ``"layer2.3"``) deleted; ``model`` is not touched.

    In a residual network the block becomes its shortcut (x, or option A's subsample-and-pad); in a plain
    network it becomes the identity, which is only possible where the block keeps the shape.
    """
    if not removable(model, name):
        raise ValueError(f"block {name} changes the shape; deleting it would break the network")
    stage_name, idx = name.split(".")
    clone = copy.deepcopy(model)
    block = getattr(clone, stage_name)[int(idx)]
    replacement = (
        nn.Identity()
        if isinstance(block, PlainBasicBlock | PlainBottleneck)
        else ShortcutOnly(block.downsample)
    )
    getattr(clone, stage_name)[int(idx)] = replacement
    return clone


def block_removal_sweep(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Errors of ``model`` and of every copy with one block deleted (blocks that cannot go are skipped)."""
    base = evaluate(model, images, labels)
    out: dict[str, Any] = {"baseline": base, "blocks": {}}
    for name in names or block_names(model):
        if removable(model, name):
            out["blocks"][name] = evaluate(remove_block(model, name), images, labels)
    return out


def test_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The test set of ``config`` alone (the same images :func:`make_data` gives)."""
    return synthetic_shapes(
        config.n_test, size=config.image_size, seed=config.seed + 1_000_003, noise=config.noise
    )


def delete_block_experiment(folder: str | Path, config: TrainConfig, depth: int, name: str) -> dict[str, Any]:
    """On the trained ``depth``-layer nets saved in ``folder``: test errors intact and with block ``name`` deleted.

    Returns ``{"resnet-56": {"intact": {...}, "deleted": {...}}, "plain-56": {... "deleted": None if the plain
    block changes the shape}}``. Fresh models every call; raises ``FileNotFoundError`` without the weights.
    """
    images, labels = test_data(config)
    out: dict[str, Any] = {}
    for kind, plain in (("resnet", False), ("plain", True)):
        model = load_trained(
            Path(folder) / f"{kind}{depth}.safetensors", depth=depth, width=config.width, plain=plain
        )
        deleted = evaluate(remove_block(model, name), images, labels) if removable(model, name) else None
        out[f"{kind}-{depth}"] = {"intact": evaluate(model, images, labels), "deleted": deleted}
    return out


#: A live run that fits in about 3 minutes on 2 CPU cores: the shipped settings with less data and fewer epochs.
LIVE_CONFIG = TrainConfig(width=8, n_train=1200, n_test=300, epochs=5, batch_size=32)


def depth_comparison(data: dict[str, Any]) -> list[dict[str, Any]]:
    """From a degradation record: per family (plain, resnet), the deepest vs the shallowest network's errors at
    the last epoch they both finished (fractions). Empty where a family has fewer than two finished runs."""
    out = []
    for plain in (True, False):
        runs = sorted(
            (r for r in data["runs"] if r["plain"] == plain and r["train_error"]), key=lambda r: r["depth"]
        )
        if len(runs) < 2:
            continue
        shallow, deep = runs[0], runs[-1]
        n = min(len(shallow["train_error"]), len(deep["train_error"]))
        out.append(
            {
                "plain": plain,
                "shallow": shallow["depth"],
                "deep": deep["depth"],
                "epoch": n,
                "shallow_train": shallow["train_error"][n - 1],
                "deep_train": deep["train_error"][n - 1],
                "shallow_test": shallow["test_error"][n - 1],
                "deep_test": deep["test_error"][n - 1],
            }
        )
    return out


def removal_summary(removal: dict[str, Any], metric: str = "top1_error") -> dict[str, dict[str, Any]]:
    """Per network of a removal record: the intact error and the mean / largest increase over deletable blocks."""
    out = {}
    for label, sweep in removal["nets"].items():
        base = sweep["baseline"][metric]
        rises = {name: r[metric] - base for name, r in sweep["blocks"].items()}
        worst = max(rises, key=rises.get)
        out[label] = {
            "baseline": base,
            "mean_rise": sum(rises.values()) / len(rises),
            "max_rise": rises[worst],
            "worst": worst,
            "blocks": len(rises),
        }
    return out
