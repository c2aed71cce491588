"""Storing a validated layer: one Layer row plus a bulk insert of its features.

Geometries go in as WKB from one vectorised :func:`shapely.to_wkb`; attributes are turned
into JSON text once (pandas' C encoder) and bound as text, so no per-row ``json.dumps``.
On SQLite the rows are tuples handed to the driver's ``executemany`` (SQLAlchemy's per-row
parameter processing cost 4x the insert itself); on PostgreSQL a Core ``insert``.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np
import orjson
import shapely
from sqlalchemy import JSON, Text, bindparam, cast, delete, insert, select

from ..store.models import Feature, Layer, utcnow
from .base import ImportResult

CHUNK = 100_000
REBUILD_INDEXES_AT = 50_000  # rows in one import from which indexes are rebuilt, not updated
BULK_CACHE_KIB = 512 * 1024


def properties_json(frame) -> list[str | None]:
    """One JSON object (text) per row of the attribute ``frame``; None when it has no columns."""
    if frame.shape[1] == 0 or len(frame) == 0:
        return [None] * len(frame)
    text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso",
                         default_handler=str)
    lines = text.split("\n")
    return lines[: len(frame)]


def _insert_statement(dialect: str):
    props, flags = bindparam("props_json", type_=Text()), bindparam("flags_json", type_=Text())
    if dialect != "sqlite":
        props, flags = cast(props, JSON), cast(flags, JSON)
    return insert(Feature.__table__).values(properties=props, flags=flags)


COLUMNS = ("layer_id", "fid", "name", "geom_type", "geom", "minx", "miny", "maxx", "maxy", "length_m",
           "properties", "flags")


_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection"], dtype=object)


def feature_columns(layer_id: int, result: ImportResult, start: int = 0,
                    stop: int | None = None) -> list[list[Any]]:
    """The values of :data:`COLUMNS` for features ``start:stop``, one list per column (vectorised)."""
    stop = len(result) if stop is None else stop
    geoms = result.geoms[start:stop]
    bounds = shapely.bounds(geoms)
    raw_lengths = result.lengths_m[start:stop]
    lengths = raw_lengths.astype(object)
    lengths[np.isnan(raw_lengths)] = None
    flags = [None if f is None else orjson.dumps(f).decode() for f in result.flags[start:stop]]
    return [[layer_id] * len(geoms), result.fids[start:stop], result.names[start:stop],
            _TYPE_NAMES[shapely.get_type_id(geoms)].tolist(), shapely.to_wkb(geoms).tolist(),
            *(bounds[:, i].tolist() for i in range(4)), lengths.tolist(),
            properties_json(result.attributes.iloc[start:stop]), flags]


def row_chunks(layer_id: int, result: ImportResult) -> Iterator[list[tuple]]:
    """Rows (tuples in :data:`COLUMNS` order) in chunks of :data:`CHUNK`, built as they are stored.

    (Building the next chunk in a helper thread while SQLite stores the current one was tried:
    the driver binds parameters under the GIL, so it gained nothing.)
    """
    for start in range(0, len(result), CHUNK):
        yield list(zip(*feature_columns(layer_id, result, start, min(start + CHUNK, len(result)))))


def insert_features(session, layer_id: int, result: ImportResult) -> None:
    """Bulk insert: raw ``executemany`` of tuples on SQLite, a Core ``insert`` elsewhere."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_bulk_insert(session.connection(), row_chunks(layer_id, result), len(result))
        return
    statement = _insert_statement(dialect)
    keys = [{"properties": "props_json", "flags": "flags_json"}.get(k, k) for k in COLUMNS]
    for rows in row_chunks(layer_id, result):
        session.execute(statement, [dict(zip(keys, values)) for values in rows])


def _sqlite_bulk_insert(connection, chunks: Iterable[list[tuple]], count: int) -> None:
    """Insert the rows; when they outnumber the rows already stored, rebuild the indexes after.

    Maintaining B-tree indexes row by row costs about three times the insert itself for a
    million features (random positions in both the fid and the bbox index); building them once
    from sorted data afterwards is far cheaper. The drop, insert and rebuild happen in the
    caller's transaction, so other connections see either the old or the new state.
    """
    sql = f"INSERT INTO features ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    stored = connection.exec_driver_sql("SELECT count(*) FROM features").scalar() or 0
    indexes = []
    if count >= REBUILD_INDEXES_AT and count > stored:
        indexes = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'features' "
            "AND sql IS NOT NULL").all()
        for name, _ in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")  # index builds sort in memory
    try:
        for rows in chunks:
            connection.exec_driver_sql(sql, rows)
        for _, create in indexes:
            connection.exec_driver_sql(create)
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def store_layer(rt, result: ImportResult, *, slug: str, name: str, kind: str, source_file: str,
                source: str | None = None, **fields: Any) -> Layer:
    """Create or replace layer ``slug`` with ``result``'s features; bumps ``version`` on replace."""
    report = result.report
    with rt.db.session(write=True) as session:
        layer = session.scalar(select(Layer).where(Layer.slug == slug))
        if layer is None:
            layer = Layer(slug=slug, version=1)
            session.add(layer)
        else:
            session.execute(delete(Feature).where(Feature.layer_id == layer.id))
            layer.version = (layer.version or 0) + 1
        layer.name, layer.kind, layer.source_file = name, kind, source_file
        layer.source_format, layer.source_crs = report.source_format, report.crs
        layer.source_encoding = report.encoding
        layer.id_field, layer.name_field = report.extra.get("id_field"), report.extra.get("name_field")
        layer.attribution = source
        for key, value in fields.items():
            setattr(layer, key, value)
        layer.feature_count = len(result)
        layer.report = report.to_dict()
        layer.imported_at = utcnow()
        session.flush()
        insert_features(session, layer.id, result)
    return layer
