"""The trace against real forward passes, torchinfo, autograd and the paper's figures.

* Every shape of every row is compared with what the built model produces (forward hooks on a meta-device
  model: no weights allocated), for every network, plain and v1 included, at several input sizes.
* Multiply-adds equal ``torchinfo.summary(...).total_mult_adds`` and the paper's Table 1 (v1).
* Receptive fields are measured independently by backpropagating from one output pixel.
"""

from __future__ import annotations

import json

import pytest
import torch
import torchinfo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz import ARCHS, CIFAR_ARCHS, IMAGENET_ARCHS, build_model, get_spec, trace
from resnet_viz.architecture.counting import projections
from resnet_viz.architecture.trace import MAX_INPUT_SIZE, _trace, smallest_input
from resnet_viz.models import ZeroPadShortcut

BOTTLENECK_ARCHS = ("resnet50", "resnet101", "resnet152")
ALL_CONFIGS = [(a, p, "3x3") for a in ARCHS for p in (False, True)] + [
    (a, p, "1x1") for a in BOTTLENECK_ARCHS for p in (False, True)
]
SIZES = [224, 193, 64, 32]

# Multiply-adds at 3×224×224 in G (10⁹), convs and fc as torchinfo counts them. v1.5: torchvision's models;
# v1: the paper's Table 1 (3.8 / 7.6 / 11.3 ×10⁹ FLOPs, i.e. multiply-adds).
REFERENCE_GMACS_V15 = {
    "resnet18": 1.814,
    "resnet34": 3.664,
    "resnet50": 4.089,
    "resnet101": 7.802,
    "resnet152": 11.514,
}
REFERENCE_GMACS_V1 = {"resnet50": 3.858, "resnet101": 7.570, "resnet152": 11.283}


def meta_model(arch: str, **kw: object) -> nn.Module:
    with torch.device("meta"):
        return build_model(arch, **kw)


# ------------------------------------------------------------------------------------------- the numbers


@pytest.mark.parametrize("arch", IMAGENET_ARCHS)
def test_macs_v15_at_224(arch: str) -> None:
    assert round(trace(arch, 224).total_macs / 1e9, 3) == REFERENCE_GMACS_V15[arch]


@pytest.mark.parametrize("arch", BOTTLENECK_ARCHS)
def test_macs_v1_at_224_are_the_papers(arch: str) -> None:
    assert round(trace(arch, 224, stride_in="1x1").total_macs / 1e9, 3) == REFERENCE_GMACS_V1[arch]


@pytest.mark.parametrize(
    ("arch", "plain", "stride_in"),
    [
        ("resnet18", False, "3x3"),
        ("resnet50", False, "3x3"),
        ("resnet50", False, "1x1"),
        ("resnet20", False, "3x3"),
        ("resnet34_cifar", False, "3x3"),
        ("resnet34", True, "3x3"),
        ("resnet101", True, "1x1"),
    ],
)
@pytest.mark.parametrize("size", [224, 97])
def test_totals_equal_torchinfo(arch: str, plain: bool, stride_in: str, size: int) -> None:
    model = meta_model(arch, plain=plain, stride_in=stride_in)
    stats = torchinfo.summary(model, input_size=(1, 3, size, size), verbose=0, device="meta")
    t = trace(arch, size, plain=plain, stride_in=stride_in)
    assert t.total_macs == stats.total_mult_adds
    assert t.total_params == stats.total_params


def test_resnet50_v1_is_cheaper_than_v15_by_the_strided_convs() -> None:
    """v1 strides the 1×1 (cheap) instead of the 3×3, so its 3×3 convs run on 4× fewer pixels."""
    v1, v15 = trace("resnet50", stride_in="1x1"), trace("resnet50")
    assert v1.total_params == v15.total_params
    assert v1.total_macs < v15.total_macs
    assert v1.row("layer2.0.conv2").output_shape == v15.row("layer2.0.conv2").output_shape == (128, 28, 28)
    assert v1.row("layer2.0.conv1").output_shape == (128, 28, 28)
    assert v15.row("layer2.0.conv1").output_shape == (128, 56, 56)


@pytest.mark.parametrize("arch", IMAGENET_ARCHS)
def test_stage_shapes_at_224(arch: str) -> None:
    t = trace(arch, (3, 224, 224))
    e = get_spec(arch).expansion
    assert t.row("conv1").output_shape == (64, 112, 112)
    assert t.row("maxpool").output_shape == (64, 56, 56)
    assert t.row("layer1").output_shape == (64 * e, 56, 56)
    assert t.row("layer2").output_shape == (128 * e, 28, 28)
    assert t.row("layer3").output_shape == (256 * e, 14, 14)
    assert t.row("layer4").output_shape == (512 * e, 7, 7)
    assert t.row("avgpool").output_shape == (512 * e, 1, 1)
    assert t.row("fc").output_shape == (1000,)
    assert t.row("softmax").output_shape == (1000,)
    assert [s.output_shape[1] for s in t.stages] == [56, 28, 14, 7]
    assert [s.reduction for s in t.stages] == [4, 8, 16, 32]
    assert [(r.paper_name, r.name) for r in t.rows if r.kind == "stage"] == [
        ("conv2_x", "layer1"),
        ("conv3_x", "layer2"),
        ("conv4_x", "layer3"),
        ("conv5_x", "layer4"),
    ]
    assert t.row("layer3.1").paper_name == "conv4_2"


# ------------------------------------------------------------------------- every shape vs. a real forward


def _record(model: nn.Module, h: int, w: int) -> tuple[dict[str, list[tuple]], list[str], tuple]:
    """Run a batch of 2 through ``model`` (on meta); per module name the (input, output) shapes of every call."""
    calls: dict[str, list[tuple]] = {}
    order: list[str] = []
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def pre(_m: nn.Module, args: tuple, name: str = name) -> None:
            if name not in calls:
                order.append(name)
                calls[name] = []

        def post(_m: nn.Module, args: tuple, out: torch.Tensor, name: str = name) -> None:
            assert args[0].shape[0] == 2 and out.shape[0] == 2
            calls[name].append((tuple(args[0].shape[1:]), tuple(out.shape[1:])))

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        with torch.no_grad():
            out = model(torch.empty(2, 3, h, w, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return calls, order, tuple(out.shape)


_STRUCTURAL = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.MaxPool2d, nn.AdaptiveAvgPool2d, ZeroPadShortcut,
               nn.Sequential, BasicBlock, Bottleneck)  # fmt: skip


@pytest.mark.parametrize(
    ("arch", "plain", "stride_in", "sizes"),
    [
        # resnet152: a second and more per configuration (building it is most of that), the others a fraction
        pytest.param(*config, SIZES, marks=[pytest.mark.slow] if config[0] == "resnet152" else [])
        for config in ALL_CONFIGS
    ]
    + [
        ("resnet18", False, "3x3", [(97, 64)]),
        ("resnet50", True, "1x1", [(160, 33)]),
        ("resnet32", False, "3x3", [(40, 7)]),
    ],
)
def test_every_row_shape_equals_a_real_forward(arch: str, plain: bool, stride_in: str, sizes: list) -> None:
    model = meta_model(arch, plain=plain, stride_in=stride_in)
    modules = dict(model.named_modules())
    for size in sizes:
        h, w = (size, size) if isinstance(size, int) else size
        if min(h, w) < smallest_input(arch):
            continue
        t = trace(arch, (3, h, w), plain=plain, stride_in=stride_in)
        calls, order, out_shape = _record(model, h, w)
        where = f"{arch} plain={plain} {stride_in} {h}×{w}"
        assert out_shape == (2, t.num_classes), where
        for row in t.rows:
            got = (row.input_shape, row.output_shape)
            if row.name in modules:
                assert calls.get(row.name), f"{where}: {row.name} never ran"
                assert all(c == got for c in calls[row.name]), (
                    f"{where}: {row.name} {got} vs {calls[row.name]}"
                )
            elif row.kind == "add":  # the addition (and its ReLU) is where the block's output comes from
                block_out = calls[row.parent][0][1]
                assert row.output_shape == row.input_shape == block_out, f"{where}: {row.name}"
            elif row.kind == "shortcut":  # an identity shortcut is no module: input passes unchanged
                assert row.shortcut == "identity" and not plain
                assert row.output_shape == row.input_shape == calls[row.parent][0][0], f"{where}: {row.name}"
            elif row.kind == "flatten":
                assert row.input_shape == calls["avgpool"][0][1] and row.output_shape == calls["fc"][0][0]
            elif row.kind == "softmax":
                assert row.input_shape == row.output_shape == calls["fc"][0][1]
            else:
                pytest.fail(f"{where}: row {row.name} ({row.kind}) matches no module")
        # Every structural module has its row, and rows follow the order in which the modules run.
        row_names = [r.name for r in t.rows]
        missing = [n for n, m in modules.items() if n and isinstance(m, _STRUCTURAL) and n not in row_names]
        assert not missing, f"{where}: modules without a row: {missing[:5]}"
        assert [n for n in row_names if n in modules] == [n for n in order if n in row_names], where


def test_shapes_of_a_few_known_steps_at_other_sizes() -> None:
    """Spot checks by hand: ⌊(n + 2p − k)/s⌋ + 1 at each strided step, with odd sizes rounding down."""
    t = trace("resnet18", 193)
    assert [t.row(n).output_shape[1] for n in ("conv1", "maxpool", "layer2", "layer3", "layer4")] == [
        97,
        49,
        25,
        13,
        7,
    ]
    t = trace("resnet20", 32)
    assert [s.output_shape for s in t.stages] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    t = trace("resnet34_cifar", 32)
    assert [s.output_shape for s in t.stages] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]


# -------------------------------------------------------------------------------------- receptive field


class _Stop(Exception):
    pass


def _measured_receptive_field(arch: str, target: str, size: int) -> int:
    """Backpropagate from the centre pixel of ``target``'s output and measure the non-zero input gradient.

    Conv weights are set positive (1/fan-in, which keeps the float64 activations bounded) and BatchNorm to the
    identity, with a positive input, so every activation is positive: no ReLU blocks a path and no gradients
    cancel, and the extent of the non-zero gradient is the theoretical receptive field exactly. A max pool
    routes its gradient to one pixel of its window, whereas the theoretical field counts the whole window, so it
    is measured as an average pool with the same window.
    """
    model = build_model(arch).double().eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0 / m.weight[0].numel())
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
    if isinstance(getattr(model, "maxpool", None), nn.MaxPool2d):
        mp = model.maxpool
        model.maxpool = nn.AvgPool2d(mp.kernel_size, mp.stride, mp.padding)
    captured = {}

    def grab(_m: nn.Module, _args: tuple, out: torch.Tensor) -> None:
        captured["out"] = out
        raise _Stop

    handle = model.get_submodule(target).register_forward_hook(grab)
    x = (torch.rand(1, 3, size, size, dtype=torch.float64) + 0.5).requires_grad_(True)
    try:
        model(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    out = captured["out"]
    assert (out > 0).all()
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    touched = x.grad[0].abs().sum(0) > 0
    rows = touched.any(1).nonzero().flatten()
    cols = touched.any(0).nonzero().flatten()
    # The field must lie inside the image, or the measurement would be clipped by the border.
    assert rows.min() > 0 and rows.max() < size - 1 and cols.min() > 0 and cols.max() < size - 1
    extent_h, extent_w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    assert extent_h == extent_w
    return extent_h


@pytest.mark.parametrize(
    ("arch", "target", "size"),
    [
        ("resnet20", "conv1", 16),
        ("resnet20", "layer1.0", 24),
        ("resnet20", "layer1", 32),
        ("resnet20", "layer2.0", 48),
        ("resnet20", "layer2", 64),
        ("resnet20", "layer3", 112),
        ("resnet18", "maxpool", 32),
        ("resnet18", "layer1", 64),
        ("resnet18", "layer2.0", 96),
        ("resnet18", "layer2", 128),
    ],
)
def test_receptive_field_by_autograd(arch: str, target: str, size: int) -> None:
    torch.manual_seed(0)
    assert _measured_receptive_field(arch, target, size) == trace(arch, size).row(target).receptive_field


def test_receptive_field_known_values() -> None:
    """By hand: a 7×7/2 conv sees 7 pixels; the 3×3/2 max pool then adds 2 steps of 2."""
    t = trace("resnet18")
    assert t.row("conv1").receptive_field == 7
    assert t.row("maxpool").receptive_field == 11
    assert trace("resnet20", 32).row("conv1").receptive_field == 3


# -------------------------------------------------------------------------------------------- shortcuts


@pytest.mark.parametrize("arch", ["resnet18", "resnet34"])
def test_basicblock_shortcuts(arch: str) -> None:
    t = trace(arch)
    projections = {"layer2.0", "layer3.0", "layer4.0"}
    for b in t.blocks:
        if b.name in projections:
            assert (b.shortcut, b.shortcut_reason, b.stride) == ("projection", "stride and channels", 2), (
                b.name
            )
            ds = t.row(f"{b.name}.downsample")
            assert ds.params > 0 and ds.output_shape == b.output_shape
        else:
            assert (b.shortcut, b.shortcut_reason) == ("identity", None), b.name
    assert {b.name for b in t.blocks if b.shortcut == "projection"} == projections


@pytest.mark.parametrize("arch", BOTTLENECK_ARCHS)
@pytest.mark.parametrize("stride_in", ["3x3", "1x1"])
def test_bottleneck_shortcuts(arch: str, stride_in: str) -> None:
    t = trace(arch, stride_in=stride_in)
    first = t.row("layer1.0")
    assert (first.shortcut, first.shortcut_reason, first.stride) == ("projection", "channels", 1)
    assert (first.input_shape[0], first.output_shape[0]) == (64, 256)
    assert t.row("layer1.0.downsample.0").stride == 1
    for name in ("layer2.0", "layer3.0", "layer4.0"):
        assert (t.row(name).shortcut, t.row(name).shortcut_reason) == ("projection", "stride and channels")
    others = [b for b in t.blocks if b.name not in {"layer1.0", "layer2.0", "layer3.0", "layer4.0"}]
    assert others and all(b.shortcut == "identity" for b in others)


@pytest.mark.parametrize(("arch", "plain", "stride_in"), ALL_CONFIGS)
def test_shortcut_kinds_agree_with_the_built_model(arch: str, plain: bool, stride_in: str) -> None:
    model = meta_model(arch, plain=plain, stride_in=stride_in)
    t = trace(arch, 64, plain=plain, stride_in=stride_in)
    for b in t.blocks:
        ds = model.get_submodule(b.name).downsample
        expected = (
            "none" if plain
            else "identity" if ds is None
            else "zero_pad" if isinstance(ds, ZeroPadShortcut)
            else "projection"
        )  # fmt: skip
        assert b.shortcut == expected, b.name
    if plain:
        assert all(b.shortcut == "none" and b.shortcut_reason in (None, "stride", "channels",
                   "stride and channels") for b in t.blocks)  # fmt: skip
        assert not [r for r in t.rows if r.kind == "shortcut"]
        assert all("plain" in r.detail for r in t.rows if r.kind == "add")


@pytest.mark.parametrize("arch", CIFAR_ARCHS)
def test_cifar_zero_pad_shortcuts(arch: str) -> None:
    t = trace(arch, 32)
    zero_pad = {b.name: b for b in t.blocks if b.shortcut == "zero_pad"}
    assert set(zero_pad) == {"layer2.0", "layer3.0"}
    for name, b in zero_pad.items():
        assert b.shortcut_reason == "stride and channels"
        assert t.row(f"{name}.downsample").params == 0
        assert b.params == sum(r.params for r in t.children(name))
    assert all(b.shortcut == "identity" for b in t.blocks if b.name not in zero_pad)


def test_resnet50_shortcut_params_are_the_convs_and_their_bns() -> None:
    t = trace("resnet50", 224)
    # the four 1×1 projections, 64·256 + 256·512 + 512·1024 + 1024·2048 = 2,768,896,
    # and their BNs, 2·(256 + 512 + 1024 + 2048) = 7,680: one total, the one every page quotes
    assert t.shortcut_params == 16_384 + 131_072 + 524_288 + 2_097_152 + 7_680 == 2_776_576
    assert not hasattr(t, "shortcut_conv_params")  # no second, convs-only total (issue 21, Wrong 6)
    assert [(b.name, b.shortcut_params) for b in t.blocks if b.dashed] == [
        ("layer1.0", 16_896), ("layer2.0", 132_096), ("layer3.0", 526_336), ("layer4.0", 2_101_248)
    ]  # fmt: skip
    model = meta_model("resnet50")
    assert t.shortcut_params == sum(p.numel() for n, p in model.named_parameters() if ".downsample." in n)
    # the Parameters page's list of projections (conv + BN each) adds up to the same number
    real = projections(t)
    assert sum(p.conv_params for p in real) == 2_768_896
    assert sum(p.conv_params + p.bn_params for p in real) == t.shortcut_params


@pytest.mark.parametrize(("arch", "stride_in"), [("resnet18", "3x3"), ("resnet34", "3x3"), ("resnet50", "1x1"),
                                                 ("resnet20", "3x3"), ("resnet110", "3x3")])  # fmt: skip
def test_dashed_and_shortcut_params_are_facts_of_the_trace(arch: str, stride_in: str) -> None:
    size = 32 if get_spec(arch).family == "cifar" else 224
    res, plain = trace(arch, size, stride_in=stride_in), trace(arch, size, plain=True, stride_in=stride_in)
    # all a residual network has more than its plain counterpart is its shortcuts' own parameters
    assert res.total_params - plain.total_params == res.shortcut_params
    assert plain.shortcut_params == 0
    for b in res.blocks:
        assert b.dashed == (b.shortcut != "identity")
        # a projection's conv and BN; option A's subsample-and-pad has none
        assert b.shortcut_params == (res.row(f"{b.name}.downsample").params if b.dashed else 0)
    assert not any(b.dashed for b in plain.blocks)
    assert all(r.shortcut_params == 0 for r in res.rows if r.kind != "block")
    # the dashed line itself (a shortcut row) is dashed as its block is; no other step is
    assert all(r.dashed == res.row(r.parent).dashed for r in res.rows if r.kind == "shortcut")
    assert not any(r.dashed for r in res.rows if r.kind not in ("block", "shortcut"))
    assert res.to_dict()["rows"][res.rows.index(res.blocks[0])]["dashed"] == res.blocks[0].dashed


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        (("resnet19",), {}, r"unknown architecture 'resnet19'; choose one of: resnet18"),
        (("resnet50",), {"stride_in": "2x2"}, r"stride_in must be '3x3'"),
        (("resnet18", 4 * 0 + 4097), {}, rf"larger than the {MAX_INPUT_SIZE}×{MAX_INPUT_SIZE}"),
        (("resnet18", (4, 224, 224)), {}, r"3-channel \(RGB\) images, not 4 channels"),
        (("resnet18", True), {}, r"must be an integer or a \(C, H, W\) tuple"),
        (("resnet18", "224"), {}, r"must be an integer or a \(C, H, W\) tuple"),
        (("resnet18", (3, 224.0, 224)), {}, r"must be made of integers"),
        (("resnet18", (1, 2, 3, 4)), {}, r"must be an integer or a \(C, H, W\) tuple"),
    ],
)
def test_trace_errors(args: tuple, kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        trace(*args, **kwargs)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", [0, -3, (3, 0, 224), (3, 224, -1)])
def test_too_small_names_the_smallest_size_that_works(arch: str, size: object) -> None:
    smallest = smallest_input(arch)
    with pytest.raises(ValueError, match=rf"smallest size that works is {smallest}×{smallest}") as info:
        trace(arch, size)
    assert "\n" not in str(info.value) and arch in str(info.value)


@pytest.mark.parametrize("arch", ARCHS)
def test_smallest_size_really_is_the_smallest(arch: str) -> None:
    """The size the message names runs through the real model; one pixel less does not."""
    smallest = smallest_input(arch)
    model = meta_model(arch)
    with torch.no_grad():
        assert model(torch.empty(1, 3, smallest, smallest, device="meta")).shape == (
            1,
            get_spec(arch).num_classes,
        )
        with pytest.raises(RuntimeError):
            model(torch.empty(1, 3, smallest - 1, smallest - 1, device="meta"))
    trace(arch, smallest)  # accepted


def test_input_size_forms_are_equivalent() -> None:
    assert trace("resnet18", 64) is trace("resnet18", (64, 64)) is trace("resnet18", (3, 64, 64))
    assert trace("resnet18", [3, 64, 64]).input_size == (3, 64, 64)
    assert trace("resnet18", MAX_INPUT_SIZE).row("layer4").output_shape == (512, 128, 128)


# -------------------------------------------------------------------------------------------- to_dict


@pytest.mark.parametrize(("arch", "plain", "stride_in"), [("resnet50", False, "1x1"), ("resnet20", False, "3x3"),
                                                          ("resnet18", True, "3x3")])  # fmt: skip
def test_to_dict_is_json_with_the_documented_keys(arch: str, plain: bool, stride_in: str) -> None:
    t = trace(arch, 64, plain=plain, stride_in=stride_in)
    d = t.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {
        "arch",
        "input_size",
        "total_params",
        "total_macs",
        "layer_count",
        "layer_count_formula",
        "rows",
    } <= set(d)
    assert (d["arch"], d["input_size"], d["total_params"], d["total_macs"]) == (
        arch,
        [3, 64, 64],
        t.total_params,
        t.total_macs,
    )
    assert len(d["rows"]) == len(t.rows)
    for row, r in zip(d["rows"], t.rows):
        assert {"name", "kind", "input_shape", "output_shape", "params", "macs", "receptive_field"} <= set(
            row
        )
        assert (row["name"], row["output_shape"], row["params"]) == (r.name, list(r.output_shape), r.params)
        if row["kind"] == "block":
            assert row["shortcut"] in ({"none"} if plain else {"identity", "projection", "zero_pad"})


# ------------------------------------------------------------------------------------ property: sums


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arch=st.sampled_from(ARCHS),
    h=st.integers(1, 600),
    w=st.integers(1, 600),
    plain=st.booleans(),
    stride_in=st.sampled_from(["3x3", "1x1"]),
)
def test_leaves_sum_to_totals(arch: str, h: int, w: int, plain: bool, stride_in: str) -> None:
    t = trace(arch, (3, h, w), plain=plain, stride_in=stride_in)
    leaves = t.leaves
    assert sum(r.params for r in leaves) == t.total_params
    assert sum(r.macs for r in leaves) == t.total_macs
    # Every summary row (stage, block, projection) holds exactly the leaves below it.
    for row in t.rows:
        if row.leaf:
            continue
        below = [r for r in leaves if r.name.startswith(row.name + ".")]
        assert row.params == sum(r.params for r in below), row.name
        assert row.macs == sum(r.macs for r in below), row.name
    # The parameters do not depend on the input size; the multiply-adds grow with it.
    assert t.total_params == trace(arch, 32, plain=plain, stride_in=stride_in).total_params
    assert all(min(r.output_shape) >= 1 for r in t.rows)


def test_trace_is_cached_and_immutable() -> None:
    _trace.cache_clear()
    a = trace("resnet152")
    assert trace("resnet152") is a
    with pytest.raises(AttributeError):
        a.total_params = 0  # type: ignore[misc]
