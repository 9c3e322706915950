"""The app's own websocket through nginx's TLS block, on a school's hostname and a port that is not 443.

Streamlit accepts a websocket only when its Origin (``https://name:port``) matches the Host header it receives, or
names localhost; a browser on a school's server sends its name and port, so nginx must pass the Host with the port
(``$http_host``; ``$host`` drops the port and every page stays blank). A real browser does the same in
``python -m benchmarks.bench_replicas``; here the handshake alone, against the e2e server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench_replicas import HOSTNAME, NGINX, SECURITY_HEADERS, Nginx
from devtools.devserver import DevServer


@pytest.fixture(scope="module")
def proxy(streamlit_server: DevServer) -> Iterator[Nginx]:
    missing = [
        name
        for name, found in (("nginx", Path(NGINX).exists()), ("openssl", shutil.which("openssl")))
        if not found
    ]
    if missing:
        message = f"{' and '.join(missing)} not installed: sudo apt-get install {' '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    nginx = Nginx([streamlit_server.port])
    try:
        nginx.wait_healthy()
        yield nginx
    finally:
        nginx.stop()


def _handshake(proxy: Nginx, origin: str) -> int:
    status, _, _ = proxy.get(
        "/_stcore/stream",
        {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
         "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "streamlit", "Origin": origin},
    )  # fmt: skip
    return status


def test_the_app_accepts_its_websocket_from_its_own_origin_on_another_port(proxy: Nginx) -> None:
    assert _handshake(proxy, f"https://{HOSTNAME}:{proxy.port}") == 101


def test_the_app_still_refuses_a_websocket_from_another_site(proxy: Nginx) -> None:
    """The check that $http_host satisfies is still a check: another origin is refused."""
    assert _handshake(proxy, "https://evil.example") != 101


def test_the_app_s_page_through_nginx_carries_the_security_headers(proxy: Nginx) -> None:
    status, headers, body = proxy.get("/feature_maps")
    assert status == 200 and b"<html" in body.lower()
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
