"""Where a photo was taken: EXIF GPS, else a GPX track by time, else the device, else a pin.

Every photo records which source placed it (``Placement.source``) and, when a source could not,
why (``Placement.note``). Device and pin coordinates may come in GCJ-02 or BD-09 (copied from
AMap or Baidu) and are converted to WGS84 here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from ..errors import InputError
from .geotag import TrackPoint, camera_time_to_utc, locate_explained
from .metadata import PhotoMetadata, parse_iso


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a photo goes, which source said so, and a note (e.g. why the track did not)."""

    lat: float | None
    lon: float | None
    alt: float | None
    source: str
    note: str | None = None


@dataclass(slots=True)
class PlaceContext:
    """Everything besides the photo itself that can place it."""

    track: list[TrackPoint] | None = None
    time_offset: timedelta = timedelta(0)
    camera_tz: tzinfo | None = None
    device: tuple | None = None  # (lat, lon, accuracy_m[, crs_key]) from the browser
    manual: tuple | None = None  # (lat, lon, crs_key) pin

    def check(self) -> None:
        """Raise :class:`InputError` if the device position or the pin is not a valid position."""
        if self.device is not None:
            _to_wgs84(self.device[0], self.device[1], _crs_of(self.device, 3), "device position")
        if self.manual is not None:
            _to_wgs84(self.manual[0], self.manual[1], _crs_of(self.manual, 2), "manual pin")



def place(meta: PhotoMetadata, ctx: PlaceContext) -> Placement:
    """Place a photo: EXIF GPS, else the GPX track, else the device position, else the pin."""
    if meta.lat is not None and meta.lon is not None:
        return Placement(meta.lat, meta.lon, meta.alt, "exif")
    notes = ["no GPS position in EXIF"]
    if ctx.track is not None:
        position, note = _from_track(meta, ctx)
        if position is not None:
            return Placement(*position, "gpx", note)
        notes.append(f"GPX: {note}")
    if ctx.device is not None:
        lat, lon = _to_wgs84(ctx.device[0], ctx.device[1], _crs_of(ctx.device, 3), "device position")
        accuracy = ctx.device[2] if len(ctx.device) > 2 else None
        notes.append(f"device position (accuracy {accuracy:.0f} m)" if accuracy is not None else "device position")
        return Placement(lat, lon, None, "device", "; ".join(notes))
    if ctx.manual is not None:
        lat, lon = _to_wgs84(ctx.manual[0], ctx.manual[1], _crs_of(ctx.manual, 2), "manual pin")
        return Placement(lat, lon, None, "manual", "; ".join([*notes, "placed by a manual pin"]))
    return Placement(None, None, None, "none", "; ".join(notes))


def _from_track(meta: PhotoMetadata, ctx: PlaceContext) -> tuple[tuple | None, str]:
    taken = parse_iso(meta.taken_at)
    if taken is None:
        return None, "the photo has no capture time"
    try:
        when = camera_time_to_utc(taken, ctx.camera_tz, ctx.time_offset)
    except InputError as exc:
        return None, str(exc)
    return locate_explained(ctx.track, when)


def _crs_of(values: tuple, index: int) -> str | None:
    return values[index] if len(values) > index else None


def _to_wgs84(lat: float, lon: float, crs_key: str | None, what: str) -> tuple[float, float]:
    """Check a coordinate pair and convert it from GCJ-02/BD-09 when so declared."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InputError(f"{what}: latitude/longitude must be numbers, got {lat!r}, {lon!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise InputError(f"{what}: ({lat}, {lon}) is not a valid latitude/longitude")
    from ..geo.crs import resolve_crs

    key = resolve_crs(crs_key).key if crs_key else "EPSG:4326"
    if key in ("EPSG:4326", "EPSG:4490"):
        return lat, lon
    from ..geo import chinese

    convert = {"gcj02": chinese.gcj02_to_wgs84, "bd09": chinese.bd09_to_wgs84}.get(key)
    if convert is None:
        raise InputError(f"{what}: coordinates in {crs_key!r} are not supported (use wgs84, gcj02 or bd09)")
    lon, lat = convert(lon, lat)
    return float(lat), float(lon)


def capture_time_utc(meta: PhotoMetadata, ctx: PlaceContext) -> datetime | None:
    """The true capture time as naive UTC (clock offset applied), when it can be known."""
    taken = parse_iso(meta.taken_at)
    if taken is not None and (taken.tzinfo is not None or ctx.camera_tz is not None):
        return camera_time_to_utc(taken, ctx.camera_tz, ctx.time_offset).replace(tzinfo=None)
    utc = parse_iso(meta.taken_at_utc)  # GPS clock: no camera offset applies
    return utc.astimezone(timezone.utc).replace(tzinfo=None) if utc else None
