"""rf_box against an independent computation: the support of ∂value/∂input in a net where every path is open
(positive weights, BN as the identity plus a positive shift, a positive input, the max-pool swapped for an
average pool of the same geometry), read with a forward hook on torchvision's own module. The support must be
exactly the clipped box: so the box's size, jump and centre are all checked, on every kind of layer."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from resnet_viz import trace
from resnet_viz.imaging.explain import rf_box
from resnet_viz.models import build_model

CASES = [
    ("resnet20", 32),
    ("resnet56", 32),
    ("resnet18", 64),
    pytest.param("resnet50", 64, marks=pytest.mark.slow),
]


def _all_paths_open(arch: str) -> nn.Module:
    model = copy.deepcopy(build_model(arch)).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.weight.fill_(1.0)
                m.bias.fill_(0.1)
    if isinstance(getattr(model, "maxpool", None), nn.MaxPool2d):
        mp = model.maxpool
        model.maxpool = nn.AvgPool2d(mp.kernel_size, mp.stride, mp.padding, count_include_pad=True)
    return model


def _support(model: nn.Module, layer: str, size: int, channel: int, row: int, col: int) -> tuple[int, ...]:
    kept: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(
        lambda _m, _i, out: kept.append(out[0, channel, row, col].clone()) if not kept else None
    )
    try:
        x = torch.ones(1, 3, size, size, requires_grad=True)
        with torch.enable_grad():
            model(x)
            (grad,) = torch.autograd.grad(kept[0], x)
    finally:
        handle.remove()
    rows, cols = np.nonzero(grad[0].abs().sum(0).numpy())
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def _layers(tr) -> list[str]:
    """One layer of every kind the inspector offers, taken from the first stride-2 block and the stem."""
    dashed = next(b.name for b in tr.blocks if b.stride == 2)
    kinds = {"conv1", "bn1", "maxpool", "layer1.0", f"{dashed}", f"{dashed}.conv1", f"{dashed}.bn2"}
    kinds |= {
        r.name for r in tr.rows if r.parent in (dashed, f"{dashed}.downsample") and "downsample" in r.name
    }
    kinds.add(tr.blocks[-1].name)
    names = {r.name for r in tr.rows}
    return sorted(k for k in kinds if k in names)


@pytest.mark.parametrize(("arch", "size"), CASES)
def test_rf_box_is_the_gradients_support(arch: str, size: int) -> None:
    tr = trace(arch, size)
    model = _all_paths_open(arch)
    checked = []
    for layer in _layers(tr):
        c, h, w = tr.row(layer).output_shape
        channel = c // 2  # inside option A's copied channels (the zero-padded ones are at both ends)
        for row, col in ((h // 2, w // 2), (h - 1, w - 1), (0, 1)):
            box = rf_box(tr, layer, row, col)
            assert _support(model, layer, size, channel, row, col) == (box.top, box.left, box.bottom, box.right), (
                layer, row, col, box,
            )  # fmt: skip
        checked.append(layer)
    assert any(".downsample" in name for name in checked)


def test_option_a_downsample_strides_like_its_output():
    """The second reader's case: ResNet-56 at 32×32, layer2.0.downsample at (15, 15) reads pixel (30, 30)."""
    box = rf_box(trace("resnet56", 32), "layer2.0.downsample", 15, 15)
    assert (box.jump, box.center_row, box.center_col) == (2, 30.0, 30.0)


def test_the_caption_says_pixel_for_a_jump_of_one():
    from app_pages.sections.inspector import _rf_caption
    from resnet_viz.i18n import translator

    t = translator("en")
    tr = trace("resnet56", 32)
    assert "1 pixel apart" in _rf_caption(rf_box(tr, "layer1.0.conv1", 3, 3), 32, t)
    assert "2 pixels apart" in _rf_caption(rf_box(tr, "layer2.0.downsample", 3, 3), 32, t)


def test_zero_padded_channels_are_the_ones_with_no_gradient():
    from resnet_viz.imaging.explain import effective_rf, zero_padded_channel

    tr = trace("resnet20", 32)
    model = _all_paths_open("resnet20")
    x = torch.ones(1, 3, 32, 32)
    for channel in (0, 7, 8, 23, 24, 31):
        erf = effective_rf(model, x, "layer2.0.downsample", channel, 5, 5)
        assert (erf.max() == 0) == zero_padded_channel(tr, "layer2.0.downsample", channel), channel
