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


_TYPE_NAMES = pa.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection"], pa.string())


def _wkb(result: ImportResult) -> pa.Array:
    """WKB of every feature in file order: the file's own bytes where validation kept them,
    shapely's encoding of the others."""
    if result.wkb is None:
        return pa.array(shapely.to_wkb(result.geoms), pa.binary())
    if result.wkb.null_count == 0:
        return result.wkb
    missing = np.flatnonzero(np.asarray(result.wkb.is_null()))
    encoded = pa.array(shapely.to_wkb(result.geoms[missing]), result.wkb.type)
    positions = np.arange(len(result.wkb))
    positions[missing] = len(result.wkb) + np.arange(missing.size)  # the encoded ones follow the file's
    return pa.concat_arrays([result.wkb, encoded]).take(positions)


def _flags_text(flags: list[list[str] | None]) -> pa.Array:
    """Each feature's flags as JSON text (null when it has none)."""
    flagged = [i for i, f in enumerate(flags) if f]
    if not flagged:
        return pa.nulls(len(flags), pa.string())
    text = np.full(len(flags), None, dtype=object)
    for i in flagged:
        text[i] = orjson.dumps(flags[i]).decode()
    return pa.array(text, pa.string())


class FeatureRows:
    """A result's features in stored order (see the module doc), as row tuples or Arrow batches.

    The columns come from the result's own arrays (ids, names and the file's WKB are Arrow
    already) and are gathered into stored order with one ``take``.
    """

    def __init__(self, layer_id: int | None, result: ImportResult):
        self.layer_id, self.result = layer_id, result
        self.order = np.argsort(result.bounds[:, 0], kind="stable")
        self._table: pa.Table | None = None

    def __len__(self) -> int:
        return len(self.order)

    def _file_order(self) -> pa.Table:
        """Every column but ``length_m`` in file order (converted sequentially, which is fast)."""
        result = self.result
        return pa.table({
            "fid": result.fid_array, "name": result.name_array,
            "geom_type": _TYPE_NAMES.take(pa.array(result.type_ids)), "geom": _wkb(result),
            **{k: result.bounds[:, i] for i, k in enumerate(("minx", "miny", "maxx", "maxy"))},
            "properties": properties_arrow(result.attributes), "flags": _flags_text(result.flags),
        })

    def _with_lengths(self, chunk: pa.Table, lengths: np.ndarray) -> pa.Table:
        return chunk.add_column(COLUMNS.index("length_m") - 1, "length_m", pa.array(lengths, from_pandas=True))

    def table(self) -> pa.Table:
        """All features in stored order: :data:`COLUMNS` without ``layer_id``."""
        if self._table is None:
            if self.result.lengths_m is None:
                self.result.measure()
            self._table = self._with_lengths(self._file_order().take(self.order), self.result.lengths_m[self.order])
        return self._table

    def columns(self, start: int = 0, stop: int | None = None) -> list[list[Any]]:
        """The values of :data:`COLUMNS` for stored positions ``start:stop``, one list per column."""
        part = self.table().slice(start, None if stop is None else stop - start)
        return [[self.layer_id] * part.num_rows, *(part.column(name).to_pylist() for name in COLUMNS[1:])]

    def chunks(self) -> Iterator[list[tuple]]:
        """Rows (tuples in :data:`COLUMNS` order) in chunks of :data:`CHUNK`."""
        for start in range(0, len(self), CHUNK):
            yield list(zip(*self.columns(start, start + CHUNK)))

    def arrow_batches(self, size: int = CHUNK) -> Iterator[pa.Table]:
        """All features in stored order, ``size`` at a time, as Arrow tables of :data:`COLUMNS`
        without ``layer_id``. Each chunk is gathered when it is asked for, so a loader stores
        one chunk while the next is gathered. Lengths not yet measured are measured chunk by
        chunk; the result's lengths and report total are complete once the last chunk is out."""
        result = self.result
        measured = np.empty(len(self)) if result.lengths_m is None else None
        table = self._file_order()
        for start in range(0, len(self), size):
            take = self.order[start:start + size]
            if measured is None:
                lengths = result.lengths_m[take]
            else:
                lengths = measured[take] = result.measure(take)
            yield self._with_lengths(table.take(take), lengths)
        if measured is not None:
            result.measured(measured)
