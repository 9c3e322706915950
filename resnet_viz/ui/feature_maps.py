"""The Feature-maps page's caches: shared models, preprocessing, the capture store and the forward batcher, the
channel grids.

Shared models are built once per (model source, device) and never changed afterwards (no hooks left on them, no
``.train()``, no ``.to()``, no ``load_state_dict``); captures are keyed by typed values (the source, the image's
hash, the preprocessing) and bounded.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch
from PIL import Image

from resnet_viz import settings
from resnet_viz.i18n import Translator
from resnet_viz.imaging.preprocessing import PreprocessSettings
from resnet_viz.models.sources import ModelSource, OfflineMemory, Preprocessing, load_shared
from resnet_viz.ui.presenter import show_error
from resnet_viz.ui.process import device, forward_gate
from resnet_viz.ui.session import session_slot


@dataclass(frozen=True)
class CaptureKey:
    """What one forward pass depends on: the weights, the picture (its SHA-256) and its preprocessing."""

    source: ModelSource
    image_sha: str
    preprocessing: Preprocessing


# Streamlit hashes a dataclass field by field, each value on its own: a pretrained source's 1000 class names cost
# ~35-50 ms per cached call (measured with streamlit's own hasher), several calls per rerun. These typed values are
# hashed as one string each: the source by its key, the preprocessing by its (deterministic) repr.
_HASH_FUNCS: dict[Any, Callable[[Any], Any]] = {
    ModelSource: lambda source: repr(source.key),
    Preprocessing: repr,
    CaptureKey: lambda key: f"{key.source.key!r}|{key.image_sha}|{key.preprocessing!r}",
}


@st.cache_resource(max_entries=6, show_spinner=False, hash_funcs=_HASH_FUNCS)
def shared_model(source: ModelSource, device_name: str) -> torch.nn.Module:
    """The model every session shares for a (pretrained or random) ``source`` on a device.

    Built on the CPU, moved to its device *before* it is cached, then only ever called. A pretrained build may
    download once (raises :class:`resnet_viz.models.weights.WeightsError`, which is not cached: the next run
    tries again).
    """
    return load_shared(source).to(torch.device(device_name)).eval()


def pretrained_model(source: ModelSource, t: Translator) -> torch.nn.Module | None:
    """The shared pretrained model of ``source``, downloaded once into torch's cache behind a progress box;
    None (with the reason shown) when the weights cannot be had. An offline machine is remembered for a few
    minutes per session (:class:`~resnet_viz.models.sources.OfflineMemory`), so reruns do not wait again."""
    from resnet_viz.models import weights

    memory = session_slot("rv_offline_memory", OfflineMemory)
    device_name = str(device())
    try:
        with memory.watch(source.arch):
            if weights.check_obtainable(source.arch):  # cached (or offline: WeightsError before any waiting)
                return shared_model(source, device_name)
            size_mb = round(source.file_size_mb or 0) or "?"
            label = t("feature_maps.downloading", name=source.weights_name, size=size_mb)
            with st.status(label, expanded=True) as box:
                st.write(t("feature_maps.downloading_detail", path=str(weights.cache_path(source.arch))))
                try:
                    model = shared_model(source, device_name)
                except weights.WeightsError:
                    box.update(state="error", expanded=False)
                    raise
                box.update(label=t("feature_maps.downloaded"), state="complete", expanded=False)
                return model
    except weights.WeightsError as err:
        show_error(err, t)
        return None


@dataclass(frozen=True)
class PreparedImage:
    """One image as the page shows it and the network sees it. Cached values are pickled on every hit, so it keeps
    small JPEGs of the four steps for display (encoded once, not on every rerun), the cropped image for overlays
    and the tensor as numpy; not the full-size originals."""

    original_jpeg: bytes
    resized_jpeg: bytes
    cropped_jpeg: bytes
    normalized_jpeg: bytes
    cropped: Image.Image
    tensor: np.ndarray
    settings: PreprocessSettings

    @property
    def jpegs(self) -> tuple[bytes, bytes, bytes, bytes]:
        """The four steps in pipeline order: original, resized, cropped, normalized."""
        return self.original_jpeg, self.resized_jpeg, self.cropped_jpeg, self.normalized_jpeg


def _jpeg(picture: Image.Image) -> bytes:
    import io

    picture = picture.copy()
    picture.thumbnail((480, 480))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)  # photos: JPEG, as st.image would make them anyway
    return buffer.getvalue()


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_preprocess(image_sha: str, preprocessing: Preprocessing, _data: bytes) -> PreparedImage:
    """The preprocessing steps of one image, keyed by its hash and the pipeline's numbers."""
    from resnet_viz.imaging.images import load_image
    from resnet_viz.imaging.preprocessing import preprocess

    steps = preprocess(load_image(_data), preprocessing)
    return PreparedImage(
        original_jpeg=_jpeg(steps.original),
        resized_jpeg=_jpeg(steps.resized),
        cropped_jpeg=_jpeg(steps.cropped),
        normalized_jpeg=_jpeg(steps.normalized_preview),
        cropped=steps.cropped,
        tensor=steps.tensor.numpy(),
        settings=steps.settings,
    )


@st.cache_resource
def capture_store():
    """The process's captures (``imaging.store.CaptureStore``): one read-only copy per (weights, image,
    preprocessing, device) shared by every session showing it, at most ``$RESNET_VIZ_CAPTURE_MB`` (256) MB in
    all, least recently used first out, and each freed when the last session using it ends."""
    from resnet_viz.imaging.store import CaptureStore

    return CaptureStore(settings.current().capture_bytes)


_OWNER_KEY = "rv_store_owner"
_owner_ids = itertools.count(1)


class _SessionOwner:
    """Lives in one session's state. Streamlit drops a session's state when the session ends (its websocket
    closed and ``server.disconnectedSessionTTL`` passed, or the server closed it); the owner is then collected
    and :func:`capture_store` releases what only this session used. No Streamlit internals: a weak reference."""

    def __init__(self) -> None:
        self.id = next(_owner_ids)
        weakref.finalize(self, capture_store().release, self.id)


def session_owner() -> int:
    """This session's owner id in :func:`capture_store`."""
    return session_slot(_OWNER_KEY, _SessionOwner).id


def cached_capture(key: CaptureKey, device_name: str, _model, _tensor):
    """One forward pass per (weights, image, preprocessing, device), kept in :func:`capture_store`; display
    changes never rerun it. Sessions asking for the same model at about the same time share one batched forward
    (:func:`batcher`). The capture is shared: read-only arrays, the same object for every session."""

    def make():
        # batched with other images of the same weights on the same device (the batcher adds the model and size)
        return batcher().submit((key.source.key, device_name), _model, torch.from_numpy(_tensor))

    return capture_store().get((_HASH_FUNCS[CaptureKey](key), device_name), session_owner(), make)


@st.cache_resource
def batcher():
    """The process's one forward batcher (``imaging.batching``): the window is ``$RESNET_VIZ_BATCH_MS`` (5 ms),
    the largest batch ``$RESNET_VIZ_MAX_BATCH`` (8); each batch runs inside :func:`forward_gate`."""
    from resnet_viz import memory
    from resnet_viz.imaging import capture
    from resnet_viz.imaging.batching import ForwardBatcher

    knobs = settings.current()

    # (looked up on every call, so the page test can count the forwards whenever the batcher was made)
    def run_batch(model, images):
        try:
            return capture.capture_batch(model, images)
        finally:  # the batch's activations (tens of MB) go back to the system, not into a thread's arena
            memory.trim()

    return ForwardBatcher(
        run_batch,
        window_ms=knobs.batch_ms,
        max_batch=knobs.max_batch,
        gate=forward_gate,
    )


def capture_with_fallback(key: CaptureKey, model: torch.nn.Module, tensor):
    """:func:`cached_capture` on the model's device; on CUDA out-of-memory, again on the CPU (a shared
    source's CPU model, or this session's own checkpoint model moved to the CPU).

    Returns ``(capture, fell_back)``.
    """
    device_name = str(next(model.parameters()).device)
    try:
        return cached_capture(key, device_name, model, tensor), False
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        cpu_model = shared_model(key.source, "cpu") if key.source.shared else model.to("cpu")
        return cached_capture(key, "cpu", cpu_model, tensor), True


def cached_grid_png(
    capture_key: CaptureKey,
    layer: str,
    mode: str,
    cmap: str,
    k: int | None,
    cols: int | None,
    min_width: int,
    _maps,
    _global_range=None,
) -> tuple[bytes, list[int]]:
    """One layer's channel grid as PNG bytes (upscaled with square pixels to at least ``min_width``) and the
    channel shown in each tile; keyed by the capture's key and the display choices. A new colormap only
    rewrites the palette of the grid already encoded for the same choices (see ``render.tiling.recolor_png``)."""
    from resnet_viz.render.tiling import recolor_png

    png, index = _cached_grid_indices(capture_key, layer, mode, k, cols, min_width, _maps, _global_range)
    return (png if cmap == "viridis" else recolor_png(png, cmap)), index


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_HASH_FUNCS)
def _cached_grid_indices(
    capture_key: CaptureKey,
    layer: str,
    mode: str,
    k: int | None,
    cols: int | None,
    min_width: int,
    _maps,
    _global_range=None,
) -> tuple[bytes, list[int]]:
    from resnet_viz.render.tiling import grid_png

    return grid_png(
        _maps, mode=mode, cmap="viridis", k=k, global_range=_global_range, cols=cols, min_width=min_width
    )


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_layer_stats(capture_key: CaptureKey, layer: str, _maps):
    """Per channel mean, max and fraction of zeros of one captured layer ((C, 3) numpy), once per layer."""
    from resnet_viz.imaging.capture import layer_stats

    return layer_stats(_maps)
