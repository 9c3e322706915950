"""Feature-map grid: the largest layer's channels turned into the picture the page shows (issue 4, performance).

resnet50's conv1 output (64 × 112 × 112 float32) is the largest map set the page draws. The path measured is the
page's: normalize → tile → colour → PNG bytes (``tiling.render_grid_png``). Targets: < 50 ms and < 500 KB per grid.
Peers measured in the same run: the same grid as an RGB PNG at ``compress_level=1`` and at Pillow's default
level 6, and as a JPEG (fast and small but it smears the one-pixel separators and the flat zero regions).
The data are ReLU of smoothed noise with per-channel gains: sparse blobs like real early-layer activations (about
half the values are zero), not white noise, which no encoder can compress and no network produces.

Run: ``python -m benchmarks.bench_tiling``
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from benchmarks.common import Result, median_time, print_table
from resnet_viz.render import tiling


def activations(channels: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((channels, size, size)).astype(np.float32)
    spectrum = np.fft.rfft2(noise)
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    spectrum *= np.exp(-(kx**2 + ky**2) / (2 * 0.04**2))
    smooth = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    gains = rng.uniform(0.1, 5.0, (channels, 1, 1)).astype(np.float32)
    return np.maximum(smooth * gains, 0)


def _rgb_png(maps: np.ndarray, level: int) -> bytes:
    grid, _ = tiling.render_grid(maps, mode="channel", cmap="viridis")
    return tiling.encode_png(grid, compress_level=level)


def _jpeg(maps: np.ndarray) -> bytes:
    grid, _ = tiling.render_grid(maps, mode="channel", cmap="viridis")
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def run() -> list[Result]:
    conv1 = activations(64, 112)  # resnet50 conv1 / bn1 / relu output at 224×224 input
    layer4 = activations(2048, 7, seed=1)  # resnet50 layer4 output: many tiny maps, top 64 shown enlarged

    def palette() -> bytes:
        return tiling.render_grid_png(conv1, mode="channel", cmap="viridis")[0]

    def deep() -> bytes:
        return tiling.render_grid_png(layer4, mode="layer", cmap="magma", scale=tiling.tile_scale((7, 7)))[0]

    candidates = {
        "palette": palette,
        "rgb1": lambda: _rgb_png(conv1, 1),
        "rgb6": lambda: _rgb_png(conv1, 6),
        "jpeg": lambda: _jpeg(conv1),
        "deep": deep,
    }
    times = {name: median_time(fn, repeat=7) for name, fn in candidates.items()}
    sizes = {name: len(fn()) / 1024 for name, fn in candidates.items()}

    def row(name: str, key: str, target: str, ok: bool) -> Result:
        return Result(name, times[key] * 1e3, "ms", target, ok, f"{sizes[key]:,.0f} KB")

    return [
        row(
            "feature grid: conv1 64×112×112 → palette PNG (normalize, tile, colour, encode)",
            "palette",
            "< 50 ms",
            times["palette"] < 0.050,
        ),
        Result(
            "feature grid: conv1 palette PNG size",
            sizes["palette"],
            "KB",
            "< 500 KB",
            sizes["palette"] < 500,
            f"{conv1.shape[0]} tiles, {(conv1 == 0).mean():.0%} zeros",
        ),
        row("  peer: same grid as RGB PNG, compress_level=1", "rgb1", "peer", True),
        row("  peer: same grid as RGB PNG, compress_level=6 (Pillow default)", "rgb6", "peer", True),
        row("  peer: same grid as JPEG q90 (lossy: smears borders)", "jpeg", "peer", True),
        Result(
            "feature grid: palette PNG time vs RGB PNG level 1",
            times["palette"] / times["rgb1"],
            "×",
            "< 1×",
            times["palette"] < times["rgb1"],
            f"{times['palette'] * 1e3:.1f} ms vs {times['rgb1'] * 1e3:.1f} ms",
        ),
        row(
            "feature grid: layer4 2048×7×7 → top 64, enlarged ×13, palette PNG",
            "deep",
            "< 50 ms",
            times["deep"] < 0.050,
        ),
    ]


if __name__ == "__main__":
    print_table(run())
