"""The ladder's DOT (resnet_viz.render.dot.ladder): ConvNeXt's block as the paper draws it, and the diff diagram
marking what changed by border and sign, never by colour alone, on pairs whose differences are known."""

from __future__ import annotations

import re

import pytest

from resnet_viz.architecture.ladder import rung_trace
from resnet_viz.architecture.ladder_diff import diff
from resnet_viz.i18n import translator
from resnet_viz.render.dot.ladder import MARK_SYMBOL, changed_parts, diff_dot, marked_nodes, part_dot, parts

T = translator("en")


def _node_line(dot: str, node: str) -> str:
    [line] = [x for x in dot.splitlines() if x.strip().startswith(f'"{node}" [')]
    return line


def _diff_dot(a: str, b: str, part: str) -> str:
    return diff_dot(diff(a, b), rung_trace(a), rung_trace(b), part, T)


def test_convnext_block_is_dwconv_ln_expand_gelu_project_layer_scale_and_the_addition() -> None:
    dot = part_dot(rung_trace("convnext_tiny"), "stage3.1", T)
    labels = re.findall(r'^\s*"([^"]+)" \[label="([^"]*)"', dot, flags=re.M)
    main = [label for node, label in labels if node.startswith("stage3.1.")]
    assert main == [
        "block.0: 7×7 depthwise conv, 384→384, /1",
        "block.2: LN",
        "block.3: 1×1 (linear), 384→1536",
        "block.4: GELU",
        "block.5: 1×1 (linear), 1536→384",
        "layer_scale: layer scale γ (384)",
    ]
    # the identity shortcut into the addition, and nothing after it but the output (no activation after the add)
    assert '"x" -> "add" [class="shortcut", style="solid"' in dot
    assert '"stage3.1.layer_scale" -> "add"' in dot and '"add" -> "y"' in dot


def test_a_resnet_bottleneck_ends_with_the_relu_after_the_addition_and_a_dashed_projection() -> None:
    dot = part_dot(rung_trace("resnet50"), "stage2.0", T)
    assert '"add" -> "stage2.0.act3"' in dot
    assert dot.count('class="shortcut", style="dashed"') == 3  # x → 1×1 conv → BN → +


def test_kernel_7_marks_exactly_the_depthwise_conv_as_reshaped_by_a_dashed_border() -> None:
    d = diff("move_up", "kernel7")
    assert {c.role.split(".", 2)[-1] for c in d.changed} == {"conv1"} and not d.added and not d.removed
    dot = _diff_dot("move_up", "kernel7", "stage2.0")
    assert marked_nodes(dot) == {"added": [], "changed": ["stage2.0.conv1"], "removed": []}
    line = _node_line(dot, "stage2.0.conv1")
    assert (
        'style="rounded,filled,dashed"' in line and f"{MARK_SYMBOL['changed']} " in line and "k 3→7" in line
    )
    unchanged = _node_line(dot, "stage2.0.conv2")
    assert "dashed" not in unchanged and "peripheries" not in unchanged and "class=" not in unchanged


def test_the_last_step_adds_layer_scale_with_a_double_border_and_removes_the_projection_dotted() -> None:
    dot = _diff_dot("bn_ln", "convnext_tiny", "stage2.0")
    marks = marked_nodes(dot)
    assert marks["added"] == ["stage2.0.layer_scale"]
    assert set(marks["removed"]) == {"stage2.0.shortcut.conv", "stage2.0.shortcut.norm"}
    assert "peripheries=2" in _node_line(dot, "stage2.0.layer_scale")
    for node in marks["removed"]:
        line = _node_line(dot, node)
        assert 'style="rounded,filled,dotted"' in line and MARK_SYMBOL["removed"] in line
    # the separate down-sampling layer is a new part: every step of it drawn as added
    down = _diff_dot("bn_ln", "convnext_tiny", "stage2.down")
    assert marked_nodes(down)["added"] == ["stage2.down.norm", "stage2.down.conv"]


def test_stage_ratio_adds_whole_blocks_and_removes_one() -> None:
    d = diff("resnet50", "stage_ratio")
    assert d.blocks_added == ("stage3.6", "stage3.7", "stage3.8") and d.blocks_removed == ("stage2.3",)
    assert set(changed_parts(d)) == {"stage2.3", "stage3.6", "stage3.7", "stage3.8"}
    removed = marked_nodes(_diff_dot("resnet50", "stage_ratio", "stage2.3"))
    assert removed["removed"] and not removed["added"] and not removed["changed"]
    added = marked_nodes(_diff_dot("resnet50", "stage_ratio", "stage3.6"))
    assert added["added"] and not added["removed"] and not added["changed"]


@pytest.mark.parametrize("key", ["resnet50", "patchify", "inverting", "fewer_norms", "convnext_tiny"])
def test_every_part_of_a_rung_draws(key: str) -> None:
    tr = rung_trace(key)
    for part in parts(tr):
        dot = part_dot(tr, part, T)
        assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    with pytest.raises(ValueError, match="no part"):
        part_dot(tr, "stage9.0", T)


def test_no_mark_is_colour_alone() -> None:
    """Take every fill colour away: the marks are still there, in the border attributes and the sign."""
    dot = _diff_dot("bn_ln", "convnext_tiny", "stage2.0")
    grey = re.sub(r'(fill)?color="[^"]*"', 'color="#000000"', dot)
    assert marked_nodes(grey) == marked_nodes(dot)
    for node in marked_nodes(dot)["added"]:
        assert "peripheries=2" in _node_line(grey, node)
