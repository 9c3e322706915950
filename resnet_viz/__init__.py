"""resnet-viz: see how a residual network works.

Public API (used by the pages, the CLI and the tests):

* :data:`ARCHS` — the network names;
* :func:`build_model` — the network as an ``nn.Module`` on torchvision's classes;
* :func:`trace` — shapes, parameters, multiply-adds and receptive fields, step by step, without weights;
* :func:`explain_value` — how one activation was computed, term by term.

Importing the package does not import torch: the architecture data and the trace are pure Python (so that
``python -m resnet_viz summary`` starts in a fraction of a second), and the names that need torch
(:func:`build_model`, :func:`select_device`, :func:`describe_device`, :func:`explain_value`) are loaded on first
use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from resnet_viz.architecture.catalogue import (
    ARCHS,
    CATALOGUE,
    CIFAR_ARCHS,
    IMAGENET_ARCHS,
    ArchSpec,
    get_spec,
)
from resnet_viz.architecture.trace import Row, Trace, trace

if TYPE_CHECKING:
    from resnet_viz.imaging.explain import explain_value
    from resnet_viz.models.build import build_model
    from resnet_viz.models.device import describe_device, select_device

#: Public names that need torch: name -> the module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "build_model": "resnet_viz.models.build",
    "describe_device": "resnet_viz.models.device",
    "select_device": "resnet_viz.models.device",
    "explain_value": "resnet_viz.imaging.explain",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    "explain_value",
    "get_spec",
    "select_device",
    "trace",
]
__version__ = "0.1.0"
