"""Pick the device: CUDA, else Apple MPS, else CPU; ``RESNET_VIZ_DEVICE`` overrides. Nothing needs a GPU."""

from __future__ import annotations

import os
import warnings

import torch

ENV_VAR = "RESNET_VIZ_DEVICE"


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
    wanted = (preferred or os.environ.get(ENV_VAR, "")).strip().lower()
    if wanted:
        if wanted in ("cpu", "cuda", "mps") and _available(wanted):
            return torch.device(wanted)
        warnings.warn(f"device {wanted!r} is not available here; using the CPU", RuntimeWarning, stacklevel=2)
        return torch.device("cpu")
    for kind in ("cuda", "mps"):
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. 'CUDA: NVIDIA H100' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
