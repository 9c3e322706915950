"""Architecture pages: DOT generation against torchview, and the server time of a page rerun for resnet152.

    python -m benchmarks.bench_architecture

1. The resnet152 overview diagram, from nothing (trace cache cleared, every block expanded) to DOT text, against
   ``torchview.draw_graph(resnet152, input_size=(1, 3, 224, 224))`` on a model built beforehand, in the same run.
   Target: ≥ 10× faster.
2. What a user waits for after switching the sidebar: ``AppTest.run()`` on each architecture page right after the
   network (resnet50 → resnet152) or the input size (224 → 192 on resnet152) changed. AppTest's own overhead is
   included, so the page's real server time is a little lower. Target: < 300 ms.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from benchmarks.common import Result, median_time, print_table

ROOT = Path(__file__).resolve().parent.parent


def _dot_vs_torchview() -> Result:
    import importlib

    from torchview import draw_graph
    from torchvision.models import resnet152

    from resnet_viz.i18n import translator
    from resnet_viz.render import dot

    trace_mod = importlib.import_module(
        "resnet_viz.architecture.trace"
    )  # the module (the package exports the function)

    def ours() -> str:
        trace_mod._trace.cache_clear()  # the whole path: arithmetic trace + DOT text
        return dot.overview_dot(trace_mod.trace("resnet152", 224), translator("en"), collapse=False)

    model = resnet152().eval()
    ours_s = median_time(ours, repeat=15)
    peer_s = median_time(lambda: draw_graph(model, input_size=(1, 3, 224, 224)), repeat=3)
    ratio = peer_s / ours_s
    return Result(
        "DOT resnet152 (expanded) vs torchview.draw_graph", ratio, "×", "≥ 10×", ratio >= 10,
        f"{ours_s * 1e3:.1f} ms vs {peer_s * 1e3:.0f} ms",
    )  # fmt: skip


def _rerun_times() -> list[Result]:
    from streamlit.testing.v1 import AppTest

    results = []
    for page, title in (("app_pages/architecture.py", "Shape walk"), ("app_pages/shortcuts.py", "Shortcuts")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.switch_page(page).run()
        arch_times, size_times = [], []
        for _ in range(5):
            at.selectbox(key="rv_arch").set_value("resnet50").run()
            at.selectbox(key="rv_arch").set_value("resnet152")
            t0 = time.perf_counter()
            at.run()
            arch_times.append(time.perf_counter() - t0)
            assert not at.exception, [e.value for e in at.exception]
            at.number_input(key="rv_input_size").set_value(192)
            t0 = time.perf_counter()
            at.run()
            size_times.append(time.perf_counter() - t0)
            at.number_input(key="rv_input_size").set_value(224).run()
        for what, times in (("network → resnet152", arch_times), ("input size on resnet152", size_times)):
            ms = statistics.median(times) * 1e3
            results.append(
                Result(f"{title} page rerun after {what}", ms, "ms", "< 300 ms", ms < 300,
                       f"median of {len(times)}, max {max(times) * 1e3:.0f} ms (AppTest)")
            )  # fmt: skip
    return results


def run() -> list[Result]:
    torch.set_num_threads(1)
    return [_dot_vs_torchview(), *_rerun_times()]


if __name__ == "__main__":
    print_table(run())
