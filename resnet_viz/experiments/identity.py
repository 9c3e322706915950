"""Identity at initialisation: with ``zero_init_residual`` every residual branch starts at exactly 0, so every
block starts by passing on ReLU of its shortcut (x itself on a solid block, not on a dashed one)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.experiments.data import synthetic_shapes
from resnet_viz.models.blocks import named_blocks, walk_block
from resnet_viz.models.build import build_model
from resnet_viz.models.seeding import seeded_build


@dataclass(frozen=True)
class BlockIdentity:
    """One block on a batch: ‖x‖, ‖shortcut(x)‖ (x itself on a solid block), ‖F(x)‖ (the residual branch) and
    ‖block(x) − ReLU(shortcut(x))‖."""

    name: str
    input_norm: float
    residual_norm: float
    output_minus_shortcut: float
    shortcut_norm: float


def residual_branch(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """F(x) of a torchvision block: its main branch up to (not including) the addition and the last ReLU."""
    return walk_block(block).run_branch(x)


def shortcut_branch(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the block adds to F(x): x, or its downsample of x (x for a plain block, which adds nothing)."""
    shortcut = walk_block(block).run_shortcut(x)
    return x if shortcut is None else shortcut


def _stem(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = model.relu(model.bn1(model.conv1(x)))
    maxpool = getattr(model, "maxpool", None)
    return maxpool(x) if maxpool is not None else x


#: How many generated images :func:`identity_at_init` measures by default (the page quotes it).
IDENTITY_BATCH = 8


def identity_at_init(
    arch: str,
    *,
    zero_init_residual: bool = True,
    input_size: int | None = None,
    batch_size: int = IDENTITY_BATCH,
    seed: int = 0,
) -> list[BlockIdentity]:
    """Measure every block of a freshly initialised residual ``arch`` on a batch of generated images.

    With ``zero_init_residual=True`` (torchvision's option: the last BN of every residual branch starts with
    γ = 0) the branch outputs F(x) = 0, so each block outputs ReLU(shortcut(x)): x itself on an identity shortcut
    (its input comes out of a ReLU), the subsampled or projected x on a dashed one. The numbers are measured here,
    not assumed.

    BatchNorm is in **train mode**, as in the first step of training: it normalises with the batch's own
    statistics. In eval mode a fresh BN would use its default running statistics (mean 0, variance 1), i.e. not
    normalise at all, a state training never meets; the default-init ‖F(x)‖ would then be off by orders of
    magnitude. The model is built here and thrown away, so updating its running statistics harms nobody. No
    gradients.
    """
    spec = get_spec(arch)
    size = int(input_size or spec.default_input)
    model = seeded_build(seed, lambda: build_model(arch, zero_init_residual=zero_init_residual)).train()
    images, _ = synthetic_shapes(batch_size, size=size, seed=seed)
    rows: list[BlockIdentity] = []
    with torch.no_grad():
        x = _stem(model, images)
        for name, block in named_blocks(model):
            f = residual_branch(block, x)
            s = shortcut_branch(block, x)
            out = block(x)
            rows.append(
                BlockIdentity(
                    name=name,
                    input_norm=float(x.norm()),
                    residual_norm=float(f.norm()),
                    output_minus_shortcut=float((out - F.relu(s)).norm()),
                    shortcut_norm=float(s.norm()),
                )
            )
            x = out
    return rows
