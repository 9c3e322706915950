"""Graphviz diagrams of the networks, built as DOT text from a :class:`~resnet_viz.architecture.trace.Trace`.

Building DOT needs no graphviz program and no torch: every function here is a pure function of the trace (and of
VGG-19's layer list in the catalogue for the Figure 3 comparison) and a translator ``t``, and returns text, which
``st.graphviz_chart`` renders in the browser. Only :func:`render` (SVG/PNG for slides) needs the ``dot``
program; it goes through the ``graphviz`` package and raises a one-line ``OSError`` where ``dot`` is missing.

DOT is written by hand rather than with ``graphviz.Digraph`` because the pages need the text itself (download,
golden files, edge counting in tests) and building it as lines of text is ~10× faster than the object API for
resnet152. All of it goes through one small writer, :class:`_Dot`, so every diagram has one style: quoted ids,
one statement per line, ``[key="value", …]`` attribute lists, clusters as ``subgraph "cluster_…" {`` followed by
their ``graph [...]`` line. Every shortcut edge carries ``class="shortcut"`` (and every other edge none), so the
shortcuts can be counted on the text: identity shortcuts are solid, projection (and option-A zero-pad) dashed.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resnet_viz.architecture.catalogue import VGG19_LAYERS
from resnet_viz.architecture.trace import Row, Trace, trace
from resnet_viz.formatting import fmt_shape
from resnet_viz.i18n import Translator, arch_title
from resnet_viz.render.style import DOT_FONT, PRESENTER_DOT_SCALE, presenter_colour

#: Above this many blocks the overview collapses each stage's repeated blocks by default (resnet56/101/110/152).
COLLAPSE_ABOVE_BLOCKS = 24
VIEWS = ("overview", "block", "compare")
FORMATS = ("dot", "svg", "png")

_BLUE, _GREEN, _ORANGE, _GREY, _RED = "#dbe8f8", "#e3f2e1", "#fde6c8", "#f2f2f2", "#c0392b"


# ------------------------------------------------------------------------------------------------ presenter mode

_COLOUR_ATTR = re.compile(r'\b(color|fillcolor|fontcolor)="([^"]*)"')
_FONTSIZE = re.compile(r"\bfontsize=([0-9.]+)")
_PENWIDTH = re.compile(r"\bpenwidth=([0-9.]+)")
_FIXED_SIZE = re.compile(r"\b(width|height)=([0-9.]+)(?=.*fixedsize=\"true\")")


def presenter_dot(dot_text: str, *, fit: tuple[float, float] | None = None) -> str:
    """Any of this module's diagrams restyled for the projector: Okabe–Ito colours (``style.PRESENTER_MAP``),
    black text and outlines, text 1.4× larger and lines thicker. Line styles are kept, so a shortcut's kind is
    still solid vs dashed, not only a colour. A pure rewrite of the attributes, so every diagram gets it the same.

    ``fit`` (width, height in inches) scales the drawing up or down until it just fits that box (graphviz's
    ``size="w,h!"``): the browser shows a graphviz chart at its natural size, so this is what makes a small block
    diagram fill a projector's screen."""

    def line(text: str) -> str:
        text = _COLOUR_ATTR.sub(
            lambda m: f'{m[1]}="{"#000000" if m[1] == "fontcolor" else presenter_colour(m[2])}"', text
        )
        text = _FONTSIZE.sub(lambda m: f"fontsize={float(m[1]) * PRESENTER_DOT_SCALE:g}", text)
        text = _PENWIDTH.sub(lambda m: f"penwidth={max(2.0, float(m[1]) * 1.5):g}", text)
        if 'fixedsize="true"' in text:  # the "+" circles grow with their text
            text = _FIXED_SIZE.sub(lambda m: f"{m[1]}={float(m[2]) * PRESENTER_DOT_SCALE:g}", text)
        stripped = text.lstrip()
        if stripped.startswith("node ["):
            text = text.replace("node [", 'node [color="#000000", fontcolor="#000000", penwidth=1.5, ', 1)
        elif stripped.startswith("edge ["):
            text = text.replace("edge [", 'edge [fontcolor="#000000", penwidth=2, ', 1)
        elif stripped.startswith("graph [") and "rankdir" in text:
            size = f'size="{fit[0]:g},{fit[1]:g}!", ' if fit else ""
            text = text.replace("graph [", f'graph [{size}fontcolor="#000000", bgcolor="#FFFFFF", ', 1)
        return text

    return "\n".join(line(x) for x in dot_text.split("\n"))


# ----------------------------------------------------------------------------------------------------- the writer


def _q(text: str) -> str:
    """A DOT double-quoted string; a newline in ``text`` becomes a DOT line break (centred)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw: object) -> str:
    """``[key="value", n=1]``; ``None`` values are left out, a trailing ``_`` is dropped (``class_`` → class)."""
    parts = []
    for key, value in kw.items():
        if value is None:
            continue
        key = key.rstrip("_")
        parts.append(f"{key}={value if isinstance(value, (int, float)) else _q(str(value))}")
    return "[" + ", ".join(parts) + "]" if parts else ""


def _is_wide(ch: str) -> bool:
    return ord(ch) >= 0x2E80 and not 0xFE00 <= ord(ch) <= 0xFE0F


def _with_cjk_width(kw: dict[str, object]) -> dict[str, object]:
    """Node attributes, with a minimum width for labels holding CJK characters.

    Graphviz sizes a box from its own font metrics; the browser renderer (graphviz compiled to WASM) knows only
    Latin metrics and counts a CJK character as about half its real width, so '全局平均池化' overflows its box.
    The width computed here (a CJK character is 1 em, anything else ~0.6 em) keeps every label inside.
    """
    label = str(kw.get("label", ""))
    if "width" not in kw and any(_is_wide(c) for c in label):
        size = float(kw.get("fontsize", 10))  # type: ignore[arg-type]
        ems = max(sum(1.0 if _is_wide(c) else 0.6 for c in line) for line in label.split("\n"))
        kw["width"] = round(ems * size / 72 + 0.3, 2)
    return kw


class _Dot:
    """The one way DOT is written here: a digraph with default styles, clusters, nodes and edges, one per line.

    ``tail`` is the last node of the main path, so :meth:`link` hangs each new step from the one before.
    """

    def __init__(self, name: str, title: str, *, ranksep: float = 0.18, nodesep: float = 0.25) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self.tail = "input"
        self.open("digraph", name)
        self.defaults("graph", rankdir="TB", fontname=DOT_FONT, fontsize=13, labelloc="t", label=title,
                      ranksep=ranksep, nodesep=nodesep, newrank="true")  # fmt: skip
        self.defaults("node", shape="box", style="rounded,filled", fillcolor=_BLUE, fontname=DOT_FONT,
                      fontsize=10, height=0.3, margin="0.08,0.03")  # fmt: skip
        self.defaults("edge", fontname=DOT_FONT, fontsize=8, arrowsize=0.6, color="#444444")

    def _put(self, statement: str) -> None:
        self.lines.append("  " * self.depth + statement)

    def open(self, keyword: str, name: str) -> None:
        self._put(f"{keyword} {_q(name)} {{")
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self._put("}")

    def cluster(self, name: str, **graph: object) -> None:
        """Open ``subgraph "cluster_<name>"`` with its own graph attributes; :meth:`close` ends it."""
        self.open("subgraph", "cluster_" + name)
        self.defaults("graph", **graph)

    def defaults(self, kind: str, **attrs: object) -> None:
        self._put(f"{kind} {_attrs(**attrs)};")

    def node(self, name: str, **attrs: object) -> None:
        self._put(f"{_q(name)} {_attrs(**_with_cjk_width(attrs))};")

    def edge(self, tail: str, head: str, **attrs: object) -> None:
        text = _attrs(**attrs)
        self._put(f"{_q(tail)} -> {_q(head)}{' ' + text if text else ''};")

    def link(self, head: str, label: str | None = None) -> None:
        """An edge from the main path's tail to ``head``, which becomes the new tail."""
        self.edge(self.tail, head, label=label)
        self.tail = head

    def same_rank(self, *names: str) -> None:
        """Put ``names`` on one rank, left to right in this order (invisible edges inside a rank run that way)."""
        self._put(f"{{ rank=same; {' -> '.join(_q(n) for n in names)} [style=invis]; }}")

    def text(self) -> str:
        while self.depth:
            self.close()
        return "\n".join(self.lines) + "\n"


# ----------------------------------------------------------------------------------------------------- pieces


def _shape(shape: tuple[int, ...]) -> str:
    return fmt_shape(shape)


def _stride_mark(stride: int | None) -> str:
    return f", /{stride}" if stride and stride != 1 else ""


def _conv_brief(row: Row) -> str:
    """'3×3, 128, /2' — the paper's Table 1 way of naming a conv."""
    return f"{row.kernel}×{row.kernel}, {row.output_shape[0]}{_stride_mark(row.stride)}"


def _block_convs(tr: Trace, block: Row) -> list[Row]:
    return [r for r in tr.children(block.name) if r.kind == "conv"]


def _shortcut_label(tr: Trace, block: Row, t: Translator) -> str | None:
    """The label of a block's shortcut edge: what the dashed line does, with its numbers."""
    cin, cout = block.input_shape[0], block.output_shape[0]
    if block.shortcut == "projection":
        conv = tr.row(f"{block.name}.downsample.0")
        key = "diagrams.projection_label" if conv.stride != 1 else "diagrams.projection_label_s1"
        return t(key, stride=conv.stride, cin=cin, cout=cout)
    if block.shortcut == "zero_pad":
        return t("diagrams.zero_pad_label", stride=block.stride, cin=cin, cout=cout)
    return None


def _shortcut(
    g: _Dot, tail: str, head: str, dashed: bool, label: str | None, *, penwidth: float = 1.6,
    ports: bool = False,
) -> None:  # fmt: skip
    """A shortcut edge: solid green for identity, dashed red for a projection or option-A zero-padding."""
    color = _RED if dashed else "#2e7d32"
    g.edge(
        tail, head, class_="shortcut", style="dashed" if dashed else "solid", color=color, penwidth=penwidth,
        label=label, fontcolor=color if label else None, tailport="e" if ports else None,
        headport="e" if ports else None, constraint="false" if ports else None,
    )  # fmt: skip


@dataclass(frozen=True)
class _Group:
    """Consecutive blocks drawn as one node: a single block, or 'block × N' when a stage is collapsed."""

    first: Row
    last: Row
    count: int


def _groups(tr: Trace, stage: str, collapse: bool) -> list[_Group]:
    blocks = [r for r in tr.blocks if r.parent == stage]
    if not collapse:
        return [_Group(b, b, 1) for b in blocks]
    groups: list[_Group] = []
    for b in blocks:
        prev = groups[-1] if groups else None
        same = (
            prev is not None
            and prev.first.shortcut == b.shortcut
            and prev.first.input_shape == b.input_shape
            and prev.first.output_shape == b.output_shape
        )
        if same:
            groups[-1] = _Group(prev.first, b, prev.count + 1)  # type: ignore[union-attr]
        else:
            groups.append(_Group(b, b, 1))
    return groups


def default_collapse(tr: Trace) -> bool:
    """Collapse the stages by default for the deep networks, where one node per block would be a long scroll."""
    return len(tr.blocks) > COLLAPSE_ABOVE_BLOCKS


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
        t("diagrams.overview_title", title=arch_title(t, tr.arch), size=_shape(tr.input_size))
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


# ----------------------------------------------------------------------------------------------- block internals


def block_kind(tr: Trace, block: Row) -> str:
    """Which of the seed notes' kinds a block is: identity, projection_channels (conv2_1 of ResNet-50),
    projection_stride (conv3_1 …), zero_pad (CIFAR option A), or none (plain)."""
    if block.shortcut == "projection":
        return "projection_channels" if block.stride == 1 else "projection_stride"
    return block.shortcut or "none"


def block_dot(tr: Trace, block_name: str, t: Translator, *, highlight: str | None = None) -> str:
    """One block with every layer: each conv's kernel, stride, padding and channels, the shapes between them, and
    its shortcut (solid identity, dashed 1×1 projection or zero-pad). For a down-sampling Bottleneck the strided
    conv is marked with where v1 (the paper) and v1.5 (torchvision) put the stride. The conv named ``highlight``
    (e.g. ``layer2.0.conv2``, ``layer2.0.downsample.0``) gets a thick black border."""
    mark = {"penwidth": 3.5, "color": "#000000", "style": "rounded,filled,bold"}
    try:
        block = tr.row(block_name)
    except KeyError:
        raise ValueError(
            f"no block {block_name!r} in {tr.arch}; blocks are {tr.blocks[0].name} … {tr.blocks[-1].name}"
        ) from None
    if block.kind != "block":
        raise ValueError(f"{block_name!r} is not a block of {tr.arch} (try e.g. {tr.blocks[0].name})")
    kind = block_kind(tr, block)
    title = t(
        "diagrams.block_title", paper=block.paper_name, name=block.name, block=tr.block_class,
        kind=t(f"diagrams.kind_{kind}"),
    )  # fmt: skip
    g = _Dot(f"{tr.arch}_{block.name}", title, ranksep=0.22)
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


# ------------------------------------------------------------------------------------------------------- rendering


def dot_available() -> bool:
    """Whether the graphviz ``dot`` program is installed (needed for SVG/PNG export only)."""
    return shutil.which("dot") is not None


@functools.lru_cache(maxsize=8)  # a PNG of resnet152 expanded is ~1 MB: keep few
def render(dot_text: str, fmt: str) -> bytes:
    """DOT text → SVG or PNG bytes via the ``graphviz`` package and the ``dot`` program."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"cannot render to {fmt!r}; choose svg or png")
    if not dot_available():
        raise OSError(
            f"{fmt.upper()} needs the graphviz 'dot' program, which is not installed "
            "(apt install graphviz); use --format dot"
        )
    import graphviz

    if fmt == "png":  # 150 dpi: sharp enough for a projected slide
        dot_text = dot_text.replace("  graph [", "  graph [dpi=150, ", 1)
    try:
        return graphviz.Source(dot_text).pipe(format=fmt, **({"renderer": "cairo"} if fmt == "png" else {}))
    except graphviz.ExecutableNotFound as exc:
        raise OSError(f"the graphviz 'dot' program could not be run: {exc}") from None
    except graphviz.CalledProcessError as exc:
        raise OSError(f"dot failed: {str(exc.stderr or exc).strip().splitlines()[-1:]}") from None


def count_shortcut_edges(dot_text: str) -> dict[str, int]:
    """How many shortcut edges a DOT text draws, by style: {'solid': n, 'dashed': m}."""
    counts = {"solid": 0, "dashed": 0}
    for line in dot_text.splitlines():
        if "->" in line and 'class="shortcut"' in line:
            counts["dashed" if 'style="dashed"' in line else "solid"] += 1
    return counts


__all__: Sequence[str] = (
    "block_dot",
    "block_kind",
    "compare_dot",
    "count_shortcut_edges",
    "default_collapse",
    "dot_available",
    "overview_dot",
    "render",
    "representative_blocks",
)
