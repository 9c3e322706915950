"""Graphviz diagrams of the networks, built as DOT text from a :class:`~resnet_viz.architecture.trace.Trace`.

Building DOT needs no graphviz program and no torch: every function here is a pure function of the trace (and of
VGG-19's layer list in the catalogue for the Figure 3 comparison) and a translator ``t``, and returns text, which
``st.graphviz_chart`` renders in the browser. Only :func:`render` (SVG/PNG for slides) needs the ``dot``
program; it goes through the ``graphviz`` package and raises a one-line ``OSError`` where ``dot`` is missing.

DOT is written by hand rather than with ``graphviz.Digraph`` because the pages need the text itself (download,
golden files, edge counting in tests) and building it as lines of text is ~10× faster than the object API for
resnet152. All of it goes through one small writer, :class:`_Dot`, so every diagram has one style: quoted ids,
one statement per line, ``[key="value", …]`` attribute lists, clusters as ``subgraph "cluster_…" {`` followed by
their ``graph [...]`` line. Every shortcut edge carries ``class="shortcut"`` (and every other edge none), so the
shortcuts can be counted on the text: identity shortcuts are solid, projection (and option-A zero-pad) dashed.

The package: :mod:`~resnet_viz.render.dot.writer` (the writer, shared pieces, presenter mode),
:mod:`~resnet_viz.render.dot.network` (the whole network, Figure 3), :mod:`~resnet_viz.render.dot.block` (one
block's internals), and here the public names and the rendering to SVG/PNG.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Sequence

from resnet_viz.render.dot.block import block_dot, block_kind, block_title, representative_blocks
from resnet_viz.render.dot.network import compare_dot, overview_dot
from resnet_viz.render.dot.writer import COLLAPSE_ABOVE_BLOCKS, default_collapse, presenter_dot

VIEWS = ("overview", "block", "compare")
FORMATS = ("dot", "svg", "png")

# ------------------------------------------------------------------------------------------------------- rendering


def dot_available() -> bool:
    """Whether the graphviz ``dot`` program is installed (needed for SVG/PNG export only)."""
    return shutil.which("dot") is not None


@functools.lru_cache(maxsize=8)  # a PNG of resnet152 expanded is ~1 MB: keep few
def render(dot_text: str, fmt: str) -> bytes:
    """DOT text → SVG or PNG bytes via the ``graphviz`` package and the ``dot`` program."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"cannot render to {fmt!r}; choose svg or png")
    if not dot_available():
        raise OSError(
            f"{fmt.upper()} needs the graphviz 'dot' program, which is not installed "
            "(apt install graphviz); use --format dot"
        )
    import graphviz

    if fmt == "png":  # 150 dpi: sharp enough for a projected slide
        dot_text = dot_text.replace("  graph [", "  graph [dpi=150, ", 1)
    try:
        return graphviz.Source(dot_text).pipe(format=fmt, **({"renderer": "cairo"} if fmt == "png" else {}))
    except graphviz.ExecutableNotFound as exc:
        raise OSError(f"the graphviz 'dot' program could not be run: {exc}") from None
    except graphviz.CalledProcessError as exc:
        raise OSError(f"dot failed: {str(exc.stderr or exc).strip().splitlines()[-1:]}") from None


def count_shortcut_edges(dot_text: str) -> dict[str, int]:
    """How many shortcut edges a DOT text draws, by style: {'solid': n, 'dashed': m}."""
    counts = {"solid": 0, "dashed": 0}
    for line in dot_text.splitlines():
        if "->" in line and 'class="shortcut"' in line:
            counts["dashed" if 'style="dashed"' in line else "solid"] += 1
    return counts


__all__: Sequence[str] = (
    "COLLAPSE_ABOVE_BLOCKS",
    "FORMATS",
    "VIEWS",
    "block_dot",
    "block_kind",
    "block_title",
    "compare_dot",
    "count_shortcut_edges",
    "default_collapse",
    "dot_available",
    "overview_dot",
    "presenter_dot",
    "render",
    "representative_blocks",
)
