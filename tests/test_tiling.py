"""Feature-map display arithmetic (issue 4, item 4): normalization modes, top-k, tiling, colormaps, encoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from resnet_viz.render import tiling
from resnet_viz.render.tiling import (
    CMAPS,
    MAX_GRID_CHANNELS,
    channel_stats,
    colorize,
    encode_png,
    normalize,
    overlay,
    render_grid,
    render_grid_png,
    tile,
    top_channels,
    upscale_nearest,
)


def conv1_like(channels: int = 64, size: int = 112, seed: int = 0) -> np.ndarray:
    """ReLU of smoothed noise with per-channel gains: sparse, blobby maps like a first conv layer's output."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((channels, size, size)).astype(np.float32)
    spectrum = np.fft.rfft2(noise)
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    spectrum *= np.exp(-(kx**2 + ky**2) / (2 * 0.04**2))
    smooth = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    gains = rng.uniform(0.1, 5.0, (channels, 1, 1)).astype(np.float32)
    return np.maximum(smooth * gains, 0)


# --- normalize ---------------------------------------------------------------------------------------------------------


def test_normalize_channel_stretches_each_channel():
    maps = conv1_like(8, 16)
    out = normalize(maps, "channel")
    assert out.shape == maps.shape and out.dtype == np.float32
    alive = maps.max(axis=(1, 2)) > maps.min(axis=(1, 2))
    assert alive.sum() >= 6
    assert np.allclose(out[alive].max(axis=(1, 2)), 1.0) and np.allclose(out.min(axis=(1, 2)), 0.0)
    assert np.all(out[~alive] == 0.0)  # a dead channel (all zeros after ReLU) stays dark, no division by zero


def test_normalize_layer_keeps_channels_comparable():
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 3.0), np.linspace(0, 4, 16).reshape(4, 4)])
    out = normalize(maps.astype(np.float32), "layer")
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.allclose(out[0], 0.25) and np.allclose(out[1], 0.75)  # 1 and 3 on the layer's 0..4
    per_channel = normalize(maps.astype(np.float32), "channel")
    assert np.allclose(per_channel[0], 0.0)  # a constant channel has no pattern to stretch


def test_normalize_global_uses_the_network_range():
    maps = np.linspace(0, 2, 32, dtype=np.float32).reshape(2, 4, 4)
    out = normalize(maps, "global", (0.0, 8.0))
    assert np.isclose(out.max(), 0.25)  # this layer is quiet compared with the whole network
    with pytest.raises(ValueError, match="global_range"):
        normalize(maps, "global")
    clipped = normalize(maps, "global", (0.5, 1.0))
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_normalize_modes_differ_as_documented():
    maps = conv1_like(6, 20)
    maps[0] *= 0.01  # a channel that barely fires
    by_channel, by_layer = normalize(maps, "channel"), normalize(maps, "layer")
    assert np.isclose(by_channel[0].max(), 1.0)  # per channel: as bright as any other
    assert by_layer[0].max() < 0.05  # per layer: dim next to its neighbours


def test_normalize_symmetric_puts_zero_in_the_middle():
    maps = np.array([[[-2.0, 0.0, 1.0]]], dtype=np.float32)
    out = normalize(maps, "layer", symmetric=True)
    assert np.allclose(out, [[[0.0, 0.5, 0.75]]])
    assert np.allclose(normalize(np.zeros((2, 3, 3), np.float32), "channel", symmetric=True), 0.5)


def test_normalize_rejects_bad_input_and_survives_nan():
    with pytest.raises(ValueError):
        normalize(np.zeros((4, 4), np.float32), "channel")
    with pytest.raises(ValueError, match="unknown normalization"):
        normalize(np.zeros((1, 4, 4), np.float32), "network")  # type: ignore[arg-type]
    maps = np.ones((1, 3, 3), np.float32)
    maps[0, 0, 0] = np.nan
    out = normalize(maps, "channel")
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


# --- top-k -------------------------------------------------------------------------------------------------------------


def test_top_channels_order_and_ties():
    means = np.array([0.5, 3.0, 0.5, 2.0, 0.0], dtype=np.float32)
    maps = np.broadcast_to(means[:, None, None], (5, 3, 3)).copy()
    assert top_channels(maps, 3).tolist() == [1, 3, 0]  # ties (0 and 2) keep channel order
    assert top_channels(maps, 10).tolist() == [1, 3, 0, 2, 4]
    assert top_channels(maps, 0).tolist() == []


# --- tile -------------------------------------------------------------------------------------------------------------


def test_tile_shapes_and_placement():
    maps = np.stack([np.full((3, 5), i / 10, dtype=np.float32) for i in range(7)])
    grid = tile(maps, pad=1, pad_value=1.0)
    rows, cols = 3, 3  # ceil(sqrt(7)) columns
    assert grid.shape == (rows * 4 - 1, cols * 6 - 1)
    assert np.allclose(grid[0:3, 0:5], 0.0) and np.allclose(grid[0:3, 6:11], 0.1)
    assert np.allclose(grid[4:7, 0:5], 0.3)  # the 4th map starts the second row
    assert np.allclose(grid[3, :], 1.0) and np.allclose(grid[:, 5], 1.0)  # separators
    assert np.allclose(grid[8:11, 6:17], 1.0)  # the two missing tiles are blank


def test_tile_columns_no_pad_and_colour_tiles():
    maps = np.arange(6 * 2 * 2, dtype=np.float32).reshape(6, 2, 2)
    grid = tile(maps, cols=6, pad=0)
    assert grid.shape == (2, 12)
    assert np.array_equal(grid[:, 2:4], maps[1])
    rgb = np.zeros((5, 4, 4, 3), np.uint8)
    out = tile(rgb, cols=2, pad=2, pad_value=255)
    assert out.shape == (3 * 6 - 2, 2 * 6 - 2, 3) and out.dtype == np.uint8
    assert (out[4:6] == 255).all()
    with pytest.raises(ValueError):
        tile(np.zeros((0, 3, 3)))


# --- colour ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cmap", CMAPS)
def test_colormaps_are_256_levels_from_their_anchor_colours(cmap):
    lut = tiling.colormap_lut(cmap)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    first, last = tiling._ANCHORS[cmap][0], tiling._ANCHORS[cmap][-1]
    assert lut[0].tolist() == [int(first[i : i + 2], 16) for i in (1, 3, 5)]
    assert lut[-1].tolist() == [int(last[i : i + 2], 16) for i in (1, 3, 5)]
    steps = np.abs(np.diff(lut.astype(int), axis=0)).max()
    assert steps <= 12  # smooth: no jumps between neighbouring levels


def test_colorize_maps_levels_through_the_table():
    gray = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    rgb = colorize(gray, "gray")
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    assert rgb[0, :, 0].tolist() == [0, 128, 255]
    viridis = colorize(gray, "viridis")
    assert viridis[0, 0].tolist() == [0x44, 0x01, 0x54] and viridis[0, 2].tolist() == [0xFD, 0xE7, 0x25]
    # matplotlib's viridis(0.5) is #21918c: the interpolated table is within a few levels of it.
    assert np.abs(viridis[0, 1].astype(int) - [0x21, 0x91, 0x8C]).max() <= 3
    assert colorize(np.zeros((2, 4, 4)), "magma").shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match="unknown colormap"):
        colorize(gray, "jet")


def test_encode_png_round_trips():
    rgb = colorize(normalize(conv1_like(4, 30), "channel"), "magma")[0]
    data = encode_png(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), rgb)


def test_upscale_nearest_arrays_and_images():
    arr = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    big = upscale_nearest(arr, 3)
    assert big.shape == (6, 6) and big[0:3, 3:6].tolist() == [[2] * 3] * 3
    img = upscale_nearest(Image.fromarray(arr), 2)
    assert img.size == (4, 4) and img.getpixel((3, 3)) == 4
    with pytest.raises(ValueError):
        upscale_nearest(arr, 0)


def test_channel_stats():
    maps = np.zeros((2, 2, 2), np.float32)
    maps[0] = [[0.0, 2.0], [4.0, 0.0]]
    maps[1] = [[-1.0, 1.0], [1.0, 1.0]]
    stats = channel_stats(maps)
    assert stats[0] == {"channel": 0, "mean": 1.5, "max": 4.0, "min": 0.0, "zero_fraction": 0.5}
    assert stats[1]["zero_fraction"] == 0.25 and stats[1]["mean"] == 0.5


def test_overlay_blends_a_resized_heat_map():
    base = Image.new("RGB", (64, 48), (0, 0, 0))
    heat = np.zeros((7, 7), np.float32)
    heat[:, 6] = 1.0  # hot on the right
    out = overlay(base, heat, alpha=0.5, cmap="gray")
    assert out.size == (64, 48) and out.mode == "RGB"
    left, right = out.getpixel((2, 24)), out.getpixel((62, 24))
    assert left[0] < 10 and 100 < right[0] <= 128  # half of white over black on the hot side
    middle = [out.getpixel((x, 24))[0] for x in range(40, 64, 4)]
    assert middle == sorted(middle)  # bilinear: a ramp, not a step
    assert overlay(base, heat, alpha=0.0).getpixel((62, 24)) == (0, 0, 0)


# --- the whole grid ------------------------------------------------------------------------------------------------------


def test_render_grid_caps_channels_and_keeps_the_most_active():
    maps = conv1_like(256, 14)
    grid, index = render_grid(maps, mode="layer", cmap="viridis")
    assert len(index) == MAX_GRID_CHANNELS
    assert index.tolist() == top_channels(maps, MAX_GRID_CHANNELS).tolist()
    assert grid.shape == (8 * 15 - 1, 8 * 15 - 1, 3)
    assert (grid[14, :] == 255).all()  # white separators, whatever the colormap
    grid_k, index_k = render_grid(maps, k=5, scale=4)
    assert len(index_k) == 5 and grid_k.shape == (2 * 57 - 1, 3 * 57 - 1, 3)


def test_render_grid_png_is_the_same_picture_as_the_rgb_grid():
    maps = conv1_like(16, 20)
    rgb, index = render_grid(maps, cmap="magma")
    png, index_png = render_grid_png(maps, cmap="magma")
    assert index.tolist() == index_png.tolist()
    decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert decoded.shape == rgb.shape
    assert np.abs(decoded - rgb).max() <= 8  # palette of 255 levels vs table of 256: within a level or two


def test_conv1_grid_encodes_under_500_kb():
    maps = conv1_like(64, 112)  # resnet50 conv1: 64 × 112 × 112
    png, _ = render_grid_png(maps, mode="channel", cmap="viridis")
    assert Image.open(io.BytesIO(png)).size == (8 * 113 - 1, 8 * 113 - 1)
    assert len(png) < 500_000


def test_min_width_enlarges_tiles_just_enough():
    maps = conv1_like(16, 7)  # a 4 × 4 grid of 7×7 maps: 31 px wide as it is
    grid, _ = render_grid(maps, min_width=160)
    assert grid.shape[1] >= 160
    assert grid.shape[1] - 160 < 4 * 7  # one step smaller would be too narrow
    png, _ = render_grid_png(maps, min_width=160)
    assert Image.open(io.BytesIO(png)).size == (grid.shape[1], grid.shape[0])
    assert render_grid(conv1_like(4, 112), min_width=100)[0].shape[1] == 2 * 113 - 1  # already wide enough


@pytest.mark.parametrize("mode", ["channel", "layer", "global"])
def test_one_channel_alone_is_normalized_as_in_the_grid(mode):
    rng = np.random.default_rng(3)
    maps = (rng.standard_normal((12, 5, 6)) * np.arange(1, 13)[:, None, None]).astype(np.float32)
    full = (-40.0, 40.0)
    grid, index = tiling.render_grid(maps, mode=mode, k=4, global_range=full, pad=0, cols=4)
    for i, c in enumerate(index):
        alone = tiling.normalize_channels(maps, [int(c)], mode, full)[0]
        assert np.array_equal(tiling.colorize(alone), grid[:, i * 6 : (i + 1) * 6]), (mode, c)
    if mode == "layer":  # the whole layer's range, not the range of the channel alone
        assert not np.allclose(
            tiling.normalize_channels(maps, [0], "layer")[0], tiling.normalize(maps[:1])[0]
        )
