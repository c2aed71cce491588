"""Build small test images (JPEG, PNG, TIFF, HEIC) with chosen EXIF, using Pillow's Exif API.

Shared by every test that needs a photo::

    from tests.photo_factory import make_jpeg
    data = make_jpeg(lat=40.0, lon=-105.25, taken_at="2024:05:01 10:00:00", offset="+08:00")

Keyword arguments accepted by every ``make_*`` function (see :func:`build_exif`):

- ``lat``, ``lon``: decimal degrees (negative → S/W); ``gps_format`` chooses how they are
  written: ``"dms"`` (D/1, M/1, S*1000/1000), ``"deg"`` (decimal degrees, 0, 0) or ``"min"``
  (D/1, decimal minutes, 0/1).
- ``alt`` metres (negative → AltitudeRef 1), ``bearing`` (GPSImgDirection, degrees).
- ``taken_at`` (``datetime`` or EXIF string) → DateTimeOriginal; ``offset`` (``"+08:00"``)
  → OffsetTimeOriginal; ``gps_utc`` (``datetime``, naive = UTC) → GPSDateStamp/GPSTimeStamp.
- ``orientation`` 1-8 (``None`` writes no tag); ``make``/``model`` as ``str`` (ASCII) or
  ``bytes`` (written verbatim, e.g. UTF-8 or GB18030 or invalid bytes).
- ``gps``: extra raw GPS IFD entries ``{tag: value}`` written last (e.g. zero denominators with
  :func:`rational`), ``exif_ifd``: extra raw Exif IFD entries.
"""

from __future__ import annotations

import io
import struct
from datetime import datetime, timezone
from typing import Any

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

GPS_IFD = 0x8825
EXIF_IFD = 0x8769


def rational(num: int, den: int) -> IFDRational:
    """An EXIF rational exactly as written (``rational(1, 0)`` is a zero denominator)."""
    return IFDRational(num, den)


def gps_rationals(value: float, gps_format: str = "dms") -> tuple[IFDRational, ...]:
    """``abs(value)`` as three GPS rationals in the chosen ``gps_format`` (dms, deg, min)."""
    value = abs(value)
    if gps_format == "deg":
        return rational(round(value * 10**7), 10**7), rational(0, 1), rational(0, 1)
    degrees = int(value)
    minutes = (value - degrees) * 60
    if gps_format == "min":
        return rational(degrees, 1), rational(round(minutes * 10**6), 10**6), rational(0, 1)
    if gps_format != "dms":
        raise ValueError(f"gps_format must be dms, deg or min, not {gps_format!r}")
    whole = int(minutes)
    seconds = (minutes - whole) * 60
    return rational(degrees, 1), rational(whole, 1), rational(round(seconds * 10**6), 10**6)


def _exif_time(value: datetime | str) -> str:
    return value.strftime("%Y:%m:%d %H:%M:%S") if isinstance(value, datetime) else value


def _gps_ifd(lat, lon, alt, bearing, gps_utc, gps_format) -> dict[int, Any]:
    gps: dict[int, Any] = {0: b"\x02\x03\x00\x00"}
    if lat is not None:
        gps[1], gps[2] = ("S" if lat < 0 else "N"), gps_rationals(lat, gps_format)
    if lon is not None:
        gps[3], gps[4] = ("W" if lon < 0 else "E"), gps_rationals(lon, gps_format)
    if alt is not None:
        gps[5], gps[6] = (b"\x01" if alt < 0 else b"\x00"), rational(round(abs(alt) * 1000), 1000)
    if bearing is not None:
        gps[16], gps[17] = "T", rational(round(bearing * 100), 100)
    if gps_utc is not None:
        if gps_utc.tzinfo is not None:
            gps_utc = gps_utc.astimezone(timezone.utc)
        gps[7] = (rational(gps_utc.hour, 1), rational(gps_utc.minute, 1), rational(gps_utc.second, 1))
        gps[29] = gps_utc.strftime("%Y:%m:%d")
    return gps


def build_exif(
    *,
    lat: float | None = None,
    lon: float | None = None,
    alt: float | None = None,
    bearing: float | None = None,
    taken_at: datetime | str | None = None,
    offset: str | None = None,
    gps_utc: datetime | None = None,
    orientation: int | None = 1,
    make: str | bytes | None = None,
    model: str | bytes | None = None,
    gps_format: str = "dms",
    gps: dict[int, Any] | None = None,
    exif_ifd: dict[int, Any] | None = None,
) -> Image.Exif:
    """A Pillow ``Exif`` with the given values (see the module docstring)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    sub: dict[int, Any] = {}
    if taken_at is not None:
        sub[0x9003] = _exif_time(taken_at)
    if offset is not None:
        sub[0x9011] = offset
    sub.update(exif_ifd or {})
    if sub:
        exif[EXIF_IFD] = sub
    gps_entries = _gps_ifd(lat, lon, alt, bearing, gps_utc, gps_format)
    gps_entries.update(gps or {})
    if len(gps_entries) > 1:
        exif[GPS_IFD] = gps_entries
    return exif


def _save(fmt: str, width: int, height: int, exif: Image.Exif, **params: Any) -> bytes:
    img = Image.new("RGB", (width, height), (90, 140, 60))
    out = io.BytesIO()
    img.save(out, format=fmt, exif=exif.tobytes(), **params)
    return out.getvalue()


def make_jpeg(width: int = 400, height: int = 300, *, quality: int = 85, **exif: Any) -> bytes:
    """A JPEG of ``width``×``height`` with EXIF from :func:`build_exif` keyword arguments."""
    return _save("JPEG", width, height, build_exif(**exif), quality=quality)


def make_png(width: int = 400, height: int = 300, *, exif_after_idat: bool = False, **exif: Any) -> bytes:
    """A PNG with an ``eXIf`` chunk (moved after IDAT when ``exif_after_idat``)."""
    data = _save("PNG", width, height, build_exif(**exif))
    return _move_exif_after_idat(data) if exif_after_idat else data


def make_tiff(width: int = 400, height: int = 300, **exif: Any) -> bytes:
    """An uncompressed TIFF whose IFD0 carries the EXIF tags (and Exif/GPS sub-IFDs)."""
    return _save("TIFF", width, height, build_exif(**exif))


def make_heic(width: int = 400, height: int = 300, *, quality: int = 50, **exif: Any) -> bytes:
    """A HEIC (HEVC in HEIF) with EXIF; needs pillow-heif's x265 encoder."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _save("HEIF", width, height, build_exif(**exif), quality=quality)


def make_header_only_jpeg(width: int, height: int) -> bytes:
    """A tiny JPEG whose frame header claims ``width``×``height`` (no matching pixel data).

    Opening it is cheap; decoding it would fail or allocate ``width*height`` pixels, so tests
    use it to prove a reader never decodes and that the pixel cap is applied to the header.
    """
    data = bytearray(make_jpeg(16, 16, orientation=None))
    pos = 2
    while pos + 4 <= len(data):
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, pos + 5, height, width)
            return bytes(data)
        pos += 2 + length
    raise AssertionError("no SOF marker in Pillow's JPEG")


def _move_exif_after_idat(data: bytes) -> bytes:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    exif = [c for c in chunks if c[4:8] == b"eXIf"]
    rest = [c for c in chunks if c[4:8] != b"eXIf"]
    return data[:8] + b"".join(rest[:-1] + exif + rest[-1:])
