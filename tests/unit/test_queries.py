"""fieldkit.queries: bbox/filters parsing, visibility, clustering, features by bbox, detail."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from fieldkit import queries
from fieldkit.errors import ConflictError, InputError, NotFoundError
from fieldkit.geo import chinese
from fieldkit.store import Feature, Inspection, Layer, Photo, PhotoFeatureLink, User


def add_user(s, name, role="inspector", team=None) -> User:
    u = User(username=name, password_hash="x", role=role, team=team)
    s.add(u)
    s.flush()
    return u


def add_photo(s, n, lon, lat, user, *, when=None, inspection=None, source="exif") -> Photo:
    p = Photo(sha256=f"{n:064x}", original_name=f"p{n}.jpg", size_bytes=100, lon=lon, lat=lat,
              location_source=source if lon is not None else "none",
              geom=shapely.Point(lon, lat) if lon is not None else None,
              uploaded_by_id=user.id if user else None, taken_at_utc=when,
              inspection_id=inspection.id if inspection else None)
    s.add(p)
    s.flush()
    return p


def add_feature(s, layer, fid, geom, name) -> Feature:
    f = Feature.from_geometry(layer.id, fid, name, geom)
    s.add(f)
    s.flush()
    return f


@pytest.fixture
def world(runtime):
    """Three inspectors (two in team A), a reviewer, a wall and a river, and six photos."""
    with runtime.db.session(write=True) as s:
        a1, a2 = add_user(s, "a1", team="A"), add_user(s, "a2", team="A")
        b1 = add_user(s, "b1", team="B")
        rev = add_user(s, "rev", role="reviewer")
        trip = Inspection(name="trip")
        s.add(trip)
        s.flush()
        wall = Layer(slug="wall", name="长城", kind="great_wall")
        river = Layer(slug="river", name="河", kind="river")
        s.add_all([wall, river])
        s.flush()
        w = add_feature(s, wall, "W1", shapely.LineString([(102.0, 38.0), (102.1, 38.0)]), "明长城1段")
        add_feature(s, river, "R1", shapely.LineString([(110.0, 30.0), (110.1, 30.1)]), "某河")
        d = dt.datetime(2024, 5, 1, 3, 0)
        p1 = add_photo(s, 1, 102.05, 38.001, a1, when=d, inspection=trip)
        add_photo(s, 2, 102.06, 38.002, a2, when=d + dt.timedelta(days=2))
        add_photo(s, 3, 102.07, 38.003, b1, when=d + dt.timedelta(days=5))
        add_photo(s, 4, 110.05, 30.05, b1, when=d)
        add_photo(s, 5, None, None, a1)
        s.add(PhotoFeatureLink(photo_id=p1.id, layer_id=wall.id, feature_id=w.id, distance_m=111.3,
                               chainage_m=4321.2, layer_version=1))
        ids = {u.username: u for u in (a1, a2, b1, rev)}
    return ids, trip


def ids_of(fc):
    return sorted(f["properties"]["id"] for f in fc["features"])


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "3,0,1,1", "0,-91,1,1", "nan,0,1,1"])
def test_parse_bbox_rejects(text):
    with pytest.raises(InputError, match="bbox"):
        queries.parse_bbox(text)


def test_parse_bbox_and_filters():
    assert queries.parse_bbox("102,38,103,39") == queries.BBox(102, 38, 103, 39)
    assert queries.parse_bbox("") is None
    f = queries.parse_photo_filters({"inspection": "3", "inspector": "a1", "from": "2024-05-01"})
    assert f == queries.PhotoFilters(3, "a1", dt.date(2024, 5, 1), None)
    with pytest.raises(InputError, match="to="):
        queries.parse_photo_filters({"to": "May 1"})
    with pytest.raises(InputError, match="inspection="):
        queries.parse_photo_filters({"inspection": "x"})
    with pytest.raises(InputError, match="unknown kind"):
        queries.parse_kinds("great_wall,castle")


def test_visibility_by_role(runtime, world):
    users, _ = world
    box = queries.parse_bbox("100,29,111,40")
    nof = queries.PhotoFilters()
    assert ids_of(queries.photos_geojson(runtime, box, nof, users["a1"])) == [1, 2]
    assert ids_of(queries.photos_geojson(runtime, box, nof, users["b1"])) == [3, 4]
    assert ids_of(queries.photos_geojson(runtime, box, nof, users["rev"])) == [1, 2, 3, 4]
    assert ids_of(queries.photos_geojson(runtime, box, nof, None)) == []


def test_bbox_and_filters(runtime, world):
    users, trip = world
    rev = users["rev"]
    small = queries.parse_bbox("102.055,38,102.08,38.01")
    assert ids_of(queries.photos_geojson(runtime, small, queries.PhotoFilters(), rev)) == [2, 3]
    assert ids_of(queries.photos_geojson(runtime, None, queries.PhotoFilters(inspector="b1"), rev)) == [3, 4]
    assert ids_of(queries.photos_geojson(runtime, None, queries.PhotoFilters(inspection=trip.id), rev)) == [1]
    f = queries.PhotoFilters(date_from=dt.date(2024, 5, 2), date_to=dt.date(2024, 5, 3))
    assert ids_of(queries.photos_geojson(runtime, None, f, rev)) == [2]


def test_clusters_above_threshold(runtime, world, monkeypatch):
    monkeypatch.setattr(queries, "MAX_POINTS", 2)
    fc = queries.photos_geojson(runtime, queries.parse_bbox("100,29,111,40"), queries.PhotoFilters(),
                                world[0]["rev"])
    assert fc["properties"] == {"total": 4, "clustered": True, "datum": "wgs84"}
    counts = sorted(f["properties"].get("count", 1) for f in fc["features"])
    assert sum(counts) == 4 and len(counts) < 4


def test_features_by_bbox_and_kind(runtime, world):
    fc = queries.features_geojson(runtime, queries.parse_bbox("101.9,37.9,102.2,38.1"))
    assert [f["properties"]["name"] for f in fc["features"]] == ["明长城1段"]
    assert fc["features"][0]["geometry"]["type"] == "LineString"
    assert queries.features_geojson(runtime, None, kinds=("river",))["features"][0]["properties"]["fid"] == "R1"
    assert queries.features_geojson(runtime, None, layer="wall")["features"][0]["properties"]["fid"] == "W1"
    assert queries.features_geojson(runtime, queries.parse_bbox("0,0,1,1"))["features"] == []
    assert len(queries.features_geojson(runtime, None)["features"]) == 2


def test_gcj02_shifts_output(runtime, world):
    rev = world[0]["rev"]
    fc = queries.photos_geojson(runtime, None, queries.PhotoFilters(inspector="a1"), rev, datum="gcj02")
    x, y = fc["features"][0]["geometry"]["coordinates"]
    ex, ey = chinese.wgs84_to_gcj02(102.05, 38.001)
    assert (x, y) == pytest.approx((ex, ey), abs=2e-6) and abs(x - 102.05) > 1e-4
    box = queries.BBox(ex - 0.001, ey - 0.001, ex + 0.001, ey + 0.001)  # a GCJ-02 viewport
    assert ids_of(queries.photos_geojson(runtime, box, queries.PhotoFilters(), rev, datum="gcj02")) == [1]
    with pytest.raises(InputError, match="datum"):
        queries.photos_geojson(runtime, None, queries.PhotoFilters(), rev, datum="bd09")


def test_photo_detail_and_hidden(runtime, world):
    users, _ = world
    d = queries.photo_detail(runtime, 1, users["a2"])
    assert d["nearest"][0] == {"layer": "wall", "layer_name": "长城", "kind": "great_wall",
                               "feature_id": 1, "fid": "W1", "name": "明长城1段", "distance_m": 111.3,
                               "chainage_m": 4321.2, "chainage": "K4+321", "by_bearing": False}
    assert d["inspection"]["name"] == "trip" and d["uploaded_by"] == "a1" and d["can_download"]
    with pytest.raises(NotFoundError):
        queries.photo_detail(runtime, 1, users["b1"])
    with pytest.raises(NotFoundError):
        queries.photo_detail(runtime, 999, users["rev"])


def test_place_photo(runtime, world):
    users, _ = world
    d = queries.place_photo(runtime, 5, 38.0005, 102.01, users["a2"])
    assert (d["lat"], d["lon"], d["location_source"]) == (38.0005, 102.01, "manual")
    assert "a2" in d["location_note"]
    with pytest.raises(ConflictError, match="exif"):
        queries.place_photo(runtime, 1, 38.0, 102.0, users["a1"])
    with pytest.raises(queries.ForbiddenError):
        queries.place_photo(runtime, 5, 38.0, 102.0, users["rev"])
    with pytest.raises(InputError):
        queries.place_photo(runtime, 5, 95.0, 102.0, users["a1"])
    with pytest.raises(NotFoundError):
        queries.place_photo(runtime, 5, 38.0, 102.0, users["b1"])


def test_extent_and_choices(runtime, world):
    users, _ = world
    ext = queries.data_extent(runtime, users["a1"])
    assert (ext.minx, ext.maxx) == (102.0, 110.1)
    ch = queries.filter_choices(runtime, users["a1"])
    assert [u["username"] for u in ch["inspectors"]] == ["a1", "a2"]
