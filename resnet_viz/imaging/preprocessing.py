"""The evaluation pipeline, one step at a time, for the page to show: resize, centre crop, scale, normalize.

Pure core: no Streamlit; torch and torchvision are imported when a picture is preprocessed, not with the module.
The result is a :class:`PreprocessSteps` record, read by attribute: the pictures of each step, the tensor the
network gets, and the numbers used (:class:`PreprocessSettings`, for the page's captions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from resnet_viz.architecture.catalogue import IMAGENET

if TYPE_CHECKING:
    import torch

    from resnet_viz.models.sources import Preprocessing


@dataclass(frozen=True)
class PreprocessSettings:
    """The numbers one run of the pipeline used (the page's captions print them)."""

    resize: int  # the shorter side after resizing
    crop: int  # the centre crop's side: the network's input size
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str  # torchvision's InterpolationMode value, e.g. "bilinear"
    original_size: tuple[int, int]  # (width, height) of the image given
    resized_size: tuple[int, int]  # (width, height) after resizing (computed even where not materialised)
    normalized_peak: float  # the largest |value| of the normalized tensor: black/white in the preview


@dataclass(frozen=True, eq=False)
class PreprocessSteps:
    """The pipeline's steps of one image: PIL pictures for the page, and the tensor for the network."""

    original: Image.Image  # the image given, in RGB
    resized: Image.Image  # shorter side resized (a 2048-px preview where the full one would be huge)
    cropped: Image.Image  # the centre crop the network sees
    #: The normalized tensor drawn so that mid-grey is 0, i.e. the training set's mean colour, and black/white
    #: are ∓ the largest |value|.
    normalized_preview: Image.Image
    tensor: torch.Tensor  # float32, (1, 3, crop, crop)
    settings: PreprocessSettings


# Above this many pixels, the intermediate "resized" image of the standard pipeline is not materialised (a 10000×8
# strip resized to a 256-pixel shorter side would be 320000×256 = 82 MP): the crop is cut from the original and
# resized directly, which is the same computation restricted to the pixels the crop keeps.
_RESIZED_PIXEL_BUDGET = 8_000_000
_PREVIEW_SIDE = 2048


def _resized_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) after resizing the shorter side to ``shorter``: torchvision's rule (int(), not round())."""
    if width <= height:
        return shorter, int(shorter * height / width)
    return int(shorter * width / height), shorter


def preprocess_steps(
    img: Image.Image,
    *,
    resize: int = 256,
    crop: int = 224,
    mean: Sequence[float] = IMAGENET.mean,
    std: Sequence[float] = IMAGENET.std,
    transforms: Any = None,
    interpolation: str = "bilinear",
) -> PreprocessSteps:
    """The classic evaluation pipeline, one step at a time, for the page to show.

    Resize the shorter side to ``resize`` (bilinear, antialiased), centre-crop ``crop`` × ``crop``, scale to [0, 1],
    normalize with ``mean``/``std``. With ``transforms=weights.transforms()`` (torchvision's ``ImageClassification``),
    its ``resize_size``, ``crop_size``, ``mean``, ``std`` and ``interpolation`` are used instead, so the page shows
    exactly what the pretrained weights expect (e.g. 232 → 224 for ResNet50 V2 weights). CIFAR nets: resize=32,
    crop=32 and the CIFAR statistics (``catalogue.CIFAR10``). :func:`preprocess` takes these numbers from a model
    source's :class:`~resnet_viz.models.sources.Preprocessing`.

    Returns the steps as a :class:`PreprocessSteps` record.
    """
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    from resnet_viz.models.sources import Preprocessing

    if transforms is not None:
        p = Preprocessing.from_transforms(transforms)
        resize, crop, mean, std, interpolation = p.resize, p.crop, p.mean, p.std, p.interpolation
    interpolation = InterpolationMode(interpolation)
    if resize < 1 or crop < 1:
        raise ValueError(f"resize and crop must be positive, got {resize} and {crop}")
    if img.mode != "RGB":
        img = img.convert("RGB")

    width, height = img.size
    new_w, new_h = _resized_size(width, height, resize)
    if new_w * new_h <= _RESIZED_PIXEL_BUDGET or crop > resize:
        resized = F.resize(img, [resize], interpolation=interpolation, antialias=True)
        cropped = F.center_crop(resized, [crop, crop])
    else:
        # Same geometry as resize-then-centre-crop (torchvision's crop offsets), computed on the original pixels.
        left = int(round((new_w - crop) / 2.0))
        top = int(round((new_h - crop) / 2.0))
        sx, sy = width / new_w, height / new_h
        box = (left * sx, top * sy, (left + crop) * sx, (top + crop) * sy)
        resample = Image.Resampling.BICUBIC if interpolation == InterpolationMode.BICUBIC else Image.BILINEAR
        cropped = img.resize((crop, crop), resample=resample, box=box)
        preview = img.copy()
        preview.thumbnail((_PREVIEW_SIDE, _PREVIEW_SIDE), Image.Resampling.BILINEAR)
        resized = preview

    tensor = F.to_dtype(F.to_image(cropped), torch.float32, scale=True)
    tensor = F.normalize(tensor, mean=list(mean), std=list(std)).as_subclass(torch.Tensor).unsqueeze(0)

    peak = float(tensor.abs().max()) or 1.0
    preview01 = (tensor[0] / (2 * peak) + 0.5).clamp(0, 1)
    preview_arr = (preview01.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return PreprocessSteps(
        original=img,
        resized=resized,
        cropped=cropped,
        normalized_preview=Image.fromarray(preview_arr, "RGB"),
        tensor=tensor.contiguous(),
        settings=PreprocessSettings(
            resize=resize,
            crop=crop,
            mean=tuple(mean),
            std=tuple(std),
            interpolation=str(getattr(interpolation, "value", interpolation)),
            original_size=(width, height),
            resized_size=(new_w, new_h),
            normalized_peak=peak,
        ),
    )


def preprocess(img: Image.Image, preprocessing: Preprocessing) -> PreprocessSteps:
    """:func:`preprocess_steps` with the numbers a model source asks for
    (:meth:`resnet_viz.models.sources.ModelSource.preprocessing`)."""
    p = preprocessing
    return preprocess_steps(
        img, resize=p.resize, crop=p.crop, mean=p.mean, std=p.std, interpolation=p.interpolation
    )
