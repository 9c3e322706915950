"""One part of a ladder rung (the stem, a residual block, a separate down-sampling layer, the head) as DOT, and the
same part with what changed from another rung marked on it.

Pure functions of :class:`~resnet_viz.architecture.ladder.RungTrace` records and a
:class:`~resnet_viz.architecture.ladder_diff.LadderDiff` (no torch). A *part* is a record's
:attr:`~resnet_viz.architecture.ladder.LayerRecord.block`: ``stem``, ``stage3.0``, ``stage2.down``, ``head``. A
residual block is drawn as the block diagrams of :mod:`~resnet_viz.render.dot.block` are: its main path top to
bottom, the shortcut beside it (solid for the identity, dashed for a 1×1 projection), the addition, and the
activation after the addition where the block has one. So ConvNeXt's block reads 7×7 depthwise conv, LN, 1×1
(linear) ×4, GELU, 1×1 (linear), layer scale, +.

**Changes are marked by the node's border and a text line, never by colour alone** (:data:`MARKS`): an added step
has a double border (``peripheries=2``) and a "+" line, a changed step a thick dashed border and a "▲" line that
says what changed (``k 3→7``, ``BN→LN``, ``+ bias``), a removed step (drawn apart, in a cluster of the steps only the first network has) a
dotted border and a "✕" line. Each marked node carries ``class="added"|"changed"|"removed"``, so a test (or a
stylesheet) can count them on the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from resnet_viz.architecture.ladder import LayerRecord, RungTrace
from resnet_viz.architecture.ladder_diff import LadderDiff, ModuleChange
from resnet_viz.i18n import Translator
from resnet_viz.render.dot.writer import _GREEN, _GREY, _ORANGE, _RED, _Dot, _shape
from resnet_viz.render.figures_ladder import part_label, rung_label

#: How each kind of change is drawn: DOT attributes that change the border (shape, not colour) and the mark that
#: starts the node's extra text line. The fills differ too, but only as a second cue.
MARKS: dict[str, dict[str, object]] = {
    "added": {"peripheries": 2, "penwidth": 2.0, "style": "rounded,filled,bold"},
    "changed": {"penwidth": 2.5, "style": "rounded,filled,dashed"},
    "removed": {"style": "rounded,filled,dotted", "penwidth": 2.0},
}
MARK_SYMBOL = {"added": "+", "changed": "▲", "removed": "✕"}

_RESIDUAL_BLOCK = re.compile(r"stage\d+\.\d+")
_KIND = {"bn": "BN", "ln": "LN", "relu": "ReLU", "gelu": "GELU", "conv": "conv", "linear": "linear",
         "maxpool": "max-pool", "avgpool": "avg-pool", "layer_scale": "γ"}  # fmt: skip


def parts(tr: RungTrace) -> tuple[str, ...]:
    """The parts of a rung in network order: ``stem``, ``stage1.0`` …, ``stage2.down`` …, ``head``."""
    return tuple(dict.fromkeys(r.block for r in tr.records))


def is_residual_block(part: str) -> bool:
    """Whether ``part`` is a residual block (``stage3.0``), drawn with its shortcut and addition."""
    return _RESIDUAL_BLOCK.fullmatch(part) is not None


def changed_parts(d: LadderDiff) -> tuple[str, ...]:
    """The parts in which anything was added, removed or changed (renames alone are not changes), in the order
    of network B, then the parts only A has."""
    seen: dict[str, None] = {}
    for c in (*d.changed, *d.added):
        seen.setdefault(c.block)
    for c in d.removed:
        seen.setdefault(c.block)
    return tuple(_ordered(seen))


def _ordered(names: Mapping[str, None] | Sequence[str]) -> list[str]:
    def key(part: str) -> tuple[int, int, int]:
        if part == "stem":
            return (0, 0, 0)
        if part == "head":
            return (9, 0, 0)
        stage, _, rest = part.partition(".")
        n = int(stage.removeprefix("stage") or 0)
        return (1, n, -1 if rest == "down" else int(rest) if rest.isdigit() else 0)

    return sorted(names, key=key)


def change_note(c: ModuleChange, t: Translator) -> str:
    """What a changed step changed, in the notation of the diagrams: ``BN→LN``, ``k 3→7``, ``/1→/2``, ``g 1→384``,
    ``C_in 64→96``, ``C_out 256→96``, ``56×56→28×28``, and a bias gained or lost in ``t``'s words (``+ bias`` /
    ``加偏置``), joined with ``t``'s separator (``, `` / ``，``). Not every change is a change of shape (a kind,
    a bias), hence "changed", not "reshaped"."""
    a, b = c.a, c.b
    assert a is not None and b is not None
    notes = []
    if "kind" in c.fields:
        notes.append(f"{_KIND.get(a.kind, a.kind)}→{_KIND.get(b.kind, b.kind)}")
    both = a.kind == b.kind  # kernel, stride and groups compared only between steps of one kind
    if both and "kernel" in c.fields:
        notes.append(f"k {a.kernel}→{b.kernel}")
    if both and "stride" in c.fields:
        notes.append(f"/{a.stride}→/{b.stride}")
    if both and "groups" in c.fields:
        notes.append(f"g {a.groups}→{b.groups}")
    if a.input_shape[0] != b.input_shape[0]:
        notes.append(f"C_in {a.input_shape[0]}→{b.input_shape[0]}")
    if a.output_shape[0] != b.output_shape[0]:
        notes.append(f"C_out {a.output_shape[0]}→{b.output_shape[0]}")
    if a.output_shape[1:] != b.output_shape[1:]:
        notes.append(f"{_shape(a.output_shape[1:])}→{_shape(b.output_shape[1:])}")
    if "bias" in c.fields:
        notes.append(t(f"ladder.note_bias_{'added' if b.bias else 'removed'}"))
    return t("ladder.note_sep").join(notes)


def _short(records: Sequence[LayerRecord]) -> dict[str, str]:
    """Each record's module name without the part's common prefix (``layer3.0.conv1`` → ``conv1``)."""
    names = [r.name.split(".") for r in records]
    common = 0
    if len(names) > 1:
        while all(len(n) > common + 1 and n[common] == names[0][common] for n in names):
            common += 1
    return {r.role: ".".join(n[common:]) for r, n in zip(records, names)}


def _label(r: LayerRecord, short: str, t: Translator) -> str:
    if r.kind == "conv":
        depthwise = (r.groups or 1) > 1 and r.groups == r.input_shape[0]
        key = "ladder.dot_conv_dw" if depthwise else "ladder.dot_conv"
        return t(key, name=short, k=r.kernel, cin=r.input_shape[0], cout=r.output_shape[0], s=r.stride)
    if r.kind == "linear":
        return t("ladder.dot_linear", name=short, cin=r.input_shape[0], cout=r.output_shape[0])
    if r.kind in ("bn", "ln", "relu", "gelu"):
        return t("ladder.dot_step", name=short, kind=_KIND[r.kind])
    if r.kind == "maxpool":
        return t("ladder.dot_maxpool", name=short, k=r.kernel, s=r.stride)
    if r.kind == "avgpool":
        return t("ladder.dot_avgpool", name=short)
    if r.kind == "layer_scale":
        return t("ladder.dot_layer_scale", name=short, c=r.output_shape[0])
    return t("ladder.dot_step", name=short, kind=r.kind)


def _fill(r: LayerRecord) -> str:
    if r.kind in ("conv", "linear"):
        return _ORANGE if (r.stride or 1) != 1 else _GREEN
    return _GREY


def _node(g: _Dot, r: LayerRecord, short: str, t: Translator, mark: str | None, note: str = "") -> None:
    label = _label(r, short, t)
    attrs: dict[str, object] = {"fillcolor": _fill(r)}
    if mark is not None:
        # The language's own colon: "▲ changed: k 3→7", "▲ 改变：k 3→7".
        words = {"symbol": MARK_SYMBOL[mark], "mark": t(f"ladder.mark_{mark}")}
        label += "\n" + (
            t("ladder.dot_mark_note", note=note, **words) if note else t("ladder.dot_mark", **words)
        )
        attrs.update(MARKS[mark])
        attrs["class_"] = mark
    g.node(r.role, label=label, **attrs)


def part_dot(
    tr: RungTrace,
    part: str,
    t: Translator,
    *,
    marks: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
    removed: Sequence[LayerRecord] = (),
    title: str | None = None,
) -> str:
    """One part of rung ``tr``: its steps with kernel, channels and stride, the shapes on the edges, and for a
    residual block its shortcut and addition. ``marks`` maps roles to ``added``/``changed``/``removed`` (drawn
    per :data:`MARKS`, with ``notes`` on the changed ones); ``removed`` are steps of the other network drawn
    apart, dotted."""
    records = [r for r in tr.records if r.block == part]
    if not records:
        raise ValueError(f"{tr.key} has no part {part!r}; its parts are {', '.join(parts(tr))}")
    marks, notes = marks or {}, notes or {}
    # A block's steps are named inside the block (conv1, block.3); a stem, down-sampling layer or head keeps the
    # full module names (features.0.0 would shrink to a bare "0").
    residual = is_residual_block(part)
    if residual:
        short = _short([*records, *removed]) if removed else _short(records)
    else:
        short = {r.role: r.name for r in (*records, *removed)}
    title = title or t("ladder.dot_title", rung=rung_label(t, tr.key), part=part_label(t, part))
    g = _Dot(f"{tr.key}_{part}", title, ranksep=0.22)
    g.tail = "x"
    g.node("x", label=t("ladder.dot_in", shape=_shape(records[0].input_shape)), shape="oval", fillcolor=_GREY)
    shortcut = [r for r in records if ".shortcut." in r.role] if residual else []
    main = [r for r in records if r not in shortcut]
    after_add = main[-1] if residual and main[-1].kind in ("relu", "gelu") else None
    if after_add is not None:
        main = main[:-1]
    for r in main:
        _node(g, r, short[r.role], t, marks.get(r.role), notes.get(r.role, ""))
        g.link(r.role, _shape(r.input_shape))
    out_shape = records[-1].output_shape
    if residual:
        g.node("add", label="+", shape="circle", width=0.3, height=0.3, fixedsize="true", fillcolor="white",
               fontsize=14)  # fmt: skip
        g.link("add", _shape(main[-1].output_shape))
        if shortcut:
            g.cluster("shortcut", label=t("diagrams.shortcut_branch"), style="dashed", color=_RED, fontcolor=_RED,
                      fontsize=10)  # fmt: skip
            for r in shortcut:
                _node(g, r, short[r.role], t, marks.get(r.role), notes.get(r.role, ""))
            g.close()
            chain = ["x", *(r.role for r in shortcut), "add"]
            shapes = [_shape(records[0].input_shape), None, _shape(shortcut[-1].output_shape)]
            for (tail, head), label in zip(zip(chain, chain[1:]), shapes):
                g.edge(tail, head, class_="shortcut", style="dashed", color=_RED, penwidth=1.6, label=label)
        else:
            g.edge("x", "add", class_="shortcut", style="solid", color="#2e7d32", penwidth=1.6,
                   label=t("diagrams.identity_label"))  # fmt: skip
        if after_add is not None:
            _node(
                g,
                after_add,
                short[after_add.role],
                t,
                marks.get(after_add.role),
                notes.get(after_add.role, ""),
            )
            g.link(after_add.role)
    g.node("y", label=t("ladder.dot_out", shape=_shape(out_shape)), shape="oval", fillcolor=_GREY)
    g.link("y", _shape(out_shape))
    if removed:
        g.cluster(
            "removed", label=t("ladder.dot_removed_cluster"), style="dotted", color="#444444", fontsize=10
        )
        for r in removed:
            _node(g, r, short[r.role], t, "removed")
        g.close()
    return g.text()


def diff_dot(d: LadderDiff, a: RungTrace, b: RungTrace, part: str, t: Translator) -> str:
    """Part ``part`` of network B with what changed from network A marked (:data:`MARKS`); a part only A has is
    drawn from A, every step marked removed."""
    in_b = any(r.block == part for r in b.records)
    title = t("ladder.diff_title", a=rung_label(t, a.key), b=rung_label(t, b.key), part=part_label(t, part))
    if not in_b:
        roles = {r.role: "removed" for r in a.records if r.block == part}
        return part_dot(a, part, t, marks=roles, title=title)
    marks = {c.role: c.change for c in (*d.added, *d.changed) if c.block == part}
    notes = {c.role: change_note(c, t) for c in d.changed if c.block == part}
    removed = [c.a for c in d.removed if c.block == part and c.a is not None]
    return part_dot(b, part, t, marks=marks, notes=notes, removed=removed, title=title)


def marked_nodes(dot_text: str) -> dict[str, list[str]]:
    """The node ids of a DOT text by their change class: {'added': [...], 'changed': [...], 'removed': [...]}."""
    out: dict[str, list[str]] = {k: [] for k in MARKS}
    for line in dot_text.splitlines():
        m = re.match(r'\s*"([^"]+)" \[.*\bclass="(added|changed|removed)"', line)
        if m and "->" not in line:
            out[m[2]].append(m[1])
    return out
