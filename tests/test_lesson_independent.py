"""Every lesson answer, checked against an independent computation: real models measured with forward hooks, not
the trace the lesson reads.

The ImageNet networks are torchvision's own constructors (resnet18 … resnet152); the CIFAR network and the notes'
32×32 listing, which torchvision lacks, are the app's nn.Modules (resnet_viz.models.build), which share no code
with the trace. Models are built on the meta device (shapes and parameter counts without weights or arithmetic);
zero-init is checked on real CPU weights of the small networks. Shapes come from hooks on the modules, parameter
counts from ``numel``, multiply-adds from each conv's ``weight.numel() × H_out × W_out`` measured on the running
model; v1 is made from torchvision's v1.5 Bottleneck by moving the stride from the 3×3 conv to the first 1×1.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from torch import nn

from resnet_viz.formatting import fmt_int
from resnet_viz.lesson import STEPS, Answer, Step, answer, check, slipped
from resnet_viz.models.build import build_model

BY_KEY = {s.key: s for s in STEPS}
#: Networks and input sizes measured: torchvision's ImageNet ResNets at their size, a smaller one, an odd one
#: (where halving rounds) and a small one; the app's CIFAR ResNet-20 and the notes' listing at 32 and 48.
CASES = [
    *((arch, size) for arch in ("resnet18", "resnet34", "resnet50") for size in (224, 160, 97, 64)),
    ("resnet101", 224),
    ("resnet152", 129),
    *((arch, size) for arch in ("resnet20", "resnet34_cifar") for size in (32, 48)),
]


def _model(arch: str, *, stride_in: str = "3x3", zero_init: bool = False, meta: bool = True) -> nn.Module:
    """torchvision's constructor where torchvision has the network, else the app's module; never any weights."""
    with torch.device("meta") if meta else contextlib.nullcontext():
        if hasattr(tvm, arch):
            model = getattr(tvm, arch)(weights=None, zero_init_residual=zero_init)
        else:
            model = build_model(arch, zero_init_residual=zero_init)
    if stride_in == "1x1":  # the paper's v1: the stride on the first 1×1 conv of a down-sampling Bottleneck
        for block in model.modules():
            if isinstance(block, tvm.resnet.Bottleneck) and block.conv2.stride != (1, 1):
                block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return model.eval()


@dataclass(frozen=True)
class Measured:
    inputs: dict[str, tuple[int, ...]]  # module name → its input's shape (C, H, W)
    outputs: dict[str, tuple[int, ...]]  # module name → its output's shape (C, H, W)
    macs: dict[str, int]  # conv name → weight.numel() × H_out × W_out
    model: nn.Module

    def hwc(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        c, h, w = shape
        return (h, w, c)


@contextlib.contextmanager
def _hooks(model: nn.Module, measured: Measured) -> Iterator[None]:
    """A forward hook on every module that writes into ``measured``; all removed in ``finally``."""

    def record(name: str, module: nn.Module):
        def hook(_mod: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
                measured.inputs[name] = tuple(args[0].shape[1:])
            if isinstance(out, torch.Tensor) and out.dim() == 4:
                measured.outputs[name] = tuple(out.shape[1:])
                if isinstance(module, nn.Conv2d):
                    measured.macs[name] = module.weight.numel() * out.shape[2] * out.shape[3]

        return hook

    handles = [m.register_forward_hook(record(n, m)) for n, m in model.named_modules() if n]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@functools.cache
def measure(arch: str, size: int, *, stride_in: str = "3x3") -> Measured:
    """One forward pass of a fresh model (cached: the tests only read what it measured)."""
    model = _model(arch, stride_in=stride_in)
    measured = Measured({}, {}, {}, model)
    with _hooks(model, measured), torch.no_grad():
        model(torch.empty(1, 3, size, size, device="meta"))
    return measured


def _counted_layers(model: nn.Module) -> list[nn.Module]:
    """The layers a ResNet's name counts: convs off the shortcuts, and the fc."""
    return [
        m
        for n, m in model.named_modules()
        if (isinstance(m, nn.Conv2d) and "downsample" not in n) or isinstance(m, nn.Linear)
    ]


def _last_bn(block: nn.Module) -> str:
    return "bn3" if isinstance(block, tvm.resnet.Bottleneck) else "bn2"


# --------------------------------------------------------------------------------------------- the answers


def independent(step: Step, arch: str, size: int, right: Answer) -> object:
    """The answer to ``step`` measured on a real model of the network the lesson's answer is about."""
    m = measure(right.arch, right.size)
    key, block = step.key, step.block
    if key == "input":
        return m.hwc(m.inputs["conv1"])
    if key == "stem":
        return m.outputs["maxpool"][1]
    if key == "layers":
        return len(_counted_layers(m.model))
    if key in ("solid", "dashed"):
        same = m.inputs[block] == m.outputs[block]
        assert same == (m.model.get_submodule(block).downsample is None)
        return "solid" if same else "dashed"
    if key == "conv3_1":
        return m.hwc(m.outputs[block])
    if key in ("basic_cost", "bottleneck_cost"):  # the block the step opens is one of the notes' comparison
        mod = m.model.get_submodule(block)
        kind = tvm.resnet.BasicBlock if key == "basic_cost" else tvm.resnet.Bottleneck
        assert isinstance(mod, kind) and mod.downsample is None
        assert m.inputs[block][0] == m.outputs[block][0] == right.working["c"]
        assert mod.conv1.out_channels == right.working["width"]
        return sum(c.weight.numel() for c in mod.modules() if isinstance(c, nn.Conv2d))
    if key == "three_kinds":
        (cin, hin, _), (cout, hout, _) = m.inputs[block], m.outputs[block]
        kinds = {(True, True): "both", (True, False): "channels", (False, True): "size"}
        return kinds.get((cin != cout, hin != hout), "none")
    if key == "v15":
        v1 = measure(right.arch, right.size, stride_in="1x1")
        extra = sum(m.macs.values()) - sum(v1.macs.values())
        return round(extra / 1e9, 2)
    if key == "feature_maps":
        return m.outputs["layer2"][0]
    if key == "addition":
        f_of_x = m.outputs[f"{block}.{_last_bn(m.model.get_submodule(block))}"]
        shortcut = m.outputs.get(f"{block}.downsample", m.inputs[block])
        assert f_of_x == shortcut, "the two terms of the addition differ"
        return m.hwc(f_of_x)
    if key == "degradation":
        deep, shallow = _model("resnet34"), _model("resnet18")
        return len(_counted_layers(deep)) - len(_counted_layers(shallow))
    if key == "shattered":
        lags = _path_lag1_by_corrcoef(right.working["depth"])
        return min(lags, key=lambda kind: abs(float(np.mean(lags[kind]))))
    if (
        key == "patchify"
    ):  # torchvision's resnet50 stem against Liu et al. 2022 §2.2's 4×4, stride 4 conv, hooked
        stem_out = m.outputs["conv1"][0]
        pool = dict(m.model.named_modules())["maxpool"]
        assert isinstance(pool, nn.MaxPool2d) and not list(pool.parameters())  # weightless: no multiply-adds
        patchify = nn.Conv2d(3, stem_out, kernel_size=4, stride=4, bias=False, device="meta")
        patch = Measured({}, {}, {}, patchify)
        with _hooks(nn.Sequential(patchify), patch), torch.no_grad():
            patchify(torch.empty(1, 3, right.size, right.size, device="meta"))
        assert patch.outputs["0"] == m.outputs["maxpool"]  # the first stage sees the same grid either way
        return m.macs["conv1"] - patch.macs["0"]
    if key == "zero_init":
        model = _model(right.arch, zero_init=True, meta=False)
        return sum(
            1 for mod in model.modules() if isinstance(mod, nn.BatchNorm2d) and not mod.weight.detach().any()
        )
    raise KeyError(key)


@functools.cache
def _path_lag1_by_corrcoef(depth: int) -> dict[str, list[float]]:
    """The shattered step's statistic with another estimator: numpy's Pearson correlation of neighbouring values
    of each seed's d(logit)/dα (not the app's autocorrelation, nor its predicates). The gradients themselves are
    the lesson's (checked against finite differences in tests/test_shattered.py), so they are computed once."""
    from resnet_viz.experiments import shattered as sh

    runs = sh.init_path_runs(depth)
    out = {}
    for kind, net in (("plain", f"plain{depth}"), ("residual", f"resnet{depth}")):
        grads = [np.asarray(r.grad) for r in runs[net]]
        out[kind] = [float(np.corrcoef(g[:-1], g[1:])[0, 1]) for g in grads]
    return out


@pytest.mark.parametrize(("arch", "size"), CASES, ids=[f"{a}-{s}" for a, s in CASES])
def test_every_answer_matches_a_measured_model(arch: str, size: int) -> None:
    for step in STEPS:
        if step.key == "shattered":
            continue  # the same answer for every network, from a shipped measurement: measured live below (slow)
        right = answer(step, arch, size)
        if step.key == "zero_init" and right.arch in ("resnet101", "resnet152"):
            continue  # real weights of the big networks cost seconds; the rule is the same per block
        measured = independent(step, arch, size, right)
        assert measured == right.value, (step.key, arch, size, measured, right.value)


@pytest.mark.slow  # ten 56-layer nets along a 256-image path: ~5–20 s of CPU
def test_the_shattered_answer_matches_a_live_measurement() -> None:
    """The shattered step answers the same for every network (from ``assets/curves/shattered_init.json``): the
    answer against the gradients measured now, read with another estimator."""
    step = BY_KEY["shattered"]
    right = answer(step, "resnet34", 224)
    assert independent(step, "resnet34", 224, right) == right.value


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "resnet20", "resnet34_cifar"])
def test_zero_init_counts_the_zeroed_bns_of_real_weights(arch: str) -> None:
    right = answer(BY_KEY["zero_init"], arch, 64)
    assert independent(BY_KEY["zero_init"], arch, 64, right) == right.value == right.working["n"]


@pytest.mark.parametrize(("arch", "size"), [("resnet50", 224), ("resnet101", 97), ("resnet152", 160)])
def test_v15_working_names_exactly_the_layers_that_differ(arch: str, size: int) -> None:
    """The working says the extra multiply-adds are all in the first 1×1 conv of the down-sampling blocks, and
    that the 3×3's output is the same size in v1 and v1.5: measured on both variants."""
    right = answer(BY_KEY["v15"], arch, size)
    v1, v15 = measure(arch, size, stride_in="1x1"), measure(arch, size)
    changed = sorted(n for n in v15.macs if v15.macs[n] != v1.macs[n])
    assert changed and all(n.endswith(".conv1") for n in changed)
    blocks = [n.rsplit(".", 1)[0] for n in changed]
    assert all(v15.inputs[b] != v15.outputs[b] for b in blocks)  # down-sampling blocks
    assert all(v1.outputs[f"{b}.conv2"] == v15.outputs[f"{b}.conv2"] for b in blocks)
    assert right.working["changed"] == tuple((n, fmt_int(v1.macs[n]), fmt_int(v15.macs[n])) for n in changed)
    assert right.working["diff_exact"] == fmt_int(sum(v15.macs.values()) - sum(v1.macs.values()))


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "resnet20", "resnet34_cifar"])
def test_the_addition_rejects_x_and_accepts_shortcut_x(arch: str) -> None:
    step = BY_KEY["addition"]
    size = 32 if arch in ("resnet20", "resnet34_cifar") else 224
    right = answer(step, arch, size)
    m = measure(arch, size)
    x = m.hwc(m.inputs[step.block])
    shortcut_x = m.hwc(m.outputs[f"{step.block}.downsample"])
    assert x != shortcut_x  # a dashed block: x is not a term of the sum
    assert check(step, ", ".join(map(str, shortcut_x)), right) is True
    assert check(step, ", ".join(map(str, x)), right) is False
    assert slipped(step, ", ".join(map(str, x)), right)


def test_the_patchify_saving_is_conv1_minus_the_patch_conv_worked_out_by_hand() -> None:
    """The lesson's answer against the arithmetic of the two convs (C_out × C_in × k² × H_out × W_out), and the
    working quotes the same three numbers."""
    right = answer(
        BY_KEY["patchify"], "resnet34", 160
    )  # a fixed question: the sidebar's network does not matter
    conv1, patch = 64 * 3 * 7 * 7 * 112 * 112, 64 * 3 * 4 * 4 * 56 * 56
    assert right.value == conv1 - patch and right.size == 224 and right.scope == "fixed"
    assert (right.working["conv_macs"], right.working["patch_macs"]) == (fmt_int(conv1), fmt_int(patch))
    assert check(BY_KEY["patchify"], fmt_int(conv1 - patch), right) and not check(
        BY_KEY["patchify"], "0", right
    )


def test_the_degradation_difference_is_all_3x3_convs() -> None:
    deep, shallow = _model("resnet34"), _model("resnet18")
    three = [
        sum(1 for m in _counted_layers(net) if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
        for net in (deep, shallow)
    ]
    assert three[0] - three[1] == answer(BY_KEY["degradation"], "resnet50", 224).value


def test_the_hooks_are_removed_and_can_fail() -> None:
    """The measurement leaves no hook behind, and it does see a wrong answer as wrong."""
    model = _model("resnet18")
    measured = Measured({}, {}, {}, model)
    with _hooks(model, measured), torch.no_grad():
        model(torch.empty(1, 3, 64, 64, device="meta"))
    assert not any(m._forward_hooks for m in model.modules())
    assert measured.outputs["layer2"][0] == 128 != 256
