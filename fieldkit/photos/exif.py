"""Pure helpers that turn raw EXIF values (as Pillow returns them) into clean Python values.

Every reader here returns ``X | None``: a value that is missing, malformed, out of range or
written with a zero denominator is *unknown* (``None``), never ``NaN`` and never an exception.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any, Mapping

GPS_IFD = 0x8825
EXIF_IFD = 0x8769

TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
TAG_DATETIME_ORIGINAL = 0x9003
TAG_DATETIME_DIGITIZED = 0x9004
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_OFFSET_TIME_DIGITIZED = 0x9012

GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
GPS_ALT_REF, GPS_ALT, GPS_TIMESTAMP = 5, 6, 7
GPS_IMG_DIRECTION, GPS_DATESTAMP = 17, 29

TEXT_MAX_LEN = 128
MAX_UTC_OFFSET = timedelta(hours=14)

# Errors Pillow's EXIF reader and our conversions may raise on hostile data.
EXIF_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    ZeroDivisionError,
    SyntaxError,
    OSError,
    struct.error,
    RecursionError,
    Warning,  # Pillow warns on corrupt EXIF; under -W error that warning is raised
)

_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}
_DATETIME_RE = re.compile(
    r"^(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def decode_text(raw: bytes) -> str:
    """Decode EXIF bytes: UTF-8, else GB18030, else latin-1 (which never fails)."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def clean_text(value: Any, max_len: int = TEXT_MAX_LEN) -> str | None:
    """A safe display string from an EXIF text value, or None when empty.

    Pillow decodes ASCII tags as latin-1, so a ``str`` that fits latin-1 is re-decoded from its
    bytes (phones write UTF-8, Chinese cameras GB18030). NUL, control and bidi-override
    characters are removed, whitespace collapsed at the ends and the length capped.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:
            pass
    if isinstance(value, (bytes, bytearray)):
        value = decode_text(bytes(value).strip(b"\x00 ").split(b"\x00", 1)[0])
    elif not isinstance(value, str):
        value = str(value)
    text = "".join(
        ch for ch in value if unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS
    ).strip()
    return text[:max_len] or None


def to_fraction(value: Any) -> Fraction | None:
    """An EXIF rational (Pillow ``IFDRational``, ``(num, den)`` pair, int or float) as a Fraction.

    Zero denominators, NaN and infinities give None.
    """
    try:
        if hasattr(value, "numerator") and hasattr(value, "denominator"):
            num, den = value.numerator, value.denominator
            if isinstance(num, float) or isinstance(den, float):
                return _float_fraction(float(value))
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            num, den = value
        elif isinstance(value, float):
            return _float_fraction(value)
        else:
            return None
        if not isinstance(num, int) or not isinstance(den, int) or den == 0:
            return None
        return Fraction(num, den)
    except EXIF_ERRORS:
        return None


def _float_fraction(value: float) -> Fraction | None:
    return Fraction(value) if math.isfinite(value) else None


def to_float(value: Any) -> float | None:
    """An EXIF rational as a finite float, or None."""
    frac = to_fraction(value)
    return None if frac is None else float(frac)


def _ref(value: Any) -> str | None:
    text = clean_text(value, max_len=4)
    return text.upper()[:1] if text else None


def dms_to_degrees(values: Any, ref: Any, limit: float) -> float | None:
    """Degrees from up to three rationals (D/M/S, decimal degrees or decimal minutes) and a ref.

    ``S``/``W`` give a negative result. Any component with a zero denominator, a negative
    minute/second or a result beyond ``limit`` (90 or 180) gives None.
    """
    if not isinstance(values, (tuple, list)):
        values = (values,)
    if not 1 <= len(values) <= 3:
        return None
    parts = [to_fraction(v) for v in values]
    if any(p is None for p in parts) or any(p < 0 for p in parts[1:]):
        return None
    degrees = abs(parts[0])
    for scale, part in zip((60, 3600), parts[1:]):
        degrees += part / scale
    result = float(degrees)
    ref_letter = _ref(ref)
    if ref_letter in ("S", "W") or (ref_letter is None and parts[0] < 0):
        result = -result
    if not math.isfinite(result) or abs(result) > limit:
        return None
    return result


def gps_position(gps: Mapping[int, Any]) -> tuple[float, float] | None:
    """(lat, lon) from a GPS IFD, or None when unknown, invalid or the 0,0 placeholder."""
    lat = dms_to_degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), 90.0) if GPS_LAT in gps else None
    lon = dms_to_degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF), 180.0) if GPS_LON in gps else None
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None
    return lat, lon


def gps_altitude(gps: Mapping[int, Any]) -> float | None:
    """Altitude in metres; AltitudeRef 1 means below sea level (negative)."""
    alt = to_float(gps.get(GPS_ALT))
    if alt is None:
        return None
    ref = gps.get(GPS_ALT_REF)
    if isinstance(ref, (bytes, bytearray)):
        ref = ref[0] if ref else 0
    if isinstance(ref, tuple) and ref:
        ref = ref[0]
    return -abs(alt) if ref == 1 else alt


def gps_bearing(gps: Mapping[int, Any]) -> float | None:
    """GPSImgDirection in degrees [0, 360), or None."""
    value = to_float(gps.get(GPS_IMG_DIRECTION))
    if value is None or value < 0:
        return None
    return value % 360.0


def gps_utc(gps: Mapping[int, Any]) -> datetime | None:
    """The GPS UTC time from GPSDateStamp + GPSTimeStamp (aware, whole seconds), or None."""
    date_text = clean_text(gps.get(GPS_DATESTAMP), max_len=20)
    stamp = gps.get(GPS_TIMESTAMP)
    if not date_text or not isinstance(stamp, (tuple, list)) or len(stamp) != 3:
        return None
    hms = [to_fraction(v) for v in stamp]
    if any(v is None or v < 0 for v in hms):
        return None
    match = re.match(r"^(\d{4})[:\-/](\d{2})[:\-/](\d{2})$", date_text)
    if not match:
        return None
    seconds = hms[0] * 3600 + hms[1] * 60 + hms[2]
    if seconds >= 86400:
        return None
    try:
        day = datetime(*map(int, match.groups()), tzinfo=timezone.utc)
    except ValueError:
        return None
    return day + timedelta(seconds=round(seconds))


def parse_offset(value: Any) -> timezone | None:
    """An EXIF OffsetTime* string (``+08:00``) as a timezone, or None when invalid."""
    text = clean_text(value, max_len=10)
    if not text:
        return None
    if text == "Z":
        return timezone.utc
    match = _OFFSET_RE.match(text)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if int(minutes) >= 60 or delta > MAX_UTC_OFFSET:
        return None
    return timezone(-delta if sign == "-" else delta)


def parse_exif_datetime(value: Any) -> datetime | None:
    """An EXIF ``YYYY:MM:DD HH:MM:SS`` (optionally with ``Z`` or an offset) as a datetime.

    Naive unless the string itself carries a zone. Blank or zero dates give None.
    """
    text = clean_text(value, max_len=40)
    match = _DATETIME_RE.match(text) if text else None
    if not match:
        return None
    *fields, zone = match.groups()
    try:
        stamp = datetime(*map(int, fields))
    except ValueError:
        return None
    if zone:
        tz = parse_offset(zone)
        return stamp.replace(tzinfo=tz) if tz else stamp
    return stamp


def offset_from_gps(local: datetime, utc: datetime) -> timezone | None:
    """The UTC offset implied by naive camera time and GPS UTC, rounded to 15 minutes.

    None when the difference is beyond ±14 h (the camera clock or the fix is wrong).
    """
    diff = local - utc.replace(tzinfo=None)
    quarters = round(diff.total_seconds() / 900)
    offset = timedelta(minutes=15 * quarters)
    if abs(offset) > MAX_UTC_OFFSET:
        return None
    return timezone(offset)


def orientation_value(value: Any) -> int | None:
    """EXIF orientation 1-8, or None for anything else."""
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def png_exif_chunk(data: bytes) -> bytes | None:
    """The payload of a PNG ``eXIf`` chunk found by walking the chunk list (no decoding)."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"eXIf":
            return data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            return None
        pos += 12 + length
    return None
