"""Every rung of the ladder, built as an ``nn.Module``, against its arithmetic (issue 25, "Done means").

* Parameters: ``sum(p.numel())`` of the built module equals the records' total exactly.
* Multiply-adds: forward hooks on every ``nn.Conv2d`` and ``nn.Linear`` of the built module count
  ``output elements × (C_in / groups) × k × k`` and ``output elements × in_features`` at 224 (hooks removed in
  ``finally``); the total equals the arithmetic's (the issue asks for 0.1 %; they agree exactly).
* Names and shapes: every record names a module (or ConvNeXt's ``layer_scale`` parameter) of the built network,
  every computing module is recorded, and every conv, linear and norm module's output shape is its records'.
* The two ends are torchvision's own: the published ``num_params`` and ``_ops`` of its weights' metadata.

The networks are built on the meta device (no weights allocated, shapes only), so the whole file runs in seconds.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import torch
from torch import nn
from torchvision.models import ConvNeXt_Tiny_Weights, ResNet50_Weights

from resnet_viz.architecture.ladder import RUNGS, VARIANTS, rung_trace
from resnet_viz.models.ladder import build_rung

COMPUTING = (
    nn.Conv2d,
    nn.Linear,
    nn.BatchNorm2d,
    nn.LayerNorm,
    nn.ReLU,
    nn.GELU,
    nn.MaxPool2d,
    nn.AdaptiveAvgPool2d,
)
SHAPED = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm)


def _meta(key: str) -> nn.Module:
    with torch.device("meta"):
        return build_rung(key)


def hook_counts(model: nn.Module, size: int = 224) -> tuple[int, dict[str, list[tuple[int, ...]]]]:
    """Conv and linear multiply-adds of one forward pass, and every shaped module's output shapes (C, H, W)."""
    macs: list[int] = []
    shapes: dict[str, list[tuple[int, ...]]] = defaultdict(list)

    def hook(name: str):  # type: ignore[no-untyped-def]
        def record(m: nn.Module, _inputs: object, out: torch.Tensor) -> None:
            per_image = out.numel() // out.shape[0]
            if isinstance(m, nn.Conv2d):
                macs.append(per_image * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])
            elif isinstance(m, nn.Linear):
                macs.append(per_image * m.in_features)
            dims = tuple(out.shape[1:])
            if len(dims) == 3 and (isinstance(m, nn.Linear) or type(m) is nn.LayerNorm):
                dims = (dims[2], dims[0], dims[1])  # ConvNeXt's channels-last (H, W, C) as (C, H, W)
            shapes[name].append(dims)

        return record

    handles = []
    try:
        for name, m in model.named_modules():
            if isinstance(m, SHAPED):
                handles.append(m.register_forward_hook(hook(name)))
        with torch.no_grad():
            out = model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
        assert tuple(out.shape) == (1, 1000)
    finally:
        for h in handles:
            h.remove()
    return sum(macs), shapes


ALL = [r.key for r in (*RUNGS, *VARIANTS)]


@pytest.mark.parametrize("key", ALL)
def test_built_rung_equals_its_arithmetic(key: str) -> None:
    model = _meta(key)
    tr = rung_trace(key, 224)
    assert sum(p.numel() for p in model.parameters()) == tr.total_params
    macs, shapes = hook_counts(model)
    assert abs(macs - tr.total_macs) <= 1e-3 * tr.total_macs
    assert macs == tr.total_macs  # in fact exactly
    assert not any(m._forward_hooks for m in model.modules())  # the hooks are gone

    modules, params = dict(model.named_modules()), dict(model.named_parameters())
    assert [r.name for r in tr.records if r.name not in modules and r.name not in params] == []
    recorded = set(tr.module_names())
    assert [n for n, m in modules.items() if isinstance(m, COMPUTING) and n not in recorded] == []
    expected: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for r in tr.records:
        if r.kind in ("conv", "linear", "bn", "ln"):
            expected[r.name].append(r.output_shape)
    assert dict(shapes) == dict(expected)


def test_the_ends_are_torchvisions_published_counts() -> None:
    for key, weights in (
        ("resnet50", ResNet50_Weights.IMAGENET1K_V1),
        ("convnext_tiny", ConvNeXt_Tiny_Weights.DEFAULT),
    ):
        tr = rung_trace(key)
        assert tr.total_params == weights.meta["num_params"]
        assert round(tr.total_macs / 1e9, 3) == weights.meta["_ops"]
        model = _meta(key)
        assert type(model).__name__ == ("ResNet" if key == "resnet50" else "ConvNeXt")


def test_state_dicts_of_the_ends_load_torchvisions_layout() -> None:
    """The first and last rungs are torchvision's constructors: their state_dict keys are torchvision's."""
    from torchvision import models as tvm

    for key, ctor in (("resnet50", tvm.resnet50), ("convnext_tiny", tvm.convnext_tiny)):
        with torch.device("meta"):
            assert list(_meta(key).state_dict()) == list(ctor().state_dict())


@pytest.mark.parametrize("key", ["patchify", "inverting", "fewer_acts", "bn_ln"])
def test_rungs_run_on_real_tensors(key: str) -> None:
    """A real forward on the CPU (meta has no values): finite logits, batch statistics untouched in eval."""
    model = build_rung(key)
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1000) and torch.isfinite(out).all()
    assert not model.training
