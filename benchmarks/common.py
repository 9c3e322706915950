"""What every benchmark module shares: a result record, a timer, and the table printer.

Each ``benchmarks/bench_*.py`` defines ``run() -> list[Result]`` and, for running it alone,
``if __name__ == "__main__": print_table(run())``. Compare only figures measured in the same run: a ratio against
a peer measured seconds apart on the same machine, never an absolute time from another day.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from resnet_viz.formatting import text_table


@dataclass
class Result:
    name: str  # what was measured, e.g. "trace resnet152 vs torchinfo.summary"
    value: float  # the measured figure (a ratio, milliseconds, kilobytes …)
    unit: str  # "×", "ms", "KB" …
    target: str  # the target in words, e.g. "≥ 10×"
    ok: bool  # whether the target is met
    detail: str = ""  # the raw figures behind a ratio, e.g. "1.9 ms vs 141 ms"


def median_time(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, interpolated between the two nearest ranks as numpy's default
    (``np.percentile``, "linear"); NaNs (nothing measured) are left out and nothing at all gives NaN. An infinite
    value (something that never happened within its wait) counts as the slowest: any percentile that reaches it
    is infinite, never NaN."""
    ranked = sorted(v for v in values if not math.isnan(v))
    if not ranked:
        return math.nan
    pos = (len(ranked) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    if lo == hi:
        return float(ranked[lo])
    if math.isinf(ranked[hi]):
        return math.inf
    return float(ranked[lo] + (ranked[hi] - ranked[lo]) * (pos - lo))


def print_table(results: list[Result]) -> None:
    rows = [
        (r.name, f"{r.value:,.2f} {r.unit}".strip(), r.target, "PASS" if r.ok else "MISS", r.detail)
        for r in results
    ]
    header = ("benchmark", "measured", "target", "", "detail")
    for line in text_table(header, rows):
        print(line)
