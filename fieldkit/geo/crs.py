"""Coordinate reference systems: names users type, legacy GeoJSON ``crs``, reprojection to WGS84.

A CRS is identified by a short *key*: ``"EPSG:<code>"`` for anything pyproj knows by code,
``"gcj02"``/``"bd09"`` for coordinates copied from AMap/Tencent or Baidu maps (WGS84 plus a
deliberate offset, so no pyproj CRS describes them), or a WKT string for a CRS without code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely

from fieldkit.errors import CRSError
from fieldkit.geo import chinese

CHINA_BBOX = (73.4, 18.1, 135.1, 53.6)

_OFFSET_KEYS = {"gcj02": "GCJ-02 (AMap/Tencent: WGS84 with the official offset)",
                "bd09": "BD-09 (Baidu: GCJ-02 with Baidu's extra offset)"}
_ALIASES = {
    "wgs84": "EPSG:4326", "wgs 84": "EPSG:4326", "wgs-84": "EPSG:4326", "crs84": "EPSG:4326",
    "gps": "EPSG:4326", "cgcs2000": "EPSG:4490", "cgcs 2000": "EPSG:4490", "cgcs-2000": "EPSG:4490",
    "xian80": "EPSG:4610", "xian 80": "EPSG:4610", "xian1980": "EPSG:4610", "xian 1980": "EPSG:4610",
    "beijing54": "EPSG:4214", "beijing 54": "EPSG:4214", "beijing1954": "EPSG:4214",
    "hk1980": "EPSG:2326", "hk80": "EPSG:2326", "hk1980 grid": "EPSG:2326",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "gaode": "gcj02",
    "tencent": "gcj02", "mars": "gcj02", "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09",
    "baidu": "bd09",
}
_URN = re.compile(r"^(?:urn:ogc:def:crs:|https?://www\.opengis\.net/def/crs/)"
                  r"(?P<auth>[a-z]+)(?::|/)(?:[\d.]*)(?::|/)(?P<code>[\w.]+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CRSInfo:
    """A resolved CRS: its key (``"EPSG:4490"``, ``"gcj02"``, ``"bd09"`` or WKT) and a label."""

    key: str
    label: str

    @property
    def pyproj_crs(self) -> pyproj.CRS | None:
        """The pyproj CRS, or None for gcj02/bd09 (offset WGS84, not a real datum)."""
        return None if self.key in _OFFSET_KEYS else _pyproj(self.key)

    @property
    def is_wgs84(self) -> bool:
        """True for EPSG:4326 (coordinates need no change)."""
        return self.key == "EPSG:4326"


@lru_cache(maxsize=256)
def _pyproj(key: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(key)


@lru_cache(maxsize=256)
def _projection(key: str) -> pyproj.Proj:
    return pyproj.Proj(_pyproj(key))


@lru_cache(maxsize=256)
def _to_wgs84_transformer(key: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(_pyproj(key), 4326, always_xy=True)


@lru_cache(maxsize=256)
def _from_wgs84_transformer(key: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, _pyproj(key), always_xy=True)


def _info_from_pyproj(crs: pyproj.CRS, spec: object) -> CRSInfo:
    if not crs.is_geographic and not crs.is_projected:
        kind = "geocentric" if crs.is_geocentric else crs.type_name
        raise CRSError(f"CRS {spec!r} is {kind}, not a 2D geographic or projected CRS")
    if crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
        return CRSInfo("EPSG:4326", "WGS 84")
    epsg = crs.to_epsg(min_confidence=90)
    key = f"EPSG:{epsg}" if epsg else crs.to_wkt()
    return CRSInfo(key, crs.name if crs.name not in ("", "unknown") else f"custom {crs.type_name}")


def resolve_crs(spec: str | int | pyproj.CRS | None) -> CRSInfo:
    """Resolve a user's CRS spec to a :class:`CRSInfo`; raise :class:`CRSError` if unknown.

    Accepts EPSG codes (``4490``, ``"4490"``, ``"EPSG:4490"``, OGC URNs/URLs), names
    (``"cgcs2000"``, ``"wgs84"``, ``"xian80"``, ``"hk1980"`` = HK1980 Grid, ``"gcj02"``/``"amap"``,
    ``"bd09"``/``"baidu"``), WKT, PROJ strings and :class:`pyproj.CRS` objects.
    """
    if spec is None:
        raise CRSError("no CRS given: the file declares none and none was specified")
    if isinstance(spec, pyproj.CRS):
        return _info_from_pyproj(spec, spec.name)
    if isinstance(spec, bool) or not isinstance(spec, (str, int)):
        raise CRSError(f"CRS must be an EPSG code, a name or WKT, got {type(spec).__name__} {spec!r}")
    text = str(spec).strip()
    if not text:
        raise CRSError("empty CRS")
    alias = _ALIASES.get(re.sub(r"[\s_]+", " ", text.lower()))
    if alias in _OFFSET_KEYS:
        return CRSInfo(alias, _OFFSET_KEYS[alias])
    text = alias or legacy_name_to_key(text) or text
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        crs = _pyproj(text)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"unknown CRS {spec!r}: {_first_line(exc)}") from None
    return _info_from_pyproj(crs, spec)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def legacy_name_to_key(name: str) -> str | None:
    """``urn:ogc:def:crs:EPSG::4547`` / opengis URL / ``EPSG:4547`` / CRS84 -> ``"EPSG:4547"``."""
    text = name.strip()
    match = _URN.match(text)
    if match:
        auth, code = match["auth"].upper(), match["code"]
        if auth == "OGC" and code.upper() in {"CRS84", "CRS84H"}:
            return "EPSG:4326"
        return f"{auth}:{code}"
    if re.fullmatch(r"(?i)epsg:\s*\d+", text):
        return "EPSG:" + text.split(":")[1].strip()
    return None


def legacy_geojson_crs(crs_member: dict | None) -> str | None:
    """The CRS named by a GeoJSON 2008 ``crs`` member, or None when there is none.

    Handles ``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}`` (and
    ``EPSG:4547``, opengis URLs, ``OGC:1.3:CRS84``) and ``{"type": "EPSG", "properties":
    {"code": 4547}}``. A name that is not a recognised URN is returned as written, for
    :func:`resolve_crs` to accept or reject; ``link`` members (a URL to fetch) give None.
    """
    if not isinstance(crs_member, dict):
        return None
    props = crs_member.get("properties")
    if not isinstance(props, dict):
        return None
    kind = str(crs_member.get("type", "")).lower()
    if kind == "name" and isinstance(props.get("name"), str) and props["name"].strip():
        return legacy_name_to_key(props["name"]) or props["name"].strip()
    if kind == "epsg" and str(props.get("code", "")).strip().isdigit():
        return f"EPSG:{str(props['code']).strip()}"
    return None


def _transform_coords(func, coords: np.ndarray) -> np.ndarray:
    out = coords.copy()
    out[:, 0], out[:, 1] = func(coords[:, 0], coords[:, 1])
    return out


def to_wgs84(geoms, crs: CRSInfo) -> np.ndarray:
    """Reproject an array of shapely geometries from ``crs`` to WGS84 lon/lat (Z kept as is).

    EPSG:4326 is returned unchanged; gcj02/bd09 are converted with :mod:`fieldkit.geo.chinese`;
    everything else (including CGCS2000, within a metre of WGS84) goes through pyproj.
    Raises :class:`CRSError` when pyproj cannot transform some coordinates.
    """
    geoms = np.asarray(geoms, dtype=object)
    if crs.is_wgs84:
        return geoms
    if crs.key == "gcj02":
        func = chinese.gcj02_to_wgs84
    elif crs.key == "bd09":
        func = chinese.bd09_to_wgs84
    else:
        func = _to_wgs84_transformer(crs.key).transform
    out = shapely.transform(geoms, lambda c: _transform_coords(func, c), include_z=None)
    bad = _non_finite(out) & ~_non_finite(geoms)
    if bad.any():
        raise CRSError(f"{int(bad.sum())} of {bad.size} geometries could not be transformed from "
                       f"{crs.label} ({crs.key[:40]}) to WGS84: coordinates outside the CRS's range "
                       f"(first: index {int(np.argmax(bad))})")
    return out


def _non_finite(geoms: np.ndarray) -> np.ndarray:
    """True for present, non-empty geometries with a NaN or infinite bound."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    result = np.zeros(geoms.shape, dtype=bool)
    result[present] = ~np.isfinite(shapely.bounds(geoms[present])).all(axis=-1)
    return result


def from_wgs84_transformer(crs: CRSInfo) -> pyproj.Transformer:
    """A cached always-xy transformer from WGS84 to ``crs`` (not for gcj02/bd09)."""
    if crs.pyproj_crs is None:
        raise CRSError(f"{crs.key} is an offset of WGS84; use fieldkit.geo.chinese instead")
    return _from_wgs84_transformer(crs.key)


def inverse_transformer(crs: CRSInfo) -> pyproj.Transformer:
    """A cached always-xy transformer from ``crs`` to WGS84 (not for gcj02/bd09)."""
    if crs.pyproj_crs is None:
        raise CRSError(f"{crs.key} is an offset of WGS84; use fieldkit.geo.chinese instead")
    return _to_wgs84_transformer(crs.key)


def plausible_lonlat(bounds) -> bool:
    """True when (minx, miny, maxx, maxy) are finite and inside [-180, 180] x [-90, 90]."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return False
    return -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


def looks_swapped(bounds) -> bool:
    """True when x lies within China's latitude range and y within its longitude range."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    lon0, lat0, lon1, lat1 = CHINA_BBOX
    return lat0 <= minx <= maxx <= lat1 and lon0 <= miny <= maxy <= lon1


# Coarse longitude envelope of China (with Hainan, Taiwan, Hong Kong, Macau) per latitude band:
# (lat_from, lat_to, lon_min, lon_max), degrees, generous by ~0.5 deg. Used only to rank guesses.
_CHINA_LON_BY_LAT = (
    (18.0, 20.0, 108.5, 111.2), (20.0, 22.0, 99.5, 114.6), (22.0, 26.0, 97.3, 122.0),
    (26.0, 28.0, 88.0, 122.3), (28.0, 30.0, 81.0, 122.5), (30.0, 34.0, 78.3, 122.5),
    (34.0, 36.0, 75.5, 121.0), (36.0, 38.0, 74.5, 122.8), (38.0, 40.0, 73.4, 124.5),
    (40.0, 42.0, 73.5, 128.8), (42.0, 44.0, 79.5, 131.3), (44.0, 46.0, 80.0, 134.0),
    (46.0, 48.0, 82.0, 134.8), (48.0, 50.0, 85.5, 134.8), (50.0, 53.7, 119.0, 127.5),
)
_SLACK_DEG = 0.3


@dataclass(frozen=True, slots=True)
class _Candidate:
    code: int
    group: int  # lower sorts first
    why: str
    cm: float | None = None  # central meridian, for zone-width checks
    half_width: float | None = None


def _china_margin(lon: np.ndarray, lat: np.ndarray) -> float:
    """Smallest distance (deg) of the points inside the envelope; negative when outside."""
    margins = []
    for x, y in zip(lon, lat):
        bands = [b for b in _CHINA_LON_BY_LAT if b[0] - _SLACK_DEG <= y <= b[1] + _SLACK_DEG]
        margins.append(max((min(x - b[2], b[3] - x) for b in bands), default=-90.0))
    return min(margins)


def _gk_prefixed(minx: float, maxx: float) -> list[_Candidate]:
    zone = int(minx // 1e6)
    if zone != int(maxx // 1e6):
        return []
    why = f"easting {minx:,.0f}-{maxx:,.0f} starts with zone number {zone}"
    if 13 <= zone <= 23:
        cm = zone * 6.0 - 3.0
        return [_Candidate(4491 + zone - 13, 0, why, cm, 3.0), _Candidate(2327 + zone - 13, 1, why, cm, 3.0)]
    if 25 <= zone <= 45:
        cm = zone * 3.0
        return [_Candidate(4513 + zone - 25, 0, why, cm, 1.5), _Candidate(2349 + zone - 25, 1, why, cm, 1.5)]
    return []


def _unprefixed(minx: float, maxx: float) -> list[_Candidate]:
    why = (f"6-digit easting {minx:,.0f}-{maxx:,.0f} has no zone prefix, so the central meridian "
           "is ambiguous; the northing fixes the latitude")
    out = [_Candidate(4534 + i, 3, why, 75.0 + 3 * i, 1.5) for i in range(21)]
    out += [_Candidate(4502 + i, 4, why, 75.0 + 6 * i, 3.0) for i in range(11)]
    out += [_Candidate(32643 + i, 5, why, 75.0 + 6 * i, 3.0) for i in range(11)]
    return out


def _candidates(minx: float, miny: float, maxx: float, maxy: float) -> list[_Candidate]:
    out: list[_Candidate] = []
    if 13e6 <= minx and maxx < 46e6 and 1.5e6 <= miny and maxy <= 6.2e6:
        out += _gk_prefixed(minx, maxx)
    if 7.9e6 <= minx and maxx <= 15.2e6 and 1.9e6 <= miny and maxy <= 7.2e6:
        out.append(_Candidate(3857, 2, "x/y in metres match Web Mercator over China"))
    if 790e3 <= minx and maxx <= 880e3 and 790e3 <= miny and maxy <= 860e3:
        out.append(_Candidate(2326, 0, "easting and northing both 8xx,xxx: the Hong Kong 1980 Grid"))
    if 1e5 <= minx and maxx < 1e6 and 1.9e6 <= miny and maxy <= 6.1e6:
        out += _unprefixed(minx, maxx)
    return out


def _check(cand: _Candidate, xs: np.ndarray, ys: np.ndarray) -> tuple[float, str] | None:
    """(margin, reason) when the candidate puts the points in China, else None."""
    key = f"EPSG:{cand.code}"
    with np.errstate(invalid="ignore"):  # the projection alone (no datum shift) is enough here
        lon, lat = _projection(key)(xs, ys, inverse=True)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return None
    if cand.cm is not None and np.abs(lon - cand.cm).max() > cand.half_width + 0.1:
        return None
    margin = _china_margin(lon, lat)
    if margin < -_SLACK_DEG:
        return None
    label = _pyproj(key).name
    where = f"data would lie around {lon[-1]:.3f}E {lat[-1]:.3f}N"
    return margin, f"{label}: {cand.why}; {where}"


def suggest_crs(bounds) -> list[tuple[str, str]]:
    """Candidate CRSs ``(key, reason)`` for numbers that are not lon/lat, most plausible first.

    Recognises CGCS2000 and Xian 80 Gauss-Kruger coordinates with a zone prefix in the easting
    (3-degree zones 25-45: EPSG:4513-4533 / 2349-2369; 6-degree zones 13-23: EPSG:4491-4501 /
    2327-2337), 6-digit eastings without prefix (3-degree CM zones EPSG:4534-4554, 6-degree CM
    zones 4502-4512, UTM 43N-53N: the longitude is ambiguous, so every central meridian that
    puts the whole extent inside China is listed, most interior first), HK1980 Grid (2326) and
    Web Mercator (3857). Each candidate is checked by converting the extent's corners and
    centre back to lon/lat. Lon/lat-looking or unrecognised numbers give an empty list.
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not np.isfinite([minx, miny, maxx, maxy]).all() or plausible_lonlat(bounds):
        return []
    xs = np.array([minx, minx, maxx, maxx, (minx + maxx) / 2])
    ys = np.array([miny, maxy, miny, maxy, (miny + maxy) / 2])
    ranked = []
    for cand in _candidates(minx, miny, maxx, maxy):
        checked = _check(cand, xs, ys)
        if checked is not None:
            ranked.append((cand.group, -checked[0], f"EPSG:{cand.code}", checked[1]))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [(key, reason) for _, _, key, reason in ranked]
