"""Figures of "look inside one value": pure functions of an :class:`~resnet_viz.imaging.explain.Explanation`
(and of plain arrays), with every word passed in by the page (``t``), so they work in every language.

* :func:`position_figure` — the enlarged channel map the student clicks to pick a position (plotly selection
  events: a heatmap trace cannot be selected, so an invisible marker sits on every cell);
* :func:`window_figure` — the conv's input window, kernel and per-cell products, filled in step by step;
* :func:`terms_rows` — the terms table;
* :func:`rf_overlay` / :func:`heat_overlay` — receptive field box, effective RF and Grad-CAM drawn on the photo;
* :func:`erf_view` — the effective RF's picture and caption, or only the sentence that no pixel moves the value.

Hover texts are translated too (``inspector.hover_cell``): a Chinese reader sees no English in a tooltip.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from resnet_viz.architecture.trace import Trace
from resnet_viz.i18n import Translator
from resnet_viz.imaging.explain import Explanation, RFBox, Term
from resnet_viz.render import tiling
from resnet_viz.render.style import FONT

Translate = Translator
#: The share of the effective receptive field's gradient magnitude that :func:`effective_extent`'s square holds.
ERF_MASS = 0.9


def _plain(key: str, /, **kw: object) -> str:
    """The default "translator": the key itself (benchmarks and tests that do not look at words)."""
    return key


def _cell_hover(t: Translate, value: str) -> str:
    """A plotly hovertemplate "row r, column c: value" in the reader's language (``value``: a plotly field)."""
    return t("inspector.hover_cell", row="%{y}", col="%{x}", value=value) + "<extra></extra>"


def position_figure(
    channel_map: np.ndarray,
    row: int,
    col: int,
    *,
    title: str = "",
    colorscale: str = "Viridis",
    size: int = 360,
    t: Translate = _plain,
) -> go.Figure:
    """The channel's map as a heatmap, the chosen cell outlined; clicking a cell selects it (``on_select``).

    Points are (x = column, y = row); the rerun reads ``selection.points[0]["x"], ["y"]``."""
    h, w = channel_map.shape
    ys, xs = np.mgrid[0:h, 0:w]
    # Built as plain dicts in one go.Figure call: add_trace/add_shape/update_* each deep-copy the figure
    # (~100 ms for these two traces), and this figure is redrawn for every new position.
    data = [
        {"type": "heatmap", "z": channel_map.astype(np.float32), "colorscale": colorscale, "showscale": True,
         "hoverinfo": "skip"},
        {"type": "scatter", "x": xs.ravel(), "y": ys.ravel(), "mode": "markers", "showlegend": False,
         "marker": {"size": max(4, min(18, size // max(h, w))), "opacity": 0.0, "symbol": "square"},
         "customdata": channel_map.ravel().astype(np.float64),
         "hovertemplate": _cell_hover(t, "%{customdata:.4f}"),
         "selected": {"marker": {"opacity": 0.0}}, "unselected": {"marker": {"opacity": 0.0}}},
    ]  # fmt: skip
    layout = {
        "title": {"text": title}, "height": size + 60, "margin": {"l": 30, "r": 10, "t": 40, "b": 20},
        "font": {"family": FONT}, "clickmode": "event+select", "dragmode": False,
        "xaxis": {"constrain": "domain", "showgrid": False},
        "yaxis": {"autorange": "reversed", "scaleanchor": "x", "constrain": "domain", "showgrid": False},
        "shapes": [{"type": "rect", "x0": col - 0.5, "x1": col + 0.5, "y0": row - 0.5, "y1": row + 0.5,
                    "line": {"color": "#ff2d2d", "width": 3}}],
    }  # fmt: skip
    return go.Figure(data=data, layout=layout)


def cell_products(e: Explanation) -> np.ndarray:
    """(k, k): Σ over input channels of weight × input, per cell of the window (what each kernel cell adds)."""
    w = e.window
    if w is None or w.weights is None:
        raise ValueError("only a conv's explanation has a kernel")
    return np.einsum("cuv,cuv->uv", w.values.astype(np.float64), w.weights.astype(np.float64))


def window_figure(e: Explanation, step: int, t: Translate = _plain, channel: int | None = None) -> go.Figure:
    """Three k×k panels: the input window of one input channel (default: the one contributing most), that
    channel's kernel, and the products summed over all input channels, filled in cell by cell up to ``step``
    (0-based, row-major) with the running total in the title: the kernel sliding over its window."""
    w = e.window
    if w is None or w.weights is None or w.partial is None:
        raise ValueError("only a conv's explanation has a kernel")
    k = w.kernel
    ch = int(np.argmax(np.abs(w.partial))) if channel is None else int(channel)
    products = cell_products(e)
    step = max(0, min(int(step), k * k - 1))
    shown = np.full((k, k), np.nan)
    flat = shown.reshape(-1)
    flat[: step + 1] = products.reshape(-1)[: step + 1]
    running = float(np.nansum(shown))
    titles = (
        t("inspector.fig_window", ch=ch),
        t("inspector.fig_kernel", ch=ch),
        t("inspector.fig_products", n=w.values.shape[0], total=f"{running:.4f}"),
    )
    rows = [w.top + u for u in range(k)]
    cols = [w.left + v for v in range(k)]
    panels = (w.values[ch], w.weights[ch], shown)
    # Three panels side by side, laid out by hand: plotly's make_subplots costs ~100 ms, and this figure is
    # redrawn on every new position and every step of the slider.
    gap = 0.07
    width = (1 - 2 * gap) / 3
    data, layout = [], {}
    for i, z in enumerate(panels):
        n = "" if i == 0 else str(i + 1)
        text = [["" if not np.isfinite(v) else f"{v:.3g}" for v in r] for r in z]
        trace = {
            "type": "heatmap", "z": z.tolist(), "x": cols, "y": rows, "text": text, "texttemplate": "%{text}",
            "showscale": False, "xaxis": f"x{n}", "yaxis": f"y{n}",
            "hovertemplate": _cell_hover(t, "%{z:.4f}"),
        }  # fmt: skip
        if i == 0:
            trace["colorscale"] = "Viridis"
        else:
            finite = np.abs(z[np.isfinite(z)])
            lim = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            trace.update(colorscale="RdBu", zmid=0.0, zmin=-lim, zmax=lim)
        data.append(trace)
        x0 = i * (width + gap)
        layout[f"xaxis{n}"] = {"domain": [x0, x0 + width], "anchor": f"y{n}", "tickvals": cols}
        layout[f"yaxis{n}"] = {"anchor": f"x{n}", "autorange": "reversed", "tickvals": rows}
    u, v = divmod(step, k)
    layout.update(
        annotations=[
            {"text": title, "x": i * (width + gap) + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
             "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 12}}
            for i, title in enumerate(titles)
        ],
        shapes=[{"type": "rect", "xref": "x3", "yref": "y3", "x0": cols[v] - 0.5, "x1": cols[v] + 0.5,
                 "y0": rows[u] - 0.5, "y1": rows[u] + 0.5, "line": {"color": "#ff2d2d", "width": 3}}],
        height=330, margin={"l": 30, "r": 10, "t": 50, "b": 20}, font={"family": FONT},
    )  # fmt: skip
    return go.Figure(data=data, layout=layout)


def source_figure(
    source_map: np.ndarray, e: Explanation, t: Translate = _plain, channel: int = 0
) -> go.Figure:
    """One channel of the layer the conv reads, with the kernel's window outlined where it sits."""
    w = e.window
    if w is None:
        raise ValueError("this layer has no window")
    data = [{"type": "heatmap", "z": source_map.astype(np.float32), "colorscale": "Viridis", "showscale": False,
             "hovertemplate": _cell_hover(t, "%{z:.4f}")}]  # fmt: skip
    layout = {
        "title": {"text": t("inspector.fig_source", source=w.source, ch=channel)}, "height": 330,
        "margin": {"l": 30, "r": 10, "t": 40, "b": 20}, "font": {"family": FONT},
        "yaxis": {"autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        "shapes": [{"type": "rect", "x0": w.left - 0.5, "x1": w.left + w.kernel - 0.5, "y0": w.top - 0.5,
                    "y1": w.top + w.kernel - 0.5, "line": {"color": "#ff2d2d", "width": 3}}],
    }  # fmt: skip
    return go.Figure(data=data, layout=layout)


def term_label(term: Term, t: Translate) -> str:
    """The term's name in the reader's language, with the numbers that say which one it is."""
    n = term.numbers
    return t(
        f"inspector.term_{term.key}", **{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in n.items()}
    )


def terms_rows(e: Explanation, t: Translate = _plain) -> list[dict[str, object]]:
    """The terms table: one row per step (and per "then" step), name and value."""
    rows: list[dict[str, object]] = []
    for term in e.steps:
        rows.append({"term": term_label(term, t), "value": round(term.value, 6), "then": False})
    for term in e.then:
        rows.append({"term": term_label(term, t), "value": round(term.value, 6), "then": True})
    return rows


def rf_overlay(
    photo: Image.Image,
    box: RFBox,
    heat: np.ndarray | None = None,
    *,
    alpha: float = 0.55,
    cmap: str = "magma",
) -> Image.Image:
    """The photo (the preprocessed crop), the effective RF ``heat`` (0..1, input-sized) over it when given, and
    the theoretical receptive field box."""
    base = photo.convert("RGB")
    if heat is not None and base.size != (heat.shape[1], heat.shape[0]):
        base = base.resize((heat.shape[1], heat.shape[0]))
    img = tiling.overlay(base, heat, alpha=alpha, cmap=cmap) if heat is not None else base.copy()
    draw = ImageDraw.Draw(img)
    width = max(2, img.size[0] // 150)
    draw.rectangle([box.left, box.top, box.right - 1, box.bottom - 1], outline=(0, 255, 255), width=width)
    cx, cy = box.center_col, box.center_row
    draw.ellipse([cx - width, cy - width, cx + width, cy + width], fill=(0, 255, 255))
    return img


def effective_extent(erf: np.ndarray, center: tuple[float, float], mass: float = ERF_MASS) -> int:
    """Side in pixels of the smallest square around ``center`` holding ``mass`` of the gradient's magnitude."""
    total = float(erf.sum())
    if total <= 0:
        return 0
    h, w = erf.shape
    ys, xs = np.mgrid[0:h, 0:w]
    dist = np.maximum(np.abs(ys - center[0]), np.abs(xs - center[1])).ravel()
    order = np.argsort(dist, kind="stable")
    cum = np.cumsum(erf.ravel()[order]) / total
    reach = dist[order][int(np.searchsorted(cum, mass))]
    return int(2 * np.ceil(reach) + 1)


#: Sentence ends after which the next sentence follows without a space (Chinese full-width punctuation).
FULL_WIDTH_ENDS = "。！？；：）"


def join_sentences(*sentences: str) -> str:
    """Sentences made separately, joined as their language writes them: a space after an English sentence,
    nothing after a full-width Chinese one."""
    out = ""
    for sentence in sentences:
        if out and sentence:
            out += "" if out[-1] in FULL_WIDTH_ENDS else " "
        out += sentence
    return out


def layer_help(tr: Trace, t: Translate = _plain) -> str:
    """The layer picker's help: what each kind of layer name holds. Its ``downsample`` clause follows this net's
    shortcuts (the trace's kind): a plain net has none, option A's CIFAR nets zero-pad, the others project."""
    kinds = {r.shortcut for r in tr.blocks}
    if kinds <= {"none"}:
        return t("inspector.layer_help_plain")
    return t("inspector.layer_help_option_a" if "zero_pad" in kinds else "inspector.layer_help")


def erf_view(
    erf: np.ndarray, box: RFBox, t: Translate = _plain, *, zero_padded: bool = False
) -> tuple[np.ndarray | None, str]:
    """The effective receptive field as the page shows it: (heat, caption). ``heat`` is the gradient's magnitude
    scaled to 0..1 under a square root (the tails stay visible) and the caption says how wide a square holds
    :data:`ERF_MASS` of it. Where the gradient is zero everywhere there is no field to draw or measure: ``heat``
    is None and the caption says that no input pixel moves the value (a "0×0 square" would measure nothing), or,
    for ``zero_padded`` (a channel option A's shortcut pads in), that the value is a constant 0;
    where it holds NaN or Inf (a checkpoint's bad weights), None and a caption saying so."""
    if not np.isfinite(erf).all():
        return None, t("inspector.erf_nonfinite")
    peak = float(erf.max()) if erf.size else 0.0
    if peak <= 0:
        return None, t("inspector.erf_padded" if zero_padded else "inspector.erf_zero")
    extent = effective_extent(erf, (box.center_row, box.center_col))
    caption = t("inspector.erf_caption", mass=f"{ERF_MASS:.0%}", extent=extent, size=box.size)
    return np.sqrt(erf / peak), caption


def heat_overlay(
    photo: Image.Image, heat: np.ndarray, *, alpha: float = 0.5, cmap: str = "magma"
) -> Image.Image:
    """A 0..1 map (any size: upsampled by the overlay) over the photo."""
    return tiling.overlay(photo.convert("RGB"), heat, alpha=alpha, cmap=cmap)
