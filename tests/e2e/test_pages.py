"""End to end in a real browser: every page, the sidebar, Chinese, and uploads on the Feature maps page.

What unit tests and AppTest cannot see is checked here on the rendered DOM: images that actually loaded (non-zero
``naturalWidth``), the SVG that graphviz drew, plotly charts that drew their SVG, no exception box and no
traceback anywhere, no missing translation (``⟦key⟧``). A full-page screenshot of every page lands in
``test-artifacts/screenshots/`` for a human to look at.

Waiting is by condition, never by sleeping: Streamlit renders asynchronously, so each step waits until the app
reports its script is not running, no element is stale from the previous run, and the expected text is visible.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or, with CI=true, fail) with the install command
    expect = None

from repo import ROOT

from resnet_viz.i18n import translator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ASSETS = ROOT / "assets"
EN = translator("en")
ZH = translator("zh")

#: url path (the page file's stem; "" is the default page) → nav key; every page of app.py.
PAGES = {
    "": "home",
    "architecture": "architecture",
    "shortcuts": "shortcuts",
    "feature_maps": "feature_maps",
    "parameters": "parameters",
    "why_residual": "why_residual",
    "ladder": "ladder",
    "classroom": "classroom",
}
#: Pages whose content must include graphviz diagrams / plotly charts (a blank chart is a failure).
# shortcuts: the network overview, one block, the plain-vs-residual pair; ladder: the diff (its rung's block
# diagram sits in a tab that is not shown)
MIN_GRAPHVIZ: dict[str, int] = {"shortcuts": 3, "ladder": 1}
MIN_PLOTLY: dict[str, int] = {"architecture": 1, "parameters": 2, "why_residual": 2, "ladder": 1}
#: The Feature maps page opens on a bundled sample: 4 preprocessing steps and a grid per stage at least.
MIN_IMAGES: dict[str, int] = {"feature_maps": 10}

SETTLE_TIMEOUT_MS = 90_000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


# --------------------------------------------------------------------------- helpers


def settle(page, timeout_ms: int = SETTLE_TIMEOUT_MS) -> None:
    """Wait until the script run finished and every element belongs to the new run."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.dataset.testScriptState === 'notRunning'
                && !document.querySelector('[data-stale="true"]')
                && !document.querySelector('[data-testid="stSkeleton"]');
        }""",
        timeout=timeout_ms,
    )


def wait_images_loaded(page, timeout_ms: int = SETTLE_TIMEOUT_MS) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')].every(i => i.complete)",
        timeout=timeout_ms,
    )


def open_page(page, base_url: str, path: str, expect_text: str) -> None:
    page.goto(f"{base_url}/{path}")
    page.get_by_text(expect_text, exact=False).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    settle(page)


def click_nav(page, label: str, path: str) -> None:
    """Change page inside the same session (the sidebar's settings stay), and wait for the new page's run."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    page.wait_for_url(re.compile(rf"/{re.escape(path)}(\?.*)?$"), timeout=SETTLE_TIMEOUT_MS)
    settle(page)


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def assert_page_healthy(page, name: str) -> dict:
    """The checks every page must pass; returns what was counted (for page-specific minimums)."""
    settle(page)
    wait_images_loaded(page)
    body = page.locator("body").inner_text()
    assert "Traceback" not in body, f"{name}: a traceback is shown"
    if page.locator('[data-testid="stException"]').count():
        # showErrorDetails = "none" redacts the box, so the server's log holds the traceback.
        pytest.fail(
            f"{name}: an exception box is shown; server log:\n{page.server.log_tail(3000)}", pytrace=False
        )
    missing = sorted(set(re.findall(r"⟦[^⟧]*⟧", body)))
    assert not missing, f"{name}: missing translations {missing}"
    assert page.locator('[data-testid="stMain"] h1').count() >= 1, f"{name}: no page title"
    assert not page.page_errors, f"{name}: JavaScript errors {page.page_errors}"

    images = page.eval_on_selector_all(
        '[data-testid="stMain"] img',
        "els => els.map(i => ({src: i.currentSrc.slice(0, 80), w: i.naturalWidth, h: i.naturalHeight}))",
    )
    broken = [i for i in images if not (i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"{name}: images that did not load: {broken}"

    # Charts in a tab that is not shown are laid out only when their tab opens: check the visible ones.
    graphviz = page.locator('[data-testid="stGraphVizChart"]')
    shown_graphviz = 0
    for i in range(graphviz.count()):
        chart = graphviz.nth(i)
        if not chart.is_visible():
            continue
        chart.locator("svg").first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        assert chart.locator("svg g.node").count() > 0, f"{name}: graphviz diagram {i} has no nodes"
        box = chart.locator("svg").first.bounding_box()
        assert box and box["width"] > 20 and box["height"] > 20, (
            f"{name}: graphviz diagram {i} is empty ({box})"
        )
        shown_graphviz += 1
    plotly = page.locator('[data-testid="stPlotlyChart"]')
    shown_plotly = 0
    for i in range(plotly.count()):
        chart = plotly.nth(i)
        if not chart.is_visible():
            continue
        chart.locator(".main-svg").first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        box = chart.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, f"{name}: plotly chart {i} is empty ({box})"
        # A drawn chart has marks: traces (scatter/bar), treemap/sunburst slices, or a heatmap's image.
        marks = chart.locator(
            ".main-svg .trace, .main-svg .slice, .main-svg .point, .main-svg path.surface, .main-svg .hm image"
        ).count()
        assert marks > 0, f"{name}: plotly chart {i} has axes but nothing drawn"
        shown_plotly += 1
    return {"images": len(images), "graphviz": shown_graphviz, "plotly": shown_plotly}


def screenshot(page, directory: Path, name: str) -> Path:
    """A full-page screenshot: Streamlit scrolls inside its own container, so the viewport is grown to fit it."""
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(document.documentElement.scrollHeight,
            ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
                .map(e => e.scrollHeight))"""
    )
    page.set_viewport_size(
        {"width": size["width"], "height": min(max(int(height) + 40, size["height"]), 12_000)}
    )
    try:
        settle(page)
        wait_images_loaded(page)
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    assert path.stat().st_size > 5_000, f"{name}: screenshot is suspiciously small"
    return path


def select_network(page, title: str) -> None:
    """Pick a network in the sidebar selectbox (a BaseWeb select: open it, click the option)."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.locator('[role="option"]', has_text=re.compile(rf"^{re.escape(title)}$")).first.click()
    expect(network_input(page)).to_have_value(title, timeout=SETTLE_TIMEOUT_MS)
    settle(page)


def network_input(page):
    """The sidebar's network combobox (its value is the chosen network's title)."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input[role="combobox"]').first


def open_tab(page, label: str, expect_text: str) -> None:
    """Open a tab by its label and wait for its content (lazy tabs run only when opened: a rerun)."""
    page.locator('[data-testid="stMain"] [role="tab"]').filter(has_text=label).first.click()
    selected = page.locator('[data-testid="stMain"] [role="tab"][aria-selected="true"]').filter(
        has_text=label
    )
    expect(selected).to_have_count(1, timeout=SETTLE_TIMEOUT_MS)
    page.locator('[data-testid="stMain"] [role="tabpanel"]').get_by_text(expect_text).first.wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    settle(page)


def _plain(markdown: str) -> str:
    """Markdown text as the browser shows it (no emphasis markers)."""
    return markdown.replace("**", "").replace("*", "")


def sample_images() -> list[Path]:
    return sorted(p for p in ASSETS.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"})


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("path", list(PAGES), ids=[p or "home" for p in PAGES])
def test_every_page_renders(page, streamlit_server, screenshot_dir, path):
    key = PAGES[path]
    open_page(page, streamlit_server.base_url, path, EN(f"nav.{key}"))
    counts = assert_page_healthy(page, key)
    assert counts["graphviz"] >= MIN_GRAPHVIZ.get(key, 0), f"{key}: expected graphviz diagrams, got {counts}"
    assert counts["plotly"] >= MIN_PLOTLY.get(key, 0), f"{key}: expected plotly charts, got {counts}"
    assert counts["images"] >= MIN_IMAGES.get(key, 0), f"{key}: expected images, got {counts}"
    screenshot(page, screenshot_dir, f"en-{key}")


def test_switch_network_updates_every_page(page, streamlit_server, screenshot_dir):
    open_page(page, streamlit_server.base_url, "", EN("nav.home"))
    select_network(page, "ResNet-50")
    # torchvision's resnet50 has 25,557,032 parameters (a reference figure, not one of ours).
    page.get_by_text("25,557,032").first.wait_for()
    assert "ResNet-50" in main_text(page)
    for path, key in PAGES.items():
        if not path:
            continue
        click_nav(page, EN(f"nav.{key}"), path)
        assert_page_healthy(page, f"resnet50/{key}")
        # The choice survives page changes (one session, shared sidebar).
        expect(network_input(page)).to_have_value("ResNet-50")
    select_network(page, "ResNet-56 (CIFAR)")
    click_nav(page, EN("nav.home"), "")
    page.get_by_text("853,018").first.wait_for()  # the paper's ResNet-56 (CIFAR-10): 0.85 M parameters
    assert_page_healthy(page, "resnet56/home")
    screenshot(page, screenshot_dir, "en-home-resnet56")


def test_chinese_on_every_page(page, streamlit_server, screenshot_dir):
    open_page(page, streamlit_server.base_url, "", EN("nav.home"))
    page.locator('[data-testid="stSidebar"] [data-testid="stRadio"] label', has_text="简体中文").first.click()
    page.get_by_text(ZH("home.title")).first.wait_for()
    settle(page)
    for path, key in PAGES.items():
        if path:
            click_nav(page, ZH(f"nav.{key}"), path)
        counts = assert_page_healthy(page, f"zh/{key}")
        text = main_text(page)
        assert re.search(r"[\u4e00-\u9fff]", text), f"zh/{key}: no Chinese text in the page"
        assert page.locator('[data-testid="stSidebar"]').inner_text().count(ZH("nav.home")) >= 1
        assert counts["graphviz"] >= MIN_GRAPHVIZ.get(key, 0), f"zh/{key}: {counts}"
        assert counts["plotly"] >= MIN_PLOTLY.get(key, 0), f"zh/{key}: {counts}"
        screenshot(page, screenshot_dir, f"zh-{key}")


def _upload(page, name: str, data: bytes, mime: str) -> None:
    page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )


def test_feature_maps_sample_then_bad_image(page, streamlit_server, screenshot_dir):
    open_page(page, streamlit_server.base_url, "feature_maps", EN("feature_maps.title"))
    page.locator('[data-testid="stMain"] [data-testid="stRadio"] label').filter(
        has_text=re.compile(rf"^{re.escape(EN('feature_maps.input_upload'))}$")
    ).first.click()
    uploader = page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').first
    uploader.wait_for(state="attached", timeout=SETTLE_TIMEOUT_MS)
    settle(page)

    # A bundled sample, renamed so that the page can only show this name if it took this upload.
    sample = sample_images()[1]
    name = f"upload-{sample.stem}{sample.suffix}"
    mime = "image/png" if sample.suffix == ".png" else "image/jpeg"
    uploader.set_input_files({"name": name, "mimeType": mime, "buffer": sample.read_bytes()})
    page.get_by_text(re.compile(re.escape(f"“{name}”"))).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    counts = assert_page_healthy(page, "feature_maps/sample")
    # The four preprocessing steps, a grid per stage (conv1, maxpool, layer1-4), the chosen layer's grid.
    assert counts["images"] >= 4 + 6 + 1, counts
    text = main_text(page)
    for stage in ("conv1", "layer1", "layer2", "layer3", "layer4"):
        assert re.search(rf"\b{stage}\b", text), f"no grid for {stage}"
    screenshot(page, screenshot_dir, "en-feature_maps-sample")

    # The tabs are lazy (only the open one runs): open each and check what it draws.
    open_tab(page, EN("feature_maps.tab_residual"), _plain(EN("feature_maps.term_main")))
    counts = assert_page_healthy(page, "feature_maps/residual")
    assert counts["plotly"] >= 1, f"no ‖F(x)‖/‖x‖ chart: {counts}"
    for term in ("x", "main", "shortcut", "sum", "out"):
        assert _plain(EN(f"feature_maps.term_{term}")) in main_text(page), term
    screenshot(page, screenshot_dir, "en-feature_maps-residual")

    open_tab(page, EN("feature_maps.tab_predictions"), _plain(EN("feature_maps.top5_title")))
    assert_page_healthy(page, "feature_maps/predictions")
    assert page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').first.is_visible()
    cam_title = _plain(EN("feature_maps.cam_title", label="")).split("“")[0].strip()
    assert page.get_by_text(cam_title).first.is_visible()
    screenshot(page, screenshot_dir, "en-feature_maps-predictions")

    # A text file with an image name: one clear message in the page, the previous image stays, nothing breaks.
    uploader.set_input_files({"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image\n" * 40})
    message = EN("feature_maps.bad_image", name="notes.png")
    alert = page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').filter(
        has_text=message
    )
    alert.first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    settle(page)
    assert alert.count() == 1
    assert EN("images.kept_previous") in alert.first.inner_text()
    assert_page_healthy(page, "feature_maps/bad")
    assert f"“{name}”" in main_text(page), "the previous good image is no longer shown"
    screenshot(page, screenshot_dir, "en-feature_maps-bad-image")


def test_server_logged_no_exception(streamlit_server):
    """Last in this module: an exception whose box a later rerun replaced still shows in the server's log."""
    assert streamlit_server.logged_exceptions() == [], streamlit_server.log_tail(3000)
