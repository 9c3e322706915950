"""Real-browser fixtures: one `streamlit run app.py` server and one headless Chromium for the whole session.

The server runs with this interpreter (`sys.executable -m streamlit`), so the tests exercise the same install as the
rest of the suite. Without Chromium or Playwright the tests skip outside CI (naming the install command) and FAIL
under ``CI=true``: CI must never silently stop running them. Starting, checking and stopping the server, and
finding Chromium, is ``devtools/devserver.py``, the same helper the benchmarks use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo import ROOT

from devtools.devserver import CHROMIUM_ARGS, CHROMIUM_ENV, DevServer, chromium_path

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SERVER_LOG = ROOT / "test-artifacts" / "e2e-server.log"
INSTALL_HINT = (
    "install Debian's Chromium (`sudo apt-get install chromium`) and the test extra, then run the README's test "
    'command: python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest'
)
#: The server, its Chromium discovery, health check and log scanning: one helper shared with the benchmarks.
StreamlitServer = DevServer
E2E = ROOT / "tests" / "e2e"


# tryfirst: before -m deselects, so that `-m "not e2e"` leaves out every test in this folder.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/e2e/ is an e2e test (and slow), whether or not its module says so."""
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


def require_browser() -> str:
    """The Chromium path, or skip (outside CI) / fail (CI=true) with the install command."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright for Python is not installed"
    path = chromium_path()
    if problem is None and path is None:
        problem = f"Chromium was not found at {os.environ.get(CHROMIUM_ENV) or '/usr/bin/chromium'}"
    if problem is None:
        return path  # type: ignore[return-value]
    message = f"real-browser tests need a browser: {problem}; {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return require_browser()


@pytest.fixture(scope="session")
def streamlit_server(chromium_executable: str) -> Iterator[DevServer]:
    # Never the network: a page that would download pretrained weights (resnet50's are 100 MB) or wait for a
    # firewall to time out falls back to random weights at once, as it does on a machine without a connection.
    # Weights already in the cache are still used. No browser test depends on pretrained weights.
    server = DevServer(SERVER_LOG, extra_env={"RESNET_VIZ_OFFLINE": "1"})
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_executable: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, streamlit_server: DevServer):
    """A fresh browser context (so a fresh Streamlit session) per test; page errors are collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.set_default_timeout(60_000)
    pg = context.new_page()
    pg.page_errors = []  # uncaught JavaScript errors in the page
    pg.server = streamlit_server  # for the server's log in failure messages
    pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):  # only this run's pictures, never a stale one from an older run
        old.unlink()
    return SCREENSHOTS
