"""The one DOT writer (:class:`_Dot`), the pieces every diagram shares, and presenter mode's restyling."""

from __future__ import annotations

import re
from dataclasses import dataclass

from resnet_viz.architecture.trace import Row, Trace
from resnet_viz.formatting import fmt_shape
from resnet_viz.i18n import Translator
from resnet_viz.render.style import DOT_FONT, PRESENTER_DOT_SCALE, presenter_colour

#: Above this many blocks the overview collapses each stage's repeated blocks by default (resnet56/101/110/152).
COLLAPSE_ABOVE_BLOCKS = 24

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
