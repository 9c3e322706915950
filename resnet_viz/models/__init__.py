"""Networks as torch modules: building them on torchvision's classes (:mod:`.build`), the one walker of a block
(:mod:`.blocks`), their weights (:mod:`.weights`), seeded initialisation (:mod:`.seeding`), the device
(:mod:`.device`) and the ResNet-50 → ConvNeXt-T ladder's rungs (:mod:`.ladder`)."""

from resnet_viz.models.blocks import (
    BlockLayer,
    BlockLayout,
    is_block,
    named_blocks,
    named_stages,
    walk_block,
)
from resnet_viz.models.build import (
    CifarResNet,
    PlainBasicBlock,
    PlainBottleneck,
    ZeroPadShortcut,
    build_model,
)
from resnet_viz.models.ladder import DepthwiseFirstBlock, InvertedBottleneck, build_rung

__all__ = [
    "BlockLayer",
    "BlockLayout",
    "CifarResNet",
    "DepthwiseFirstBlock",
    "InvertedBottleneck",
    "PlainBasicBlock",
    "PlainBottleneck",
    "ZeroPadShortcut",
    "build_model",
    "build_rung",
    "is_block",
    "named_blocks",
    "named_stages",
    "walk_block",
]
