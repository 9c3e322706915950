"""resnet-viz: see how a residual network works.

Public API (used by the pages, the CLI and the tests):

* :data:`ARCHS` — the network names;
* :func:`build_model` — the network as an ``nn.Module`` on torchvision's classes;
* :func:`trace` — shapes, parameters, multiply-adds and receptive fields, step by step, without weights.
"""

from .catalogue import ARCHS, CATALOGUE, CIFAR_ARCHS, IMAGENET_ARCHS, ArchSpec, get_spec
from .device import describe_device, select_device
from .models import build_model
from .trace import Row, Trace, trace

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
