"""The ResNet-50 → ConvNeXt-T ladder (issue 25): the arithmetic, the cited numbers, the diff and the CLI.

Pure tests first (no torch); ``test_ladder_build.py`` checks every rung against a built ``nn.Module``.
Reference figures here come from outside the code under test: torchvision's published parameter counts and
``_ops`` (resnet50 25,557,032 and 4.089; convnext_tiny 28,589,128 and 4.456), the paper's Table 10, and
block sizes worked out by hand in the tests.
"""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from resnet_viz import trace
from resnet_viz.architecture import ladder
from resnet_viz.architecture.ladder import CITED, RUNGS, VARIANTS, round_half_up, rung_trace
from resnet_viz.architecture.ladder_diff import diff
from resnet_viz.cli import main

# --------------------------------------------------------------------------------------------- the two ends


def test_first_rung_is_resnet50() -> None:
    first = rung_trace(RUNGS[0].key)
    assert RUNGS[0].torchvision == "resnet50"
    assert first.total_params == 25_557_032  # torchvision's ResNet50_Weights meta["num_params"]
    assert f"{first.total_macs / 1e9:.3f}" == "4.089"  # torchvision's _ops, and the app's shape walk


def test_first_rung_macs_are_the_shape_walks_without_its_bn_and_bias_terms() -> None:
    """The shape walk follows torchinfo (2 × C per BatchNorm, the fc bias); the ladder counts convs and linear
    weights only. Taking those terms out of the trace's own rows gives the ladder's number exactly."""
    tr = trace("resnet50", 224)
    extra = sum(r.macs for r in tr.leaves if r.kind == "bn") + tr.num_classes
    assert rung_trace("resnet50").total_macs == tr.total_macs - extra
    assert ladder.macs_explanation("resnet50").trace_extra == extra


def test_last_rung_is_convnext_tiny() -> None:
    last = rung_trace(RUNGS[-1].key)
    assert RUNGS[-1].torchvision == "convnext_tiny"
    assert last.total_params == 28_589_128  # torchvision's ConvNeXt_Tiny_Weights meta["num_params"]
    assert f"{last.total_macs / 1e9:.3f}" == "4.456"  # torchvision's _ops for convnext_tiny


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_catalogue_networks_walked_by_the_ladder_equal_the_shape_walk(arch: str) -> None:
    assert ladder.network_trace(arch).total_params == trace(arch, 224).total_params


# --------------------------------------------------------------------------------------------- smallest changes

SPEC_FIELDS = (
    "layers",
    "stem",
    "width",
    "block",
    "depthwise",
    "kernel",
    "act",
    "norm",
    "block_acts",
    "block_norms",
)

#: What each step of Figure 2 changes, written from the paper's §2 (not from the code).
EXPECTED_CHANGES = {
    "stage_ratio": {"layers"},
    "patchify": {"stem"},
    "depth_conv": {"depthwise"},
    "width": {"width"},
    "inverting": {"block"},
    "move_up": {"block"},
    "kernel7": {"kernel"},
    "gelu": {"act"},
    "fewer_acts": {"block_acts"},
    "fewer_norms": {"block_norms"},
    "bn_ln": {"norm"},
    "convnext_tiny": {"stem", "block"},
}


def test_every_rung_is_one_change_from_the_previous() -> None:
    assert [r.key for r in RUNGS[1:]] == list(EXPECTED_CHANGES)
    for prev, rung in zip(RUNGS, RUNGS[1:]):
        changed = {f for f in SPEC_FIELDS if getattr(prev, f) != getattr(rung, f)}
        assert changed == EXPECTED_CHANGES[rung.key], rung.key


def test_labels_are_figure_2s() -> None:
    for rung in (*RUNGS[1:], *VARIANTS):
        assert rung.label == CITED[rung.key].figure_label
    assert CITED["resnet50"].figure_label == "ResNet-50/200"


# --------------------------------------------------------------------------------------------- cited numbers


def test_every_rung_and_variant_is_cited_and_labelled_cited() -> None:
    assert set(CITED) == {r.key for r in (*RUNGS, *VARIANTS)}
    assert all(c.kind == "cited" and "Figure 2" in c.figure_source and "Table 10" in c.table_source
               for c in CITED.values())  # fmt: skip


def test_figure_2_is_table_10_rounded_except_where_the_paper_disagrees_with_itself() -> None:
    """A transcription check: Figure 2's labels are Table 10's numbers rounded to one decimal. The one exception
    is the paper's own: BN → LN is 4.2 GFLOPs in Figure 2 and 4.46 in Table 10."""
    top1 = [k for k, c in CITED.items() if round_half_up(c.table_top1, 1) != round_half_up(c.figure_top1, 1)]
    gflops = [
        k for k, c in CITED.items() if round_half_up(c.table_gflops, 1) != round_half_up(c.figure_gflops, 1)
    ]
    assert top1 == []
    assert gflops == ["bn_ln"]


def test_our_macs_are_table_10s_to_two_decimals_where_the_paper_counts_convs_and_linear_layers() -> None:
    off = {k for k in CITED if f"{rung_trace(k).total_macs / 1e9:.2f}" != f"{CITED[k].table_gflops:.2f}"}
    assert off == {"bn_ln", "convnext_tiny"}


def test_the_explanations_name_each_difference() -> None:
    reasons = {e.key: e.reason for e in ladder.explanations()}
    assert reasons.pop("bn_ln") == "paper_inconsistent"
    assert reasons.pop("convnext_tiny") == "convention"
    assert set(reasons.values()) == {"rounding"}
    conv = ladder.macs_explanation("convnext_tiny")
    low, high = conv.table_gap
    assert high - low == 10_000_000 and low < 0 and high < 0  # Table 10's 4.49 is above ours even at 4.485
    with pytest.raises(ValueError, match="cites no GFLOPs"):
        ladder.macs_explanation("resnet18")


def test_round_half_up_rounds_as_printed_tables_do() -> None:
    assert str(round_half_up(4.15, 1)) == "4.2" and str(round_half_up(2.35, 1)) == "2.4"
    assert str(round_half_up(4.145612928, 2)) == "4.15"


# --------------------------------------------------------------------------------------------- records


@pytest.mark.parametrize("key", [r.key for r in (*RUNGS, *VARIANTS)])
def test_records_add_up_and_roles_are_unique(key: str) -> None:
    tr = rung_trace(key)
    assert len({r.role for r in tr.records}) == len(tr.records)
    assert sum(r.params for r in tr.records) == tr.total_params
    assert tr.records[-1].role == "head.fc" and tr.records[-1].output_shape == (1000,)


def test_receptive_field_grows_with_the_kernel_by_hand() -> None:
    """3×3 → 7×7 in every depthwise conv adds 4 × (the conv's jump) per block: jumps 4, 8, 16, 32 over (3, 3, 9, 3)
    blocks, the first block of stages 2–4 striding *in* its depthwise conv (at the previous stage's jump)."""
    per_stage = [(3, 4, 4), (3, 4, 8), (9, 8, 16), (3, 16, 32)]  # blocks, jump of block 0's input, jump after
    grow = sum(4 * first + 4 * after * (n - 1) for n, first, after in per_stage)
    assert rung_trace("kernel7").receptive_field - rung_trace("move_up").receptive_field == grow


def test_by_block_groups_steps_as_a_block_diagram_draws_them() -> None:
    groups = rung_trace("convnext_tiny").by_block()
    assert list(groups)[:5] == ["stem", "stage1.0", "stage1.1", "stage1.2", "stage2.down"]
    assert list(groups)[-1] == "head" and len(groups) == 1 + 18 + 3 + 1
    assert [r.kind for r in groups["stage1.0"]] == ["conv", "ln", "linear", "gelu", "linear", "layer_scale"]
    assert [r.kind for r in rung_trace("resnet50").by_block()["stem"]] == ["conv", "bn", "relu", "maxpool"]


def test_input_too_small_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="shrinks below 1×1"):
        rung_trace("patchify", 3)
    with pytest.raises(ValueError, match="unknown rung"):
        rung_trace("resnet20")


def test_to_dict_is_json() -> None:
    data = json.loads(json.dumps(rung_trace("convnext_tiny", 64).to_dict()))
    assert data["total_params"] == 28_589_128 and data["records"][0]["name"] == "features.0.0"
    assert set(data["records"][0]) == {f.name for f in fields(ladder.LayerRecord)}


# --------------------------------------------------------------------------------------------- diff


def test_identical_networks_have_an_empty_diff() -> None:
    for key in ("resnet50", "bn_ln", "convnext_tiny"):
        d = diff(key, key)
        assert d.identical and not (d.added or d.removed or d.changed or d.renamed)
        assert d.delta_params == d.delta_macs == d.delta_receptive_field == 0


def _bottleneck_params(c_out: int) -> int:
    """An identity Bottleneck c_out → c_out/4 → c_out: three convs and three BNs, by hand."""
    w = c_out // 4
    return c_out * w + 9 * w * w + w * c_out + 2 * (w + w + c_out)


def test_stage_ratio_moves_one_block_from_stage_2_to_three_in_stage_3() -> None:
    d = diff("resnet50", "stage_ratio")
    assert d.blocks_removed == ("stage2.3",)  # (3, 4, 6, 3) → (3, 3, 9, 3): layer2 loses one block too
    assert d.blocks_added == ("stage3.6", "stage3.7", "stage3.8")
    assert d.changed == () and d.renamed == ()
    assert {c.b.name.rsplit(".", 1)[0] for c in d.added} == {"layer3.6", "layer3.7", "layer3.8"}  # type: ignore[union-attr]
    assert d.delta_params == 3 * _bottleneck_params(1024) - _bottleneck_params(512)


def test_resnet18_to_resnet34_adds_whole_blocks_only() -> None:
    d = diff("resnet18", "resnet34")
    assert d.blocks_added == (
        "stage1.2",
        "stage2.2",
        "stage2.3",
        *(f"stage3.{i}" for i in range(2, 6)),
        "stage4.2",
    )
    assert d.removed == () and d.changed == ()
    assert d.delta_params == 21_797_672 - 11_689_512  # torchvision's published counts


def test_kernel_3_to_7_reshapes_every_depthwise_conv_only() -> None:
    d = diff("move_up", "kernel7")
    assert d.added == d.removed == d.renamed == ()
    assert {c.role.rsplit(".", 1)[1] for c in d.changed} == {"conv1"}
    assert {c.fields for c in d.changed} == {("kernel", "params")}
    # The depthwise convs run on each block's input channels: stem 96, then C or the previous stage's C.
    dw_channels = 3 * 96 + (96 + 2 * 192) + (192 + 8 * 384) + (384 + 2 * 768)
    assert d.delta_params == (49 - 9) * dw_channels == 238_080


def test_fewer_activations_and_fewer_norms_remove_two_per_block() -> None:
    acts = diff("gelu", "fewer_acts")
    assert len(acts.removed) == 2 * 18 and {c.a.kind for c in acts.removed} == {"gelu"}  # type: ignore[union-attr]
    assert acts.delta_params == acts.delta_macs == 0 and not acts.blocks_removed
    norms = diff("fewer_acts", "fewer_norms")
    assert {c.role.rsplit(".", 1)[1] for c in norms.removed} == {"norm2", "norm3"}
    widths = [96] * 3 + [192] * 3 + [384] * 9 + [768] * 3
    assert norms.delta_params == -sum(2 * (4 * c + c) for c in widths)


def test_last_step_matches_resnet_and_convnext_modules_by_role() -> None:
    d = diff("bn_ln", "convnext_tiny")
    renamed = {c.a.name: c.b.name for c in d.renamed}  # type: ignore[union-attr]
    assert renamed["layer1.0.act2"] == "features.1.0.block.4"  # the one GELU, unchanged
    assert {c.role for c in d.removed} == {
        f"stage{s}.0.shortcut.{p}" for s in (2, 3, 4) for p in ("conv", "norm")
    }
    added = {c.role for c in d.added}
    assert {"stem.norm", "head.norm", "stage2.down.conv", "stage4.down.norm"} <= added
    conv2 = next(c for c in d.changed if c.role == "stage1.0.conv2")
    assert conv2.fields == ("kind", "bias", "params")  # 1×1 conv → nn.Linear with a bias, nothing else


def test_diff_refuses_the_cifar_networks() -> None:
    with pytest.raises(ValueError, match="unknown network"):
        diff("resnet20", "resnet56")


# --------------------------------------------------------------------------------------------- CLI


def test_cli_ladder_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ladder"]) == 0
    out = capsys.readouterr().out
    assert "25,557,032" in out and "28,589,128" in out and "cited, not measured" in out
    assert "sep. d.s. conv" in out and "82.0" in out and "kernel sz. → 9" not in out


def test_cli_ladder_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ladder", "--json", "--variants"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["rungs"]
    assert [r["key"] for r in rows[: len(RUNGS)]] == [r.key for r in RUNGS] and len(rows) == len(RUNGS) + 3
    assert rows[-1]["adopted"] is False
    assert rows[0]["cited"]["figure_top1"] == 78.8 and rows[0]["macs_explanation"]["reason"] == "rounding"


def test_cli_diff(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "move_up", "kernel7"]) == 0
    out = capsys.readouterr().out
    assert "+238,080" in out and "kernel 3→7" in out and "layer4.2.conv1" in out
    assert main(["diff", "resnet50", "resnet50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


@pytest.mark.parametrize(
    "argv",
    [["diff", "resnet50"], ["diff", "resnet20", "resnet50"], ["ladder", "--input-size", "x"],
     ["ladder", "--input-size", "3"]],
)  # fmt: skip
def test_cli_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
