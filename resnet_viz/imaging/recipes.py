"""One photo under two training recipes of the same ResNet-50: torchvision's V1 and V2 weights, each with its own
evaluation preprocessing (``weights.transforms()``), their top-5 classes and the class activation map of the top
class (Zhou et al. 2016: with a global average pool and then fc, the class's logit is the mean of
Σ_c w[class, c]·A_c over the last stage's output A, plus the bias; :func:`resnet_viz.imaging.capture.capture`
computes it). No Streamlit, no download: the models come from the cache (:func:`resnet_viz.models.weights.
load_weights_file`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from torch import nn
from torchvision import models as tvm

from resnet_viz.imaging.capture import cam_heat, capture
from resnet_viz.imaging.preprocessing import preprocess
from resnet_viz.models.sources import Preprocessing

#: The weight sets compared: the same architecture, two recipes (oldest first).
RECIPES: tuple[str, ...] = ("IMAGENET1K_V1", "IMAGENET1K_V2")


@dataclass(frozen=True)
class RecipeReading:
    """What one weight set makes of one photo: the top-5 (class index, name, probability), the CAM of the top
    class scaled to 0..1 after ReLU, and the centre crop it saw (its own preprocessing's)."""

    weights: str
    top5: tuple[tuple[int, str, float], ...]
    cam: np.ndarray
    cropped: Image.Image


def recipe_reading(model: nn.Module, arch: str, name: str, photo: Image.Image) -> RecipeReading:
    """Run ``model`` (``arch`` with weight set ``name``) once on ``photo``, preprocessed as those weights ask."""
    w = tvm.get_model_weights(arch)[name]
    steps = preprocess(photo, Preprocessing.from_transforms(w.transforms()))
    cap = capture(model, steps.tensor)
    categories = w.meta["categories"]
    top5 = tuple((i, categories[i], p) for i, p in cap.top(5))
    return RecipeReading(f"{type(w).__name__}.{w.name}", top5, cam_heat(cap), steps.cropped)
