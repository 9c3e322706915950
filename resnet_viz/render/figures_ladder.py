"""The ResNet → ConvNeXt page's tables and chart: pure functions of the ladder's records and cited numbers.

Every number comes from :mod:`resnet_viz.architecture.ladder` (our counts, and the paper's figures as data labelled
cited) or :mod:`resnet_viz.architecture.ladder_diff`; nothing here builds a model or imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_viz.architecture.ladder import (
    CITED,
    RUNG_KEYS,
    RUNGS,
    VARIANTS,
    LayerRecord,
    RungTrace,
    module_naming,
    network_trace,
    rung_trace,
)
from resnet_viz.architecture.ladder_diff import LadderDiff
from resnet_viz.formatting import fmt_code, fmt_int, fmt_macs, fmt_shape
from resnet_viz.i18n import Translator
from resnet_viz.render.style import FONT


def rung_label(t: Translator, key: str) -> str:
    """Figure 2's label for rung (or kernel variant) ``key`` in ``t``'s language (``ladder.label_<key>``): the
    paper's own words in English, translated in zh, where the glossary's terms apply (“patchify” 输入部分, not
    stem). A network outside the ladder (a catalogue ResNet) keeps its own title."""
    if key in RUNG_KEYS or key in {v.key for v in VARIANTS}:
        return t(f"ladder.label_{key}")
    return network_trace(key).label


def part_label(t: Translator, part: str) -> str:
    """A part's name as the page shows it: the stem in ``t``'s language (``ladder.part_stem``: stem / 输入部分, the
    glossary's term); blocks, down-sampling layers and the head keep their ids (``stage2.0``, ``stage2.down``)."""
    return t("ladder.part_stem") if part == "stem" else part


def delta_arrow(n: float) -> str:
    """The arrow ``st.metric`` should draw for a difference ``n``: "down" for a decrease, "up" for an increase,
    "off" for none. Streamlit reads a string delta's direction from a leading ASCII "-", so a true minus sign
    ("−6,464", :func:`signed`) would get an up arrow without this."""
    return "down" if n < 0 else "up" if n > 0 else "off"


def gmacs(n: int) -> str:
    """Multiply-adds in G with three decimals, as the paper's GFLOPs are read beside them: 4089184256 → '4.089'."""
    return f"{n / 1e9:.3f}"


def signed(n: int) -> str:
    """A difference with its sign: +3,071,488 / −6,464 / 0 (a true minus sign)."""
    return "0" if n == 0 else ("+" if n > 0 else "−") + fmt_int(abs(n))


def signed_gmacs(n: int) -> str:
    return "0" if n == 0 else ("+" if n > 0 else "−") + gmacs(abs(n))


def heat_png(photo: Any, heat: Any, alpha: float = 0.5) -> bytes:
    """A 0..1 heat map (a CAM) blended over the photo the network saw, as PNG bytes."""
    import numpy as np

    from resnet_viz.render import tiling

    return tiling.encode_png(np.asarray(tiling.overlay(photo, heat, alpha=alpha, cmap="magma")))


def signed_si(n: int) -> str:
    """A difference of multiply-adds with its sign and an SI prefix, short enough for a metric: −108.380 M."""
    return "0" if n == 0 else ("+" if n > 0 else "−") + fmt_macs(abs(n))


def renamed_note(t: Translator, d: LadderDiff) -> str:
    """The sentence under a diff with renamed steps, naming whose module names each network carries
    (:func:`~resnet_viz.architecture.ladder.module_naming`): torchvision's Bottleneck against this app's block for
    "inverting dims" → "move ↑ d. conv", this app's block against torchvision's ConvNeXt for the last step."""
    return t("ladder.diff_renamed", n=len(d.renamed), a=rung_label(t, d.a), b=rung_label(t, d.b),
             naming_a=t(f"ladder.naming_{module_naming(d.a)}"),
             naming_b=t(f"ladder.naming_{module_naming(d.b)}"))  # fmt: skip


def walk_items(t: Translator, tr: RungTrace) -> list[str]:
    """:func:`spatial_walk` as the page writes it: each side with the role that set it, the role as code
    (``stem.conv``: an id, not a word to translate), the input in ``t``'s words."""
    return [
        t("ladder.walk_item", side=side, role=t("ladder.walk_input") if role == "input" else fmt_code(role))
        for side, role in spatial_walk(tr)
    ]


def ladder_rows(t: Translator, size: int = 224) -> list[dict[str, str]]:
    """One row per rung: the paper's label, the change, the cited top-1 and GFLOPs (Figure 2, Table 10) and our
    parameters and multiply-adds at ``size``. Column names are the translated ``ladder.col_*``."""
    rows = []
    for n, spec in enumerate(RUNGS):
        tr, cited = rung_trace(spec.key, size), CITED[spec.key]
        rows.append({
            t("ladder.col_n"): str(n),
            t("ladder.col_rung"): rung_label(t, spec.key),
            t("ladder.col_change"): t(f"ladder.change_{spec.key}"),
            t("ladder.col_top1"): f"{cited.figure_top1:.1f}",
            t("ladder.col_gflops"): f"{cited.figure_gflops:.1f}",
            t("ladder.col_table_gflops"): f"{cited.table_gflops:.2f}",
            t("ladder.col_macs"): gmacs(tr.total_macs),
            t("ladder.col_params"): fmt_int(tr.total_params),
        })  # fmt: skip
    return rows


def ladder_figure(t: Translator, size: int = 224) -> Any:
    """Figure 2 as a chart: the cited top-1 of every rung (bars) and, on the right axis, the cited GFLOPs beside
    our multiply-adds (G). The cited series say "cited" in their names."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    labels = [rung_label(t, r.key) for r in RUNGS]
    cited = [CITED[r.key] for r in RUNGS]
    ours = [rung_trace(r.key, size).total_macs / 1e9 for r in RUNGS]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=labels, y=[c.figure_top1 for c in cited], name=t("ladder.fig_top1"),
                         marker_color="#dbe8f8", marker_line_color="#35507a", marker_line_width=1,
                         text=[f"{c.figure_top1:.1f}" for c in cited], textposition="outside"),
                  secondary_y=False)  # fmt: skip
    fig.add_trace(go.Scatter(x=labels, y=[c.figure_gflops for c in cited], name=t("ladder.fig_gflops"),
                             mode="markers", marker={"symbol": "diamond-open", "size": 11, "color": "#c0392b"}),
                  secondary_y=True)  # fmt: skip
    fig.add_trace(go.Scatter(x=labels, y=ours, name=t("ladder.fig_macs"), mode="lines+markers",
                             line={"color": "#2e7d32", "dash": "dot"}, marker={"symbol": "circle", "size": 7}),
                  secondary_y=True)  # fmt: skip
    low = min(c.figure_top1 for c in cited)
    fig.update_yaxes(title_text=t("ladder.fig_axis_top1"), range=[low - 1.5, 83], secondary_y=False)
    fig.update_yaxes(
        title_text=t("ladder.fig_axis_g"), range=[0, 6], dtick=1, showgrid=False, secondary_y=True
    )
    fig.update_layout(font={"family": FONT}, height=380, margin={"t": 30, "b": 10, "l": 10, "r": 10},
                      legend={"orientation": "h", "y": -0.35}, title=None)  # fmt: skip
    return fig


def spatial_walk(tr: RungTrace) -> list[tuple[int, str]]:
    """The feature map's side after every step that changes it, with the step's role: [(224, 'input'), (56,
    'stem.conv'), …] (the global pool's 1 included)."""
    walk = [(tr.input_size[1], "input")]
    for r in tr.records:
        if len(r.output_shape) == 3 and r.output_shape[1] != walk[-1][0] and ".shortcut." not in r.role:
            walk.append((r.output_shape[1], r.role))
    return walk


@dataclass(frozen=True)
class PartRow:
    """One part of a rung (stem, a block, a down-sampling layer, the head) summed up."""

    part: str
    module: str  # the module that holds it: a block's container (layer1.0, features.1.0), else its modules
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int  # after its last main-path step


def part_rows(tr: RungTrace) -> list[PartRow]:
    """The rung's parts in order, each with its shapes, parameters, multiply-adds and receptive field."""
    groups: dict[str, list[LayerRecord]] = {}
    for r in tr.records:
        groups.setdefault(r.block, []).append(r)
    rows = []
    for part, recs in groups.items():
        main = [r for r in recs if ".shortcut." not in r.role]
        rows.append(PartRow(part, part_module(recs), recs[0].input_shape, main[-1].output_shape,
                            sum(r.params for r in recs), sum(r.macs for r in recs),
                            max(r.receptive_field for r in main)))  # fmt: skip
    return rows


def part_module(records: list[LayerRecord] | tuple[LayerRecord, ...]) -> str:
    """The module that holds a part's steps: the longest common prefix of their module names (a block's container,
    ``layer1.0`` or ``features.1.0``; ConvNeXt's stem ``features.0``); where they share none (ResNet's stem, the
    head), their top-level modules in order: ``conv1, bn1, relu, maxpool``; ``avgpool, fc``."""
    names = [r.name.split(".") for r in records]
    common: list[str] = []
    for parts in zip(*names):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if common:
        return ".".join(common)
    return ", ".join(dict.fromkeys(n[0] for n in names))


def record_table(tr: RungTrace, t: Translator) -> dict[str, list[str]]:
    """Every step of a rung as table columns (translated names): role, module, kind, shapes, weights, MACs, RF."""
    cols: dict[str, list[str]] = {t(f"ladder.col_{c}"): [] for c in
                                  ("role", "module", "kind", "input", "output", "step_params", "step_macs", "rf")}  # fmt: skip
    for r in tr.records:
        values = (r.role, r.name, r.kind, fmt_shape(r.input_shape), fmt_shape(r.output_shape), fmt_int(r.params),
                  fmt_int(r.macs), str(r.receptive_field))  # fmt: skip
        for key, v in zip(cols, values):
            cols[key].append(v)
    return cols


def part_table(tr: RungTrace, t: Translator) -> dict[str, list[str]]:
    cols: dict[str, list[str]] = {t(f"ladder.col_{c}"): [] for c in
                                  ("part", "module", "input", "output", "step_params", "step_macs", "rf")}  # fmt: skip
    for p in part_rows(tr):
        values = (part_label(t, p.part), p.module, fmt_shape(p.input_shape), fmt_shape(p.output_shape), fmt_int(p.params),
                  fmt_int(p.macs), str(p.receptive_field))  # fmt: skip
        for key, v in zip(cols, values):
            cols[key].append(v)
    return cols


def diff_table(d: LadderDiff, t: Translator, note: Any) -> dict[str, list[str]]:
    """Every added, removed and changed step of a diff as table columns: what, role, module, Δparams, ΔMACs,
    and for a changed one what changed (``note(change, t)``, the diagram's notation)."""
    cols: dict[str, list[str]] = {t(f"ladder.col_{c}"): [] for c in
                                  ("what", "role", "module", "delta_params", "delta_macs", "detail")}  # fmt: skip
    for kind in ("removed", "added", "changed"):
        for c in getattr(d, kind):
            values = (t(f"ladder.mark_{kind}"), c.role, c.name, signed(c.delta_params), signed(c.delta_macs),
                      note(c, t) if kind == "changed" else "")  # fmt: skip
            for key, v in zip(cols, values):
                cols[key].append(v)
    return cols
