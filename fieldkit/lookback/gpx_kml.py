"""Export a :class:`~fieldkit.lookback.trip.TripPlan` as GPX 1.1 and KML 2.2 for phones.

GPX: one ``wpt`` per stop (name ``"1. place"``, description with case, chainage and old photos)
and one ``rte`` from the start through every stop in order. KML: a folder ``stops`` of point
placemarks in order and a folder ``route`` with the path as a LineString. Both are UTF-8, WGS84
(GPX and KML are WGS84 by definition) and read by GDAL's GPX and KML drivers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import StorageError
from .trip import TripPlan, TripStop

GPX_NS = "http://www.topografix.com/GPX/1/1"
KML_NS = "http://www.opengis.net/kml/2.2"


def describe(stop: TripStop) -> str:
    """The stop's description: case, body, category, chainage, note and old photos to re-shoot."""
    parts = [
        f"案件 {stop.case_id}: {stop.case_title}",
        f"责任单位: {stop.responsible_body}",
        f"问题 {stop.finding_id} ({stop.category_id})",
    ]
    if stop.feature_name or stop.chainage:
        parts.append(f"位置: {stop.feature_name or ''} {stop.chainage or ''}".strip())
    if stop.note:
        parts.append(f"说明: {stop.note}")
    if stop.old_photos:
        parts.append("复拍原照片: " + ", ".join(f"#{p.id} {p.original_name}" for p in stop.old_photos))
    return "\n".join(parts)


def gpx_bytes(plan: TripPlan) -> bytes:
    """The plan as GPX 1.1 (waypoints + one route)."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "FieldKit"})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    _text(meta, f"{{{GPX_NS}}}name", "回头看路线 Look-back trip")
    for stop in plan.stops:
        wpt = ET.SubElement(root, f"{{{GPX_NS}}}wpt", _latlon(stop.lat, stop.lon))
        _text(wpt, f"{{{GPX_NS}}}name", stop.name)
        _text(wpt, f"{{{GPX_NS}}}desc", describe(stop))
        _text(wpt, f"{{{GPX_NS}}}type", "lookback")
    rte = ET.SubElement(root, f"{{{GPX_NS}}}rte")
    _text(rte, f"{{{GPX_NS}}}name", "回头看路线 Look-back route")
    for name, lon, lat in _path(plan):
        pt = ET.SubElement(rte, f"{{{GPX_NS}}}rtept", _latlon(lat, lon))
        _text(pt, f"{{{GPX_NS}}}name", name)
    return _serialise(root)


def kml_bytes(plan: TripPlan) -> bytes:
    """The plan as KML 2.2 (folder ``stops`` of points, folder ``route`` with a LineString)."""
    ET.register_namespace("", KML_NS)
    k = lambda tag: f"{{{KML_NS}}}{tag}"  # noqa: E731
    root = ET.Element(k("kml"))
    doc = ET.SubElement(root, k("Document"))
    _text(doc, k("name"), "回头看路线 Look-back trip")
    stops = ET.SubElement(doc, k("Folder"))
    _text(stops, k("name"), "stops")
    for stop in plan.stops:
        mark = ET.SubElement(stops, k("Placemark"))
        _text(mark, k("name"), stop.name)
        _text(mark, k("description"), describe(stop))
        point = ET.SubElement(mark, k("Point"))
        _text(point, k("coordinates"), f"{stop.lon:.7f},{stop.lat:.7f}")
    route = ET.SubElement(doc, k("Folder"))
    _text(route, k("name"), "route")
    mark = ET.SubElement(route, k("Placemark"))
    _text(mark, k("name"), "回头看路线 Look-back route")
    line = ET.SubElement(mark, k("LineString"))
    _text(line, k("coordinates"), " ".join(f"{lon:.7f},{lat:.7f}" for _, lon, lat in _path(plan)))
    return _serialise(root)


def write_gpx(plan: TripPlan, path: str | Path) -> Path:
    """Write :func:`gpx_bytes` to ``path``."""
    return _write(path, gpx_bytes(plan))


def write_kml(plan: TripPlan, path: str | Path) -> Path:
    """Write :func:`kml_bytes` to ``path``."""
    return _write(path, kml_bytes(plan))


def _path(plan: TripPlan) -> list[tuple[str, float, float]]:
    pts = [(plan.start_name, plan.start[0], plan.start[1])]
    pts += [(s.name, s.lon, s.lat) for s in plan.stops]
    if plan.return_to_start and plan.stops:
        pts.append((plan.start_name, plan.start[0], plan.start[1]))
    return pts


def _latlon(lat: float, lon: float) -> dict[str, str]:
    return {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"}


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _write(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc
    return path
