"""A geometry column type that works on SQLite (WKB blob) and PostGIS (geometry, SRID 4326).

Values are shapely geometries in WGS84 lon/lat. Already-encoded WKB ``bytes`` pass through, so
bulk loaders can encode a whole array at once with :func:`shapely.to_wkb`.
"""

from __future__ import annotations

import shapely
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import LargeBinary, TypeDecorator, UserDefinedType

SRID = 4326


class _PostGISGeometry(UserDefinedType):
    """PostGIS ``geometry(Geometry,4326)``; also what reflection gives for a ``geometry`` column."""

    cache_ok = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass  # reflection passes the type modifiers (Geometry, 4326); the spec is fixed

    def get_col_spec(self, **kw: object) -> str:
        return f"geometry(Geometry,{SRID})"


# Reflection (Alembic autogenerate, ``inspect``) knows the column type instead of warning about it.
ischema_names.setdefault("geometry", _PostGISGeometry)


class Geometry(TypeDecorator):
    """Shapely geometry stored as WKB (SQLite) or PostGIS ``geometry`` (hex EWKB on the wire)."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect):  # noqa: D102
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):  # noqa: D102
        if value is None:
            return None
        if dialect.name == "postgresql":
            geom = shapely.from_wkb(value) if isinstance(value, (bytes, bytearray, memoryview)) else value
            return shapely.to_wkb(shapely.set_srid(geom, SRID), hex=True, include_srid=True)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        return shapely.to_wkb(value)

    def process_result_value(self, value, dialect):  # noqa: D102
        if value is None:
            return None
        if isinstance(value, memoryview):
            value = value.tobytes()
        return shapely.from_wkb(value)
