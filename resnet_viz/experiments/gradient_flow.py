"""Gradient flow at initialisation: plain against residual, same weights, same batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.experiments.data import synthetic_shapes
from resnet_viz.experiments.nets import main_path_convs
from resnet_viz.models.build import build_model
from resnet_viz.models.seeding import seeded_build


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
    plain = seeded_build(seed, lambda: build_model(arch, plain=True)).train().to(device)
    residual = seeded_build(seed, lambda: build_model(arch)).train().to(device)
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


#: The checkpoints of :func:`gradient_steps`: at initialisation and after 1, 10 and 100 SGD steps.
DEFAULT_STEPS: tuple[int, ...] = (0, 1, 10, 100)


@dataclass(frozen=True)
class GradientSteps:
    """Gradient norms per main-path conv of plain and residual ``depth``-layer nets, at several training steps.

    ``grads[kind][i]`` holds the layer norms measured after ``steps[i]`` SGD updates (kind ``"plain"`` or
    ``"residual"``), ``conv1_weight[kind][i]`` the norm of conv1's weights then, ``loss[kind][i]`` the batch loss.
    """

    depth: int
    width: int
    batch_size: int
    seed: int
    lr: float
    momentum: float
    weight_decay: float
    dataset: str
    image_size: int
    steps: tuple[int, ...]
    layers: tuple[str, ...]
    grads: dict[str, tuple[tuple[float, ...], ...]]
    conv1_weight: dict[str, tuple[float, ...]]
    loss: dict[str, tuple[float, ...]]

    def first_last_ratio(self, kind: str) -> tuple[float, ...]:
        """conv1's gradient norm ÷ the last conv's, at every checkpoint."""
        return tuple(g[0] / g[-1] for g in self.grads[kind])

    def settings(self) -> dict[str, Any]:
        """Everything but the seed that decides the measurement (recorded in ``gradient_steps.json``)."""
        return {
            "depth": self.depth,
            "width": self.width,
            "batch_size": self.batch_size,
            "steps": list(self.steps),
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "dataset": self.dataset,
            "image_size": self.image_size,
            "batchnorm": "train mode",
        }

    def to_dict(self) -> dict[str, Any]:
        """This seed's measurements: ``{"seed", "plain": {"grad", "conv1_weight", "loss"}, "residual": {...}}``."""
        return {
            "seed": self.seed,
            **{
                kind: {
                    "grad": [list(g) for g in self.grads[kind]],
                    "conv1_weight": list(self.conv1_weight[kind]),
                    "loss": list(self.loss[kind]),
                }
                for kind in ("plain", "residual")
            },
        }


def gradient_steps(
    depth: int = 56,
    *,
    width: int = 16,
    steps: tuple[int, ...] = DEFAULT_STEPS,
    batch_size: int = 32,
    seed: int = 0,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    dataset: str = "pairs",
    image_size: int = 32,
    device: Any = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> GradientSteps:
    """Train plain and residual ``depth``-layer CIFAR nets with SGD (BN in train mode, as in training) and measure
    ‖∂loss/∂W‖ of every main-path conv at the checkpoints ``steps`` (number of updates done; 0 = at init).

    Both nets start from the same weights (the shortcuts are the only difference) and see the same batches of the
    generated ``dataset`` (no augmentation), in an order fixed by ``seed``. At a checkpoint the gradient is the one
    of the next batch, the one the next update uses. ``progress(done, total)`` is called after every update.
    """
    from resnet_viz.experiments.config import DATASETS
    from resnet_viz.experiments.data import generate
    from resnet_viz.experiments.nets import cifar_net

    if not steps or min(steps) < 0 or list(steps) != sorted(set(steps)):
        raise ValueError("steps must be distinct, increasing and >= 0")
    classes = DATASETS[dataset]
    pool = max(256, 8 * batch_size)
    images, labels = generate(dataset, pool, size=image_size, seed=seed, noise=0.1)
    images, labels = images.to(device), labels.to(device)
    plain = seeded_build(seed, lambda: cifar_net(depth, plain=True, width=width, num_classes=classes))
    residual = seeded_build(seed, lambda: cifar_net(depth, plain=False, width=width, num_classes=classes))
    _copy_shared_weights(plain, residual)
    gen = torch.Generator().manual_seed(seed)
    last = steps[-1]
    batches = []
    while len(batches) * batch_size < (last + 1) * batch_size:
        batches.extend(torch.randperm(pool, generator=gen).split(batch_size)[: pool // batch_size])
    batches = batches[: last + 1]

    grads: dict[str, list[tuple[float, ...]]] = {}
    weight: dict[str, list[float]] = {}
    losses: dict[str, list[float]] = {}
    layer_names: list[str] = []
    total = 2 * last
    for n_kind, (kind, model) in enumerate((("plain", plain), ("residual", residual))):
        model.to(device).train()
        convs = main_path_convs(model)
        layer_names = [name for name, _ in convs]
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        grads[kind], weight[kind], losses[kind] = [], [], []
        with torch.enable_grad():
            for step in range(last + 1):
                idx = batches[step].to(device)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(images[idx]), labels[idx])
                loss.backward()
                if step in steps:
                    grads[kind].append(tuple(float(m.weight.grad.norm()) for _, m in convs))
                    weight[kind].append(float(convs[0][1].weight.detach().norm()))
                    losses[kind].append(loss.item())
                if step == last:
                    break
                opt.step()
                if progress is not None:
                    progress(n_kind * last + step + 1, total)
    return GradientSteps(
        depth=depth,
        width=width,
        batch_size=batch_size,
        seed=seed,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        dataset=dataset,
        image_size=image_size,
        steps=tuple(steps),
        layers=tuple(layer_names),
        grads={k: tuple(v) for k, v in grads.items()},
        conv1_weight={k: tuple(v) for k, v in weight.items()},
        loss={k: tuple(v) for k, v in losses.items()},
    )


def gradient_steps_record(results: list[GradientSteps]) -> dict[str, Any]:
    """Several seeds' :class:`GradientSteps` (same settings) as one record: the format of ``gradient_steps.json``
    (``{"settings", "seeds", "layers", "per_seed": [GradientSteps.to_dict(), ...]}``)."""
    if not results or any(r.settings() != results[0].settings() for r in results):
        raise ValueError("need at least one result, all with the same settings")
    return {
        "settings": results[0].settings(),
        "seeds": [r.seed for r in results],
        "layers": list(results[0].layers),
        "per_seed": [r.to_dict() for r in results],
    }
