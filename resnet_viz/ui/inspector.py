"""The inspector's caches (app_pages/sections/inspector.py, "Look inside one value"), and the budget of its
requests.

A layer's record is one forward pass up to it, kept per (capture, layer), so picking another position runs no
network at all; gradients (effective receptive field, Grad-CAM) are w.r.t. the input or a feature map only, never
the weights. Each is estimated from the trace before it runs (``resnet_viz.memory``) and refused above
``$RESNET_VIZ_REQUEST_MB`` (:func:`record_fit`, :func:`erf_fit`, :func:`sanity_fit`: the page shows why and the
largest input size at which it would run). The results are kept in byte-bounded stores
(``ui.feature_maps.cache_store``, ``$RESNET_VIZ_CACHE_MB`` each).
"""

from __future__ import annotations

import torch

from resnet_viz import memory
from resnet_viz.architecture.trace import trace
from resnet_viz.ui.feature_maps import (
    _HASH_FUNCS,
    _PROCESS,
    CaptureKey,
    Fit,
    RequestTooLarge,
    cache_store,
    model_store,
    request_budget,
    session_owner,
)
from resnet_viz.ui.process import forward_gate


def _arch(key: CaptureKey) -> tuple[str, bool, str]:
    return key.source.arch, key.source.plain, key.source.stride_in


def _fit(need: int, size: int, fitting) -> Fit:
    budget = request_budget()
    if need <= budget:
        return Fit(size, size, need, budget)
    return Fit(size, fitting(budget), need, budget)


def record_fit(key: CaptureKey, layer: str, size: int) -> Fit:
    """Whether ``layer``'s record at a ``size``×``size`` input is within the request budget; when it is not,
    ``Fit.size`` is the largest input size at which it would be (None: none)."""
    arch, plain, stride_in = _arch(key)
    need = memory.record_bytes(trace(arch, size, plain=plain, stride_in=stride_in), layer)
    return _fit(need, size, lambda b: memory.fitting_record_size(arch, plain, stride_in, layer, size, b))


def erf_fit(key: CaptureKey, layer: str, size: int, model: torch.nn.Module) -> Fit:
    """:func:`record_fit` for the effective receptive field of ``layer`` (a backward pass: every activation on
    the way, and the folded weights it makes for ``model``)."""
    from resnet_viz.imaging.explain.receptive import folded_weight_bytes

    arch, plain, stride_in = _arch(key)
    weights = folded_weight_bytes(model)
    need = memory.erf_bytes(trace(arch, size, plain=plain, stride_in=stride_in), layer, weights)
    return _fit(
        need, size, lambda b: memory.fitting_erf_size(arch, plain, stride_in, layer, weights, size, b)
    )


def sanity_fit(key: CaptureKey, stage: str, size: int) -> Fit:
    """:func:`record_fit` for the Grad-CAM sanity check at ``stage`` (a stage's or block's output)."""
    arch, plain, stride_in = _arch(key)
    need = memory.gradcam_bytes(trace(arch, size, plain=plain, stride_in=stride_in), stage)
    return _fit(need, size, lambda b: memory.fitting_gradcam_size(arch, plain, stride_in, stage, size, b))


def _checked(fit: Fit, what: str) -> None:
    if fit.size != fit.requested:
        raise RequestTooLarge(f"{what} needs ~{fit.need >> 20} MB, over {fit.budget >> 20}")


def _tensor(array) -> torch.Tensor:
    from resnet_viz.imaging.capture import read_only_tensor

    return read_only_tensor(array)  # the prepared image is shared and read-only; these passes only read it


def cached_record(capture_key: CaptureKey, layer: str, _model, _tensor_array):
    """The float32 record of ``layer`` for one capture (shared read-only: nothing ever writes into it)."""
    from resnet_viz.imaging.explain import record_layer

    _checked(record_fit(capture_key, layer, int(_tensor_array.shape[-1])), f"the record of {layer}")

    def make():
        with forward_gate():
            try:
                return record_layer(_model, _tensor(_tensor_array), layer)
            finally:
                memory.trim()

    key = (_HASH_FUNCS[CaptureKey](capture_key), layer)
    return cache_store("record").get(key, session_owner(), make)


def cached_erf(capture_key: CaptureKey, layer: str, channel: int, row: int, col: int, _model, _tensor_array):
    """|∂y/∂input| of one activation ((H, W) numpy): one forward and one input-only backward pass."""
    from resnet_viz.imaging.explain import effective_rf

    size = int(_tensor_array.shape[-1])
    _checked(erf_fit(capture_key, layer, size, _model), f"the receptive field of {layer}")

    def make():
        with forward_gate():
            try:
                return effective_rf(_model, _tensor(_tensor_array), layer, channel, row, col)
            finally:
                memory.trim()

    key = (_HASH_FUNCS[CaptureKey](capture_key), layer, channel, row, col)
    return cache_store("erf").get(key, session_owner(), make)


def randomized_model(
    arch: str, plain: bool, stride_in: str, num_classes: int, device_name: str
) -> torch.nn.Module:
    """The sanity check's network: ``arch`` freshly initialised under its own seed (not the "random weights"
    seed, so even random weights are compared with *other* random weights); shared, never changed; kept with the
    other shared networks (``ui.feature_maps.model_store``), bounded by bytes."""
    from resnet_viz.imaging.explain import SANITY_SEED, randomized_like
    from resnet_viz.models import build_model

    def make() -> torch.nn.Module:
        model = randomized_like(
            lambda: build_model(arch, plain=plain, stride_in=stride_in, num_classes=num_classes), SANITY_SEED
        )
        return model.to(torch.device(device_name)).eval()

    key = ("randomized", arch, plain, stride_in, int(num_classes), device_name)
    return model_store().get(key, _PROCESS, make)


def cached_sanity_check(capture_key: CaptureKey, stage: str, _model, _random_model, _tensor_array):
    """Grad-CAM at ``stage`` for the top class, with the trained and the randomised weights, and their ρ."""
    from resnet_viz.imaging.explain import sanity_check

    _checked(sanity_fit(capture_key, stage, int(_tensor_array.shape[-1])), f"Grad-CAM at {stage}")

    def make():
        with forward_gate():
            try:
                return sanity_check(_model, _random_model, _tensor(_tensor_array), stage)
            finally:
                memory.trim()

    key = (_HASH_FUNCS[CaptureKey](capture_key), stage)
    return cache_store("sanity").get(key, session_owner(), make)
