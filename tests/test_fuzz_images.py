"""Fuzzing the image loader (issue 7, hardening): whatever the bytes, ``load_image`` returns an 8-bit RGB image or
raises ImageError from a documented decoder failure, never anything else.

``ImageError.unexpected`` is set when the loader had to fall back on its catch-all: that fails here too, so a new
kind of decoder exception is looked at (and documented) rather than silently absorbed.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from resnet_viz.imaging.images import ERROR_CODES, SUPPORTED_FORMATS, ImageError, load_image

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

# The first bytes of each supported format (and a few near-misses), so random tails reach the plugins' parsers.
MAGICS = [
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xe1",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x00\x00\x00\x00WEBPVP8L",
    b"BM",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"II*\x00\x08\x00\x00\x00",
]

MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I;16", "I", "F", "YCbCr", "LAB", "HSV"]


def check(data: bytes) -> Image.Image | None:
    try:
        img = load_image(data)
    except ImageError as err:
        assert err.code in ERROR_CODES
        assert not err.unexpected, f"undocumented decoder exception: {err.__cause__!r}"
        return None
    assert isinstance(img, Image.Image)
    assert img.mode == "RGB"
    assert img.width >= 1 and img.height >= 1
    img.tobytes()  # really decoded
    return img


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about corrupt EXIF/TIFF tags it skips
@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=2048))
def test_random_bytes_behind_a_real_signature(magic, tail):
    check(magic + tail)


def make_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "F":
        return Image.fromarray(rng.normal(0, 100, (height, width)).astype(np.float32), "F")
    if mode == "I":
        return Image.fromarray(rng.integers(-(2**20), 2**20, (height, width), dtype=np.int32), "I")
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    if mode == "P":
        return rgb.quantize(16)
    if mode == "LA":
        return Image.merge("LA", (rgb.convert("L"), rgb.getchannel("R")))
    if mode == "RGBA":
        return Image.merge("RGBA", (*rgb.split(), rgb.getchannel("G")))
    return rgb.convert(mode)


@pytest.mark.filterwarnings("ignore::UserWarning")
@FUZZ
@given(
    mode=st.sampled_from(MODES),
    fmt=st.sampled_from(SUPPORTED_FORMATS),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    transparency=st.booleans(),
)
def test_valid_images_of_every_mode_and_size(mode, fmt, width, height, seed, transparency):
    img = make_image(mode, width, height, seed)
    kw = {}
    if transparency and mode in ("P", "L") and fmt in ("PNG", "GIF"):
        kw["transparency"] = 0
    if fmt == "WEBP":
        kw["lossless"] = True
    buffer = io.BytesIO()
    try:
        img.save(buffer, fmt, **kw)
    except (OSError, ValueError, KeyError, TypeError):
        assume(False)  # Pillow cannot write this mode in this format: nothing to load
    data = buffer.getvalue()
    loaded = check(data)
    assert loaded is not None, f"a valid {mode} {fmt} image {width}×{height} was rejected"
    assert loaded.size == (width, height)


@pytest.mark.filterwarnings("ignore::UserWarning")
@FUZZ
@given(
    fmt=st.sampled_from(SUPPORTED_FORMATS),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_damaged_valid_images(fmt, cut, flips):
    buffer = io.BytesIO()
    make_image("RGB", 24, 16, 0).save(buffer, fmt)
    data = bytearray(buffer.getvalue())
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    check(bytes(data[: max(1, int(cut * len(data)))]))
