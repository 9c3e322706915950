"""resnet-viz: see how a residual network works.

Public API (used by the pages, the CLI and the tests):

* :data:`ARCHS` — the network names;
* :func:`build_model` — the network as an ``nn.Module`` on torchvision's classes;
* :func:`trace` — shapes, parameters, multiply-adds and receptive fields, step by step, without weights.
"""

from resnet_viz.architecture.catalogue import (
    ARCHS,
    CATALOGUE,
    CIFAR_ARCHS,
    IMAGENET_ARCHS,
    ArchSpec,
    get_spec,
)
from resnet_viz.architecture.trace import Row, Trace, trace
from resnet_viz.models import build_model
from resnet_viz.models.device import describe_device, select_device

__all__ = [
    "ARCHS",
    "CATALOGUE",
    "CIFAR_ARCHS",
    "IMAGENET_ARCHS",
    "ArchSpec",
    "Row",
    "Trace",
    "build_model",
    "describe_device",
    "get_spec",
    "select_device",
    "trace",
]
__version__ = "0.1.0"
