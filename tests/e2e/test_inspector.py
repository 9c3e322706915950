"""In a real browser: clicking the enlarged channel map picks the value whose arithmetic is shown (a plotly
selection event, which AppTest cannot send), the tab in both languages (screenshots), and the webcam with
Chromium's fake camera: take a photo and see its feature maps."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or, with CI=true, fail) with the install command
    expect = None

from test_pages import (
    SETTLE_TIMEOUT_MS,
    _plain,
    assert_page_healthy,
    main_text,
    open_page,
    open_tab,
    screenshot,
)

from resnet_viz.i18n import translator
from resnet_viz.imaging.explain import SIMILAR_RHO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The e2e conftest's Chromium flags, and the two that give Chromium a fake camera and grant it without asking.
CAMERA_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-dev-shm-usage", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]  # fmt: skip

EN = translator("en")
ZH = translator("zh")


def _number_inputs(page) -> list[str]:
    return page.locator('[data-testid="stMain"] [data-testid="stNumberInput"] input').evaluate_all(
        "els => els.map(e => e.value)"
    )


def test_clicking_the_map_picks_the_value_and_shows_its_terms(page, streamlit_server, screenshot_dir):
    open_page(page, streamlit_server.base_url, "feature_maps", EN("feature_maps.title"))
    open_tab(page, EN("inspector.tab"), EN("inspector.map_hint"))
    chart = page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    chart.locator(".main-svg").first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    before = _number_inputs(page)  # channel, row, column (the default layer: conv1, 112×112 at 224)
    area = chart.locator(".nsewdrag").first.bounding_box()
    assert area, "the map has no plotting area"
    # The cell a quarter across and three quarters down: row ≈ 84, column ≈ 28 of 112.
    page.mouse.click(area["x"] + area["width"] * 0.25, area["y"] + area["height"] * 0.75)
    page.wait_for_function(
        """(before) => {
            const v = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stNumberInput"] input')]
                .map(e => e.value);
            return v.length === before.length && v.join() !== before.join();
        }""",
        arg=before,
        timeout=SETTLE_TIMEOUT_MS,
    )
    assert_page_healthy(page, "inspector/click")
    _, row, col = (int(v) for v in _number_inputs(page))
    assert 70 <= row <= 98 and 14 <= col <= 42, (row, col)
    # The terms of the clicked value: conv1 is 7×7, stride 2, padding 3, so its window starts at 2·row − 3.
    title = _plain(EN("inspector.conv_title", layer="conv1", k=7, c_in=3, source="image", stride=2, pad=3,
                      top=2 * row - 3, left=2 * col - 3))  # fmt: skip
    text = main_text(page)
    assert title.replace("`", "") in text.replace("`", "")
    assert _plain(EN("inspector.terms_title", n=3)) in text
    assert page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').count() >= 1
    screenshot(page, screenshot_dir, "en-feature_maps-inspector")


def test_a_value_no_pixel_moves_shows_no_receptive_field(page, streamlit_server, screenshot_dir):
    """Issue 21: a zero gradient was captioned "90 % of it lies within a 0×0 square". The stem's ReLU at a cell
    whose input is negative (seeded random weights, the centre of channel 0) has a zero gradient everywhere."""
    open_page(page, streamlit_server.base_url, "feature_maps", EN("feature_maps.title"))
    open_tab(page, EN("inspector.tab"), EN("inspector.map_hint"))
    layer = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(
        has_text=EN("inspector.layer_label")
    )
    layer.locator("input").first.click()
    page.keyboard.type("relu")
    page.keyboard.press("Enter")
    page.get_by_text(_plain(EN("inspector.relu_line", x="@", y="@")).split("@")[0]).first.wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    assert_page_healthy(page, "inspector/relu")
    value = page.locator('[data-testid="stMain"] [data-testid="stMetricValue"]').first.inner_text()
    assert float(value) == 0.0, value  # the ReLU closed: nothing flows back
    page.get_by_text(EN("inspector.rf_toggle")).first.click()
    page.get_by_text(EN("inspector.erf_zero")).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    assert_page_healthy(page, "inspector/erf-zero")
    text = main_text(page)
    assert (
        "0×0" not in text
        and _plain(EN("inspector.erf_caption", mass="@", extent="@", size="@")).split("@")[0] not in text
    )
    screenshot(page, screenshot_dir, "en-feature_maps-inspector-erf-zero")


def test_the_inspector_in_chinese(browser, streamlit_server, screenshot_dir):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(60_000)
    pg = context.new_page()
    pg.page_errors = []
    pg.server = streamlit_server
    pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
    try:
        open_page(pg, streamlit_server.base_url, "feature_maps", ZH("feature_maps.title"))
        open_tab(pg, ZH("inspector.tab"), ZH("inspector.map_hint"))
        assert_page_healthy(pg, "inspector/zh")
        assert _plain(ZH("inspector.terms_title", n=3)) in main_text(pg)
        # The map's tooltip speaks Chinese (issue 21: "row 3, col 4" in the zh inspector).
        chart = pg.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').first
        chart.scroll_into_view_if_needed()
        area = chart.locator(".nsewdrag").first.bounding_box()
        assert area, "the map has no plotting area"
        pg.mouse.move(area["x"] + area["width"] * 0.4, area["y"] + area["height"] * 0.6)
        hover = chart.locator(".hoverlayer .hovertext")
        hover.first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        tip = hover.first.evaluate("e => e.textContent")
        assert re.search(r"第 \d+ 行，第 \d+ 列：-?\d", tip) and "row" not in tip, tip
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        chart.screenshot(
            path=str(screenshot_dir / "zh-feature_maps-inspector-hover.png")
        )  # the tooltip shown
        # Random weights: the sanity check says it compares two untrained networks and gives no reading.
        pg.get_by_text(ZH("inspector.cam_toggle")).first.click()
        pg.get_by_text(_plain(ZH("inspector.sanity_untrained"))).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        assert_page_healthy(pg, "inspector/zh/grad-cam")
        text = main_text(pg)
        assert "ρ = " in text
        for key in ("sanity_high", "sanity_low"):
            assert _plain(ZH(f"inspector.{key}", threshold=SIMILAR_RHO)).split("（")[0] not in text
        screenshot(pg, screenshot_dir, "zh-feature_maps-inspector")
    finally:
        context.close()


def test_webcam_with_chromiums_fake_camera(browser, chromium_executable, streamlit_server, screenshot_dir):
    """Chromium's fake camera (a generated test pattern) stands in for a webcam: take a photo, see its maps."""
    camera = browser.browser_type.launch(executable_path=chromium_executable, args=CAMERA_ARGS)
    try:
        context = camera.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
        context.grant_permissions(["camera"], origin=streamlit_server.base_url)
        context.set_default_timeout(60_000)
        pg = context.new_page()
        pg.page_errors = []
        pg.server = streamlit_server
        pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
        open_page(pg, streamlit_server.base_url, "feature_maps", EN("feature_maps.title"))
        pg.locator('[data-testid="stMain"] [data-testid="stRadio"] label').filter(
            has_text=re.compile(rf"^{re.escape(EN('feature_maps.input_webcam'))}$")
        ).first.click()
        pg.get_by_text(EN("feature_maps.webcam_toggle")).first.click()
        shoot = pg.locator('[data-testid="stCameraInput"] button').filter(
            has_text=re.compile("Take Photo", re.I)
        )
        shoot.first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        expect(shoot.first).to_be_enabled(timeout=SETTLE_TIMEOUT_MS)
        # The fake camera streams a generated picture; take the photo only once frames arrive (else it is black).
        pg.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stCameraInput"] video')]
                .some(v => v.readyState >= 2 && v.videoWidth > 0)""",
            timeout=SETTLE_TIMEOUT_MS,
        )
        # The first frames of the fake stream can be blank: wait for one whose pixels vary (not a fixed sleep).
        pg.wait_for_function(
            """() => {
                const v = document.querySelector('[data-testid="stCameraInput"] video');
                if (!v || !v.videoWidth) return false;
                const c = document.createElement('canvas');
                c.width = v.videoWidth; c.height = v.videoHeight;
                const ctx = c.getContext('2d'); ctx.drawImage(v, 0, 0);
                const d = ctx.getImageData(0, 0, c.width, c.height).data;
                let lo = 255, hi = 0;
                for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
                return hi - lo > 30;
            }""",
            timeout=SETTLE_TIMEOUT_MS,
        )
        shoot.first.click()
        name = EN("feature_maps.webcam_name")
        pg.get_by_text(re.compile(re.escape(f"“{name}”"))).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        counts = assert_page_healthy(pg, "feature_maps/webcam")
        # The photo is the camera's picture, not a blank frame: its pixels vary.
        spread = pg.evaluate(
            """() => {
                const img = document.querySelector('[data-testid="stCameraInput"] img');
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
                const d = ctx.getImageData(0, 0, c.width, c.height).data;
                let lo = 255, hi = 0;
                for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
                return hi - lo;
            }"""
        )
        assert spread > 30, f"the webcam photo is blank (green channel spread {spread})"
        assert counts["images"] >= 4 + 6, counts  # the preprocessing steps and a grid per stage
        text = main_text(pg)
        for stage in ("conv1", "layer1", "layer4"):
            assert re.search(rf"\b{stage}\b", text), f"no grid for {stage}"
        screenshot(pg, screenshot_dir, "en-feature_maps-webcam")
        context.close()
    finally:
        camera.close()


def test_server_logged_no_exception(streamlit_server):
    """Last in this module: an exception whose box a later rerun replaced still shows in the server's log."""
    assert streamlit_server.logged_exceptions() == [], streamlit_server.log_tail(3000)
