"""Plotly figures of the loss landscapes (Li et al. 2018): pure functions of the surfaces' data and a ``t``.

A surface is the dict written by ``scripts/make_landscape.py`` (``coords``, ``losses[j][i]`` at (α_i, β_j),
``net``). Losses span several orders of magnitude (≈ 0.001 at a trained minimum, tens far away), so colours and
heights are log10(loss); hover shows the loss itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.architecture.experiment_net import ExperimentNet
from resnet_viz.experiments.readings import net_name
from resnet_viz.i18n import say
from resnet_viz.render.figures_residual import COLOURS, FONT

Translate = Callable[..., str]


def net_title(t: Translate, net: ExperimentNet | str) -> str:
    """``"plain56"`` (any spelling) → the page's name for it (``plain-56`` / ``ResNet-56``)."""
    return say(t, net_name(ExperimentNet.parse(net)))


def _log_grid(surface: Mapping[str, Any]) -> np.ndarray:
    arr = np.array(surface["losses"], dtype=np.float64)  # None (a missing point) becomes nan
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(arr > 0, arr, np.nan))


def shared_range(surfaces: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """One log10 colour range for all surfaces (so equal colours mean equal losses)."""
    values = np.concatenate([_log_grid(s).ravel() for s in surfaces])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (0.0, 1.0)
    return float(np.floor(values.min() * 2) / 2), float(np.ceil(values.max() * 2) / 2)


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    vals = list(range(math.floor(lo), math.ceil(hi) + 1))
    return [float(v) for v in vals], [f"{10.0**v:g}" for v in vals]


def contour_figure(surfaces: Sequence[Mapping[str, Any]], t: Translate) -> go.Figure:
    """The surfaces' contour plots side by side on one shared (log) colour scale; the trained weights at (0, 0)."""
    lo, hi = shared_range(surfaces)
    tickvals, ticktext = _log_ticks(lo, hi)
    fig = make_subplots(
        rows=1,
        cols=len(surfaces),
        subplot_titles=[net_title(t, s["net"]) for s in surfaces],
        horizontal_spacing=0.08,
        shared_yaxes=True,
    )
    for col, s in enumerate(surfaces, start=1):
        fig.add_trace(
            go.Contour(
                x=s["coords"],
                y=s["coords"],
                z=_log_grid(s),
                customdata=s["losses"],
                coloraxis="coloraxis",
                contours={"coloring": "heatmap", "start": lo, "end": hi, "size": 0.25},
                line={"width": 0.5, "color": "rgba(255,255,255,0.6)"},
                hovertemplate="α %{x:.2f}, β %{y:.2f}: "
                + t("landscape.hover_loss")
                + " %{customdata:.4g}<extra></extra>",
                name=net_title(t, s["net"]),
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=[0],
                y=[0],
                mode="markers",
                marker={"symbol": "x", "size": 9, "color": "white", "line": {"width": 1, "color": "black"}},
                name=t("landscape.trained_point"),
                showlegend=col == 1,
                hoverinfo="skip",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title="α (δ)", row=1, col=col, constrain="domain")
        fig.update_yaxes(scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
    fig.update_yaxes(title="β (η)", row=1, col=1)
    fig.update_layout(
        coloraxis={
            "colorscale": "Viridis",
            "cmin": lo,
            "cmax": hi,
            "colorbar": {
                "title": {"text": t("landscape.colour_title")},
                "tickvals": tickvals,
                "ticktext": ticktext,
            },
        },
        font={"family": FONT, "size": 13},
        height=430,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": -0.3, "x": 0},
    )
    return fig


def surface_figure(
    surface: Mapping[str, Any], t: Translate, zrange: tuple[float, float] | None = None
) -> go.Figure:
    """One surface in 3-D: height and colour are log10(loss) (axis labels show the loss)."""
    z = _log_grid(surface)
    lo, hi = zrange or shared_range([surface])
    tickvals, ticktext = _log_ticks(lo, hi)
    fig = go.Figure(
        go.Surface(
            x=surface["coords"],
            y=surface["coords"],
            z=z,
            customdata=surface["losses"],
            colorscale="Viridis",
            cmin=lo,
            cmax=hi,
            colorbar={
                "title": {"text": t("landscape.colour_title")},
                "tickvals": tickvals,
                "ticktext": ticktext,
            },
            hovertemplate="α %{x:.2f}, β %{y:.2f}: "
            + t("landscape.hover_loss")
            + " %{customdata:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": net_title(t, surface["net"]), "x": 0, "xanchor": "left"},
        scene={
            "xaxis": {"title": "α (δ)"},
            "yaxis": {"title": "β (η)"},
            "zaxis": {
                "title": t("landscape.colour_title"),
                "range": [lo, hi],
                "tickvals": tickvals,
                "ticktext": ticktext,
            },
            "camera": {"eye": {"x": 1.5, "y": -1.5, "z": 0.9}},
        },
        font={"family": FONT, "size": 13},
        height=520,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
    )
    return fig


def slice_figure(
    coords: Sequence[float],
    losses: Sequence[float],
    net: ExperimentNet | str,
    t: Translate,
    shipped: Mapping[str, Any] | None = None,
) -> go.Figure:
    """The live 1-D slice (log scale), with the shipped grid's row through the origin (β = 0) if given."""
    parsed = ExperimentNet.parse(net)
    colour = COLOURS.get(parsed.label, COLOURS["plain" if parsed.plain else "residual"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(coords)[: len(losses)],
            y=list(losses),
            mode="lines+markers",
            name=t("landscape.live_trace", net=net_title(t, net)),
            line={"color": colour, "width": 2},
            marker={"size": 5},
            hovertemplate="α %{x:.2f}: %{y:.4g}<extra></extra>",
        )
    )
    if shipped is not None:
        mid = len(shipped["coords"]) // 2
        fig.add_trace(
            go.Scatter(
                x=shipped["coords"],
                y=shipped["losses"][mid],
                mode="markers",
                name=t("landscape.grid_row_trace", batch=shipped["batch"]),
                marker={"symbol": "circle-open", "size": 9, "color": "#555"},
                hovertemplate="α %{x:.2f}: %{y:.4g}<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", title=t("landscape.axis_loss"), exponentformat="power")
    fig.update_xaxes(title=t("landscape.axis_alpha"))
    fig.update_layout(
        font={"family": FONT, "size": 13},
        height=380,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        hovermode="x unified",
    )
    return fig
