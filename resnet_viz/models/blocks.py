"""The one walker of a residual block: which layers its main branch runs, in order, and what its shortcut is.

Every part of the package that looks inside a block (the capture, the inspector's terms and its folded
gradient pass, identity at initialisation, block deletion) reads the block through :func:`walk_block`, the way
timm keeps one ``forward_intermediates`` per model instead of one hand-written walk per feature: a new kind of
block (pre-activation, say) is taught here once.

It knows torchvision's ``BasicBlock`` and ``Bottleneck`` (v1.5, and v1 with the stride moved to the first 1×1),
their plain counterparts (:class:`PlainBasicBlock`, :class:`PlainBottleneck`: no shortcut at all), and option A's
:class:`ZeroPadShortcut` as a block's ``downsample``. The stages are the model's own children (a ``Sequential`` of
blocks), in the order the model registered them, never a list of names typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz.models.build import PlainBasicBlock, PlainBottleneck, ZeroPadShortcut

BlockKind = Literal["basic", "bottleneck"]
#: As the trace names them: ``none`` is a plain block's missing shortcut, then the paper's identity, option A
#: (zero-padding) and option B (projection).
ShortcutKind = Literal["none", "identity", "zero_pad", "projection"]
LayerKind = Literal["conv", "bn", "relu", "zero_pad"]


@dataclass(frozen=True)
class BlockLayer:
    """One layer of a block, as the block's forward calls it."""

    name: str  # the module's name inside the block: conv1, bn1, relu (torchvision's one shared ReLU), downsample.0
    step: str  # unique inside the block: conv1, bn1, relu1, conv2, … (the ReLU after bn<i> is relu<i>)
    kind: LayerKind
    module: nn.Module


@dataclass(frozen=True)
class BlockLayout:
    """One block taken apart: ``out = ReLU(F(x) + shortcut(x))``, or ``ReLU(F(x))`` in a plain block.

    ``branch`` is F's layers in the order the block's forward runs them, up to (not including) the addition and
    the last ReLU; torchvision reuses one ``relu`` module, so it appears once per ReLU, with steps ``relu1``,
    ``relu2``. ``shortcut_layers`` are the shortcut's own modules (a projection's ``downsample.0`` conv and
    ``downsample.1`` BN, option A's ``downsample``; none for identity and plain). ``relu`` is the module applied
    after the addition.
    """

    kind: BlockKind
    plain: bool
    branch: tuple[BlockLayer, ...]
    shortcut: ShortcutKind
    shortcut_module: nn.Module | None  # the block's ``downsample`` (projection or option A); else None
    shortcut_layers: tuple[BlockLayer, ...]
    relu: nn.Module

    @property
    def convs(self) -> tuple[tuple[BlockLayer, BlockLayer], ...]:
        """The main branch's (conv, BN) pairs in order: two in a BasicBlock, three in a Bottleneck."""
        return _pairs(self.branch)

    @property
    def conv_bn_pairs(self) -> tuple[tuple[BlockLayer, BlockLayer], ...]:
        """Every (conv, BN) pair of the block: the main branch's, then a projection's."""
        return _pairs(self.branch) + _pairs(self.shortcut_layers)

    def run_branch(self, x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
        """F(x): the branch's layers in order. The ReLUs run as ``F.relu`` so the caller chooses whether they
        work in place (they may: each reads a fresh BN output; ``x`` itself is never written)."""
        h = x
        for layer in self.branch:
            h = F.relu(h, inplace=inplace) if layer.kind == "relu" else layer.module(h)
        return h

    def run_shortcut(self, x: torch.Tensor) -> torch.Tensor | None:
        """shortcut(x): ``x`` itself on an identity shortcut, ``downsample(x)`` on a dashed one, None in a plain
        block (which adds nothing)."""
        if self.shortcut == "none":
            return None
        return x if self.shortcut_module is None else self.shortcut_module(x)


def _pairs(layers: tuple[BlockLayer, ...]) -> tuple[tuple[BlockLayer, BlockLayer], ...]:
    return tuple((a, b) for a, b in zip(layers, layers[1:]) if a.kind == "conv" and b.kind == "bn")


def is_block(module: nn.Module) -> bool:
    """Whether :func:`walk_block` knows ``module`` (torchvision's blocks, and ours derived from them)."""
    return isinstance(module, (BasicBlock, Bottleneck))


def walk_block(block: nn.Module) -> BlockLayout:
    """Take one block apart (see :class:`BlockLayout`); ``TypeError`` for a module that is not a known block."""
    if isinstance(block, Bottleneck):
        kind: BlockKind = "bottleneck"
        n = 3
    elif isinstance(block, BasicBlock):
        kind, n = "basic", 2
    else:
        raise TypeError(f"not a block this walker knows: {type(block).__name__}")
    plain = isinstance(block, (PlainBasicBlock, PlainBottleneck))
    branch: list[BlockLayer] = []
    for i in range(1, n + 1):
        branch.append(BlockLayer(f"conv{i}", f"conv{i}", "conv", getattr(block, f"conv{i}")))
        branch.append(BlockLayer(f"bn{i}", f"bn{i}", "bn", getattr(block, f"bn{i}")))
        if i < n:
            branch.append(BlockLayer("relu", f"relu{i}", "relu", block.relu))
    ds = None if plain else block.downsample
    if plain:
        shortcut: ShortcutKind = "none"
        layers: tuple[BlockLayer, ...] = ()
    elif ds is None:
        shortcut, layers = "identity", ()
    elif isinstance(ds, ZeroPadShortcut):
        shortcut, layers = "zero_pad", (BlockLayer("downsample", "downsample", "zero_pad", ds),)
    elif (
        isinstance(ds, nn.Sequential)
        and len(ds) == 2
        and isinstance(ds[0], nn.Conv2d)
        and isinstance(ds[1], nn.BatchNorm2d)
    ):
        shortcut = "projection"
        layers = (
            BlockLayer("downsample.0", "downsample.0", "conv", ds[0]),
            BlockLayer("downsample.1", "downsample.1", "bn", ds[1]),
        )
    else:
        raise TypeError(f"not a shortcut this walker knows: {type(ds).__name__}")
    return BlockLayout(
        kind=kind, plain=plain, branch=tuple(branch), shortcut=shortcut, shortcut_module=ds,
        shortcut_layers=layers, relu=block.relu,
    )  # fmt: skip


def named_stages(model: nn.Module) -> list[tuple[str, nn.Sequential]]:
    """The model's stages in network order: its children that are a ``Sequential`` of blocks (``layer1`` …)."""
    return [
        (name, child)
        for name, child in model.named_children()
        if isinstance(child, nn.Sequential) and any(is_block(b) for b in child)
    ]


def named_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every block in network order with its qualified name (``layer2.0``)."""
    return [(f"{stage}.{i}", block) for stage, seq in named_stages(model) for i, block in enumerate(seq)]
