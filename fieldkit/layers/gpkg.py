"""GeoPackage reader. The layer's spatial reference system is the declared CRS."""

from __future__ import annotations

from .base import BaseReader, RawLayer, ReadOptions
from .ogr_ import ogr_layers, raw_from_ogr
from .sources import Source


class GeoPackageReader(BaseReader):
    """OGC GeoPackage (``.gpkg``); reads the first layer and says so when there are more."""

    formats = ("gpkg",)

    def read(self, source: Source, options: ReadOptions) -> RawLayer:
        """Read the first layer of the GeoPackage."""
        layers = ogr_layers(source)
        raw = raw_from_ogr(source, layer=layers[0] if layers else None)
        if len(layers) > 1:
            raw.warnings.append(
                f"{source.label}: holds {len(layers)} layers ({', '.join(layers)}); read only {layers[0]!r}"
            )
        raw.encoding, raw.encoding_source = "utf-8", "format"
        return raw

