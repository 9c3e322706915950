"""Image input (issue 4, items 1 and 7): every bad upload gives an RGB image or an ImageError with the right code.

All bad files are generated here at run time, so the suite needs no binary fixtures and each case says how it is
made.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps
from PIL.PngImagePlugin import PngImageFile
from repo import ROOT

from resnet_viz.architecture import catalogue
from resnet_viz.imaging import images, preprocessing
from resnet_viz.imaging.images import ERROR_CODES, ImageError, load_image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kw)
    return buffer.getvalue()


def noise_rgb(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def png_header_only(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A PNG whose IHDR claims ``width``×``height`` but which holds no pixel data (a decompression bomb's header)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def expect_error(data: bytes, code: str) -> ImageError:
    assert code in ERROR_CODES
    with pytest.raises(ImageError) as info:
        load_image(data)
    err = info.value
    assert err.code == code, f"expected {code!r}, got {err.code!r}: {err}"
    assert str(err) and not err.unexpected
    return err


def expect_rgb(data: bytes, size: tuple[int, int] | None = None) -> Image.Image:
    img = load_image(data)
    assert img.mode == "RGB"
    if size is not None:
        assert img.size == size
    return img


# --- rejected inputs ------------------------------------------------------------------------------------------------


def test_empty_file():
    expect_error(b"", "empty")


def test_text_file_with_an_image_name_is_not_an_image():
    # The name (.png) never reaches the loader: content decides.
    expect_error(b"hello, this is a text file called cat.png\n" * 10, "not_image")


def test_random_bytes_are_not_an_image():
    expect_error(np.random.default_rng(1).bytes(5000), "not_image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(fmt):
    data = encode(noise_rgb(), fmt)
    expect_error(data[: len(data) // 2], "truncated")


def test_corrupt_png_data():
    data = bytearray(encode(noise_rgb(), "PNG"))
    start = data.index(b"IDAT") + 40
    data[start : start + 20] = b"\xff" * 20  # damage the compressed pixels, keep the file length
    err = expect_error(bytes(data), "corrupt")
    assert "detail" in err.params


def test_file_too_large(monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 1000)
    err = expect_error(encode(noise_rgb(), "PNG"), "file_too_large")
    assert err.params["max_mb"] == 0 or err.params["size_mb"] >= 0


@pytest.mark.parametrize(
    "width, height",
    [
        (50_000, 50_000),  # 2.5 gigapixels: beyond Pillow's own error threshold (179 MP)
        (12_000, 9_000),  # 108 MP: Pillow only warns here (DecompressionBombWarning)
        (10_000, 5_000),  # 50 MP: under Pillow's limits, over ours
    ],
)
def test_decompression_bomb_header_rejected_before_decoding(width, height):
    # The file holds no pixel data: had the loader tried to decode it, it would report "truncated", not "too_large".
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = expect_error(png_header_only(width, height), "too_large")
    # Pillow's DecompressionBombWarning is turned into the error, never left as a log line.
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert err.params["megapixels"] == round(width * height / 1e6)  # whole megapixels: "2500", not "2500.0"
    assert err.params["max_megapixels"] == 40
    assert (err.params["width"], err.params["height"]) == (width, height)  # the page's message names them


def test_real_compressed_bomb_is_never_decoded(monkeypatch):
    # A valid 1-bit PNG of 7000×6000 (42 MP) that compresses to a few KB: a real "zip bomb" image.
    data = encode(Image.new("1", (7000, 6000)), "PNG")
    assert len(data) < 100_000
    decoded = []
    real_load = PngImageFile.load
    monkeypatch.setattr(PngImageFile, "load", lambda self: decoded.append(1) or real_load(self))
    expect_error(data, "too_large")
    assert decoded == []


def test_pixel_cap_is_below_pillows_warning_threshold():
    assert images.MAX_PIXELS < Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_format_outside_the_allow_list_is_refused():
    # Pillow can read PCX and TGA, but the loader only lets the supported formats' plugins try.
    for fmt in ("PCX", "TGA"):
        data = encode(noise_rgb(16, 16), fmt)
        assert Image.open(io.BytesIO(data)).format == fmt
        expect_error(data, "not_image")


@pytest.mark.parametrize(
    "data, name",
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 64, "AVIF"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
    ],
)
def test_known_foreign_formats_are_named(data, name):
    err = expect_error(data, "unsupported")
    assert err.params["format"] == name
    assert name in str(err)


def test_lab_tiff_becomes_rgb():
    lab = Image.new("LAB", (8, 8), (100, 128, 128))  # L* = 100 (of 255), neutral a*, b*: a mid grey
    r, g, b = expect_rgb(encode(lab, "TIFF"), (8, 8)).getpixel((4, 4))
    assert abs(r - g) < 8 and abs(g - b) < 8 and 40 < r < 200


def test_error_is_a_value_error_with_code_and_params():
    try:
        load_image(png_header_only(50_000, 50_000))
    except ValueError as err:  # the page may catch ValueError; ImageError is one
        assert isinstance(err, ImageError)
        assert err.params["max_megapixels"] == round(images.MAX_PIXELS / 1e6)
        assert "50000 × 50000 pixels, 2,500 megapixels" in str(err)
    else:
        pytest.fail("no error")


def test_non_bytes_argument_is_a_programming_error():
    with pytest.raises(TypeError):
        load_image("cat.png")  # type: ignore[arg-type]


# --- accepted inputs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, kw",
    [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("GIF", {})],
)
def test_supported_formats_round_trip(fmt, kw):
    src = noise_rgb(33, 17)
    if fmt == "GIF":  # GIF has a 256-colour palette: compare with what Pillow itself stored
        src = src.quantize(64).convert("RGB")
    img = expect_rgb(encode(src, fmt, **kw), (33, 17))
    assert np.array_equal(np.asarray(img), np.asarray(src))


def test_jpeg_and_bytes_like_inputs():
    data = encode(noise_rgb(40, 30), "JPEG", quality=95)
    expect_rgb(data, (40, 30))
    expect_rgb(bytearray(data), (40, 30))
    expect_rgb(memoryview(data), (40, 30))


def test_one_pixel_image():
    img = expect_rgb(encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"), (1, 1))
    assert img.getpixel((0, 0)) == (10, 200, 30)


def test_extreme_aspect_ratio_is_accepted_and_preprocessed():
    strip = Image.fromarray(np.tile(np.arange(10_000, dtype=np.uint16) % 256, (8, 1)).astype(np.uint8), "L")
    img = expect_rgb(encode(strip, "PNG"), (10_000, 8))
    steps = preprocessing.preprocess_steps(img)
    assert tuple(steps.tensor.shape) == (1, 3, 224, 224)
    assert steps.settings.resized_size == (320_000, 256)
    assert max(steps.resized.size) <= 4096  # a preview, not the 82-megapixel intermediate


def test_budget_path_matches_resize_then_crop(monkeypatch):
    # The path that skips the huge intermediate must compute what resize-then-centre-crop computes.
    img = noise_rgb(300, 40, seed=3).resize((900, 120), Image.Resampling.BILINEAR)
    normal = preprocessing.preprocess_steps(img).tensor
    monkeypatch.setattr(preprocessing, "_RESIZED_PIXEL_BUDGET", 0)
    direct = preprocessing.preprocess_steps(img).tensor
    assert normal.shape == direct.shape
    # Interpolation at the crop's edge differs by a few levels at most; the picture is the same.
    assert float((normal - direct).abs().mean()) < 0.02
    assert float((normal - direct).abs().max()) < 0.5


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    r, g, b = expect_rgb(data, (32, 32)).getpixel((16, 16))
    assert r > 230 and g < 30 and b < 30


def test_palette_with_transparency_on_white():
    pal = Image.new("P", (4, 2), 0)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, index 1 blue
    pal.putpixel((3, 1), 1)
    data = encode(pal, "PNG", transparency=0)  # index 0 transparent
    img = expect_rgb(data, (4, 2))
    assert img.getpixel((0, 0)) == images.BACKGROUND_RGB == (255, 255, 255)
    assert img.getpixel((3, 1)) == (0, 0, 255)


def test_la_and_rgba_composited_on_white():
    la = Image.new("LA", (2, 1), (0, 0))
    la.putpixel((1, 0), (0, 255))
    img = expect_rgb(encode(la, "PNG"), (2, 1))
    assert img.getpixel((0, 0)) == (255, 255, 255)  # transparent black → white
    assert img.getpixel((1, 0)) == (0, 0, 0)  # opaque black stays black
    rgba = Image.new("RGBA", (1, 1), (255, 0, 0, 128))
    r, g, b = expect_rgb(encode(rgba, "PNG"), (1, 1)).getpixel((0, 0))
    assert r == 255 and 120 <= g <= 135 and 120 <= b <= 135  # half-transparent red over white: pink


def test_16_bit_gradient_keeps_its_gradient():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (4, 1))
    data = encode(Image.fromarray(ramp), "PNG")  # uint16 → mode I;16
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    grey = np.asarray(expect_rgb(data, (256, 4)))[0, :, 0].astype(int)
    assert grey[0] == 0 and grey[-1] == 255  # not clipped to white
    assert np.all(np.diff(grey) >= 0) and len(np.unique(grey)) > 200


def test_32_bit_integer_image_with_8_bit_values_is_not_darkened():
    values = np.tile(np.arange(256, dtype=np.int32), (2, 1))
    grey = np.asarray(expect_rgb(encode(Image.fromarray(values, "I"), "TIFF"), (256, 2)))[0, :, 0]
    assert np.array_equal(grey, np.arange(256))


def test_float_tiff_stretched_min_to_max():
    ramp = np.tile(np.linspace(-5.0, 1000.0, 100, dtype=np.float32), (3, 1))
    ramp[1, 50] = np.nan  # a hole in the data is drawn as the minimum, not a crash
    data = encode(Image.fromarray(ramp, "F"), "TIFF")
    grey = np.asarray(expect_rgb(data, (100, 3)))[0, :, 0].astype(int)
    assert grey[0] == 0 and grey[-1] == 255 and np.all(np.diff(grey) >= 0)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    assert expect_rgb(data, (8, 8)).getpixel((4, 4)) == (255, 0, 0)


def test_one_bit_and_grey_become_rgb():
    one = Image.new("1", (5, 5), 1)
    assert expect_rgb(encode(one, "PNG"), (5, 5)).getpixel((0, 0)) == (255, 255, 255)
    grey = Image.new("L", (5, 5), 77)
    assert expect_rgb(encode(grey, "BMP"), (5, 5)).getpixel((2, 2)) == (77, 77, 77)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    src = Image.new("RGB", (40, 20), (200, 30, 30))
    src.paste((30, 30, 200), (0, 0, 10, 20))  # a blue band on the left edge
    img = expect_rgb(encode(src, "JPEG", exif=exif.tobytes(), quality=95), (20, 40))
    r, g, b = img.getpixel((10, 2))  # after a clockwise turn the left edge is at the top
    assert b > 150 and r < 100


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_malformed_exif_is_ignored():
    junk = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\xff\xff\xff\xff"
    expect_rgb(encode(Image.new("RGB", (40, 20), "red"), "JPEG", exif=junk), (40, 20))


def test_exif_parser_failure_is_ignored(monkeypatch):
    # Pillow versions differ in which malformed EXIF blocks make exif_transpose raise; whatever it raises, the
    # pixels are fine and the loader must keep them.
    def broken(img, **kw):
        raise SyntaxError("not a TIFF file (header b'' not valid)")

    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    expect_rgb(encode(noise_rgb(12, 9), "JPEG"), (12, 9))


def test_max_side_shrinks_large_photos():
    data = encode(noise_rgb(1200, 800), "JPEG")
    img = load_image(data, max_side=300)
    assert img.mode == "RGB" and max(img.size) == 300


# --- samples and preprocessing ----------------------------------------------------------------------------------------


def test_bundled_samples_load_and_are_licensed():
    samples = images.sample_images()
    assert list(samples)[:4] == ["chelsea", "coffee", "astronaut", "rocket"]
    licence = (ROOT / "assets" / "LICENSE.md").read_text(encoding="utf-8")
    for name, path in samples.items():
        assert path.name in licence, f"{path.name} has no licence entry"
        assert path.stat().st_size < 400_000
        img = images.load_sample(name)
        assert img.mode == "RGB" and min(img.size) >= 224
    with pytest.raises(KeyError):
        images.load_sample("no-such-photo")


def test_preprocess_steps_shapes_and_preview():
    img = images.load_sample("chelsea")  # 451 × 300
    steps = preprocessing.preprocess_steps(img)
    assert steps.original.size == (451, 300)
    assert steps.resized.size == (384, 256)  # shorter side 256, as torchvision's Resize(256)
    assert steps.cropped.size == (224, 224)
    assert steps.normalized_preview.size == (224, 224) and steps.normalized_preview.mode == "RGB"
    tensor = steps.tensor
    assert tuple(tensor.shape) == (1, 3, 224, 224) and str(tensor.dtype) == "torch.float32"
    # The preview is an increasing function of the normalized values, channel by channel.
    preview = np.asarray(steps.normalized_preview, dtype=np.float64)
    for c in range(3):
        corr = np.corrcoef(preview[..., c].ravel(), tensor[0, c].numpy().ravel())[0, 1]
        assert corr > 0.999


def test_preprocess_matches_torchvision_weights_transforms():
    from torchvision.models import ResNet50_Weights

    img = images.load_sample("coffee")
    for weights in (ResNet50_Weights.IMAGENET1K_V1, ResNet50_Weights.IMAGENET1K_V2):
        transforms = weights.transforms()
        steps = preprocessing.preprocess_steps(img, transforms=transforms)
        reference = transforms(img).unsqueeze(0)
        assert steps.settings.resize == transforms.resize_size[0]  # 256 for V1, 232 for V2
        assert float((steps.tensor - reference).abs().max()) < 1e-5


def test_preprocess_for_cifar_nets():
    steps = preprocessing.preprocess_steps(
        images.load_sample("rocket"),
        resize=32,
        crop=32,
        mean=catalogue.CIFAR10_MEAN,
        std=catalogue.CIFAR10_STD,
    )
    assert tuple(steps.tensor.shape) == (1, 3, 32, 32)
    assert steps.resized.size[1] == 32


def test_preprocess_one_pixel_image_is_a_flat_colour():
    img = load_image(encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"))
    tensor = preprocessing.preprocess_steps(img).tensor
    assert tuple(tensor.shape) == (1, 3, 224, 224)
    assert float(tensor.std(dim=(2, 3)).max()) < 1e-5


def test_jpeg_bomb_header_is_refused_with_its_size():
    data = bytearray(encode(noise_rgb(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30_000, 30_000)  # height, width: 900 megapixels
    err = expect_error(bytes(data), "too_large")
    assert (err.params["width"], err.params["height"]) == (30_000, 30_000)


def bad_inputs() -> dict[str, bytes]:
    """One file for each error code the loader can give (the ones reachable without monkeypatching)."""
    corrupt = bytearray(encode(noise_rgb(), "PNG"))
    start = corrupt.index(b"IDAT") + 40
    corrupt[start : start + 20] = b"\xff" * 20
    png = encode(noise_rgb(), "PNG")
    return {
        "empty": b"",
        "not_image": b"just text, named photo.png",
        "unsupported": b"%PDF-1.4\n",
        "too_large": png_header_only(50_000, 50_000),
        "truncated": png[: len(png) // 2],
        "corrupt": bytes(corrupt),
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_error_has_a_message_in_both_languages(lang):
    # The page shows t(f"images.error_{code}", **params): the template must exist and take exactly these params.
    from resnet_viz.i18n import translator

    t = translator(lang)
    seen = set()
    for code, data in bad_inputs().items():
        err = expect_error(data, code)
        text = t(f"images.error_{err.code}", **err.params)
        assert "⟦" not in text and "None" not in text and text.strip()
        seen.add(code)
    for code in set(ERROR_CODES) - seen:  # codes reached only by monkeypatching elsewhere: the key must exist
        assert "⟦" not in t(f"images.error_{code}", size_mb=1, max_mb=1, width=0, height=0)


def test_every_image_open_in_the_app_is_restricted_to_the_supported_formats():
    # Issue 7: Pillow is restricted to the formats we support wherever the app opens an image.
    sources = [
        *ROOT.joinpath("resnet_viz").rglob("*.py"),
        *ROOT.joinpath("app_pages").glob("*.py"),
        ROOT / "app.py",
    ]
    calls = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"Image\.open\([^\n]*", text):
            calls.append(call)
            assert "formats=" in call, f"{path.name}: {call} does not pass formats="
    assert calls  # at least the loader's own call was checked


def test_image_slot_keeps_the_shown_picture_when_a_bad_one_is_offered(monkeypatch):
    cat, coffee = (images.sample_images()[n].read_bytes() for n in ("chelsea", "coffee"))
    slot = images.ImageSlot("chelsea", cat)
    assert slot.offer("coffee.jpg", coffee) is None and slot.name == "coffee.jpg" and slot.data == coffee
    problem = slot.offer("cut.png", cat[: len(cat) // 3])
    assert isinstance(problem, ImageError) and problem.code == "truncated" and problem.__traceback__ is None
    assert slot.name == "coffee.jpg" and slot.data == coffee  # the previous good picture stays
    decoded = []
    monkeypatch.setattr(images, "load_image", lambda data: decoded.append(1) or load_image(data))
    assert slot.offer("cut.png", cat[: len(cat) // 3]).code == "truncated" and decoded == []  # decoded once
    assert slot.offer("same coffee", coffee) is None and slot.name == "same coffee" and decoded == []
    for i in range(images.ImageSlot.KEEP_VERDICTS + 4):  # only the last few verdicts are kept
        slot.offer(f"junk{i}", b"junk %d" % i)
    assert len(slot._verdicts) == images.ImageSlot.KEEP_VERDICTS
