"""The in-database join on PostgreSQL + PostGIS agrees with the Python join (LayerIndex)."""

from __future__ import annotations

import numpy as np
import pytest
from shapely import LineString, MultiLineString, Point, Polygon
from sqlalchemy import select, text

from fieldkit.geo.measure import GEOD
from fieldkit.join import clear_index_cache, index_for_layer, join_layers
from fieldkit.store.models import Feature, Layer, Photo, PhotoFeatureLink

pytestmark = pytest.mark.postgresql_only("the KNN join runs in PostGIS")

LON0, LAT0 = 116.02, 40.36  # 八达岭


def at(east_m: float, north_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 0.0, north_m)
    lon, lat, _ = GEOD.fwd(lon, lat, 90.0, east_m)
    return lon, lat


def _layer(db, slug, kind, tolerance, geoms) -> int:
    with db.session(write=True) as s:
        layer = Layer(slug=slug, name=slug, kind=kind, tolerance_m=tolerance)
        s.add(layer)
        s.flush()
        s.add_all(Feature.from_geometry(layer.id, f"{slug}-{i}", f"{slug}{i}", g) for i, g in enumerate(geoms))
        return layer.id


@pytest.fixture
def world(db):
    """A zig-zag wall, a multi-part wall, a point layer and a polygon; 300 photos, some with bearings."""
    wall = _layer(db, "wall", "great_wall", 120.0, [
        LineString([at(-900, 0), at(-300, 60), at(0, -20), at(400, 80), at(900, 10)]),
        MultiLineString([[at(-900, -150), at(-100, -140)], [at(50, -160), at(900, -130)]]),
        LineString([at(-200, 200), at(200, 260)]),
    ])
    sites = _layer(db, "sites", "fitness_site", 60.0,
                   [Point(at(x, y)) for x, y in [(-500, 30), (-120, -60), (100, 100), (600, -90)]])
    parks = _layer(db, "parks", "boundary", 40.0,
                   [Polygon([at(-50, -50), at(50, -50), at(50, 50), at(-50, 50)])])
    rng = np.random.default_rng(8)
    with db.session(write=True) as s:
        for n in range(300):
            lon, lat = at(rng.uniform(-1000, 1000), rng.uniform(-250, 320))
            bearing = float(rng.uniform(0, 360)) if n % 2 else None
            s.add(Photo(sha256=f"{n:064x}", original_name=f"IMG_{n}.jpg", size_bytes=1, lon=lon, lat=lat,
                        bearing=bearing))
        s.add(Photo(sha256="f" * 64, original_name="nowhere.jpg", size_bytes=1))
    return {"wall": wall, "sites": sites, "parks": parks}


def python_join(db, layer_id):
    """What the SQLite path would write: LayerIndex over the same rows."""
    with db.session() as s:
        layer = s.get(Layer, layer_id)
        photos = s.execute(select(Photo.id, Photo.lon, Photo.lat, Photo.bearing)
                           .where(Photo.lat.is_not(None)).order_by(Photo.id)).all()
    index = index_for_layer(db, layer)
    ids = [p[0] for p in photos]
    bearings = [np.nan if p[3] is None else p[3] for p in photos]
    found = index.nearest([p[1] for p in photos], [p[2] for p in photos], bearings)
    return {pid: r for pid, r in zip(ids, found) if r is not None}


def test_database_join_agrees_with_the_python_join_within_a_metre(runtime, db, world):
    clear_index_cache()
    stats = join_layers(runtime)
    assert {s.slug for s in stats} == {"wall", "sites", "parks"}
    with db.session() as s:
        links = s.scalars(select(PhotoFeatureLink)).all()
    by_layer: dict[int, dict] = {}
    for link in links:
        by_layer.setdefault(link.layer_id, {})[link.photo_id] = link
    for slug, layer_id in world.items():
        expected = python_join(db, layer_id)
        got = by_layer.get(layer_id, {})
        assert len(expected) >= 5, f"{slug}: fixture should link several photos"
        assert set(got) == set(expected), f"{slug}: different photos linked"
        for pid, want in expected.items():
            link = got[pid]
            assert link.feature_id == want.feature_id, f"{slug} photo {pid}"
            assert link.by_bearing == want.by_bearing, f"{slug} photo {pid}"
            assert link.distance_m == pytest.approx(want.distance_m, abs=1.0)
            if want.chainage_m is None:
                assert link.chainage_m is None
            else:
                assert link.chainage_m == pytest.approx(want.chainage_m, abs=1.0)
    assert any(link.by_bearing for link in links), "the bearing rule should switch some photos"


def test_known_distances_and_chainage(runtime, db):
    wall = _layer(db, "w", "great_wall", 100.0, [LineString([at(-800, 40), at(800, 40)]),
                                                  LineString([at(-800, -25), at(800, -25)])])
    with db.session(write=True) as s:
        s.add(Photo(sha256="a" * 64, original_name="a.jpg", size_bytes=1, lon=at(0, 0)[0], lat=at(0, 0)[1]))
        s.add(Photo(sha256="b" * 64, original_name="b.jpg", size_bytes=1, lon=at(0, 0)[0], lat=at(0, 0)[1],
                    bearing=5.0))
        s.add(Photo(sha256="c" * 64, original_name="c.jpg", size_bytes=1, lon=at(0, 900)[0],
                    lat=at(0, 900)[1]))
    [stats] = join_layers(runtime, layer_ids=[wall])
    assert (stats.photos, stats.links, stats.by_bearing) == (3, 2, 1)
    with db.session() as s:
        rows = s.execute(select(Photo.sha256, PhotoFeatureLink.distance_m, PhotoFeatureLink.chainage_m,
                                PhotoFeatureLink.by_bearing, Feature.fid)
                         .join(Photo, Photo.id == PhotoFeatureLink.photo_id)
                         .join(Feature, Feature.id == PhotoFeatureLink.feature_id)).all()
    got = {r[0][0]: r[1:] for r in rows}
    assert got["a"][0] == pytest.approx(25.0, abs=0.05) and got["a"][1] == pytest.approx(800, rel=0.005)
    assert got["a"][3] == "w-1" and not got["a"][2]
    assert got["b"][0] == pytest.approx(40.0, abs=0.05) and got["b"][2] and got["b"][3] == "w-0"


def test_geometry_columns_are_postgis_with_gist_indexes(db):
    with db.engine.connect() as conn:
        types = dict(conn.execute(text(
            "SELECT f_table_name, type || ':' || srid FROM geometry_columns")).all())
        indexes = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")).scalars())
    assert types == {"features": "GEOMETRY:4326", "photos": "GEOMETRY:4326"}
    assert {"ix_features_geom_gist", "ix_features_geog_gist", "ix_photos_geom_gist"} <= indexes


def test_geometry_round_trips_as_hex_ewkb(db):
    line = LineString([at(0, 0), at(10, 10)])
    layer_id = _layer(db, "rt", "river", 10.0, [line])
    with db.session() as s:
        stored = s.scalars(select(Feature.geom).where(Feature.layer_id == layer_id)).one()
        srid = s.execute(text("SELECT ST_SRID(geom) FROM features WHERE layer_id = :l"), {"l": layer_id}).scalar()
    assert stored.equals_exact(line, 1e-12) and srid == 4326
