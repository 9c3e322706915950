"""Figures of the shattered-gradients section (Balduzzi et al. 2017): pure functions of the records of
:mod:`resnet_viz.experiments.shattered`; plain in warm colours, residual in cool ones, as on the rest of the page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.i18n import Translator
from resnet_viz.render.figures_residual import _DEPTH_COLOURS, COLOURS, _layout, _rgba


def _scaled(values: Sequence[float]) -> np.ndarray:
    """A curve divided by its standard deviation, so that curves of very different sizes share one axis (the
    autocorrelation does not depend on the scale)."""
    v = np.asarray(values, dtype=float)
    sd = float(v.std())
    return v / sd if sd > 0 else v


def _kind_name(t: Translator, residual: bool) -> str:
    return t("shattered.kind_residual" if residual else "shattered.kind_plain")


def toy_gradient_figure(sweep: Any, t: Translator, seed_index: int = 0) -> go.Figure:
    """dy/dx over the inputs for one seed, one panel per depth, plain and residual (each ÷ its standard
    deviation)."""
    depths = list(sweep.depths)
    fig = make_subplots(
        rows=1,
        cols=len(depths),
        shared_yaxes=True,
        subplot_titles=[t("shattered.depth_title", depth=d) for d in depths],
    )
    for col, depth in enumerate(depths, start=1):
        for residual in (False, True):
            run = sweep.of(depth, residual)[seed_index]
            fig.add_trace(
                go.Scatter(
                    x=run.x,
                    y=_scaled(run.grad),
                    mode="lines",
                    line={"color": COLOURS["residual" if residual else "plain"], "width": 1.2},
                    name=_kind_name(t, residual),
                    legendgroup=str(residual),
                    showlegend=col == 1,
                    hovertemplate="x = %{x:.3f}: %{y:.3g}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="x", row=1, col=col)
    fig.update_yaxes(title_text=t("shattered.ax_grad_scaled"), row=1, col=1)
    title = t("shattered.toy_grad_title", seed=sweep.seeds[seed_index])
    return _layout(fig, title, height=340)


def acf_figure(
    groups: Sequence[tuple[str, str, Sequence[Sequence[float]]]], t: Translator, title: str
) -> go.Figure:
    """Autocorrelation functions: for each ``(name, colour, [acf of every seed])`` the mean over the seeds, with
    the lowest-to-highest band over the seeds."""
    fig = go.Figure()
    for name, colour, acfs in groups:
        a = np.asarray(acfs, dtype=float)
        lags = np.arange(a.shape[1])
        if len(a) > 1:
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([lags, lags[::-1]]),
                    y=np.concatenate([a.max(0), a.min(0)[::-1]]),
                    fill="toself",
                    fillcolor=_rgba(colour, 0.18),
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=lags,
                y=a.mean(0),
                mode="lines",
                line={"color": colour, "width": 2},
                name=name,
                legendgroup=name,
                hovertemplate=name + ", lag %{x}: %{y:.3f}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "#888", "width": 1, "dash": "dot"})
    fig.update_xaxes(title=t("shattered.ax_lag"))
    fig.update_yaxes(title=t("shattered.ax_acf"), range=[-1.05, 1.05])
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=360)


def toy_acf_figure(sweep: Any, t: Translator) -> go.Figure:
    """The toy's autocorrelation functions, every depth, plain and residual (mean over seeds, band = range)."""
    groups = []
    for residual in (False, True):
        shades = _DEPTH_COLOURS["resnet" if residual else "plain"]
        for i, depth in enumerate(sweep.depths):
            groups.append(
                (
                    t("shattered.net_depth", kind=_kind_name(t, residual), depth=depth),
                    shades[min(i, len(shades) - 1)],
                    [r.acf for r in sweep.of(depth, residual)],
                )
            )
    return acf_figure(groups, t, t("shattered.toy_acf_title", seeds=len(sweep.seeds)))


def lag1_figure(rows: Sequence[tuple[str, str, Sequence[float]]], t: Translator, title: str) -> go.Figure:
    """Lag-1 autocorrelation per network: each seed as a dot, the mean as a bar; ``rows`` are
    ``(name, colour, values over seeds)``."""
    fig = go.Figure()
    for name, colour, values in rows:
        vals = list(values)
        fig.add_trace(
            go.Bar(
                x=[name],
                y=[float(np.mean(vals))],
                marker_color=_rgba(colour, 0.55),
                name=name,
                showlegend=False,
                hovertemplate=name + ": %{y:.3f}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[name] * len(vals),
                y=vals,
                mode="markers",
                marker={"color": colour, "size": 8, "line": {"color": "white", "width": 1}},
                showlegend=False,
                hovertemplate=name + ": %{y:.3f}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "#888", "width": 1, "dash": "dot"})
    fig.update_yaxes(title=t("shattered.ax_lag1"), range=[-1.05, 1.05])
    fig.update_xaxes(type="category")
    fig.update_layout(hovermode="closest", barmode="overlay")
    return _layout(fig, title, height=340)


def toy_lag1_figure(sweep: Any, t: Translator) -> go.Figure:
    """The toy's lag-1 autocorrelation per depth, plain and residual, every seed."""
    rows = []
    for depth in sweep.depths:
        for residual in (False, True):
            rows.append(
                (
                    t("shattered.net_depth", kind=_kind_name(t, residual), depth=depth),
                    COLOURS["residual" if residual else "plain"],
                    [r.lag1 for r in sweep.of(depth, residual)],
                )
            )
    title = t("shattered.lag1_title_norm" if sweep.norm else "shattered.lag1_title_nonorm")
    return lag1_figure(rows, t, title)


def net_colour(net: str) -> str:
    """A CIFAR net's colour: plain or residual, shaded by depth (20, 56, deeper)."""
    plain = net.startswith("plain")
    depth = int(net.removeprefix("plain").removeprefix("resnet"))
    shades = _DEPTH_COLOURS["plain" if plain else "resnet"]
    return shades[0] if depth <= 20 else shades[1] if depth <= 56 else shades[2]


def path_figure(runs: Sequence[Any], t: Translator, names: dict[str, str], title: str) -> go.Figure:
    """d(logit)/dα along the path (each ÷ its standard deviation), one line per run (``PathGradients``);
    ``names`` maps a run's ``net`` to its name on the page."""
    fig = go.Figure()
    for run in runs:
        fig.add_trace(
            go.Scatter(
                x=run.alpha,
                y=_scaled(run.grad),
                mode="lines",
                line={"color": net_colour(run.net), "width": 1.3},
                name=names.get(run.net, run.net),
                hovertemplate="α = %{x:.3f}: %{y:.3g}<extra></extra>",
            )
        )
    fig.update_xaxes(title="α")
    fig.update_yaxes(title=t("shattered.ax_dlogit_scaled"))
    return _layout(fig, title, height=340)


def path_lag1_figure(
    sweep_runs: Sequence[Any], t: Translator, names: dict[str, str], title: str
) -> go.Figure:
    """Lag-1 autocorrelation of d(logit)/dα per network, every seed (or the one trained set of weights)."""
    order: list[str] = []
    for r in sweep_runs:
        if r.net not in order:
            order.append(r.net)
    rows = [(names.get(n, n), net_colour(n), [r.lag1 for r in sweep_runs if r.net == n]) for n in order]
    return lag1_figure(rows, t, title)
