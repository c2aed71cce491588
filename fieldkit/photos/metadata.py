"""Read a photo's evidence metadata (GPS, time, size, camera) without decoding its pixels.

``open_image`` opens bytes safely (allowed formats only, a per-call pixel cap checked before
any decode); ``extract`` reads EXIF from an open image; ``read_metadata`` does both for a path
and never raises for a bad file: the problem is reported in ``PhotoMetadata.error``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import struct
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import Image, UnidentifiedImageError

from ..errors import InputError, UnsafeFileError, UnsupportedFormatError
from . import exif as ex

ALLOWED_FORMATS = ("JPEG", "PNG", "HEIF", "TIFF")
DEFAULT_MAX_PIXELS = 250_000_000

# What Pillow and libheif raise on broken or hostile files (Pillow's fuzzers accept these).
_OPEN_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    NotImplementedError,
    OverflowError,
    MemoryError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    struct.error,
    RuntimeError,
    Warning,  # Pillow warns on corrupt data; under -W error that warning is raised
)

_limit_lock = threading.Lock()


class PhotoError(InputError):
    """A photo that cannot be read: not an allowed image, broken, or too large."""


class PhotoFormatError(PhotoError, UnsupportedFormatError):
    """A file that is not a JPEG, PNG, HEIF or TIFF image (whatever its extension says)."""


class PhotoBombError(PhotoError, UnsafeFileError):
    """An image whose pixel count exceeds the configured cap (a possible decompression bomb)."""


@dataclasses.dataclass(slots=True)
class PhotoMetadata:
    """What one photo claims about itself. Coordinates are WGS84 decimal degrees."""

    file: str
    sha256: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    bearing: float | None = None
    taken_at: str | None = None
    taken_at_utc: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    make: str | None = None
    model: str | None = None
    format: str | None = None
    location_source: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this photo (all fields, ``None`` as null)."""
        return dataclasses.asdict(self)


@functools.cache
def _register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (once per process, on first use)."""
    pillow_heif.register_heif_opener()


def _raise_pillow_backstop(max_pixels: int) -> None:
    """Keep Pillow's process-wide bomb limit at or above every per-call cap in use.

    The global only ever grows (under a lock), so concurrent calls never lower it for each
    other; the real, per-call check is done in :func:`open_image` against ``max_pixels``.
    """
    with _limit_lock:
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and current < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels


def open_image(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open image bytes lazily: JPEG, PNG, HEIF or TIFF only, at most ``max_pixels`` pixels.

    The format is sniffed from the content, never the extension. Raises :class:`PhotoFormatError`,
    :class:`PhotoBombError` or :class:`PhotoError`; never decodes pixel data.
    """
    _register_heif()
    _raise_pillow_backstop(max_pixels)
    try:
        img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError as exc:
        raise PhotoFormatError(f"{name}: not a JPEG, PNG, HEIF or TIFF image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoBombError(f"{name}: refused as a possible decompression bomb ({exc})") from exc
    except _OPEN_ERRORS as exc:
        raise PhotoError(f"{name}: unreadable image ({type(exc).__name__}: {exc})") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        img.close()
        raise PhotoError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        img.close()
        raise PhotoBombError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{max_pixels:,} (max_image_pixels); refused as a possible decompression bomb"
        )
    return img


def _exif_of(img: Image.Image, data: bytes) -> Image.Exif:
    """The image's EXIF without touching pixels (PNG's eXIf may sit after IDAT)."""
    if img.format == "PNG" and "exif" not in img.info:
        exif = Image.Exif()
        raw = ex.png_exif_chunk(data)
        if raw:
            exif.load(raw)
        return exif
    return img.getexif()


def _safe_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except ex.EXIF_ERRORS:
        return {}


def _displayed_size(img: Image.Image, orientation: int | None) -> tuple[int, int]:
    """Width and height as shown after applying the EXIF orientation."""
    if img.format == "HEIF":  # pillow-heif reports the already-transformed size
        return img.size
    if img.format == "TIFF":  # Pillow swaps TIFF sizes itself; start from the stored one
        tags = getattr(img, "tag_v2", {})
        width, height = tags.get(256, img.size[0]), tags.get(257, img.size[1])
    else:
        width, height = img.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _orientation(img: Image.Image, exif: Image.Exif) -> int | None:
    if img.format == "HEIF" and img.info.get("original_orientation") is not None:
        return ex.orientation_value(img.info["original_orientation"])  # pillow-heif reset the tag
    return ex.orientation_value(exif.get(ex.TAG_ORIENTATION))


def _times(exif_ifd: dict, gps: dict) -> tuple[str | None, str | None]:
    """(taken_at, taken_at_utc) as ISO 8601 strings from EXIF time, its offset and GPS UTC."""
    local = ex.parse_exif_datetime(exif_ifd.get(ex.TAG_DATETIME_ORIGINAL))
    offset_tag = ex.TAG_OFFSET_TIME_ORIGINAL
    if local is None:
        local = ex.parse_exif_datetime(exif_ifd.get(ex.TAG_DATETIME_DIGITIZED))
        offset_tag = ex.TAG_OFFSET_TIME_DIGITIZED
    utc = ex.gps_utc(gps)
    if local is None:
        return None, utc.isoformat() if utc else None
    if local.tzinfo is None:
        tz = ex.parse_offset(exif_ifd.get(offset_tag))
        if tz is None and utc is not None:
            tz = ex.offset_from_gps(local, utc)
        if tz is not None:
            local = local.replace(tzinfo=tz)
    if local.tzinfo is not None:
        return local.isoformat(), local.astimezone(timezone.utc).isoformat()
    return local.isoformat(), utc.isoformat() if utc else None


def extract(img: Image.Image, data: bytes, name: str) -> PhotoMetadata:
    """Metadata of an image opened by :func:`open_image`; ``sha256`` is over ``data``.

    Reads headers only (never decodes pixels). Malformed EXIF fields become None.
    """
    meta = PhotoMetadata(file=name, sha256=hashlib.sha256(data).hexdigest(), format=img.format)
    try:
        exif = _exif_of(img, data)
    except ex.EXIF_ERRORS:
        exif = Image.Exif()
    gps = _safe_ifd(exif, ex.GPS_IFD)
    meta.orientation = _orientation(img, exif)
    meta.width, meta.height = _displayed_size(img, meta.orientation)
    meta.make = ex.clean_text(exif.get(ex.TAG_MAKE))
    meta.model = ex.clean_text(exif.get(ex.TAG_MODEL))
    position = ex.gps_position(gps)
    if position is not None:
        meta.lat, meta.lon = position
        meta.location_source = "exif"
    if not _is_null_island(gps):
        meta.alt = ex.gps_altitude(gps)
        meta.bearing = ex.gps_bearing(gps)
    meta.taken_at, meta.taken_at_utc = _times(_safe_ifd(exif, ex.EXIF_IFD), gps)
    return meta


def _is_null_island(gps: dict) -> bool:
    """True when the GPS block's position is exactly 0,0 (an empty fix written as zeros)."""
    lat = ex.dms_to_degrees(gps.get(ex.GPS_LAT), None, 90.0) if ex.GPS_LAT in gps else None
    lon = ex.dms_to_degrees(gps.get(ex.GPS_LON), None, 180.0) if ex.GPS_LON in gps else None
    return lat == 0.0 and lon == 0.0


def read_bytes_metadata(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoMetadata:
    """Metadata of image bytes; never raises for a bad image (``error`` is set instead)."""
    try:
        img = open_image(data, name, max_pixels)
    except PhotoError as exc:
        return PhotoMetadata(file=name, sha256=hashlib.sha256(data).hexdigest(), error=str(exc))
    with img:
        try:
            return extract(img, data, name)
        except _OPEN_ERRORS as exc:
            message = f"{name}: unreadable metadata ({type(exc).__name__}: {exc})"
            return PhotoMetadata(file=name, sha256=hashlib.sha256(data).hexdigest(), error=message)


def read_metadata(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoMetadata:
    """Metadata of the photo at ``path``; never raises for a bad or missing file."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return PhotoMetadata(file=name, error=f"{name}: cannot read file ({exc.strerror or exc})")
    return read_bytes_metadata(data, name, max_pixels)


def parse_iso(value: str | None) -> datetime | None:
    """Parse a ``taken_at``/``taken_at_utc`` string back into a datetime (None passes through)."""
    return datetime.fromisoformat(value) if value else None
