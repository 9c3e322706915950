"""Plotly figures of the "Why residual" experiments: pure functions of the experiments' records and a ``t``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments import DATASETS, GradientFlow
from resnet_viz.experiments.readings import net_name
from resnet_viz.experiments.summaries import chance_error
from resnet_viz.i18n import Translator, arch_title, say
from resnet_viz.render.style import FONT

#: Plain in warm colours, residual in cool ones; the deeper network is the darker shade (as in the paper).
COLOURS = {
    "plain": "#d62728",
    "residual": "#1f77b4",
    "plain-20": "#ff9896",
    "plain-56": "#d62728",
    "resnet-20": "#9ecae1",
    "resnet-56": "#1f77b4",
}
_DEPTH_COLOURS = {"plain": ("#fdae6b", "#e6550d", "#a63603"), "resnet": ("#9ecae1", "#3182bd", "#08519c")}


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        font={"family": FONT, "size": 13},
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        template="plotly_white",
        hovermode="x unified",
    )
    return fig


def gradient_flow_figure(flow: GradientFlow, t: Translator) -> go.Figure:
    """Gradient norm of every main-path conv layer, input side left, on a log scale: plain vs residual."""
    x = list(range(1, len(flow.layers) + 1))
    fig = go.Figure()
    for key, values in (("plain", flow.plain), ("residual", flow.residual)):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(values),
                mode="lines+markers",
                name=t(f"why_residual.grad_trace_{key}", depth=len(flow.layers) + 1),
                line={"color": COLOURS[key], "width": 2},
                marker={"size": 5},
                customdata=list(flow.layers),
                hovertemplate="%{customdata}: %{y:.3g}<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", title=t("why_residual.grad_axis_y"), exponentformat="power")
    fig.update_xaxes(title=t("why_residual.grad_axis_x"))
    return _layout(
        fig, t("why_residual.grad_chart_title", arch=arch_title(t, flow.arch), size=flow.input_size)
    )


def _label(t: Translator, run: Mapping[str, Any]) -> str:
    """A degradation run's network name (``plain-56`` / ``ResNet-56``)."""
    return say(t, net_name(ExperimentNet(run["depth"], run["plain"])))


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _add_band(
    fig: go.Figure, x: list, lo: list[float], hi: list[float], colour: str, alpha: float, group: str, col: int
) -> None:
    """The seeds' spread as a filled band from ``lo`` to ``hi`` (two invisible lines, the second filled down to
    the first), in the legend group of the line it belongs to."""
    for y, fill in ((lo, None), (hi, "tonexty")):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                line={"width": 0, "color": colour},
                fill=fill,
                fillcolor=_rgba(colour, alpha),
                legendgroup=group,
                showlegend=False,
                hoverinfo="skip",
            ),
            row=1,
            col=col,
        )


def degradation_figure(data: Mapping[str, Any], t: Translator) -> go.Figure:
    """The paper's Figure 1/6 layout: left the plain networks, right the residual ones; error (%) per epoch,
    dashed = training error, solid = test error, the deeper network in the darker colour. A record with several
    seeds (``per_seed``) draws the mean as the line and the lowest–highest seed as a band around it."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=(t("why_residual.deg_plain_panel"), t("why_residual.deg_resnet_panel")),
        horizontal_spacing=0.06,
    )
    depths = sorted({r["depth"] for r in data["runs"]})
    for run in data["runs"]:
        kind = "plain" if run["plain"] else "resnet"
        shades = _DEPTH_COLOURS[kind]
        colour = shades[
            min(len(shades) - 1, depths.index(run["depth"]) * (len(shades) - 1) // max(1, len(depths) - 1))
        ]
        col = 1 if run["plain"] else 2
        epochs = list(range(1, len(run["test_error"]) + 1))
        name = _label(t, run)
        per_seed = run.get("per_seed")
        for series, dash, width in (("train_error", "dash", 1.5), ("test_error", "solid", 3)):
            if per_seed and len(per_seed[series]) > 1:
                # The seeds' spread: a band from the lowest to the highest seed at every epoch.
                lo = [100 * min(s[i] for s in per_seed[series]) for i in range(len(epochs))]
                hi = [100 * max(s[i] for s in per_seed[series]) for i in range(len(epochs))]
                _add_band(fig, epochs, lo, hi, colour, 0.18, name, col)
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[100 * e for e in run[series]],
                    mode="lines",
                    name=t(f"why_residual.deg_{series}", net=name),
                    legendgroup=name,
                    line={"color": colour, "dash": dash, "width": width},
                    hovertemplate="%{y:.1f}%<extra>" + t(f"why_residual.deg_{series}", net=name) + "</extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(title=t("why_residual.deg_axis_y"), row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title=t("why_residual.deg_axis_x"))
    fig.update_layout(hovermode="closest")
    fig = _layout(fig, t("why_residual.deg_chart_title"), height=520)
    # Eight entries: below the panels, where they cannot cover the title or the curves.
    fig.update_layout(
        margin={"t": 80, "b": 120},
        legend={"orientation": "h", "y": -0.2, "yanchor": "top", "x": 0, "xanchor": "left"},
    )
    return fig


def removal_figure(removal: Mapping[str, Any], t: Translator, metric: str = "top1_error") -> go.Figure:
    """Test error after deleting one block, block by block, residual vs plain, with each net's intact error."""
    fig = go.Figure()
    for label, sweep in removal["nets"].items():
        kind = "plain" if ExperimentNet.parse(label).plain else "residual"
        names = list(sweep["blocks"])
        fig.add_trace(
            go.Scatter(
                x=names,
                y=[100 * sweep["blocks"][n][metric] for n in names],
                mode="markers+lines",
                name=t(f"why_residual.rm_trace_{kind}", depth=removal["depth"]),
                line={"color": COLOURS[kind], "width": 1.5},
                marker={"size": 7},
                hovertemplate="%{x}: %{y:.1f}%<extra></extra>",
            )
        )
        fig.add_hline(
            y=100 * sweep["baseline"][metric],
            line={"color": COLOURS[kind], "dash": "dot", "width": 1},
            annotation_text=t(f"why_residual.rm_baseline_{kind}"),
            annotation_position="top left",
        )
    # Chance on C balanced classes: (C − 1)/C wrong at top-1, (C − 5)/C at top-5 (the record's data set).
    classes = DATASETS.get(removal.get("settings", {}).get("dataset", "shapes"), 10)
    chance = round(100 * chance_error(classes, metric), 1)
    fig.add_hline(
        y=chance,
        line={"color": "#7f7f7f", "dash": "dash", "width": 1},
        annotation_text=t("why_residual.rm_chance", pct=chance),
        annotation_position="bottom right",
    )
    fig.update_yaxes(title=t(f"why_residual.rm_axis_{metric}"), range=[0, 100])
    fig.update_xaxes(title=t("why_residual.rm_axis_x"), type="category", tickangle=-60)
    fig.update_layout(hovermode="closest")
    return _layout(fig, t("why_residual.rm_chart_title"), height=440)


def identity_figure(rows_zero: list, rows_default: list, t: Translator) -> go.Figure:
    """‖F(x)‖ per block at initialisation: torchvision's default init vs ``zero_init_residual=True``."""
    names = [r.name for r in rows_default]
    fig = go.Figure()
    for key, rows, colour in (
        ("id_default", rows_default, "#9467bd"),
        ("id_zero", rows_zero, COLOURS["residual"]),
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r.residual_norm for r in rows],
                name=t(f"why_residual.{key}"),
                marker_color=colour,
                # A bar of height 0 is invisible: write the measured value on the zero-init bars.
                text=[f"{r.residual_norm:.3g}" for r in rows] if key == "id_zero" else None,
                textposition="outside",
                textfont={"color": colour},
                hovertemplate="%{x}: ‖F(x)‖ = %{y:.4g}<extra></extra>",
            )
        )
    fig.update_yaxes(title="‖F(x)‖", rangemode="tozero")
    fig.update_xaxes(type="category", tickangle=-60)
    fig.update_layout(barmode="group", hovermode="closest")
    return _layout(fig, t("why_residual.id_chart_title"), height=360)


#: One shade per checkpoint of the gradient-steps figure: init lightest … 100 steps darkest.
_STEP_SHADES = {
    "plain": ("#fdd0a2", "#fd8d3c", "#e6550d", "#a63603", "#7f2704"),
    "residual": ("#c6dbef", "#6baed6", "#3182bd", "#08519c", "#08306b"),
}


def gradient_steps_figure(record: Mapping[str, Any], t: Translator) -> go.Figure:
    """Gradient norm per main-path conv at each checkpoint (init, after 1, 10, 100 SGD steps), plain left and
    residual right, log scale; the line is the mean over the record's seeds, the band the lowest–highest seed."""
    steps = list(record["settings"]["steps"])
    layers = list(record["layers"])
    x = list(range(1, len(layers) + 1))
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=(
            t("why_residual_training.panel_plain", depth=record["settings"]["depth"]),
            t("why_residual_training.panel_residual", depth=record["settings"]["depth"]),
        ),
        horizontal_spacing=0.05,
    )
    for col, kind in ((1, "plain"), (2, "residual")):
        for i, step in enumerate(steps):
            rows = [seed[kind]["grad"][i] for seed in record["per_seed"]]
            mean = [sum(r[j] for r in rows) / len(rows) for j in range(len(layers))]
            colour = _STEP_SHADES[kind][min(i, len(_STEP_SHADES[kind]) - 1)]
            kind_name = t(f"why_residual_training.kind_{kind}")
            key = {0: "trace_init", 1: "trace_one"}.get(step, "trace_step")
            name = t(f"why_residual_training.{key}", steps=step, kind=kind_name)
            if len(rows) > 1:
                lo = [min(r[j] for r in rows) for j in range(len(layers))]
                hi = [max(r[j] for r in rows) for j in range(len(layers))]
                _add_band(fig, x, lo, hi, colour, 0.2, name, col)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=mean,
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    line={"color": colour, "width": 2},
                    customdata=layers,
                    hovertemplate="%{customdata}: %{y:.3g}<extra>" + name + "</extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title=t("why_residual_training.axis_y"), row=1, col=1)
    fig.update_xaxes(title=t("why_residual_training.axis_x"))
    fig.update_layout(hovermode="closest")
    seeds = record["per_seed"]
    title = (
        t("why_residual_training.chart_title", seeds=len(seeds))
        if len(seeds) > 1
        else t("why_residual_training.chart_title_one", seed=seeds[0]["seed"])
    )
    fig = _layout(fig, title, height=500)
    fig.update_layout(
        margin={"t": 80, "b": 120},
        legend={"orientation": "h", "y": -0.22, "yanchor": "top", "x": 0, "xanchor": "left"},
    )
    return fig
