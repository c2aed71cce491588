"""pg_bulk_insert_features: COPY features into PostGIS, geometry and JSON round-trip exactly."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from alembic import command
from shapely import LineString, MultiPolygon, Point, box
from sqlalchemy import inspect, select, text

from fieldkit.errors import InputError
from fieldkit.layers import import_file, storage
from fieldkit.layers.rows import COLUMNS
from fieldkit.store.migrate import PG_ONLY_INDEXES, alembic_config, current, schema_diff, upgrade
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
    rows = (_row(layer_id, i, g, f'{{"名称": "永定河", "n": {i}}}') for i, g in enumerate(geoms))
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


def _segments(tmp_path, n: int, seed: int):
    """A GeoPackage of ``n`` short lines in random order, with NaN, quotes, tabs and backslashes."""
    rng = np.random.default_rng(seed)
    starts = np.column_stack([rng.uniform(98, 104, n), rng.uniform(36, 40, n)])
    lines = [LineString([tuple(p), tuple(p + rng.normal(0, 0.01, 2))]) for p in starts]
    frame = gpd.GeoDataFrame(
        {"seg_id": np.arange(n), "名称": [f"长城段{i}" for i in range(n)],
         "score": np.where(np.arange(n) % 5 == 0, np.nan, np.arange(n) / 3),
         "备注": ["夯土墙\"坍塌\"\t\\" if i % 2 else None for i in range(n)]},
        geometry=lines, crs="EPSG:4326")
    path = tmp_path / f"segments{seed}.gpkg"
    pyogrio.write_dataframe(frame, path)
    return path, lines


def test_feature_rows_are_in_the_copy_column_order():
    assert COLUMNS == FEATURE_COLUMNS


def test_stored_layers_copy_on_postgresql_and_round_trip(runtime, tmp_path, monkeypatch):
    calls = []
    real = storage.pg_bulk_insert_features
    monkeypatch.setattr(storage, "pg_bulk_insert_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    path, lines = _segments(tmp_path, 300, seed=1)
    layer, _ = import_file(runtime, path, "great_wall", slug="wall", id_field="seg_id", name_field="名称")
    assert calls == ([1] if runtime.db.dialect == "postgresql" else [])
    with runtime.db.session() as s:
        feats = s.scalars(select(Feature).where(Feature.layer_id == layer.id).order_by(Feature.id)).all()
    assert len(feats) == 300 == layer.feature_count
    assert [f.minx for f in feats] == sorted(f.minx for f in feats)  # ids follow the index order
    by_fid = {f.fid: f for f in feats}
    one, zero = by_fid["1"], by_fid["0"]
    assert one.name == "长城段1" and one.properties["备注"] == "夯土墙\"坍塌\"\t\\"
    assert zero.properties["score"] is None and zero.properties["备注"] is None  # NaN -> null
    assert one.geom.equals_exact(lines[1], 0) and one.geom_type == "LineString"
    assert (one.minx, one.miny, one.maxx, one.maxy) == lines[1].bounds and one.length_m > 0


def test_replacing_a_layer_is_one_transaction(runtime, tmp_path, monkeypatch):
    path, _ = _segments(tmp_path, 200, seed=2)
    import_file(runtime, path, "great_wall", slug="wall", id_field="seg_id")
    second, _ = _segments(tmp_path, 120, seed=3)
    layer, _ = import_file(runtime, second, "great_wall", slug="wall", id_field="seg_id")
    with runtime.db.session() as s:
        assert layer.version == 2 and s.query(Feature).count() == 120
    target = "pg_bulk_insert_features" if runtime.db.dialect == "postgresql" else "_sqlite_bulk_insert"
    real = getattr(storage, target)

    def insert_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk full after the insert")

    monkeypatch.setattr(storage, target, insert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(runtime, path, "great_wall", slug="wall", id_field="seg_id")
    with runtime.db.session() as s:
        stored = s.scalar(select(Layer).where(Layer.slug == "wall"))
        assert stored.version == 2 and s.query(Feature).count() == 120


def _feature_indexes(engine) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("features")
            if ix["name"] not in PG_ONLY_INDEXES}


def test_migration_0005_keeps_one_layer_bbox_index_both_ways(db):
    assert _feature_indexes(db.engine) == {"ix_features_bbox": ["layer_id", "minx", "maxx", "miny", "maxy"]}
    command.downgrade(alembic_config(db.engine), "0004")
    assert _feature_indexes(db.engine) == {"ix_features_bbox": ["minx", "maxx", "miny", "maxy"],
                                           "ix_features_layer_fid": ["layer_id", "fid"]}
    upgrade(db.engine)
    assert current(db.engine) >= "0005" and schema_diff(db.engine) == []
    assert _feature_indexes(db.engine) == {"ix_features_bbox": ["layer_id", "minx", "maxx", "miny", "maxy"]}
