"""Real-browser fixtures: one `streamlit run app.py` server and one headless Chromium for the whole session.

The server runs with this interpreter (`sys.executable -m streamlit`), so the tests exercise the same install as the
rest of the suite. Without Chromium or Playwright the tests skip outside CI (naming the install command) and FAIL
under ``CI=true``: CI must never silently stop running them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SERVER_LOG = ROOT / "test-artifacts" / "e2e-server.log"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]
INSTALL_HINT = (
    "install Debian's Chromium (`sudo apt-get install chromium`) and the test extra, then run the README's test "
    'command: python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest'
)
SERVER_START_TIMEOUT_S = 120


def chromium_path() -> str | None:
    """Debian's Chromium (Playwright's own browser download is not used: CI installs chromium with apt-get)."""
    env = os.environ.get("RESNET_VIZ_CHROMIUM")
    if env:  # an explicit choice is the only one tried (also how the "no browser" path is checked)
        return env if os.path.exists(env) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def require_browser() -> str:
    """The Chromium path, or skip (outside CI) / fail (CI=true) with the install command."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright for Python is not installed"
    path = chromium_path()
    if problem is None and path is None:
        problem = f"Chromium was not found at {os.environ.get('RESNET_VIZ_CHROMIUM') or '/usr/bin/chromium'}"
    if problem is None:
        return path  # type: ignore[return-value]
    message = f"real-browser tests need a browser: {problem}; {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except OSError:
        return False


class StreamlitServer:
    """`streamlit run app.py` on a free loopback port; always stopped by :meth:`stop`."""

    def __init__(self, log_path: Path = SERVER_LOG, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        self.process = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_healthy(self, timeout_s: float = SERVER_START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            if _healthy(self.base_url):
                return
            time.sleep(0.25)
        raise RuntimeError(f"streamlit not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def logged_exceptions(self) -> list[str]:
        """The last line of every traceback the server logged (exceptions in the page scripts included)."""
        lines = self.log_tail(chars=10**7).splitlines()
        found = []
        for i, line in enumerate(lines):
            if line.startswith("Traceback"):
                rest = [ln for ln in lines[i + 1 :] if ln and not ln.startswith((" ", "Traceback"))]
                found.append(rest[0] if rest else line)
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return require_browser()


@pytest.fixture(scope="session")
def streamlit_server(chromium_executable: str) -> Iterator[StreamlitServer]:
    server = StreamlitServer()
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
def page(browser, streamlit_server: StreamlitServer):
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
