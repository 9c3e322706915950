"""Uploads a page refuses leave nothing behind on the server (issue 22, D6), in a real browser against a server of
its own (so that its RSS is this test's alone).

* The picture uploader tells the browser the images' own limit (64 MB, not the server's 300 MB, which is the
  checkpoints'): a larger file is refused by the browser and never sent.
* A file the page refuses after receiving it (here a 60 MB file that is no picture) is dropped in the run that
  refuses it: out of Streamlit's uploaded-file store and the session's widget state. Two tabs each refusing one
  leave the server's RSS where it was; before, each refused file stayed until its session ended.

Also the measurement behind the closing note's D6 row: ``pytest tests/e2e/test_upload_limits.py -s`` prints the
server's RSS before and after.
"""

from __future__ import annotations

import re

import pytest
from test_pages import SETTLE_TIMEOUT_MS, open_page, settle  # one definition of a settled page

from devtools.devserver import DevServer
from resnet_viz.i18n import translator
from resnet_viz.imaging import images

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EN = translator("en")
MB = 2**20
#: What two refused 60 MB files may leave in the server's RSS: Python's and glibc's own bookkeeping of the
#: transfer, far below one file (before the fix each tab kept its file: +120 MB and more).
LEFT_MB = 30


@pytest.fixture
def own_server(chromium_executable, tmp_path):
    from repo import ROOT

    server = DevServer(
        ROOT / "test-artifacts" / "e2e-upload-server.log", extra_env={"RESNET_VIZ_OFFLINE": "1"}
    )
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def _upload_tab(browser, server: DevServer):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.set_default_timeout(60_000)
    page = context.new_page()
    open_page(page, server.base_url, "feature_maps", EN("feature_maps.title"))
    page.locator('[data-testid="stMain"] [data-testid="stRadio"] label').filter(
        has_text=re.compile(rf"^{re.escape(EN('feature_maps.input_upload'))}$")
    ).first.click()
    page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').first.wait_for(
        state="attached", timeout=SETTLE_TIMEOUT_MS
    )
    settle(page)
    return context, page


def _uploader(page):
    return page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').first


def test_refused_uploads_leave_nothing_on_the_server(browser, own_server, tmp_path):
    over = tmp_path / "big.png"
    over.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(images.MAX_BYTES + MB))
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"not an image\n" * (60 * MB // 13))

    tabs = [_upload_tab(browser, own_server) for _ in range(2)]
    before = own_server.memory_mb()[0]
    for _, page in tabs:
        # Over the images' limit: the browser says so and sends nothing.
        _uploader(page).set_input_files(str(over))
        page.get_by_text(re.compile(r"File must be 64(\.0)? ?MB or smaller")).first.wait_for(
            timeout=SETTLE_TIMEOUT_MS
        )
        settle(page)
        # Not a picture: sent, refused with the page's own message, and dropped.
        _uploader(page).set_input_files(str(junk))
        message = EN("feature_maps.bad_image", name="notes.png")
        page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').filter(
            has_text=message
        ).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        settle(page)
        # The uploader is a fresh one, empty: no file listed under it.
        assert page.locator('[data-testid="stMain"] [data-testid="stFileUploaderFile"]').count() == 0
    after = own_server.memory_mb()[0]
    print(f"\nserver RSS: {before:.0f} MB before, {after:.0f} MB after two tabs each refused 2 files")
    assert after - before <= LEFT_MB, (before, after)
    for context, _ in tabs:
        context.close()
    assert own_server.logged_exceptions() == [], own_server.log_tail(3000)
