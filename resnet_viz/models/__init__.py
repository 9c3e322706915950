"""Networks as torch modules: building them on torchvision's classes (:mod:`.build`), their weights
(:mod:`.weights`), seeded initialisation (:mod:`.seeding`) and the device (:mod:`.device`)."""

from resnet_viz.models.build import (
    CifarResNet,
    PlainBasicBlock,
    PlainBottleneck,
    ZeroPadShortcut,
    build_model,
)

__all__ = ["CifarResNet", "PlainBasicBlock", "PlainBottleneck", "ZeroPadShortcut", "build_model"]
