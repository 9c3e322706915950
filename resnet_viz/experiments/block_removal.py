"""Deleting one block (Veit, Wilber & Belongie 2016): the block becomes its shortcut."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnet_viz import paths
from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments.config import TrainConfig
from resnet_viz.experiments.data import test_data
from resnet_viz.experiments.nets import load_trained
from resnet_viz.experiments.training import evaluate
from resnet_viz.models.blocks import is_block, named_blocks, walk_block


class ShortcutOnly(nn.Module):
    """A residual block with its residual branch deleted: only the shortcut is left (identity or option A)."""

    def __init__(self, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x)


def block_names(model: nn.Module) -> list[str]:
    return [name for name, _ in named_blocks(model)]


def removable(model: nn.Module, name: str) -> bool:
    """Can block ``name`` be deleted without breaking shapes? Always for a residual block (its shortcut stays);
    for a plain block only where it keeps the shape (not the first block of a down-sampling stage)."""
    stage_name, idx = name.split(".")
    block = getattr(model, stage_name)[int(idx)]
    if not is_block(block):
        return False
    layout = walk_block(block)
    if layout.plain:
        first, last = layout.convs[0][0].module, layout.convs[-1][0].module
        return first.stride == (1, 1) and first.in_channels == last.out_channels
    return True


def remove_block(model: nn.Module, name: str) -> nn.Module:
    """A deep copy of ``model`` with block ``name`` (e.g. ``"layer2.3"``) deleted; ``model`` is not touched.

    In a residual network the block becomes its shortcut (x, or option A's subsample-and-pad); in a plain
    network it becomes the identity, which is only possible where the block keeps the shape.
    """
    if not removable(model, name):
        raise ValueError(f"block {name} changes the shape; deleting it would break the network")
    stage_name, idx = name.split(".")
    clone = copy.deepcopy(model)
    layout = walk_block(getattr(clone, stage_name)[int(idx)])
    replacement = nn.Identity() if layout.plain else ShortcutOnly(layout.shortcut_module)
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


@dataclass(frozen=True)
class BlockDeletion:
    """One trained net's test errors (``top1_error``, ``top5_error``) intact and with one block deleted;
    ``deleted`` is None where the block cannot go (a plain block that changes the shape)."""

    net: ExperimentNet
    intact: dict[str, float]
    deleted: dict[str, float] | None


def delete_block_experiment(
    folder: str | Path, config: TrainConfig, depth: int, name: str
) -> list[BlockDeletion]:
    """On the trained ``depth``-layer nets saved in ``folder``: test errors intact and with block ``name`` deleted,
    the residual net first, then the plain one. Fresh models every call; raises ``FileNotFoundError`` without the
    weights."""
    images, labels = test_data(config)
    out = []
    for net in (ExperimentNet(depth, plain=False), ExperimentNet(depth, plain=True)):
        model = load_trained(
            paths.net_weights_path(net, folder), depth=depth, width=config.width, plain=net.plain
        )
        deleted = evaluate(remove_block(model, name), images, labels) if removable(model, name) else None
        out.append(BlockDeletion(net, intact=evaluate(model, images, labels), deleted=deleted))
    return out
