"""The whole network (overview, with each step a link) and the paper's Figure 3 (VGG-19 / plain / residual)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from resnet_viz.architecture.catalogue import VGG19_LAYERS
from resnet_viz.architecture.trace import Row, Trace, trace
from resnet_viz.i18n import Translator, arch_title
from resnet_viz.render.dot.writer import (
    _BLUE,
    _GREEN,
    _GREY,
    _ORANGE,
    _block_convs,
    _conv_brief,
    _Dot,
    _Group,
    _groups,
    _shape,
    _shortcut,
    _shortcut_label,
    _stride_mark,
    default_collapse,
)

# ----------------------------------------------------------------------------------------------------- overview


def _step_attrs(steps: Sequence[str], highlight: str | None, node_urls: Mapping[str, str] | None) -> dict:
    """Attributes that make a node selectable (an ``id`` and, with ``node_urls``, a link to select its first step)
    and, when it holds the ``highlight``-ed step, mark it: a thick black border, so the selection does not depend
    on colour."""
    if highlight is None and node_urls is None:
        return {}  # the plain diagram (downloads, golden files) carries no app-only attributes
    attrs: dict[str, object] = {"id": f"step-{steps[0]}"}
    if node_urls is not None and steps[0] in node_urls:
        attrs.update(URL=node_urls[steps[0]], target="_self", tooltip=steps[0])
    if highlight is not None and highlight in steps:
        attrs.update(penwidth=3.5, color="#000000", style="rounded,filled,bold")
    return attrs


def overview_dot(
    tr: Trace,
    t: Translator,
    *,
    collapse: bool | None = None,
    highlight: str | None = None,
    node_urls: Mapping[str, str] | None = None,
) -> str:
    """The whole network, top to bottom: input, stem, each stage's blocks with their shortcuts, avgpool, fc, softmax.

    Each block is a node followed by a "+" node; the block's shortcut is an edge from the block's input to that
    "+" (solid: identity; dashed and labelled: 1×1 projection or zero-padding). Edges carry the tensor shapes.
    ``collapse`` (default: :func:`default_collapse`) draws runs of identical blocks as one "block × N" node with
    one shortcut edge. Plain networks have no "+" nodes and no shortcut edges. ``highlight`` (a step's module
    name) gets a thick border; ``node_urls`` (a step's name → its address, made by the caller in one call) makes
    each step's node a link (the app selects by address).
    """
    if collapse is None:
        collapse = default_collapse(tr)
    title = (
        t("diagrams.overview_title", title=arch_title(t, tr.arch, plain=tr.plain), size=_shape(tr.input_size))
        + "\n"
        + _legend(tr, t)
    )
    g = _Dot(f"{tr.arch}{'_plain' if tr.plain else ''}_overview", title)
    g.node("input", label=t("diagrams.input", shape=_shape(tr.input_size)), shape="oval", fillcolor=_GREY)
    for row in tr.rows:
        if row.depth != 0 or row.kind in ("bn", "relu", "flatten"):
            continue
        if row.kind == "stage":
            _stage(g, tr, row, t, collapse, highlight, node_urls)
            continue
        label = {
            "conv": lambda r: t("diagrams.stem", name=r.name, k=r.kernel, c=r.output_shape[0], s=r.stride),
            "maxpool": lambda r: t("diagrams.maxpool", k=r.kernel, s=r.stride),
            "avgpool": lambda r: t("diagrams.avgpool"),
            "fc": lambda r: t("diagrams.fc", n=r.output_shape[0]),
            "softmax": lambda r: t("diagrams.softmax"),
        }[row.kind](row)
        select = _step_attrs([row.name], highlight, node_urls) if row.kind != "softmax" else {}
        g.node(
            row.name, label=label, fillcolor=_GREEN if row.kind == "conv" else _GREY, group="main", **select
        )
        g.link(row.name, _shape(row.input_shape))
    return g.text()


def _legend(tr: Trace, t: Translator) -> str:
    if tr.plain:
        return t("diagrams.legend_plain")
    kinds = {b.shortcut for b in tr.blocks}
    dashed = t("diagrams.legend_zero_pad") if "zero_pad" in kinds else t("diagrams.legend_projection")
    return t("diagrams.legend", dashed=dashed)


def _group_node(grp: _Group) -> str:
    """The node id of a collapsed run of blocks: 'layer3.1-35'."""
    return f"{grp.first.name}-{grp.last.name.rsplit('.', 1)[1]}"


def _stage(
    g: _Dot,
    tr: Trace,
    srow: Row,
    t: Translator,
    collapse: bool,
    highlight: str | None = None,
    node_urls: Mapping[str, str] | None = None,
) -> None:
    """One stage as a cluster of block nodes (each with its "+" and shortcut edge)."""
    blocks = [r for r in tr.blocks if r.parent == srow.name]
    label = t(
        "diagrams.stage", paper=srow.paper_name, name=srow.name, n=len(blocks), block=tr.block_class,
        h=srow.output_shape[1], w=srow.output_shape[2], c=srow.output_shape[0],
    )  # fmt: skip
    # The stage's name is a plain-text node beside its first block rather than the cluster's label: a cluster
    # label sits on the cluster's top edge, where the main path and the dashed shortcuts cross it.
    g.cluster(srow.name, label="", style="rounded", color="#8aa4c8")
    tag = srow.name + ".label"
    g.node(tag, label=label, shape="plaintext", style="", fontsize=10, fontcolor="#35507a")
    groups = _groups(tr, srow.name, collapse)
    first = groups[0].first.name if groups[0].count == 1 else _group_node(groups[0])
    g.same_rank(tag, first)  # same rank as the first block, and left of it
    names = []
    for grp in groups:
        convs = " → ".join(_conv_brief(c) for c in _block_convs(tr, grp.first))
        if grp.count == 1:
            node, lab = grp.first.name, f"{grp.first.paper_name} · {grp.first.name}\n{convs}"
        else:
            node = _group_node(grp)
            lab = t(
                "diagrams.collapsed", first=grp.first.paper_name, last=grp.last.paper_name,
                block=tr.block_class, n=grp.count, convs=convs,
            )  # fmt: skip
        fill = _ORANGE if grp.first.dashed else _BLUE
        members = [b.name for b in blocks][
            int(grp.first.name.rsplit(".", 1)[1]) : int(grp.last.name.rsplit(".", 1)[1]) + 1
        ]
        g.node(node, label=lab, fillcolor=fill, group="main", **_step_attrs(members, highlight, node_urls))
        if not tr.plain:
            g.node(node + ".add", label="+", shape="circle", width=0.22, height=0.22, fixedsize="true",
                   fillcolor="white", fontsize=11, group="main")  # fmt: skip
        names.append(node)
    g.close()
    for node, grp in zip(names, groups):
        block_in = g.tail
        g.link(node, _shape(grp.first.input_shape))
        if not tr.plain:
            g.link(node + ".add")
            label = _shortcut_label(tr, grp.first, t)
            _shortcut(g, block_in, node + ".add", grp.first.dashed, label, ports=True)


# ------------------------------------------------------------------------------------ Figure 3: VGG-19 / plain / residual


def compare_dot(t: Translator, *, arch: str = "resnet34", input_size: int = 224) -> str:
    """The paper's Figure 3: VGG-19, the 34-layer plain network and ResNet-34 side by side, one node per weighted
    layer. The plain and residual columns are the same layers; the only difference is the shortcuts."""
    g = _Dot("figure3", t("diagrams.compare_title"), ranksep=0.12, nodesep=0.5)
    heads: list[str] = []

    # VGG-19, from the catalogue's layer list (architecture data, checked against torchvision's vgg19).
    g.cluster("vgg", label="VGG-19", style="rounded", color="#999999")
    prev = None
    for i, (kind, k, c) in enumerate(VGG19_LAYERS):
        node = f"vgg{i}"
        label = {
            "conv": f"{k}×{k} conv, {c}",
            "pool": t("diagrams.pool_half"),
            "fc": f"fc {c}",
        }[kind]
        g.node(node, label=label, fillcolor=_GREY if kind == "pool" else _BLUE)
        if prev is None:
            heads.append(node)
        else:
            g.edge(prev, node)
        prev = node
    g.close()

    for plain in (True, False):
        tr = trace(arch, input_size, plain=plain)
        prefix = "plain" if plain else "res"
        label = t("diagrams.plain_column" if plain else "diagrams.residual_column", n=tr.layer_count)
        g.cluster(prefix, label=label, style="rounded", color="#999999")
        prev = None
        entry: dict[str, str] = {}  # block name -> the node its input comes from
        nodes: list[str] = []
        for row in tr.rows:
            if row.kind == "conv" and row.counted:
                label = f"{row.kernel}×{row.kernel} conv, {row.output_shape[0]}{_stride_mark(row.stride)}"
            elif row.kind == "maxpool":
                label = t("diagrams.pool_stride", s=row.stride)
            elif row.kind == "avgpool":
                label = t("diagrams.avgpool")
            elif row.kind == "fc":
                label = f"fc {row.output_shape[0]}"
            else:
                continue
            node = f"{prefix}_{row.name}"
            fill = _ORANGE if (row.stride or 1) != 1 and row.kind == "conv" else _BLUE
            if row.kind in ("maxpool", "avgpool"):
                fill = _GREY
            g.node(node, label=label, fillcolor=fill, group=prefix)
            if row.name.endswith(".conv1") and row.depth == 2:
                entry[row.parent or ""] = prev or ""
            if prev is None:
                heads.append(node)
            else:
                g.edge(prev, node)
            nodes.append(node)
            prev = node
        g.close()
        if not plain:
            # A shortcut spans its block: from the block's input to the node after its last conv.
            for block in tr.blocks:
                last_conv = _block_convs(tr, block)[-1]
                after = nodes[nodes.index(f"{prefix}_{last_conv.name}") + 1]
                label = _shortcut_label(tr, block, t)
                _shortcut(g, entry[block.name], after, block.dashed, label, penwidth=1.2, ports=True)
    g.same_rank(*heads)  # the three columns side by side, in the paper's order
    return g.text()
