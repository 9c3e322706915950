"""Where a network's weights come from: torchvision's ImageNet weights, a seeded random start, or a user's file.

* Pretrained weights come through torchvision's weights API (``weights.url``, ``.meta["categories"]``,
  ``.transforms()``) and live in torch's hub cache (``torch.hub.get_dir()/checkpoints``), the same file
  ``torchvision.models.resnet50(weights="DEFAULT")`` would use. The cache is checked first, so an offline
  classroom with a filled cache (``python -m resnet_viz download-weights resnet50``) never touches the network,
  and an offline machine with an empty cache fails in a few seconds with :class:`WeightsError` ``offline``.
  The file is then read with ``torch.load(weights_only=True)``: torchvision's own loader uses
  weights_only disabled, which would unpickle whatever file sits in the cache.
* Random weights are torchvision's initialisation under a fixed seed, so every session, rerun and process sees
  the same "untrained" network (and cached activations stay valid when a cached model is rebuilt).
* A user's checkpoint (``.pt``/``.pth`` state_dict, or ``.safetensors``) is loaded into a *fresh* model of that
  session only; its format is decided by its content. No code in it ever runs: ``torch.load(weights_only=True)``
  (never ``mmap``), or safetensors, which has no code path at all.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision import models as tvm

from resnet_viz import settings
from resnet_viz.architecture.catalogue import pretrained_problem
from resnet_viz.errors import UserError
from resnet_viz.models.build import build_model
from resnet_viz.models.seeding import seeded_build, unseeded_build

#: Seconds to wait for the weights server before calling the machine offline.
CONNECT_TIMEOUT_S = 3.0
#: Seed of the "random weights" networks: the same untrained filters everywhere.
RANDOM_SEED = 0
#: The largest checkpoint accepted (resnet152's state_dict is ~230 MB).
MAX_CHECKPOINT_BYTES = 400 * 1024 * 1024


class WeightsError(UserError):
    """Pretrained weights cannot be had. ``code`` names the reason; ``params`` fill the localized message
    ``feature_maps.weights_error_<code>``."""

    I18N_PREFIX = "feature_maps.weights_error_"
    CODES = ("no_pretrained", "offline", "download", "corrupt")


class CheckpointError(UserError):
    """A user's checkpoint cannot be used. ``code`` names the reason; ``params`` fill the localized message
    ``feature_maps.ckpt_error_<code>``."""

    I18N_PREFIX = "feature_maps.ckpt_error_"
    CODES = (
        "empty",
        "too_large",
        "not_checkpoint",
        "unsafe",
        "unreadable",
        "not_state_dict",
        "keys",
        "shape",
    )


# --------------------------------------------------------------------------------------------- pretrained
def pretrained_weights(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> tvm.WeightsEnum:
    """torchvision's default ImageNet weights for ``arch`` (e.g. ``ResNet50_Weights.IMAGENET1K_V2``).

    Only the residual v1.5 ImageNet networks have them (the one rule:
    :func:`resnet_viz.architecture.catalogue.pretrained_problem`); anything else raises
    ``WeightsError("no_pretrained")``.
    """
    problem = pretrained_problem(arch, plain=plain, stride_in=stride_in)
    if problem is not None:
        raise WeightsError("no_pretrained", problem, arch=arch)
    return tvm.get_model_weights(arch).DEFAULT


def weights_name(arch: str) -> str:
    """E.g. ``ResNet50_Weights.IMAGENET1K_V2``: the id of the pretrained weights in caches and on the page."""
    w = pretrained_weights(arch)
    return f"{type(w).__name__}.{w.name}"


def cache_path(arch: str) -> Path:
    """Where torch's hub keeps the weights file (the URL's file name under ``torch.hub.get_dir()/checkpoints``)."""
    url = pretrained_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def is_cached(arch: str) -> bool:
    try:
        return cache_path(arch).is_file()
    except WeightsError:
        return False


def online(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether the weights server answers a TCP connection within ``timeout`` (no global socket timeout is set:
    this runs inside a server shared by many sessions)."""
    if settings.current().offline:  # RESNET_VIZ_OFFLINE
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _download(url: str, dst: Path, hash_prefix: str | None, progress: bool) -> None:
    """torch.hub's own downloader: a temporary file, a SHA-256 prefix check, an atomic move, a progress bar."""
    torch.hub.download_url_to_file(url, str(dst), hash_prefix=hash_prefix, progress=progress)


def check_obtainable(arch: str) -> bool:
    """True if the weights are cached, False if they must be downloaded and the server answers;
    ``WeightsError("offline")`` if neither (in a few seconds at most, so a page can say so before it waits)."""
    path = cache_path(arch)
    if path.is_file():
        return True
    if not online(pretrained_weights(arch).url):
        raise WeightsError(
            "offline",
            f"no internet connection and no cached weights for {arch} (expected {path}); "
            f"run `python -m resnet_viz download-weights {arch}` on a connected machine",
            arch=arch,
            path=str(path),
        )
    return False


def ensure_pretrained(arch: str, *, progress: bool = True) -> Path:
    """The path of ``arch``'s pretrained weights file, downloading it once if it is not cached yet."""
    path = cache_path(arch)
    if check_obtainable(arch):
        return path
    url = pretrained_weights(arch).url
    path.parent.mkdir(parents=True, exist_ok=True)
    # torchvision names its files <name>-<first 8+ hex digits of the SHA-256>.pth, which torch.hub checks.
    stem = path.name.split(".")[0]
    hash_prefix = stem.rsplit("-", 1)[-1] if "-" in stem else None
    try:
        _download(url, path, hash_prefix, progress)
    except (OSError, RuntimeError) as exc:
        raise WeightsError(
            "download", f"downloading {url} failed: {exc}", arch=arch, error=str(exc)
        ) from None
    return path


def load_pretrained(arch: str, *, progress: bool = True) -> nn.Module:
    """``arch`` with torchvision's default ImageNet weights, in eval mode on the CPU (downloads once)."""
    path = ensure_pretrained(arch, progress=progress)
    model = unseeded_build(lambda: build_model(arch))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # a damaged cache file: say where it is so it can be deleted
        raise WeightsError(
            "corrupt", f"the cached weights file {path} is damaged ({exc}); delete it", path=str(path)
        ) from None
    return model.eval()


def load_random(arch: str, *, plain: bool = False, stride_in: str = "3x3") -> nn.Module:
    """``arch`` with torchvision's random initialisation under :data:`RANDOM_SEED` (the same everywhere)."""
    return seeded_build(RANDOM_SEED, lambda: build_model(arch, plain=plain, stride_in=stride_in))


# --------------------------------------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: the file's format, its SHA-256 (the id of these weights in caches), its wrapper."""

    sha256: str
    format: str  # "torch" | "safetensors"
    wrapper: str | None = None  # "state_dict" | "model" | None
    stripped_prefix: bool = False
    num_classes: int = 1000
    tensors: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Tensors holding NaN or ±Inf (loaded as they are; the page warns, naming them): every activation they
    #: reach is NaN, so the maps and predictions would silently mean nothing.
    nonfinite: tuple[str, ...] = field(default_factory=tuple)


def checkpoint_format(data: bytes) -> str | None:
    """``"torch"`` (a zip archive of torch.save, or the legacy pickle format), ``"safetensors"``, or None.

    Decided by content: a zip local-file header, a pickle protocol byte, or safetensors' little-endian
    header length followed by a JSON object.
    """
    if data[:4] == b"PK\x03\x04":
        return "torch"
    if len(data) >= 10:
        n = int.from_bytes(data[:8], "little")
        if 2 <= n <= len(data) - 8 and data[8:9] == b"{":
            return "safetensors"
    if data[:1] == b"\x80" and len(data) > 2 and 2 <= data[1] <= 5:
        return "torch"
    return None


def _read_state(data: bytes, fmt: str) -> Any:
    if fmt == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load as load_safetensors

        try:
            return load_safetensors(data)
        except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
            raise CheckpointError("unreadable", f"not a readable safetensors file: {exc}") from None
    import pickle

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global that is not a tensor or a plain container: code never runs.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            "unsafe", f"the file holds Python objects other than tensors; refused ({first})"
        ) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, ValueError … for damaged archives
        raise CheckpointError(
            "unreadable", f"not a readable PyTorch file ({type(exc).__name__}: {exc})"
        ) from None


def _unwrap(obj: Any) -> tuple[dict[str, torch.Tensor], str | None]:
    wrapper = None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                obj, wrapper = inner, key
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError("not_state_dict", "the file does not hold a state_dict (a dict of tensors)")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise CheckpointError("not_state_dict", "the file does not hold a state_dict (a dict of tensors)")
    return state, wrapper


def load_checkpoint(
    data: bytes, arch: str, *, plain: bool = False, stride_in: str = "3x3"
) -> tuple[nn.Module, CheckpointInfo]:
    """A fresh ``arch`` (eval mode, CPU) holding the weights in ``data``; :class:`CheckpointError` otherwise.

    Accepts a bare state_dict, a ``{"state_dict": …}`` or ``{"model": …}`` wrapper, and keys with the
    ``module.`` prefix DataParallel adds. The number of classes is read from ``fc.weight``.
    """
    if not data:
        raise CheckpointError("empty", "the file is empty")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            "too_large",
            f"the file is {len(data) / 2**20:.0f} MB; the limit is {MAX_CHECKPOINT_BYTES / 2**20:.0f} MB",
            size_mb=round(len(data) / 2**20),
            limit_mb=MAX_CHECKPOINT_BYTES // 2**20,
        )
    fmt = checkpoint_format(data)
    if fmt is None:
        raise CheckpointError(
            "not_checkpoint", "not a PyTorch (.pt/.pth) or safetensors file (judged by its content)"
        )
    state, wrapper = _unwrap(_read_state(data, fmt))
    stripped = False
    if any(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        stripped = True
    fc = state.get("fc.weight")
    num_classes = int(fc.shape[0]) if isinstance(fc, torch.Tensor) and fc.ndim == 2 else None
    model = unseeded_build(
        lambda: build_model(arch, plain=plain, stride_in=stride_in, num_classes=num_classes)
    )
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            "keys",
            f"the keys do not fit {arch}: {len(missing)} missing (e.g. {', '.join(missing[:4]) or '-'}), "
            f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:4]) or '-'})",
            arch=arch,
            n_missing=len(missing),
            n_unexpected=len(unexpected),
            missing=", ".join(missing[:4]) or "–",
            unexpected=", ".join(unexpected[:4]) or "–",
        )
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise CheckpointError(
                "shape",
                f"{key} has shape {tuple(state[key].shape)} in the file but {tuple(ref.shape)} in {arch}",
                arch=arch,
                key=key,
                got=str(tuple(state[key].shape)),
                expected=str(tuple(ref.shape)),
            )
    bad = [k for k, v in state.items() if not (v.is_floating_point() or k.endswith("num_batches_tracked"))]
    if bad:
        raise CheckpointError("not_state_dict", f"{bad[0]} is not a floating-point tensor")
    nonfinite = tuple(
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    )
    if nonfinite:
        warnings.warn(
            f"the checkpoint's tensors {', '.join(nonfinite)} hold NaN or Inf values",
            RuntimeWarning,
            stacklevel=2,
        )
    model.load_state_dict(state, strict=True)
    info = CheckpointInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        wrapper=wrapper,
        stripped_prefix=stripped,
        num_classes=int(model.fc.out_features),
        tensors=len(state),
        nonfinite=nonfinite,
    )
    return model.eval(), info
