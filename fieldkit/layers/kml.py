"""KML reader. The XML is screened for DTDs/entities and NetworkLinks before GDAL parses it;
every folder (GDAL layer) is read and concatenated. KML is WGS84 by specification, but a
``--crs gcj02``/``bd09`` may still say the points were picked on a Chinese web map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import safety
from .base import BaseReader, RawLayer, ReadOptions
from .ogr_ import ogr_layers, raw_from_ogr
from .sources import Source


class KMLReader(BaseReader):
    """``.kml`` files (plain or inside a zip)."""

    formats = ("kml",)

    def read(self, source: Source, options: ReadOptions) -> RawLayer:
        """Screen the XML, then read and concatenate all layers."""
        safety.check_xml_bytes(source.label, source.read_bytes(limit=safety.XML_SCAN_BYTES) or b"")
        parts = [raw_from_ogr(source, layer=name, default_crs="EPSG:4326") for name in ogr_layers(source)]
        if not parts:
            parts = [raw_from_ogr(source, default_crs="EPSG:4326")]
        raw = parts[0]
        if len(parts) > 1:
            raw.geoms = np.concatenate([p.geoms for p in parts])
            raw.attributes = pd.concat([p.attributes for p in parts], ignore_index=True)
            raw.rows = np.arange(1, len(raw.geoms) + 1)
            raw.warnings = [w for p in parts for w in p.warnings]
        raw.declared_crs = None
        raw.encoding, raw.encoding_source = "utf-8", "format"
        return raw
