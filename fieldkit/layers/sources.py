"""Where a layer's bytes come from (a plain file or one member of a checked zip) and which
reader reads them. Readers are registered by short name -> dotted path in :data:`READERS`.
"""

from __future__ import annotations

import dataclasses
import importlib
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import InputError, UnsupportedFormatError
from . import safety
from .base import BaseReader

READERS = {
    "geojson": "fieldkit.layers.geojson_:GeoJSONReader",
    "shapefile": "fieldkit.layers.shapefile:ShapefileReader",
    "gpkg": "fieldkit.layers.gpkg:GeoPackageReader",
    "kml": "fieldkit.layers.kml:KMLReader",
    "csv": "fieldkit.layers.tabular:CSVReader",
    "xlsx": "fieldkit.layers.tabular:XLSXReader",
}
SUFFIX_FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".shp": "shapefile",
    ".gpkg": "gpkg",
    ".kml": "kml",
    ".csv": "csv",
    ".xlsx": "xlsx",
}
ZIPPABLE = {"geojson", "shapefile", "gpkg", "kml"}


@dataclasses.dataclass(slots=True)
class Source:
    """A file to read: ``path`` itself, or ``member`` of the zip at ``path``."""

    path: Path
    source_format: str
    member: str | None = None
    names: tuple[str, ...] = ()  # all member names, for sibling lookup inside a zip

    @property
    def label(self) -> str:
        """How messages name it: ``file.zip!rivers.shp`` or ``file.shp``."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def gdal_path(self) -> str:
        """The path GDAL opens (``/vsizip/...`` for a zip member)."""
        if self.member:
            return f"/vsizip/{self.path.resolve()}/{self.member}"
        return str(self.path)

    @property
    def stem(self) -> str:
        """File name without suffix (of the member inside a zip)."""
        return PurePosixPath(self.member).stem if self.member else self.path.stem

    def sibling(self, suffix: str) -> str | Path | None:
        """The file beside this one with ``suffix`` (case-insensitive), or None."""
        if self.member:
            want = str(PurePosixPath(self.member).with_suffix("")).lower() + suffix.lower()
            return next((n for n in self.names if n.lower() == want), None)
        for candidate in self.path.parent.glob(self.path.stem + ".*"):
            if candidate.suffix.lower() == suffix.lower() and candidate.stem == self.path.stem:
                return candidate
        return None

    def read_bytes(self, suffix: str | None = None, limit: int = -1) -> bytes | None:
        """Bytes of this file (or of its sibling with ``suffix``); None when that is absent."""
        target = self.sibling(suffix) if suffix else (self.member or self.path)
        if target is None:
            return None
        if self.member:
            with zipfile.ZipFile(self.path) as zf, zf.open(str(target)) as fh:
                return fh.read(limit)
        with open(target, "rb") as fh:
            return fh.read(limit)


def open_source(path: str | Path) -> Source:
    """Check ``path`` and decide its format; zips are checked and their one dataset chosen."""
    path = Path(path)
    safety.check_not_empty(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _zip_source(path)
    fmt = SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        raise UnsupportedFormatError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; FieldKit reads "
            f"{', '.join(sorted(SUFFIX_FORMATS))} and zipped shapefiles"
        )
    if fmt == "xlsx":
        safety.check_zip(path)
    source = Source(path, fmt)
    safety.check_magic(source.label, fmt, source.read_bytes(limit=16) or b"")
    return source


def _zip_source(path: Path) -> Source:
    infos = safety.check_zip(path)
    names = tuple(i.filename for i in infos)
    datasets = [
        n
        for n in names
        if not n.startswith("__MACOSX/")
        and SUFFIX_FORMATS.get(PurePosixPath(n).suffix.lower()) in ZIPPABLE
    ]
    if not datasets:
        raise InputError(f"{path}: the zip holds no shapefile, GeoPackage, GeoJSON or KML")
    if len(datasets) > 1:
        raise InputError(f"{path}: the zip holds several datasets ({', '.join(datasets)}); zip one per file")
    member = datasets[0]
    source = Source(path, SUFFIX_FORMATS[PurePosixPath(member).suffix.lower()], member, names)
    safety.check_magic(source.label, source.source_format, source.read_bytes(limit=16) or b"")
    return source


def reader_for(source_format: str) -> BaseReader:
    """An instance of the reader registered for ``source_format``."""
    module_name, _, class_name = READERS[source_format].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
