"""GeoJSON reader, honouring the legacy (2008) ``crs`` member that RFC 7946 dropped.

Without a ``crs`` member nothing is declared: RFC 7946 implies WGS84, which is assumed only
when no ``--crs`` is given and the numbers are plausible longitude/latitude.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import CRSError, InputError
from ..geo.crs import legacy_geojson_crs
from .base import BaseReader, RawLayer, ReadOptions
from .ogr_ import raw_from_ogr
from .sources import Source

MAX_PARSE_BYTES = 512 * 1024**2


class GeoJSONReader(BaseReader):
    """GeoJSON FeatureCollection / Feature / geometry files (``.geojson``, ``.json``)."""

    formats = ("geojson",)

    def read(self, source: Source, options: ReadOptions) -> RawLayer:
        """Parse the JSON (for a clear error and the ``crs`` member), then read it with GDAL."""
        document = _parse(source)
        raw = raw_from_ogr(source, default_crs="EPSG:4326")
        gdal_crs, raw.declared_crs = raw.declared_crs, None
        if isinstance(document, dict) and document.get("crs") is not None:
            raw.declared_crs = _declared(source, document["crs"], gdal_crs)
        elif document is None and gdal_crs not in (None, "EPSG:4326"):
            raw.declared_crs = gdal_crs  # too big to parse here: trust GDAL's reading of it
        raw.encoding, raw.encoding_source = "utf-8", "format"
        return raw


def _parse(source: Source) -> Any:
    data = source.read_bytes(limit=MAX_PARSE_BYTES + 1)
    if data is None or len(data) > MAX_PARSE_BYTES:
        return None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{source.label}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or "type" not in document:
        raise InputError(f"{source.label}: JSON but not GeoJSON (no top-level object with a \"type\")")
    return document


def _declared(source: Source, member: Any, gdal_crs: str | None) -> str:
    key = legacy_geojson_crs(member) if isinstance(member, dict) else None
    if key:
        return key
    if gdal_crs and gdal_crs != "EPSG:4326":
        return gdal_crs
    raise CRSError(f"{source.label}: the GeoJSON \"crs\" member {member!r} names no CRS FieldKit knows")
