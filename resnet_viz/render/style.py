"""What every figure shares, in one place: the font list.

Chinese labels need Noto Sans CJK (installed with the app's system packages); Latin ones fall back cleanly. Plotly
(a CSS ``font-family``) and graphviz (fontconfig, and the browser for d3-graphviz's SVG) both read a
comma-separated family list.
"""

from __future__ import annotations

import re
from typing import Any

#: The font families, most wanted first.
FONT_FAMILIES: tuple[str, ...] = ("Noto Sans CJK SC", "Noto Sans", "Helvetica", "Arial", "sans-serif")
#: For plotly figures (``font={"family": FONT}``).
FONT = ", ".join(FONT_FAMILIES)
#: The same list for DOT's ``fontname``, written without spaces after the commas as fontconfig's pattern syntax
#: has it (the golden DOT files keep this spelling).
DOT_FONT = ",".join(FONT_FAMILIES)

# --- presenter mode: high-contrast, colour-blind-safe colours ---------------------------------------------------
# The Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008): eight colours that stay distinct under the
# common colour-vision deficiencies. Presenter mode draws every figure and diagram with these, black text on white,
# and thicker lines; a shortcut's kind stays solid vs dashed, so it never depends on colour alone.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
WHITE = "#FFFFFF"
#: Every colour a presenter-mode figure or diagram may use.
PRESENTER_COLOURS: frozenset[str] = frozenset({*OKABE_ITO.values(), WHITE})

_O = OKABE_ITO
#: The normal figures' and diagrams' colours and what presenter mode draws instead (chosen one by one so that
#: colours that mean different things stay different). Keys are lower-case.
PRESENTER_MAP: dict[str, str] = {
    # DOT fills (black text stays readable on each: contrast ≥ 6:1) and lines
    "#dbe8f8": _O["sky_blue"],  # a block / a conv
    "#e3f2e1": _O["yellow"],  # a conv layer
    "#fde6c8": _O["orange"],  # a striding conv, a down-sampling block
    "#f2f2f2": WHITE,  # BatchNorm, ReLU, pooling, input/output
    "white": WHITE,
    "#ffffff": WHITE,
    "#c0392b": _O["vermillion"],  # dashed (projection) shortcut; the shape chart's size line
    "#2e7d32": _O["bluish_green"],  # solid (identity) shortcut
    "#444444": _O["black"],
    "#8aa4c8": _O["blue"],
    "#35507a": _O["black"],
    "#999999": _O["black"],
    "#000000": _O["black"],
    # plotly figures: parameter groups, block kinds, plain vs residual
    "#7f7f7f": _O["black"],
    "#1f77b4": _O["blue"],
    "#ff7f0e": _O["orange"],
    "#2ca02c": _O["bluish_green"],
    "#d62728": _O["vermillion"],
    "#9467bd": _O["reddish_purple"],
    "#8c564b": _O["yellow"],
    "#ff9896": _O["orange"],
    "#9ecae1": _O["sky_blue"],
    "#fdae6b": _O["yellow"],
    "#e6550d": _O["orange"],
    "#a63603": _O["vermillion"],
    "#3182bd": _O["sky_blue"],
    "#08519c": _O["blue"],
    "rgba(120,150,200,0.45)": _O["sky_blue"],
    "#ff2d2d": _O["vermillion"],  # the receptive-field window outline
    # the gradient-steps figure's depths: plain in warm shades, residual in blues (the family is kept)
    "#fdd0a2": _O["yellow"],
    "#fd8d3c": _O["orange"],
    "#7f2704": _O["vermillion"],
    "#c6dbef": _O["sky_blue"],
    "#6baed6": _O["sky_blue"],
    "#08306b": _O["blue"],
    # the loss-landscape contours: thin white lines over the colour scale
    "rgba(255,255,255,0.6)": WHITE,
}
#: Presenter text sizes: plotly's base font, and the factor on DOT's font sizes.
PRESENTER_FONT_PX = 20
PRESENTER_DOT_SCALE = 1.4
#: Plotly keys whose string values are colours (what :func:`presenter_figure` rewrites).
_COLOUR_KEYS = frozenset({"color", "colors", "bgcolor", "bordercolor", "fillcolor", "linecolor", "gridcolor"})


_RGBA = re.compile(r"rgba\((\d+),\s*(\d+),\s*(\d+),\s*([0-9.]+)\)")


def presenter_colour(colour: str) -> str:
    """The presenter-mode colour for one of our normal colours; a translucent ``rgba()`` of one of them keeps its
    transparency. A colour not in the map (a data colour, e.g. a colormap's) is kept."""
    key = colour.strip().lower()
    if key in PRESENTER_MAP:
        return PRESENTER_MAP[key]
    if m := _RGBA.fullmatch(key.replace(" ", "")):
        base = "#{:02x}{:02x}{:02x}".format(*(int(x) for x in m.groups()[:3]))
        if base in PRESENTER_MAP:
            r, g, b = (int(PRESENTER_MAP[base][i : i + 2], 16) for i in (1, 3, 5))
            return f"rgba({r},{g},{b},{m[4]})"
    return colour


def _recolour(node: object, key: str | None = None) -> object:
    if isinstance(node, dict):
        return {k: _recolour(v, k) for k, v in node.items()}
    if key in _COLOUR_KEYS:
        if isinstance(node, str):
            return presenter_colour(node)
        if isinstance(node, (list, tuple)) and all(isinstance(c, str) for c in node):
            return [presenter_colour(c) for c in node]
    if isinstance(node, (list, tuple)):
        return [_recolour(v, key) for v in node]
    return node


def presenter_figure(fig: Any) -> Any:
    """A copy of a plotly figure for the projector: Okabe–Ito colours, black text on white, larger text, lines
    1.5× thicker. The figure passed in is not changed (figures may be cached)."""
    import plotly.graph_objects as go

    spec = _recolour(fig.to_plotly_json())
    for trace in spec.get("data", []):
        line = trace.get("line")
        if isinstance(line, dict):
            line["width"] = max(3.0, 1.5 * float(line.get("width") or 2))
    out = go.Figure(spec)
    out.update_layout(
        template="simple_white", paper_bgcolor=WHITE, plot_bgcolor=WHITE,
        font={"family": FONT, "size": PRESENTER_FONT_PX, "color": _O["black"]},
    )  # fmt: skip
    return out
