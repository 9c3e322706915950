"""The ResNet → ConvNeXt page's caches: ResNet-50 under each cached torchvision weight set (shared, read-only,
two at most), and what each makes of a photo (keyed by the photo's hash)."""

from __future__ import annotations

import hashlib

import streamlit as st

from resnet_viz.imaging.recipes import RecipeReading
from resnet_viz.ui.process import forward_gate


@st.cache_resource(max_entries=2, show_spinner=False)
def recipe_model(arch: str, name: str):  # -> nn.Module (torch is imported only when a model is needed)
    from resnet_viz.models.weights import load_weights_file

    return load_weights_file(arch, name)


@st.cache_data(max_entries=8, show_spinner=False)
def _reading(arch: str, name: str, image_sha: str, _data: bytes) -> RecipeReading:
    from resnet_viz.imaging.images import load_image
    from resnet_viz.imaging.recipes import recipe_reading

    photo = load_image(_data)
    with forward_gate():
        return recipe_reading(recipe_model(arch, name), arch, name, photo)


def cached_recipe_reading(arch: str, name: str, data: bytes) -> RecipeReading:
    """The reading of ``data`` (an image file's bytes) under weight set ``name``; raises ``ImageError`` for a
    file that is not a usable image, ``WeightsError`` where the weights are not cached."""
    return _reading(arch, name, hashlib.sha256(data).hexdigest(), data)
