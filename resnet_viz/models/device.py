"""Pick the device: CUDA, else Apple MPS, else CPU; ``RESNET_VIZ_DEVICE`` overrides. Nothing needs a GPU."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch

from resnet_viz import settings


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available())
    return kind == "cpu"


def select_device(preferred: str | None = None) -> torch.device:
    """The device to run on: ``preferred`` or ``$RESNET_VIZ_DEVICE`` if given and present, else the best one.

    Asking for a device that is absent (or unknown) warns and falls back to the CPU.
    """
    wanted = (preferred or settings.current().device).strip().lower()
    if wanted:
        if wanted in ("cpu", "cuda", "mps") and _available(wanted):
            return exact_float32(torch.device(wanted))
        warnings.warn(f"device {wanted!r} is not available here; using the CPU", RuntimeWarning, stacklevel=2)
        return torch.device("cpu")
    for kind in ("cuda", "mps"):
        if _available(kind):
            return exact_float32(torch.device(kind))
    return torch.device("cpu")


def exact_float32(device: torch.device) -> torch.device:
    """Turn TensorFloat-32 off for CUDA convolutions and matmuls, process-wide, and return ``device``.

    PyTorch lets cuDNN run float32 convolutions in TF32 by default (10-bit mantissa, ~1e-3 relative error) on
    Ampere and later GPUs. A teaching app shows single numbers and rebuilds them from their terms
    (:func:`resnet_viz.explain_value` holds them to 1e-4 of the forward pass), and its GPU figures should be the
    CPU's; full float32 costs little at the batch sizes a class sends. A global setting, set once at start-up
    and never flipped back, so no concurrent forward sees it change under it."""
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return device


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. 'CUDA: NVIDIA H100' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity (so a replica pinned with systemd's ``CPUAffinity=`` or
    ``taskset`` sizes itself to its share), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ForwardBudget:
    """How many forward passes may run at once in one server process, and torch's intra-op threads for each."""

    max_concurrent: int
    threads: int
    reason: str


def forward_budget(cores: int | None, device_type: str = "cpu") -> ForwardBudget:
    """The forward gate and thread count for a server with ``cores`` CPU cores running on ``device_type``.

    On the CPU the cores are split between concurrent forwards: on 2 cores, 2 forwards of 1 thread each served a
    busy server ~20× faster per batch than 2 threads each (intra-op threads fighting over the same cores, measured
    with ``benchmarks/bench_load.py``). So: half the cores run forwards at once (2 to 8), and each gets the cores
    left per forward (1 to 4 threads; small single-image forwards gain little past 4). On a GPU the device does
    the arithmetic and its queue serialises the kernels anyway; 4 forwards at once let one session's copies back
    to the CPU overlap another's kernels, and the CPU threads only feed it.
    """
    cores = max(1, int(cores or 1))
    if device_type in ("cuda", "mps"):
        concurrent = 4
        return ForwardBudget(
            concurrent, max(1, min(4, cores // concurrent)), f"{device_type}: the device computes"
        )
    concurrent = max(1, min(8, max(2, cores // 2)))
    threads = max(1, min(4, cores // concurrent))
    return ForwardBudget(concurrent, threads, f"{cores} CPU cores: {concurrent} forwards × {threads} threads")
