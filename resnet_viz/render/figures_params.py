"""Plotly figures of the Parameters page: pure functions of counting data and a translator ``t``.

Sized for a projector: 18 px text (never under 16), labels outside or inside bars but never on top of each other,
and a font list that renders Chinese (Noto Sans CJK is installed with the app's system packages).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.architecture.catalogue import BLOCK_CLASS
from resnet_viz.architecture.counting import DepthStats, count_table
from resnet_viz.architecture.trace import Trace
from resnet_viz.formatting import fmt_bytes_short, fmt_int, fmt_si_short
from resnet_viz.i18n import Translator, arch_title
from resnet_viz.render.style import FONT

FONT_SIZE = 18
#: One colour per stage group, stem and head in greys so the four stages stand out.
GROUP_COLOURS = {
    "stem": "#7f7f7f",
    "layer1": "#1f77b4",
    "layer2": "#ff7f0e",
    "layer3": "#2ca02c",
    "layer4": "#d62728",
    "head": "#9467bd",
}
BLOCK_COLOURS = {"basic": "#1f77b4", "bottleneck": "#ff7f0e"}


def _style(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 4}},
        font={"family": FONT, "size": FONT_SIZE},
        height=height,
        margin={"l": 20, "r": 20, "t": 80, "b": 60},
        hoverlabel={"font": {"family": FONT, "size": FONT_SIZE}},
    )
    return fig


def _group_label(group: str, paper_name: str, t: Translator) -> str:
    if group == "stem":
        return t("parameters.group_stem")
    if group == "head":
        return t("parameters.group_head")
    return paper_name


def params_treemap(tr: Trace, t: Translator) -> go.Figure:
    """Parameters as nested rectangles: network → stage → block → layer (conv, BN and fc apart).

    Shows three levels at once (network, stage, block) so block names stay readable on a projector; a click on a
    block opens its layers.
    """
    stage_rows = count_table(tr, "stage")
    block_rows = count_table(tr, "block")
    layer_rows = count_table(tr, "layer")
    root = "net"
    ids, labels, parents, values, colours = (
        [root],
        [arch_title(t, tr.arch, plain=tr.plain)],
        [""],
        [tr.total_params],
        ["#ffffff"],
    )
    for r in stage_rows:
        ids.append(r.group)
        labels.append(_group_label(r.group, r.paper_name, t))
        parents.append(root)
        values.append(r.params)
        colours.append(GROUP_COLOURS.get(r.group, "#8c564b"))
    for r in block_rows:
        if r.kind != "block":
            continue
        ids.append(r.name)
        labels.append(r.paper_name)
        parents.append(r.group)
        values.append(r.params)
        colours.append(GROUP_COLOURS.get(r.group, "#8c564b"))
    for r in layer_rows:
        ids.append("leaf:" + r.name)
        labels.append(r.name.rsplit(".", 1)[-1] if r.block else r.name)
        parents.append(r.block or r.group)
        values.append(r.params)
        colours.append(GROUP_COLOURS.get(r.group, "#8c564b"))
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            maxdepth=3,
            marker={"colors": colours, "line": {"width": 1, "color": "#ffffff"}},
            texttemplate="<b>%{label}</b><br>%{value:,}<br>%{percentRoot:.1%}",
            hovertemplate="<b>%{label}</b><br>%{value:,}<br>%{percentRoot:.2%}<extra></extra>",
            textfont={"size": FONT_SIZE, "family": FONT},
            # Rectangles too small for 16 px text stay blank (their numbers are on hover and in the table)
            # rather than showing text nobody in the back row can read.
            insidetextfont={"color": "#ffffff"},
            pathbar={"textfont": {"size": FONT_SIZE}},
            tiling={"pad": 2},
        )
    )
    fig.update_layout(uniformtext={"minsize": 16, "mode": "hide"})
    return _style(
        fig,
        t(
            "parameters.treemap_title",
            title=arch_title(t, tr.arch, plain=tr.plain),
            params=fmt_int(tr.total_params),
        ),
        620,
    )


def macs_by_stage_bar(tr: Trace, t: Translator) -> go.Figure:
    """Multiply-adds per stage (stem, conv2_x … conv5_x, fc), with parameters alongside for contrast."""
    rows = count_table(tr, "stage")
    # Horizontal bars: the stage names sit on the left axis and the values after the bars, so neither can run
    # into a neighbour however narrow the screen. First stage on top, as in the network.
    labels = [r.paper_name for r in rows]
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(t("parameters.macs_axis"), t("parameters.params_axis")),
        horizontal_spacing=0.14,
    )
    colours = [GROUP_COLOURS.get(r.group, "#8c564b") for r in rows]
    for col, values, texts in (
        (1, [r.macs for r in rows], [fmt_si_short(r.macs) for r in rows]),
        (2, [r.params for r in rows], [fmt_si_short(r.params) for r in rows]),
    ):
        fig.add_trace(
            go.Bar(
                y=labels,
                x=values,
                orientation="h",
                marker_color=colours,
                text=texts,
                textposition="outside",
                cliponaxis=False,
                constraintext="none",
                textfont={"size": FONT_SIZE},
                hovertemplate="%{y}: %{x:,}<extra></extra>",
            ),  # fmt: skip
            row=1,
            col=col,
        )
        # Head-room right of the longest bar for its label.
        fig.update_xaxes(range=[0, 1.45 * max(values)], row=1, col=col)
    fig.update_layout(showlegend=False, bargap=0.25)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=True)
    fig.update_yaxes(autorange="reversed", tickfont={"size": FONT_SIZE}, ticksuffix=" ")
    fig.update_annotations(font={"size": FONT_SIZE + 2})
    c, h, w = tr.input_size
    _style(
        fig,
        t("parameters.stage_bar_title", title=arch_title(t, tr.arch, plain=tr.plain), size=f"{h}×{w}"),
        480,
    )
    # Room on the left for the first panel's stage names and above for the title over the panel titles.
    fig.update_layout(margin={"l": 110, "t": 120})
    return fig


def depth_scaling_figure(
    stats: Sequence[DepthStats], t: Translator, *, input_size: int, batch_size: int
) -> go.Figure:
    """ResNet-18 … 152 side by side in four panels: parameters, multiply-adds, parameter and activation memory."""
    # Two-line tick labels ("ResNet" over "152") so five fit side by side without rotating.
    names = [arch_title(t, s.arch).replace("-", "<br>", 1) for s in stats]
    panels = (
        (t("parameters.dash_params"), [s.params for s in stats], [fmt_si_short(s.params) for s in stats]),
        (
            t("parameters.dash_macs", size=input_size),
            [s.macs for s in stats],
            [fmt_si_short(s.macs) for s in stats],
        ),
        (
            t("parameters.dash_param_mem"),
            [s.param_bytes for s in stats],
            [fmt_bytes_short(s.param_bytes) for s in stats],
        ),
        (
            t("parameters.dash_act_mem", batch=batch_size),
            [s.activation_bytes for s in stats],
            [fmt_bytes_short(s.activation_bytes) for s in stats],
        ),
    )
    fig = make_subplots(rows=2, cols=2, subplot_titles=[p[0] for p in panels], vertical_spacing=0.24)
    colours = [BLOCK_COLOURS[s.block] for s in stats]
    for i, (_, ys, texts) in enumerate(panels):
        fig.add_trace(
            go.Bar(
                x=names,
                y=ys,
                text=texts,
                textposition="outside",
                cliponaxis=False,
                marker_color=colours,
                showlegend=False,
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),  # fmt: skip
            row=i // 2 + 1,
            col=i % 2 + 1,
        )
        fig.update_yaxes(range=[0, 1.25 * max(ys)], row=i // 2 + 1, col=i % 2 + 1)
    fig.update_traces(constraintext="none", textfont_size=FONT_SIZE - 2, selector={"type": "bar"})
    # Legend entries for the two block kinds (the bars themselves carry no legend).
    for kind, label in BLOCK_CLASS.items():
        fig.add_trace(
            go.Bar(x=[None], y=[None], marker_color=BLOCK_COLOURS[kind], name=label, showlegend=True),
            row=1,
            col=1,
        )
    fig.update_yaxes(showticklabels=False, showgrid=False)
    fig.update_xaxes(tickfont={"size": FONT_SIZE - 2}, tickangle=0)
    fig.update_annotations(font={"size": FONT_SIZE + 2})
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.08, "xanchor": "right", "x": 1},
        bargap=0.25,
    )
    _style(fig, t("parameters.dash_title"), 720)
    # The title on the left, the legend on the right of the same line: centred, a long title ran into the legend.
    fig.update_layout(title={"x": 0, "xanchor": "left", "xref": "paper"})
    return fig


def layer_rule_table(t: Translator, current: str) -> dict[str, list[str]]:
    """The layer-count rule for every network of the catalogue, one row each: its title, block class, blocks per
    stage and depth formula (a CIFAR network's 6n+2 beside it). The Parameters page writes it as a markdown table
    with ``current`` in bold; the lesson's slide shows it as a table with ``current`` marked ◀."""
    from resnet_viz.architecture.catalogue import CATALOGUE
    from resnet_viz.architecture.counting import cifar_formula

    table: dict[str, list[str]] = {
        t("parameters.col_network"): [], t("parameters.col_block"): [], t("parameters.col_blocks"): [],
        t("parameters.col_formula"): [], t("links.col_selected"): [],
    }  # fmt: skip
    for name, spec in CATALOGUE.items():
        formula = spec.layer_count_formula
        if spec.family == "cifar":
            formula += f" ({cifar_formula(spec.layers[0])})"
        row = (arch_title(t, name), spec.block_class, " / ".join(map(str, spec.layers)), formula,
               "◀" if name == current else "")  # fmt: skip
        for column, value in zip(table, row):
            table[column].append(value)
    return table
