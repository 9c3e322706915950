"""The offline data set: generated images, so nothing is downloaded and no data file ships."""

from __future__ import annotations

import numpy as np
import torch

from resnet_viz.experiments.config import DATASETS, TEST_SEED_OFFSET, TrainConfig

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


assert DATASETS == {"shapes": len(SHAPE_CLASSES), "pairs": 2 * len(SHAPE_CLASSES)}


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
    ys, xs = _grid(size)
    r = rng.uniform(0.22, 0.38, n)
    cy, cx = rng.uniform(-0.42, 0.42, (2, n)) * (0.5 - r) / 0.5
    angle = np.deg2rad(rng.uniform(-20, 20, n))
    mask = _masks(label, r, cy, cx, angle, xs, ys)[:, None]  # (N, 1, H, W)

    # A light shape on a darker, faintly striped background, both in random tints: the shape is always visible,
    # the texture, tint and noise are distractions, and only the outline tells the class.
    background = _background(rng, n, xs, ys)
    fg = rng.uniform(0.6, 1.0, (n, 3, 1, 1))
    img = np.where(mask, fg, background) + rng.normal(0, noise, (n, 3, size, size))
    img = (np.clip(img, 0, 1) - _MEAN) / _STD
    return torch.from_numpy(img.astype(np.float32)), torch.from_numpy(label.astype(np.int64))


#: Class ids of :func:`shape_pairs`: the large shape, and whether the small one is the same shape (``_pair``).
PAIR_CLASSES: tuple[str, ...] = SHAPE_CLASSES + tuple(f"{name}_pair" for name in SHAPE_CLASSES)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (1, size, size) in [-0.5, 0.5]: rows (y) and columns (x)."""
    ys, xs = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    return ys[None] / size - 0.5, xs[None] / size - 0.5


def _background(rng: np.random.Generator, n: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """A sinusoidal grating of random orientation, frequency and phase between two dark random tints."""
    theta = rng.uniform(0, np.pi, n)[:, None, None]
    freq = rng.uniform(2, 9, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(theta) * xs + np.sin(theta) * ys) + phase)
    bg_a = rng.uniform(0.0, 0.35, (n, 3, 1, 1))
    bg_b = np.clip(bg_a + rng.uniform(-0.15, 0.15, (n, 3, 1, 1)), 0, 1)
    return bg_a + (bg_b - bg_a) * grating[:, None]


def _masks(kinds: np.ndarray, r: np.ndarray, cy: np.ndarray, cx: np.ndarray, angle: np.ndarray, xs, ys):
    """(N, H, W) masks of shape ``kinds[i]`` with radius ``r[i]`` centred at (cy, cx), rotated by ``angle``."""
    r, cy, cx, angle = (a[:, None, None] for a in (r, cy, cx, angle))
    dy, dx = ys - cy, xs - cx
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    mask = np.zeros(u.shape, dtype=bool)
    for cls in range(len(SHAPE_CLASSES)):
        sel = kinds == cls
        mask[sel] = _shape_mask(cls, u[sel], v[sel], r[sel])
    return mask


def shape_pairs(
    n: int, *, size: int = 32, seed: int = 0, noise: float = 0.1, strokes: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of a relational task with 20 classes (:data:`PAIR_CLASSES`), and their labels.

    Each image holds two shapes of the 10 kinds of :func:`synthetic_shapes`, apart, in independent light tints: a
    large one and a small one. The class is the large shape's kind (0–9), plus 10 when the small shape is of the
    same kind. So the label needs the outline of both objects and a comparison between them, across the image:
    features that only a large receptive field, i.e. depth, can combine. Up to ``strokes`` random thin lines
    of random tint cross the image on top (clutter and occlusion), over a striped background, with Gaussian
    noise. Labels are balanced; the same arguments always give the same tensors. Returns normalised float32
    ``(n, 3, size, size)`` images and int64 labels.
    """
    if n < 1 or size < 16:
        raise ValueError("need n >= 1 images of size >= 16")
    k = len(SHAPE_CLASSES)
    label = np.random.default_rng(seed).permutation(np.arange(n) % (2 * k))
    # Drawn in chunks of _CHUNK images, each from its own stream (seed, chunk): memory stays small for any n.
    chunks = [
        _pairs_chunk(label[i : i + _CHUNK], np.random.default_rng([seed, i // _CHUNK]), size, noise, strokes)
        for i in range(0, n, _CHUNK)
    ]
    img = np.concatenate(chunks)
    return torch.from_numpy(img), torch.from_numpy(label.astype(np.int64))


_CHUNK = 1000


def _pairs_chunk(
    label: np.ndarray, rng: np.random.Generator, size: int, noise: float, strokes: int
) -> np.ndarray:
    """The normalised float32 images of :func:`shape_pairs` for these labels."""
    k = len(SHAPE_CLASSES)
    n = len(label)
    big, same = label % k, label >= k
    small = np.where(same, big, (big + rng.integers(1, k, n)) % k)  # a different kind, uniformly
    ys, xs = _grid(size)
    r_big = rng.uniform(0.19, 0.26, n)
    r_small = rng.uniform(0.13, 0.16, n)
    # Centres: the large shape anywhere it fits, the small one on a random bearing, far enough that they never
    # overlap (no outline reaches beyond 1.2 r from its centre: the frame's corners are the farthest).
    c_big = rng.uniform(-1, 1, (2, n)) * (0.5 - r_big)
    tries = 16
    bearing = rng.uniform(0, 2 * np.pi, (tries, n))
    dist = (1.2 * (r_big + r_small) + 0.02)[None] * rng.uniform(1.0, 1.5, (tries, n))
    cand = c_big[:, None] + dist[None] * np.stack([np.sin(bearing), np.cos(bearing)])
    fits = (np.abs(cand) <= (0.5 - r_small)[None, None]).all(axis=0)  # (tries, n)
    first = np.where(fits.any(axis=0), fits.argmax(axis=0), 0)
    c_small = cand[:, first, np.arange(n)]
    # Never placed? Put it in the opposite corner (always fits, and apart for these radii).
    lost = ~fits.any(axis=0)
    c_small[:, lost] = -np.sign(c_big[:, lost] + 1e-9) * (0.5 - r_small[lost])
    angle = np.deg2rad(rng.uniform(-20, 20, (2, n)))
    m_big = _masks(big, r_big, c_big[0], c_big[1], angle[0], xs, ys)[:, None]
    m_small = _masks(small, r_small, c_small[0], c_small[1], angle[1], xs, ys)[:, None]
    img = _background(rng, n, xs, ys)
    img = np.where(m_big, rng.uniform(0.6, 1.0, (n, 3, 1, 1)), img)
    img = np.where(m_small, rng.uniform(0.6, 1.0, (n, 3, 1, 1)), img)
    # Clutter and occlusion: thin straight strokes (about 1.3 pixels wide) through random points.
    n_strokes = rng.integers(0, strokes + 1, n)
    for j in range(strokes):
        theta = rng.uniform(0, np.pi, n)[:, None, None]
        p = rng.uniform(-0.5, 0.5, (2, n))[:, :, None, None]
        dist_line = np.abs(np.cos(theta) * (ys - p[0]) - np.sin(theta) * (xs - p[1]))
        on = (dist_line < 0.65 / size) & (j < n_strokes)[:, None, None]
        img = np.where(on[:, None], rng.uniform(0.3, 1.0, (n, 3, 1, 1)), img)
    img = img + rng.normal(0, noise, (n, 3, size, size))
    return ((np.clip(img, 0, 1) - _MEAN) / _STD).astype(np.float32)


def generate(
    dataset: str, n: int, *, size: int, seed: int, noise: float, strokes: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of the named data set (``"shapes"``: :func:`synthetic_shapes`, ``"pairs"``: :func:`shape_pairs`)."""
    if dataset == "shapes":
        return synthetic_shapes(n, size=size, seed=seed, noise=noise)
    if dataset == "pairs":
        return shape_pairs(n, size=size, seed=seed, noise=noise, strokes=strokes)
    raise ValueError(f"no data set {dataset!r}; known: {', '.join(DATASETS)}")


def make_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training and test sets of ``config`` (disjoint seeds, so no test image is a training image)."""
    x_train, y_train = generate(
        config.dataset,
        config.n_train,
        size=config.image_size,
        seed=config.seed,
        noise=config.noise,
        strokes=config.strokes,
    )
    x_test, y_test = test_data(config)
    return x_train, y_train, x_test, y_test


def test_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The test set of ``config`` alone (the same images :func:`make_data` gives)."""
    return generate(
        config.dataset,
        config.n_test,
        size=config.image_size,
        seed=config.seed + TEST_SEED_OFFSET,
        noise=config.noise,
        strokes=config.strokes,
    )
