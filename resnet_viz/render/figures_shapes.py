"""The shape walk as a plotly figure: spatial size and channels after every step, along the depth of the network.

A pure function of a :class:`~resnet_viz.architecture.trace.Trace`; every text comes from the ``shapes`` i18n section.
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.architecture.catalogue import get_spec
from resnet_viz.architecture.trace import Row, Trace, trace
from resnet_viz.i18n import Translator, arch_title
from resnet_viz.render.style import FONT


def walk_rows(tr: Trace, *, every_layer: bool = False) -> list[Row]:
    """The steps the walk shows: the stem, the max-pool, every block (or every layer inside them), the pool and fc."""
    keep = []
    for r in tr.rows:
        if r.kind in ("stage", "flatten", "softmax"):
            continue
        if every_layer:
            if r.leaf and r.kind not in ("shortcut", "add") and r.depth <= 2:
                keep.append(r)
        elif r.depth == 0 or r.kind == "block":
            if r.kind in ("bn", "relu"):
                continue
            keep.append(r)
    return keep


def _spatial(shape: tuple[int, ...]) -> int:
    return shape[1] if len(shape) == 3 else 1


def shape_walk_figure(
    tr: Trace, t: Translator, *, every_layer: bool = False, highlight: str | None = None
) -> go.Figure:
    """Spatial size (line, left axis) and channels (bars, right axis, log scale) after each step. The step named
    ``highlight`` (a row's name: ``layer2.0``, ``maxpool``), where the walk has it, is marked with a grey band and
    its name above the plot (a mark, not colour alone)."""
    rows = walk_rows(tr, every_layer=every_layer)
    labels = [f"{r.paper_name or r.name}" if not every_layer else r.name for r in rows]
    # Paper names repeat for the max-pool ('conv2_x (pool)'); keep every x label unique and readable.
    # The walk starts at the image itself (3 channels, full size), then one point per step.
    x = [f"0. {t('shapes.chart_input')}"] + [f"{i + 1}. {lab}" for i, lab in enumerate(labels)]
    sizes = [tr.input_size[1]] + [_spatial(r.output_shape) for r in rows]
    channels = [tr.input_size[0]] + [r.output_shape[0] for r in rows]
    hover = [t("shapes.chart_input")] + [
        f"{r.name} ({r.paper_name})" if r.paper_name else r.name for r in rows
    ]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=x, y=channels, name=t("shapes.chart_channels"), marker_color="rgba(120,150,200,0.45)",
            customdata=hover, hovertemplate="%{customdata}<br>" + t("shapes.chart_channels") + ": %{y}<extra></extra>",
        ),
        secondary_y=True,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=x, y=sizes, name=t("shapes.chart_size"), mode="lines+markers", line={"color": "#c0392b", "width": 3},
            customdata=hover, hovertemplate="%{customdata}<br>" + t("shapes.chart_size") + ": %{y}<extra></extra>",
        ),
        secondary_y=False,
    )  # fmt: skip
    fig.update_layout(
        title={
            "text": t(
                "shapes.chart_title", title=arch_title(t, tr.arch, plain=tr.plain), size=tr.input_size[1]
            )
        },
        font={"family": FONT},
        height=420,
        margin={"l": 60, "r": 60, "t": 60, "b": 120},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        bargap=0.3,
    )
    fig.update_xaxes(tickangle=-60, tickfont={"size": 10})
    fig.update_yaxes(title_text=t("shapes.chart_size_axis"), secondary_y=False, rangemode="tozero")
    ticks = sorted(set(channels))  # label exactly the channel counts that occur (log axes default to 2, 5 …)
    fig.update_yaxes(
        title_text=t("shapes.chart_channels_axis"), secondary_y=True, type="log", tickvals=ticks,
        ticktext=[str(c) for c in ticks], showgrid=False,
    )  # fmt: skip
    marked = [i + 1 for i, r in enumerate(rows) if r.name == highlight]  # +1: the input is the first point
    for i in marked:
        fig.add_vrect(x0=i - 0.5, x1=i + 0.5, fillcolor="#000000", opacity=0.12, line_width=0, layer="below")
        fig.add_annotation(
            x=x[i], y=1, yref="paper", yanchor="bottom", text=f"▼ {highlight}", showarrow=False
        )
    return fig


@dataclass(frozen=True)
class DownStep:
    """One step that shrinks the feature map, with the numbers of out = ⌊(in + 2p − k)/s⌋ + 1."""

    name: str
    paper_name: str
    kind: str  # conv, maxpool, projection, zero_pad
    size_in: int
    kernel: int
    stride: int
    padding: int
    size_out: int
    channels_in: int
    channels_out: int


def down_steps(tr: Trace) -> list[DownStep]:
    """The stem, the max-pool and every step of ``tr`` whose stride is above 1 (strided block convs, projections,
    option-A shortcuts), in network order; sizes are the trace's own (the tests check them against the formula)."""
    steps = []
    for r in tr.rows:
        if r.depth == 0 and r.kind in ("conv", "maxpool"):  # the stem and the max-pool, even at stride 1
            kind = r.kind
            k, s, p = r.kernel or 1, r.stride or 1, r.padding or 0
        elif r.kind in ("conv", "maxpool") and (r.stride or 1) > 1:
            kind = "projection" if ".downsample." in r.name else r.kind
            k, s, p = r.kernel or 1, r.stride or 1, r.padding or 0
        elif r.kind == "shortcut" and r.shortcut == "zero_pad":
            # Option A subsamples by taking every 2nd pixel: the same arithmetic as a 1×1 window with stride 2.
            kind = "zero_pad"
            k, s, p = 1, tr.row(r.parent or "").stride or 2, 0
        else:
            continue
        block = ".".join(r.name.split(".")[:2]) if r.depth >= 2 else None
        paper = r.paper_name or (tr.row(block).paper_name if block else "")
        steps.append(
            DownStep(r.name, paper, kind, r.input_shape[1], k, s, p, r.output_shape[1], r.input_shape[0],
                     r.output_shape[0])
        )  # fmt: skip
    return steps


def spatial_walk(tr: Trace) -> list[int]:
    """The distinct spatial sizes along the main path: [224, 112, 56, 28, 14, 7, 1] for resnet34 at 224."""
    sizes: list[int] = [tr.input_size[1]]
    for r in tr.rows:
        if r.depth <= 2 and r.kind in ("conv", "maxpool", "avgpool") and ".downsample" not in r.name:
            s = r.output_shape[1]
            if s != sizes[-1]:
                sizes.append(s)
    return sizes


def stage_names_note(t: Translator, arch: str) -> str:
    """Where the "paper names" of a network that is not one of the paper's ImageNet networks come from: the paper
    names only those (Table 1; its CIFAR networks have map sizes, §4.2, and the notes' listing is not in it), so
    conv2_x … for the others are this app's, in Table 1's style. Empty for the ImageNet networks."""
    spec = get_spec(arch)
    if spec.family == "imagenet":
        return ""
    ref = trace(arch, spec.default_input)  # the paper's sizes are those of its own 32×32 input
    names = t("common.list_sep").join(spec.paper_stage_names)
    if spec.family == "cifar":
        sizes = t("common.list_sep").join(f"{s.output_shape[1]}×{s.output_shape[2]}" for s in ref.stages)
        return t("common.names_cifar", names=names, sizes=sizes, size=spec.default_input)
    return t("common.names_seed004", names=names, size=spec.default_input)
