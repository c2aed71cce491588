"""From a :class:`RawLayer` to an :class:`ImportResult`: CRS, swap check, repair, kind check,
reprojection to WGS84, outside-China flags and line lengths. All vectorised with shapely 2;
per-feature Python work happens only for the few features that have a problem.

Swapped lat/lon: refused with a :class:`CRSError` that names ``--swap-xy``; with
``swap_xy=True`` x and y are exchanged before anything else and the report says so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ..errors import CRSError, InputError
from ..geo.crs import CHINA_BBOX, CRSInfo, looks_swapped, plausible_lonlat, resolve_crs, suggest_crs, to_wgs84
from . import fields
from .base import KIND_GEOMETRY, LINE_TYPES, ImportReport, ImportResult, Problem, RawLayer

TYPE_NAMES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
              "MultiPolygon", "GeometryCollection")
FAMILY_TYPES = {"point": (0, 4), "line": LINE_TYPES, "polygon": (3, 6)}
OFFSET_KEYS = ("gcj02", "bd09")


def validate(
    raw: RawLayer,
    *,
    kind: str | None = None,
    crs: str | None = None,
    swap_xy: bool = False,
    id_field: str | None = None,
    name_field: str | None = None,
    measure: bool = True,
) -> ImportResult:
    """Validate and reproject ``raw``; raise :class:`InputError`/:class:`CRSError` when unusable.

    With ``measure=False`` line lengths are left to the caller (:meth:`ImportResult.measure`):
    storage measures a large layer chunk by chunk while the previous chunk is being written.
    """
    report = ImportReport(
        file=str(raw.path), source_format=raw.source_format, driver=raw.driver, kind=kind,
        encoding=raw.encoding, encoding_source=raw.encoding_source, features_read=len(raw.geoms),
        warnings=list(raw.warnings),
    )
    fids = fields.feature_ids(raw, id_field, report)
    for problem in raw.problems:
        report.add_problem(problem)
    keep = _drop_empty(raw, fids, report)
    index = np.flatnonzero(keep)
    geoms, rows, fids = raw.geoms[keep], raw.rows[keep], _subset(fids, index)
    attributes = _subset(raw.attributes, index)
    if len(geoms) == 0:
        raise InputError(f"{raw.path}: no features with a geometry")
    info = _settle_crs(raw, geoms, crs, report)
    geoms = _swap_if_needed(raw, geoms, info, swap_xy, report)
    geoms, repaired = _repair(geoms, rows, fids, kind, report)
    keep = _check_kind(raw, geoms, rows, fids, kind, report)
    kept = np.flatnonzero(keep)
    geoms, rows, fids, repaired, index = geoms[keep], rows[keep], _subset(fids, kept), repaired[keep], index[keep]
    attributes = _subset(attributes, kept)
    geoms = to_wgs84(geoms, info)
    bounds = shapely.bounds(geoms)
    outside = _flag_outside_china(bounds, rows, fids, report)
    flags = _flags(repaired, outside)
    result = _finish(raw, report, geoms, bounds, fids, attributes, flags, name_field, measure)
    moved = report.swapped_xy or not info.is_wgs84  # every coordinate was rewritten
    result.wkb = None if moved else _source_wkb(raw, index, ~repaired)
    return result


def _source_wkb(raw: RawLayer, index: np.ndarray, unchanged: np.ndarray) -> pa.Array | None:
    """The file's WKB of the features kept (``index``) where validation left the geometry as it
    was read (``unchanged``) and the bytes are what shapely would write (little-endian 2D WKB);
    null elsewhere. None when the reader kept no WKB or nothing is reusable."""
    if raw.wkb is None or len(index) == 0:
        return None
    wkb = _subset(raw.wkb, index)
    same = unchanged & _plain_wkb(wkb)
    if not same.any():
        return None
    if same.all():
        return wkb
    return pc.if_else(pa.array(same), wkb, pa.nulls(len(wkb), wkb.type))


def _subset(values, index: np.ndarray):
    """The rows ``index`` (ascending) of an Arrow array or a data frame; itself when that is all of them."""
    if isinstance(values, pa.Array):
        return values if len(index) == len(values) else values.take(pa.array(index))
    if len(index) == len(values) and values.index.equals(pd.RangeIndex(len(values))):
        return values
    return values.iloc[index].reset_index(drop=True)


def _plain_wkb(wkb: pa.Array) -> np.ndarray:
    """True where an element of a binary array is little-endian 2D ISO WKB (types 1-7): no Z,
    M or SRID, read from each value's first five bytes without decoding it."""
    n = len(wkb)
    if wkb.null_count == n:
        return np.zeros(n, dtype=bool)
    offset_type = np.int64 if pa.types.is_large_binary(wkb.type) else np.int32
    offsets = np.frombuffer(wkb.buffers()[1], dtype=offset_type)[wkb.offset: wkb.offset + n + 1].astype(np.int64)
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)
    start = offsets[:-1]
    plain = (offsets[1:] - start) >= 5
    if wkb.null_count:
        plain &= ~np.asarray(wkb.is_null())
    at = start[plain]
    kind = data[at + 1]
    plain[plain] = (data[at] == 1) & (kind >= 1) & (kind <= 7) & ((data[at + 2] | data[at + 3] | data[at + 4]) == 0)
    return plain


def _label(row: int, fid: str) -> str:
    return f"feature #{row}" if fid == str(row) else f"feature #{row} (id {fid!r})"


def _drop_empty(raw: RawLayer, fids: np.ndarray, report: ImportReport) -> np.ndarray:
    missing = shapely.is_missing(raw.geoms)
    empty = missing | shapely.is_empty(raw.geoms)
    coords, owner = shapely.get_coordinates(raw.geoms, return_index=True)
    nan = np.zeros(len(raw.geoms), dtype=bool)  # NaN or infinity in an x or y
    nan[owner[~np.isfinite(coords).all(axis=1)]] = True
    already = {p.row for p in raw.problems}  # rows the reader already explained (bad CSV coordinates)
    for i in np.flatnonzero(empty | nan):
        row, fid = int(raw.rows[i]), fids[int(i)].as_py()
        if row in already:
            report.dropped_bad_coords += 1
        elif nan[i]:
            report.dropped_bad_coords += 1
            report.add_problem(Problem(row, fid, "bad_coordinates",
                                       f"{_label(row, fid)}: a coordinate is not a finite number; dropped"))
        else:
            report.dropped_empty += 1
            what = "no geometry" if missing[i] else "empty geometry"
            report.add_problem(Problem(row, fid, "empty", f"{_label(row, fid)}: {what}; dropped"))
    return ~(empty | nan)


def _settle_crs(raw: RawLayer, geoms: np.ndarray, option: str | None, report: ImportReport) -> CRSInfo:
    """The CRS the coordinates are in: the file's, else ``option``, else WGS84 if plausible."""
    bounds = shapely.total_bounds(geoms)
    if raw.declared_crs:
        declared = resolve_crs(raw.declared_crs)
        if option and resolve_crs(option).key in OFFSET_KEYS and declared.key in ("EPSG:4326", "EPSG:4490"):
            info, report.crs_source = resolve_crs(option), "option"
            report.warnings.append(f"file declares {declared.key}; coordinates taken as {info.key} as told")
        else:
            info, report.crs_source = declared, "file"
            if option and resolve_crs(option).key != declared.key:
                report.warnings.append(f"--crs {option} ignored: the file declares {declared.key}")
    elif option:
        info, report.crs_source = resolve_crs(option), "option"
    elif plausible_lonlat(bounds) or looks_swapped(bounds):
        info, report.crs_source = resolve_crs(raw.default_crs or "EPSG:4326"), "assumed"
        report.warnings.append(
            f"no CRS in the file and none given: assumed WGS84 lon/lat (EPSG:4326) because the "
            f"coordinates {_fmt(bounds)} are plausible longitude/latitude"
        )
    else:
        raise CRSError(f"{raw.path}: the file declares no CRS and no --crs was given, and the coordinates "
                       f"{_fmt(bounds)} are not plausible longitude/latitude. {_suggest(bounds)}")
    report.crs = info.key if len(info.key) <= 60 else info.label
    if _geographic(info) and not plausible_lonlat(bounds) and not looks_swapped(bounds):
        raise CRSError(f"{raw.path}: coordinates {_fmt(bounds)} are not longitude/latitude, although the "
                       f"CRS is {info.label} ({report.crs_source}). {_suggest(bounds)}")
    return info


def _geographic(info: CRSInfo) -> bool:
    return info.key in OFFSET_KEYS or bool(info.pyproj_crs is not None and info.pyproj_crs.is_geographic)


def _fmt(bounds) -> str:
    return "x {:.6g}..{:.6g}, y {:.6g}..{:.6g}".format(bounds[0], bounds[2], bounds[1], bounds[3])


def _suggest(bounds) -> str:
    candidates = suggest_crs(bounds)
    if not candidates:
        return "Give the CRS with --crs (e.g. --crs EPSG:4543)."
    listed = "; ".join(f"{key} ({why})" for key, why in candidates[:6])
    return f"Give the CRS with --crs; candidates: {listed}"


def _swap_if_needed(raw: RawLayer, geoms: np.ndarray, info: CRSInfo, swap_xy: bool, report: ImportReport):
    bounds = shapely.total_bounds(geoms)
    if swap_xy:
        report.swapped_xy = True
        if not looks_swapped(bounds):
            report.warnings.append("x and y swapped as told, although they did not look swapped")
        return shapely.transform(geoms, lambda c: c[:, ::-1].copy())
    if _geographic(info) and looks_swapped(bounds):
        raise CRSError(
            f"{raw.path}: latitude and longitude look swapped (x {bounds[0]:.4f}..{bounds[2]:.4f} is a "
            f"latitude range in China, y {bounds[1]:.4f}..{bounds[3]:.4f} a longitude range). "
            "Fix the file, or import with --swap-xy (swap_xy=True) to exchange them"
        )
    return geoms


def _repair(geoms, rows, fids, kind: str | None, report: ImportReport) -> tuple[np.ndarray, np.ndarray]:
    repaired = ~shapely.is_valid(geoms)
    invalid = np.flatnonzero(repaired)
    if invalid.size == 0:
        return geoms, repaired
    geoms = geoms.copy()
    reasons = shapely.is_valid_reason(geoms[invalid])
    fixed = shapely.make_valid(geoms[invalid])
    family = KIND_GEOMETRY.get(kind or "")
    for i, reason, geom in zip(invalid, reasons, fixed):
        if family and shapely.get_type_id(geom) == 7:
            geom = _keep_family(geom, family)
        geoms[i] = geom
        report.repaired += 1
        row, fid = int(rows[i]), fids[int(i)].as_py()
        report.add_problem(Problem(row, fid, "repaired",
                                   f"{_label(row, fid)}: invalid geometry ({reason}); repaired with make_valid"))
    return geoms, repaired


def _keep_family(geom, family: str):
    """The parts of a GeometryCollection of one family, as a single or multi geometry."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    parts = [p for p in parts if shapely.get_type_id(p) in FAMILY_TYPES[family]]
    if not parts:
        return geom
    if len(parts) == 1:
        return parts[0]
    maker = {"point": shapely.MultiPoint, "line": shapely.MultiLineString, "polygon": shapely.MultiPolygon}
    return maker[family](parts)


def _check_kind(raw, geoms, rows, fids, kind: str | None, report: ImportReport) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    ids, counts = np.unique(types, return_counts=True)
    report.geometry_types = {TYPE_NAMES[int(t)]: int(c) for t, c in zip(ids, counts)}
    if not kind:
        return np.ones(len(geoms), dtype=bool)
    family = KIND_GEOMETRY[kind]
    fits = np.isin(types, FAMILY_TYPES[family])
    if not fits.any():
        raise InputError(
            f"{raw.path}: a {kind} layer needs {family} geometries, but the file holds "
            f"{', '.join(f'{c} {t}' for t, c in report.geometry_types.items())}"
        )
    for i in np.flatnonzero(~fits):
        report.dropped_wrong_type += 1
        row, fid = int(rows[i]), fids[int(i)].as_py()
        report.add_problem(Problem(row, fid, "wrong_geometry_type",
                                   f"{_label(row, fid)}: {geoms[i].geom_type} "
                                   f"does not fit a {kind} layer ({family}s); dropped"))
    return fits


def _flag_outside_china(b: np.ndarray, rows, fids, report: ImportReport) -> np.ndarray:
    lon0, lat0, lon1, lat1 = CHINA_BBOX
    outside = (b[:, 0] < lon0) | (b[:, 2] > lon1) | (b[:, 1] < lat0) | (b[:, 3] > lat1)
    for i in np.flatnonzero(outside):
        report.outside_china += 1
        row, fid = int(rows[i]), fids[int(i)].as_py()
        report.add_problem(Problem(row, fid, "outside_china",
                                   f"{_label(row, fid)}: lies outside China's bounding box ({_fmt(b[i])}); kept, flagged"))
    if outside.size and outside.all():
        report.warnings.append("every feature lies outside China: is the CRS right?")
    return outside


def _flags(repaired: np.ndarray, outside: np.ndarray) -> list[list[str] | None]:
    flags: list[list[str] | None] = [None] * len(repaired)
    for i in np.flatnonzero(repaired | outside):
        flags[i] = ["repaired"] * bool(repaired[i]) + ["outside_china"] * bool(outside[i])
    return flags


def _finish(raw, report, geoms, bounds, fids, attributes, flags, name_field, measure: bool) -> ImportResult:
    types = shapely.get_type_id(geoms)
    report.features_stored = len(geoms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no bounds, as shapely.total_bounds
        report.bounds = [float(np.nanmin(bounds[:, 0])), float(np.nanmin(bounds[:, 1])),
                         float(np.nanmax(bounds[:, 2])), float(np.nanmax(bounds[:, 3]))]
    names = fields.feature_names(raw, attributes, name_field, report)
    result = ImportResult(report, geoms, fids, names, None, attributes, flags, bounds, types)
    if measure:
        result.measure()
    return result
