"""The inspector's caches (app_pages/sections/inspector.py, "Look inside one value").

A layer's record is one forward pass up to it, cached per (capture, layer), so picking another position runs no
network at all; gradients (effective receptive field, Grad-CAM) are w.r.t. the input or a feature map only, never
the weights.
"""

from __future__ import annotations

import streamlit as st
import torch

from resnet_viz.ui.feature_maps import _HASH_FUNCS, CaptureKey
from resnet_viz.ui.process import forward_gate


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_record(capture_key: CaptureKey, layer: str, _model, _tensor):
    """The float32 record of ``layer`` for one capture (shared read-only: nothing ever writes into it)."""
    from resnet_viz.imaging.explain import record_layer

    with forward_gate():
        return record_layer(_model, torch.from_numpy(_tensor), layer)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_erf(capture_key: CaptureKey, layer: str, channel: int, row: int, col: int, _model, _tensor):
    """|∂y/∂input| of one activation ((H, W) numpy): one forward and one input-only backward pass."""
    from resnet_viz.imaging.explain import effective_rf

    with forward_gate():
        return effective_rf(_model, torch.from_numpy(_tensor), layer, channel, row, col)


@st.cache_resource(max_entries=4, show_spinner=False)
def randomized_model(
    arch: str, plain: bool, stride_in: str, num_classes: int, device_name: str
) -> torch.nn.Module:
    """The sanity check's network: ``arch`` freshly initialised under its own seed (not the "random weights"
    seed, so even random weights are compared with *other* random weights); shared, never changed."""
    from resnet_viz.imaging.explain import SANITY_SEED, randomized_like
    from resnet_viz.models import build_model

    model = randomized_like(
        lambda: build_model(arch, plain=plain, stride_in=stride_in, num_classes=num_classes), SANITY_SEED
    )
    return model.to(torch.device(device_name)).eval()


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=_HASH_FUNCS)
def cached_sanity_check(capture_key: CaptureKey, stage: str, _model, _random_model, _tensor):
    """Grad-CAM at ``stage`` for the top class, with the trained and the randomised weights, and their ρ."""
    from resnet_viz.imaging.explain import sanity_check

    with forward_gate():
        return sanity_check(_model, _random_model, torch.from_numpy(_tensor), stage)
