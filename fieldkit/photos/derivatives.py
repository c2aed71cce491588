"""Derivatives of an original: upright preview and thumbnail, and a metadata-free public copy.

Speed matters (bench/ingest.py): a JPEG is decoded once, by libjpeg-turbo (simplejpeg) straight
into a reused RGBX buffer, at the reduced DCT scale the preview needs; the preview is resized
from it once and the thumbnail from the preview (OpenCV), EXIF orientation is applied to the
small image, and both are encoded from the same buffers. Other formats (and any JPEG that
libjpeg-turbo refuses) are decoded by Pillow and then take the same path.

The public copy of a JPEG is made by walking its markers and dropping the metadata segments;
the entropy-coded data is copied byte for byte, so the pixels are exactly the original's.
"""

from __future__ import annotations

import io
import re
import struct
import threading
from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa
import simplejpeg
from PIL import Image

from ..errors import InputError

cv2.setNumThreads(1)  # ingest parallelises across worker processes; threads would oversubscribe

PREVIEW_QUALITY = 85
THUMB_QUALITY = 80
PUBLIC_QUALITY = 92
TAG_ORIENTATION = 0x0112

# Orientation tag value → the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The same transposes on pixel arrays (rows, columns[, channels]).
_UPRIGHT_PIXELS = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


@dataclass(slots=True)
class Derivatives:
    """Encoded preview and thumbnail (JPEG bytes) and their upright sizes."""

    preview: bytes
    thumb: bytes
    preview_size: tuple[int, int]
    thumb_size: tuple[int, int]


@dataclass(slots=True)
class Decoded:
    """Decoded pixels, still as stored (not yet upright): ``(h, w, 4)`` RGBX or ``(h, w)`` grey
    uint8, and the EXIF orientation to apply. The pixels may live in a per-thread buffer that
    the next decode in the same thread reuses: render them before decoding another image."""

    pixels: np.ndarray
    orientation: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as stored."""
        return self.pixels.shape[1], self.pixels.shape[0]


def fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``size`` scaled so its long side is at most ``long_side`` (never enlarged)."""
    w, h = size
    scale = min(1.0, long_side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def draft_scale(size: tuple[int, int], long_side: int) -> int:
    """The largest JPEG DCT reduction (1, 2, 4, 8) that still leaves ``long_side`` pixels."""
    longest = max(size)
    for scale in (8, 4, 2):
        if longest // scale >= long_side:
            return scale
    return 1


def make_derivatives(img: Image.Image, data: bytes, preview_px: int, thumb_px: int) -> Derivatives:
    """Decode ``img`` (opened from ``data``, not yet loaded) once; make the upright preview and thumbnail."""
    return render_derivatives(decode_for_preview(img, data, preview_px), preview_px, thumb_px)


def decode_for_preview(img: Image.Image, data: bytes, preview_px: int) -> Decoded:
    """Decode ``img`` (opened from ``data``), JPEGs at the smallest DCT scale that still covers
    the preview. This is where a broken file fails (e.g. truncated data)."""
    if img.format == "JPEG":
        scale = draft_scale(img.size, preview_px)
        if img.mode in ("RGB", "L"):
            try:
                pixels = _decode_jpeg(data, -(-img.width // scale), -(-img.height // scale), img.mode == "L")
            except ValueError:
                pass  # not for libjpeg-turbo's simple API (or broken): Pillow decodes it, or says why not
            else:
                return Decoded(pixels, _orientation(img))
        if scale > 1:
            img.draft("RGB", (img.width // scale, img.height // scale))
    img.load()
    orientation = _orientation(img)  # read after load: TIFF applies its own on load
    return Decoded(_pixels(_to_rgb(img)), orientation)


def _decode_jpeg(data: bytes, width: int, height: int, grey: bool) -> np.ndarray:
    """libjpeg-turbo's decode at the DCT scale giving ``width`` x ``height``, into a reused buffer.
    Strict: a warning (e.g. premature end of data) is a :class:`ValueError`."""
    channels = 1 if grey else 4
    buffer = _buffer("decode", width * height * channels)
    pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY" if grey else "RGBX", min_width=width,
                                    min_height=height, buffer=buffer, strict=True)
    return pixels[:, :, 0] if grey else pixels


def render_derivatives(decoded: Decoded, preview_px: int, thumb_px: int) -> Derivatives:
    """Preview and thumbnail of decoded pixels: resize, then make upright, then encode.

    The thumbnail is made from the preview.
    """
    preview = shrink(decoded.pixels, fit_size(decoded.size, preview_px), reuse="preview")
    if decoded.orientation in _UPRIGHT_PIXELS:
        preview = _UPRIGHT_PIXELS[decoded.orientation](preview)
    thumb = shrink(preview, fit_size((preview.shape[1], preview.shape[0]), thumb_px))
    return Derivatives(
        preview=encode_pixels(preview, PREVIEW_QUALITY),
        thumb=encode_pixels(thumb, THUMB_QUALITY),
        preview_size=(preview.shape[1], preview.shape[0]),
        thumb_size=(thumb.shape[1], thumb.shape[0]),
    )


def shrink(pixels: np.ndarray, size: tuple[int, int], reuse: str | None = None) -> np.ndarray:
    """``pixels`` reduced to ``size`` (width, height), antialiased: halved with a 2x2 box filter
    while at least twice too big, then bilinear for the last step (under 2x, where bilinear
    needs no wider support). ``reuse`` names a per-thread buffer for the result.

    A halving is OpenCV's exact-factor area path (an odd last row or column is dropped), which
    is about ten times faster than its general area resize; the final bilinear step is SIMD.
    """
    width, height = size
    while pixels.shape[1] >= 2 * width and pixels.shape[0] >= 2 * height:
        h, w = pixels.shape[0] // 2, pixels.shape[1] // 2
        pixels = _resize(pixels[: 2 * h, : 2 * w], (w, h), cv2.INTER_AREA)
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    return _resize(pixels, size, cv2.INTER_LINEAR, reuse)


def _resize(pixels: np.ndarray, size: tuple[int, int], interpolation: int, reuse: str | None = None) -> np.ndarray:
    if reuse is None:
        return cv2.resize(pixels, size, interpolation=interpolation)
    shape = (size[1], size[0], *pixels.shape[2:])
    out = _buffer(reuse, int(np.prod(shape))).reshape(shape)
    cv2.resize(pixels, size, dst=out, interpolation=interpolation)
    return out


_buffers = threading.local()
_BUFFER_MAX = 64 << 20  # larger buffers are not kept (a preview never needs one)


def _buffer(name: str, nbytes: int) -> np.ndarray:
    """A uint8 buffer of at least ``nbytes``, kept per thread and reused by the next image.

    Every photo needs the same large buffers; allocated afresh they come back as new pages that
    the kernel must fault in and zero, a cost comparable to resizing the image.
    """
    if nbytes > _BUFFER_MAX:
        return np.empty(nbytes, np.uint8)
    kept = getattr(_buffers, "kept", None)
    if kept is None:
        kept = _buffers.kept = {}
    buf = kept.get(name)
    if buf is None or buf.size < nbytes:
        buf = kept[name] = np.empty(nbytes, np.uint8)
    return buf[:nbytes]


def encode_pixels(pixels: np.ndarray, quality: int) -> bytes:
    """RGBX or grey pixels as a baseline JPEG (4:2:0 for colour) without metadata."""
    pixels = np.ascontiguousarray(pixels)
    if pixels.ndim == 2:
        return simplejpeg.encode_jpeg(pixels[:, :, None], quality, colorspace="GRAY", colorsubsampling="Gray")
    return simplejpeg.encode_jpeg(pixels, quality, colorspace="RGBX", colorsubsampling="420")


def _pixels(img: Image.Image) -> np.ndarray:
    """An RGB or L image's memory as an array: ``(h, w, 4)`` RGBX or ``(h, w)``, a zero-copy view
    through Pillow's Arrow export when the image sits in one memory block, else a copy.

    ``np.asarray`` goes through ``tobytes`` and costs about 12 ms for a 2000x1500 RGB image.
    """
    try:
        values = pa.array(img)
    except (ValueError, TypeError, NotImplementedError):
        values = None
    if values is not None and img.mode == "RGB":
        values = values.values
    if values is None or values.offset != 0:
        if img.mode == "RGB":
            return np.ascontiguousarray(np.asarray(img.convert("RGBX")))
        return np.asarray(img)
    channels = 4 if img.mode == "RGB" else 1
    flat = np.frombuffer(values.buffers()[1], np.uint8, count=img.width * img.height * channels)
    return flat.reshape(img.height, img.width, channels) if channels > 1 else flat.reshape(img.height, img.width)


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    """``img`` as a baseline JPEG without metadata."""
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(TAG_ORIENTATION, 1)
    except (ValueError, TypeError, SyntaxError, OSError, struct.error):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode.startswith("I"):  # 16-bit grey: keep the top 8 bits
        return img.convert("I").point(lambda v: v / 256).convert("L")
    return img.convert("RGB")


# -- public copy ------------------------------------------------------------------------------

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_KEEP_APP = {0xE0: (b"JFIF\0", b"JFXX\0"), 0xE2: (b"ICC_PROFILE\0",), 0xEE: (b"Adobe",)}
_NEXT_MARKER = re.compile(rb"\xff+[^\x00\xff\xd0-\xd7]")


def strip_jpeg_metadata(data: bytes, name: str = "image") -> bytes:
    """The JPEG without EXIF/XMP (APP1), IPTC (APP13), comments and other metadata segments.

    Kept: JFIF (APP0), ICC profile (APP2), Adobe (APP14) and every coding segment; the
    entropy-coded data is copied byte for byte, and anything after EOI (MPF images, appended
    archives) is dropped. An orientation other than 1 is kept in a minimal EXIF segment so the
    copy still displays upright.
    """
    if not data.startswith(b"\xff\xd8"):
        raise InputError(f"{name}: not a JPEG (no SOI marker)")
    out = [b"\xff\xd8"]
    orientation = 1
    pos = 2
    while True:
        marker, start, end = _segment_at(data, pos, name)
        if marker == EOI:
            out.append(b"\xff\xd9")
            break
        payload = data[start + 4 : end]
        if marker == 0xE1 and payload.startswith(b"Exif\0\0"):
            orientation = _exif_orientation(payload) or orientation
        if _keep_segment(marker, payload):
            out.append(data[start:end])
        pos = end
        if marker == SOS:
            scan_end = _scan_end(data, pos, name)
            out.append(data[pos:scan_end])
            pos = scan_end
    if orientation != 1:
        out.insert(1, _orientation_app1(orientation))
    return b"".join(out)


def _segment_at(data: bytes, pos: int, name: str) -> tuple[int, int, int]:
    """(marker, segment start, segment end) of the marker segment at ``pos``."""
    while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
        pos += 1  # fill bytes
    if pos + 2 > len(data) or data[pos] != 0xFF:
        raise InputError(f"{name}: corrupt JPEG (expected a marker at byte {pos})")
    marker = data[pos + 1]
    if marker in _STANDALONE or marker == EOI:
        return marker, pos, pos + 2
    if pos + 4 > len(data):
        raise InputError(f"{name}: truncated JPEG (segment header at byte {pos})")
    (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
    end = pos + 2 + length
    if length < 2 or end > len(data):
        raise InputError(f"{name}: truncated JPEG (segment 0xFF{marker:02X} at byte {pos})")
    return marker, pos, end


def _scan_end(data: bytes, pos: int, name: str) -> int:
    """Where the entropy-coded data starting at ``pos`` ends (the next real marker)."""
    match = _NEXT_MARKER.search(data, pos)
    if match is None:
        raise InputError(f"{name}: truncated JPEG (no EOI after the scan at byte {pos})")
    return match.end() - 2  # keep the fill bytes, if any, in the copied scan data


def _keep_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:  # COM
        return False
    if 0xE0 <= marker <= 0xEF:
        return payload.startswith(_KEEP_APP.get(marker, ()))
    return True


def _exif_orientation(payload: bytes) -> int | None:
    exif = Image.Exif()
    try:
        exif.load(payload)
        value = exif.get(TAG_ORIENTATION)
    except (ValueError, TypeError, SyntaxError, OSError, struct.error):
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _orientation_app1(orientation: int) -> bytes:
    """A minimal big-endian EXIF APP1 segment holding only the Orientation tag."""
    ifd = struct.pack(">HHHIHHI", 1, TAG_ORIENTATION, 3, 1, orientation, 0, 0)
    body = b"Exif\0\0" + b"MM\0\x2a" + struct.pack(">I", 8) + ifd
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def public_bytes(data: bytes, name: str, max_pixels: int) -> bytes:
    """A shareable copy of an original with no metadata: JPEGs stripped, others re-encoded."""
    if data.startswith(b"\xff\xd8\xff"):
        return strip_jpeg_metadata(data, name)
    from .metadata import open_image

    img = open_image(data, name, max_pixels)
    img.load()
    orientation = _orientation(img)
    upright = _to_rgb(img)
    if orientation in _UPRIGHT:
        upright = upright.transpose(_UPRIGHT[orientation])
    return encode_jpeg(upright, PUBLIC_QUALITY)
