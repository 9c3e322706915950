"""The lesson as slides on a 1280×720 projector (issue 23), in a real browser and in both languages: presenter mode,
the sidebar collapsed, every step of the Lesson page fits one screen (nothing in the page scrolls) with its figure
drawn; and no metric label of the Shape-walk or Parameters page is cut off ("Last feature map (C×…").
Screenshots: test-artifacts/screenshots/slides_*.png."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or, with CI=true, fail) with the install command
    expect = None

from test_pages import SETTLE_TIMEOUT_MS, settle, wait_images_loaded

from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT, STEPS
from resnet_viz.ui.presenter import PRESENTER_SCREEN_PX
from resnet_viz.ui.slides import ELEMENT_OF_FIGURE, FIGURE_OF_STEP

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The figure's element in the browser, by its AppTest kind.
TEST_ID = {
    "plotly_chart": '[data-testid="stPlotlyChart"] .main-svg',
    "graphviz_chart": '[data-testid="stGraphVizChart"] svg',
    "dataframe": '[data-testid="stDataFrame"] canvas',
    "image": '[data-testid="stImage"] img',
}

#: Every element that scrolls vertically (the page, its main section, the app view) and by how much it would.
SCROLLERS = """() => {
    const els = [document.scrollingElement, ...document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stAppViewContainer"]')];
    return els.filter(Boolean).map(el => ({name: el.dataset.testid || el.tagName,
        scrollHeight: el.scrollHeight, clientHeight: el.clientHeight}));
}"""

#: Every metric label's element whose text is wider than its box (Streamlit cuts it with an ellipsis).
CUT_LABELS = """() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')].flatMap(label =>
    [label, ...label.querySelectorAll('*')]
        .filter(el => el.clientWidth > 0 && el.scrollWidth > el.clientWidth)
        .map(el => ({text: label.innerText, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth})))"""


@pytest.fixture
def projector(browser, streamlit_server):
    """A fresh 1280×720 browser context (a new session), closed at the end."""
    width, height = PRESENTER_SCREEN_PX
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.server = streamlit_server
    try:
        yield page
    finally:
        context.close()


def _collapse_sidebar(page) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    if sidebar.get_attribute("data-collapsed") != "true":
        sidebar.hover()
        page.locator('[data-testid="stSidebarCollapseButton"] button').click()
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    page.wait_for_timeout(500)  # the sidebar's closing animation


def _settled(page, step_key: str) -> None:
    settle(page)
    wait_images_loaded(page)
    kind = ELEMENT_OF_FIGURE[FIGURE_OF_STEP[step_key]]
    page.locator(f'[data-testid="stMain"] {TEST_ID[kind]}').first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    page.wait_for_timeout(300)  # plotly and graphviz lay out after they are attached


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_lesson_step_fits_one_projector_screen(projector, screenshot_dir, lang: str) -> None:
    page, t = projector, translator(lang)
    page.goto(f"{page.server.base_url}/lesson?lang={lang}&present=1&step=1", wait_until="commit")
    heading = page.locator('[data-testid="stMain"] h3').first
    expect(heading).to_contain_text(t("lesson.step_of", n=1, total=STEP_COUNT, title=t("lesson.input_title")),
                                    timeout=SETTLE_TIMEOUT_MS)  # fmt: skip
    settle(page)
    _collapse_sidebar(page)
    too_tall = []
    for n, step in enumerate(STEPS, start=1):
        title = t("lesson.step_of", n=n, total=STEP_COUNT, title=t(f"lesson.{step.key}_title"))
        expect(heading).to_have_text(title, timeout=SETTLE_TIMEOUT_MS)
        _settled(page, step.key)
        page.screenshot(path=str(screenshot_dir / f"slides_{n:02d}_{step.key}_{lang}.png"))
        for box in page.evaluate(SCROLLERS):
            if box["scrollHeight"] > box["clientHeight"]:
                too_tall.append((n, step.key, box))
        # The figure is on the first screen, beside the text: its top within the screen.
        kind = ELEMENT_OF_FIGURE[FIGURE_OF_STEP[step.key]]
        figure = page.locator(f'[data-testid="stMain"] {TEST_ID[kind]}').first.bounding_box()
        assert figure and figure["y"] + 40 < PRESENTER_SCREEN_PX[1], (step.key, figure)
        if n < STEP_COUNT:
            page.locator(".st-key-lesson_next button").click()
    assert not too_tall, too_tall
    assert page.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "true"


@pytest.mark.parametrize("present", [True, False], ids=["present", "normal"])
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("path", ["architecture", "parameters"])
def test_no_metric_label_is_cut_at_1280_px(
    projector, screenshot_dir, lang: str, path: str, present: bool
) -> None:
    page = projector
    mode = "&present=1" if present else ""
    page.goto(f"{page.server.base_url}/{path}?lang={lang}{mode}&net=resnet34", wait_until="commit")
    labels = page.locator('[data-testid="stMetricLabel"]')
    labels.first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    settle(page)
    assert labels.count() == 4
    # With the sidebar open (the page's columns at their narrowest), then collapsed.
    cut = [("sidebar open", *page.evaluate(CUT_LABELS))]
    name = f"slides_metrics_{path}_{lang}{'' if present else '_normal'}"
    page.screenshot(path=str(screenshot_dir / f"{name}_sidebar.png"))
    _collapse_sidebar(page)
    cut.append(("sidebar collapsed", *page.evaluate(CUT_LABELS)))
    page.screenshot(path=str(screenshot_dir / f"{name}.png"))
    assert all(len(c) == 1 for c in cut), cut
