"""Place photos without GPS by their time on a GPX track.

``parse_gpx`` reads GPX 1.0/1.1 track and route points with expat, refusing any entity
declaration (billion laughs, external entities). ``locate`` interpolates linearly in time and
never guesses outside the track or across a long gap; ``locate_explained`` also says why.
Camera clocks are corrected with an offset (``true time = camera time + offset``) that
``estimate_offset`` can derive from one photo taken at a known place.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from xml.parsers import expat
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError, UnsafeFileError

Position = tuple[float, float, float | None]
EARTH_RADIUS_M = 6_371_008.8
SAME_PLACE_M = 25.0  # passes this much farther than the nearest still count as "at the place"


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One timed GPX point: aware UTC time, WGS84 lat/lon, altitude in metres (or None)."""

    time: datetime
    lat: float
    lon: float
    alt: float | None = None


class _GpxHandler:
    """Expat callbacks collecting trkpt/rtept; any entity declaration aborts the parse."""

    POINTS = {"trkpt", "rtept"}

    def __init__(self, name: str, parser: expat.XMLParserType) -> None:
        self.name, self.parser = name, parser
        self.points: list[TrackPoint] = []
        self.current: dict | None = None
        self.text: list[str] = []
        self.untimed = 0

    def refuse_entity(self, *args) -> None:
        raise UnsafeFileError(
            f"{self.name}: line {self.parser.CurrentLineNumber}: XML entity declarations are refused"
        )

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        local = tag.rsplit(" ", 1)[-1]
        if local in self.POINTS:
            line = self.parser.CurrentLineNumber
            self.current = {"lat": attrs.get("lat"), "lon": attrs.get("lon"), "line": line}
        self.text = []

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        local = tag.rsplit(" ", 1)[-1]
        if self.current is None:
            return
        if local in ("ele", "time"):
            self.current[local] = "".join(self.text).strip()
        elif local in self.POINTS:
            self._finish(self.current)
            self.current = None

    def _finish(self, raw: dict) -> None:
        where = f"{self.name}: line {raw['line']}"
        lat, lon = _coordinate(raw["lat"], 90, where, "lat"), _coordinate(raw["lon"], 180, where, "lon")
        if not raw.get("time"):
            self.untimed += 1
            return
        alt = _optional_float(raw.get("ele"), where)
        self.points.append(TrackPoint(_gpx_time(raw["time"], where), lat, lon, alt))


def _coordinate(text: str | None, limit: float, where: str, field: str) -> float:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise InputError(f"{where}: {field}={text!r} is not a valid coordinate")
    return value


def _optional_float(text: str | None, where: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"{where}: ele={text!r} is not a number") from exc
    return value if math.isfinite(value) else None


def _gpx_time(text: str, where: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{where}: time={text!r} is not ISO 8601") from exc
    if stamp.tzinfo is None:  # GPX times are UTC by definition
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc)


def parse_gpx(source: str | Path | bytes, name: str | None = None) -> list[TrackPoint]:
    """Timed track and route points of a GPX 1.0/1.1 file, sorted by time (waypoints ignored).

    ``source`` is a path or the file's bytes. Raises :class:`InputError` naming the file and
    line for malformed XML, bad coordinates or times, or a file without timed points, and
    :class:`UnsafeFileError` for entity declarations.
    """
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), name or "<gpx>"
    else:
        name = name or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"{name}: cannot read GPX file ({exc.strerror or exc})") from exc
    parser = expat.ParserCreate(namespace_separator=" ")
    handler = _GpxHandler(name, parser)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = handler.refuse_entity
    parser.UnparsedEntityDeclHandler = handler.refuse_entity
    parser.ExternalEntityRefHandler = handler.refuse_entity
    parser.StartElementHandler, parser.EndElementHandler = handler.start, handler.end
    parser.CharacterDataHandler = handler.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        raise InputError(f"{name}: line {exc.lineno}: not well-formed XML ({reason})") from exc
    if not handler.points:
        raise InputError(f"{name}: no track or route points with a <time> (found {handler.untimed} untimed)")
    return sorted(handler.points, key=lambda p: p.time)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres (ample for placing photos along a track)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _lerp_lon(lon1: float, lon2: float, f: float) -> float:
    delta = lon2 - lon1
    if abs(delta) > 180:  # crossing the antimeridian: go the short way round
        delta -= math.copysign(360, delta)
    return (lon1 + f * delta + 540) % 360 - 180


def _interpolate(a: TrackPoint, b: TrackPoint, when: datetime) -> Position:
    span = (b.time - a.time).total_seconds()
    f = 0.0 if span == 0 else (when - a.time).total_seconds() / span
    alt = None
    if a.alt is not None and b.alt is not None:
        alt = a.alt + f * (b.alt - a.alt)
    else:
        alt = a.alt if f < 0.5 else b.alt
    return a.lat + f * (b.lat - a.lat), _lerp_lon(a.lon, b.lon, f), alt


def _require_aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InputError(f"{what} must be timezone-aware (got {when.isoformat()})")
    return when.astimezone(timezone.utc)


def locate_explained(
    track: list[TrackPoint], when_utc: datetime, max_gap_s: float = 300, max_outside_s: float = 60
) -> tuple[Position | None, str]:
    """``(position or None, reason)`` for the moment ``when_utc`` on ``track``.

    Interpolates between the two points around ``when_utc``; within ``max_outside_s`` before
    the first or after the last point it uses that end point; otherwise, or across a gap
    longer than ``max_gap_s``, it returns None and says why.
    """
    when = _require_aware(when_utc, "photo time")
    if not track:
        return None, "the track has no points"
    first, last = track[0], track[-1]
    if when < first.time or when > last.time:
        end = first if when < first.time else last
        away = abs((when - end.time).total_seconds())
        side = "before the track starts" if end is first else "after the track ends"
        if away <= max_outside_s:
            return (end.lat, end.lon, end.alt), f"{away:.0f} s {side}: placed at its end point"
        return None, f"{away:.0f} s {side} (more than {max_outside_s:.0f} s): not placed"
    i = bisect.bisect_left(track, when, key=lambda p: p.time)
    if track[i].time == when:
        p = track[i]
        return (p.lat, p.lon, p.alt), "at a track point"
    a, b = track[i - 1], track[i]
    gap = (b.time - a.time).total_seconds()
    if gap > max_gap_s:
        return None, f"in a {gap:.0f} s gap between track points (more than {max_gap_s:.0f} s): not placed"
    return _interpolate(a, b, when), f"interpolated between points {gap:.0f} s apart"


def locate(
    track: list[TrackPoint], when_utc: datetime, max_gap_s: float = 300, max_outside_s: float = 60
) -> Position | None:
    """``(lat, lon, alt)`` on the track at ``when_utc``, or None (see :func:`locate_explained`)."""
    return locate_explained(track, when_utc, max_gap_s, max_outside_s)[0]


def camera_time_to_utc(taken_at: datetime, camera_tz: tzinfo | None, offset: timedelta) -> datetime:
    """True UTC time of a photo: its own zone (or ``camera_tz`` if naive) plus the clock ``offset``."""
    if taken_at.tzinfo is None or taken_at.utcoffset() is None:
        if camera_tz is None:
            raise InputError(
                f"photo time {taken_at.isoformat()} has no time zone: give the camera's (e.g. --tz +08:00)"
            )
        taken_at = taken_at.replace(tzinfo=camera_tz)
    return taken_at.astimezone(timezone.utc) + offset


def _closest_on_segment(a: TrackPoint, b: TrackPoint, lat: float, lon: float) -> tuple[float, datetime]:
    """(distance m, time) of the point of segment a-b nearest (lat, lon), in a local plane."""
    k = math.cos(math.radians(lat))
    ax, ay = (a.lon - lon) * k, a.lat - lat
    bx, by = (b.lon - lon) * k, b.lat - lat
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    f = 0.0 if length2 == 0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / length2))
    p_lat, p_lon = a.lat + f * (b.lat - a.lat), a.lon + f * (b.lon - a.lon)
    return _metres(lat, lon, p_lat, p_lon), a.time + f * (b.time - a.time)


def estimate_offset_explained(
    photo_time: datetime,
    known_lat: float,
    known_lon: float,
    track: list[TrackPoint],
    camera_tz: tzinfo | None,
) -> tuple[timedelta, float]:
    """(clock offset, distance in m from the known place to the track) — see :func:`estimate_offset`."""
    if not track:
        raise InputError("cannot estimate a clock offset from an empty track")
    camera_utc = camera_time_to_utc(photo_time, camera_tz, timedelta(0))
    pairs = zip(track, track[1:]) if len(track) > 1 else [(track[0], track[0])]
    candidates = [_closest_on_segment(a, b, known_lat, known_lon) for a, b in pairs]
    nearest = min(d for d, _ in candidates)
    near = [
        (abs((t - camera_utc).total_seconds()), d, t) for d, t in candidates if d <= nearest + SAME_PLACE_M
    ]
    _, distance, when = min(near)
    return timedelta(seconds=round((when - camera_utc).total_seconds())), distance


def estimate_offset(
    photo_time: datetime,
    known_lat: float,
    known_lon: float,
    track: list[TrackPoint],
    camera_tz: tzinfo | None,
) -> timedelta:
    """The clock offset (``true = camera + offset``, whole seconds) that puts the track's
    position nearest the known place at the photo's time.

    If the track passes the place more than once, the pass closest in time to the photo wins.
    """
    return estimate_offset_explained(photo_time, known_lat, known_lon, track, camera_tz)[0]


_NUM = r"(\d+(?:\.\d+)?)"
_UNIT_RE = re.compile(rf"(?:{_NUM}h)?(?:{_NUM}m)?(?:{_NUM}s)?")


def parse_time_offset(text: str) -> timedelta:
    """Parse ``+00:01:30``, ``-01:30`` (h:mm), ``-90s``, ``90`` (seconds) or ``-1h2m`` into a timedelta."""
    raw = str(text).strip().replace(" ", "")
    sign, body = (-1, raw[1:]) if raw.startswith("-") else (1, raw.lstrip("+"))
    seconds: float | None = None
    if re.fullmatch(r"\d+(\.\d+)?", body):
        seconds = float(body)
    elif re.fullmatch(r"\d+:\d{2}(:\d{2}(\.\d+)?)?", body):
        parts = body.split(":")
        seconds = int(parts[0]) * 3600 + int(parts[1]) * 60 + (float(parts[2]) if len(parts) > 2 else 0)
    elif body and (units := _UNIT_RE.fullmatch(body)):
        seconds = sum(float(n or 0) * scale for n, scale in zip(units.groups(), (3600, 60, 1)))
    if seconds is None:
        raise InputError(f"time offset {text!r}: expected e.g. +00:01:30, -90s, 90 or -1h2m")
    return timedelta(seconds=sign * seconds)


def format_time_offset(offset: timedelta) -> str:
    """``timedelta`` → ``+HH:MM:SS`` (what ``--time-offset`` accepts)."""
    total = round(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def parse_tz(text: str) -> tzinfo:
    """A camera time zone from ``+08:00``/``-0530``/``UTC``/``Asia/Shanghai``."""
    raw = text.strip()
    match = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", raw)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta <= timedelta(hours=14) and int(minutes or 0) < 60:
            return timezone(-delta if sign == "-" else delta)
    elif raw.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    else:
        try:
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InputError(f"time zone {text!r}: expected e.g. +08:00, UTC or Asia/Shanghai")
