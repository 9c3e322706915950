"""How the pages draw what the class sees: diagrams, charts, developer captions and errors, each restyled for a
projector in presenter mode (larger text, no help icons or developer captions, high-contrast colours)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from resnet_viz.errors import UserError
from resnet_viz.i18n import Translator
from resnet_viz.ui.resolve import presenting

#: The projector screen presenter mode is laid out for (width, height in px): the diagram box below is its height,
#: and the sidebar's presenter toggle names it (links.present_help).
PRESENTER_SCREEN_PX = (1280, 720)

#: The box a presenter-mode diagram is scaled to fit (inches of 72 pt; a browser draws 1 pt as 4/3 px): 9 × 7.5 in is
#: 864 × 720 px, the page's width beside the sidebar and one 720-pixel high screen once scrolled to. (A 518-px box,
#: what is left under a heading, shrank a Bottleneck's text to 12 px: unreadable from the back of a room.)
PRESENTER_DIAGRAM_INCHES = (9.0, 7.5)

#: Presenter mode's style: larger text, no help icons (the "?" beside a widget), and no decoration a projector
#: washes out. A metric's label wraps instead of being cut with "…" (at 20 px, four metrics beside the open sidebar
#: of a 1280-px screen cut "Last feature map (C×H×W)": tests/e2e/test_slides_browser.py). The diagrams keep solid vs dashed shortcuts, so their kind never depends on colour alone.
PRESENTER_CSS = """
html { font-size: 20px; }
[data-testid="stTooltipIcon"], [data-testid="stTooltipHoverTarget"]:has(> button:only-child > svg:only-child) {
  display: none !important;
}
[data-testid="stMain"] .block-container { padding: 1.5rem 2rem 4rem; max-width: 100%; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; color: #000; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #000 !important; opacity: 1; }
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  overflow-wrap: break-word; height: auto !important;
}
"""


def dev_caption(text: str) -> None:
    """A caption for the curious reader (where a number comes from, the method, the device, which file): shown
    normally, left out in presenter mode, where a projector has room only for what the class reads. Pages call
    this instead of ``st.caption`` for such notes; a caption that teaches stays an ``st.caption``."""
    if not presenting():
        st.caption(text)


def diagram(dot_text: str, *, tall: bool = False, fit: tuple[float, float] | None = None) -> None:
    """Draw one of ``resnet_viz.render.dot``'s diagrams. In presenter mode: Okabe–Ito colours, larger text and
    thicker lines (:func:`~resnet_viz.render.dot.presenter_dot`), scaled to fill the screen's free area (or the
    box ``fit``, width and height in inches, e.g. a lesson slide's figure column); a ``tall`` diagram (the whole
    network, Figure 3: drawn top to bottom, many screens high) keeps its natural size with the larger text instead
    of shrinking to one screen."""
    from resnet_viz.render import dot

    if presenting():
        # "stretch" would scale a diagram to the page's width whatever its height: graphviz fits it instead.
        box = None if tall else (fit or PRESENTER_DIAGRAM_INCHES)
        st.graphviz_chart(dot.presenter_dot(dot_text, fit=box), width="content")
    else:
        st.graphviz_chart(dot_text, width="content")


def figure(fig: Any, **kwargs: Any) -> None:
    """Draw a plotly figure at the page's width; in presenter mode restyled for the projector
    (:func:`~resnet_viz.render.style.presenter_figure`)."""
    from resnet_viz.render.style import presenter_figure

    kwargs.setdefault("width", "stretch")
    st.plotly_chart(presenter_figure(fig) if presenting() else fig, **kwargs)


def presenter_style() -> None:
    """Presenter mode's stylesheet, once per rerun (app.py's address step draws it)."""
    if presenting():
        st.html(f"<style>{PRESENTER_CSS}</style>")


def show_error(err: UserError, t: Translator, *, about: str | None = None, after: str | None = None) -> None:
    """Every :class:`resnet_viz.errors.UserError` is shown the same way: one ``st.error`` with what it concerns
    (``about``, e.g. "“cat.heic” cannot be used:"), its localized reason, and what happens next (``after``)."""
    st.error(" ".join(part for part in (about, err.message(t), after) if part))
