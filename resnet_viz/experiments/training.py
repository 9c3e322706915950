"""The degradation experiment (the paper's Figures 1 and 6): train plain and residual nets on the same data."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.experiments.config import TrainConfig
from resnet_viz.experiments.data import make_data
from resnet_viz.experiments.nets import cifar_net
from resnet_viz.models.seeding import seeded_build


@dataclass
class RunCurves:
    """Per-epoch errors (fractions) of one network; ``train_error`` is averaged over each epoch's batches,
    as the paper's curves are, ``test_error`` is measured after the epoch in eval mode."""

    label: str
    depth: int
    plain: bool
    train_error: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DegradationResult:
    config: TrainConfig
    runs: list[RunCurves]
    stopped: bool = False
    device: str = "cpu"
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.config.to_dict(),
            "device": self.device,
            "stopped": self.stopped,
            "runs": [r.to_dict() for r in self.runs],
        }


#: progress(done_batches, total_batches, label, epoch) — called after every batch.
ProgressFn = Callable[[int, int, str, int], None]


class Stopped(Exception):
    """Raised inside :func:`train_one` when ``should_stop()`` turns true between batches."""


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 256) -> dict:
    """Top-1 and top-5 error of ``model`` (switched to eval mode, restored after) on a labelled set."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    wrong1 = wrong5 = 0
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size].to(device)
            y = labels[i : i + batch_size].to(device)
            top5 = model(x).topk(5, dim=1).indices
            wrong1 += int((top5[:, 0] != y).sum())
            wrong5 += int((top5 != y[:, None]).all(dim=1).sum())
    model.train(was_training)
    n = len(images)
    return {"top1_error": wrong1 / n, "top5_error": wrong5 / n}


def augment_batch(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The paper's CIFAR augmentation on a batch: zero-pad by ``pad``, random crop back, random flip."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
        crop = padded[i, :, dy : dy + h, dx : dx + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def train_one(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    config: TrainConfig,
    curves: RunCurves,
    *,
    device: Any = "cpu",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
    done_offset: int = 0,
    total_steps: int | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> None:
    """Train ``model`` in place with SGD + momentum + weight decay and the paper's step schedule.

    Appends each epoch's errors to ``curves``. ``should_stop`` is checked before every batch (raises
    :class:`Stopped`); ``step_guard()`` is entered around every batch (the app's forward gate, so a training run
    shares the machine fairly). The batch order is fixed by ``config.seed``.
    """
    x_train, y_train, x_test, y_test = data
    model.to(device).train()
    opt = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    total_run = steps_per_epoch * config.epochs
    milestones = sorted({int(f * total_run) for f in config.lr_drops})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    gen = torch.Generator().manual_seed(config.seed)
    guard = step_guard or contextlib.nullcontext
    step = 0
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x_train), generator=gen)
        wrong, seen, loss_sum = 0, 0, 0.0
        for b in range(steps_per_epoch):
            if should_stop is not None and should_stop():
                curves.seconds += time.perf_counter() - start
                raise Stopped
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            x = augment_batch(x_train[idx], gen) if config.augment else x_train[idx]
            x, y = x.to(device), y_train[idx].to(device)
            with guard(), torch.enable_grad():
                out = model(x)
                loss = F.cross_entropy(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
            wrong += int((out.argmax(1) != y).sum())
            seen += len(y)
            loss_sum += loss.item() * len(y)
            step += 1
            if progress is not None:
                progress(done_offset + step, total_steps or total_run, curves.label, epoch)
        with guard():
            test = evaluate(model, x_test, y_test)
        curves.train_error.append(wrong / seen)
        curves.train_loss.append(loss_sum / seen)
        curves.test_error.append(test["top1_error"])
        if on_epoch is not None:
            on_epoch()
    curves.seconds += time.perf_counter() - start


def train_degradation(
    config: TrainConfig,
    *,
    device: Any = "cpu",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    step_guard: Callable[[], contextlib.AbstractContextManager] | None = None,
    on_run_end: Callable[[DegradationResult], None] | None = None,
    on_epoch: Callable[[DegradationResult], None] | None = None,
    keep_models: bool = False,
) -> DegradationResult:
    """Train every network of ``config.runs`` on the same data, one after the other.

    Each network starts from ``torch.manual_seed(config.seed)`` and sees the same batches in the same order.
    When ``should_stop()`` turns true the run ends between two batches and the result (``stopped=True``) holds
    the epochs completed so far. ``on_epoch`` / ``on_run_end`` receive the partial result after every epoch /
    after each network is trained.
    """
    data = make_data(config)
    result = DegradationResult(config=config, runs=[], device=str(torch.device(device)))
    steps = math.ceil(config.n_train / config.batch_size) * config.epochs
    total = steps * len(config.runs)
    for i, (label, depth, plain) in enumerate(config.runs):
        model = seeded_build(config.seed, lambda d=depth, p=plain: cifar_net(d, plain=p, width=config.width))
        curves = RunCurves(label=label, depth=depth, plain=plain)
        result.runs.append(curves)
        try:
            train_one(
                model,
                data,
                config,
                curves,
                device=device,
                progress=progress,
                should_stop=should_stop,
                step_guard=step_guard,
                done_offset=i * steps,
                total_steps=total,
                on_epoch=None if on_epoch is None else (lambda: on_epoch(result)),
            )
        except Stopped:
            result.stopped = True
            return result
        if keep_models:
            result.models[label] = model.cpu().eval()
        if on_run_end is not None:
            on_run_end(result)
    return result
