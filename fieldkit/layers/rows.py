"""A validated layer's features as rows to store: in stored order, as tuples or Arrow batches.

Features are stored west to east (by the west edge of their bounding box), so ids follow
that order, not the file's: the bounding-box index then receives its keys in ascending order
and grows by appending, instead of splitting pages all over the tree (for a million features
that is the difference between 0.5 s and 2 s). Look features up by ``(layer_id, fid)``.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import shapely

from .base import ImportResult

CHUNK = 100_000


def properties_json(frame) -> list[str | None]:
    """One JSON object (text) per row of the attribute ``frame``; None when it has no columns."""
    return properties_arrow(frame).to_pylist()


def properties_arrow(frame) -> pa.Array:
    """:func:`properties_json` as an Arrow string array.

    NaN and infinities become null. Frames of plain numbers, text and booleans are encoded by
    polars (a third of pandas' time); dates and other types go through pandas (ISO dates).
    """
    if frame.shape[1] == 0 or len(frame) == 0:
        return pa.nulls(len(frame), pa.string())
    fast = _polars_frame(frame)
    if fast is not None:
        return fast.select(pl.struct(pl.all()).struct.json_encode()).to_series().to_arrow()
    text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso",
                         default_handler=str, double_precision=15)
    return pa.array(text.split("\n")[: len(frame)], pa.string())


def _polars_frame(frame):
    """``frame`` as a polars frame when it only holds types polars encodes like pandas, else None."""
    if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
        return None
    try:
        converted = pl.from_pandas(frame)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        return None
    if all(dtype.is_numeric() or dtype in (pl.String, pl.Boolean, pl.Null) for dtype in converted.dtypes):
        return converted
    return None


COLUMNS = ("layer_id", "fid", "name", "geom_type", "geom", "minx", "miny", "maxx", "maxy", "length_m",
           "properties", "flags")


_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection"], dtype=object)


def _wkb(result: ImportResult) -> np.ndarray:
    """WKB of every geometry: the file's own where validation kept it, encoded otherwise."""
    if result.wkb is None:
        return shapely.to_wkb(result.geoms)
    wkb = result.wkb.copy()
    missing = np.flatnonzero(np.equal(wkb, None))
    if missing.size:
        wkb[missing] = shapely.to_wkb(result.geoms[missing])
    return wkb


class FeatureRows:
    """A result's features in stored order (see the module doc), as row tuples or Arrow batches.

    """

    def __init__(self, layer_id: int | None, result: ImportResult):
        self.layer_id, self.result = layer_id, result
        self.bounds = shapely.bounds(result.geoms)
        self.order = np.argsort(self.bounds[:, 0], kind="stable")
        self.fids = np.asarray(result.fids, dtype=object)
        self.names = np.asarray(result.names, dtype=object)
        self.flags = np.asarray([None if f is None else orjson.dumps(f).decode() for f in result.flags],
                                dtype=object)
        # In file order, once: geometries visited in stored order are scattered in memory and
        # encode three times slower. (A loader process starts up meanwhile.)
        self.wkb = _wkb(result)
        self.types = _TYPE_NAMES[shapely.get_type_id(result.geoms)]
        self._properties: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.order)

    def _properties_arrow(self) -> pa.Array:
        if self._properties is None:
            self._properties = properties_arrow(self.result.attributes)
        return self._properties

    def _chunk(self, start: int, stop: int | None):
        take = self.order[start:stop]
        return take, self.bounds[take], self.types[take], self.wkb[take], self._properties_arrow().take(take)

    def columns(self, start: int = 0, stop: int | None = None) -> list[list[Any]]:
        """The values of :data:`COLUMNS` for stored positions ``start:stop``, one list per column."""
        take, bounds, types, wkb, properties = self._chunk(start, stop)
        raw_lengths = self.result.lengths_m[take]
        lengths = raw_lengths.astype(object)
        lengths[np.isnan(raw_lengths)] = None
        return [[self.layer_id] * len(take), self.fids[take].tolist(), self.names[take].tolist(),
                types.tolist(), wkb.tolist(), *(bounds[:, i].tolist() for i in range(4)), lengths.tolist(),
                properties.to_pylist(), self.flags[take].tolist()]

    def chunks(self) -> Iterator[list[tuple]]:
        """Rows (tuples in :data:`COLUMNS` order) in chunks of :data:`CHUNK`."""
        for start in range(0, len(self), CHUNK):
            yield list(zip(*self.columns(start, start + CHUNK)))

    def arrow_batches(self, size: int = CHUNK) -> Iterator[pa.Table]:
        """All features in stored order, ``size`` at a time, as Arrow tables of :data:`COLUMNS`
        without ``layer_id``.

        The columns are converted to Arrow in file order (sequential: fast) and gathered into
        stored order with one ``take`` before the first chunk; a loader stores the chunks as they
        come. (Converting per chunk, or gathering per chunk, let the loader start sooner but
        competed with it and ended later.)
        """
        result = self.result
        table = pa.table({
            "fid": pa.array(self.fids, pa.string()), "name": pa.array(self.names, pa.string()),
            "geom_type": pa.array(self.types, pa.string()), "geom": pa.array(self.wkb, pa.binary()),
            **{k: self.bounds[:, i] for i, k in enumerate(("minx", "miny", "maxx", "maxy"))},
            "length_m": pa.array(result.lengths_m, from_pandas=True),
            "properties": self._properties_arrow(), "flags": pa.array(self.flags, pa.string()),
        })
        table = table.take(self.order)
        for start in range(0, len(self), size):
            yield table.slice(start, size)
