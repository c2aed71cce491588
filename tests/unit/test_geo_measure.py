"""Geodesic lengths, distances, UTM choice, chainage and K-format."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely

from fieldkit.errors import InputError
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.geo.measure import (
    GEOD,
    chainage_m,
    distance_m,
    format_chainage,
    line_lengths_m,
    local_metric_crs,
    segment_lengths_m,
)

EQUATOR_DEGREE_M = 6378137.0 * np.pi / 180.0  # one degree of longitude on the WGS84 equator


def _random_lines(n: int, seed: int = 1, vertices: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coords = np.empty((n, vertices, 2))
    coords[:, :, 0] = rng.uniform(74, 134, (n, 1)) + rng.uniform(0, 0.05, (n, vertices))
    coords[:, :, 1] = rng.uniform(19, 53, (n, 1)) + rng.uniform(0, 0.05, (n, vertices))
    return shapely.linestrings(coords)


def test_known_length_one_degree_along_equator():
    line = shapely.LineString([(10, 0), (10.5, 0), (11, 0)])
    assert line_lengths_m(np.array([line]))[0] == pytest.approx(EQUATOR_DEGREE_M, abs=1e-6)


def test_lengths_match_pyproj_geometry_length_on_mixed_sample():
    rng = np.random.default_rng(3)
    sample = list(_random_lines(200))
    sample += [
        shapely.MultiLineString([[(100, 30), (100.2, 30.1)], [(101, 31), (101, 31.5), (101.3, 31.5)]]),
        shapely.Polygon([(102, 38), (102.1, 38), (102.1, 38.1), (102, 38)]),
        shapely.GeometryCollection([shapely.LineString([(0, 0), (0, 1)]), shapely.Point(5, 5)]),
        shapely.LineString([(125, 42, 300), (125.01, 42.01, 350)]),
        shapely.LinearRing([(0, 0), (1, 0), (1, 1), (0, 0)]),
    ]
    rng.shuffle(sample)
    geoms = np.array(sample, dtype=object)
    expected = [GEOD.geometry_length(g) for g in geoms]
    np.testing.assert_allclose(line_lengths_m(geoms), expected, rtol=1e-6, atol=1e-6)


def test_points_none_and_empty_are_zero_never_nan():
    geoms = np.array([None, shapely.Point(1, 2), shapely.from_wkt("LINESTRING EMPTY"),
                      shapely.MultiPoint([(1, 2), (3, 4)]), shapely.LineString([(0, 0), (1, 0)])],
                     dtype=object)
    lengths = line_lengths_m(geoms)
    assert lengths[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert lengths[4] == pytest.approx(EQUATOR_DEGREE_M)
    assert line_lengths_m(np.array([], dtype=object)).shape == (0,)
    assert line_lengths_m(geoms.reshape(1, 5)).shape == (1, 5)


def test_lengths_are_metres_not_degrees():
    # The same 0.1-degree east-west line is much shorter at 53N than at 18N.
    lines = np.array([shapely.LineString([(100, lat), (100.1, lat)]) for lat in (18.5, 53.0)])
    south, north = line_lengths_m(lines)
    assert south == pytest.approx(10_556, rel=1e-3) and north == pytest.approx(6_714, rel=1e-3)


def test_100k_lines_are_fast():
    geoms = _random_lines(100_000)
    start = time.perf_counter()
    lengths = line_lengths_m(geoms)
    assert time.perf_counter() - start < 2.0
    assert np.isfinite(lengths).all() and (lengths > 0).all()


@pytest.mark.slow
def test_one_million_lines_under_a_few_seconds():
    geoms = _random_lines(1_000_000)
    start = time.perf_counter()
    lengths = line_lengths_m(geoms)
    elapsed = time.perf_counter() - start
    assert elapsed < 6.0, f"1,000,000 lines took {elapsed:.2f} s"  # ~1.3-2 s on an idle 2-core box
    idx = np.random.default_rng(0).integers(0, geoms.size, 50)
    np.testing.assert_allclose(lengths[idx], [GEOD.geometry_length(g) for g in geoms[idx]], rtol=1e-6)


def test_distance_m_scalar_and_broadcast():
    assert distance_m(0, 0, 1, 0) == pytest.approx(EQUATOR_DEGREE_M)
    assert isinstance(distance_m(0, 0, 1, 0), float)
    d = distance_m(np.array([0.0, 10.0]), 0.0, np.array([1.0, 10.0]), np.array([0.0, 1.0]))
    assert d.shape == (2,)
    assert d[1] == pytest.approx(GEOD.inv(10, 0, 10, 1)[2])


@pytest.mark.parametrize(("lon", "lat", "epsg"), [
    (102.19, 38.52, 32648),   # Jinchang
    (125.14, 42.89, 32651),   # Liaoyuan
    (114.16, 22.30, 32650),   # Hong Kong
    (-70.0, -33.0, 32719),    # southern hemisphere
    (179.9, 10.0, 32660),
    (180.0, 10.0, 32601),     # 180E is 180W: zone 1
])
def test_local_metric_crs_is_the_utm_zone(lon, lat, epsg):
    assert local_metric_crs(lon, lat).to_epsg() == epsg


def test_local_metric_crs_rejects_bad_positions():
    with pytest.raises(InputError):
        local_metric_crs(float("nan"), 30)
    with pytest.raises(InputError):
        local_metric_crs(100, 95)


def test_chainage_on_a_meridian_equals_geodesic_distance_to_the_foot():
    line = shapely.LineString([(102.0, 38.0), (102.0, 38.05), (102.0, 38.2)])
    # A point 300 m east of the line at 38.1N: its foot is (102.0, 38.1).
    lon, lat, _ = GEOD.fwd(102.0, 38.1, 90, 300)
    expected = GEOD.inv(102.0, 38.0, 102.0, 38.1)[2]
    assert chainage_m(line, lon, lat) == pytest.approx(expected, abs=0.5)
    assert chainage_m(line, 102.0, 37.9) == 0.0            # before the start
    total = line_lengths_m(np.array([line]))[0]
    assert chainage_m(line, 102.001, 38.3) == pytest.approx(total, abs=1e-6)  # past the end


def test_chainage_on_multilinestring_counts_earlier_parts():
    first = [(125.0, 42.0), (125.1, 42.0)]
    second = [(125.2, 42.0), (125.3, 42.0)]
    line = shapely.MultiLineString([first, second])
    first_len = GEOD.inv(125.0, 42.0, 125.1, 42.0)[2]
    got = chainage_m(line, 125.25, 42.0005)
    assert got == pytest.approx(first_len + GEOD.inv(125.2, 42.0, 125.25, 42.0)[2], abs=1.0)
    assert chainage_m(line, 125.05, 41.999) == pytest.approx(GEOD.inv(125.0, 42, 125.05, 42)[2], abs=1.0)


def test_chainage_rejects_empty_lines():
    with pytest.raises(InputError, match="non-empty line"):
        chainage_m(shapely.from_wkt("LINESTRING EMPTY"), 100, 30)


@pytest.mark.parametrize(("metres", "text"), [
    (12300.4, "K12+300"), (5.0, "K0+005"), (999.6, "K1+000"), (0.0, "K0+000"),
    (1000.0, "K1+000"), (0.5, "K0+001"), (123456.49, "K123+456"),
])
def test_format_chainage(metres, text):
    assert format_chainage(metres) == text


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_format_chainage_rejects_bad_values(bad):
    with pytest.raises(InputError):
        format_chainage(bad)


@settings(max_examples=200, deadline=None)
@given(st.floats(73, 135), st.floats(18, 54), st.floats(-0.1, 0.1), st.floats(-0.1, 0.1))
def test_short_segment_lengths_match_geodesics_to_one_mm_per_km(lon, lat, dlon, dlat):
    (got,) = segment_lengths_m([lon], [lat], [lon + dlon], [lat + dlat])
    _, _, exact = GEOD.inv(lon, lat, lon + dlon, lat + dlat)
    assert abs(got - exact) <= 1e-6 * exact + 1e-6  # 1 mm per km, plus 1 µm of rounding


def test_long_segments_are_exact_geodesics():
    got = segment_lengths_m([100.0, 0.0], [30.0, 0.0], [120.0, 179.9], [50.0, 0.0])
    exact = [GEOD.inv(100, 30, 120, 50)[2], GEOD.inv(0, 0, 179.9, 0)[2]]
    np.testing.assert_allclose(got, exact, rtol=1e-12)
