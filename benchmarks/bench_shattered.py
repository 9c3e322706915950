"""Shattered-gradients budgets (issue 24): the paper's toy must take under 2 s and the CIFAR-net sweep under 10 s
on 2 CPU cores, so that the Why residual page's section draws without a wait.

* the toy: :func:`~resnet_viz.experiments.shattered.toy_sweep` as the page computes it (depths 1, 24, 50, plain
  and residual, 5 seeds, 256 inputs, BN on), and the same without normalisation;
* the CIFAR-net sweep: plain-56 and ResNet-56 at initialisation along the 256-image path, 5 seeds each (the
  measurement the page's reading and the lesson's question come from), and the page's full sweep (plain/ResNet-20
  too), reported beside it;
* the lesson's answer to the shattered step, read from ``assets/curves/shattered_init.json`` (written by
  ``python scripts/make_shattered.py``): a page render must not wait for the sweep;
* one ImageNet ResNet-18 path chunk, scaled to the 256-image path, for the "a minute on a CPU" estimate.

Like ``bench_why_residual``, these targets are absolute seconds on "2 cores": run on an otherwise idle machine.
Every row gives the CPU time (``time.process_time``, all threads) and the load average beside the wall time,
since a shared machine stretches the wall time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch

from benchmarks.common import Result, median_time, print_table
from resnet_viz.experiments import shattered as sh


def _cpu(fn: Callable[[], object]) -> float:
    """CPU seconds of one call of ``fn`` (this process, every thread)."""
    started = time.process_time()
    fn()
    return time.process_time() - started


def run() -> list[Result]:
    from resnet_viz.lesson import STEPS, answer

    threads = torch.get_num_threads()
    load = f"load average {os.getloadavg()[0]:.1f}"
    toy = median_time(lambda: sh.toy_sweep(norm=True), repeat=3, warmup=1)
    toy_cpu = _cpu(lambda: sh.toy_sweep(norm=True))
    toy_off = median_time(lambda: sh.toy_sweep(norm=False), repeat=3, warmup=0)
    a, b = sh.sample_pair()
    pair = median_time(lambda: sh.path_sweep(a, b, nets=("plain56", "resnet56")), repeat=1, warmup=1)
    pair_cpu = _cpu(lambda: sh.path_sweep(a, b, nets=("plain56", "resnet56")))
    step = next(s for s in STEPS if s.key == "shattered")
    lesson = median_time(lambda: answer(step, "resnet34", 224), repeat=5, warmup=1)
    started = time.perf_counter()
    sh.path_sweep(a, b, nets=sh.CIFAR_NETS)
    page = time.perf_counter() - started
    big_a, big_b = torch.randn(3, 224, 224), torch.randn(3, 224, 224)
    started = time.perf_counter()
    sh.imagenet_path_gradients("resnet18", big_a, big_b, steps=16, chunk=16)
    imagenet = (time.perf_counter() - started) * sh.PATH_STEPS / 16
    return [
        Result(
            f"toy: 3 depths × plain/residual × 5 seeds, BN on ({threads} threads)",
            toy,
            "s",
            "< 2 s on 2 cores",
            toy < 2,
            f"CPU {toy_cpu:.2f} s; without normalisation {toy_off:.2f} s; {load}",
        ),
        Result(
            "CIFAR sweep: plain-56 + ResNet-56 at init, 5 seeds, 256-image path",
            pair,
            "s",
            "< 10 s on 2 cores",
            pair < 10,
            f"CPU {pair_cpu:.1f} s; the page's sweep with plain/ResNet-20 too: {page:.1f} s; {load}",
        ),
        Result(
            "lesson: the shattered step's answer (shipped record, assets/curves/shattered_init.json)",
            lesson * 1000,
            "ms",
            "< 100 ms",
            lesson < 0.1,
        ),
        Result(
            "ImageNet ResNet-18 at 224, 256-image path (estimated from 16 images)",
            imagenet,
            "s",
            "about a minute on a CPU",
            imagenet < 120,
        ),
    ]


if __name__ == "__main__":
    print_table(run())
