"""The Feature-maps page's caches: shared models, preprocessing, the capture store and the forward batcher, the
channel grids; and the budget of one request.

Shared models are built once per (model source, device) and never changed afterwards (no hooks left on them, no
``.train()``, no ``.to()``, no ``load_state_dict``); captures are keyed by typed values (the source, the image's
hash, the preprocessing).

Every cache of arrays or pictures is bounded in bytes, not in entries (one entry of a 1024-pixel input weighs
what a hundred at 224 do): each is an ``imaging.store.CaptureStore`` (:func:`cache_store`), its entries owned by
the sessions using them and freed with the last one. Before a capture runs, its memory is estimated from the
network's trace (``resnet_viz.memory``) and compared with ``$RESNET_VIZ_REQUEST_MB`` (:func:`budgeted_preprocessing`):
a capture over it runs at the largest input size that fits, with a notice on the page.
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

from resnet_viz import memory, settings
from resnet_viz.architecture.trace import trace
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


def model_bytes(model: torch.nn.Module) -> int:
    """The bytes of a model's parameters and buffers (what keeping it built costs)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


#: The one owner of every kept model: models stay built across sessions (a new student finds them warm), and
#: leave only by the byte bound, least recently used first.
_PROCESS = "process"


@st.cache_resource
def model_store():
    """The shared networks, at most ``$RESNET_VIZ_MODELS_MB`` (512) MB of weights in all (``imaging.store``)."""
    from resnet_viz.imaging.store import CaptureStore

    return CaptureStore(settings.current().models_bytes, per_owner=1_000_000, sizeof=model_bytes)


def shared_model(source: ModelSource, device_name: str) -> torch.nn.Module:
    """The model every session shares for a (pretrained or random) ``source`` on a device.

    Built on the CPU, moved to its device *before* it is kept, then only ever called. A pretrained build may
    download once (raises :class:`resnet_viz.models.weights.WeightsError`, which is not kept: the next run
    tries again). Kept in :func:`model_store`, bounded by the weights' bytes, not by a count.
    """

    def make() -> torch.nn.Module:
        return load_shared(source).to(torch.device(device_name)).eval()

    return model_store().get(("shared", repr(source.key), device_name), _PROCESS, make)


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


def cached_preprocess(image_sha: str, preprocessing: Preprocessing, _data: bytes) -> PreparedImage:
    """The preprocessing steps of one image, keyed by its hash and the pipeline's numbers (kept in the
    ``prepared`` store: its arrays are read-only, shared by the sessions showing the same picture)."""

    def make() -> PreparedImage:
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

    return cache_store("prepared").get((image_sha, repr(preprocessing)), session_owner(), make)


@dataclass(frozen=True)
class Fit:
    """The input size one request runs at under ``$RESNET_VIZ_REQUEST_MB``: ``requested`` when its estimate
    (``need`` bytes) is within ``budget`` bytes, else the largest size that fits (``scaled``), or none (``refused``:
    not even the network's smallest input fits, or the size is the weights' own and cannot change)."""

    requested: int
    size: int | None
    need: int
    budget: int

    @property
    def scaled(self) -> bool:
        return self.size is not None and self.size != self.requested

    @property
    def refused(self) -> bool:
        return self.size is None


def request_budget() -> int:
    """The most bytes one request may take (``$RESNET_VIZ_REQUEST_MB``)."""
    return settings.current().request_bytes


def capture_need(source: ModelSource, crop: int) -> int:
    """The estimated peak bytes of one capture of ``source``'s network at a ``crop``×``crop`` input."""
    return memory.capture_bytes(trace(source.arch, crop, plain=source.plain, stride_in=source.stride_in))


def budgeted_preprocessing(source: ModelSource, input_size: int) -> tuple[Preprocessing, Fit]:
    """The preprocessing of ``source`` at the sidebar's ``input_size``, made smaller when its capture would take
    more than the request budget (the weights' own preprocessing cannot be: then the fit is refused)."""
    prep = source.preprocessing(input_size)
    budget = request_budget()
    need = capture_need(source, prep.crop)
    if need <= budget:
        return prep, Fit(prep.crop, prep.crop, need, budget)
    size = None
    if not prep.from_weights:
        size = memory.fitting_capture_size(source.arch, source.plain, source.stride_in, prep.crop, budget)
    fit = Fit(prep.crop, size, need, budget)
    return (prep if size is None else source.preprocessing(size)), fit


class RequestTooLarge(ValueError):
    """A request whose estimated memory is over ``$RESNET_VIZ_REQUEST_MB`` (the pages fit or refuse before)."""


#: The page's byte-bounded caches (:func:`cache_store`): name → (the setting bounding it, entries one session
#: holds). A session's few most recent entries are enough for its reruns (the overview's four grids and the
#: layer's grid; its picture; the layers and positions it flips between).
CACHES: dict[str, tuple[str, int]] = {
    "prepared": ("cache_bytes", 2),
    "grid": ("cache_bytes", 12),
    "stats": ("cache_bytes", 12),
    "record": ("cache_bytes", 2),
    "erf": ("cache_bytes", 16),
    "sanity": ("cache_bytes", 4),
}


@st.cache_resource
def capture_store():
    """The process's captures (``imaging.store.CaptureStore``): one read-only copy per (weights, image,
    preprocessing, device) shared by every session showing it, at most ``$RESNET_VIZ_CAPTURE_MB`` (256) MB in
    all, least recently used first out, and each freed when the last session using it ends."""
    from resnet_viz.imaging.store import CaptureStore

    return CaptureStore(settings.current().capture_bytes)


@st.cache_resource
def _cache_stores():
    from resnet_viz.imaging.store import CaptureStore

    knobs = settings.current()
    return {name: CaptureStore(getattr(knobs, bound), per_owner=n) for name, (bound, n) in CACHES.items()}


def cache_store(name: str):
    """The process's byte-bounded cache ``name`` (one of :data:`CACHES`): an ``imaging.store.CaptureStore``."""
    return _cache_stores()[name]


_OWNER_KEY = "rv_store_owner"
_owner_ids = itertools.count(1)


class _SessionOwner:
    """Lives in one session's state. Streamlit drops a session's state when the session ends (its websocket
    closed and ``server.disconnectedSessionTTL`` passed, or the server closed it); the owner is then collected
    and :func:`capture_store` releases what only this session used. No Streamlit internals: a weak reference."""

    def __init__(self) -> None:
        self.id = next(_owner_ids)
        stores = (capture_store(), *_cache_stores().values())
        weakref.finalize(self, _release, stores, self.id)


def _release(stores, owner: int) -> None:
    for store in stores:
        store.release(owner)


def session_owner() -> int:
    """This session's owner id in :func:`capture_store` and every :func:`cache_store`."""
    return session_slot(_OWNER_KEY, _SessionOwner).id


def cached_capture(key: CaptureKey, device_name: str, _model, _tensor):
    """One forward pass per (weights, image, preprocessing, device), kept in :func:`capture_store`; display
    changes never rerun it. Sessions asking for the same model at about the same time share one batched forward
    (:func:`batcher`), unless a full batch of captures this large would be over the request budget (one forward,
    one budget: at 224 resnet18 to resnet50 batch, resnet101 and resnet152 run alone). The capture is shared: read-only arrays, the same object for every
    session. Raises :class:`RequestTooLarge` over the budget (the page fits the input size first)."""
    need, budget = capture_need(key.source, int(_tensor.shape[-1])), request_budget()
    if need > budget:
        raise RequestTooLarge(
            f"a capture of {key.source.arch} at this size needs ~{need >> 20} MB, over {budget >> 20}"
        )

    def make():
        from resnet_viz.imaging.capture import read_only_tensor

        # the prepared image is shared and read-only; the forward only reads it
        image = read_only_tensor(_tensor)
        if batch_need(need, settings.current().max_batch) <= budget:
            # batched with other images of the same weights on the same device (the batcher adds the model and size)
            return batcher().submit((key.source.key, device_name), _model, image)
        return _capture_alone(_model, image)

    return capture_store().get((_HASH_FUNCS[CaptureKey](key), device_name), session_owner(), make)


def batch_need(need: int, images: int) -> int:
    """The estimated bytes of one forward of ``images`` captures of ``need`` bytes each: the per-request overhead
    once, the maps and activations once per image."""
    return memory.REQUEST_OVERHEAD + (need - memory.REQUEST_OVERHEAD) * images


def _capture_alone(model, image):
    from resnet_viz.imaging import capture

    with forward_gate():
        try:
            return capture.capture_batch(model, image)[0]
        finally:  # the activations go back to the system, not into a thread's arena
            memory.trim()


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

    def make() -> tuple[bytes, list[int]]:
        return grid_png(
            _maps, mode=mode, cmap="viridis", k=k, global_range=_global_range, cols=cols, min_width=min_width
        )

    key = (_HASH_FUNCS[CaptureKey](capture_key), layer, mode, k, cols, min_width)
    return cache_store("grid").get(key, session_owner(), make)


def cached_layer_stats(capture_key: CaptureKey, layer: str, _maps):
    """Per channel mean, max and fraction of zeros of one captured layer ((C, 3) numpy), once per layer."""
    from resnet_viz.imaging.capture import layer_stats

    key = (_HASH_FUNCS[CaptureKey](capture_key), layer)
    return cache_store("stats").get(key, session_owner(), lambda: layer_stats(_maps))


# ----------------------------------------------------------------------------------------------- refused uploads
_UPLOAD_ROUNDS = "rv_upload_rounds"


def upload_key(base: str) -> str:
    """The key of the uploader ``base`` this run: ``base`` until one of its files is refused, then a new one
    each time (:func:`drop_upload`), so the next run shows an empty uploader instead of the refused file."""
    rounds = st.session_state.get(_UPLOAD_ROUNDS, {}).get(base, 0)
    return base if rounds == 0 else f"{base}_{rounds}"


_REFUSED_UPLOAD = "rv_refused_upload"


def drop_upload(base: str, file: Any, note: Any = None) -> None:
    """Forget a refused upload of the uploader ``base`` (:func:`upload_key`) now, not when the session ends: its
    bytes out of Streamlit's uploaded-file store and out of this session's widget state; then rerun at once, so
    that the page shows a fresh, empty uploader under a new key (a file dropped on the old one would be lost),
    and ``note`` (what to say about the refusal) from :func:`refused_upload` in that run.

    A file sent to ``st.file_uploader`` or ``st.camera_input`` stays in the server's uploaded-file store (and
    the widget's value in the session's state) until the browser removes it or the session ends; a refused
    100 MB file held ~280 MB for as long as its tab was open. Streamlit's own ``st.chat_input`` removes its files
    from the store the same way (``MemoryUploadedFileManager.remove_file``)."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx, file_id = get_script_run_ctx(), getattr(file, "file_id", None)
    store = ctx.uploaded_file_mgr if ctx is not None else None
    if file_id is not None and isinstance(store, MemoryUploadedFileManager):
        store.remove_file(session_id=ctx.session_id, file_id=file_id)
    key = upload_key(base)
    if key in st.session_state:
        del st.session_state[key]
    rounds = dict(st.session_state.get(_UPLOAD_ROUNDS, {}))
    rounds[base] = rounds.get(base, 0) + 1
    st.session_state[_UPLOAD_ROUNDS] = rounds
    notes = dict(st.session_state.get(_REFUSED_UPLOAD, {}))
    notes[base] = note  # by uploader: a refused checkpoint's note must not show as a refused picture's
    st.session_state[_REFUSED_UPLOAD] = notes
    st.rerun()


def refused_upload(*bases: str) -> Any:
    """The ``note`` of the upload :func:`drop_upload` refused just before this run for one of the uploaders
    ``bases`` (once), else None."""
    notes = st.session_state.get(_REFUSED_UPLOAD, {})
    for base in bases:
        if base in notes:
            return notes.pop(base)
    return None
