"""Bulk insert of features into PostgreSQL + PostGIS with ``COPY … FROM STDIN`` (psycopg 3).

Rows are what :meth:`fieldkit.layers.rows.FeatureRows.chunks` yields (tuples in
:data:`FEATURE_COLUMNS` order, the same as ``fieldkit.layers.rows.COLUMNS``) or dicts keyed by
column name; :func:`fieldkit.layers.storage.insert_features` stores layers through it. Geometries may be WKB ``bytes`` or
shapely geometries; a whole chunk is turned into hex EWKB with SRID 4326 in one vectorised call,
which ``geometry(Geometry,4326)`` accepts in COPY's text format. JSON columns take JSON text (or
a Python value, dumped here). The COPY runs on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import shapely

from ..errors import InputError
from .geometry import SRID

FEATURE_COLUMNS = ("layer_id", "fid", "name", "geom_type", "geom", "minx", "miny", "maxx", "maxy", "length_m",
                   "properties", "flags")
_JSON_COLUMNS = {"properties", "flags"}
CHUNK = 50_000


def pg_bulk_insert_features(connection, rows: Iterable[Sequence[Any] | Mapping[str, Any]], *,
                            columns: Sequence[str] = FEATURE_COLUMNS, table: str = "features",
                            chunk: int = CHUNK) -> int:
    """COPY ``rows`` into ``table`` on a SQLAlchemy ``connection`` (PostgreSQL); returns rows written.

    Call inside the write transaction, e.g. ``pg_bulk_insert_features(session.connection(), rows)``.
    """
    if connection.dialect.name != "postgresql":
        raise InputError(f"pg_bulk_insert_features needs PostgreSQL, not {connection.dialect.name}")
    columns = tuple(columns)
    geom_at = columns.index("geom") if "geom" in columns else None
    json_at = [i for i, c in enumerate(columns) if c in _JSON_COLUMNS]
    raw = connection.connection.driver_connection
    sql = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'
    written = 0
    iterator = iter(rows)
    with raw.cursor() as cur, cur.copy(sql) as copy:
        while batch := list(itertools.islice(iterator, chunk)):
            for row in _prepared(batch, columns, geom_at, json_at):
                copy.write_row(row)
            written += len(batch)
    return written


def _prepared(batch: list, columns: tuple[str, ...], geom_at: int | None, json_at: list[int]) -> list[list]:
    """Rows as lists in column order, geometry as hex EWKB, JSON as text."""
    rows = [[row[c] for c in columns] if isinstance(row, Mapping) else list(row) for row in batch]
    for n, row in enumerate(rows):
        if len(row) != len(columns):
            raise InputError(f"pg_bulk_insert_features: row {n} has {len(row)} values for {len(columns)} columns")
    if geom_at is not None:
        for row, ewkb in zip(rows, _hex_ewkb([row[geom_at] for row in rows])):
            row[geom_at] = ewkb
    for row in rows:
        for i in json_at:
            value = row[i]
            if value is not None and not isinstance(value, str):
                row[i] = orjson.dumps(value).decode()
    return rows


def _hex_ewkb(values: list) -> list[str | None]:
    geoms = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        geoms[i] = value.tobytes() if isinstance(value, memoryview) else value
    is_wkb = np.fromiter((isinstance(v, (bytes, bytearray)) for v in geoms), dtype=bool, count=len(geoms))
    if is_wkb.any():
        geoms[is_wkb] = shapely.from_wkb(geoms[is_wkb])
    missing = np.fromiter((g is None for g in geoms), dtype=bool, count=len(geoms))
    out = np.full(len(geoms), None, dtype=object)
    if (~missing).any():
        present = shapely.set_srid(geoms[~missing], SRID)
        out[~missing] = shapely.to_wkb(present, hex=True, include_srid=True)
    return out.tolist()
