"""resnet_viz.architecture.counting: the tables add up, the hand calculations of the notes hold, the CLI works.

Reference figures come from outside this code: torchvision's parameter counts (resnet18 11,689,512 …), seed 002's
hand calculation (1,179,648 vs 69,632 at 256 channels), seed 001's rule (34 = 1 + 2×(3+4+6+3) + 1), the paper's
6n+2, and torchvision's own modules (counted here with a meta-device forward pass).
"""

from __future__ import annotations

import csv
import io

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from resnet_viz import ARCHS, build_model, get_spec
from resnet_viz import cli as cli_module
from resnet_viz.architecture.counting import (
    CSV_COLUMNS,
    LEVELS,
    activation_bytes,
    activation_elements,
    basic_block_cost,
    bottleneck_cost,
    count_table,
    depth_scaling,
    layer_count_rule,
    parameter_bytes,
    projection_cost,
    projections,
    stride_variant_macs,
    table_to_csv,
)
from resnet_viz.architecture.trace import trace
from resnet_viz.formatting import fmt_bytes, fmt_int, fmt_macs
from resnet_viz.models import ZeroPadShortcut

#: torchvision.models.resnetNN(): sum(p.numel() for p in model.parameters()).
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
#: The layer-count formulas as the seed notes and the paper's Table 1 write them.
FORMULAS = {
    "resnet18": "18 = 1 + 2×(2+2+2+2) + 1",
    "resnet34": "34 = 1 + 2×(3+4+6+3) + 1",
    "resnet50": "50 = 1 + 3×(3+4+6+3) + 1",
    "resnet101": "101 = 1 + 3×(3+4+23+3) + 1",
    "resnet152": "152 = 1 + 3×(3+8+36+3) + 1",
}


# ------------------------------------------------------------------------------------------ tables


@pytest.mark.parametrize("arch", list(TORCHVISION_PARAMS))
@pytest.mark.parametrize("by", LEVELS)
def test_every_level_adds_up_to_torchvisions_total(arch: str, by: str) -> None:
    rows = count_table(trace(arch, 224), by)
    assert sum(r.params for r in rows) == TORCHVISION_PARAMS[arch]


@settings(max_examples=60, deadline=None)
@given(
    arch=st.sampled_from(ARCHS),
    plain=st.booleans(),
    stride_in=st.sampled_from(["3x3", "1x1"]),
    size=st.integers(min_value=16, max_value=640),
)
def test_rows_sum_to_the_totals_for_every_network_and_variant(
    arch: str, plain: bool, stride_in: str, size: int
) -> None:
    tr = trace(arch, size, plain=plain, stride_in=stride_in)
    for by in LEVELS:
        rows = count_table(tr, by)
        assert sum(r.params for r in rows) == tr.total_params, by
        assert sum(r.macs for r in rows) == tr.total_macs, by
    layers = count_table(tr, "layer")
    # conv, BN and fc stay apart: every weighted layer is its own row of its own kind.
    assert {r.kind for r in layers} <= {"conv", "bn", "fc"}
    assert len({r.name for r in layers}) == len(layers)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "resnet20", "resnet34_cifar"])
def test_layer_rows_are_torchvisions_modules(arch: str) -> None:
    """Each per-layer row is a real module of the built network with exactly that many parameters."""
    model = build_model(arch)
    expected = {
        name: sum(p.numel() for p in m.parameters(recurse=False))
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))
    }
    got = {r.name: r.params for r in count_table(trace(arch, get_spec(arch).default_input), "layer")}
    assert got == expected


def test_stage_rows_follow_the_paper_names() -> None:
    rows = count_table(trace("resnet34", 224), "stage")
    assert [r.paper_name for r in rows] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "fc"]
    assert rows[-1].params == 512 * 1000 + 1000  # the fc: in × out + out
    assert rows[0].params == 7 * 7 * 3 * 64 + 2 * 64  # conv1 + bn1


def test_unknown_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="stage, block, layer"):
        count_table(trace("resnet18"), "stages")


@pytest.mark.parametrize("by", LEVELS)
def test_csv_parses_and_sums_to_the_total(by: str) -> None:
    tr = trace("resnet101", 224)
    reader = csv.DictReader(io.StringIO(table_to_csv(count_table(tr, by))))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert {r["level"] for r in rows} == {by}
    assert sum(int(r["params"]) for r in rows) == TORCHVISION_PARAMS["resnet101"]
    assert sum(int(r["macs"]) for r in rows) == tr.total_macs


# ------------------------------------------------------------------------------------------ memory


def _materialised_elements(arch: str, size: int) -> int:
    """Output elements of the modules that write a new tensor, from a real forward pass on the meta device."""
    model = build_model(arch).to("meta")  # a private model, built for this test only
    kinds = (
        nn.Conv2d,
        nn.BatchNorm2d,
        nn.MaxPool2d,
        nn.AdaptiveAvgPool2d,
        nn.AvgPool2d,
        nn.Linear,
        ZeroPadShortcut,
    )
    total = 0

    def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model(torch.empty(1, 3, size, size, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return total


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "resnet20"])
def test_activation_elements_match_a_real_forward_pass(arch: str) -> None:
    size = get_spec(arch).default_input
    assert activation_elements(trace(arch, size)) == _materialised_elements(arch, size)


def test_memory_is_float32_bytes_times_batch() -> None:
    tr = trace("resnet18", 224)
    assert parameter_bytes(tr) == 4 * TORCHVISION_PARAMS["resnet18"]
    assert activation_bytes(tr, 32) == 32 * activation_bytes(tr, 1) == 32 * 4 * activation_elements(tr)
    with pytest.raises(ValueError):
        activation_bytes(tr, 0)
    assert fmt_bytes(4 * TORCHVISION_PARAMS["resnet18"]) == "44.6 MiB"
    assert fmt_bytes(512) == "512 B"


def test_depth_scaling_shows_50_deeper_than_34_but_not_proportionally_bigger() -> None:
    stats = {d.arch: d for d in depth_scaling(224, 8)}
    assert list(stats) == list(TORCHVISION_PARAMS)
    assert {a: d.params for a, d in stats.items()} == TORCHVISION_PARAMS
    assert [d.depth for d in stats.values()] == [18, 34, 50, 101, 152]
    assert stats["resnet50"].params / stats["resnet34"].params < 1.2  # 25.6 M vs 21.8 M
    assert stats["resnet50"].activation_bytes > 2 * stats["resnet34"].activation_bytes
    assert fmt_macs(stats["resnet50"].macs) == "4.089 G"


# ------------------------------------------------------------------------------------------ layer count


@pytest.mark.parametrize("arch", list(FORMULAS))
def test_formula_strings_are_the_papers(arch: str) -> None:
    assert layer_count_rule(arch).formula == FORMULAS[arch]


@pytest.mark.parametrize("arch", ARCHS)
def test_counted_layers_are_the_plain_networks_weighted_layers(arch: str) -> None:
    rule = layer_count_rule(arch)
    counted = rule.counted
    assert len(counted) == rule.depth == int(rule.formula.split(" = ")[0])
    assert [i.number for i in counted] == list(range(1, rule.depth + 1))
    assert {i.kind for i in counted} <= {"conv", "fc"}
    assert counted[0].name == "conv1" and counted[-1].name == "fc"
    not_counted = {i.reason for i in rule.not_counted}
    assert {"bn", "relu", "add"} <= not_counted
    assert all(i.reason == "projection" for i in rule.not_counted if i.kind == "conv")


# resnet101/152 are resnet50's classes with more blocks; building them here would only cost seconds.
@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50", "resnet20", "resnet34_cifar"])
def test_counted_layers_are_torchvisions_convs_and_fc_minus_the_shortcut_convs(arch: str) -> None:
    counted = layer_count_rule(arch).counted
    model = build_model(arch)
    weighted = [
        n
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and ".downsample" not in n
    ]
    assert [i.name for i in counted] == weighted


def test_the_shortcut_convs_of_resnet34_are_listed_as_not_counted() -> None:
    rule = layer_count_rule("resnet34")
    shortcut = [i for i in rule.items if i.reason == "projection"]
    assert [(i.paper_name, i.in_channels, i.out_channels) for i in shortcut] == [
        ("conv3_1", 64, 128),
        ("conv4_1", 128, 256),
        ("conv5_1", 256, 512),
    ]
    assert not any(i.counted for i in shortcut)


def _relu_calls(arch: str) -> int:
    """How many times a forward pass applies a ReLU (torchvision reuses one nn.ReLU per block), on the meta device."""
    model = build_model(arch).to("meta")  # a private model, built for this test only
    calls = 0

    def hook(*_args: object) -> None:
        nonlocal calls
        calls += 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            model(
                torch.empty(1, 3, get_spec(arch).default_input, get_spec(arch).default_input, device="meta")
            )
    finally:
        for h in handles:
            h.remove()
    return calls


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "resnet20", "resnet34_cifar"])
def test_every_relu_of_a_forward_pass_is_listed_as_not_counted(arch: str) -> None:
    """Issue 21: the in-block ReLUs were missing from "what the depth counts". Each ReLU the forward pass applies
    is one item: the stem's, one after every main-branch BN but the last, and the one after each addition."""
    rule = layer_count_rule(arch)
    relus = [i for i in rule.items if i.reason == "relu"]
    adds = [i for i in rule.items if i.reason == "add"]  # "addition + ReLU"
    assert len(relus) + len(adds) == _relu_calls(arch)
    per_block = 2 if get_spec(arch).block == "bottleneck" else 1  # after bn1 (and bn2); not after the last BN
    first = rule.items[[i.name for i in rule.items].index("layer1.0.bn1") + 1]
    assert (first.name, first.reason, first.counted) == ("layer1.0.relu", "relu", False)
    assert sum(1 for i in relus if i.block == "layer1.0") == per_block


@pytest.mark.parametrize("n", [3, 5, 7, 9, 18])
def test_cifar_networks_have_6n_plus_2_layers(n: int) -> None:
    rule = layer_count_rule(f"resnet{6 * n + 2}")
    assert rule.cifar_n == n and len(rule.counted) == 6 * n + 2
    assert "zero_pad" in {i.reason for i in rule.not_counted}  # option A: no shortcut conv at all


# ------------------------------------------------------------------------------------------ calculator


def test_seed_002_hand_calculation() -> None:
    basic, bottle = basic_block_cost(256), bottleneck_cost(256)
    assert basic.expression() == "3×3×256×256 + 3×3×256×256"
    assert basic.total == 3 * 3 * 256 * 256 + 3 * 3 * 256 * 256 == 1_179_648
    assert bottle.expression() == "1×1×256×64 + 3×3×64×64 + 1×1×64×256"
    assert bottle.total == 1 * 1 * 256 * 64 + 3 * 3 * 64 * 64 + 1 * 1 * 64 * 256 == 69_632
    assert basic_block_cost(64).total == 73_728  # the equal-budget BasicBlock


@settings(max_examples=50, deadline=None)
@given(quarter=st.integers(min_value=1, max_value=512), include_bn=st.booleans())
def test_calculator_matches_closed_forms(quarter: int, include_bn: bool) -> None:
    c = 4 * quarter
    basic, bottle = basic_block_cost(c, include_bn=include_bn), bottleneck_cost(c, include_bn=include_bn)
    assert basic.total == 18 * c * c + (4 * c if include_bn else 0)
    assert 16 * bottle.conv_weights == 17 * c * c  # c²/4 + 9c²/16 + c²/4
    assert bottle.total == bottle.conv_weights + (2 * quarter + 2 * quarter + 2 * c if include_bn else 0)


def test_calculator_matches_a_real_bottleneck() -> None:
    """torchvision's layer1.1 of resnet50 is a 256 → 64 → 256 Bottleneck: its convs and BNs, counted directly."""
    block = build_model("resnet50").layer1[1]
    convs = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))
    bns = sum(p.numel() for m in block.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
    assert bottleneck_cost(256).total == convs
    assert bottleneck_cost(256, include_bn=True).total == convs + bns


def test_bad_channel_counts_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        bottleneck_cost(30)
    for bad in (0, -4, True, 2.5):
        with pytest.raises(ValueError):
            basic_block_cost(bad)  # type: ignore[arg-type]


def test_projection_cost_and_the_networks_projections() -> None:
    assert projection_cost(256, 512) == 131_072
    assert projection_cost(256, 512, include_bn=True) == 131_072 + 1024
    model = build_model("resnet50")
    found = projections(trace("resnet50"))
    assert [p.block for p in found] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    for p in found:
        down = model.get_submodule(p.block).downsample
        assert p.conv_params == projection_cost(p.c_in, p.c_out) == down[0].weight.numel()
        assert p.bn_params == sum(x.numel() for x in down[1].parameters())
    assert projections(trace("resnet50", plain=True)) == []
    assert projections(trace("resnet20", 32)) == []  # option A


def test_v1_and_v15_multiply_adds_of_resnet50() -> None:
    v = stride_variant_macs("resnet50", 224)
    assert (fmt_macs(v.v1_macs), fmt_macs(v.v15_macs)) == ("3.858 G", "4.089 G")
    # The difference is the first 1×1 conv of conv3_1, conv4_1, conv5_1 running on the un-halved map:
    # C_in × planes × (H_in² − H_out²) for (256, 128, 56), (512, 256, 28), (1024, 512, 14).
    expected = sum(
        cin * planes * (h * h - (h // 2) ** 2)
        for cin, planes, h in ((256, 128, 56), (512, 256, 28), (1024, 512, 14))
    )
    assert v.v15_macs - v.v1_macs == expected
    assert [paper for _, paper, _, _ in v.per_block] == ["conv3_1", "conv4_1", "conv5_1"]
    with pytest.raises(ValueError, match="Bottleneck"):
        stride_variant_macs("resnet34")


# ------------------------------------------------------------------------------------------ CLI


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_module.main(["params", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "conv4_x" in out and fmt_int(TORCHVISION_PARAMS["resnet50"]) in out
    assert FORMULAS["resnet50"] in out


def test_cli_csv_by_layer_sums_right(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_module.main(["params", "resnet152", "--by", "layer", "--csv", "--stride-in", "1x1"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sum(int(r["params"]) for r in rows) == TORCHVISION_PARAMS["resnet152"]
    assert sum(int(r["macs"]) for r in rows) == trace("resnet152", 224, stride_in="1x1").total_macs


def test_cli_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli_module.main(["params", "resnet18", "--by", "block", "--csv", "--input-size", "160", "--plain"])
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    tr = trace("resnet18", 160, plain=True)
    assert [r["name"] for r in rows][1:3] == ["layer1.0", "layer1.1"]
    assert sum(int(r["macs"]) for r in rows) == tr.total_macs


@pytest.mark.parametrize(
    "argv",
    [
        ["params", "resnet999"],
        ["params", "resnet18", "--by", "stages"],
        ["params", "resnet18", "--input-size", "big"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_module.main(argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_impossible_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_module.main(["params", "resnet50", "--input-size", "5000"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "4096" in captured.err
