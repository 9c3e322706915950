"""The address-bar round trip's cost per rerun (issue 13: < 20 ms added). ``python -m benchmarks.bench_links``

Two scripts run through Streamlit's AppTest in the same process, in interleaved rounds:

* *with the round trip*: the real sidebar and ``ui.address.sync_address`` on an address that holds every
  parameter (one of them bad, so the notice is drawn too). The worst case on every rerun: the address is parsed
  again as if it had just changed, and the QR code is made again (its cache cleared);
* *without*: the same sidebar with the round trip's three steps (read and check the address, the notice, write
  the address and draw the share box) replaced by no-ops. (Keeping the selection one of the network's steps is
  part of resolving the view now, on both sides.)

The figure is the difference of the median rerun times. AppTest's own overhead is the same on both sides.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result, print_table

ROUNDS = 5
RERUNS = 8
TARGET_MS = 20.0

_SCRIPT = """
import streamlit as st
from resnet_viz import links
from resnet_viz.ui import address, resolve

if {baseline}:
    for name in ("_read_address", "_show_link_problems"):
        setattr(resolve, name, lambda *a, **k: None)
    address.sync_address = lambda v, page_path: v
else:
    st.session_state.pop("rv_link_seen", None)  # as if the address had just changed
    links.qr_png.cache_clear()
address.sync_address(resolve.sidebar(), "")
"""
QUERY = {"lang": "zh", "net": "resnet50", "size": "160", "stride": "1x1", "plain": "0", "block": "layer3.1",
         "present": "0", "colour": "red"}  # fmt: skip


def _rerun_times(app, reruns: int) -> list[float]:
    times = []
    for _ in range(reruns):
        app.query_params.update(QUERY)
        t0 = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - t0)
        assert not app.exception, [e.value for e in app.exception]
    return times


def run() -> list[Result]:
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        apps = {}
        for name, baseline in (("with", False), ("without", True)):
            path = Path(tmp) / f"{name}.py"
            path.write_text(_SCRIPT.format(baseline=baseline))
            apps[name] = AppTest.from_file(str(path), default_timeout=120)
            apps[name].query_params.update(QUERY)
            apps[name].run()  # imports and caches warm
        times: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(ROUNDS):
            for name in ("with", "without"):
                times[name] += _rerun_times(apps[name], RERUNS)
    with_ms = 1000 * statistics.median(times["with"])
    without_ms = 1000 * statistics.median(times["without"])
    added = with_ms - without_ms
    return [
        Result(
            "address-bar round trip added per rerun (worst case)",
            added,
            "ms",
            f"< {TARGET_MS:g} ms",
            added < TARGET_MS,
            f"rerun {with_ms:.1f} ms with vs {without_ms:.1f} ms without",
        )  # fmt: skip
    ]


if __name__ == "__main__":
    print_table(run())
