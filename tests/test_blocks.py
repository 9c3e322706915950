"""The one block walker: every kind of block taken apart, its branch and shortcut run in order reproducing the
block's own forward, and the stages read off the model's children matching the trace's."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz import trace
from resnet_viz.models import (
    PlainBasicBlock,
    PlainBottleneck,
    ZeroPadShortcut,
    build_model,
    named_blocks,
    named_stages,
    walk_block,
)


def _projection(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


def _v1(block: Bottleneck) -> Bottleneck:
    """The paper's v1: the stride on the first 1×1 conv (as build_model does for stride_in="1x1")."""
    block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return block


# (label, block factory, input channels, kind, plain, shortcut, steps of the branch, shortcut layers)
BASIC = ("conv1", "bn1", "relu1", "conv2", "bn2")
BOTTLE = ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3")
CASES = [
    ("basic identity", lambda: BasicBlock(16, 16), 16, "basic", False, "identity", BASIC, ()),
    ("basic projection", lambda: BasicBlock(16, 32, 2, _projection(16, 32, 2)), 16, "basic", False, "projection",
     BASIC, ("downsample.0", "downsample.1")),
    ("basic option A", lambda: BasicBlock(16, 32, 2, ZeroPadShortcut(16, 32, 2)), 16, "basic", False, "zero_pad",
     BASIC, ("downsample",)),
    ("bottleneck identity", lambda: Bottleneck(64, 16), 64, "bottleneck", False, "identity", BOTTLE, ()),
    ("bottleneck projection v1.5", lambda: Bottleneck(32, 16, 2, _projection(32, 64, 2)), 32, "bottleneck", False,
     "projection", BOTTLE, ("downsample.0", "downsample.1")),
    ("bottleneck projection v1", lambda: _v1(Bottleneck(32, 16, 2, _projection(32, 64, 2))), 32, "bottleneck",
     False, "projection", BOTTLE, ("downsample.0", "downsample.1")),
    ("plain basic", lambda: PlainBasicBlock(16, 32, 2, _projection(16, 32, 2)), 16, "basic", True, "none", BASIC,
     ()),
    ("plain bottleneck", lambda: PlainBottleneck(64, 16), 64, "bottleneck", True, "none", BOTTLE, ()),
]  # fmt: skip


def _trained_like(block: nn.Module) -> nn.Module:
    """BNs that are not the identity (a fresh BN is), so the order of the layers really matters."""
    g = torch.Generator().manual_seed(3)
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)
    return block.eval()


@pytest.mark.parametrize(("label", "make", "c_in", "kind", "plain", "shortcut", "steps", "sc_layers"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_every_block_kind_is_taken_apart(label, make, c_in, kind, plain, shortcut, steps, sc_layers):
    block = make()
    layout = walk_block(block)
    assert (layout.kind, layout.plain, layout.shortcut) == (kind, plain, shortcut)
    assert tuple(layer.step for layer in layout.branch) == steps
    assert tuple(layer.name for layer in layout.shortcut_layers) == sc_layers
    # every layer is the block's own module under its own name; the one ReLU is torchvision's shared module
    for layer in (*layout.branch, *layout.shortcut_layers):
        assert block.get_submodule(layer.name) is layer.module
    n = 2 if kind == "basic" else 3
    assert [layer.module for layer in layout.branch if layer.kind == "relu"] == [block.relu] * (n - 1)
    assert layout.relu is block.relu
    assert [(c.name, b.name) for c, b in layout.convs] == [(f"conv{i}", f"bn{i}") for i in range(1, n + 1)]
    assert layout.shortcut_module is (block.downsample if sc_layers else None)
    pairs = [(c.name, b.name) for c, b in layout.conv_bn_pairs]
    assert pairs[len(layout.convs) :] == (
        [("downsample.0", "downsample.1")] if shortcut == "projection" else []
    )


@pytest.mark.parametrize(("label", "make", "c_in", "kind", "plain", "shortcut", "steps", "sc_layers"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_branch_and_shortcut_in_order_are_the_blocks_own_forward(
    label, make, c_in, kind, plain, shortcut, steps, sc_layers
):
    """F(x), composed from the walked layers, is exactly what the block's own forward computes before the
    addition (read with a hook on its last BN, cloned before ``out += identity`` overwrites it), the shortcut
    is what it adds, and ReLU(F(x) + shortcut(x)) is the block's output."""
    block = _trained_like(make())
    layout = walk_block(block)
    x = torch.relu(torch.randn(2, c_in, 8, 8, generator=torch.Generator().manual_seed(1)))
    seen: dict[str, torch.Tensor] = {}
    last_bn = layout.convs[-1][1].module
    handles = [last_bn.register_forward_hook(lambda m, i, o: seen.__setitem__("main", o.detach().clone()))]
    if layout.shortcut_module is not None:
        handles.append(
            layout.shortcut_module.register_forward_hook(
                lambda m, i, o: seen.__setitem__("sc", o.detach().clone())
            )
        )
    try:
        with torch.inference_mode():
            out = block(x.clone())
    finally:
        for h in handles:
            h.remove()
    with torch.inference_mode():
        main = layout.run_branch(x)
        main_inplace = layout.run_branch(x, inplace=True)
        sc = layout.run_shortcut(x)
    assert torch.equal(main, seen["main"]) and torch.equal(main_inplace, main)
    if shortcut == "none":
        assert sc is None
        assert torch.equal(torch.relu(main), out)
    else:
        assert (sc is x) if shortcut == "identity" else torch.equal(sc, seen["sc"])
        assert torch.equal(torch.relu(main + sc), out)
    assert torch.equal(x, torch.relu(x))  # the input was not written by an in-place ReLU


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="not a block"):
        walk_block(nn.Conv2d(3, 3, 1))
    odd = BasicBlock(16, 32, 2, nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(16, 32, 1)))
    with pytest.raises(TypeError, match="not a shortcut"):
        walk_block(odd)


@pytest.mark.parametrize(("arch", "plain", "size"), [("resnet18", False, 64), ("resnet18", True, 64),
                                                     ("resnet20", False, 32), ("resnet20", True, 32)])  # fmt: skip
def test_stages_and_blocks_come_from_the_model_and_match_the_trace(arch, plain, size):
    model = build_model(arch, plain=plain)
    tr = trace(arch, size, plain=plain)
    assert [name for name, _ in named_stages(model)] == [s.name for s in tr.stages]
    blocks = named_blocks(model)
    assert [name for name, _ in blocks] == [b.name for b in tr.blocks]
    assert all(model.get_submodule(name) is block for name, block in blocks)
    # the walker names each block's shortcut as the trace does
    assert [walk_block(block).shortcut for _, block in blocks] == [b.shortcut for b in tr.blocks]
