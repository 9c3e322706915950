"""What an idle student costs the server: ``python -m devtools.class_idle_cpu [--students N] [--seconds S]``.

One ``streamlit run app.py`` server (its rooms in a temporary folder), a room made in its store, and N headless
Chromium phones (390×844) that join it with ``/?room=`` and then sit on the question, each polling the room every
``ui.classroom.STUDENT_POLL_S`` seconds (a fragment rerun). The server's CPU-seconds (user + system, every thread,
from /proc) are read over S seconds of that idle time, and again over S seconds with the same N phones parked on the
Home page (no polling), so the polling's own share is the difference. Prints both, per student, in % of one core.
Then the teacher moves the room ``--changes`` times (through the store, as the teacher's button does) and each
phone's browser notes when its step number changed (``Date.now()``, same machine): the latency's median and p95.

The fuller measurement (30 phones, two replicas, step-change latency) is ``python -m benchmarks --only classroom``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from devtools.devserver import CHROMIUM_ARGS, DevServer, chromium_path


def _idle_cpu(server: DevServer, seconds: float) -> float:
    start = server.cpu_s()
    time.sleep(seconds)
    return server.cpu_s() - start


#: Installed in each phone before a step change: notes (Date.now()) when the step number shown becomes ``want``.
_WATCH = """want => { window.__arrived = null; const id = setInterval(() => {
    const el = document.querySelector('.st-key-class_step');
    if (el && el.innerText.includes(want)) { window.__arrived = Date.now(); clearInterval(id); } }, 20); }"""


def _step_latencies(store, code: str, secret: str, phones: list, changes: int) -> list[float]:
    """Seconds from the teacher's step change to each phone showing it, over ``changes`` changes."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from resnet_viz import lesson

    out: list[float] = []
    step = store.state(code).step
    for _ in range(changes):
        step = step % lesson.STEP_COUNT + 1
        want = f"{step}/{lesson.STEP_COUNT} "  # "2/N ·", not the end of "12/N"
        for page in phones:
            page.evaluate(_WATCH, want)
        start_ms = time.time() * 1000
        store.set_step(code, secret, step)
        for page in phones:
            try:
                page.wait_for_function("() => window.__arrived !== null", timeout=30_000)
            except PlaywrightTimeout:  # counted as a miss (infinite latency), not a crash of the measurement
                out.append(float("inf"))
                continue
            out.append((page.evaluate("() => window.__arrived") - start_ms) / 1000)
        time.sleep(1.5)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = tempfile.mkdtemp(prefix="rv-rooms-")
    env = {"RESNET_VIZ_OFFLINE": "1", "RESNET_VIZ_DATA_DIR": data, "RESNET_VIZ_ROOMS": "sqlite"}
    os.environ.update(env)
    from resnet_viz.classroom import open_store
    from resnet_viz.ui.classroom import STUDENT_POLL_S

    with DevServer(Path(data) / "server.log", extra_env=env) as server:
        store = open_store()
        code, secret = store.create("en")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            phones = []
            for _ in range(args.students):
                context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
                page = context.new_page()
                page.goto(f"{server.base_url}/?room={code}")
                page.locator(".st-key-class_step").wait_for(timeout=120_000)
                phones.append(page)
            time.sleep(5)  # the last joins' reruns are over
            polling = _idle_cpu(server, args.seconds)
            for page in phones:  # the same sessions, parked on a page that does not poll
                page.goto(f"{server.base_url}/")
                page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=120_000)
            time.sleep(5)
            parked = _idle_cpu(server, args.seconds)
            for page in phones:  # back to the class, following
                page.goto(f"{server.base_url}/?room={code}")
                page.locator(".st-key-class_step").wait_for(timeout=120_000)
            time.sleep(3)
            latencies = _step_latencies(store, code, secret, phones, args.changes)
            browser.close()
        exceptions = server.exception_counts()
    n, s = args.students, args.seconds
    print(f"{n} idle phones polling every {STUDENT_POLL_S:g} s, {s:g} s: server {polling:.2f} CPU-s "
          f"= {100 * polling / s / n:.2f}% of one core per student")  # fmt: skip
    print(f"the same {n} parked on Home (no polling):    server {parked:.2f} CPU-s "
          f"= {100 * parked / s / n:.2f}% of one core per student")  # fmt: skip
    print(f"polling's own share: {100 * (polling - parked) / s / n:.2f}% of one core per student")
    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    missed = sum(1 for x in latencies if x == float("inf"))
    print(f"step change → phone, {len(latencies)} samples ({missed} not within 30 s): median {latencies[len(latencies) // 2]:.2f} s, "
          f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s")  # fmt: skip
    print(f"server exceptions: {exceptions or 'none'}")


if __name__ == "__main__":
    main()
