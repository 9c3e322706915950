"""Open a Feature-maps link several times in one process, as a server's sessions would, and report that process's
memory: ``tests/test_request_budget.py`` runs it in a subprocess (so the RSS measured is this page's alone), and it
is the command behind the figures in the closing note of issue 22 (D3)::

    python tests/rss_probe.py --net resnet110 --size 1024 --visits 3          # the worst link
    python tests/rss_probe.py --net resnet110 --size 1024 --visits 2 --erf    # and its inspector's receptive field

Each visit is a fresh session (a new ``AppTest``) opening ``/feature_maps?net=…&size=…``; the sessions stay open,
as a class's tabs would, and share the process's caches and stores as a server's sessions do. With ``--erf`` each
visit then opens the inspector tab, picks the network's deepest block and turns the effective receptive field on.
Before the first visit a warm-up session opens the page at the network's own size (imports, the model, one small
capture), then the peak is reset (``/proc/self/clear_refs``). Prints one JSON object: the RSS after the warm-up,
the peak and the RSS after each visit (MB), the request budget, and the notices the page showed.

Offline by construction (``RESNET_VIZ_OFFLINE=1``, an empty ``TORCH_HOME``): random weights, nothing downloaded.
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = "app_pages/feature_maps.py"


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", default="resnet110")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--visits", type=int, default=3)
    parser.add_argument("--erf", action="store_true", help="also open the inspector's receptive field")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one run of the page may take")
    args = parser.parse_args(argv)

    os.environ["RESNET_VIZ_OFFLINE"] = "1"
    os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="rss_probe_torch_"))
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import torch
    from streamlit.testing.v1 import AppTest

    from resnet_viz import memory, settings
    from resnet_viz.architecture.trace import trace
    from resnet_viz.i18n import translator
    from resnet_viz.links import start_size

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    en = translator("en")
    deepest = trace(args.net, start_size(args.net)).blocks[-1].name

    def visit(query: dict[str, str], erf: bool) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=args.timeout)
        at.query_params.update(query)
        at.switch_page(PAGE).run()
        if erf:
            at.session_state["fm_tab"] = en("inspector.tab")
            at.run()
            at.session_state["ix_layer"] = deepest
            at.session_state["ix_rf"] = True
            at.run()
        if at.exception:
            raise RuntimeError([e.value for e in at.exception])
        return at

    warm = visit({"net": args.net, "size": str(start_size(args.net))}, erf=args.erf)
    gc.collect()
    memory.trim()
    _reset_peak()
    report: dict = {
        "net": args.net, "size": args.size, "erf": args.erf,
        "request_mb": getattr(settings.current(), "request_mb", None), "capture_mb": settings.current().capture_mb,
        "cache_mb": getattr(settings.current(), "cache_mb", None),
        "warm_rss_mb": round(_status_mb("VmRSS"), 1), "peak_mb": [], "rss_mb": [], "notices": [],
    }  # fmt: skip
    sessions = [warm]
    for _ in range(args.visits):
        at = visit({"net": args.net, "size": str(args.size)}, erf=args.erf)
        sessions.append(at)
        report["peak_mb"].append(round(_status_mb("VmHWM"), 1))
        report["rss_mb"].append(round(_status_mb("VmRSS"), 1))
        shown = [str(w.value) for w in (*at.warning, *at.error)]
        report["notices"].extend(n for n in shown if n not in report["notices"])
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
