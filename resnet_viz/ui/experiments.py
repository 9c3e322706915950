"""The Why-residual page's caches (app_pages/why_residual.py and its sections).

Every experiment builds its own fresh models (:mod:`resnet_viz.experiments`), so nothing here touches a shared
model; results are plain dataclasses, keyed by plain values and bounded.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import streamlit as st

from resnet_viz.ui.process import forward_gate

#: The ImageNet networks' experiments at initialisation (identity, gradient flow) run at this input size, so that
#: one pass stays a second or two on a CPU; the CIFAR networks run at their own 32.
IMAGENET_MEASURE_SIZE = 64


def identity_input_size(arch: str) -> int:
    """The input size the identity-at-initialisation measurement of ``arch`` runs at (Why residual, the lesson)."""
    from resnet_viz.architecture.catalogue import get_spec

    spec = get_spec(arch)
    return spec.default_input if spec.family != "imagenet" else IMAGENET_MEASURE_SIZE


if TYPE_CHECKING:
    from resnet_viz.experiments.block_removal import BlockDeletion


@st.cache_data(max_entries=32, show_spinner=False)
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
def cached_delete_block(folder: str, settings: dict, depth: int, name: str) -> list[BlockDeletion]:
    """Test errors of the shipped trained nets with block ``name`` deleted (fresh copies; nothing shared)."""
    from resnet_viz.experiments import TrainConfig, delete_block_experiment

    with forward_gate():
        return delete_block_experiment(folder, TrainConfig.from_dict(settings), depth, name)


@st.cache_data(max_entries=4, show_spinner=False)
def cached_toy_sweep(norm: bool):
    """The shattered-gradients toy (Balduzzi et al. 2017) at the page's depths and seeds, BN on or off: seeded,
    so the same for every session."""
    from resnet_viz.experiments import shattered

    with forward_gate():
        return shattered.toy_sweep(norm=norm)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_path_sweep(image_key: str, trained: bool, _a, _b):
    """d(logit)/dα along the path from image ``_a`` to ``_b`` (named by ``image_key``, the bytes' hash), for
    plain/ResNet-20 and -56 at initialisation (every seed) or the shipped trained nets that exist."""
    from resnet_viz.experiments import shattered, shipped

    with forward_gate():
        if not trained:
            return shattered.path_sweep(_a, _b, nets=shattered.CIFAR_NETS)
        nets = [n.key for n in shipped.trained_nets()]
        return shattered.path_sweep(_a, _b, nets=nets, trained=True) if nets else None
