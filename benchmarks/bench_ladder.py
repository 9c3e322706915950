"""The ladder's arithmetic (issue 25): every rung of ResNet-50 → ConvNeXt-T without torch, under 0.1 s.

    python -m benchmarks.bench_ladder          (or: python -m benchmarks --only ladder)

1. Cold: :func:`resnet_viz.architecture.ladder.ladder` with its memo cleared, the 13 rungs at 3×224×224 (records,
   totals, receptive fields), plus the cited-vs-ours explanation of every rung the paper cites. Target < 100 ms
   (the issue's "under 0.1 s"), median of 9 runs.
2. Every consecutive diff (12 of them) on top, memo cleared: what a diff view of the whole ladder costs. Target < 100 ms.
3. For scale, in the same run: building the 13 rungs as nn.Modules on the meta device (no weights allocated) and
   counting their parameters, the cheapest way to the same totals with torch. Reported, no target.
"""

from __future__ import annotations

import time

from benchmarks.common import Result, median_time, print_table
from resnet_viz.architecture import ladder, ladder_diff


def _arithmetic() -> None:
    ladder._rung_trace.cache_clear()
    ladder.ladder(224)
    ladder.explanations()


def _diffs() -> None:
    ladder._rung_trace.cache_clear()
    for a, b in zip(ladder.RUNGS, ladder.RUNGS[1:]):
        ladder_diff.diff(a.key, b.key)


def _built_with_torch() -> float:
    import torch

    from resnet_viz.models.ladder import build_rung

    t0 = time.perf_counter()
    with torch.device("meta"):
        for spec in ladder.RUNGS:
            sum(p.numel() for p in build_rung(spec.key).parameters())
    return time.perf_counter() - t0


def run() -> list[Result]:
    arith = median_time(_arithmetic, repeat=9)
    diffs = median_time(_diffs, repeat=9)
    built = _built_with_torch()
    return [
        Result("ladder: 13 rungs + explanations, cold (no torch)", arith * 1e3, "ms", "< 100 ms", arith < 0.1),
        Result("ladder: 12 consecutive diffs, cold", diffs * 1e3, "ms", "< 100 ms", diffs < 0.1),
        Result("ladder: 13 rungs built on meta + parameter count (torch)", built * 1e3, "ms", "for scale", True,
               f"{built / arith:.0f}× the arithmetic"),
    ]  # fmt: skip


if __name__ == "__main__":
    print_table(run())
