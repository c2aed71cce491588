"""LayerIndex on hand-made geometry: metric distances, tolerance, chainage, bearing preference."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely
from shapely import LineString, MultiLineString, Point, Polygon

from fieldkit.errors import InputError
from fieldkit.geo.measure import GEOD, chainage_m, distance_m
from fieldkit.join import BEARING_MIN_REACH_M, JoinResult, LayerIndex

LON0, LAT0 = 102.19, 38.52  # near Jinchang, Gansu


def offset(lon, lat, east_m=0.0, north_m=0.0):
    """The point ``east_m``/``north_m`` metres from lon/lat (geodesic steps)."""
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0 if north_m > 0 else 180.0, abs(north_m))
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0 if east_m > 0 else 270.0, abs(east_m))
    return lon, lat


def ew_wall(north_m, half_len_m=800.0):
    """An east-west line ``north_m`` metres north of (LON0, LAT0)."""
    lon, lat = offset(LON0, LAT0, north_m=north_m)
    return LineString([offset(lon, lat, east_m=-half_len_m), offset(lon, lat, east_m=half_len_m)])


@pytest.fixture(scope="module")
def random_layer():
    rng = np.random.default_rng(7)
    starts = np.column_stack([LON0 + rng.uniform(-0.03, 0.03, 40), LAT0 + rng.uniform(-0.025, 0.025, 40)])
    ends = starts + rng.uniform(-0.004, 0.004, (40, 2))
    geoms = np.array([LineString([a, b]) for a, b in zip(starts, ends)], dtype=object)
    return LayerIndex(np.arange(1, 41), geoms, 150.0), geoms


def test_distances_match_geodesic_within_half_a_metre(random_layer):
    index, geoms = random_layer
    # Reference: geodesic distance to every vertex of the lines densified to ~0.5 m.
    coords, owner = shapely.get_coordinates(shapely.segmentize(geoms, 5e-6), return_index=True)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    rng = np.random.default_rng(11)
    lon = LON0 + rng.uniform(-0.03, 0.03, 150)
    lat = LAT0 + rng.uniform(-0.025, 0.025, 150)
    checked = 0
    for x, y, res in zip(lon, lat, index.nearest(lon, lat)):
        ref = np.minimum.reduceat(distance_m(x, y, coords[:, 0], coords[:, 1]), starts)
        best = int(np.argmin(ref))
        if ref[best] > 150.5:
            assert res is None
            continue
        if ref[best] < 149.5:
            assert res is not None
            checked += 1
            assert res.distance_m == pytest.approx(ref[res.feature_id - 1], abs=0.5)
            assert res.distance_m <= ref[best] + 0.5  # it is (one of) the nearest
    assert checked > 20  # the setup really exercises matches


def test_tolerance_is_respected_exactly_in_metres():
    wall = ew_wall(0.0)
    index = LayerIndex([1], [wall], 100.0)
    lon, lat = zip(*(offset(LON0, LAT0, north_m=d) for d in (99.0, 101.0, -99.5, -100.6)))
    got = index.nearest(lon, lat)
    assert [r is not None for r in got] == [True, False, True, False]
    assert got[0].distance_m == pytest.approx(99.0, abs=0.05)
    assert got[2].distance_m == pytest.approx(99.5, abs=0.05)


def test_far_from_the_layer_centre_the_tolerance_is_still_geodesic():
    # A national-scale layer: two short lines about 1,000 km apart, so each sits ~500 km from
    # the central meridian where the projection stretches distances by ~0.3 %.
    west = LineString([(97.0, 38.0), (97.0, 38.1)])
    east = LineString([(108.4, 38.0), (108.4, 38.1)])
    index = LayerIndex([1, 2], [west, east], 200.0)
    lon, lat = zip(offset(97.0, 38.05, east_m=199.6), offset(108.4, 38.05, east_m=-150.0))
    got = index.nearest(lon, lat)
    assert got[0] is not None and got[0].distance_m == pytest.approx(199.6, abs=0.05)
    assert got[1] is not None and got[1].distance_m == pytest.approx(150.0, abs=0.05)
    # The documented bound: projected distance within a few tenths of a percent of geodesic.
    to_metric = pyproj.Transformer.from_crs(4326, index.crs, always_xy=True)
    x, y = to_metric.transform([97.0, lon[0]], [38.05, lat[0]])
    projected = math.hypot(x[1] - x[0], y[1] - y[0])
    assert 1.0 < projected / 199.6 < 1.004


def test_point_layers_have_no_chainage():
    sites = [Point(offset(LON0, LAT0, east_m=40.0)), Point(offset(LON0, LAT0, north_m=-70.0))]
    index = LayerIndex([10, 11], sites, 100.0, fids=["A", "B"], names=["健身点甲", "健身点乙"])
    (res,) = index.nearest([LON0], [LAT0])
    assert res == JoinResult(10, "A", "健身点甲", pytest.approx(40.0, abs=0.01), None, False)
    assert res.chainage_label is None


def test_polygon_containing_the_photo_is_at_distance_zero():
    ring = [offset(LON0, LAT0, e, n) for e, n in ((-50, -50), (50, -50), (50, 50), (-50, 50))]
    (res,) = LayerIndex([1], [Polygon(ring)], 10.0).nearest([LON0], [LAT0])
    assert res.distance_m == 0.0 and res.chainage_m is None


def test_chainage_matches_geo_measure_on_a_long_curved_line():
    t = np.linspace(0, 1, 60)
    line = LineString(np.column_stack([101.5 + 0.8 * t, 38.2 + 0.3 * np.sin(6 * t)]))
    index = LayerIndex([1], [line], 500.0)
    for frac in (0.05, 0.4, 0.93):
        on = line.interpolate(frac, normalized=True)
        lon, lat = offset(on.x, on.y, north_m=120.0)
        (res,) = index.nearest([lon], [lat])
        expected = chainage_m(line, lon, lat)
        assert res.chainage_m == pytest.approx(expected, rel=0.005)
        assert res.chainage_label.startswith("K")


def test_multiline_chainage_counts_parts_in_order():
    first = LineString([offset(LON0, LAT0, east_m=e) for e in (0.0, 1000.0)])
    second = LineString([offset(LON0, LAT0, east_m=e) for e in (3000.0, 5000.0)])
    multi = MultiLineString([first, second])
    index = LayerIndex([5], [multi], 200.0)
    lon, lat = offset(LON0, LAT0, east_m=3500.0, north_m=60.0)
    (res,) = index.nearest([lon], [lat])
    assert res.distance_m == pytest.approx(60.0, abs=0.1)
    assert res.chainage_m == pytest.approx(1500.0, rel=0.005)
    assert res.chainage_m == pytest.approx(chainage_m(multi, lon, lat), rel=0.005)
    assert res.chainage_label == "K1+500"


# Two parallel walls either side of the photo: north one 40 m away, south one 25 m away.
@pytest.fixture
def two_walls():
    return LayerIndex([1, 2], [ew_wall(40.0), ew_wall(-25.0)], 100.0, names=["北墙", "南墙"])


@pytest.mark.parametrize(
    ("bearing", "expected", "by_bearing"),
    [
        (None, "南墙", False),  # no bearing: the nearest
        (float("nan"), "南墙", False),
        (180.0, "南墙", False),  # facing the nearest
        (200.0, "南墙", False),
        (0.0, "北墙", True),  # facing the farther wall: it wins, and says so
        (350.0, "北墙", True),
        (-30.0, "北墙", True),
        (90.0, "南墙", False),  # facing along the walls: neither faced, keep the nearest
    ],
)
def test_bearing_prefers_the_wall_the_camera_faces(two_walls, bearing, expected, by_bearing):
    (res,) = two_walls.nearest([LON0], [LAT0], [bearing])
    assert (res.name, res.by_bearing) == (expected, by_bearing)
    assert res.distance_m == pytest.approx(40.0 if expected == "北墙" else 25.0, abs=0.05)


def test_bearing_does_not_pull_in_a_much_farther_feature():
    # Nearest wall 20 m south; the faced wall is 90 m north (> 2 x 20 m and > 30 m).
    index = LayerIndex([1, 2], [ew_wall(90.0), ew_wall(-20.0)], 100.0)
    (res,) = index.nearest([LON0], [LAT0], [0.0])
    assert (res.feature_id, res.by_bearing) == (2, False)


def test_bearing_reach_has_a_floor_close_to_the_features():
    # Nearest 5 m south; the faced wall 25 m north: more than 2 x 5 m, but within the 30 m floor.
    assert BEARING_MIN_REACH_M >= 25.0
    index = LayerIndex([1, 2], [ew_wall(25.0), ew_wall(-5.0)], 100.0)
    (res,) = index.nearest([LON0], [LAT0], [10.0])
    assert (res.feature_id, res.by_bearing) == (1, True)


def test_bearing_only_considers_features_within_tolerance():
    index = LayerIndex([1, 2], [ew_wall(45.0), ew_wall(-25.0)], 40.0)
    (res,) = index.nearest([LON0], [LAT0], [0.0])
    assert (res.feature_id, res.by_bearing) == (2, False)


def test_photos_without_position_are_skipped_and_order_is_kept(two_walls):
    far_lon, far_lat = offset(LON0, LAT0, north_m=5000.0)
    lon = [LON0, np.nan, far_lon, LON0]
    lat = [LAT0, np.nan, far_lat, np.nan]
    got = two_walls.nearest(lon, lat, [0.0, 0.0, None, None])
    assert got[0].name == "北墙" and got[1] is None and got[2] is None and got[3] is None
    arrays = two_walls.query(lon, lat)
    assert arrays.index.tolist() == [1, -1, -1, -1]
    assert np.isnan(arrays.distance_m[1:]).all()


def test_an_empty_layer_matches_nothing():
    index = LayerIndex([], [], 100.0)
    assert len(index) == 0
    assert index.nearest([LON0], [LAT0]) == [None]


@pytest.mark.parametrize("tolerance", [0, -5, float("nan"), float("inf")])
def test_a_bad_tolerance_is_refused(tolerance):
    with pytest.raises(InputError, match="tolerance_m"):
        LayerIndex([1], [ew_wall(0.0)], tolerance)


def test_mismatched_inputs_are_refused(two_walls):
    with pytest.raises(InputError, match="2 longitudes, 1 latitudes"):
        two_walls.query([LON0, LON0], [LAT0])
    with pytest.raises(InputError, match="1 geometries but 2 feature ids"):
        LayerIndex([1, 2], [ew_wall(0.0)], 10.0)
    with pytest.raises(InputError, match="1 geometries but 2 names"):
        LayerIndex([1], [ew_wall(0.0)], 10.0, names=["a", "b"])


def test_dense_layers_use_the_tree_nearest_search_with_the_same_answers(random_layer, monkeypatch):
    import fieldkit.join.index as index_module

    index, _ = random_layer
    rng = np.random.default_rng(3)
    lon = LON0 + rng.uniform(-0.03, 0.03, 300)
    lat = LAT0 + rng.uniform(-0.025, 0.025, 300)
    bearing = rng.uniform(0, 360, 300)
    sparse = index.query(lon, lat, bearing)
    monkeypatch.setattr(index_module, "CANDIDATE_BUDGET", -1.0)
    dense = index.query(lon, lat, bearing)
    assert (sparse.index >= 0).sum() > 50 and sparse.by_bearing.sum() > 0
    np.testing.assert_array_equal(dense.index, sparse.index)
    np.testing.assert_array_equal(dense.by_bearing, sparse.by_bearing)
    np.testing.assert_allclose(dense.distance_m, sparse.distance_m, equal_nan=True)


def test_nested_polygons_give_the_smallest_containing_one():
    city = shapely.box(102.0, 38.0, 103.0, 39.0)
    district = shapely.box(102.4, 38.4, 102.6, 38.6)
    other = shapely.box(102.7, 38.7, 102.9, 38.9)
    index = LayerIndex([1, 2, 3], [city, district, other], 50.0, names=["金昌市", "金川区", "永昌县"])
    inside_district, inside_city_only = index.nearest([102.5, 102.1], [38.5, 38.1])
    assert (inside_district.feature_id, inside_district.name, inside_district.distance_m) == (2, "金川区", 0.0)
    assert (inside_city_only.feature_id, inside_city_only.name) == (1, "金昌市")
