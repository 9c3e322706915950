"""The lesson as slides (issue 23): every step draws its page's figure inline, in both languages, on the Lesson
page (normal and presenter mode) and in the phone's compact version the class UI calls. The 1280×720 fit is
checked in a real browser: tests/e2e/test_slides_browser.py."""

from __future__ import annotations

import json

import pytest

from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT, STEPS
from resnet_viz.ui import slides


def _kinds(at) -> dict[str, int]:
    """How many of each figure element the page drew in its main area (the sidebar has an image: the QR code)."""
    return {kind: len(at.main.get(kind)) for kind in set(slides.ELEMENT_OF_FIGURE.values())}


def test_every_step_has_a_figure_drawn_as_one_element_kind() -> None:
    assert set(slides.FIGURE_OF_STEP) == {s.key for s in STEPS}
    assert set(slides.FIGURE_OF_STEP.values()) == set(slides.ELEMENT_OF_FIGURE)


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "present"), [("en", False), ("zh", True)])
def test_each_lesson_step_shows_its_figure_inline(lang: str, present: bool, app_test) -> None:
    t = translator(lang)
    query = {"lang": lang} | ({"present": "1"} if present else {})
    at = app_test(timeout=300, query=query)
    at.switch_page("app_pages/lesson.py").run()
    for n, step in enumerate(STEPS, start=1):
        assert not at.exception, [e.value for e in at.exception]
        assert at.subheader[0].value == t(
            "lesson.step_of", n=n, total=STEP_COUNT, title=t(f"lesson.{step.key}_title")
        )
        kinds = _kinds(at)
        wanted = slides.ELEMENT_OF_FIGURE[slides.FIGURE_OF_STEP[step.key]]
        # its figure, and no other step's kind of figure
        assert kinds[wanted] >= 1 and all(v == 0 for k, v in kinds.items() if k != wanted), (step.key, kinds)
        if n < STEP_COUNT:
            at.button(key="lesson_next").click().run()


def _compact_script() -> None:
    """Every step's phone figure, as the class UI draws it for a student (not in presenter mode)."""
    import streamlit as st

    from resnet_viz.i18n import translator
    from resnet_viz.lesson import STEPS
    from resnet_viz.links import View
    from resnet_viz.ui import slides

    lang, key = st.session_state["lang"], st.session_state["step"]
    step = next(s for s in STEPS if s.key == key)
    view = View(lang=lang, arch=step.net, input_size=224, step=step.block)
    slides.step_figure(step, view, translator(lang), compact=True)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_phone_version_draws_each_figure_compact(lang: str, app_test) -> None:
    for step in STEPS:
        at = app_test(timeout=300, script=_compact_script, state={"lang": lang, "step": step.key}).run()
        assert not at.exception, (step.key, [e.value for e in at.exception])
        kinds = _kinds(at)
        wanted = slides.ELEMENT_OF_FIGURE[slides.FIGURE_OF_STEP[step.key]]
        assert kinds[wanted] >= 1, (step.key, kinds)
        for chart in at.main.get("plotly_chart"):  # fitted to a phone's figure box, in smaller text
            spec = json.loads(chart.proto.spec)
            assert spec["layout"]["height"] == slides.COMPACT_FIGURE_PX[1]
            assert spec["layout"]["font"]["size"] <= 11


def test_a_step_figure_follows_the_views_network_and_block() -> None:
    """The figure is drawn at the view's network and selected block; where that network lacks what the step asks
    (a CIFAR net has no max-pool, no layer4), at the step's own network or the nearest block."""
    from resnet_viz.links import View

    by_key = {s.key: s for s in STEPS}
    assert slides.step_view(by_key["dashed"], View("en", "resnet50", 224, step="layer3.0"))[::4] == (
        "resnet50", "layer3.0",
    )  # fmt: skip
    assert slides.step_view(by_key["zero_init"], View("en", "resnet20", 32, step="conv1"))[::4] == (
        "resnet20", "conv1",
    )  # fmt: skip
    arch, size, *_ = slides.step_view(by_key["stem"], View("en", "resnet20", 32, step="conv1"))
    assert (arch, size) == ("resnet34", 224)  # the step's own network: resnet20 has no max-pool
    # a view whose selection is not a step of the network: the step's block, the nearest one the network has
    assert slides.step_view(by_key["zero_init"], View("en", "resnet20", 32, step="layer4.1"))[4] == "layer3.2"


@pytest.mark.slow
def test_a_feature_map_slide_over_the_request_budget_says_so(app_test, offline, monkeypatch) -> None:
    """A capture over ``$RESNET_VIZ_REQUEST_MB`` at every size is refused with the page's message, not a traceback."""
    from resnet_viz.ui import feature_maps as ui_fm

    monkeypatch.setenv("RESNET_VIZ_REQUEST_MB", "1")
    ui_fm._cache_stores.clear()
    ui_fm.capture_store.clear()
    try:
        at = app_test(timeout=300, script=_compact_script, state={"lang": "en", "step": "feature_maps"}).run()
    finally:
        ui_fm._cache_stores.clear()
        ui_fm.capture_store.clear()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.main.get("image")
    assert at.error and "ResNet-18" in at.error[0].value


def test_the_shape_walk_marks_the_selected_step_where_the_walk_has_it() -> None:
    from resnet_viz.architecture.trace import trace
    from resnet_viz.render.figures_shapes import shape_walk_figure

    t, tr = translator("en"), trace("resnet34", 224)
    marked = shape_walk_figure(tr, t, highlight="layer2.0")
    assert [a.text for a in marked.layout.annotations] == ["▼ layer2.0"]
    # the band is on layer2.0's point: the input is point 0, then the walk's rows
    labels = list(marked.data[0].x)
    band = marked.layout.shapes[0]
    assert "conv3_1" in labels[round((band.x0 + band.x1) / 2)]
    assert not shape_walk_figure(tr, t).layout.annotations
    assert not shape_walk_figure(tr, t, highlight="layer9.9").layout.shapes


def test_a_slides_plotly_figure_is_built_once_per_view() -> None:
    """A class following the teacher reruns the same slide many times: its figure is built once and shared."""
    args = ("degradation", "resnet34", 224, False, "3x3", "layer3.0", "en")
    slide = slides._slide_plotly(*args, False, True)
    assert slide is slides._slide_plotly(*args, False, True)
    assert slide.layout.height == slides.SLIDE_FIGURE_PX[1]
    phone = slides._slide_plotly(*args, True, False)
    assert phone is not slide and phone.layout.height == slides.COMPACT_FIGURE_PX[1]
    assert slide.layout.font.size > phone.layout.font.size  # the projector's restyle, the phone's small text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_v15_caption_names_the_blocks_that_differ_at_each_size(lang: str) -> None:
    """At 16×16 conv5_1's input is already 1×1, so its stride changes no count: only conv3_1 and conv4_1 differ.
    The caption names what the table shows, and says the counts are the Parameters page's (BN included)."""
    from resnet_viz.architecture import counting

    t = translator(lang)
    small, big = slides.v15_caption("resnet50", 16, t), slides.v15_caption("resnet50", 224, t)
    assert [b for b, *_ in counting.stride_variant_macs("resnet50", 16).per_block] == ["layer2.0", "layer3.0"]
    named = [t("common.paper_and_name", paper=p, name=n) for n, p in
             (("layer2.0", "conv3_1"), ("layer3.0", "conv4_1"), ("layer4.0", "conv5_1"))]  # fmt: skip
    assert named[0] in small and named[1] in small and "conv5_1" not in small
    assert all(x in big for x in named)
    assert t("nav.parameters") in big and "BN" in big
    assert "every stage after the first" not in big and "第一个阶段之后" not in big


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_shattered_slide_is_the_lag1_figure_of_the_answers_measurement(lang: str, app_test) -> None:
    """The shattered step draws its own figure (one plotly chart, no degradation curves): a bar (mean) and the
    seed dots per network, the dots being exactly the lag-1 values its answer reads; fitted to a phone."""
    from resnet_viz.experiments import shattered
    from resnet_viz.lesson import SHATTERED_DEPTH

    at = app_test(timeout=120, script=_compact_script, state={"lang": lang, "step": "shattered"}).run()
    assert not at.exception, [e.value for e in at.exception]
    kinds = _kinds(at)
    assert kinds["plotly_chart"] == 1 and all(v == 0 for k, v in kinds.items() if k != "plotly_chart"), kinds
    spec = json.loads(at.main.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["height"] == slides.COMPACT_FIGURE_PX[1]
    bars = [d for d in spec["data"] if d["type"] == "bar"]
    dots = [d for d in spec["data"] if d["type"] == "scatter"]
    measured = shattered.recorded_init_lag1(SHATTERED_DEPTH)
    assert len(bars) == len(dots) == 2
    assert [tuple(d["y"]) for d in dots] == [
        measured[f"plain{SHATTERED_DEPTH}"],
        measured[f"resnet{SHATTERED_DEPTH}"],
    ]
    assert all(d["marker"]["size"] < 8 for d in dots)  # smaller dots on the phone
