"""pg_bulk_insert_features: COPY features into PostGIS, geometry and JSON round-trip exactly."""

from __future__ import annotations

import pytest
import shapely
from shapely import LineString, MultiPolygon, Point, box
from sqlalchemy import select, text

from fieldkit.errors import InputError
from fieldkit.store.models import Feature, Layer
from fieldkit.store.pg_bulk import FEATURE_COLUMNS, pg_bulk_insert_features


def _layer(db) -> int:
    with db.session(write=True) as s:
        layer = Layer(slug="bulk", name="批量", kind="river", tolerance_m=10.0)
        s.add(layer)
        s.flush()
        return layer.id


def _row(layer_id, i, geom, props):
    minx, miny, maxx, maxy = geom.bounds
    return (layer_id, f"f{i}", f"河段{i}", geom.geom_type, shapely.to_wkb(geom), minx, miny, maxx, maxy,
            None if i % 2 else float(i), props, None)


@pytest.mark.postgresql_only("COPY is PostgreSQL's")
def test_copy_round_trips_tuples_and_dicts(db):
    layer_id = _layer(db)
    geoms = [LineString([(116 + i / 1000, 40), (116.001 + i / 1000, 40.001)]) for i in range(1000)]
    rows = (_row(layer_id, i, g, '{"名称": "永定河", "n": %d}' % i) for i, g in enumerate(geoms))
    extra = [dict(zip(FEATURE_COLUMNS, (layer_id, "poly", None, "MultiPolygon",
                                        MultiPolygon([box(116, 40, 116.1, 40.1)]), 116, 40, 116.1, 40.1, None,
                                        {"tab": "a\tb\nc\\d"}, ["repaired"]))),
             dict(zip(FEATURE_COLUMNS, (layer_id, "pt", "点", "Point", Point(116.5, 40.5), 116.5, 40.5, 116.5,
                                        40.5, None, None, None)))]
    with db.session(write=True) as s:
        assert pg_bulk_insert_features(s.connection(), rows, chunk=300) == 1000
        assert pg_bulk_insert_features(s.connection(), extra) == 2
    with db.session() as s:
        stored = {f.fid: f for f in s.scalars(select(Feature).where(Feature.layer_id == layer_id))}
        srids = set(s.execute(text("SELECT DISTINCT ST_SRID(geom) FROM features")).scalars())
    assert len(stored) == 1002 and srids == {4326}
    assert stored["f7"].geom.equals_exact(geoms[7], 0) and stored["f7"].properties == {"名称": "永定河", "n": 7}
    assert stored["f8"].length_m == 8.0 and stored["f7"].length_m is None
    assert stored["poly"].properties == {"tab": "a\tb\nc\\d"} and stored["poly"].flags == ["repaired"]
    assert stored["poly"].geom.equals(MultiPolygon([box(116, 40, 116.1, 40.1)]))
    assert stored["pt"].geom.equals_exact(Point(116.5, 40.5), 0) and stored["pt"].properties is None


@pytest.mark.postgresql_only("COPY is PostgreSQL's")
def test_copy_is_part_of_the_callers_transaction(db):
    layer_id = _layer(db)
    with pytest.raises(RuntimeError), db.session(write=True) as s:
        pg_bulk_insert_features(s.connection(), [_row(layer_id, 1, Point(116, 40), None)])
        raise RuntimeError("roll back")
    with db.session() as s:
        assert s.scalars(select(Feature)).all() == []


def test_bad_rows_and_other_backends_are_refused(db):
    with db.session(write=True) as s:
        if db.dialect != "postgresql":
            with pytest.raises(InputError, match="needs PostgreSQL"):
                pg_bulk_insert_features(s.connection(), [])
            return
        with pytest.raises(InputError, match="row 0 has 2 values"):
            pg_bulk_insert_features(s.connection(), [(1, "x")])
