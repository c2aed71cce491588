"""GIS exports of photos and findings: GeoJSON, GeoPackage, KML and CSV, all WGS84 (EPSG:4326).

GeoPackage and KML hold two layers (``findings`` and ``photos``); GeoJSON and CSV hold one, the
``layer`` chosen. Field names are ASCII (safe in every format and in QGIS expressions); values
keep their Chinese text (UTF-8) and codes come with a ``*_zh`` label beside them. KML text
is also HTML-escaped because KML viewers render it as HTML. CSV has
``lon``/``lat`` and a ``WKT`` column (GDAL reads it as the geometry), a UTF-8 BOM for Excel,
and formula-neutralised text cells. Only placed photos have a geometry, so unplaced ones are
left out (the count is returned).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import html
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from ..errors import InputError, StorageError
from ..labels import (
    FINDING_STATES_ZH,
    LOCATION_SOURCES_ZH,
    SEVERITIES_ZH,
    URGENCIES_ZH,
    zh,
)
from .safety import neutralise_cell, strip_xml_illegal
from .scope import UNRESTRICTED, ExportScope, finding_cases, scope_findings, scope_photos, taxonomy

CRS = "EPSG:4326"
FORMATS = {"geojson": "GeoJSON", "gpkg": "GPKG", "kml": "KML", "csv": "CSV"}
LAYERS = ("findings", "photos")
MULTI_LAYER = ("gpkg", "kml")
KML_NS = "http://www.opengis.net/kml/2.2"
ET.register_namespace("", KML_NS)


@dataclasses.dataclass(frozen=True, slots=True)
class GisExport:
    """What :func:`write_gis` wrote: features per layer and photos left out for lack of a place."""

    path: Path
    fmt: str
    counts: dict[str, int]
    unplaced_photos: int


def findings_frame(rt, scope: ExportScope) -> gpd.GeoDataFrame:
    """The scope's findings as a GeoDataFrame (EPSG:4326) with Chinese labels beside the codes."""
    tax = taxonomy()
    domains = {d.id: d.name_zh for d in tax.domains}
    views = [v for v in scope_findings(rt, scope) if v.lon is not None and v.lat is not None]
    cases = finding_cases(rt, [v.id for v in views])
    rows = []
    for v in views:
        cat = tax.get(v.category_id) if v.category_id in tax else None
        label = cat.name_zh if cat else v.category_id
        rows.append({
            "name": f"{label} #{v.id}", "finding_id": v.id, "category": v.category_id, "category_zh": label,
            "domain_zh": domains.get(v.domain or "", v.domain), "severity_zh": zh(SEVERITIES_ZH, v.severity),
            "urgency_zh": zh(URGENCIES_ZH, v.urgency), "state": v.state,
            "state_zh": zh(FINDING_STATES_ZH, v.state), "note": v.note, "place": v.place,
            "observed_at": _utc(v.observed_at), "feature_fid": v.feature_fid, "feature_name": v.feature_name,
            "chainage": v.chainage_label, "photo_ids": ",".join(map(str, v.photo_ids)),
            "case_ids": ",".join(map(str, cases.get(v.id, []))), "lon": v.lon, "lat": v.lat,
        })
    return _frame(rows, ["name", "finding_id", "category", "category_zh", "domain_zh", "severity_zh", "urgency_zh",
                         "state", "state_zh", "note", "place", "observed_at", "feature_fid", "feature_name",
                         "chainage", "photo_ids", "case_ids", "lon", "lat"])


def photos_frame(rt, scope: ExportScope, viewer: Any = UNRESTRICTED) -> tuple[gpd.GeoDataFrame, int]:
    """The scope's placed photos as a GeoDataFrame, and how many photos had no place."""
    photos = scope_photos(rt, scope, viewer)
    placed = [p for p in photos if p.lon is not None and p.lat is not None]
    rows = [{
        "name": p.original_name, "photo_id": p.id, "sha256": p.sha256, "taken_at": p.taken_at,
        "taken_utc": _utc(p.taken_at_utc), "source": p.location_source,
        "source_zh": zh(LOCATION_SOURCES_ZH, p.location_source), "location_note": p.location_note,
        "inspection": p.inspection, "uploaded_by": p.uploaded_by, "alt": p.alt, "bearing": p.bearing,
        "lon": p.lon, "lat": p.lat,
    } for p in placed]
    frame = _frame(rows, ["name", "photo_id", "sha256", "taken_at", "taken_utc", "source", "source_zh",
                          "location_note", "inspection", "uploaded_by", "alt", "bearing", "lon", "lat"])
    return frame, len(photos) - len(placed)


def _utc(value: dt.datetime | None):
    if value is None:
        return pd.NaT
    return pd.Timestamp(value.replace(tzinfo=None)).tz_localize("UTC")


def _frame(rows: list[dict], columns: list[str]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in df.columns:
        if df[col].dtype == object or str(df[col].dtype).startswith(("str", "string")):
            df[col] = df[col].map(lambda v: strip_xml_illegal(v) if isinstance(v, str) else v)
    for col in ("observed_at", "taken_utc"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col], utc=True)
    geometry = shapely.points(df["lon"].to_numpy(float), df["lat"].to_numpy(float)) if rows else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geometry, crs=CRS), crs=CRS)


def write_gis(rt, scope: ExportScope, path: str | Path, fmt: str | None = None, *, layer: str = "findings",
              viewer: Any = UNRESTRICTED) -> GisExport:
    """Write the scope's findings and photos to ``path`` in ``fmt`` (geojson, gpkg, kml, csv;
    default from the suffix). GeoJSON and CSV hold ``layer`` only; GPKG and KML hold both."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if layer not in LAYERS:
        raise InputError(f"layer {layer!r}: use one of {', '.join(LAYERS)}")
    wanted = LAYERS if fmt in MULTI_LAYER else (layer,)
    frames: dict[str, gpd.GeoDataFrame] = {}
    unplaced = 0
    if "findings" in wanted:
        frames["findings"] = findings_frame(rt, scope)
    if "photos" in wanted:
        frames["photos"], unplaced = photos_frame(rt, scope, viewer)
    try:
        path.unlink(missing_ok=True)
        for name, frame in frames.items():
            _write_one(frame, path, fmt, name)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the {fmt} export ({exc})") from exc
    return GisExport(path, fmt, {k: len(v) for k, v in frames.items()}, unplaced)


def _write_one(frame: gpd.GeoDataFrame, path: Path, fmt: str, name: str) -> None:
    if fmt == "csv":
        write_csv(frame, path)
    elif fmt == "kml":
        append_kml(frame, path, name, description="note" if name == "findings" else "location_note")
    else:
        options = {"RFC7946": "YES"} if fmt == "geojson" else {}
        pyogrio.write_dataframe(_iso_times(frame) if fmt == "geojson" else frame, path, layer=name,
                                driver=FORMATS[fmt], append=path.exists(), geometry_type="Point",
                                promote_to_multi=False, **options)


def _iso_times(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Datetime columns as ISO 8601 text (``2025-05-06T02:30:00Z``) for formats without a date type."""
    frame = frame.copy()
    for col in ("observed_at", "taken_utc"):
        if col in frame.columns:
            frame[col] = frame[col].map(lambda t: None if pd.isna(t) else t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return frame


_KML_TYPES = {"int64": "int", "float64": "double"}


def append_kml(frame: gpd.GeoDataFrame, path: Path, layer: str, *, description: str) -> None:
    """Add ``frame`` to the KML at ``path`` as a ``<Folder>`` (GDAL reads each folder as a layer)
    with a typed ``<Schema>``; ``name`` becomes the placemark name, ``description`` its text.
    Written with ElementTree, so every value is XML-escaped."""
    frame = _iso_times(frame)
    if path.exists():
        root = ET.parse(path).getroot()
        doc = root.find(f"{{{KML_NS}}}Document")
    else:
        root = ET.Element(f"{{{KML_NS}}}kml")
        doc = ET.SubElement(root, f"{{{KML_NS}}}Document", id="root_doc")
    k = functools.partial(ET.SubElement)
    columns = [c for c in frame.columns if c not in ("geometry", "name", description)]
    schema = ET.Element(f"{{{KML_NS}}}Schema", name=layer, id=layer)
    for col in columns:
        kind = _KML_TYPES.get(str(frame[col].dtype), "string")
        k(schema, f"{{{KML_NS}}}SimpleField", name=col, type=kind)
    doc.insert(sum(1 for child in doc if child.tag == f"{{{KML_NS}}}Schema"), schema)
    folder = k(doc, f"{{{KML_NS}}}Folder")
    k(folder, f"{{{KML_NS}}}name").text = layer
    for geom, row in zip(frame.geometry, frame.to_dict("records")):
        mark = k(folder, f"{{{KML_NS}}}Placemark")
        k(mark, f"{{{KML_NS}}}name").text = _kml_text(row.get("name"))
        if not _missing(row.get(description)):
            k(mark, f"{{{KML_NS}}}description").text = _kml_text(row[description])
        data = k(k(mark, f"{{{KML_NS}}}ExtendedData"), f"{{{KML_NS}}}SchemaData", schemaUrl=f"#{layer}")
        for col in columns:
            if not _missing(row[col]):
                k(data, f"{{{KML_NS}}}SimpleData", name=col).text = _kml_text(row[col])
        point = k(mark, f"{{{KML_NS}}}Point")
        k(point, f"{{{KML_NS}}}coordinates").text = f"{geom.x:.7f},{geom.y:.7f}"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _kml_text(value: Any) -> str:
    """Text for a KML element. Google Earth and 奥维 render names, descriptions and data values
    as HTML, so ``<``, ``>`` and ``&`` are entity-escaped (a note shows as typed, never as markup)."""
    return html.escape(strip_xml_illegal(str(value)), quote=False)


def write_csv(frame: gpd.GeoDataFrame, path: str | Path) -> None:
    """A UTF-8 (BOM) CSV: ``WKT`` then every attribute column; text cells formula-neutralised."""
    frame = _iso_times(frame)
    columns = [c for c in frame.columns if c != "geometry"]
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["WKT", *columns])
        for geom, row in zip(frame.geometry, frame[columns].itertuples(index=False)):
            values = [None if _missing(v) else v for v in row]
            out.writerow([shapely.to_wkt(geom, rounding_precision=7), *(neutralise_cell(v) for v in values)])


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
