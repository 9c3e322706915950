"""In a real browser against one real server (issue 22, D1): a student uploads the 1 kB hash-bomb checkpoint, and
meanwhile the server's health check and another student's page keep answering; the uploader gets one clear
refusal.

Before the pre-scan, hashing the bomb's dict key held the GIL for 2**64 steps: /_stcore/health and every other
session stopped for good (D=31: the health check took 18 s, another student's page 22.6 s).
"""

from __future__ import annotations

import re
import threading
import time
import urllib.request

import pytest
from checkpoint_bombs import hash_bomb_zip
from test_pages import SETTLE_TIMEOUT_MS, _plain, open_page, settle

from resnet_viz.i18n import translator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EN = translator("en")
#: The longest a health check may take while the bomb is handled: Streamlit answers it from its event loop in
#: milliseconds, so seconds mean the loop (and every session) was stopped.
HEALTH_LIMIT_S = 3.0
#: Another student's page must render in this time (generous: a page run on a busy 2-core CI machine).
OTHER_PAGE_LIMIT_S = 60.0


class HealthProbe(threading.Thread):
    """Asks ``/_stcore/health`` every 0.1 s until stopped and records how long each answer took (a probe that
    gets no answer within 30 s counts as 30 s)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base_url}/_stcore/health"
        self.times: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as resp:
                    resp.read()
            except OSError:
                pass
            self.times.append(time.perf_counter() - t0)
            self.done.wait(0.1)


def test_a_hash_bomb_upload_leaves_the_other_sessions_answering(page, browser, streamlit_server):
    base = streamlit_server.base_url
    open_page(page, base, "feature_maps?net=resnet20&size=32", EN("feature_maps.title"))
    page.locator('[data-testid="stMain"] [data-testid="stRadio"] label').filter(
        has_text=re.compile(rf"^{re.escape(EN('feature_maps.weights_checkpoint'))}$")
    ).first.click()
    uploader = (
        page.locator('[data-testid="stMain"] [data-testid="stFileUploader"]')
        .filter(has_text=EN("feature_maps.ckpt_upload"))
        .locator('[data-testid="stFileUploaderDropzoneInput"]')
        .first
    )
    uploader.wait_for(state="attached", timeout=SETTLE_TIMEOUT_MS)
    settle(page)

    probe = HealthProbe(base)
    probe.start()
    other_context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    try:
        bomb = hash_bomb_zip(64)
        assert len(bomb) < 1300
        uploader.set_input_files({"name": "bomb.pt", "mimeType": "application/octet-stream", "buffer": bomb})
        # Meanwhile, another student opens the home page in their own session.
        other = other_context.new_page()
        t0 = time.perf_counter()
        other.goto(f"{base}/")
        other.get_by_text(_plain(EN("home.title")), exact=False).first.wait_for(
            timeout=OTHER_PAGE_LIMIT_S * 1000
        )
        other_s = time.perf_counter() - t0

        # The uploader is told, once, that this file was refused for its structure.
        refusal = page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').filter(
            has_text=_plain(EN("feature_maps.ckpt_error", name="bomb.pt"))
        )
        refusal.first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        settle(page)
        assert refusal.count() == 1
        assert _plain(EN("feature_maps.ckpt_error_structure")) in refusal.first.inner_text()
    finally:
        probe.done.set()
        probe.join(timeout=40)
        other_context.close()
    assert len(probe.times) >= 3, probe.times
    assert max(probe.times) < HEALTH_LIMIT_S, (
        f"/_stcore/health took {max(probe.times):.1f} s while the bomb was handled "
        f"(another page: {other_s:.1f} s)"
    )
    assert streamlit_server.healthy()
