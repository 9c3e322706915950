"""What every figure shares, in one place: the font list.

Chinese labels need Noto Sans CJK (installed with the app's system packages); Latin ones fall back cleanly. Plotly
(a CSS ``font-family``) and graphviz (fontconfig, and the browser for d3-graphviz's SVG) both read a
comma-separated family list.
"""

from __future__ import annotations

#: The font families, most wanted first.
FONT_FAMILIES: tuple[str, ...] = ("Noto Sans CJK SC", "Noto Sans", "Helvetica", "Arial", "sans-serif")
#: For plotly figures (``font={"family": FONT}``).
FONT = ", ".join(FONT_FAMILIES)
#: The same list for DOT's ``fontname``, written without spaces after the commas as fontconfig's pattern syntax
#: has it (the golden DOT files keep this spelling).
DOT_FONT = ",".join(FONT_FAMILIES)
