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

from resnet_viz.architecture.experiment_net import ExperimentNet
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
    """The paper's CIFAR augmentation on a batch: zero-pad by ``pad``, random crop back, random flip.

    The offsets and flips are drawn from ``gen`` (on the CPU) and applied as one gather, so the batch may live on
    any device.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen).to(x.device)
    flips = (torch.rand(n, generator=gen) < 0.5).to(x.device)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (n, h)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = offsets[:, 1, None] + torch.where(
        flips[:, None], w - 1 - cols, cols
    )  # a flip reads the crop backwards
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


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
    x_train, y_train = x_train.to(device), y_train.to(device)
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
        order = torch.randperm(len(x_train), generator=gen).to(device)
        # Summed on the device and read once per epoch: no synchronisation per batch.
        wrong = torch.zeros((), dtype=torch.long, device=device)
        loss_sum = torch.zeros((), device=device)
        seen = 0
        for b in range(steps_per_epoch):
            if should_stop is not None and should_stop():
                curves.seconds += time.perf_counter() - start
                raise Stopped
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            x = augment_batch(x_train[idx], gen) if config.augment else x_train[idx]
            y = y_train[idx]
            with guard(), torch.enable_grad():
                out = model(x)
                loss = F.cross_entropy(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
            wrong += (out.argmax(1) != y).sum()
            seen += len(y)
            loss_sum += loss.detach() * len(y)
            step += 1
            if progress is not None:
                progress(done_offset + step, total_steps or total_run, curves.label, epoch)
        with guard():
            test = evaluate(model, x_test, y_test)
        curves.train_error.append(int(wrong) / seen)
        curves.train_loss.append(float(loss_sum) / seen)
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
        model = seeded_build(
            config.seed,
            lambda d=depth, p=plain: cifar_net(
                d, plain=p, width=config.width, num_classes=config.num_classes
            ),
        )
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


def train_network(
    config: TrainConfig,
    depth: int,
    plain: bool,
    *,
    device: Any = "cpu",
    threads: int | None = None,
    weights_path: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train one network of ``config`` (seed ``config.seed``) as :func:`train_degradation` would, and return its
    :class:`RunCurves` as a dict; save its weights (safetensors) to ``weights_path`` if given.

    A top-level function of plain arguments, so that ``scripts/make_curves.py`` can run one per process.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    data = make_data(config)
    model = seeded_build(
        config.seed,
        lambda: cifar_net(depth, plain=plain, width=config.width, num_classes=config.num_classes),
    )
    curves = RunCurves(label=ExperimentNet(depth, plain).label, depth=depth, plain=plain)
    start = time.perf_counter()

    def _epoch() -> None:
        if log is not None:
            log(
                f"{curves.label} seed {config.seed} epoch {len(curves.train_error)}/{config.epochs}: "
                f"train {curves.train_error[-1]:.4f} test {curves.test_error[-1]:.4f} "
                f"({time.perf_counter() - start:.0f} s)"
            )

    train_one(model, data, config, curves, device=device, on_epoch=_epoch)
    if weights_path is not None:
        import json

        from safetensors.torch import save_file

        save_file(
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            weights_path,
            metadata={"settings": json.dumps(config.to_dict()), "label": curves.label},
        )
    return curves.to_dict()
