"""The trace against its peers (issue 2, Performance). ``python -m benchmarks.bench_trace``

For each ImageNet network at 3×224×224, in one run, in interleaved rounds (the fastest round of each counts):

* ``resnet_viz.architecture.trace`` cold (its memo cleared before every call): the pure-arithmetic walk;
* ``torchinfo.summary(model, (1, 3, 224, 224), verbose=0)`` on the same network (built once, outside the timing):
  the usual way to get the same table, by hooking a real forward pass;
* constructing ``torchvision.models.resnetNN()`` (random init), the least any model-based tool must do first.

Targets (issue 2): resnet152's trace ≥ 10× faster than torchinfo.summary and faster than constructing the model.
The other depths are reported against the same targets for scale.

torch runs on ONE intra-op thread here: on a busy 2-core machine two threads spend their time waiting for each
other (torchinfo.summary of resnet18 measured 250–490 ms with 2 threads vs 50–90 ms with 1, seconds apart). The
trace is single-threaded Python either way; with two idle cores torchinfo's forward could be up to ~2× faster,
which the ≥ 10× target leaves ample room for.
"""

from __future__ import annotations

import torch
import torchinfo
from torchvision import models as tvm

from benchmarks.common import Result, median_time, print_table
from resnet_viz import IMAGENET_ARCHS, build_model
from resnet_viz.architecture.trace import _trace, trace

ROUNDS = 3


def _trace_cold(arch: str) -> None:
    _trace.cache_clear()
    trace(arch, (3, 224, 224))


def run() -> list[Result]:
    torch.set_num_threads(1)
    results: list[Result] = []
    for arch in IMAGENET_ARCHS:
        model = build_model(arch)
        constructor = getattr(tvm, arch)

        def summary(model: torch.nn.Module = model) -> None:
            torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0, device="cpu")

        # Warm-up once each (imports, allocator, oneDNN kernels), then interleaved rounds.
        _trace_cold(arch)
        summary()
        constructor()
        trace_s, info_s, build_s = [], [], []
        for _ in range(ROUNDS):
            trace_s.append(median_time(lambda arch=arch: _trace_cold(arch), repeat=9, warmup=0))
            info_s.append(median_time(summary, repeat=1, warmup=0))
            build_s.append(median_time(constructor, repeat=1, warmup=0))
        # The least disturbed round of each (the same rule for all three): on a shared 2-core machine the
        # neighbours' load only ever adds time, and it has been seen to add seconds to one torchinfo call.
        t_trace, t_info, t_build = (min(s) for s in (trace_s, info_s, build_s))
        ratio_info, ratio_build = t_info / t_trace, t_build / t_trace
        results += [
            Result(f"{arch}@224: torchinfo.summary / trace (cold)", ratio_info, "×", "≥ 10×", ratio_info >= 10,
                   f"{t_info * 1e3:.1f} ms vs {t_trace * 1e3:.2f} ms"),
            Result(f"{arch}@224: construct torchvision {arch}() / trace (cold)", ratio_build, "×", "> 1×",
                   ratio_build > 1, f"{t_build * 1e3:.1f} ms vs {t_trace * 1e3:.2f} ms"),
        ]  # fmt: skip
        del model
    return results


if __name__ == "__main__":
    table = run()
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s)")
    print_table(table)
