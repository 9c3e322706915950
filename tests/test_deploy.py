"""deploy/: the nginx site file run for real on loopback (HTTPS, headers, Host, limits), and the systemd unit's sandbox.

nginx runs the shipped ``deploy/nginx/resnet-viz.conf`` through ``benchmarks/bench_replicas.py``'s own runner (a
temporary prefix, a self-signed certificate made with openssl, free loopback ports), in front of a stub replica that
records what nginx passes on; the Streamlit replicas themselves are ``python -m benchmarks.bench_replicas``'s job.
Without nginx, openssl or systemd-analyze these tests skip outside CI (naming the install command) and fail under
``CI=true``, whose ``.ci/run`` installs them: CI never silently stops checking the deployment.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from repo import ROOT

from benchmarks.bench_replicas import (
    CLASS_SIZE,
    HOSTNAME,
    NGINX,
    SECURITY_HEADERS,
    SITE_CONF,
    Nginx,
    site_limits,
)
from devtools.devserver import free_port

UNIT = ROOT / "deploy" / "systemd" / "resnet-viz@.service"
#: Requests the heaviest page load (Feature maps) sends to a replica, its websocket included: 20 + 1, measured
#: through nginx by `python -m benchmarks.bench_replicas` ("limit_req burst"), which re-measures it on every run.
PAGE_LOAD_TO_REPLICAS = 21
#: The most `systemd-analyze security` may score the unit (its scale: 0 safe … 10 exposed; "OK" is below 4).
MAX_EXPOSURE = 4.0


def require(found: bool, what: str, install: str) -> None:
    """Skip outside CI, fail under CI=true (as the browser tests do): CI must never silently skip these."""
    if found:
        return
    message = f"{what} is not installed: sudo apt-get install {install}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- nginx in front of a stub replica


class StubReplica(ThreadingHTTPServer):
    """Answers every request with 200 (or 101 to a websocket upgrade) and records the headers it received."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _StubHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _StubHandler(BaseHTTPRequestHandler):
    server: StubReplica

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append((self.path, headers))
        if headers.get("upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            return
        body = b"ok" if self.path.endswith("/_stcore/health") else b"<html>page</html>"
        self.send_response(404 if "no-such-file" in self.path else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tools() -> None:
    require(Path(NGINX).exists(), "nginx", "nginx")
    require(shutil.which("openssl") is not None, "openssl", "openssl")


@pytest.fixture(scope="module")
def stub() -> Iterator[StubReplica]:
    server = StubReplica()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def nginx(tools: None, stub: StubReplica) -> Iterator[Nginx]:
    proxy = Nginx([stub.port])  # runs `nginx -t` on the rendered file first and raises if it fails
    try:
        proxy.wait_healthy(timeout_s=30)
        yield proxy
    finally:
        proxy.stop()


def _last_seen(stub: StubReplica, path: str) -> dict[str, str]:
    return next(headers for seen, headers in reversed(stub.seen) if seen == path)


def test_plain_http_redirects_to_https_with_path_and_query(nginx: Nginx) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", nginx.http_port, timeout=10)
    try:
        conn.request("GET", "/feature_maps?net=resnet34&lang=zh")
        resp = conn.getresponse()
        resp.read()
    finally:
        conn.close()
    assert resp.status == 301
    assert resp.getheader("Location") == f"https://127.0.0.1:{nginx.port}/feature_maps?net=resnet34&lang=zh"


def test_https_serves_the_certificate_it_is_given(nginx: Nginx) -> None:
    """The TLS block uses the configured certificate: a client trusting only it completes the handshake."""
    context = ssl.create_default_context(cafile=str(nginx.cert))
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", nginx.port), timeout=10), server_hostname=HOSTNAME
    ) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def _some_static_file() -> str:
    import streamlit

    css = next((Path(streamlit.__file__).parent / "static" / "static" / "css").glob("*.css"))
    return f"/static/css/{css.name}"


@pytest.mark.parametrize(
    "path", ["/feature_maps", "static", "/_stcore/health", "/static/no-such-file.js", "/no-such-page"]
)
def test_every_response_carries_the_security_headers(nginx: Nginx, path: str) -> None:
    path = _some_static_file() if path == "static" else path
    status, headers, _ = nginx.get(path)
    assert status in (200, 404), status
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_static_files_come_from_disk_immutable_and_pages_do_not(nginx: Nginx, stub: StubReplica) -> None:
    path = _some_static_file()
    before = len(stub.seen)
    status, headers, _ = nginx.get(path)
    assert status == 200 and len(stub.seen) == before  # not proxied
    assert "immutable" in headers.get("cache-control", "")
    assert "immutable" not in nginx.get("/feature_maps")[1].get("cache-control", "")


@pytest.mark.parametrize("path", ["/feature_maps", "/static/no-such-file.js", "/_stcore/health"])
def test_the_replica_sees_the_host_with_its_port(nginx: Nginx, stub: StubReplica, path: str) -> None:
    """D10: Streamlit compares a websocket's Origin (https://name:port) with Host; `$host` dropped the port."""
    nginx.get(path)
    seen = _last_seen(stub, path)
    assert seen["host"] == f"{HOSTNAME}:{nginx.port}"
    assert seen["x-forwarded-proto"] == "https"


def test_a_websocket_upgrade_goes_through_tls(nginx: Nginx, stub: StubReplica) -> None:
    status, headers, _ = nginx.get(
        "/_stcore/stream",
        {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
         "Sec-WebSocket-Version": "13", "Origin": f"https://{HOSTNAME}:{nginx.port}"},
    )  # fmt: skip
    assert status == 101 and headers.get("upgrade", "").lower() == "websocket"
    seen = _last_seen(stub, "/_stcore/stream")
    assert seen["upgrade"] == "websocket" and seen["connection"].lower() == "upgrade"
    assert seen["host"] == f"{HOSTNAME}:{nginx.port}" and seen["origin"] == f"https://{HOSTNAME}:{nginx.port}"


def test_a_browser_gets_a_route_cookie_once(nginx: Nginx) -> None:
    _, first, _ = nginx.get("/feature_maps")
    route = re.match(r"rv_route=([0-9a-f]{32}); Path=/; HttpOnly; SameSite=Lax$", first.get("set-cookie", ""))
    assert route
    _, again, _ = nginx.get("/feature_maps", {"Cookie": f"rv_route={route[1]}"})
    assert "set-cookie" not in again


# --------------------------------------------------------------------------- limits


def test_limits_are_sized_for_a_class_and_apply_only_to_what_reaches_a_replica() -> None:
    site = SITE_CONF.read_text()
    limits = site_limits(site)
    assert limits["burst"] >= 2 * CLASS_SIZE * PAGE_LOAD_TO_REPLICAS
    assert limits["connections"] >= CLASS_SIZE * PAGE_LOAD_TO_REPLICAS
    # Every location that proxies has both limits; the static files' location (from disk) has neither.
    locations = dict(re.findall(r"\n    location ([^{]+?) \{\n(.*?)\n    \}", site, flags=re.S))
    assert set(locations) == {
        "/",
        "/static/",
        "@replica",
        "= /_stcore/health",
        "/.well-known/acme-challenge/",
    }
    for name, body in locations.items():
        proxies = "proxy_pass" in body
        assert ("limit_req zone=rv_requests" in body) == proxies, name
        assert ("limit_conn rv_connections" in body) == proxies, name
        # nginx drops all of the server's add_header (proxy_set_header) lines in a location that has one.
        assert "add_header" not in body and "proxy_set_header" not in body, name


def test_a_class_of_page_loads_passes_and_a_flood_is_refused_with_429(tools: None) -> None:
    """From one address (a class behind one NAT): the first `burst` requests all pass, however fast they come;
    a flood beyond burst + rate × elapsed gets 429, with the security headers. The replica is down (nginx answers
    502 at once), so the count, not a replica's speed, decides."""
    limits = site_limits(SITE_CONF.read_text())
    proxy = Nginx([free_port()])  # nothing listens there
    try:
        proxy.wait_for_start()
        conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=proxy.tls, timeout=10)
        statuses: list[int] = []
        refused_headers: dict[str, str] = {}
        started = time.monotonic()
        while True:
            conn.request("GET", "/feature_maps", headers={"Host": f"{HOSTNAME}:{proxy.port}"})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            if resp.status == 429:
                refused_headers = {k.lower(): v for k, v in resp.getheaders()}
                break
            elapsed = time.monotonic() - started
            assert len(statuses) <= limits["burst"] + limits["rate"] * elapsed + 50, "no 429 past the limit"
            assert elapsed < 60, f"only {len(statuses)} requests in 60 s: too slow to reach the limit"
        conn.close()
    finally:
        proxy.stop()
    assert set(statuses[:-1]) == {502}  # all of them reached the (dead) replica
    assert len(statuses) - 1 >= limits["burst"] >= 2 * CLASS_SIZE * PAGE_LOAD_TO_REPLICAS
    assert {name: refused_headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


# --------------------------------------------------------------------------- systemd


def unit_directives(text: str) -> dict[str, list[str]]:
    """[Service] key -> values (in order; continuation lines joined)."""
    section, directives = "", {}
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            directives.setdefault(key, []).append(value)
    return directives


#: The sandbox, directive by directive (where systemd-analyze is missing, these are what is checked).
SANDBOX = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/resnet-viz",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateUsers": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
}


def test_the_unit_has_the_sandbox_directives() -> None:
    directives = unit_directives(UNIT.read_text())
    assert {key: directives.get(key, [None])[-1] for key in SANDBOX} == SANDBOX
    assert directives["SystemCallFilter"][0] == "@system-service"
    # The app's home (torch's hub cache) is the one writable folder, and it is the user's HOME.
    assert "HOME=/var/lib/resnet-viz" in directives["Environment"]
    # torch's CPU kernels are compiled at run time into memory then made executable (oneDNN): see the unit.
    assert directives.get("MemoryDenyWriteExecute") == ["no"]


def test_systemd_analyze_scores_the_unit_below_4() -> None:
    tool = shutil.which("systemd-analyze")
    require(tool is not None, "systemd-analyze", "systemd")
    out = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(UNIT)],  # type: ignore[list-item]
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-500:]
    assert "Unknown key" not in out.stderr and "Failed to parse" not in out.stderr, out.stderr[-500:]
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert score, out.stdout[-500:]
    assert float(score[1]) < MAX_EXPOSURE, json.dumps(out.stdout.splitlines()[-40:], ensure_ascii=False)


def test_the_units_memory_limit_holds_what_a_replica_may_hold() -> None:
    """Issue 22 D3: MemoryMax must not kill a replica that stays within its own bounds (store, caches, models and
    one request budget per concurrent forward on the 2 cores a replica is planned for)."""
    from resnet_viz.models.device import forward_budget
    from resnet_viz.settings import DEFAULTS

    unit = (ROOT / "deploy" / "systemd" / "resnet-viz@.service").read_text(encoding="utf-8")
    (value,) = re.findall(r"^MemoryMax=(\d+)M$", unit, re.M)
    worst = DEFAULTS.replica_mb(forward_budget(2).max_concurrent)
    assert int(value) >= worst, f"MemoryMax={value}M is below a replica's bound of {worst:.0f} MB"
    assert worst > 1536  # the old limit was below it: the check can fail
