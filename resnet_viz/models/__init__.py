"""Networks as torch modules: building them on torchvision's classes (:mod:`.build`), the one walker of a block
(:mod:`.blocks`), their weights (:mod:`.weights`), seeded initialisation (:mod:`.seeding`) and the device
(:mod:`.device`)."""

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

__all__ = [
    "BlockLayer",
    "BlockLayout",
    "CifarResNet",
    "PlainBasicBlock",
    "PlainBottleneck",
    "ZeroPadShortcut",
    "build_model",
    "is_block",
    "named_blocks",
    "named_stages",
    "walk_block",
]
