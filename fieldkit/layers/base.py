"""Value types shared by the readers, the validator and the importer.

A reader turns one source file into a :class:`RawLayer` (geometries in the file's own CRS,
attributes, what the file declares). :func:`fieldkit.layers.validate.validate` turns that into
an :class:`ImportResult`: WGS84 geometries, lengths, flags and an :class:`ImportReport`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..geo.measure import line_lengths_m

LINE_TYPES = (1, 2, 5)  # shapely type ids of LineString, LinearRing, MultiLineString

# Kinds and the geometry family each expects.
KIND_GEOMETRY = {
    "great_wall": "line",
    "river": "line",
    "fitness_site": "point",
    "boundary": "polygon",
}
MAX_LISTED_PROBLEMS = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class ReadOptions:
    """What the user said about a file (all optional)."""

    encoding: str | None = None
    x_field: str | None = None
    y_field: str | None = None


@dataclasses.dataclass(slots=True)
class RawLayer:
    """A file as read: geometries in the source CRS, attributes and what the file declares."""

    path: Path
    source_format: str  # "geojson", "shapefile", "gpkg", "kml", "csv", "xlsx"
    driver: str
    geoms: np.ndarray  # shapely geometries (or None), source CRS
    attributes: pd.DataFrame  # one row per geometry, same order
    rows: np.ndarray  # user-facing row / feature number of each geometry
    declared_crs: str | None = None  # CRS written in the file itself (not a format default)
    default_crs: str | None = None  # what the format implies when nothing is declared
    encoding: str | None = None
    encoding_source: str | None = None  # "cpg", "option", "detected", "format"
    warnings: list[str] = dataclasses.field(default_factory=list)
    problems: list["Problem"] = dataclasses.field(default_factory=list)
    wkb: pa.Array | None = None  # the file's own WKB of each geometry (binary), when the reader had it


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One problem with one feature (or row) of a source file."""

    row: int | None
    fid: str | None
    code: str  # "empty", "repaired", "wrong_geometry_type", "outside_china", ...
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored in ``Layer.report``."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(slots=True)
class ImportReport:
    """What happened to a file on its way in; stored as ``Layer.report``."""

    file: str
    source_format: str
    driver: str
    crs: str | None = None  # key of the CRS the coordinates were read in
    crs_source: str | None = None  # "file", "option", "assumed"
    encoding: str | None = None
    encoding_source: str | None = None
    kind: str | None = None
    features_read: int = 0
    features_stored: int = 0
    repaired: int = 0
    dropped_empty: int = 0
    dropped_wrong_type: int = 0
    dropped_bad_coords: int = 0
    outside_china: int = 0
    swapped_xy: bool = False
    geometry_types: dict[str, int] = dataclasses.field(default_factory=dict)
    total_length_m: float | None = None
    bounds: list[float] | None = None  # WGS84 minx, miny, maxx, maxy
    warnings: list[str] = dataclasses.field(default_factory=list)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    problems_not_listed: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add_problem(self, problem: Problem) -> None:
        """List a problem, or count it once :data:`MAX_LISTED_PROBLEMS` are listed."""
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(problem)
        else:
            self.problems_not_listed += 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["problems"] = [p.to_dict() for p in self.problems]
        return out


@dataclasses.dataclass(slots=True)
class ImportResult:
    """A validated layer ready to store: WGS84 geometries and one entry per feature.

    Ids, names and the file's WKB stay Arrow arrays from the reader to the store: a million
    features would otherwise be turned into Python strings and back (``fids`` and ``names``
    give them as lists).
    """

    report: ImportReport
    geoms: np.ndarray  # shapely, WGS84
    fid_array: pa.Array  # string, no nulls
    name_array: pa.Array  # string, null where a feature has no name
    lengths_m: np.ndarray | None  # NaN where not a line; None until measured (see :meth:`measure`)
    attributes: pd.DataFrame
    flags: list[list[str] | None]
    bounds: np.ndarray  # (n, 4): minx, miny, maxx, maxy of each geometry
    type_ids: np.ndarray  # shapely geometry type id of each geometry
    wkb: pa.Array | None = None  # the file's WKB where validation kept the geometry (null: encode ``geoms``)

    def __len__(self) -> int:
        return len(self.fid_array)

    def release_geometries(self) -> None:
        """Let go of the shapely geometries once they are stored (a million take 0.2 s to free:
        storage frees them while the database commits). ``geoms`` is empty afterwards."""
        self.geoms = np.empty(0, dtype=object)

    def measure(self, index: np.ndarray | None = None) -> np.ndarray:
        """Geodesic lengths in metres of the features at ``index`` (all when None); NaN for
        features that are not lines. Measuring every feature stores the lengths in
        ``lengths_m`` and their total in the report."""
        geoms, types = (self.geoms, self.type_ids) if index is None else (self.geoms[index], self.type_ids[index])
        is_line = np.isin(types, LINE_TYPES)
        if is_line.all():
            lengths = line_lengths_m(geoms)
        else:
            lengths = np.full(len(geoms), np.nan)
            if is_line.any():
                lengths[is_line] = line_lengths_m(geoms[is_line])
        if index is None:
            self.measured(lengths)
        return lengths

    def measured(self, lengths: np.ndarray) -> None:
        """Keep every feature's ``lengths`` (NaN: not a line) and their total in the report."""
        self.lengths_m = lengths
        lines = ~np.isnan(lengths)
        self.report.total_length_m = float(lengths[lines].sum()) if lines.any() else None

    @property
    def fids(self) -> list[str]:
        """Feature ids as a list."""
        return self.fid_array.to_pylist()

    @property
    def names(self) -> list[str | None]:
        """Feature names as a list."""
        return self.name_array.to_pylist()


class BaseReader:
    """A reader of one format family. Subclasses set ``formats`` and implement :meth:`read`."""

    formats: tuple[str, ...] = ()

    def read(self, source: Any, options: ReadOptions) -> RawLayer:
        """Read a :class:`~fieldkit.layers.sources.Source` (already safety-checked)."""
        raise NotImplementedError
