"""Storing a validated layer: one Layer row plus a bulk insert of its features.

Geometries go in as WKB (the file's own bytes where validation kept the geometry, else one
vectorised :func:`shapely.to_wkb`); attributes are turned
into JSON text once (polars' encoder, or pandas' for dates and other rich types) and bound as
text, so no per-row ``json.dumps``. On SQLite the rows are tuples handed to the driver's
``executemany`` (SQLAlchemy's per-row parameter processing cost 4x the insert itself); on
PostgreSQL the same tuples go through ``COPY … FROM STDIN``
(:func:`fieldkit.store.pg_bulk.pg_bulk_insert_features`) inside the session's transaction.

Features are stored in the order of :class:`~fieldkit.layers.rows.FeatureRows` (west to east).
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable

from sqlalchemy import delete, select

from ..store.models import Feature, Layer, utcnow
from ..store.pg_bulk import pg_bulk_insert_features
from .base import ImportResult
from .rows import COLUMNS, FeatureRows
from .sqlite_bulk import load_features

LOADER_AT = 50_000  # features from which SQLite imports go through the ADBC loader process


def insert_features(session, layer_id: int, result: ImportResult) -> None:
    """Bulk insert: raw ``executemany`` of tuples on SQLite, ``COPY`` of the same tuples on PostgreSQL."""
    dialect = session.get_bind().dialect.name
    rows = FeatureRows(layer_id, result)
    if dialect == "sqlite":
        _sqlite_bulk_insert(session.connection(), rows.chunks())
        return
    pg_bulk_insert_features(session.connection(), itertools.chain.from_iterable(rows.chunks()), columns=COLUMNS)


def _sqlite_bulk_insert(connection, chunks: Iterable[list[tuple]]) -> None:
    """Insert the rows with the driver's ``executemany``, a chunk at a time."""
    sql = f"INSERT INTO features ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    for rows in chunks:
        connection.exec_driver_sql(sql, rows)


def store_layer(rt, result: ImportResult, *, slug: str, name: str, kind: str, source_file: str,
                source: str | None = None, release: bool = False, **fields: Any) -> Layer:
    """Create or replace layer ``slug`` with ``result``'s features; bumps ``version`` on replace.
    ``release=True`` when the caller is done with ``result``: its geometries may be let go of
    while the database commits.

    On SQLite, layers of :data:`LOADER_AT` features or more go through the ADBC loader process
    (:mod:`.sqlite_bulk`); smaller ones, and PostgreSQL, through this process's connection.
    """
    report = result.report
    loader = rt.db.dialect == "sqlite" and len(result) >= LOADER_AT
    if result.lengths_m is None and not loader:
        result.measure()  # the loader measures chunk by chunk and sends the finished report last
    values = {
        "name": name, "kind": kind, "source_file": source_file, "source_format": report.source_format,
        "source_crs": report.crs, "source_encoding": report.encoding,
        "id_field": report.extra.get("id_field"), "name_field": report.extra.get("name_field"),
        "attribution": source, **fields, "feature_count": len(result), "report": report.to_dict(),
        "imported_at": utcnow(),
    }
    if loader:
        layer_id = load_features(rt, slug, values, result, release=release)
        with rt.db.session() as session:
            return session.get(Layer, layer_id)
    with rt.db.session(write=True) as session:
        layer = session.scalar(select(Layer).where(Layer.slug == slug))
        if layer is None:
            layer = Layer(slug=slug, version=1)
            session.add(layer)
        else:
            session.execute(delete(Feature).where(Feature.layer_id == layer.id))
            layer.version = (layer.version or 0) + 1
        for key, value in values.items():
            setattr(layer, key, value)
        session.flush()
        insert_features(session, layer.id, result)
    return layer
