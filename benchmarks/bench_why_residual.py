"""Why-residual page budgets: the live training run must fit in about 3 minutes on 2 CPU cores, and one
gradient-flow pass should take seconds.

The live run's time is extrapolated from a few timed batches of each network (training is the same work batch
after batch), plus the per-epoch evaluations. Unlike the other benchmarks these targets are absolute seconds: the
issue states them for "2 CPU cores", so run this on such a machine when it is otherwise idle.
Also reported, as a ratio against a peer in the same run: a training step of plain-56 vs ResNet-56 (the shortcut
adds nothing measurable to the cost, so the comparison on the page is fair).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from benchmarks.common import Result, median_time, print_table
from resnet_viz import experiments as ex


def _step_seconds(depth: int, plain: bool, config: ex.TrainConfig, x: torch.Tensor, y: torch.Tensor) -> float:
    model = ex.cifar_net(depth, plain=plain, width=config.width)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return median_time(step, repeat=3, warmup=1)


def _eval_seconds(depth: int, plain: bool, config: ex.TrainConfig, x: torch.Tensor, y: torch.Tensor) -> float:
    model = ex.cifar_net(depth, plain=plain, width=config.width).eval()
    return median_time(lambda: ex.evaluate(model, x, y), repeat=1, warmup=0)


def run() -> list[Result]:
    config = ex.LIVE_CONFIG
    x, y = ex.synthetic_shapes(config.batch_size, seed=0)
    xt, yt = ex.synthetic_shapes(config.n_test, seed=1)
    steps = math.ceil(config.n_train / config.batch_size) * config.epochs
    step_s = {label: _step_seconds(d, p, config, x, y) for label, d, p in config.runs}
    eval_s = {label: _eval_seconds(d, p, config, xt, yt) for label, d, p in config.runs}
    total = sum(step_s[k] * steps + eval_s[k] * config.epochs for k in step_s)
    detail = ", ".join(f"{k} {1000 * v:.0f} ms/batch" for k, v in step_s.items())
    grad = median_time(lambda: ex.gradient_flow("resnet110", batch_size=16), repeat=3, warmup=1)
    ratio = step_s["plain-56"] / step_s["resnet-56"]
    return [
        Result(
            f"live run estimate ({len(config.runs)} nets, {steps} batches each, {torch.get_num_threads()} threads)",
            total,
            "s",
            "≤ 180 s on 2 cores",
            total <= 180,
            detail,
        ),
        Result("gradient flow plain+residual resnet110, batch 16", grad, "s", "≤ 5 s", grad <= 5),
        Result(
            "training step plain-56 vs ResNet-56",
            ratio,
            "×",
            "0.8–1.25× (same cost)",
            0.8 <= ratio <= 1.25,
            f"{1000 * step_s['plain-56']:.0f} ms vs {1000 * step_s['resnet-56']:.0f} ms",
        ),
    ]


if __name__ == "__main__":
    print_table(run())
