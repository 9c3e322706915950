"""The offline data set: generated images, so nothing is downloaded and no data file ships."""

from __future__ import annotations

import numpy as np
import torch

from resnet_viz.experiments.config import TEST_SEED_OFFSET, TrainConfig

#: Class ids of :func:`synthetic_shapes`, in label order (the page translates them).
SHAPE_CLASSES: tuple[str, ...] = (
    "disk",
    "square",
    "triangle",
    "plus",
    "ring",
    "diamond",
    "bar",
    "frame",
    "two_dots",
    "half_disk",
)

#: Fixed normalisation of the generated images (their pixel values are roughly uniform on [0, 1]).
_MEAN, _STD = 0.5, 0.3


def _shape_mask(cls: int, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Binary mask of shape class ``cls`` in the images' own rotated, scaled coordinates (u, v), radius r."""
    au, av = np.abs(u), np.abs(v)
    if cls == 0:  # disk
        return u * u + v * v < r * r
    if cls == 1:  # square
        return np.maximum(au, av) < 0.8 * r
    if cls == 2:  # triangle
        return (v > -0.5 * r) & (np.sqrt(3.0) * au + v < r)
    if cls == 3:  # plus
        return ((au < 0.28 * r) & (av < r)) | ((av < 0.28 * r) & (au < r))
    if cls == 4:  # ring
        rad2 = u * u + v * v
        return (rad2 > (0.55 * r) ** 2) & (rad2 < r * r)
    if cls == 5:  # diamond
        return au + av < r
    if cls == 6:  # bar
        return (au < r) & (av < 0.3 * r)
    if cls == 7:  # frame (hollow square)
        m = np.maximum(au, av)
        return (m < 0.85 * r) & (m > 0.5 * r)
    if cls == 8:  # two dots
        d2 = (0.38 * r) ** 2
        return ((u - 0.55 * r) ** 2 + v * v < d2) | ((u + 0.55 * r) ** 2 + v * v < d2)
    if cls == 9:  # half disk
        return (u * u + v * v < r * r) & (v > 0)
    raise ValueError(f"no shape class {cls}")


def synthetic_shapes(
    n: int, *, size: int = 32, seed: int = 0, noise: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of 10 shape classes (:data:`SHAPE_CLASSES`) at ``size``×``size``, and their labels.

    Each image is one shape at a random position, scale and rotation (±20°, so a square never turns into a
    diamond) in a light random tint on a darker, faintly striped background of random tint, with Gaussian pixel noise.
    Colour and texture carry no information about the class; the shape does. Labels are balanced. The same
    ``(n, size, seed, noise)`` always gives the same tensors. Returns normalised float32 ``(n, 3, size, size)``
    images and int64 labels.
    """
    if n < 1 or size < 8:
        raise ValueError("need n >= 1 images of size >= 8")
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.arange(n) % len(SHAPE_CLASSES))
    ys, xs = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    ys, xs = ys[None] / size - 0.5, xs[None] / size - 0.5  # image coordinates in [-0.5, 0.5]
    r = rng.uniform(0.22, 0.38, n)[:, None, None]
    cy, cx = (rng.uniform(-0.42, 0.42, (2, n)) * (0.5 - r[:, 0, 0]) / 0.5)[:, :, None, None]
    angle = np.deg2rad(rng.uniform(-20, 20, n))[:, None, None]
    dy, dx = ys - cy, xs - cx
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    mask = np.zeros(u.shape, dtype=bool)
    for cls in range(len(SHAPE_CLASSES)):
        sel = label == cls
        mask[sel] = _shape_mask(cls, u[sel], v[sel], r[sel])
    mask = mask[:, None]  # (N, 1, H, W)

    # Background: a sinusoidal grating of random orientation, frequency and phase between two random colours.
    theta = rng.uniform(0, np.pi, n)[:, None, None]
    freq = rng.uniform(2, 9, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(theta) * xs + np.sin(theta) * ys) + phase)
    # A light shape on a darker, faintly striped background, both in random tints: the shape is always visible,
    # the texture, tint and noise are distractions, and only the outline tells the class.
    bg_a = rng.uniform(0.0, 0.35, (n, 3, 1, 1))
    bg_b = np.clip(bg_a + rng.uniform(-0.15, 0.15, (n, 3, 1, 1)), 0, 1)
    fg = rng.uniform(0.6, 1.0, (n, 3, 1, 1))
    background = bg_a + (bg_b - bg_a) * grating[:, None]
    img = np.where(mask, fg, background) + rng.normal(0, noise, (n, 3, size, size))
    img = (np.clip(img, 0, 1) - _MEAN) / _STD
    return torch.from_numpy(img.astype(np.float32)), torch.from_numpy(label.astype(np.int64))


def make_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training and test sets of ``config`` (disjoint seeds, so no test image is a training image)."""
    x_train, y_train = synthetic_shapes(
        config.n_train, size=config.image_size, seed=config.seed, noise=config.noise
    )
    x_test, y_test = synthetic_shapes(
        config.n_test, size=config.image_size, seed=config.seed + TEST_SEED_OFFSET, noise=config.noise
    )
    return x_train, y_train, x_test, y_test


def test_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The test set of ``config`` alone (the same images :func:`make_data` gives)."""
    return synthetic_shapes(
        config.n_test, size=config.image_size, seed=config.seed + TEST_SEED_OFFSET, noise=config.noise
    )
