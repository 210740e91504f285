"""The model's view of an image file, exactly as Vitrine frames it (docs/model.md §3.2, "Image").

    load_image(path) -> torch.Tensor [3, 224, 224] float32

is the Python twin of `EfficientNetLite0.modelInput(path:)` followed by the normalisation of
`EfficientNetLite0.trunk` (`Sources/Capture/Backbone.swift`):

1. **Read** the file with Vitrine's limits (`Sources/Imaging/FileReader.swift`,
   `DecodeLimits.default` in `Sources/Imaging/ImagingError.swift`): a regular file, not empty,
   at most 200,000,000 bytes; the format comes from the magic bytes, never the name (JPEG
   `FF D8 FF`, PNG's 8-byte signature), and only JPEG and PNG are read.
2. **Decode** to 8-bit RGB with Pillow, reproducing what `Sources/CImageCodecs/` does with
   libjpeg-turbo and libpng: the header is checked against the 50,000,000-pixel limit before the
   pixels are decoded; JPEG with the accurate integer IDCT (`JDCT_ISLOW`, Pillow's default too),
   grey replicated to RGB, CMYK/YCCK converted with Vitrine's `R = (255 - C)(255 - K) / 255`
   rounding (Adobe-inverted data handled), the EXIF orientation (1...8, IFD0 of the first EXIF
   segment) applied; PNG with every colour type, transparency (alpha channel, `tRNS` key colour or
   palette alpha) composited over **white** as `round(a c / 255) + (255 - a)` (Pillow's own
   `convert("RGB")` would drop the alpha instead), 16-bit grey scaled to 8 bits with libpng's
   `png_set_scale_16` rounding.
3. **Letterbox** to 224 x 224 (`Sources/Imaging/Letterbox.swift`): scale `224 / max(w, h)`,
   content `max(1, round(w * scale))` x `max(1, round(h * scale))` (round half to even), centred
   at `floor((224 - content) / 2)`, borders 127 on every channel; a 224 x 224 image is used as is.
4. **Resample** with Vitrine's antialiased triangle filter (`Sources/Imaging/Resample.swift`),
   ported operation for operation: the same taps and weights (computed in float64, stored as
   float32), the same pass order (chosen by the same cost estimate), float32 accumulation in tap
   order, an unrounded float32 intermediate, and the final `UInt8(clamp(v, 0, 255) + 0.5)`.
5. **Normalise** `(x - 127) / 128` per channel, channels first.

Known differences from Vitrine (documented, not hidden):

- Pillow bundles its own libjpeg-turbo (3.x) while Vitrine links the system's (2.1.5 here). The
  ISLOW IDCT, the fancy upsampling and the YCbCr tables are the same integer code in both, and
  the framed pixels are byte-identical on every image tested (150 SampleData JPEGs, Pillow-made
  grey, progressive, EXIF-rotated and CMYK JPEGs, 58 PNGs of odd sizes from 1 x 1 to 3000 x
  2000; scaleout/tests/test_backbone.py keeps a sample of them). A future libjpeg that changed
  its upsampling would show up there.
- JPEG data that libjpeg only *warns* about (corrupt Huffman data, "premature end of data
  segment") is an error in Vitrine but decoded silently by Pillow, so such a file gets features
  in the twin and fails in Vitrine. Truncated files are errors in both.
- 16-bit RGB / RGBA / grey+alpha PNGs: Pillow keeps only the high byte of each sample, libpng
  rounds (`v * 255 / 65535`); pixels differ by at most 1 level (measured: features up to 0.08
  apart). 16-bit grey PNGs (Pillow's `I;16`) are exact.
- Pillow's `ImageFile.LOAD_TRUNCATED_IMAGES` must stay False (its default): `decode_rgb` refuses
  to run otherwise rather than return grey-filled images.
"""

from __future__ import annotations

import io
import os
import stat as stat_module

import numpy as np
import torch
from PIL import Image, ImageFile

__all__ = [
    "ImageError",
    "ImageNotFoundError",
    "INPUT_SIDE",
    "FILL_VALUE",
    "MAX_PIXELS",
    "MAX_FILE_BYTES",
    "read_image_bytes",
    "decode_rgb",
    "letterbox",
    "resize",
    "model_input",
    "normalise",
    "load_image",
]

#: Input side of EfficientNet-Lite0 (`EfficientNetLite0.inputSide`).
INPUT_SIDE = 224
#: Letterbox border value, also the value normalisation maps to 0 (`EfficientNetLite0.fillValue`).
FILL_VALUE = 127
#: `DecodeLimits.default.maxPixels`: largest `width * height` declared in a header that is decoded.
MAX_PIXELS = 50_000_000
#: `DecodeLimits.default.maxFileBytes`: largest file that is read.
MAX_FILE_BYTES = 200_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(ValueError):
    """An image that cannot be read or decoded; the message names the file and what to do
    (the wording of Vitrine's `ImagingError.description`).

    Attributes: ``path`` (the file), ``kind`` (``"not-found"``, ``"unreadable"``, ``"empty"``,
    ``"not-an-image"``, ``"truncated"``, ``"corrupt"``, ``"too-large"``, ``"unsupported"``) and
    ``reason`` (a few words, like Vitrine's `shortReason`).
    """

    def __init__(self, path: str, kind: str, message: str, reason: str):
        super().__init__(message)
        self.path = path
        self.kind = kind
        self.reason = reason


class ImageNotFoundError(ImageError, FileNotFoundError):
    """The image file does not exist (also a `FileNotFoundError`)."""


def _error(path: str, kind: str, detail: str = "", fmt: str | None = None) -> ImageError:
    """The error of `ImagingError.description` for `kind`."""
    name = fmt or "image"
    if kind == "not-found":
        return ImageNotFoundError(path, kind, f"{path}: file not found; check the path and the data set's location",
                                  "file not found")
    messages = {
        "unreadable": (f"{path}: cannot be read ({detail}); check the file's permissions and size", "unreadable file"),
        "empty": (f"{path}: empty file (0 bytes); re-download or replace it", "empty file"),
        "not-an-image": (f"{path}: not a JPEG or PNG image (unrecognised content); replace it or remove it from "
                         "the data set", "not an image"),
        "truncated": (f"{path}: truncated {name} (the file ends early); re-download or replace it",
                      f"truncated {name}"),
        "corrupt": (f"{path}: corrupt {name} ({detail}); re-download or replace it", f"corrupt {name}"),
        "too-large": (f"{path}: image too large ({detail}); downscale it or raise the pixel limit",
                      "image too large"),
        "unsupported": (f"{path}: unsupported {name} ({detail}); convert it to a baseline JPEG or an 8-bit PNG",
                        f"unsupported {name}"),
    }
    message, reason = messages[kind]
    return ImageError(path, kind, message, reason)


# MARK: - Reading and decoding


def read_image_bytes(path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The whole file at `path`, with the checks of `FileReader.read` (docs/model.md §3.2):
    it must exist, be a regular file (a FIFO or device could block), not be empty, and hold at
    most `max_bytes` bytes. Raises `ImageError` (`ImageNotFoundError` when missing)."""
    path = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise _error(path, "not-found") from None
    except NotADirectoryError:
        raise _error(path, "not-found") from None
    except PermissionError:
        raise _error(path, "unreadable", "permission denied") from None
    except IsADirectoryError:
        raise _error(path, "unreadable", "it is a directory") from None
    except OSError as error:
        raise _error(path, "unreadable", error.strerror or str(error)) from None
    try:
        info = os.fstat(descriptor)
        if stat_module.S_ISDIR(info.st_mode):
            raise _error(path, "unreadable", "it is a directory")
        if not stat_module.S_ISREG(info.st_mode):
            raise _error(path, "unreadable", "not a regular file")
        if info.st_size == 0:
            raise _error(path, "empty")
        if info.st_size > max_bytes:
            raise _error(path, "unreadable", f"{info.st_size} bytes, above the {max_bytes}-byte file size limit")
        chunks = []
        remaining = info.st_size
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 24))
            if not chunk:  # the file shrank since fstat; the decoder will see a short file
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as error:
        raise _error(path, "unreadable", error.strerror or str(error)) from None
    finally:
        os.close(descriptor)
    if not data:
        raise _error(path, "empty")
    return data


def _detect_format(data: bytes, path: str) -> str:
    """The format ("JPEG" or "PNG") from the magic bytes, else the error Vitrine gives, naming
    the other image formats it recognises so the user knows what to convert."""
    if len(data) >= 3 and data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == _PNG_SIGNATURE:
        return "PNG"
    other = None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        other = "GIF"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        other = "WebP"
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        other = "TIFF"
    elif data[:2] == b"BM" and len(data) >= 26:
        other = "BMP"
    elif data[4:8] == b"ftyp":
        if data[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1"):
            other = "HEIF"
        elif data[8:12] in (b"avif", b"avis"):
            other = "AVIF"
    elif data[:8] == b"\x00\x00\x00\x0cjP  ":
        other = "JPEG 2000"
    if other is not None:
        raise _error(path, "unsupported", f"a {other} file; only JPEG and PNG are read")
    raise _error(path, "not-an-image")


def _mul255(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`x * y / 255` rounded to nearest, for bytes (`vic_mul255` in CImageCodecs/internal.h)."""
    t = x.astype(np.uint32) * y.astype(np.uint32) + 128
    return ((t + (t >> 8)) >> 8).astype(np.uint8)


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA over white: `round(a c / 255) + (255 - a)` (`vic_composite_over_white`)."""
    alpha = rgba[..., 3:4]
    return (_mul255(rgba[..., :3], alpha) + (255 - alpha)).astype(np.uint8)


def _exif_orientation(image: Image.Image) -> int:
    """The EXIF Orientation tag of IFD0 (1...8), 1 when absent or invalid (`vic_exif_orientation`)."""
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block: Vitrine ignores it too
        return 1
    if isinstance(value, (tuple, list)):
        value = value[0] if value else 1
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Applies an EXIF orientation to an [h, w, 3] array (`vic_place_row`)."""
    if orientation == 2:  # mirror horizontally
        return pixels[:, ::-1]
    if orientation == 3:  # rotate 180
        return pixels[::-1, ::-1]
    if orientation == 4:  # mirror vertically
        return pixels[::-1, :]
    if orientation == 5:  # transpose
        return pixels.transpose(1, 0, 2)
    if orientation == 6:  # rotate 90 clockwise
        return pixels[::-1].transpose(1, 0, 2)
    if orientation == 7:  # transverse
        return pixels[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:  # rotate 90 counter-clockwise
        return pixels.transpose(1, 0, 2)[::-1]
    return pixels


def _scale_16_to_8(values: np.ndarray) -> np.ndarray:
    """libpng's `png_set_scale_16` (`png_do_scale_16_to_8`): `v * 255 / 65535`, rounded."""
    v = values.astype(np.int64)
    high = v >> 8
    low = v & 0xFF
    return (high + (((low - high + 128) * 65535) >> 24)).astype(np.uint8)


def _png_pixels(image: Image.Image) -> np.ndarray:
    """8-bit RGB of a decoded PNG, as libpng + `vic_png_read` give it."""
    mode = image.mode
    has_key = "transparency" in image.info and mode in ("1", "L", "P", "RGB", "I;16", "I;16B", "I")
    if mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey (Pillow keeps the full values)
        grey = _scale_16_to_8(np.asarray(image, dtype=np.uint16) if mode != "I"
                              else np.clip(np.asarray(image), 0, 65535).astype(np.uint16))
        rgb = np.repeat(grey[..., None], 3, axis=2)
        key = image.info.get("transparency") if has_key else None
        if isinstance(key, int):  # tRNS grey key: that value is fully transparent
            transparent = np.asarray(image).astype(np.int64) == key
            rgb[transparent] = 255  # alpha 0 over white
        return rgb
    if mode in ("RGBA", "LA", "PA") or has_key:
        return _composite_over_white(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    if mode in ("RGB", "L", "1", "P"):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    raise ValueError(f"PNG decoded to the unexpected Pillow mode {mode}")


def _jpeg_pixels(image: Image.Image) -> np.ndarray:
    """8-bit RGB of a decoded JPEG, as libjpeg + `vic_jpeg_read` give it (before orientation)."""
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if mode == "L":
        return np.repeat(np.asarray(image, dtype=np.uint8)[..., None], 3, axis=2)
    if mode == "CMYK":
        # Pillow always reads CMYK as Adobe-inverted ("CMYK;I"): its value is 255 - libjpeg's.
        # `vic_cmyk_to_rgb` takes libjpeg's values as `255 - ink` when libjpeg saw an Adobe APP14
        # marker (at least 12 bytes, like Pillow's "adobe_transform"), else as ink amounts, and
        # computes R = (255 - C)(255 - K) / 255 rounded (`vic_mul255`).
        pillow = np.asarray(image, dtype=np.uint8)
        libjpeg = 255 - pillow
        ink_complement = libjpeg if "adobe_transform" in image.info else pillow
        return np.stack([_mul255(ink_complement[..., i], ink_complement[..., 3]) for i in range(3)], axis=2)
    raise ValueError(f"JPEG decoded to the unexpected Pillow mode {mode}")


def _declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) from the header bytes alone, before any decoder runs (the stored size,
    before EXIF orientation): PNG's IHDR as `vic_png_open` reads it, JPEG's first
    start-of-frame marker. None when not found (the decoder then reports the problem)."""
    if fmt == "PNG":
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if position + 9 > len(data):
                return None
            height = int.from_bytes(data[position + 5:position + 7], "big")
            width = int.from_bytes(data[position + 7:position + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            return None
        position += 2 + length
    return None


def decode_rgb(data: bytes, path: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decodes JPEG or PNG bytes to an upright [height, width, 3] uint8 array the way
    `ImageDecoder.decode` does (see the module docstring); `path` names the file in errors.
    The pixel limit is checked on the declared size before any pixel is decoded."""
    fmt = _detect_format(data, path)
    declared = _declared_size(data, fmt)
    if declared is not None:
        width, height = declared
        if fmt == "PNG" and (width > 0x7FFFFFFF or height > 0x7FFFFFFF):
            raise _error(path, "corrupt", f"IHDR declares an invalid size {width}x{height} (at most 2^31-1 a side)",
                         fmt)
        if width > 0 and height > 0 and width * height > max_pixels:
            raise _error(path, "too-large",
                         f"{width}x{height} = {width * height} pixels, the limit is {max_pixels}", fmt)
    try:
        # Pillow's own bomb check (above 89 M pixels) never fires first: larger headers were
        # refused above, except ones our scan could not find (the decoder then fails anyway).
        image = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as error:
        raise _error(path, "too-large", str(error), fmt) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise _classify(path, fmt, error) from None
    width, height = image.size
    if width > 0 and height > 0 and width * height > max_pixels:
        raise _error(path, "too-large", f"{width}x{height} = {width * height} pixels, the limit is {max_pixels}", fmt)
    if fmt == "JPEG" and getattr(image, "bits", 8) != 8:
        raise _error(path, "unsupported", f"{image.bits}-bit samples", fmt)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Pillow would then fill a short file's missing rows with grey instead of failing.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process; the twin needs Pillow's "
                           "default (False) so that truncated images are errors, as in Vitrine")
    try:
        image.load()
        if fmt == "JPEG":
            pixels = _orient(_jpeg_pixels(image), _exif_orientation(image))
        else:
            pixels = _png_pixels(image)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise _classify(path, fmt, error) from None
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise _error(path, "corrupt", f"the image has no pixels ({width}x{height})", fmt)
    return np.ascontiguousarray(pixels)


def _classify(path: str, fmt: str, error: Exception) -> ImageError:
    """Maps a Pillow failure to Vitrine's error kinds."""
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if "truncated" in lowered or "premature end" in lowered or isinstance(error, EOFError):
        return _error(path, "truncated", fmt=fmt)
    if "cannot identify image file" in lowered:
        return _error(path, "corrupt", "the header cannot be parsed", fmt)
    if "unexpected pillow mode" in lowered or "unsupported" in lowered:
        return _error(path, "unsupported", text, fmt)
    return _error(path, "corrupt", text, fmt)


# MARK: - Letterbox and resampling (Sources/Imaging/Letterbox.swift, Resample.swift)


def fitted_size(width: int, height: int, side: int) -> tuple[int, int]:
    """`max(1, round(w * scale))` x `max(1, round(h * scale))`, `scale = side / max(w, h)`,
    float64 and round half to even (`fittedSize` in Resample.swift)."""
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class _Kernel:
    """Filter taps for one axis (`ResampleKernel`): `starts[o]`, `counts[o]` and `weights[o, k]`
    (float32, zero past `counts[o]`), for the triangle filter stretched by `max(scale, 1)`."""

    def __init__(self, input_size: int, output_size: int):
        scale = input_size / output_size
        filter_scale = max(scale, 1.0)
        support = filter_scale
        stride = int(np.ceil(support)) * 2 + 1
        starts = np.zeros(output_size, dtype=np.int64)
        counts = np.zeros(output_size, dtype=np.int64)
        weights = np.zeros((output_size, stride), dtype=np.float32)
        for o in range(output_size):
            centre = (o + 0.5) * scale
            first = max(int(centre - support + 0.5), 0)  # int() truncates toward zero, like Swift's Int()
            count = min(int(centre + support + 0.5), input_size) - first
            taps = [max(0.0, 1.0 - abs((first + k - centre + 0.5) / filter_scale)) for k in range(count)]
            total = sum(taps)  # float64, summed in tap order as Swift does
            for k in range(count):
                weights[o, k] = np.float32(taps[k] / total if total > 0 else 0.0)
            starts[o] = first
            counts[o] = count
        self.input_size = input_size
        self.output_size = output_size
        self.stride = stride
        self.starts = starts
        self.counts = counts
        self.weights = weights


def _apply(values: np.ndarray, kernel: _Kernel, axis: int) -> np.ndarray:
    """One separable pass along `axis` (0 = rows/y, 1 = columns/x) of an [h, w, 3] float32
    array: `out[o] = sum_k w[o, k] * in[starts[o] + k]`, accumulated in float32 in tap order
    (a zero weight past a pixel's last tap adds exactly 0)."""
    moved = np.moveaxis(values, axis, 0)
    out_shape = (kernel.output_size,) + moved.shape[1:]
    accumulator = np.zeros(out_shape, dtype=np.float32)
    extra = (1,) * (moved.ndim - 1)
    for k in range(kernel.stride):
        index = np.minimum(kernel.starts + k, kernel.input_size - 1)
        weight = kernel.weights[:, k].reshape((-1,) + extra)
        accumulator += moved[index] * weight
    return np.moveaxis(accumulator, 0, axis)


def _to_bytes(values: np.ndarray) -> np.ndarray:
    """`UInt8(min(max(v, 0), 255) + 0.5)`: clamp, add one half in float32, truncate."""
    clamped = np.minimum(np.maximum(values, np.float32(0)), np.float32(255))
    return (clamped + np.float32(0.5)).astype(np.uint8)


_HORIZONTAL_TAP_COST = 1.5  # `Resampler.horizontalTapCost`


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """`pixels` ([h, w, 3] uint8) resampled to `width` x `height` with Vitrine's antialiased
    triangle filter (`Resampler.resample`): the same passes in the same order, float32
    accumulation, an unrounded float32 intermediate and one rounding at the end."""
    in_height, in_width = pixels.shape[:2]
    if width == in_width and height == in_height:
        return pixels.copy()
    horizontal = _Kernel(in_width, width) if width != in_width else None
    vertical = _Kernel(in_height, height) if height != in_height else None
    source = pixels.astype(np.float32)
    if vertical is None:
        return _to_bytes(_apply(source, horizontal, axis=1))
    if horizontal is None:
        return _to_bytes(_apply(source, vertical, axis=0))
    horizontal_first = (float(in_height * width * horizontal.stride) * _HORIZONTAL_TAP_COST
                        + float(height * width * vertical.stride))
    vertical_first = (float(height * in_width * vertical.stride)
                      + float(height * width * horizontal.stride) * _HORIZONTAL_TAP_COST)
    if horizontal_first < vertical_first:
        return _to_bytes(_apply(_apply(source, horizontal, axis=1), vertical, axis=0))
    return _to_bytes(_apply(_apply(source, vertical, axis=0), horizontal, axis=1))


def letterbox(pixels: np.ndarray, side: int = INPUT_SIDE, fill: int = FILL_VALUE) -> np.ndarray:
    """`RGBImage.letterboxed(side:fill:)`: the image scaled to fit a `side` x `side` square
    keeping its aspect ratio, centred, borders `fill` (docs/model.md §3.2)."""
    height, width = pixels.shape[:2]
    canvas = np.full((side, side, 3), fill, dtype=np.uint8)
    if width == 0 or height == 0:
        return canvas
    content_width, content_height = fitted_size(width, height, side)
    x = (side - content_width) // 2
    y = (side - content_height) // 2
    canvas[y:y + content_height, x:x + content_width] = resize(pixels, content_width, content_height)
    return canvas


def model_input(pixels: np.ndarray) -> np.ndarray:
    """`EfficientNetLite0.modelInput`: as is when already 224 x 224, else letterboxed."""
    if pixels.shape[0] == INPUT_SIDE and pixels.shape[1] == INPUT_SIDE:
        return pixels
    return letterbox(pixels, INPUT_SIDE, FILL_VALUE)


def normalise(pixels: np.ndarray) -> torch.Tensor:
    """[224, 224, 3] uint8 -> [3, 224, 224] float32 `(x - 127) / 128` (the EfficientNet-Lite
    convention, docs/model.md §3.2)."""
    values = (pixels.astype(np.float32) - np.float32(127)) / np.float32(128)
    return torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))


def load_image(path: str) -> torch.Tensor:
    """The backbone input of the image file at `path`: [3, 224, 224] float32, decoded,
    converted to RGB, letterboxed and normalised exactly as Vitrine does (docs/model.md §3.2;
    see the module docstring for each step).

    Raises `ImageError` naming the file and what to do when it is missing
    (`ImageNotFoundError`), unreadable, empty, not a JPEG/PNG, truncated, corrupt, or larger
    than Vitrine's limits (200 MB, 50 megapixels)."""
    path = os.fspath(path)
    return normalise(model_input(decode_rgb(read_image_bytes(path), path)))
