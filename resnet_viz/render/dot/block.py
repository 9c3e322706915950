"""One block's internals: its layers, its shortcut and the addition, with the shapes on the edges."""

from __future__ import annotations

from resnet_viz.architecture.trace import Row, Trace
from resnet_viz.i18n import Translator
from resnet_viz.render.dot.writer import (
    _GREEN,
    _GREY,
    _ORANGE,
    _RED,
    _Dot,
    _shape,
    _shortcut,
    _shortcut_label,
)

# ----------------------------------------------------------------------------------------------- block internals


def block_kind(tr: Trace, block: Row) -> str:
    """Which of the seed notes' kinds a block is: identity, projection_channels (conv2_1 of ResNet-50),
    projection_stride (conv3_1 …), zero_pad (CIFAR option A), or none (plain)."""
    if block.shortcut == "projection":
        return "projection_channels" if block.stride == 1 else "projection_stride"
    return block.shortcut or "none"


def block_title(tr: Trace, block: Row, t: Translator) -> str:
    """A block diagram's title: the block's names and class, and what its shortcut line means."""
    kind = block_kind(tr, block)
    return t(
        "diagrams.block_title", paper=block.paper_name, name=block.name, block=tr.block_class,
        kind=t(f"diagrams.kind_{kind}"),
    )  # fmt: skip


def block_dot(
    tr: Trace, block_name: str, t: Translator, *, highlight: str | None = None, titled: bool = True
) -> str:
    """One block with every layer: each conv's kernel, stride, padding and channels, the shapes between them, and
    its shortcut (solid identity, dashed 1×1 projection or zero-pad). For a down-sampling Bottleneck the strided
    conv is marked with where v1 (the paper) and v1.5 (torchvision) put the stride. The conv named ``highlight``
    (e.g. ``layer2.0.conv2``, ``layer2.0.downsample.0``) gets a thick black border. ``titled=False`` leaves the
    title (:func:`block_title`) out of the drawing, for a page that writes it beside the diagram instead."""
    mark = {"penwidth": 3.5, "color": "#000000", "style": "rounded,filled,bold"}
    try:
        block = tr.row(block_name)
    except KeyError:
        raise ValueError(
            f"no block {block_name!r} in {tr.arch}; blocks are {tr.blocks[0].name} … {tr.blocks[-1].name}"
        ) from None
    if block.kind != "block":
        raise ValueError(f"{block_name!r} is not a block of {tr.arch} (try e.g. {tr.blocks[0].name})")
    g = _Dot(f"{tr.arch}_{block.name}", block_title(tr, block, t) if titled else "", ranksep=0.22)
    g.tail = "x"
    g.node("x", label=t("diagrams.block_in", shape=_shape(block.input_shape)), shape="oval", fillcolor=_GREY)
    strided = block.stride != 1 and tr.block == "bottleneck"
    # Where the two versions put a down-sampling Bottleneck's stride: v1 (paper) conv1, v1.5 (torchvision) conv2.
    stride_conv = {"1x1": "conv1", "3x3": "conv2"}
    last_bn = "bn2" if tr.block == "basic" else "bn3"  # the BN whose ReLU comes after the addition
    for row in tr.children(block.name):
        short = row.name.rsplit(".", 1)[1]
        if row.kind == "conv":
            label = t(
                "diagrams.conv_detail", name=short, k=row.kernel, cin=row.input_shape[0], cout=row.output_shape[0],
                s=row.stride, p=row.padding,
            )  # fmt: skip
            fill, pen = (_ORANGE, 2) if row.stride != 1 else (_GREEN, None)
            if strided and short == stride_conv[tr.stride_in]:
                label += "\n" + t(f"diagrams.stride_here_{'v1' if tr.stride_in == '1x1' else 'v15'}")
            elif strided and short in stride_conv.values():
                label += "\n" + t(f"diagrams.stride_not_here_{'v15' if tr.stride_in == '1x1' else 'v1'}")
            g.node(
                row.name,
                label=label,
                **{"fillcolor": fill, "penwidth": pen, **(mark if row.name == highlight else {})},
            )
            g.link(row.name, _shape(row.input_shape))
        elif row.kind == "bn":
            key = "diagrams.bn" if short == last_bn else "diagrams.bn_relu"
            g.node(row.name, label=t(key, name=short), fillcolor=_GREY)
            g.link(row.name)
    # The shortcut branch and the addition (a plain block has neither: its last BN goes straight to the ReLU).
    if block.shortcut != "none":
        g.node("add", label="+", shape="circle", width=0.3, height=0.3, fixedsize="true", fillcolor="white",
               fontsize=14)  # fmt: skip
        g.link("add", _shape(block.output_shape))
        if block.shortcut == "projection":
            conv, bn = tr.row(f"{block.name}.downsample.0"), tr.row(f"{block.name}.downsample.1")
            g.cluster("shortcut", label=t("diagrams.shortcut_branch"), style="dashed", color=_RED, fontcolor=_RED,
                      fontsize=10)  # fmt: skip
            label = t(
                "diagrams.conv_detail", name="downsample.0", k=conv.kernel, cin=conv.input_shape[0],
                cout=conv.output_shape[0], s=conv.stride, p=conv.padding,
            )  # fmt: skip
            g.node(conv.name, label=label, fillcolor=_ORANGE, **(mark if conv.name == highlight else {}))
            g.node(bn.name, label=t("diagrams.bn", name="downsample.1"), fillcolor=_GREY)
            g.close()
            _shortcut(g, "x", conv.name, True, _shape(block.input_shape))
            _shortcut(g, conv.name, bn.name, True, None)
            _shortcut(g, bn.name, "add", True, _shape(conv.output_shape))
        else:
            label = _shortcut_label(tr, block, t) or t("diagrams.identity_label")
            _shortcut(g, "x", "add", block.dashed, label)
    g.node("relu", label="ReLU", fillcolor=_GREY)
    g.link("relu", None if block.shortcut != "none" else _shape(block.output_shape))
    g.node(
        "y", label=t("diagrams.block_out", shape=_shape(block.output_shape)), shape="oval", fillcolor=_GREY
    )
    g.link("y", _shape(block.output_shape))
    return g.text()


def representative_blocks(tr: Trace) -> dict[str, str]:
    """One block of each kind present in ``tr``, in network order: {kind: block name}."""
    kinds: dict[str, str] = {}
    for b in tr.blocks:
        kinds.setdefault(block_kind(tr, b), b.name)
    return kinds
