"""Image input: decode an upload safely, and the bundled sample photos (the preprocessing steps shown on the page
are :mod:`resnet_viz.imaging.preprocessing`).

Pure core: no Streamlit, no torch: ``load_image`` needs only Pillow and numpy, so the loader (and its fuzz test)
stays light.

What ``load_image`` promises, whatever bytes it is given: an 8-bit RGB ``PIL.Image`` or an :class:`ImageError`
whose ``code`` names what is wrong (see :data:`ERROR_CODES`). The page shows its localized message,
``err.message(t)`` (the :class:`resnet_viz.errors.UserError` pattern); ``str(err)`` is the English message.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet_viz import paths
from resnet_viz.errors import UserError

log = logging.getLogger(__name__)

# The formats Pillow may use to decode an upload. Pillow tries every registered plugin unless told otherwise; each
# plugin is attack surface (and some, e.g. EPS, call external programs), so only these are allowed.
SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")

# Our own pixel cap, read from the header before any pixel is decoded. 40 megapixels covers what a class uploads
# (phone photos are 12-24 MP in their default mode, a full-frame camera 24-45 MP) while one decoded RGB image stays
# ≤ 120 MB; with several sessions decoding at once this keeps the server well inside its memory. It sits far under
# Pillow's own limits (a DecompressionBombWarning at 89.5 MP, an error at 179 MP), so Pillow never has to save us.
MAX_PIXELS: int = 40_000_000
# Size cap on the encoded file (the Streamlit upload limit in .streamlit/config.toml is the first gate; this one
# protects every other caller). A 40 MP JPEG is 10-25 MB; a PNG of a photo that size can reach ~60 MB.
MAX_BYTES: int = 64 * 1024 * 1024

# Transparent pixels are shown on white: the fixed background a student expects from a document or a browser.
BACKGROUND_RGB: tuple[int, int, int] = (255, 255, 255)

# Every code an ImageError can carry (the page's i18n section needs a message for each: images.error_<code>).
ERROR_CODES: tuple[str, ...] = (
    "empty",  # no bytes at all
    "file_too_large",  # more bytes than MAX_BYTES                      params: size_mb, max_mb
    "not_image",  # not a file Pillow recognises                         params: formats
    "unsupported",  # a known image format or pixel mode we do not read   params: format, formats
    "too_large",  # more pixels than MAX_PIXELS (decompression bomb)   params: megapixels, max_megapixels, width, height
    #                                                                   (width/height are "?" if unreadable)
    "bad_size",  # a zero width or height                              params: width, height
    "truncated",  # the file ends before the image does
    "corrupt",  # the file is damaged in some other way                params: detail (English, from the decoder)
)

# Formats people do upload that we do not decode, recognised by their first bytes so the message can name them
# ("HEIC from an iPhone: export it as JPEG") instead of saying "not an image".
_FOREIGN_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftyphevc", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypmsf1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (0, b"%PDF", "PDF"),
    (0, b"8BPS", "PSD"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"DDS ", "DDS"),
    (0, b"\x76\x2f\x31\x01", "OpenEXR"),
    (0, b"#?RADIANCE", "HDR"),
)

_TRUNCATION_HINTS = ("truncated", "end of file", "premature end", "not enough data")


class ImageError(UserError):
    """Why an upload cannot be shown. ``code`` is a key of :data:`ERROR_CODES`, ``params`` fill its message
    ``images.error_<code>``."""

    I18N_PREFIX = "images.error_"
    CODES = ERROR_CODES

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(code, message, **params)
        # True when the decoder failed with an exception outside the documented list (OSError, SyntaxError, ...):
        # still reported as "corrupt", but the fuzz test fails on it so that we look at it.
        self.unexpected = False


def _formats_text() -> str:
    return ", ".join(SUPPORTED_FORMATS)


def _sniff_foreign(data: bytes) -> str | None:
    head = data[:64]
    for offset, magic, name in _FOREIGN_SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    stripped = head.lstrip()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in data[:4096]):
        return "SVG"
    return None


def _too_large(width: int | None, height: int | None, pixels: int | None = None) -> ImageError:
    """The "too_large" error. Sizes are "?" in the params only if no plugin could read the header back."""
    if pixels is None:
        pixels = (width or 0) * (height or 0)
    dims = f"{width} × {height} pixels, " if width and height else ""
    return ImageError(
        "too_large",
        f"The image is too large ({dims}{pixels / 1e6:,.0f} megapixels); "
        f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels. Please upload a smaller image.",
        width=width if width else "?",
        height=height if height else "?",
        megapixels=round(pixels / 1e6) if pixels >= 10_000_000 else round(pixels / 1e6, 1),
        max_megapixels=round(MAX_PIXELS / 1e6),
    )


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(
            "bad_size", f"The image has no pixels ({width} × {height}).", width=width, height=height
        )
    if width * height > MAX_PIXELS:
        raise _too_large(width, height)


def _header_size(data: bytes) -> tuple[int, int] | None:
    """The size a header claims, read by the format's plugin class directly (which skips Pillow's bomb check).

    Only used to word the message after Pillow has refused an image as a bomb; nothing is decoded. Goes through
    ``Image.OPEN``, the registry Pillow's plugins add themselves to (``Image.register_open``).
    """
    Image.preinit()
    for fmt in SUPPORTED_FORMATS:
        try:
            factory, accept = Image.OPEN[fmt]
            if accept is None or accept(data[:16]) is True:
                return tuple(factory(io.BytesIO(data), "").size)  # type: ignore[return-value]
        except Exception:  # noqa: BLE001, S112 - best effort for a message; the image is refused either way
            continue
    return None


def _decode_error(exc: BaseException, size: tuple[int, int] | None, data: bytes = b"") -> ImageError:
    """Map an exception raised while decoding to the ImageError the page shows."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError)):
        if size is None:  # Pillow refused the header inside Image.open, before we could read the size
            size = _header_size(data)
        if size is not None:
            return _too_large(*size)
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's message carries the pixel count
        return _too_large(None, None, int(found.group(1)) if found else MAX_PIXELS + 1)
    detail = f"{type(exc).__name__}: {exc}"[:200]
    text = str(exc).lower()
    if isinstance(exc, EOFError) or any(hint in text for hint in _TRUNCATION_HINTS):
        return ImageError("truncated", "The file ends before the image does (an incomplete upload?).")
    return ImageError(
        "corrupt", f"The image file is damaged and cannot be decoded ({detail}).", detail=detail
    )


# Exceptions Pillow's decoders raise on hostile or damaged input (see Pillow's own fuzzers' allow-list), plus the
# few that damaged headers surface from the standard library.
_DECODER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,
    ValueError,
    MemoryError,
    NotImplementedError,
    OverflowError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def _bomb_warning_is_an_error() -> None:
    """Make Pillow's DecompressionBombWarning (89.5-179 MP, raised inside ``Image.open``) an exception.

    Re-asserted on every call because test runners and other code reset the warning filters. Not
    ``warnings.catch_warnings()``: it swaps the process-wide filter list and is not thread-safe, and a server decodes
    uploads from many sessions at once; re-inserting one "error" filter is idempotent. Our MAX_PIXELS check rejects
    such images anyway: this only makes sure none gets through as a mere log line.
    """
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def load_image(data: bytes | bytearray | memoryview, *, max_side: int | None = None) -> Image.Image:
    """Decode an uploaded file into an 8-bit RGB image, or raise :class:`ImageError`.

    Acceptance is decided by the content, never the file name, and only :data:`SUPPORTED_FORMATS` are tried.
    The pixel count is checked from the header before anything is decoded (decompression bombs). Animated
    GIF/WebP/PNG and multi-page TIFF give their first frame. EXIF orientation is applied; malformed EXIF is ignored.
    Transparent images are composited on :data:`BACKGROUND_RGB`; 16-bit images are scaled to 8 bits (not clipped to
    white); floating-point TIFFs are stretched from their minimum to their maximum; CMYK, palette, 1-bit and grey
    images become RGB.

    Tiny (1×1) and very elongated (10000×8) images are accepted when under the pixel cap: they are real images and
    the preprocessing (:mod:`resnet_viz.imaging.preprocessing`) brings any size to the network's input, so refusing
    them would only hide what the network sees. ``bad_size`` is kept for images with no pixels at all.

    ``max_side``: if given, the result is shrunk (keeping its aspect ratio) so that its longer side is at most this;
    JPEGs are then decoded at reduced scale (``Image.draft``), which is much faster and lighter for camera photos.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load_image expects bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageError("empty", "The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImageError(
            "file_too_large",
            f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES / 2**20:.0f} MB.",
            size_mb=round(len(data) / 2**20, 1),
            max_mb=round(MAX_BYTES / 2**20),
        )

    _bomb_warning_is_an_error()
    size: tuple[int, int] | None = None
    try:
        # Reads the header only: no pixel is decoded yet.
        img = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
        size = img.size
        _check_size(*size)
        if max_side is not None and img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img.load()
        _check_size(*img.size)
        img = _apply_exif_orientation(img)
        rgb = _to_rgb8(img)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        foreign = _sniff_foreign(data)
        if foreign is not None:
            raise ImageError(
                "unsupported",
                f"{foreign} files are not supported; please convert to one of: {_formats_text()}.",
                format=foreign,
                formats=_formats_text(),
            ) from exc
        raise ImageError(
            "not_image",
            f"This file is not an image this app can read (supported: {_formats_text()}).",
            formats=_formats_text(),
        ) from exc
    except _DECODER_ERRORS as exc:
        raise _decode_error(exc, size, data) from exc
    except Exception as exc:  # noqa: BLE001 - a third-party decoder on hostile bytes must never break the page
        log.warning("unexpected %s while decoding an upload: %s", type(exc).__name__, exc)
        err = _decode_error(exc, size, data)
        err.unexpected = True
        raise err from exc

    if max_side is not None and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def _apply_exif_orientation(img: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF orientation tag says; a malformed EXIF block is ignored (the pixels are fine)."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - EXIF is optional metadata: any failure to parse it is not fatal
        log.info("ignoring malformed EXIF: %s: %s", type(exc).__name__, exc)
        return img


def _scale_to_uint8(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    values = values.astype(np.float64)
    if not hi > lo:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _to_rgb8(img: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB, without the silent clipping of ``convert("RGB")`` on wide modes."""
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(img)
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if mode == "I" and lo >= 0 and hi <= 255:
            grey = values.astype(np.uint8)  # 8-bit samples stored in 32-bit integers
        elif mode.startswith("I;16") or (lo >= 0 and hi <= 65535):
            # 16-bit samples: map the full 0..65535 range to 0..255, as an image viewer does.
            grey = _scale_to_uint8(values, 0, 65535)
        else:  # other 32-bit integer data has no fixed white: stretch its range
            grey = _scale_to_uint8(values, lo, hi)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        # Floating-point data (scientific TIFFs) has no fixed white: stretch its finite range to 0..255.
        values = np.asarray(img, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            return Image.new("RGB", img.size, (0, 0, 0))
        lo, hi = float(values[finite].min()), float(values[finite].max())
        values = np.where(finite, values, lo)
        return Image.fromarray(_scale_to_uint8(values, lo, hi), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (*BACKGROUND_RGB, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except ValueError as exc:  # e.g. LAB or HSV TIFFs: Pillow has no conversion to RGB for them
        raise ImageError(
            "unsupported",
            f"Images in the {mode} colour mode are not supported; please convert to RGB.",
            format=mode,
            formats=_formats_text(),
        ) from exc


class ImageSlot:
    """The picture one session shows, and the verdicts on the pictures offered to it.

    A picture that cannot be read never replaces the one shown: :meth:`offer` returns why (the page says so,
    and the previous picture stays). Each content is decoded once (verdicts are kept by SHA-256, the last few).
    """

    KEEP_VERDICTS = 16

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data, self.sha = name, data, hashlib.sha256(data).hexdigest()
        self._verdicts: dict[str, ImageError | None] = {}

    def offer(self, name: str, data: bytes) -> ImageError | None:
        """Show ``data`` from now on if it is a readable image; otherwise return its :class:`ImageError`."""
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.sha:
            self.name = name  # the same picture from another source: only its name changes
            return None
        if digest not in self._verdicts:
            try:
                load_image(data)
                self._verdicts[digest] = None
            except ImageError as err:
                self._verdicts[digest] = err.detached()  # type: ignore[assignment]
            self._verdicts = dict(list(self._verdicts.items())[-self.KEEP_VERDICTS :])
        problem = self._verdicts[digest]
        if problem is None:
            self.name, self.data, self.sha = name, data, digest
        return problem


# --- bundled sample photos ----------------------------------------------------------------------------------------

ASSETS_DIR: Path = paths.ASSETS_DIR
# The order the page offers them in: the cat first (an ImageNet class a pretrained net gets right).
_SAMPLE_ORDER = ("chelsea", "coffee", "astronaut", "rocket")
#: The bundled photos with a translated name (``feature_maps.sample_<name>``), in the order they are offered.
NAMED_SAMPLES = _SAMPLE_ORDER
_SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def sample_images() -> dict[str, Path]:
    """The bundled photos (public domain / CC0, see ``assets/LICENSE.md``): name (file stem) → path."""
    found = {p.stem: p for p in sorted(ASSETS_DIR.glob("*")) if p.suffix.lower() in _SAMPLE_SUFFIXES}
    ordered = {name: found.pop(name) for name in _SAMPLE_ORDER if name in found}
    ordered.update(found)
    return ordered


def load_sample(name: str) -> Image.Image:
    """One bundled photo as an RGB image, through the same loader as uploads."""
    samples = sample_images()
    if name not in samples:
        raise KeyError(f"no sample image {name!r}; available: {', '.join(samples)}")
    return load_image(samples[name].read_bytes())
