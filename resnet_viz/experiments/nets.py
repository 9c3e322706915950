"""The experiments' networks: the paper's CIFAR nets at any width, their main-path convs, trained weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.models.build import CifarResNet, build_model
from resnet_viz.models.seeding import unseeded_build


def cifar_net(depth: int, *, plain: bool, width: int = 16, num_classes: int = 10) -> nn.Module:
    """The paper's CIFAR network of ``depth`` = 6n+2 layers (plain or residual), optionally narrower.

    ``width`` is the first stage's channels (the paper: 16, so 16/32/64); ``build_model`` builds the paper's
    width, a smaller one comes from the same :class:`CifarResNet` with the catalogue's widths scaled, so that a
    live run fits in minutes on a CPU. Returned in train mode.
    """
    spec = get_spec(f"resnet{depth}")
    if spec.family != "cifar":
        raise ValueError(f"resnet{depth} is not a CIFAR network (depth 6n+2: 20, 32, 44, 56, 110)")
    if width == spec.stem_width:
        model = build_model(spec.name, plain=plain, num_classes=num_classes)
    else:
        narrow = dataclasses.replace(spec, stem_width=width, widths=(width, 2 * width, 4 * width))
        model = CifarResNet(narrow, plain=plain, num_classes=num_classes)
    return model.train()


def main_path_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The conv layers on the main path, in network order (projection shortcuts ``downsample.0`` excluded).

    These are the layers the paper counts in a network's depth, and they exist in the plain and the residual
    network alike, so their gradients can be compared name by name.
    """
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and ".downsample." not in name
    ]


def load_trained(path: str | Path, *, depth: int, width: int, plain: bool) -> nn.Module:
    """A fresh CIFAR network (eval mode, CPU) with the weights saved by ``scripts/make_curves.py``.

    safetensors only (runs no code); a missing file raises ``FileNotFoundError``. The number of classes is read
    off the saved classifier.
    """
    from safetensors.torch import load_file

    state = load_file(str(path))
    classes = int(state["fc.weight"].shape[0])
    model = unseeded_build(lambda: cifar_net(depth, plain=plain, width=width, num_classes=classes))
    model.load_state_dict(state)
    return model.eval()
