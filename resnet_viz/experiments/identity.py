"""Identity at initialisation: with ``zero_init_residual`` every residual branch starts at exactly 0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.experiments.data import synthetic_shapes
from resnet_viz.models.build import build_model
from resnet_viz.models.seeding import seeded_build


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
    (its input comes out of a ReLU), the subsampled or projected x on a dashed one. The numbers are measured here, not assumed. Eval mode, no gradients.
    """
    spec = get_spec(arch)
    size = int(input_size or spec.default_input)
    model = seeded_build(seed, lambda: build_model(arch, zero_init_residual=zero_init_residual)).eval()
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
