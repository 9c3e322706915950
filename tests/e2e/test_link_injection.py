"""Nothing a student types into the address or a file name becomes markup in the page (issue 22, D5).

The red team's probes: a backtick in a parameter's name or value closed the notice's code span, so
``?a`[Click](//e.co)`=1`` (or the same in ``net`` or ``plain``) showed a live link to another site inside the app's
own warning, and ``![i](//host/p.png)`` loaded a third-party image, which leaks the viewer's address. Checked here
on the DOM Streamlit's own Markdown renderer built: no anchor or image in an alert or caption points to another
origin, no request leaves for the probes' hosts, and each probe is shown as the literal text it was.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import pytest
from repo import ROOT

from resnet_viz.i18n import translator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EN = translator("en")
SETTLE_TIMEOUT_MS = 90_000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
#: The hosts the probes point to: nothing may be requested from them, and no anchor or image may name them.
PROBE_HOSTS = ("e.co", "host")
LINK = "`[Click](//e.co)`"
IMAGE = "`![i](//host/p.png)`"
#: Where echoed text lands: alerts (the link notice, upload errors) and the pictures' captions.
ECHOES = '[data-testid="stAlert"], [data-testid="stCaptionContainer"], [data-testid="stImageCaption"]'

#: Every anchor and image in the page (or inside ``scope``), with the address the browser resolved.
_TARGETS_JS = """(scope) => {
    const roots = scope ? [...document.querySelectorAll(scope)] : [document];
    const found = [];
    for (const root of roots) {
        for (const a of root.querySelectorAll('a[href]')) found.push({tag: 'a', url: a.href});
        for (const i of root.querySelectorAll('img')) found.push({tag: 'img', url: i.currentSrc || i.src});
    }
    return found;
}"""


def _settle(page) -> None:
    page.wait_for_selector(IDLE, timeout=SETTLE_TIMEOUT_MS)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.dataset.testScriptState === 'notRunning'
                && !document.querySelector('[data-stale="true"]');
        }""",
        timeout=SETTLE_TIMEOUT_MS,
    )


def _record_requests(page) -> list[str]:
    """Every address the page asks for from now on (an injected image would be fetched at once)."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def _assert_nothing_foreign(page, requests: list[str], origin: str) -> None:
    echoed = page.evaluate(_TARGETS_JS, ECHOES)
    foreign = [t for t in echoed if not t["url"].startswith((origin + "/", "data:", "blob:"))]
    assert not foreign, f"an alert or caption holds a link or image to another origin: {foreign}"
    everywhere = page.evaluate(_TARGETS_JS, None)
    probed = [t for t in everywhere if urlsplit(t["url"]).hostname in PROBE_HOSTS]
    assert not probed, f"the page holds a link or image to a probe's host: {probed}"
    asked = [u for u in requests if urlsplit(u).hostname in PROBE_HOSTS]
    assert not asked, f"the browser asked a probe's host for {asked}"


def test_the_link_notice_shows_injected_markdown_as_text(page, streamlit_server, screenshot_dir):
    requests = _record_requests(page)
    query = {"lang": "en", f"a{LINK}": "1", "net": LINK, "plain": IMAGE}
    page.goto(f"{streamlit_server.base_url}/?{urlencode(query)}")
    notice = page.locator('[data-testid="stAlert"]').filter(has_text=EN("links.notice"))
    notice.first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    _settle(page)
    assert notice.count() == 1
    _assert_nothing_foreign(page, requests, streamlit_server.base_url)
    text = notice.first.inner_text()
    for shown in (f"a{LINK}", f"net={LINK}", f"plain={IMAGE}"):  # each probe as the text it was
        assert shown in text, (shown, text)
    page.screenshot(path=str(screenshot_dir / "en-link-injection.png"), full_page=True)


def _state_dict_bytes(arch: str) -> bytes:
    import io

    import torch

    from resnet_viz.models import build_model

    buffer = io.BytesIO()
    torch.save(build_model(arch).state_dict(), buffer)
    return buffer.getvalue()


def test_uploaded_file_names_are_shown_as_text(page, streamlit_server, screenshot_dir):
    """Every place a file name is echoed: an image's error and caption, a checkpoint's error, banner and the
    "still using" caption. Each name holds a bare link and image (for “{name}” templates) and a backticked link
    (for the old `{name}` template); a CIFAR net keeps the forward passes and the checkpoint small."""
    requests = _record_requests(page)
    page.goto(f"{streamlit_server.base_url}/feature_maps?lang=en&net=resnet20")
    page.get_by_text(EN("feature_maps.title")).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
    _settle(page)
    probe = f"[Click](//e.co){LINK}![i](//host/p.png)"

    def choose(label: str) -> None:
        page.locator('[data-testid="stMain"] [data-testid="stRadio"] label').filter(
            has_text=re.compile(rf"^{re.escape(label)}$")
        ).first.click()
        _settle(page)

    def upload(label: str, name: str, data: bytes, mime: str) -> None:
        """Upload, wait until an alert or caption names the file (by its plain first word), check the page."""
        uploader = page.locator('[data-testid="stMain"] [data-testid="stFileUploader"]').filter(
            has_text=label
        )
        dropzone = uploader.first.locator('[data-testid="stFileUploaderDropzoneInput"]')
        dropzone.set_input_files({"name": name, "mimeType": mime, "buffer": data})
        marker = name.split("[")[0]
        page.locator(ECHOES).filter(has_text=marker).first.wait_for(timeout=SETTLE_TIMEOUT_MS)
        _settle(page)
        _assert_nothing_foreign(page, requests, streamlit_server.base_url)
        shown = " ".join(page.locator(ECHOES).all_inner_texts())
        assert name in shown, f"{name!r} is not shown as the text it is: {shown}"

    choose(EN("feature_maps.input_upload"))
    image_label = EN("feature_maps.upload_label")
    upload(image_label, f"notanimage-{probe}.png", b"not an image\n" * 40, "image/png")  # the error
    upload(image_label, f"photo-{probe}.jpg", (ROOT / "assets" / "coffee.jpg").read_bytes(), "image/jpeg")
    choose(EN("feature_maps.weights_checkpoint"))
    ckpt_label = EN("feature_maps.ckpt_upload")
    upload(ckpt_label, f"weights-{probe}.pt", _state_dict_bytes("resnet20"), "application/octet-stream")
    upload(ckpt_label, f"notweights-{probe}.pt", b"not a checkpoint", "application/octet-stream")
    page.screenshot(path=str(screenshot_dir / "en-file-name-injection.png"), full_page=True)
