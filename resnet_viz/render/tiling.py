"""Feature maps → one picture: normalize, pick channels, tile into a grid, colour, encode.

Pure numpy + Pillow, no Streamlit, no torch. One image per layer (not one chart per channel): 64 plotly heatmaps of
112×112 serialise to ~4.7 MB of JSON, the same maps as one PNG grid to a few hundred KB. The tiling is the few
lines of numpy lovely-tensors uses (pad, reshape, transpose); a library for it would be heavier than the code.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import Literal

import numpy as np
from PIL import Image

NormalizeMode = Literal["channel", "layer", "global"]
NORMALIZE_MODES: tuple[str, ...] = ("channel", "layer", "global")

# The most channels one grid shows (the k most active ones beyond it). 64 tiles of 112×112 is one ~900-pixel
# square image of a few hundred KB: light enough for a page projected to a class and opened by 40 laptops.
MAX_GRID_CHANNELS: int = 64

# Colormaps as 256-entry lookup tables, interpolated linearly between anchor colours. matplotlib would give these
# in one call, but it is a 40 MB dependency for four tables; 11 anchors sampled evenly from the published maps
# (matplotlib's viridis and magma, ColorBrewer's RdBu) reproduce them to within a few levels per channel, which is
# invisible on a feature map.
_ANCHORS: dict[str, tuple[str, ...]] = {
    "viridis": (
        "#440154",
        "#482475",
        "#414487",
        "#355f8d",
        "#2a788e",
        "#21918c",
        "#22a884",
        "#44bf70",
        "#7ad151",
        "#bddf26",
        "#fde725",
    ),  # fmt: skip
    "magma": (
        "#000004",
        "#140e36",
        "#3b0f70",
        "#641a80",
        "#8c2981",
        "#b73779",
        "#de4968",
        "#f7705c",
        "#fe9f6d",
        "#fecf92",
        "#fcfdbf",
    ),  # fmt: skip
    "gray": ("#000000", "#ffffff"),
    # Diverging, as matplotlib's "RdBu": 0 → dark red, 0.5 → near white, 1 → dark blue. Use it with
    # normalize(..., symmetric=True) so that 0.5 is an activation of exactly 0.
    "RdBu": (
        "#67001f",
        "#b2182b",
        "#d6604d",
        "#f4a582",
        "#fddbc7",
        "#f7f7f7",
        "#d1e5f0",
        "#92c5de",
        "#4393c3",
        "#2166ac",
        "#053061",
    ),  # fmt: skip
}
CMAPS: tuple[str, ...] = tuple(_ANCHORS)


def _build_lut(anchors: tuple[str, ...], levels: int = 256) -> np.ndarray:
    rgb = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in anchors], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    levels = np.linspace(0.0, 1.0, levels)
    lut = np.stack([np.interp(levels, positions, rgb[:, c]) for c in range(3)], axis=1)
    return np.clip(np.rint(lut), 0, 255).astype(np.uint8)


_LUTS: dict[str, np.ndarray] = {name: _build_lut(anchors) for name, anchors in _ANCHORS.items()}


def colormap_lut(cmap: str) -> np.ndarray:
    """The (256, 3) uint8 lookup table of a colormap (for a legend or a palette PNG)."""
    try:
        return _LUTS[cmap]
    except KeyError:
        raise ValueError(f"unknown colormap {cmap!r}; choose one of {', '.join(CMAPS)}") from None


def normalize(
    maps: np.ndarray,
    mode: NormalizeMode = "channel",
    global_range: tuple[float, float] | None = None,
    *,
    symmetric: bool = False,
) -> np.ndarray:
    """Map activations (C, H, W) to [0, 1] for display, as CNN Explainer offers.

    * ``"channel"``: each channel stretched over its own min..max: every channel's pattern is visible, but a
      channel that barely fires looks as bright as the strongest.
    * ``"layer"``: one min..max for the whole layer: channels compare with each other.
    * ``"global"``: one range for the whole network (``global_range=(lo, hi)``, e.g. over every captured layer):
      layers compare with each other; deep layers with large activations stand out.

    ``symmetric=True`` uses ±max|x| instead of min..max, so 0 lands on 0.5 (for a diverging colormap and for maps
    before a ReLU, such as the residual branch F(x)). A constant channel/layer maps to 0 (or 0.5 if symmetric).
    """
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (C, H, W), got {maps.shape}")
    x = np.asarray(maps, dtype=np.float32)
    if not np.isfinite(x).all():  # checked first: the copy nan_to_num makes costs more than the check
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if mode == "channel":
        if symmetric:
            peak = np.abs(x).max(axis=(1, 2), keepdims=True)
            lo, hi = -peak, peak
        else:
            lo = x.min(axis=(1, 2), keepdims=True)
            hi = x.max(axis=(1, 2), keepdims=True)
    elif mode == "layer":
        if symmetric:
            peak = float(np.abs(x).max()) if x.size else 0.0
            lo, hi = -peak, peak
        else:
            lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    elif mode == "global":
        if global_range is None:
            raise ValueError('normalize(mode="global") needs global_range=(lo, hi) over the whole network')
        lo, hi = float(global_range[0]), float(global_range[1])
        if symmetric:
            peak = max(abs(lo), abs(hi))
            lo, hi = -peak, peak
    else:
        raise ValueError(f"unknown normalization {mode!r}; choose one of {', '.join(NORMALIZE_MODES)}")
    lo_arr = np.asarray(lo, dtype=np.float32)
    span = np.asarray(hi, dtype=np.float32) - lo_arr
    # A flat channel/layer (span 0) has no pattern: it maps to 0, or to the middle when symmetric. Done with the
    # per-channel factors (scale 0, offset 0 or 0.5) rather than a full-size np.where pass: this runs on every
    # display change.
    flat = span <= 0
    scale = np.where(flat, np.float32(0.0), np.float32(1.0) / np.where(flat, np.float32(1.0), span))
    offset = np.where(flat, np.float32(0.5 if symmetric else 0.0), np.float32(0.0)).astype(np.float32)
    out = x - lo_arr
    out *= scale.astype(np.float32)
    out += offset
    return np.clip(out, 0.0, 1.0, out=out)


def value_range(maps: np.ndarray) -> tuple[float, float]:
    """(min, max) of one layer's maps: fold these over all layers to get ``global_range``."""
    x = np.asarray(maps)
    if x.size == 0:
        return 0.0, 0.0
    return float(np.nanmin(x)), float(np.nanmax(x))


def normalize_channels(
    maps: np.ndarray,
    index: np.ndarray | list[int],
    mode: NormalizeMode = "channel",
    global_range: tuple[float, float] | None = None,
    *,
    symmetric: bool = False,
) -> np.ndarray:
    """Some channels of a layer (``maps[index]``) mapped to [0, 1] as the whole layer is shown: the one place
    that decides what a normalization mode means for a subset. ``"layer"`` uses the range of the whole layer,
    not just of the channels picked, so a channel looks the same in the grid and on its own."""
    picked = maps[np.asarray(index, dtype=np.int64)]
    if mode == "layer":
        return normalize(picked, "global", value_range(maps), symmetric=symmetric)
    return normalize(picked, mode, global_range, symmetric=symmetric)


def top_channels(maps: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` channels with the highest mean activation, highest first; ties keep channel order."""
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (C, H, W), got {maps.shape}")
    means = np.nan_to_num(maps.astype(np.float64, copy=False).mean(axis=(1, 2)), nan=-np.inf)
    order = np.argsort(-means, kind="stable")
    return order[: max(0, min(int(k), maps.shape[0]))].astype(np.int64)


def grid_shape(n: int, cols: int | None = None) -> tuple[int, int]:
    """(rows, cols) of the grid for ``n`` tiles: about square unless ``cols`` is given."""
    if n <= 0:
        return 0, 0
    cols = max(1, min(int(cols), n)) if cols else math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def tile(
    maps: np.ndarray,
    *,
    cols: int | None = None,
    pad: int = 1,
    pad_value: float = 1.0,
) -> np.ndarray:
    """Tile N maps (N, H, W) — or N colour images (N, H, W, 3) — into one (H', W'[, 3]) grid, row by row.

    Tiles are separated by ``pad`` pixels of ``pad_value`` (white by default, for maps in [0, 1]; pass 255 for
    uint8 colour tiles); the grid has no outer border. Missing tiles in the last row are filled with ``pad_value``.
    """
    arr = np.asarray(maps)
    if arr.ndim not in (3, 4):
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) maps, got shape {arr.shape}")
    n, h, w = arr.shape[:3]
    if n == 0:
        raise ValueError("nothing to tile: zero maps")
    if pad < 0:
        raise ValueError(f"pad must be ≥ 0, got {pad}")
    rows, cols = grid_shape(n, cols)
    extra = rows * cols - n
    widths = [(0, extra), (0, pad), (0, pad)] + [(0, 0)] * (arr.ndim - 3)
    padded = np.pad(arr, widths, mode="constant", constant_values=np.asarray(pad_value).astype(arr.dtype))
    th, tw = h + pad, w + pad
    trailing = arr.shape[3:]
    grid = (
        padded.reshape(rows, cols, th, tw, *trailing).swapaxes(1, 2).reshape(rows * th, cols * tw, *trailing)
    )
    if pad:
        grid = grid[:-pad, :-pad]
    return np.ascontiguousarray(grid)


def colorize(gray01: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Values in [0, 1] of any shape (…) → uint8 colours (…, 3) through a 256-level lookup table."""
    lut = colormap_lut(cmap)
    levels = np.clip(np.nan_to_num(np.asarray(gray01, dtype=np.float32), nan=0.0), 0.0, 1.0)
    index = (levels * 255.0 + 0.5).astype(np.uint8)
    return lut[index]


def encode_png(
    rgb: np.ndarray | Image.Image, *, compress_level: int = 1, compress_type: int | None = None
) -> bytes:
    """PNG bytes of an (H, W, 3) or (H, W) uint8 array (or a PIL image).

    ``compress_level=1``: zlib's fastest level. On a 64-channel conv1 grid it is several times faster than the
    default level 6 for a file only ~15 % larger (see benchmarks/bench_tiling.py): the page re-encodes on every
    display change, so time matters more than bytes. (For colormapped grids, :func:`render_grid_png` writes a
    palette PNG, which is faster and smaller still.) PNG rather than JPEG because JPEG smears the sharp one-pixel
    tile borders and the flat zero regions that a ReLU map is made of.
    """
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.ascontiguousarray(rgb))
    buffer = io.BytesIO()
    options = {} if compress_type is None else {"compress_type": compress_type}
    img.save(buffer, format="PNG", compress_level=compress_level, **options)
    return buffer.getvalue()


def upscale_nearest(img: np.ndarray | Image.Image, factor: int) -> np.ndarray | Image.Image:
    """Enlarge by an integer ``factor`` with square pixels (no smoothing: one activation stays one block)."""
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be ≥ 1, got {factor}")
    if isinstance(img, Image.Image):
        return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)
    arr = np.asarray(img)
    if factor == 1:
        return arr
    return np.repeat(np.repeat(arr, factor, axis=0), factor, axis=1)


def channel_stats(maps: np.ndarray) -> list[dict[str, float | int]]:
    """Per channel: mean, max, min and the fraction of values ≤ 0 (after a ReLU: the fraction of exact zeros)."""
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (C, H, W), got {maps.shape}")
    flat = maps.reshape(maps.shape[0], -1).astype(np.float64, copy=False)
    if flat.shape[1] == 0:
        return [
            {"channel": c, "mean": 0.0, "max": 0.0, "min": 0.0, "zero_fraction": 0.0}
            for c in range(len(flat))
        ]
    means, maxs, mins = flat.mean(axis=1), flat.max(axis=1), flat.min(axis=1)
    zeros = (flat <= 0).mean(axis=1)
    return [
        {
            "channel": c,
            "mean": float(means[c]),
            "max": float(maxs[c]),
            "min": float(mins[c]),
            "zero_fraction": float(zeros[c]),
        }
        for c in range(flat.shape[0])
    ]


def overlay(
    base_rgb: Image.Image,
    heat01: np.ndarray,
    alpha: float = 0.5,
    cmap: str = "magma",
) -> Image.Image:
    """A heat map (h, w) in [0, 1], resized bilinearly to the image and coloured, blended over it (CAM, one channel)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = np.nan_to_num(np.asarray(heat01, dtype=np.float32), nan=0.0)
    if heat.ndim != 2:
        raise ValueError(f"expected a 2-D heat map, got shape {heat.shape}")
    base = base_rgb.convert("RGB")
    # Resize in float ("F" mode) so a 7×7 CAM is interpolated smoothly, not in 256 coarse steps.
    big = np.asarray(Image.fromarray(heat, "F").resize(base.size, Image.Resampling.BILINEAR))
    colour = Image.fromarray(colorize(big, cmap), "RGB")
    return Image.blend(base, colour, alpha)


def tile_scale(tile_hw: tuple[int, int], target: int = 96) -> int:
    """The integer enlargement that brings a tile's longer side to about ``target`` pixels (1 for large maps)."""
    return max(1, target // max(1, max(tile_hw)))


def scale_for_width(n: int, tile_w: int, min_width: int, *, cols: int | None = None, pad: int = 1) -> int:
    """The smallest integer tile enlargement that makes a grid of ``n`` tiles at least ``min_width`` pixels wide."""
    _, cols = grid_shape(n, cols)
    if cols == 0 or tile_w <= 0:
        return 1
    return max(1, math.ceil((min_width - (cols - 1) * pad) / (cols * tile_w)))


def _prepare(
    maps: np.ndarray,
    mode: NormalizeMode,
    k: int | None,
    global_range: tuple[float, float] | None,
    symmetric: bool,
    scale: int,
    min_width: int = 0,
    cols: int | None = None,
    pad: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the channels to show and map them to [0, 1]: (maps01 (N, H, W), channel index per tile)."""
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise ValueError(f"expected maps of shape (C, H, W) with C ≥ 1, got {maps.shape}")
    limit = MAX_GRID_CHANNELS if k is None else max(1, min(int(k), MAX_GRID_CHANNELS))
    if maps.shape[0] > limit or k is not None:
        index = top_channels(maps, limit)
    else:
        index = np.arange(maps.shape[0], dtype=np.int64)
    shown = normalize_channels(maps, index, mode, global_range, symmetric=symmetric)
    if min_width:
        scale = max(scale, scale_for_width(len(index), maps.shape[2], min_width, cols=cols, pad=pad))
    if scale > 1:
        shown = np.repeat(np.repeat(shown, scale, axis=1), scale, axis=2)
    return shown, index


def render_grid(
    maps: np.ndarray,
    *,
    mode: NormalizeMode = "channel",
    cmap: str = "viridis",
    k: int | None = None,
    global_range: tuple[float, float] | None = None,
    symmetric: bool = False,
    cols: int | None = None,
    pad: int = 1,
    scale: int = 1,
    min_width: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The whole display path for one layer: (RGB grid uint8, the channel index shown in each tile).

    Shows the ``k`` most active channels (all when ``k`` is None), never more than :data:`MAX_GRID_CHANNELS`;
    when channels are dropped, the most active are kept. ``"layer"`` normalization uses the whole layer's range
    even when only some channels are shown. Tiles are coloured first and then tiled, so the separators stay white.
    ``scale`` enlarges each tile (nearest neighbour) first: 7×7 maps of layer4 need it to be seen; ``min_width``
    picks the smallest such enlargement that makes the grid at least that many pixels wide (separators stay 1 px).
    """
    shown, index = _prepare(maps, mode, k, global_range, symmetric, scale, min_width, cols, pad)
    grid = tile(colorize(shown, cmap), cols=cols, pad=pad, pad_value=255)
    return grid, index


# In the palette PNG, levels 0..254 carry the colormap and index 255 is the white separator.
_PAD_INDEX = 255


def palette_bytes(cmap: str) -> bytes:
    """The 256-entry palette of a grid PNG: the colormap in indices 0..254, white (the separator) at 255."""
    lut = _build_lut(_ANCHORS[cmap], levels=_PAD_INDEX) if cmap in _ANCHORS else colormap_lut(cmap)
    return lut.tobytes() + bytes((255, 255, 255))


def render_grid_png(
    maps: np.ndarray,
    *,
    mode: NormalizeMode = "channel",
    cmap: str = "viridis",
    k: int | None = None,
    global_range: tuple[float, float] | None = None,
    symmetric: bool = False,
    cols: int | None = None,
    pad: int = 1,
    scale: int = 1,
    min_width: int = 0,
    compress_level: int = 1,
) -> tuple[bytes, np.ndarray]:
    """Like :func:`render_grid` but straight to PNG bytes (for ``st.image(png, output_format="PNG")`` and the
    download button): (PNG bytes, channel index per tile).

    A colormapped grid has at most 256 colours, so it is written as a palette PNG: one byte per pixel instead of
    three, with the colormap as the palette. The colours are the same (255 levels instead of 256); encoding is ~5×
    faster and the file ~2× smaller than the RGB PNG (benchmarks/bench_tiling.py measures both).
    """
    shown, index = _prepare(maps, mode, k, global_range, symmetric, scale, min_width, cols, pad)
    levels = (shown * (_PAD_INDEX - 1) + 0.5).astype(np.uint8)
    grid = tile(levels, cols=cols, pad=pad, pad_value=_PAD_INDEX)
    img = Image.fromarray(grid, "P")
    img.putpalette(palette_bytes(cmap))
    # zlib's run-length strategy: ReLU maps are long runs of zeros; measured faster and smaller than the default
    # strategy at level 1 on conv1 grids (benchmarks/bench_tiling.py).
    return encode_png(img, compress_level=compress_level, compress_type=zlib.Z_RLE), index


def grid_png(
    maps: np.ndarray,
    *,
    mode: NormalizeMode = "channel",
    cmap: str = "viridis",
    k: int | None = None,
    global_range: tuple[float, float] | None = None,
    cols: int | None = None,
    min_width: int = 0,
) -> tuple[bytes, list[int]]:
    """One layer's channel grid as the page shows it: a *palette* PNG, and the channel shown in each tile as
    plain ints (what the page's caches keep).

    :func:`render_grid_png` with the page's options (the ``k`` most active channels, capped at
    :data:`MAX_GRID_CHANNELS`; per channel / layer / global normalization): the grid is kept as colormap indices
    and written as an 8-bit palette PNG, a third of the bytes of an RGB PNG to compress, so resnet50's conv1 grid
    (64×112×112) encodes in under 50 ms and 500 KB, and :func:`recolor_png` can change its colormap without
    re-encoding. ``min_width`` enlarges small tiles with square pixels.
    """
    png, index = render_grid_png(
        maps, mode=mode, cmap=cmap, k=k, global_range=global_range, cols=cols, min_width=min_width
    )
    return png, [int(i) for i in index]


def recolor_png(png: bytes, cmap: str) -> bytes:
    """The palette PNG from :func:`grid_png` in another colormap: only its PLTE chunk is rewritten.

    The pixels of a palette PNG are colormap indices, so a change of colormap leaves the compressed image data
    as it is: rewriting the 768-byte palette costs microseconds where re-encoding conv1's grid costs tens of
    milliseconds. (Pillow has no call for this; the PNG chunk layout is length, type, data, CRC-32.)
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    out = [png[:8]]
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind == b"PLTE":
            data = palette_bytes(cmap)
            out.append(
                struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
            )
        else:
            out.append(png[pos:end])
        pos = end
    return b"".join(out)
