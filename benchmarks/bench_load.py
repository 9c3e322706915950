"""A class of 30 at once: 30 real browser sessions against one `streamlit run app.py`, each uploading its own image.

Every session (a Chromium browser context, all in one Chromium process, loopback only) opens the Feature maps page,
chooses the random weights (deterministic, no download), switches the input to Upload and uploads an image no other
session has (a bundled sample, cropped differently and tinted with its own hue). It then waits for its own results:

* time to first grid: from handing the file to the page until the first stage grid of *this* run has loaded;
* errors: an exception box, a traceback, a page error or a timeout in any session (target 0);
* cross-talk (target 0): the page must show this session's own image and result. The "original" preview the server
  sends back is downloaded and matched against all 30 uploads (nearest by pixels: it must be its own), its caption
  must name its own file, and the top-1 class named above the class activation map must be the one computed offline
  for that image with the same core functions (``weights.load_random`` → ``preprocessing.preprocess_steps`` → ``capture``);
* server memory: RSS of the server process before the sessions, at the peak (sampled, and the kernel's high-water
  mark VmHWM), and after every session closed.

Peers measured in the same run: one session alone (the same steps) before the 30, so the p95 under load is reported
as a ratio to it (target ≤ 15×). The server bounds concurrent forward passes with ``ui.forward_gate()``, sets
the torch thread count once (both derived from the cores, ``models.device.forward_budget``) and merges forwards of
the same network arriving together into batches (``imaging.batching``; ``RESNET_VIZ_MAX_BATCH=1`` turns that off,
the "before" figures; ``BENCH_LOAD_APP_DIR`` serves an older checkout); the server inherits this process's
environment.

The server alone (issue 16): the server process's own CPU-seconds (/proc, else psutil) per session up to its first
grid, divided by the CPU-seconds of the work no server can avoid, measured in this process in the same run (one
capture forward of the network and encoding that session's overview grids) → the overhead ratio (target ≤ 2×).
So the 30 Chromium pages that share the cores do not blur what the server itself spends.

    python -m benchmarks.bench_load [--sessions 30]      # or: python -m benchmarks --only load
"""

from __future__ import annotations

import argparse
import asyncio
import colorsys
import io
import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import Result, percentile, print_table
from devtools.devserver import CHROMIUM_ARGS, DevServer, chromium_path

ROOT = Path(__file__).resolve().parents[1]
ARCH = "resnet34"  # the app's default network
DEFAULT_TITLE = "ResNet-34"  # how the sidebar shows it
DEFAULT_SIZE = "224"  # its input size
SESSIONS = 30
SESSION_TIMEOUT_S = 300  # one session, from opening the page to its last check
TOTAL_TIMEOUT_S = int(
    os.environ.get("BENCH_LOAD_TOTAL_S", 540)
)  # the whole crowd (a shared machine may need more)
RSS_TARGET_MB = (
    1024  # issue 16: a server of 30 sessions within 1 GB (a small classroom VM holds several replicas)
)
IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.dataset.testScriptState === 'notRunning' && !document.querySelector('[data-stale="true"]');
}"""
FIRST_GRID_JS = """(name) => {
    const fresh = el => !el.closest('[data-stale="true"]');
    const shown = [...document.querySelectorAll('[data-testid="stImage"]')].filter(fresh);
    if (!shown.some(e => e.innerText.includes(name))) return false;
    const tile = shown.find(e => /^conv1\\b/.test(e.innerText.trim()));
    const img = tile && tile.querySelector('img');
    return !!(img && img.complete && img.naturalWidth > 0);
}"""


# --------------------------------------------------------------------------- the 30 images and their expected results


@dataclass
class Upload:
    name: str
    data: bytes
    thumb: np.ndarray  # 32×32 RGB of the decoded image, for matching what the page shows
    top1: int = -1  # computed offline with the core functions


def make_uploads(n: int) -> list[Upload]:
    """``n`` distinct PNGs: each a different crop of a bundled sample, tinted with its own hue."""
    from resnet_viz.imaging import images

    samples = [images.load_sample(name) for name in images.sample_images()]
    uploads = []
    for i in range(n):
        base = samples[i % len(samples)]
        w, h = base.size
        shift = (i // len(samples)) / max(1, (n - 1) // len(samples) + 1)
        box = (
            int(shift * w * 0.3),
            int(shift * h * 0.3),
            int(w * 0.7 + shift * w * 0.3),
            int(h * 0.7 + shift * h * 0.3),
        )
        tile = base.crop(box).resize((320, 240), Image.Resampling.BILINEAR)
        tint = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / n, 0.9, 0.95))
        img = Image.blend(tile, Image.new("RGB", tile.size, tint), 0.5)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        uploads.append(Upload(f"student-{i:02d}.png", buf.getvalue(), _thumb(img)))
    return uploads


def _thumb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)


def nearest_upload(shown: Image.Image, uploads: list[Upload]) -> int:
    thumb = _thumb(shown)
    return int(np.argmin([np.abs(thumb - u.thumb).mean() for u in uploads]))


def offline_top1(uploads: list[Upload]) -> None:
    """What the page must predict for each image: the same core functions, in this process."""
    import torch

    from resnet_viz.imaging import images, preprocessing
    from resnet_viz.imaging.capture import capture
    from resnet_viz.models import weights

    torch.set_num_threads(1)
    model = weights.load_random(ARCH)
    with torch.inference_mode():
        for u in uploads:
            steps = preprocessing.preprocess_steps(images.load_image(u.data), resize=256, crop=224)
            u.top1 = capture(model, steps.tensor).top(1)[0][0]


def unavoidable_cpu_s(uploads: list[Upload], repeat: int = 5) -> dict:
    """CPU-seconds of the work a session cannot avoid, measured in this process as the server does it: one
    capture forward of the network (1 torch thread, as each of the server's forwards on 2 cores) plus encoding
    that session's grids up to its first one (the overview: conv1, maxpool and every stage's output, as the page
    asks ``ui.cached_grid_png`` for them). Median over ``repeat`` of the sessions' own images."""
    import statistics

    import torch

    from resnet_viz.imaging import images, preprocessing
    from resnet_viz.imaging.capture import capture
    from resnet_viz.models import weights
    from resnet_viz.render.tiling import grid_png

    torch.set_num_threads(1)
    model = weights.load_random(ARCH)
    forward, grids = [], []
    for u in uploads[: repeat + 1]:
        x = preprocessing.preprocess_steps(images.load_image(u.data), resize=256, crop=224).tensor
        c0 = time.process_time()
        cap = capture(model, x)
        c1 = time.process_time()
        for name in ["conv1", *(["maxpool"] if "maxpool" in cap.layers else []), *cap.stage_of.values()]:
            grid_png(cap.layers[name], mode="channel", cmap="viridis", k=16, cols=4, min_width=160)
        c2 = time.process_time()
        forward.append(c1 - c0)
        grids.append(c2 - c1)
    forward, grids = forward[1:], grids[1:]  # the first one warms up
    return {
        "forward_cpu_s": statistics.median(forward),
        "grids_cpu_s": statistics.median(grids),
        "total_cpu_s": statistics.median(f + g for f, g in zip(forward, grids)),
    }


# --------------------------------------------------------------------------- the server and its memory


def start_server() -> DevServer:
    """`streamlit run app.py` on a free loopback port (this interpreter's Streamlit); the caller stops it.

    ``BENCH_LOAD_APP_DIR`` serves another checkout's app instead (its own ``resnet_viz``), for a before/after pair
    measured by the same benchmark: ``git worktree add /tmp/before <commit>`` and point this at it."""
    app_dir = Path(os.environ.get("BENCH_LOAD_APP_DIR") or ROOT).resolve()
    extra = {"PYTHONPATH": str(app_dir)} if app_dir != ROOT else None
    return DevServer(ROOT / "test-artifacts" / "load-server.log", cwd=app_dir, extra_env=extra)


# --------------------------------------------------------------------------- one student


async def own_preview(page, context, base_url: str, uploads: list[Upload], index: int) -> tuple[str, str]:
    """Is the "original" preview the server sent this session its own upload? Finds the preview by its caption
    (the upload's name), fetches the image the page shows and matches it to the nearest of all uploads.
    Returns ``(error, crosstalk)``, each "" when there is none (also used by ``bench_replicas``)."""
    mine = uploads[index]
    original = page.locator('[data-testid="stImage"]').filter(has_text=mine.name).first
    if not await original.count():
        return "", f"no preview captioned {mine.name}"
    src = await original.locator("img").get_attribute("src")
    resp = await context.request.get(src if src.startswith("http") else f"{base_url}{src}")
    if not resp.ok:
        return f"preview {src} answered HTTP {resp.status}", ""
    match = nearest_upload(Image.open(io.BytesIO(await resp.body())), uploads)
    return "", (f"preview shows {uploads[match].name}, not {mine.name}" if match != index else "")


@dataclass
class Outcome:
    index: int
    first_grid_s: float = float("nan")
    server_cpu_open: float = float("nan")  # the server's CPU-seconds when this session opened its page …
    server_cpu_upload: float = float("nan")  # … when it handed over its file …
    server_cpu_first_grid: float = float("nan")  # … and when its first grid had loaded
    done_s: float = float("nan")
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)
    top1_checked: bool = False


async def student(
    browser, base_url: str, uploads: list[Upload], index: int, t_of, server_cpu=None
) -> Outcome:
    """One session: open the page, random weights, upload its image, wait for its grids and predictions, check."""
    out = Outcome(index)
    mine = uploads[index]
    cam_title = t_of("feature_maps.cam_title", label="").split("“")[0].replace("*", "").strip()
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(SESSION_TIMEOUT_S * 1000)
    page = await context.new_page()
    page.on("pageerror", lambda exc: out.errors.append(f"page error: {exc}"))
    sidebar = page.locator('[data-testid="stSidebar"]')
    network = sidebar.locator('[data-testid="stSelectbox"] input[role="combobox"]').first
    size = sidebar.locator('[data-testid="stNumberInput"] input').first
    changed: list[str] = []

    async def check_sidebar(step: str) -> None:
        # Nothing in this session touches the sidebar: its settings must keep their defaults all along.
        seen = (await network.input_value(), await size.input_value())
        if seen != (DEFAULT_TITLE, DEFAULT_SIZE) and not changed:
            changed.append(
                f"the sidebar changed by itself to network {seen[0]!r}, input size {seen[1]} (seen after: {step})"
            )

    cpu_now = server_cpu or (lambda: float("nan"))
    try:
        out.server_cpu_open = cpu_now()
        await page.goto(f"{base_url}/feature_maps")
        await page.get_by_text(t_of("feature_maps.title")).first.wait_for()
        await page.wait_for_function(IDLE_JS)
        await check_sidebar("page load")
        # Random weights: deterministic (seed 0), so the top-1 can be computed offline; no download is attempted.
        await (
            page.locator('[data-testid="stMain"] [data-testid="stRadio"] label')
            .filter(has_text=t_of("feature_maps.weights_random"))
            .first.click()
        )
        await page.get_by_text(re.compile(r"^Weights: random initialisation")).first.wait_for()
        await page.wait_for_function(IDLE_JS)
        await (
            page.locator('[data-testid="stMain"] [data-testid="stRadio"] label')
            .filter(has_text=re.compile(rf"^{re.escape(t_of('feature_maps.input_upload'))}$"))
            .first.click()
        )
        uploader = page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').first
        await uploader.wait_for(state="attached")
        await page.wait_for_function(IDLE_JS)
        await check_sidebar("random weights, upload mode")
        # The page's tabs are lazy (only the open one runs): open the predictions before uploading.
        await (
            page.locator('[data-testid="stMain"] [role="tab"]')
            .filter(has_text=t_of("feature_maps.tab_predictions"))
            .first.click()
        )
        await page.locator('[data-testid="stMain"] [role="tabpanel"]').get_by_text(cam_title).first.wait_for()
        await page.wait_for_function(IDLE_JS)
        await check_sidebar("predictions tab")

        t0 = time.perf_counter()
        out.server_cpu_upload = cpu_now()
        await uploader.set_input_files({"name": mine.name, "mimeType": "image/png", "buffer": mine.data})
        await page.wait_for_function(FIRST_GRID_JS, arg=mine.name, polling=100)
        out.first_grid_s = time.perf_counter() - t0
        out.server_cpu_first_grid = cpu_now()
        await page.get_by_text(cam_title).first.wait_for(state="attached")
        await page.wait_for_function(IDLE_JS, polling=100)
        out.done_s = time.perf_counter() - t0
        await check_sidebar("upload")
        out.errors.extend(changed)

        body = await page.locator("body").inner_text()
        if "Traceback" in body:
            out.errors.append("a traceback is shown")
        if await page.locator('[data-testid="stException"]').count():
            out.errors.append("an exception box is shown")
        # Cross-talk 1: the preview the server sends back is this session's own image.
        error, crosstalk = await own_preview(page, context, base_url, uploads, index)
        out.errors += [error] if error else []
        out.crosstalk += [crosstalk] if crosstalk else []
        # Cross-talk 2: the prediction is the one computed offline for this image.
        texts = await page.locator('[data-testid="stMarkdownContainer"]').all_text_contents()
        cam = next((t for t in texts if t.startswith(cam_title)), "")
        expected = t_of("feature_maps.class_n", n=mine.top1)
        out.top1_checked = not changed  # (a changed sidebar is an error above; the offline top-1 assumed it)
        if f"“{expected}”" not in cam and out.top1_checked:
            out.crosstalk.append(f"top-1 shown {cam!r}, expected {expected!r}")
        if out.crosstalk or changed:  # keep the evidence
            shots = ROOT / "test-artifacts" / "load"
            shots.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shots / f"crosstalk-{index:02d}.png"), full_page=True)
    except Exception as exc:  # noqa: BLE001 - every failure of a session is counted and reported, not raised
        out.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()
    return out


# --------------------------------------------------------------------------- the crowd


async def _crowd(
    server: DevServer, uploads: list[Upload], sessions: int, report: dict
) -> tuple[Outcome, list[Outcome]]:
    from playwright.async_api import async_playwright

    from resnet_viz.i18n import translator

    t_of = translator("en")
    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError(
            "the load test needs Chromium: sudo apt-get install chromium (or set RESNET_VIZ_CHROMIUM)"
        )
    samples: list[float] = []
    stop = asyncio.Event()

    async def sample_memory() -> None:
        while not stop.is_set():
            samples.append(server.memory_mb()[0])
            try:
                await asyncio.wait_for(stop.wait(), 0.25)
            except asyncio.TimeoutError:
                pass

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # The peer: one session alone (it also builds the shared model and warms the caches).
            alone = await student(browser, server.base_url, uploads, sessions, t_of, server.cpu_s)
            # A second lone session, on a warm server: where a session's server CPU goes, phase by phase.
            warm = await student(browser, server.base_url, uploads, sessions + 1, t_of, server.cpu_s)
            report["warm_alone"] = {
                "page_and_clicks_cpu_s": warm.server_cpu_upload - warm.server_cpu_open,
                "upload_to_first_grid_cpu_s": warm.server_cpu_first_grid - warm.server_cpu_upload,
                "static_files_cpu_s": static_files_cpu_s(server),
                "errors": warm.errors + warm.crosstalk,
            }
            report["rss_before_mb"] = server.memory_mb()[0]
            sampler = asyncio.create_task(sample_memory())
            t0 = time.perf_counter()
            report["server_cpu_crowd_start_s"] = server.cpu_s()
            tasks = [
                asyncio.create_task(student(browser, server.base_url, uploads, i, t_of, server.cpu_s))
                for i in range(sessions)
            ]
            # Bounded: a session still running at the deadline is cancelled and counted as an error, and the
            # figures of the others are still reported (a slow run says how slow, instead of saying nothing).
            done, pending = await asyncio.wait(tasks, timeout=TOTAL_TIMEOUT_S)
            for task in pending:
                task.cancel()
            crowd = []
            for i, task in enumerate(tasks):
                if task in done and task.exception() is None:
                    crowd.append(task.result())
                else:
                    crowd.append(Outcome(i, errors=[f"not finished within the run's {TOTAL_TIMEOUT_S} s"]))
            await asyncio.gather(*pending, return_exceptions=True)
            report["crowd_wall_s"] = time.perf_counter() - t0
            stop.set()
            await sampler
        finally:
            await browser.close()
    report["rss_peak_sampled_mb"] = max(samples) if samples else float("nan")
    return alone, list(crowd)


def import_rss_mb() -> dict[str, float]:
    """The RSS of a fresh interpreter after importing what every server process imports (torch, torchvision's
    models, Streamlit) and after building the network on top: the floor under any replica's memory."""
    import subprocess

    code = (
        "import torchvision.models, streamlit\n"
        "def rss():\n"
        "    fields = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "    return [int(fields[k].split()[0]) / 1024 for k in ('VmRSS', 'RssAnon', 'RssFile')]\n"
        "a = rss()\n"
        "from resnet_viz.models.weights import load_random\n"
        f"m = load_random({ARCH!r})\n"
        "print(*a, *rss())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    v = [float(x) for x in out.stdout.split()] if out.returncode == 0 else [float("nan")] * 6
    return {
        "imports_rss_mb": v[0],
        "imports_anon_mb": v[1],
        "imports_file_mb": v[2],
        "with_model_rss_mb": v[3],
    }


def static_files_cpu_s(server: DevServer) -> float:
    """The server's CPU-seconds to serve the app's page and the static files it names (Streamlit's frontend, ~2 MB
    of scripts and fonts), as a new browser fetches them once: the part of opening a page that nginx could serve
    instead. The median of 3 fetches."""
    import urllib.request

    def get(path: str) -> bytes:
        req = urllib.request.Request(server.base_url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    assets = re.findall(r'(?:src|href)="\.?/?(static/[^"]+)"', get("/").decode("utf-8", "replace"))
    costs = []
    for _ in range(3):
        c0 = server.cpu_s()
        get("/")
        for asset in assets:
            get("/" + asset)
        costs.append(server.cpu_s() - c0)
    return sorted(costs)[1]


def _raise_on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signum}")


def run(sessions: int = SESSIONS) -> list[Result]:
    # A terminated run still stops its server and browser (the `finally` blocks run on KeyboardInterrupt).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
    uploads = make_uploads(sessions + 2)  # the last two are the lone peers' (cold and warm)
    offline_top1(uploads)
    report: dict = {"sessions": sessions, "arch": ARCH, "unavoidable": unavoidable_cpu_s(uploads)}
    report["server_env"] = {k: v for k, v in os.environ.items() if k.startswith("RESNET_VIZ_")}
    report["floor"] = import_rss_mb()
    report["app_dir"] = os.environ.get("BENCH_LOAD_APP_DIR") or str(ROOT)
    server = start_server()
    try:
        server.wait_healthy()
        report["rss_idle_mb"] = server.memory_mb()[0]
        alone, crowd = asyncio.run(_crowd(server, uploads, sessions, report))
        # After every session closed: give the server a moment to notice the closed websockets and drop them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(1)
        rss_after, hwm = server.memory_mb()
        report["rss_after_mb"] = rss_after
        report["rss_hwm_mb"] = hwm
        report["server_log_errors"] = server.exception_counts()
    finally:
        server.stop()

    errors = [f"session {o.index}: {e}" for o in crowd for e in o.errors]
    errors += [f"server log: {line}" for line in report["server_log_errors"]]
    n_errors = sum(len(o.errors) for o in crowd) + sum(
        int(e.split("×")[0]) for e in report["server_log_errors"]
    )
    crosstalk = [f"session {o.index}: {c}" for o in crowd for c in o.crosstalk]
    firsts = [o.first_grid_s for o in crowd]
    dones = [o.done_s for o in crowd]
    p50, p95 = percentile(firsts, 50), percentile(firsts, 95)
    peak = max(report["rss_peak_sampled_mb"], report["rss_hwm_mb"])
    report.update(
        alone_first_grid_s=alone.first_grid_s,
        alone_errors=alone.errors + alone.crosstalk,
        first_grid_p50_s=p50,
        first_grid_p95_s=p95,
        first_grid_max_s=max((f for f in firsts if f == f), default=float("nan")),
        done_p50_s=percentile(dones, 50),
        done_p95_s=percentile(dones, 95),
        errors=errors,
        crosstalk=crosstalk,
        distinct_offline_top1=len({u.top1 for u in uploads[:sessions]}),
    )
    # Server CPU per session: the lone session from opening its page to its first grid; the crowd's CPU from its
    # start until the last session's first grid, shared by the sessions (an upper bound per session: it includes
    # the post-first-grid work of the sessions that finished early).
    need = report["unavoidable"]["total_cpu_s"]
    alone_cpu = alone.server_cpu_first_grid - alone.server_cpu_open
    crowd_cpu = (
        max((o.server_cpu_first_grid for o in crowd), default=float("nan"))
        - report["server_cpu_crowd_start_s"]
    )
    per_session = crowd_cpu / sessions
    report.update(
        server_cpu_alone_s=alone_cpu,
        server_cpu_alone_upload_to_grid_s=alone.server_cpu_first_grid - alone.server_cpu_upload,
        server_cpu_crowd_to_last_first_grid_s=crowd_cpu,
        server_cpu_per_session_s=per_session,
        overhead_ratio=per_session / need,
        overhead_ratio_alone=alone_cpu / need,
    )
    print("load test report:", json.dumps(report, indent=2, default=str), file=sys.stderr)
    warm = report["warm_alone"]
    ratio = p95 / alone.first_grid_s if alone.first_grid_s == alone.first_grid_s else float("nan")
    overhead = report["overhead_ratio"]
    return [
        Result(
            f"load: server CPU per session to its first grid vs the unavoidable work ({need:.2f} CPU-s)",
            overhead,
            "×",
            "≤ 2×",
            overhead <= 2,
            f"server {per_session:.2f} CPU-s per session in the crowd ({crowd_cpu:.0f} CPU-s for {sessions}), "
            f"{alone_cpu:.2f} alone (×{report['overhead_ratio_alone']:.1f}); unavoidable = capture forward "
            f"{report['unavoidable']['forward_cpu_s']:.2f} + overview grids {report['unavoidable']['grids_cpu_s']:.2f}",
        ),  # fmt: skip
        Result(
            "load: one session alone on a warm server, its server CPU",
            warm["page_and_clicks_cpu_s"] + warm["upload_to_first_grid_cpu_s"],
            "CPU-s",
            "informs",
            not warm["errors"],
            f"opening the page and 3 clicks {warm['page_and_clicks_cpu_s']:.2f} (of which the static files "
            f"{warm['static_files_cpu_s']:.2f}), upload to first grid {warm['upload_to_first_grid_cpu_s']:.2f}",
        ),  # fmt: skip
        Result(
            f"load: errors in {sessions} sessions",
            n_errors,
            "",
            "= 0",
            not errors,
            "; ".join(errors)[:300],
        ),
        Result(
            f"load: cross-talk in {sessions} sessions",
            len(crosstalk),
            "",
            "= 0",
            not crosstalk,
            "; ".join(crosstalk)[:300]
            or f"preview and caption own in all {sessions}, top-1 own in all "
            f"{sum(o.top1_checked for o in crowd)} checked (sessions whose sidebar changed are not)",
        ),  # fmt: skip
        Result(
            "load: time to first grid p50",
            p50,
            "s",
            "informs",
            True,
            f"p95 {p95:.1f} s, max {report['first_grid_max_s']:.1f} s; all done p95 {report['done_p95_s']:.1f} s",
        ),  # fmt: skip
        Result(
            f"load: first grid p95 vs one session alone ({alone.first_grid_s:.1f} s)",
            ratio,
            "×",
            "≤ 15×",
            ratio <= 15,
            f"{p95:.1f} s vs {alone.first_grid_s:.1f} s; crowd wall {report['crowd_wall_s']:.0f} s",
        ),  # fmt: skip
        Result(
            "load: server RSS peak",
            peak,
            "MB",
            f"≤ {RSS_TARGET_MB:,} MB",
            peak <= RSS_TARGET_MB,
            f"idle {report['rss_idle_mb']:.0f}, before {report['rss_before_mb']:.0f}, peak {peak:.0f}, "
            f"after close {report['rss_after_mb']:.0f} MB; a bare process importing torch, torchvision and "
            f"Streamlit {report['floor']['imports_rss_mb']:.0f} MB, with {ARCH} built "
            f"{report['floor']['with_model_rss_mb']:.0f} MB",
        ),  # fmt: skip
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    print_table(run(parser.parse_args().sessions))
