"""Two replicas behind nginx, on loopback: sticky sessions, and what a crash of one replica does to a class.

Starts 2 Streamlit replicas (``devtools.devserver``) and nginx as a non-daemon child with a temporary prefix
(``deploy/nginx/resnet-viz.conf`` itself, its upstream servers and listen port rewritten to free loopback ports;
no root paths, no privileges). Then, through the proxy only:

1. 10 browser sessions (Chromium contexts: their own cookies, so their own route) each open the Feature maps page,
   choose the random weights, upload their own image and check they see their own preview and top-1 (the top-1
   computed offline with the core functions, as in the load test);
2. the replica serving the most of them is killed (SIGKILL, as a crash);
3. the sessions on the survivor interact again (two reruns) and must still see their own image and top-1, with
   no reconnect of their websocket;
4. new sessions (4) must all be served by the survivor (nginx's access log names the upstream of each request);
5. the killed replica's sessions must see Streamlit's reconnect (their websocket closes and a new one opens,
   through the proxy, to the survivor) and can start again: the survivor has none of their state (it lived in
   the killed process), so, as a student would, they reload the page and redo the step: random weights, upload,
   own preview and top-1 (a screenshot after the reconnect: ``test-artifacts/replicas/after-reconnect.png``);
6. no server-side exception in either replica's log.

Every wait is bounded; the whole run stops itself (``TOTAL_TIMEOUT_S``) and always stops nginx and the replicas.

    python -m benchmarks.bench_replicas        # or: python -m benchmarks --only replicas
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit

from benchmarks.bench_load import (
    FIRST_GRID_JS,
    IDLE_JS,
    Upload,
    make_uploads,
    offline_top1,
    own_preview,
)
from benchmarks.common import Result, print_table
from devtools.devserver import CHROMIUM_ARGS, DevServer, chromium_path, free_port, is_healthy

ROOT = Path(__file__).resolve().parents[1]
SITE_CONF = ROOT / "deploy" / "nginx" / "resnet-viz.conf"
NGINX = "/usr/sbin/nginx"
SESSIONS = 10
NEW_SESSIONS = 4
STEP_TIMEOUT_S = 240  # one browser step (a click answered, an upload's first grid)
RECONNECT_TIMEOUT_S = 90
TOTAL_TIMEOUT_S = 900
LOG_FORMAT = 'rv "$rv_route" "$upstream_addr" $status "$request"'


# --------------------------------------------------------------------------- nginx as a child


def render_conf(site: str, replica_ports: list[int], listen_port: int, prefix: Path) -> str:
    """The main nginx.conf for a temporary prefix, including the site file with our ports."""
    lines = [ln for ln in site.splitlines() if not re.match(r"\s*server 127\.0\.0\.1:\d+ ", ln)]
    text = "\n".join(lines) + "\n"
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in replica_ports)
    text, n_up = re.subn(
        r"(upstream resnet_viz \{\n    hash \$rv_route consistent;\n)", r"\1" + servers, text
    )
    text, n_listen = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", text)
    static = Path(streamlit.__file__).parent / "static"  # this interpreter's Streamlit, the replicas' own
    text, n_root = re.subn(r"root /opt/resnet-viz/\S+/streamlit/static;", f"root {static};", text)
    if n_up != 1 or n_listen != 1 or n_root != 1:
        raise RuntimeError(
            f"{SITE_CONF} no longer has the upstream/listen/root lines this benchmark rewrites"
        )
    (prefix / "resnet-viz.conf").write_text(text)
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
    include {prefix / "resnet-viz.conf"};
}}
"""


class Nginx:
    def __init__(self, replica_ports: list[int]) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="rv-nginx-")
        self.prefix = Path(self.tmp.name)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_conf(SITE_CONF.read_text(), replica_ports, self.port, self.prefix))
        cmd = [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", str(conf)]
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr.strip()[-500:]}")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_healthy(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.error_log()[-500:]}")
            if is_healthy(self.base_url):
                return
            time.sleep(0.25)
        raise RuntimeError("nginx not healthy in time")

    def access_log(self) -> list[tuple[str, str, str]]:
        """(route, upstream tried — last one served, request line) of every request logged so far."""
        try:
            text = (self.prefix / "access.log").read_text(errors="replace")
        except OSError:
            return []
        return re.findall(r'^rv "([^"]*)" "([^"]*)" \d+ "([^"]*)"$', text, flags=re.M)

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


# --------------------------------------------------------------------------- one session through the proxy


@dataclass
class Session:
    index: int
    context: object = None
    page: object = None
    route: str = ""
    replica: int = -1  # port of the replica that served its page
    sockets_opened: int = 0
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
            ws.on("close", lambda _ws: setattr(s, "sockets_closed", s.sockets_closed + 1))

    s.page.on("websocket", on_ws)
    await s.page.goto(f"{base_url}/feature_maps")
    s.route = next((c["value"] for c in await s.context.cookies() if c["name"] == "rv_route"), "")
    return s


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
    await check_own(s, base_url, uploads, t_of)


async def check_own(s: Session, base_url: str, uploads: list[Upload], t_of) -> None:
    page, mine = s.page, uploads[s.index]
    if await page.locator('[data-testid="stException"]').count():
        s.errors.append("an exception box is shown")
    error, crosstalk = await own_preview(page, s.context, base_url, uploads, s.index)
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


# --------------------------------------------------------------------------- the scenario


def _replica_of(nginx: Nginx, route: str) -> int:
    """The replica port that served the last request of ``route`` (the last upstream nginx tried)."""
    port = -1
    for r, upstream, _ in nginx.access_log():
        if r == route and upstream not in ("", "-"):
            port = int(upstream.split(",")[-1].strip().rsplit(":", 1)[1])
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
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # 1. ten sessions through the proxy
            sessions = list(await asyncio.gather(*(start_session(browser, base, i) for i in range(SESSIONS))))
            await asyncio.gather(
                *(guarded(s, "first upload", upload_and_check(s, base, uploads, t_of)) for s in sessions)
            )
            for s in sessions:
                s.replica = _replica_of(nginx, s.route)
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
    replicas = [DevServer(logs / f"replica-{i}.log") for i in range(2)]
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
        static = [(u, req) for _, u, req in nginx.access_log() if " /static/" in req]
        report["static_requests"] = len(static)
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
    phase1 = report.get("phase1_errors", [])
    exceptions = report.get("victim_exceptions", []) + report.get("survivor_exceptions", [])
    return [
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
