"""The one module of the package that knows Streamlit: caching, session settings and the shared sidebar.

Everything cached here is keyed by plain or typed values (names, sizes, hashes, a frozen
:class:`~resnet_viz.models.sources.ModelSource`), never by a model object, and bounded.
A model from :func:`shared_model` is shared by every session and thread, so nothing may mutate it: no hooks left
on it, no ``.train()``, no ``.to()``, no ``load_state_dict``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
import torch

from resnet_viz.architecture.catalogue import ARCHS, CATALOGUE, get_spec
from resnet_viz.architecture.trace import MAX_INPUT_SIZE, Trace, trace
from resnet_viz.errors import UserError
from resnet_viz.i18n import LANGUAGES, Translator, browser_language
from resnet_viz.i18n import translator as _translator
from resnet_viz.models.device import describe_device, select_device
from resnet_viz.models.sources import ModelSource, OfflineMemory, Preprocessing, load_shared

T = TypeVar("T")

#: Forward passes running at once across all sessions: more only oversubscribes the cores.
MAX_CONCURRENT_FORWARDS = 2


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose; every page reads it."""

    lang: str
    arch: str
    input_size: int
    stride_in: str
    plain: bool
    device: str


@st.cache_resource
def _process_setup() -> threading.BoundedSemaphore:
    """Runs once per server process: one intra-op thread pool sized to the machine, and the forward gate."""
    # Cores split between the concurrent forwards: on 2 cores, 2 threads each made a busy server ~20× slower
    # per batch than 1 thread each (intra-op threads fighting over the same cores).
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, min(4, cores // MAX_CONCURRENT_FORWARDS)))
    return threading.BoundedSemaphore(MAX_CONCURRENT_FORWARDS)


def forward_gate() -> threading.BoundedSemaphore:
    """Hold this while running a forward or backward pass (``with forward_gate(): ...``)."""
    return _process_setup()


@st.cache_resource
def device() -> torch.device:
    return select_device()


def cached_trace(arch: str, input_size: int, plain: bool = False, stride_in: str = "3x3") -> Trace:
    """The trace (itself memoised and immutable, so no Streamlit cache is needed on top)."""
    return trace(arch, input_size, plain=plain, stride_in=stride_in)


_KEYS = {
    "lang": "rv_lang",
    "arch": "rv_arch",
    "size": "rv_input_size",
    "stride": "rv_stride_in",
    "plain": "rv_plain",
}


_STRIDES = ("3x3", "1x1")


def _default_lang() -> str:
    return browser_language(getattr(st.context, "locale", None))


def _get(name: str, default):
    """A sidebar value from session state, or ``default`` when absent or no longer valid."""
    value = st.session_state.get(_KEYS[name], default)
    valid = {
        "lang": lambda v: v in LANGUAGES,
        "arch": lambda v: v in CATALOGUE,
        "size": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "stride": lambda v: v in _STRIDES,
        "plain": lambda v: isinstance(v, bool),
    }[name]
    return value if valid(value) else default


def _on_arch_change() -> None:
    # A new network starts at the input size it was designed for (224 for ImageNet, 32 for CIFAR).
    st.session_state[_KEYS["size"]] = get_spec(st.session_state[_KEYS["arch"]]).default_input


def sidebar() -> Settings:
    """Draw the shared sidebar (called from app.py, so it appears on every page) and return the settings.

    Widget values live in ``st.session_state`` under fixed keys, so they persist across pages. Each widget gets its
    starting value through its own ``index=``/``value=`` argument, never by writing the key into session state
    before the widget exists: under load (30 browsers at once) Streamlit 1.67 sometimes let the widget's built-in
    default (the first option, ``min_value``) win over such a pre-set value (our load test saw 10 of 30 sessions
    jump to a 16-pixel input; Streamlit issue #4247). Values are re-validated on every read, because a radio whose
    option labels change with the language can come back empty after a language switch.
    """
    _process_setup()
    lang = _get("lang", _default_lang())
    arch = _get("arch", "resnet34")
    size = int(_get("size", get_spec(arch).default_input))
    stride = _get("stride", "3x3")
    with st.sidebar:
        langs = list(LANGUAGES)
        st.radio(
            "Language / 语言", langs, index=langs.index(lang), key=_KEYS["lang"],
            format_func=LANGUAGES.__getitem__, horizontal=True,
        )  # fmt: skip
        t = _translator(_get("lang", lang))
        st.selectbox(
            t("common.network"), ARCHS, index=ARCHS.index(arch), key=_KEYS["arch"], on_change=_on_arch_change,
            format_func=lambda a: CATALOGUE[a].title, help=t("common.network_help"),
        )  # fmt: skip
        st.number_input(
            t("common.input_size"), min_value=16, max_value=1024, value=min(max(size, 16), 1024), step=1,
            key=_KEYS["size"], help=t("common.input_size_help"),
        )  # fmt: skip
        bottleneck = get_spec(_get("arch", arch)).block == "bottleneck"
        st.radio(
            t("common.stride_in"), list(_STRIDES), index=_STRIDES.index(stride), key=_KEYS["stride"],
            disabled=not bottleneck,
            format_func=lambda s: t("common.stride_v15") if s == "3x3" else t("common.stride_v1"),
            help=t("common.stride_in_help"),
        )  # fmt: skip
        st.toggle(
            t("common.plain"), value=_get("plain", False), key=_KEYS["plain"], help=t("common.plain_help")
        )
        st.caption(t("common.device", device=describe_device(device())))
    return current()


def current() -> Settings:
    """The settings of this session (defaults where the sidebar has not run or a value is invalid)."""
    arch = _get("arch", "resnet34")
    size = int(min(max(int(_get("size", get_spec(arch).default_input)), 1), MAX_INPUT_SIZE))
    bottleneck = get_spec(arch).block == "bottleneck"
    return Settings(
        lang=_get("lang", _default_lang()),
        arch=arch,
        input_size=size,
        stride_in=_get("stride", "3x3") if bottleneck else "3x3",
        plain=_get("plain", False),
        device=str(device()),
    )


def translator() -> Translator:
    """The translator for this session's language: ``t = ui_state.translator(); t("shapes.title")``."""
    return _translator(current().lang)


# --- feature maps ---
# Owned by the Feature-maps page (app_pages/feature_maps.py). Shared models are built once per (model source,
# device) and never changed afterwards; captures are keyed by typed values (the source, the image's hash, the
# preprocessing) and bounded.


def show_error(err: UserError, t: Translator, *, about: str | None = None, after: str | None = None) -> None:
    """Every :class:`resnet_viz.errors.UserError` is shown the same way: one ``st.error`` with what it concerns
    (``about``, e.g. "“cat.heic” cannot be used:"), its localized reason, and what happens next (``after``)."""
    st.error(" ".join(part for part in (about, err.message(t), after) if part))


def session_slot(key: str, factory: Callable[[], T]) -> T:
    """This session's own object under ``key`` (created by ``factory`` on first use): the pages' memories
    (:class:`~resnet_viz.models.sources.OfflineMemory`, :class:`~resnet_viz.models.sources.CheckpointSlot`,
    :class:`~resnet_viz.imaging.images.ImageSlot`) live here."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def keep_widget_state(keys: tuple[str, ...]) -> None:
    """Write these widgets' values back into session state, so the reader's choices survive.

    Widgets inside a closed tab are not drawn, and Streamlit forgets the state of widgets it did not draw; a
    widget whose label changes (another language) is a new widget to the browser. Writing the values back keeps
    the choices in both cases (seen in a browser check: the radios lost their selection in zh).
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


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


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_preprocess(image_sha: str, preprocessing: Preprocessing, _data: bytes) -> dict:
    """The preprocessing steps of one image, keyed by its hash and the pipeline's numbers."""
    import io

    from resnet_viz.imaging.images import load_image, preprocess

    steps = preprocess(load_image(_data), preprocessing)
    # Cached values are pickled on every hit: keep small encoded pictures for display (encoded once, not on
    # every rerun), the cropped image for overlays, and the tensor as numpy; drop the full-size originals.
    display = {}
    for key in ("original", "resized", "cropped", "normalized_preview"):
        picture = steps[key].copy()
        picture.thumbnail((480, 480))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=90)  # photos: JPEG, as st.image would make them anyway
        display[key] = buffer.getvalue()
    return {
        "display": display,
        "cropped": steps["cropped"],
        "tensor": steps["tensor"].numpy(),
        "settings": steps["settings"],
    }


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_capture(key: CaptureKey, device_name: str, _model, _tensor):
    """One forward pass per (weights, image, preprocessing, device); display changes never rerun it."""
    from resnet_viz.imaging.capture import capture

    with forward_gate():
        return capture(_model, torch.from_numpy(_tensor))


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


# --- why residual ---
# Owned by the "Why residual" page (app_pages/why_residual.py). Every experiment builds its own fresh models
# (resnet_viz.experiments), so nothing here touches a shared model; results are plain dataclasses, keyed by
# plain values and bounded.


@st.cache_data(max_entries=16, show_spinner=False)
def cached_gradient_flow(arch: str, input_size: int, batch_size: int, seed: int):
    """One backward pass at initialisation, plain vs residual (deterministic, so cached per settings)."""
    from resnet_viz.experiments import gradient_flow

    with forward_gate():
        return gradient_flow(arch, input_size=input_size, batch_size=batch_size, seed=seed)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_identity_at_init(arch: str, input_size: int, zero_init_residual: bool):
    """‖F(x)‖ of every block of a fresh ``arch`` on a batch of real images."""
    from resnet_viz.experiments import identity_at_init

    with forward_gate():
        return identity_at_init(arch, zero_init_residual=zero_init_residual, input_size=input_size)


@st.cache_resource
def training_slot() -> threading.BoundedSemaphore:
    """One live training run per server at a time: a class clicking "train" together would share 2 cores."""
    return threading.BoundedSemaphore(1)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_delete_block(folder: str, settings: dict, depth: int, name: str) -> dict:
    """Test errors of the shipped trained nets with block ``name`` deleted (fresh copies; nothing shared)."""
    from resnet_viz.experiments import TrainConfig, delete_block_experiment

    with forward_gate():
        return delete_block_experiment(folder, TrainConfig.from_dict(settings), depth, name)


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
    rewrites the palette of the grid already encoded for the same choices (see ``capture.recolor_png``)."""
    from resnet_viz.imaging.capture import recolor_png

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
    from resnet_viz.imaging.capture import grid_png

    return grid_png(
        _maps, mode=mode, cmap="viridis", k=k, global_range=_global_range, cols=cols, min_width=min_width
    )


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_layer_stats(capture_key: CaptureKey, layer: str, _maps):
    """Per channel mean, max and fraction of zeros of one captured layer ((C, 3) numpy), once per layer."""
    from resnet_viz.imaging.capture import layer_stats

    return layer_stats(_maps)
