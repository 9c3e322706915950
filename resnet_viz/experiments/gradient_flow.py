"""Gradient flow at initialisation: plain against residual, same weights, same batch."""

from __future__ import annotations

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
