"""The lesson as slides: each step's figure, drawn inline from the renderers its own page uses.

A lesson step (:data:`resnet_viz.lesson.STEPS`) opens a page at a network and a selected block; its slide shows
the figure that page shows for the step's question, at the same network and block:

* the Shape walk's size/channels chart (``input``, ``stem``, ``conv3_1``);
* the Parameters page's layer-count rule table (``layers``) and v1/v1.5 multiply-adds per block (``v15``);
* the Shortcuts page's block diagram (``solid``, ``dashed``, ``three_kinds``, ``basic_cost``, ``bottleneck_cost``);
* the Feature-maps page's channel grid and the five terms of the residual addition, of a shipped sample photo
  (``feature_maps``, ``addition``);
* the Why-residual page's shipped degradation curves and ‖F(x)‖ at initialisation (``degradation``,
  ``zero_init``);
* the Why-residual page's lag-1 autocorrelation of d(logit)/dα per network, a dot per seed (``shattered``);
* the ResNet → ConvNeXt page's diagram of what a rung changed from the rung before it (``patchify``).

The Lesson page and the class UI call :func:`step_figure`; ``compact=True`` is the phone's version (390 px wide:
scaled to the width, fewer elements). Every figure is cheap on a rerun: traces are memoised, the pictures come
from the pages' own byte-bounded caches, the measurements from their ``st.cache_data`` functions.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz import lesson, links
from resnet_viz.i18n import Translator, arch_title
from resnet_viz.links import View
from resnet_viz.ui import presenter
from resnet_viz.ui.resolve import cached_trace, presenting

#: Which figure each step shows (its page's figure for the step's question). Tests check every step has one.
FIGURE_OF_STEP: dict[str, str] = {
    "input": "shape_walk", "stem": "shape_walk", "conv3_1": "shape_walk",
    "layers": "layer_rule", "v15": "v15_table",
    "solid": "block", "dashed": "block", "three_kinds": "block", "basic_cost": "block", "bottleneck_cost": "block",
    "feature_maps": "channel_grid", "addition": "residual_terms",
    "degradation": "degradation", "zero_init": "identity", "patchify": "ladder_diff",
    "shattered": "shattered_lag1",
}  # fmt: skip
#: The Streamlit element each figure is drawn as (AppTest's element type), for the tests.
ELEMENT_OF_FIGURE: dict[str, str] = {
    "shape_walk": "plotly_chart", "layer_rule": "dataframe", "v15_table": "dataframe",
    "block": "graphviz_chart", "channel_grid": "image", "residual_terms": "image",
    "degradation": "plotly_chart", "identity": "plotly_chart", "ladder_diff": "graphviz_chart",
    "shattered_lag1": "plotly_chart",
}  # fmt: skip

#: A slide's figure box on a 1280×720 projector with the sidebar collapsed (px): the left column of the Lesson
#: page under Streamlit's header (the heading, text and question are in the right column). Figures are sized to it, so the slide never scrolls.
SLIDE_FIGURE_PX = (700, 620)
#: The phone's figure box (px): a 390-px screen less Streamlit's margins, and under half an 844-px screen high.
COMPACT_FIGURE_PX = (350, 360)
#: The height kept for a caption under a slide's figure (px): two lines of presenter mode's text.
CAPTION_PX = 75
#: Channels in a slide's grid: the most active ones (``render.tiling``), enough to see that there are many.
SLIDE_GRID_CHANNELS = 32
COMPACT_GRID_CHANNELS = 16
#: The ResNet → ConvNeXt page shows its ladder at 224×224 whatever the sidebar (the paper's size).
LADDER_SIZE = 224
#: A table row in presenter mode's 20-px text (px).
TABLE_ROW_PX = 42
#: 72 pt per inch; a browser draws 1 pt as 4/3 px.
_PX_PER_INCH = 96


def figure_box(compact: bool) -> tuple[int, int]:
    """The (width, height) in px a step's figure is fitted to."""
    return COMPACT_FIGURE_PX if compact else SLIDE_FIGURE_PX


def step_view(step: lesson.Step, v: View) -> tuple[str, int, bool, str, str]:
    """The network, input size, plain, stride placement and block a step's figure is drawn at: the view's network
    (the step's own where the view's lacks what the step asks about, as :func:`resnet_viz.lesson.answer` decides),
    and the view's selected block where it is one of that network's steps, else the step's block (the nearest one
    the network has)."""
    right = lesson.answer(step, v.arch, v.input_size)
    same = right.arch == v.arch
    plain, stride_in = (v.plain, v.stride_in) if same else (False, links.DEFAULT_STRIDE)
    tr = cached_trace(right.arch, right.size, plain, stride_in)
    steps = links.selectable_steps(tr)
    block = v.step if same and v.step in steps else links.nearest_step(step.block, steps)
    return right.arch, right.size, plain, stride_in, block


def step_figure(step: lesson.Step, v: View, t: Translator, *, compact: bool = False) -> None:
    """Draw ``step``'s figure inline for the view ``v`` in ``t``'s language: the real diagram, table, picture grid
    or curve its page shows, at the step's network and selected block (:func:`step_view`). ``compact`` draws the
    phone's version: scaled to a 390-px screen, fewer channels and no legend boxes. Public: the class UI calls
    ``slides.step_figure(step, view, t, compact=...)``."""
    kind = FIGURE_OF_STEP[step.key]
    arch, size, plain, stride_in, block = step_view(step, v)
    tr = cached_trace(arch, size, plain, stride_in)
    if kind in PLOTLY_FIGURES:
        fig = _slide_plotly(kind, arch, size, plain, stride_in, block, v.lang, compact, presenting())
        if fig is None:  # no shipped degradation record: the page's own message
            st.warning(t("why_residual.deg_missing"))
        else:
            st.plotly_chart(fig, key=f"slide_{step.key}", config={"displayModeBar": False}, width="stretch")
    elif kind == "layer_rule":
        _layer_rule(arch, t, compact)
    elif kind == "v15_table":
        _v15_table(arch, size, t, compact)
    elif kind == "block":
        _block_diagram(tr, block, t, compact)
    elif kind in ("channel_grid", "residual_terms"):
        _feature_maps(kind, arch, size, plain, stride_in, block, t, compact)
    elif kind == "ladder_diff":
        _ladder_diff(step.rung, t, compact)


#: The figures drawn with plotly: built once per view and kept (:func:`_slide_plotly`).
PLOTLY_FIGURES = ("shape_walk", "degradation", "identity", "shattered_lag1")


@st.cache_resource(max_entries=128, show_spinner=False)
def _slide_plotly(
    kind: str, arch: str, size: int, plain: bool, stride_in: str, block: str, lang: str, compact: bool,
    presenter_mode: bool,
):  # fmt: skip
    """One slide's plotly figure, fitted to the figure box and (in presenter mode) restyled for the projector;
    None where its data is missing. Built once per view and shared, never changed after (``st.plotly_chart`` only
    reads it): building and restyling a figure costs ~0.3–0.5 s of a core, and a class of 30 following the
    teacher reruns the same slide 30 times. A cached ``go.Figure`` is kept as it is (``cache_resource``): a pickled
    one would be validated again on every hit."""
    from resnet_viz.i18n import translator
    from resnet_viz.render.style import presenter_figure

    t = translator(lang)
    if kind == "shape_walk":
        from resnet_viz.render.figures_shapes import shape_walk_figure

        fig = shape_walk_figure(cached_trace(arch, size, plain, stride_in), t, highlight=block)
    elif kind == "degradation":
        from resnet_viz.experiments import shipped
        from resnet_viz.render.figures_residual import degradation_figure

        record = shipped.degradation()
        if record is None or not record.get("runs"):
            return None
        fig = degradation_figure(record, t)
    elif kind == "shattered_lag1":
        fig = _shattered_lag1(t, compact)
    else:
        from resnet_viz.render.figures_residual import identity_figure
        from resnet_viz.ui.experiments import cached_identity_at_init, identity_input_size

        id_size = identity_input_size(arch)
        zero, default = (cached_identity_at_init(arch, id_size, z) for z in (True, False))
        fig = identity_figure(zero, default, t)
    fitted = _fit_plotly(fig, compact)
    return presenter_figure(fitted) if presenter_mode else fitted


def _shattered_lag1(t: Translator, compact: bool):
    """The shattered step's figure: the lag-1 autocorrelation of d(logit)/dα of plain-56 and ResNet-56 at
    initialisation, a dot per seed and the mean as a bar, from the measurement the step's answer uses
    (:func:`resnet_viz.experiments.shattered.recorded_init_lag1`). On the phone, smaller dots."""
    from resnet_viz.experiments import shattered
    from resnet_viz.render.figures_shattered import lag1_figure, net_colour

    depth = lesson.SHATTERED_DEPTH
    measured = shattered.recorded_init_lag1(depth)
    rows = []
    for net, values in measured.items():
        kind = "plain" if net.startswith("plain") else "resnet"
        rows.append((t(f"why_residual.run_{kind}", depth=depth), net_colour(net), values))
    seeds = len(next(iter(measured.values())))
    fig = lag1_figure(rows, t, t("shattered.slide_lag1_title", n=seeds))
    if compact:
        fig.update_traces(marker_size=6, selector={"type": "scatter"})
    return fig


# ----------------------------------------------------------------------------------------------- drawing


def _fit_plotly(fig, compact: bool):
    """A copy of a page's plotly figure fitted to the figure box: its height, a smaller title and margins; a legend
    below the panels is put at the figure's bottom edge (projector text is larger: it would cover the x axis's
    title). On the phone, smaller text throughout (subplot titles included), the legend kept: it says which bar or
    line is which."""
    import plotly.graph_objects as go

    _, height = figure_box(compact)
    out = go.Figure(fig)  # a copy
    out.update_layout(height=height, margin={"l": 40, "r": 10, "t": 50, "b": 40}, title_font_size=16)
    if compact:
        out.update_layout(font_size=10, title_font_size=12, legend_font_size=10,
                          margin={"l": 30, "r": 5, "t": 60, "b": 30})  # fmt: skip
        out.update_annotations(font_size=10)
    legend_y = out.layout.legend.y
    if legend_y is not None and legend_y < 0:
        out.update_layout(legend={"yref": "container", "y": 0, "yanchor": "bottom"},
                          margin={"b": 130 if compact else 170})  # fmt: skip
    return out


def _table(table: dict, compact: bool) -> None:
    """A table at its full height (no inner scrolling), rows sized to presenter mode's larger text."""
    rows = len(next(iter(table.values())))
    row_px = TABLE_ROW_PX if presenting() else 35
    _, height = figure_box(compact)
    st.dataframe(table, hide_index=True, width="stretch", row_height=row_px,
                 height=min(height, row_px * (rows + 1) + 3))  # fmt: skip


def _layer_rule(arch: str, t: Translator, compact: bool) -> None:
    """The Parameters page's layer-count table: each network's blocks per stage and depth formula, this one ◀."""
    from resnet_viz.render.figures_params import layer_rule_table

    table = layer_rule_table(t, arch)
    network, _block, blocks, formula, mark = table
    # A slide's width holds three columns: the network (marked), its blocks per stage and its depth formula.
    shown = {network: [f"{name} {m}".rstrip() for name, m in zip(table[network], table[mark])]}
    if not compact:
        shown[blocks] = table[blocks]
    shown[t("parameters.col_depth")] = table[formula]
    _table(shown, compact)


def _v15_table(arch: str, size: int, t: Translator, compact: bool) -> None:
    """The Parameters page's v1/v1.5 comparison as a table: the blocks whose multiply-adds differ."""
    from resnet_viz.architecture import counting
    from resnet_viz.formatting import fmt_macs

    rows = counting.stride_variant_macs(arch, size).per_block
    table = {
        t("parameters.col_block"): [
            t("common.paper_and_name", paper=paper, name=name) for name, paper, _, _ in rows
        ],
        t("lesson.slide_v1"): [fmt_macs(a) for _, _, a, _ in rows],
        t("lesson.slide_v15"): [fmt_macs(b) for _, _, _, b in rows],
    }
    if not compact:
        table[t("lesson.slide_v15_more")] = [fmt_macs(b - a) for _, _, a, b in rows]
    _table(table, compact)
    st.caption(v15_caption(arch, size, t))


def v15_caption(arch: str, size: int, t: Translator) -> str:
    """The v1/v1.5 table's caption, naming the blocks that differ from ``per_block`` itself: at 16×16 only
    conv3_1 and conv4_1 (conv5_1's input is already 1×1, so its stride changes no count)."""
    from resnet_viz.architecture import counting

    rows = counting.stride_variant_macs(arch, size).per_block
    blocks = t("common.list_sep").join(
        t("common.paper_and_name", paper=paper, name=name) for name, paper, _, _ in rows
    )
    return t("lesson.slide_v15_caption", title=arch_title(t, arch), size=size, blocks=blocks,
             params=t("nav.parameters"))  # fmt: skip


def _fit_width(png: bytes, compact: bool) -> int:
    """The width (px) at which a picture fits the figure box, on a slide with two caption lines under it."""
    import io

    from PIL import Image

    width, height = figure_box(compact)
    w, h = Image.open(io.BytesIO(png), formats=["PNG"]).size
    room = height if compact else height - 2 * CAPTION_PX  # the phone's page scrolls; a slide does not
    return max(1, min(width, int(room * w / h)))


def _block_diagram(tr, block: str, t: Translator, compact: bool) -> None:
    """The Shortcuts page's diagram of one block (a stem or head step shows the nearest block)."""
    from resnet_viz.render import dot

    names = [b.name for b in tr.blocks]
    shown = block if block in names else links.nearest_step(block, names)
    # The title (the block's names, what its shortcut line means) goes under the drawing as a caption: inside it,
    # its one long line set the drawing's width and shrank its text to fit a slide.
    text = dot.block_dot(tr, shown, t, titled=False)
    width, height = figure_box(compact)
    if compact:  # scaled to the phone's width by the browser
        st.graphviz_chart(text, width="stretch")
    else:
        presenter.diagram(text, fit=(width / _PX_PER_INCH, (height - CAPTION_PX) / _PX_PER_INCH))
    st.caption(dot.block_title(tr, tr.row(shown), t).replace("\n", " · "))


def _ladder_diff(rung: str, t: Translator, compact: bool) -> None:
    """The ResNet → ConvNeXt page's diff of a rung against the rung before it, as the page opens it for that rung:
    the first part that changed, at the page's 224×224."""
    from resnet_viz.architecture import ladder
    from resnet_viz.architecture.ladder_diff import diff
    from resnet_viz.render.dot import ladder as dot_ladder

    before = ladder.RUNG_KEYS[ladder.RUNG_KEYS.index(rung) - 1]
    a_tr, b_tr = ladder.rung_trace(before, LADDER_SIZE), ladder.rung_trace(rung, LADDER_SIZE)
    d = diff(before, rung, LADDER_SIZE)
    text = dot_ladder.diff_dot(d, a_tr, b_tr, dot_ladder.changed_parts(d)[0], t)
    width, height = figure_box(compact)
    if compact:
        st.graphviz_chart(text, width="stretch")
    else:
        presenter.diagram(text, fit=(width / _PX_PER_INCH, (height - CAPTION_PX) / _PX_PER_INCH))
    st.caption(t("ladder.diff_legend"))


def _feature_maps(
    kind: str, arch: str, size: int, plain: bool, stride_in: str, block: str, t: Translator, compact: bool
) -> None:
    """The Feature-maps page's channel grid (the block's most active channels) or the five terms of its addition,
    for the first shipped sample photo, with the page's default weights where they are already on this machine
    (a slide never waits for a download) and the seeded random ones otherwise; a caption names the photo and
    the weights."""
    from resnet_viz.architecture.catalogue import has_pretrained
    from resnet_viz.imaging import images
    from resnet_viz.models import sources, weights
    from resnet_viz.render import figures_feature_maps as fm
    from resnet_viz.ui import feature_maps as ufm
    from resnet_viz.ui.process import device

    if has_pretrained(arch, plain=plain, stride_in=stride_in) and weights.is_cached(arch):
        source = sources.pretrained_source(arch, plain=plain, stride_in=stride_in)
    else:
        source = sources.random_source(arch, plain=plain, stride_in=stride_in)
    model = ufm.shared_model(source, str(device()))
    name, path = next(iter(images.sample_images().items()))
    picture = images.ImageSlot(name, path.read_bytes())
    prep, fit = ufm.budgeted_preprocessing(source, size)
    if fit.refused:  # over $RESNET_VIZ_REQUEST_MB even at the smallest size: said as the page says it
        from resnet_viz.formatting import fmt_bytes_short

        st.error(t("feature_maps.budget_fixed" if prep.from_weights else "feature_maps.budget_refused",
                   net=arch_title(t, arch), size=fit.requested, need=fmt_bytes_short(fit.need),
                   budget=fmt_bytes_short(fit.budget)))  # fmt: skip
        return
    steps = ufm.cached_preprocess(picture.sha, prep, picture.data)
    key = ufm.CaptureKey(source, picture.sha, prep)
    try:
        cap, _ = ufm.capture_with_fallback(key, model, steps.tensor)
    except RuntimeError as exc:  # e.g. an input too small for this network's pooling, as on the page
        st.error(t("feature_maps.forward_failed", error=str(exc).splitlines()[0][:200]))
        return
    names = fm.LayerNames(cached_trace(arch, steps.settings.crop, plain, stride_in), cap)
    width, _ = figure_box(compact)
    # The first sample is one of images' named photos (chelsea), each with a translated name.
    photo = t(f"feature_maps.sample_{name}") if name in images.NAMED_SAMPLES else name
    weights_note = t(
        "lesson.slide_photo_weights", photo=photo, weights=t(f"feature_maps.weights_{source.kind}")
    )
    if kind == "channel_grid":
        layer = block if block in cap.layers else cap.stage_of.get("layer2", next(iter(cap.layers)))
        maps = cap.layers[layer]
        k = COMPACT_GRID_CHANNELS if compact else SLIDE_GRID_CHANNELS
        png, index = ufm.cached_grid_png(
            key, layer, "channel", "viridis", k, None, width, maps, cap.global_range
        )
        st.image(png, caption=names.grid_caption(layer, maps, index, t), width=_fit_width(png, compact),
                 output_format="PNG")  # fmt: skip
    else:
        res = next((r for r in cap.residuals if r.block == block), cap.residuals[0])
        terms = [(term, arr) for term, arr in fm.residual_terms(res) if arr is not None]
        tile = (width - 10 * len(terms)) // len(terms)
        st.image(
            [fm.residual_term_png(arr, res.common_range) for _, arr in terms],
            caption=[t(f"feature_maps.term_{term}") for term, _ in terms], width=tile, output_format="PNG",
        )  # fmt: skip
        st.caption(names.label(res.block, t) + " · " + fm.shortcut_caption(res, names, t))
    st.caption(weights_note)


# ----------------------------------------------------------------------------------------------- the Lesson page

#: The Lesson page's columns in presenter mode: the figure (left) and the text, question and Back/Next (right).
PRESENTER_COLUMNS = (3, 2)

#: The Lesson page's own style: the "open it on the page" link smaller than the step's text.
LESSON_CSS = """
.st-key-lesson_open_page p, .st-key-lesson_open_page span { font-size: 0.85rem !important; }
"""

#: A slide on a 1280×720 projector, sidebar collapsed: the page's padding cut to the header's 3.75 rem at the top, the step's text a
#: little smaller than presenter mode's 1.1 rem (still 18 px: readable from the back of a room), so the figure,
#: the text, the question and Back/Next fit one screen without scrolling (tests/e2e/test_slides_browser.py).
PRESENTER_LESSON_CSS = (
    LESSON_CSS
    + """
[data-testid="stMain"] .block-container { padding-top: 3.9rem; padding-bottom: 0.5rem; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p { font-size: 0.9rem; line-height: 1.4; }
[data-testid="stMain"] h3 { padding-top: 0; padding-bottom: 0.25rem; font-size: 1.25rem; }
"""
)
