"""What an idle student costs the server: ``python -m devtools.class_idle_cpu [--students N] [--seconds S]``.

One ``streamlit run app.py`` server (its rooms in a temporary folder), a room made in its store, and N headless
Chromium phones (390×844) that join it with ``/?room=`` and then sit on the question, each polling the room every
``ui.classroom.STUDENT_POLL_S`` seconds (a fragment rerun). The server's CPU-seconds (user + system, every thread,
from /proc) are read over S seconds of that idle time, and again over S seconds with the same N phones parked on the
Home page (no polling), so the polling's own share is the difference. Prints both, per student, in % of one core.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = tempfile.mkdtemp(prefix="rv-rooms-")
    env = {"RESNET_VIZ_OFFLINE": "1", "RESNET_VIZ_DATA_DIR": data, "RESNET_VIZ_ROOMS": "sqlite"}
    os.environ.update(env)
    from resnet_viz.classroom import open_store
    from resnet_viz.ui.classroom import STUDENT_POLL_S

    with DevServer(Path(data) / "server.log", extra_env=env) as server:
        code, _secret = open_store().create("en")
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
            browser.close()
        exceptions = server.exception_counts()
    n, s = args.students, args.seconds
    print(f"{n} idle phones polling every {STUDENT_POLL_S:g} s, {s:g} s: server {polling:.2f} CPU-s "
          f"= {100 * polling / s / n:.2f}% of one core per student")  # fmt: skip
    print(f"the same {n} parked on Home (no polling):    server {parked:.2f} CPU-s "
          f"= {100 * parked / s / n:.2f}% of one core per student")  # fmt: skip
    print(f"polling's own share: {100 * (polling - parked) / s / n:.2f}% of one core per student")
    print(f"server exceptions: {exceptions or 'none'}")


if __name__ == "__main__":
    main()
