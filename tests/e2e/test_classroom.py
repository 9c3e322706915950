"""The classroom tool in a real browser (issue 13): shared addresses, the one selection, the lesson, presenter mode.

Each test opens a fresh browser context (a fresh Streamlit session), as a student opening a shared link does.
Screenshots go to test-artifacts/screenshots/classroom_*.png.
"""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or, with CI=true, fail) with the install command
    expect = None


from test_pages import SETTLE_TIMEOUT_MS, settle, wait_images_loaded  # one definition of a settled page

from resnet_viz.i18n import translator
from resnet_viz.lesson import STEP_COUNT, STEPS, answer
from resnet_viz.ui.resolve import share_help

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def network_input(page):
    """The sidebar's network combobox (its value is the chosen network's title)."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input[role="combobox"]').first


EN, ZH = translator("en"), translator("zh")
#: url path → (nav key, whether the page shows "Selected: <block>")
PAGES = {
    "": "nav.home",
    "architecture": "nav.architecture",
    "shortcuts": "nav.shortcuts",
    "parameters": "nav.parameters",
    "feature_maps": "nav.feature_maps",
    "why_residual": "nav.why_residual",
    "lesson": "lesson.nav",
}
SHOWS_SELECTED = {"architecture", "shortcuts", "parameters"}


def _open(page, base_url: str, path: str, query: str) -> None:
    _start(page, base_url, path, query)
    _wait_open(page)


def _start(page, base_url: str, path: str, query: str) -> None:
    """Start loading the page at the address and return at once (its session starts while others load)."""
    page.goto(f"{base_url}/{path}?{query}", wait_until="commit")


def _wait_open(page) -> None:
    """Wait until the page started by :func:`_start` drew its sidebar and finished its first run."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    settle(page)


def _share_link(page) -> str:
    """The link in the sidebar's "share this view" box."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stExpander"]').last
    if not box.locator('[data-testid="stCode"]').is_visible():
        box.locator("summary").click()
    return box.locator('[data-testid="stCode"]').inner_text().strip()


@pytest.fixture
def fresh_context(browser, streamlit_server):
    """New browser contexts on demand (each one a new session), all closed at the end."""
    made = []

    def make(width: int = 1400, height: int = 1000, locale: str = "en-US"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.set_default_timeout(60_000)
        made.append(context)
        pg = context.new_page()
        pg.page_errors = []
        pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
        return pg

    yield make
    for context in made:
        context.close()


def test_a_shared_address_opens_the_same_view_on_every_page(fresh_context, streamlit_server):
    base = streamlit_server.base_url
    # A class opening the shared link at once: every page in its own fresh context (a fresh session each), all
    # loading together, then each checked in turn.
    pages = {path: fresh_context(locale="en-US") for path in PAGES}  # English browsers: lang=zh must win
    for path, page in pages.items():
        _start(page, base, path, "net=resnet50&block=layer3.1&lang=zh&size=160")
    for path, nav_key in PAGES.items():
        page = pages[path]
        _wait_open(page)
        where = path or "home"
        expect(network_input(page)).to_have_value("ResNet-50", timeout=SETTLE_TIMEOUT_MS)
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.locator('[data-testid="stNumberInput"] input').first).to_have_value("160")
        expect(sidebar.locator('[data-testid="stSidebarNav"]')).to_contain_text(ZH(nav_key))  # Chinese
        assert ZH("common.network") in sidebar.inner_text(), where
        link = _share_link(page)
        assert "block=layer3.1" in link and "net=resnet50" in link and "lang=zh" in link, (where, link)
        assert re.search(r"[?&]block=layer3\.1(&|$)", page.url), (where, page.url)
        if path in SHOWS_SELECTED:
            assert ZH("links.selected", name="layer3.1") in main_text(page), where
        if path == "feature_maps":
            wait_images_loaded(page)
            # the channel grid is the selected block's, named in the page's language
            assert ZH("feature_maps.name_and_paper", name="layer3.1", paper="conv4_2") in main_text(page)
        assert "Traceback" not in page.locator("body").inner_text(), where
        assert not page.page_errors, (where, page.page_errors)
        page.close()  # its session's reruns stop taking the CPU from the pages still to check


def test_a_bad_address_gets_one_notice(fresh_context, streamlit_server):
    page = fresh_context()
    _open(
        page, streamlit_server.base_url, "architecture", "net=resnet35&size=-3&block=layer9.9&x=" + "y" * 5000
    )
    notice = page.locator('[data-testid="stAlert"]', has_text=EN("links.notice").split(",")[0])
    expect(notice).to_have_count(1)
    text = notice.inner_text()
    for bad in ("net=resnet35", "size=-3", "block=layer9.9", "x"):
        assert bad in text, text
    expect(network_input(page)).to_have_value("ResNet-34")
    assert "y" * 30 not in text


def test_click_a_block_in_the_diagram_then_see_it_on_feature_maps(
    fresh_context, streamlit_server, screenshot_dir
):
    page = fresh_context()
    _open(page, streamlit_server.base_url, "shortcuts", "net=resnet18&lang=en")
    page.locator('[data-testid="stGraphVizChart"] svg g#step-layer4\\.0 a').first.click()
    page.wait_for_url(re.compile(r"[?&]block=layer4\.0"), timeout=SETTLE_TIMEOUT_MS)
    page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    settle(page)
    assert EN("links.selected", name="layer4.0") in main_text(page)
    # The clicked node carries the thick selection border.
    stroke = page.locator('[data-testid="stGraphVizChart"] svg g#step-layer4\\.0 path').first.get_attribute(
        "stroke-width"
    )
    assert stroke and float(stroke) >= 3
    page.locator('[data-testid="stGraphVizChart"] svg g#step-layer4\\.0').first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "classroom_diagram_selected.png"))
    page.locator('[data-testid="stSidebarNav"] a', has_text=EN("nav.feature_maps")).first.click()
    page.wait_for_url(re.compile(r"/feature_maps\?"), timeout=SETTLE_TIMEOUT_MS)
    page.get_by_text("layer4.0 (conv5_1)").first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    settle(page)
    wait_images_loaded(page)
    assert re.search(r"[?&]block=layer4\.0", page.url)
    page.get_by_text("layer4.0 (conv5_1)").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "classroom_feature_maps_selected.png"))


def _lesson_heading(page) -> str:
    return page.locator('[data-testid="stMain"] h3').first.inner_text()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_whole_lesson(fresh_context, streamlit_server, screenshot_dir, lang):
    t = translator(lang)
    page = fresh_context()
    _open(page, streamlit_server.base_url, "lesson", f"lang={lang}")
    for n, step in enumerate(STEPS, start=1):
        title = t("lesson.step_of", n=n, total=STEP_COUNT, title=t(f"lesson.{step.key}_title"))
        expect(page.locator('[data-testid="stMain"] h3').first).to_contain_text(
            title, timeout=SETTLE_TIMEOUT_MS
        )
        settle(page)
        assert re.search(rf"[?&]step={n}(&|$)", page.url), page.url
        assert re.search(rf"[?&]block={re.escape(step.block)}(&|$)", page.url), page.url
        if n == 1:  # the right answer, computed here the same way as the page does for the sidebar's network
            right = answer(step, step.net, 224)
            page.locator('[data-testid="stMain"] input[type="text"]').first.fill(
                ", ".join(map(str, right.value))
            )
            page.get_by_role("button", name=t("lesson.check")).click()
            expect(page.locator('[data-testid="stAlert"]', has_text=t("lesson.right"))).to_have_count(1)
        if n == 5:  # a wrong answer to a choice question, with the working
            page.locator(
                '[data-testid="stMain"] [data-testid="stRadio"] label', has_text=t("lesson.choice_solid")
            ).click()
            page.get_by_role("button", name=t("lesson.check")).click()
            wrong = t("lesson.wrong", answer=t("lesson.choice_dashed"))
            expect(page.locator('[data-testid="stAlert"]', has_text=wrong)).to_have_count(1)
            settle(page)
            page.screenshot(path=str(screenshot_dir / f"classroom_lesson_wrong_{lang}.png"))
        if n < STEP_COUNT:
            page.get_by_role("button", name=t("lesson.next")).click()
    assert page.get_by_role("button", name=t("lesson.next")).is_disabled()
    assert not page.page_errors, page.page_errors


#: True once no scroll offset and no element size changes between two animation frames.
_STILL = """() => new Promise(resolve => {
    const els = [document.scrollingElement,
                 ...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')];
    const state = () => els.map(e => e ? `${e.scrollTop},${e.scrollHeight}` : "").join(";");
    const before = state();
    requestAnimationFrame(() => requestAnimationFrame(() => resolve(state() === before)));
})"""


def _still(page) -> None:
    """Wait until the page stopped scrolling and resizing (instead of sleeping a fixed time)."""
    page.wait_for_function(_STILL, timeout=SETTLE_TIMEOUT_MS)


def _scroll_to(page, locator) -> None:
    """Scroll the page so that ``locator``'s top is near the top of the screen (it may be taller than it)."""
    locator.scroll_into_view_if_needed()
    locator.evaluate("el => el.scrollIntoView({block: 'start'})")
    _still(page)


#: Help buttons: a tooltip target holding only an icon (a widget's "?"; a button with help= holds its label).
HELP_ICONS_SHOWN = """() => [...document.querySelectorAll('[data-testid="stTooltipHoverTarget"] button')]
    .filter(b => !b.innerText.trim() && b.querySelector('svg') && b.getClientRects().length > 0).length"""


@pytest.mark.parametrize(("path", "query"), [
    ("shortcuts", "net=resnet34&block=layer2.0&present=1"),
    ("lesson", "step=5&present=1&lang=zh&net=resnet34&block=layer2.0"),
    ("feature_maps", "net=resnet18&block=layer3.0&present=1"),
])  # fmt: skip
def test_presenter_mode_screenshots(fresh_context, streamlit_server, screenshot_dir, path, query):
    page = fresh_context(width=1280, height=720)
    _open(page, streamlit_server.base_url, path, query)
    wait_images_loaded(page)
    # No help icons, no developer caption, larger text.
    assert page.locator('[data-testid="stTooltipIcon"]:visible').count() == 0
    assert page.evaluate(HELP_ICONS_SHOWN) == 0
    assert (
        EN("common.device", device="").split(":")[0]
        not in page.locator('[data-testid="stSidebar"]').inner_text()
    )
    captions = " ".join(page.locator('[data-testid="stCaptionContainer"]').all_inner_texts())
    for key in ("links.share_help", "feature_maps.pipeline_weights"):
        en, zh = (share_help(tr) if key == "links.share_help" else tr(key) for tr in (EN, ZH))
        assert en not in captions and zh not in captions, key
    assert "inspect.getsource" not in captions  # the code listing's source note
    size = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 20
    page.screenshot(path=str(screenshot_dir / f"classroom_present_{path}.png"))
    width = page.locator('[data-testid="stMain"] .block-container').evaluate(
        "el => el.clientWidth - parseFloat(getComputedStyle(el).paddingLeft) - parseFloat(getComputedStyle(el).paddingRight)"
    )
    if path == "shortcuts":  # "Inside one block": the diagram fills one 1280×720 screen, in Okabe–Ito colours
        chart = page.locator('[data-testid="stGraphVizChart"]').nth(1)
        _scroll_to(page, chart)
        box = chart.locator("svg").bounding_box()
        assert box["width"] >= 0.75 * width or box["height"] >= 600, (box, width)
        fills = set(chart.locator("svg").evaluate(
            "svg => [...svg.querySelectorAll('g.node > path, g.node > polygon, g.node > ellipse')]"
            ".map(e => e.getAttribute('fill').toUpperCase())"
        ))  # fmt: skip
        assert fills and fills <= {"#56B4E9", "#F0E442", "#E69F00", "#FFFFFF", "#000000"}, fills
        page.screenshot(path=str(screenshot_dir / "classroom_present_shortcuts_block.png"))
    if path == "feature_maps":  # the channel grid at the page's full width
        grid = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').filter(
            has_not=page.locator("xpath=ancestor::*[@data-testid='stColumn']")
        )
        widest = max(grid.all(), key=lambda img: img.bounding_box()["width"])
        assert widest.bounding_box()["width"] >= 0.9 * width
        _scroll_to(page, widest)
        page.screenshot(path=str(screenshot_dir / "classroom_present_feature_maps_grid.png"))


def test_click_a_code_line_selects_its_layer(fresh_context, streamlit_server, screenshot_dir):
    """A click anywhere on a line of the code selects that line's layer: the pills and the diagram mark it."""
    from resnet_viz.render import code_view

    page = fresh_context(width=1280, height=900)
    _open(page, streamlit_server.base_url, "shortcuts", "net=resnet50&block=layer2.0&lang=en")
    row = code_view.torchvision_source("bottleneck").splitlines().index("        out = self.bn3(out)")
    table = page.locator('[data-testid="stDataFrame"]').nth(1)
    _scroll_to(page, table)
    page.evaluate(  # then the line to the middle of the screen (the app scrolls in its main section)
        """dy => { const all = document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]');
            for (const el of [document.scrollingElement, ...all])
                if (el && el.scrollHeight > el.clientHeight + 10) el.scrollBy(0, dy); }""",
        24 * row - 400,
    )
    _still(page)
    box = table.bounding_box()
    y = box["y"] + 24 * (row + 1) + 12  # the header row, then 24-pixel rows
    assert 0 < y < 900, (box, y)
    page.screenshot(path=str(screenshot_dir / "classroom_code_before_click.png"))
    page.mouse.click(box["x"] + 400, y)
    expect(page.locator('[data-testid="stButtonGroup"] button[aria-checked="true"]')).to_have_text(
        "conv3", timeout=SETTLE_TIMEOUT_MS
    )
    settle(page)
    thick = page.locator('[data-testid="stGraphVizChart"]').nth(1).locator("g.node", has_text="conv3: 1×1")
    assert float(thick.locator("path, polygon").first.get_attribute("stroke-width")) >= 3
    _scroll_to(page, page.locator('[data-testid="stGraphVizChart"]').nth(1))
    page.screenshot(path=str(screenshot_dir / "classroom_code_click.png"))
    assert not page.page_errors, page.page_errors
