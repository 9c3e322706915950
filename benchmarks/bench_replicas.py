"""Two replicas behind nginx, on loopback: HTTPS, sticky sessions, and what a crash of one replica does to a class.

Starts 2 Streamlit replicas (``devtools.devserver``) and nginx as a non-daemon child with a temporary prefix
(``deploy/nginx/resnet-viz.conf`` itself: its upstream servers, listen ports and static root rewritten, and a
self-signed certificate made with ``openssl`` in place of the school's; no root paths, no privileges). Chromium
reaches it as ``https://resnet-viz.test:<port>`` (a school's name on a port that is not 443: Streamlit checks the
websocket's Origin against the Host header nginx passes on) and trusts exactly that certificate. Then, through the
proxy only:

1. 10 browser sessions (Chromium contexts: their own cookies, so their own route) each open the Feature maps page,
   are a secure context (the webcam needs one) with their websocket on ``wss://``, choose the random weights,
   upload their own image and check they see their own preview and top-1 (the top-1 computed offline with the core
   functions, as in the load test);
2. the replica serving the most of them is killed (SIGKILL, as a crash);
3. the sessions on the survivor interact again (two reruns) and must still see their own image and top-1, with
   no reconnect of their websocket;
4. new sessions (4) must all be served by the survivor (nginx's access log names the upstream of each request);
5. the killed replica's sessions must see Streamlit's reconnect (their websocket closes and a new one opens,
   through the proxy, to the survivor) and can start again: the survivor has none of their state (it lived in
   the killed process), so, as a student would, they reload the page and redo the step: random weights, upload,
   own preview and top-1 (a screenshot after the reconnect: ``test-artifacts/replicas/after-reconnect.png``);
6. no server-side exception in either replica's log;
7. at the edge: plain HTTP answers with a redirect to HTTPS; a page, a static file, the health check and a missing
   file carry the security headers; no request was refused by the rate or connection limits, and the requests a
   page load sends to the replicas (and those in flight at once), times a class of 40 behind one address, fit
   the limits in the site file.

Every wait is bounded; the whole run stops itself (``TOTAL_TIMEOUT_S``) and always stops nginx and the replicas.

    python -m benchmarks.bench_replicas        # or: python -m benchmarks --only replicas
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import io
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit
from PIL import Image

from benchmarks.bench_load import (
    FIRST_GRID_JS,
    IDLE_JS,
    Upload,
    make_uploads,
    nearest_upload,
    offline_top1,
)
from benchmarks.common import Result, print_table
from devtools.devserver import CHROMIUM_ARGS, DevServer, chromium_path, free_port

ROOT = Path(__file__).resolve().parents[1]
SITE_CONF = ROOT / "deploy" / "nginx" / "resnet-viz.conf"
NGINX = "/usr/sbin/nginx"
SESSIONS = 10
NEW_SESSIONS = 4
STEP_TIMEOUT_S = 240  # one browser step (a click answered, an upload's first grid)
RECONNECT_TIMEOUT_S = 90
TOTAL_TIMEOUT_S = 900
LOG_FORMAT = 'rv "$rv_route" "$upstream_addr" $status "$request" $msec $request_time'
#: The school's hostname in this test: a name only the test's Chromium resolves (to 127.0.0.1). Not "localhost" or
#: an address: Streamlit accepts a websocket from those whatever the Host header says, a school's name it does not.
HOSTNAME = "resnet-viz.test"
#: A class behind one NAT, all opening the app at once: the request and connection limits must let it through.
CLASS_SIZE = 40
#: The headers every HTTPS response carries (deploy/nginx/resnet-viz.conf), lower-case name: value.
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": "frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
}
#: Every image the page shows has loaded (the browser fetches a result's images after the script has finished).
IMAGES_LOADED_JS = "() => [...document.images].every(img => img.complete)"
SECURE_CONTEXT_JS = (
    "() => window.isSecureContext && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)"
)
FETCH_JS = """async (src) => {
    const resp = await fetch(src);
    const bytes = new Uint8Array(await resp.arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return [resp.status, btoa(text)];
}"""


# --------------------------------------------------------------------------- nginx as a child


def make_certificate(folder: Path, hostname: str = HOSTNAME) -> tuple[Path, Path]:
    """A self-signed certificate for ``hostname`` and 127.0.0.1, made with ``openssl``: (certificate, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={hostname}",
            "-addext", f"subjectAltName=DNS:{hostname},IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def spki_sha256(cert: Path) -> str:
    """base64 SHA-256 of the certificate's public key: Chromium's ``--ignore-certificate-errors-spki-list``
    trusts exactly this key, so the page is a secure context as behind a trusted certificate."""
    pub = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=pub,
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _sub_once(pattern: str, repl: str, text: str) -> str:
    text, n = re.subn(pattern, lambda _m: repl, text)
    if n < 1:
        raise RuntimeError(f"{SITE_CONF} no longer has the line this benchmark rewrites: {pattern!r}")
    return text


def render_site(
    site: str, replica_ports: list[int], http_port: int, https_port: int, cert: Path, key: Path
) -> str:
    """The site file on loopback: our replicas, ports, certificate and this interpreter's Streamlit static files.
    Every other line (headers, limits, proxying) is the shipped file's own."""
    lines = [ln for ln in site.splitlines() if not re.match(r"\s*server 127\.0\.0\.1:\d+ ", ln)]
    text = "\n".join(lines) + "\n"
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in replica_ports)
    text = _sub_once(r"(?<=upstream resnet_viz \{\n    hash \$rv_route consistent;\n)", servers, text)
    text = _sub_once(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
    text = _sub_once(r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl", text)
    text = _sub_once(
        r"return 301 https://\$host\$request_uri;",
        f"return 301 https://$host:{https_port}$request_uri;",
        text,
    )
    text = _sub_once(r"ssl_certificate +/\S+;", f"ssl_certificate {cert};", text)
    text = _sub_once(r"ssl_certificate_key +/\S+;", f"ssl_certificate_key {key};", text)
    static = Path(streamlit.__file__).parent / "static"  # this interpreter's Streamlit, the replicas' own
    return _sub_once(r"root /opt/resnet-viz/\S+/streamlit/static;", f"root {static};", text)


def render_conf(site_path: Path, prefix: Path) -> str:
    """The main nginx.conf for a temporary prefix (no root paths, no privileges), including ``site_path``."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
    log_format rv '{LOG_FORMAT}';
    access_log {prefix / "access.log"} rv;
{temp}
    include {site_path};
}}
"""


@dataclass
class Logged:
    """One request in nginx's access log."""

    route: str
    upstream: str  # the replicas tried, the last one served; "-" for a file served from disk
    status: int
    request: str
    end: float  # epoch seconds
    duration: float  # seconds


class Nginx:
    """``deploy/nginx/resnet-viz.conf`` as a non-daemon child on loopback, with a fresh self-signed certificate.

    ``base_url`` is HTTPS under :data:`HOSTNAME` (a browser maps it to 127.0.0.1, see :attr:`chromium_args`),
    on a port that is not 443, so Origin and Host carry the port as they do on a school server on 8443."""

    def __init__(self, replica_ports: list[int], site: str | None = None) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="rv-nginx-")
        self.prefix = Path(self.tmp.name)
        self.http_port, self.port = free_port(), free_port()
        self.cert, self.key = make_certificate(self.prefix)
        self.base_url = f"https://{HOSTNAME}:{self.port}"
        self.loopback_url = f"https://127.0.0.1:{self.port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.tls = ssl.create_default_context(cafile=str(self.cert))
        site_path = self.prefix / "resnet-viz.conf"
        site_path.write_text(
            render_site(
                SITE_CONF.read_text() if site is None else site,
                replica_ports,
                self.http_port,
                self.port,
                self.cert,
                self.key,
            )  # fmt: skip
        )
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_conf(site_path, self.prefix))
        cmd = [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", str(conf)]
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            self.tmp.cleanup()
            raise RuntimeError(f"nginx -t failed: {check.stderr.strip()[-500:]}")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def chromium_args(self) -> list[str]:
        """Chromium resolves :data:`HOSTNAME` to loopback and trusts this run's certificate (and no other)."""
        return [
            f"--host-resolver-rules=MAP {HOSTNAME} 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={spki_sha256(self.cert)}",
        ]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One HTTPS request to 127.0.0.1 with ``Host: HOSTNAME:port`` (certificate checked): status, headers, body.
        Headers are lower-cased; a repeated header's values are joined with ", "."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": f"{HOSTNAME}:{self.port}", **(headers or {})})
            resp = conn.getresponse()
            merged: dict[str, str] = {}
            for name, value in resp.getheaders():
                merged[name.lower()] = f"{merged[name.lower()]}, {value}" if name.lower() in merged else value
            # A websocket accepted (101) stays open: its body is the socket, not something to read to the end.
            return resp.status, merged, b"" if resp.status == 101 else resp.read()
        finally:
            conn.close()

    def wait_for_start(self, timeout_s: float = 30) -> None:
        """nginx accepts TLS connections (whether or not a replica answers behind it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.error_log()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start in time")

    def wait_healthy(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.error_log()[-500:]}")
            try:
                if self.get("/_stcore/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError("nginx not healthy in time")

    def access_log(self) -> list[Logged]:
        """Every request logged so far, in order."""
        try:
            text = (self.prefix / "access.log").read_text(errors="replace")
        except OSError:
            return []
        return [
            Logged(route, upstream, int(status), request, float(end), float(duration))
            for route, upstream, status, request, end, duration in re.findall(
                r'^rv "([^"]*)" "([^"]*)" (\d+) "([^"]*)" ([\d.]+) ([\d.]+)$', text, flags=re.M
            )
        ]

    def error_log(self) -> str:
        try:
            return (self.prefix / "error.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # nginx: SIGTERM = fast shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.tmp.cleanup()


def site_limits(site: str) -> dict[str, int]:
    """The request rate (per second), burst and connection limit of the shipped site file."""
    rate = re.search(r"limit_req_zone .*zone=rv_requests:\S+ rate=(\d+)r/s;", site)
    bursts = set(re.findall(r"limit_req zone=rv_requests burst=(\d+) nodelay;", site))
    conn = re.search(r"limit_conn rv_connections (\d+);", site)
    if rate is None or conn is None or len(bursts) != 1:
        raise RuntimeError(
            f"{SITE_CONF}: expected one rate, one burst (the same in every location), one limit_conn"
        )
    return {"rate": int(rate[1]), "burst": int(bursts.pop()), "connections": int(conn[1])}


def peak_concurrency(entries: list[Logged]) -> int:
    """The most of ``entries`` in flight at one moment (from each request's end time and duration)."""
    events = sorted(
        [(e.end - e.duration, 1) for e in entries] + [(e.end, -1) for e in entries],
        key=lambda x: (x[0], x[1]),
    )
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


# --------------------------------------------------------------------------- one session through the proxy


@dataclass
class Session:
    index: int
    context: object = None
    page: object = None
    route: str = ""
    replica: int = -1  # port of the replica that served its page
    sockets_opened: int = 0
    socket_urls: list[str] = field(default_factory=list)
    secure_context: bool = False  # window.isSecureContext and the webcam API present
    loaded_at: float = float("nan")  # epoch seconds: its first page load finished (the app idle)
    sockets_at_load: int = 0  # websockets it had opened by then (nginx logs one only when it closes)
    first_grid_at: float = float("nan")  # epoch seconds: its first upload's grid shown
    sockets_closed: int = 0
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)


def _cam_title(t_of) -> str:
    return t_of("feature_maps.cam_title", label="").split("“")[0].replace("*", "").strip()


async def _radio(page, text) -> None:
    await (
        page.locator('[data-testid="stMain"] [data-testid="stRadio"] label')
        .filter(has_text=text)
        .first.click()
    )


async def _tab(page, text) -> None:
    await page.locator('[data-testid="stMain"] [role="tab"]').filter(has_text=text).first.click()


async def start_session(browser, base_url: str, index: int) -> Session:
    s = Session(index)
    s.context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    s.context.set_default_timeout(STEP_TIMEOUT_S * 1000)
    s.page = await s.context.new_page()
    s.page.on("pageerror", lambda exc: s.errors.append(f"page error: {exc}"))

    def on_ws(ws) -> None:
        if "/_stcore/stream" in ws.url:
            s.sockets_opened += 1
            s.socket_urls.append(ws.url)
            ws.on("close", lambda _ws: setattr(s, "sockets_closed", s.sockets_closed + 1))

    s.page.on("websocket", on_ws)
    await s.page.goto(f"{base_url}/feature_maps")
    s.route = next((c["value"] for c in await s.context.cookies() if c["name"] == "rv_route"), "")
    return s


async def wait_loaded(s: Session, t_of) -> None:
    """The first page load is over (the app idle, its images loaded); is it a secure context, with the webcam API?"""
    await s.page.get_by_text(t_of("feature_maps.title")).first.wait_for()
    for _ in range(2):  # a result's images are fetched after its script has finished: settle, then look again
        await s.page.wait_for_function(IDLE_JS)
        await s.page.wait_for_function(IMAGES_LOADED_JS, polling=200)
        await asyncio.sleep(2)
    s.loaded_at = time.time()
    s.sockets_at_load = s.sockets_opened
    s.secure_context = await s.page.evaluate(SECURE_CONTEXT_JS)


async def upload_and_check(s: Session, base_url: str, uploads: list[Upload], t_of) -> None:
    """Random weights, upload this session's image, wait for its grid and predictions; check they are its own."""
    page, mine = s.page, uploads[s.index]
    await page.get_by_text(t_of("feature_maps.title")).first.wait_for()
    await page.wait_for_function(IDLE_JS)
    await _radio(page, t_of("feature_maps.weights_random"))
    await page.get_by_text(re.compile(r"^Weights: random initialisation")).first.wait_for()
    await page.wait_for_function(IDLE_JS)
    await _radio(page, re.compile(rf"^{re.escape(t_of('feature_maps.input_upload'))}$"))
    uploader = page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').first
    await uploader.wait_for(state="attached")
    await page.wait_for_function(IDLE_JS)
    await _tab(page, t_of("feature_maps.tab_predictions"))
    await (
        page.locator('[data-testid="stMain"] [role="tabpanel"]')
        .get_by_text(_cam_title(t_of))
        .first.wait_for()
    )
    await page.wait_for_function(IDLE_JS)
    await uploader.set_input_files({"name": mine.name, "mimeType": "image/png", "buffer": mine.data})
    await page.wait_for_function(FIRST_GRID_JS, arg=mine.name, polling=200)
    await page.wait_for_function(IDLE_JS, polling=200)
    if s.first_grid_at != s.first_grid_at:  # NaN: the first time
        s.first_grid_at = time.time()
    await check_own(s, base_url, uploads, t_of)


async def own_preview(s: Session, uploads: list[Upload]) -> tuple[str, str]:
    """Is the "original" preview the server sent this session its own upload? As ``bench_load.own_preview``, but
    fetched by the page itself: only the browser resolves :data:`HOSTNAME` and trusts the certificate."""
    mine = uploads[s.index]
    original = s.page.locator('[data-testid="stImage"]').filter(has_text=mine.name).first
    if not await original.count():
        return "", f"no preview captioned {mine.name}"
    src = await original.locator("img").get_attribute("src")
    status, data = await s.page.evaluate(FETCH_JS, src)
    if status != 200:
        return f"preview {src} answered HTTP {status}", ""
    match = nearest_upload(Image.open(io.BytesIO(base64.b64decode(data))), uploads)
    return "", (f"preview shows {uploads[match].name}, not {mine.name}" if match != s.index else "")


async def check_own(s: Session, base_url: str, uploads: list[Upload], t_of) -> None:
    page, mine = s.page, uploads[s.index]
    if await page.locator('[data-testid="stException"]').count():
        s.errors.append("an exception box is shown")
    error, crosstalk = await own_preview(s, uploads)
    if error:
        s.errors.append(error)
        return
    if crosstalk:
        s.crosstalk.append(crosstalk)
    texts = await page.locator('[data-testid="stMarkdownContainer"]').all_text_contents()
    cam = next((t for t in texts if t.startswith(_cam_title(t_of))), "")
    if f"“{t_of('feature_maps.class_n', n=mine.top1)}”" not in cam:
        s.crosstalk.append(f"top-1 shown {cam[:80]!r}, expected class {mine.top1}")


async def guarded(s: Session, what: str, coro) -> bool:
    try:
        await asyncio.wait_for(coro, STEP_TIMEOUT_S + 30)
        return True
    except Exception as exc:  # noqa: BLE001 - every failure of a session is counted and reported, not raised
        s.errors.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
        return False


# --------------------------------------------------------------------------- what nginx saw


def traffic(entries: list[Logged], sessions: list[Session]) -> dict:
    """Per browser, from nginx's log: requests of the first page load (to a replica, its websocket included / files
    from disk), requests a second to a replica from page load to the first upload's grid (a scripted student,
    faster than a real one), and the most requests to a replica in flight at once so far (what limit_conn counts;
    websockets still open not counted)."""
    load_dynamic, load_static, working_rate, peak = [], [], [], []
    for s in sessions:
        mine = [e for e in entries if e.route == s.route]
        if not mine or s.loaded_at != s.loaded_at:
            continue
        load = [e for e in mine if e.end - e.duration <= s.loaded_at]
        sockets = sum(e.upstream != "-" and " /_stcore/stream " in e.request for e in load)
        load_dynamic.append(sum(e.upstream != "-" for e in load) - sockets + s.sockets_at_load)
        load_static.append(sum(e.upstream == "-" for e in load))
        if s.first_grid_at == s.first_grid_at:
            working = sum(
                e.upstream != "-" and s.loaded_at < e.end - e.duration <= s.first_grid_at for e in mine
            )
            working_rate.append(round(working / (s.first_grid_at - s.loaded_at), 2))
        peak.append(peak_concurrency([e for e in mine if e.upstream != "-"]))
    return {
        "page_load_to_replicas": load_dynamic,
        "page_load_from_disk": load_static,
        "working_requests_per_s": working_rate,
        "peak_in_flight_per_browser": peak,
        "peak_in_flight_all": peak_concurrency([e for e in entries if e.upstream != "-"]),
    }


def edge_checks(nginx: Nginx) -> dict:
    """HTTP -> HTTPS, and the security headers on a page, a static file, the health check and a missing file."""
    conn = http.client.HTTPConnection("127.0.0.1", nginx.http_port, timeout=10)
    try:
        conn.request("GET", "/feature_maps?lang=en")
        resp = conn.getresponse()
        redirect = (resp.status, resp.getheader("Location"))
    finally:
        conn.close()
    static = next(
        (e.request.split()[1] for e in nginx.access_log() if e.upstream == "-" and " /static/" in e.request),
        None,
    )
    missing = {}
    for path in [
        "/feature_maps",
        static or "/static/(none logged)",
        "/_stcore/health",
        "/static/no-such-file.js",
    ]:
        status, headers, _ = nginx.get(path)
        missing[f"{status} {path}"] = [
            f"{name}: {headers.get(name)!r}"
            for name, value in SECURITY_HEADERS.items()
            if headers.get(name) != value
        ]
    return {
        "redirect": redirect,
        "expected_redirect": f"https://127.0.0.1:{nginx.port}/feature_maps?lang=en",
        "headers_missing": missing,
    }


# --------------------------------------------------------------------------- the scenario


def _replica_of(nginx: Nginx, route: str) -> int:
    """The replica port that served the last request of ``route`` (the last upstream nginx tried)."""
    port = -1
    for e in nginx.access_log():
        if e.route == route and e.upstream not in ("", "-"):
            port = int(e.upstream.split(",")[-1].strip().rsplit(":", 1)[1])
    return port


async def scenario(replicas: list[DevServer], nginx: Nginx, uploads: list[Upload], report: dict) -> None:
    from playwright.async_api import async_playwright

    from resnet_viz.i18n import translator

    t_of = translator("en")
    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError("needs Chromium: sudo apt-get install chromium (or set RESNET_VIZ_CHROMIUM)")
    base = nginx.base_url
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS + nginx.chromium_args)
        try:
            # 1. ten sessions through the proxy
            sessions = list(await asyncio.gather(*(start_session(browser, base, i) for i in range(SESSIONS))))
            await asyncio.gather(*(guarded(s, "page load", wait_loaded(s, t_of)) for s in sessions))
            await asyncio.gather(
                *(guarded(s, "first upload", upload_and_check(s, base, uploads, t_of)) for s in sessions)
            )
            for s in sessions:
                s.replica = _replica_of(nginx, s.route)
            report["secure_context"] = sum(s.secure_context for s in sessions)
            wss = f"wss://{HOSTNAME}:{nginx.port}/"
            report["sockets_not_wss"] = [u for s in sessions for u in s.socket_urls if not u.startswith(wss)]
            report["sockets_wss"] = sum(u.startswith(wss) for s in sessions for u in s.socket_urls)
            report["traffic"] = traffic(nginx.access_log(), sessions)
            ports = [r.port for r in replicas]
            report["placement"] = {p: sum(s.replica == p for s in sessions) for p in ports}
            report["phase1_errors"] = [
                f"session {s.index}: {e}" for s in sessions for e in s.errors + s.crosstalk
            ]
            # 2. kill the replica with the most sessions (the other must have some for step 3 to mean anything)
            victim = max(replicas, key=lambda r: report["placement"][r.port])
            survivor = next(r for r in replicas if r is not victim)
            report["killed_port"], report["survivor_port"] = victim.port, survivor.port
            report["victim_exceptions"] = victim.logged_exceptions()  # before the kill: none allowed
            opened_before = {s.index: s.sockets_opened for s in sessions}
            victim.kill()
            on_victim = [s for s in sessions if s.replica == victim.port]
            on_survivor = [s for s in sessions if s.replica == survivor.port]

            # 3. the survivor's sessions: two reruns (tab away and back), still their own image and top-1
            async def still_own(s: Session) -> None:
                await _tab(s.page, t_of("feature_maps.tab_maps"))
                await s.page.wait_for_function(IDLE_JS, polling=200)
                await _tab(s.page, t_of("feature_maps.tab_predictions"))
                await s.page.get_by_text(_cam_title(t_of)).first.wait_for(state="attached")
                await s.page.wait_for_function(IDLE_JS, polling=200)
                await check_own(s, base, uploads, t_of)

            for s in on_survivor:
                s.errors.clear(), s.crosstalk.clear()
            await asyncio.gather(*(guarded(s, "after the kill", still_own(s)) for s in on_survivor))
            report["survivor_sessions"] = len(on_survivor)
            report["survivor_sessions_own"] = sum(not s.errors and not s.crosstalk for s in on_survivor)
            report["survivor_reconnects"] = sum(
                s.sockets_opened > opened_before[s.index] for s in on_survivor
            )
            report["survivor_errors"] = [
                f"session {s.index}: {e}" for s in on_survivor for e in s.errors + s.crosstalk
            ]
            # 4. new sessions: every one served by the survivor
            fresh = list(
                await asyncio.gather(
                    *(start_session(browser, base, SESSIONS + i) for i in range(NEW_SESSIONS))
                )
            )
            await asyncio.gather(
                *(guarded(s, "new session", upload_and_check(s, base, uploads, t_of)) for s in fresh)
            )
            for s in fresh:
                s.replica = _replica_of(nginx, s.route)
            report["new_sessions"] = len(fresh)
            report["new_on_survivor_ok"] = sum(
                s.replica == survivor.port and not s.errors and not s.crosstalk for s in fresh
            )
            report["new_errors"] = [f"session {s.index}: {e}" for s in fresh for e in s.errors + s.crosstalk]

            # 5. the killed replica's sessions: reconnect, then start again
            async def restart(s: Session) -> None:
                deadline = time.monotonic() + RECONNECT_TIMEOUT_S
                while s.sockets_opened <= opened_before[s.index] and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                if s.sockets_opened <= opened_before[s.index]:
                    raise TimeoutError(f"no reconnect within {RECONNECT_TIMEOUT_S} s")
                if s.index == on_victim[0].index:  # evidence: what a student sees after the reconnect
                    shots = ROOT / "test-artifacts" / "replicas"
                    shots.mkdir(parents=True, exist_ok=True)
                    await s.page.screenshot(path=str(shots / "after-reconnect.png"), full_page=True)
                # The survivor knows nothing of the session (it lived in the killed process): the student
                # starts again, as after Streamlit's "connection lost": reload, then the whole lesson step.
                await s.page.reload()
                await upload_and_check(s, base, uploads, t_of)

            for s in on_victim:
                s.errors.clear(), s.crosstalk.clear()
            await asyncio.gather(*(guarded(s, "restart after the kill", restart(s)) for s in on_victim))
            report["victim_sessions"] = len(on_victim)
            report["victim_sessions_reconnected"] = sum(
                s.sockets_closed >= 1 and s.sockets_opened > opened_before[s.index] for s in on_victim
            )
            report["victim_sessions_restarted"] = sum(
                not s.errors and not s.crosstalk and _replica_of(nginx, s.route) == survivor.port
                for s in on_victim
            )
            report["victim_errors"] = [
                f"session {s.index}: {e}" for s in on_victim for e in s.errors + s.crosstalk
            ]
            for s in sessions + fresh:
                await s.context.close()
        finally:
            await browser.close()


def _raise_on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signum}")


def run() -> list[Result]:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
    if not Path(NGINX).exists():
        return [
            Result("replicas: nginx not installed", float("nan"), "", "runs", False, "apt-get install nginx")
        ]
    uploads = make_uploads(SESSIONS + NEW_SESSIONS)
    offline_top1(uploads)
    logs = ROOT / "test-artifacts"
    # Offline, as a classroom whose weights cache was filled beforehand: the page shows its grids on first load
    # (the heaviest page load, which sizes the limits), and no replica waits on a download.
    replicas = [DevServer(logs / f"replica-{i}.log", extra_env={"RESNET_VIZ_OFFLINE": "1"}) for i in range(2)]
    nginx = None
    report: dict = {}
    t0 = time.perf_counter()
    try:
        for r in replicas:
            r.wait_healthy()
        nginx = Nginx([r.port for r in replicas])
        nginx.wait_healthy()
        asyncio.run(asyncio.wait_for(scenario(replicas, nginx, uploads, report), TOTAL_TIMEOUT_S))
        report["survivor_exceptions"] = next(
            r for r in replicas if r.port == report["survivor_port"]
        ).logged_exceptions()
        logged = nginx.access_log()
        static = [(e.upstream, e.request) for e in logged if " /static/" in e.request]
        report["static_requests"] = len(static)
        report["refused_by_limits"] = [f"{e.status} {e.request}" for e in logged if e.status == 429]
        report["edge"] = edge_checks(nginx)
        report["static_from_replicas"] = [req for u, req in static if u not in ("", "-")]
        nginx_errors = [ln for ln in nginx.error_log().splitlines() if "[emerg]" in ln or "[crit]" in ln]
        report["nginx_emerg"] = nginx_errors
    finally:
        if nginx is not None:
            nginx.stop()
        for r in replicas:
            r.stop()
    report["wall_s"] = time.perf_counter() - t0
    import json

    print("replica test report:", json.dumps(report, indent=2, default=str), file=sys.stderr)
    placement = report.get("placement", {})
    limits = site_limits(SITE_CONF.read_text())
    flow = report.get("traffic", {})
    load_max = max(flow.get("page_load_to_replicas") or [0])
    rate_max = max(flow.get("working_requests_per_s") or [0])
    edge = report.get("edge", {})
    headers_missing = {k: v for k, v in edge.get("headers_missing", {}).items() if v}
    phase1 = report.get("phase1_errors", [])
    exceptions = report.get("victim_exceptions", []) + report.get("survivor_exceptions", [])
    return [
        Result(
            f"replicas: HTTPS on {HOSTNAME}:<port>: sessions in a secure context (webcam API), websockets over wss",
            report.get("secure_context", 0),
            f"of {SESSIONS}",
            f"= {SESSIONS}, all wss",
            report.get("secure_context") == SESSIONS
            and report.get("sockets_wss", 0) >= SESSIONS
            and not report.get("sockets_not_wss"),
            f"wss sockets {report.get('sockets_wss')}; other {report.get('sockets_not_wss', [])[:2]}",
        ),
        Result(
            "replicas: HTTP redirects to HTTPS; security headers on page, static file, health, missing file",
            len(edge.get("headers_missing", {})) - len(headers_missing),
            f"of {len(edge.get('headers_missing', {}))}",
            "all, and 301",
            bool(edge)
            and not headers_missing
            and edge.get("redirect") == (301, edge.get("expected_redirect")),
            f"redirect {edge.get('redirect')}; missing {headers_missing}"[:200],
        ),
        Result(
            f"replicas: limit_req burst: two page loads × a class of {CLASS_SIZE}",
            2 * load_max * CLASS_SIZE,
            "requests",
            f"≤ burst {limits['burst']}",
            0 < 2 * load_max * CLASS_SIZE <= limits["burst"],
            f"per page load {flow.get('page_load_to_replicas')} to replicas (websocket included), "
            f"{flow.get('page_load_from_disk')} from disk",
        ),
        Result(
            f"replicas: limit_req rate: a scripted student's requests/s × a class of {CLASS_SIZE}",
            rate_max * CLASS_SIZE,
            "requests/s",
            f"≤ rate {limits['rate']}",
            0 < rate_max * CLASS_SIZE <= limits["rate"],
            f"per student, page load to first grid {flow.get('working_requests_per_s')}",
        ),
        Result(
            f"replicas: limit_conn: a page load's requests all in flight × a class of {CLASS_SIZE}",
            load_max * CLASS_SIZE,
            "requests",
            f"≤ limit_conn {limits['connections']}",
            0 < load_max * CLASS_SIZE <= limits["connections"],
            f"measured in flight per browser {flow.get('peak_in_flight_per_browser')}, all "
            f"{SESSIONS} browsers {flow.get('peak_in_flight_all')} (loopback, websockets apart)",
        ),
        Result(
            "replicas: requests refused by the limits (429)",
            len(report.get("refused_by_limits", [])),
            "",
            "= 0",
            "refused_by_limits" in report and not report["refused_by_limits"],
            "; ".join(report.get("refused_by_limits", []))[:200],
        ),
        Result(
            f"replicas: {SESSIONS} sessions through nginx see their own image and top-1",
            SESSIONS - len({e.split(":")[0] for e in phase1}),
            f"of {SESSIONS}",
            f"= {SESSIONS}",
            not phase1,
            f"placement {placement}; " + "; ".join(phase1)[:200],
        ),
        Result(
            "replicas: sessions on the survivor untouched by the kill",
            report.get("survivor_sessions_own", 0),
            f"of {report.get('survivor_sessions', 0)}",
            "all, no reconnect",
            report.get("survivor_sessions", 0) > 0
            and report.get("survivor_sessions_own") == report.get("survivor_sessions")
            and report.get("survivor_reconnects") == 0,
            f"reconnects {report.get('survivor_reconnects')}; "
            + "; ".join(report.get("survivor_errors", []))[:200],
        ),
        Result(
            "replicas: new sessions after the kill served by the survivor",
            report.get("new_on_survivor_ok", 0),
            f"of {NEW_SESSIONS}",
            f"= {NEW_SESSIONS}",
            report.get("new_on_survivor_ok") == NEW_SESSIONS,
            "; ".join(report.get("new_errors", []))[:200],
        ),
        Result(
            "replicas: the killed replica's sessions reconnect and start again",
            report.get("victim_sessions_restarted", 0),
            f"of {report.get('victim_sessions', 0)}",
            "all",
            report.get("victim_sessions", 0) > 0
            and report.get("victim_sessions_restarted") == report.get("victim_sessions")
            and report.get("victim_sessions_reconnected") == report.get("victim_sessions"),
            f"reconnected {report.get('victim_sessions_reconnected')}; "
            + "; ".join(report.get("victim_errors", []))[:200],
        ),
        Result(
            "replicas: Streamlit's static files served by nginx from disk, not by a replica",
            report.get("static_requests", 0) - len(report.get("static_from_replicas", [])),
            f"of {report.get('static_requests', 0)}",
            "all",
            report.get("static_requests", 0) > 0 and not report.get("static_from_replicas"),
            "; ".join(report.get("static_from_replicas", []))[:200],
        ),
        Result(
            "replicas: server-side exceptions",
            len(exceptions),
            "",
            "= 0",
            not exceptions,
            "; ".join(exceptions)[:200] + f" (run {report['wall_s']:.0f} s)",
        ),
    ]


if __name__ == "__main__":
    print_table(run())
