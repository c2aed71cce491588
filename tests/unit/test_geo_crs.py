"""CRS resolution, legacy GeoJSON crs members, reprojection to WGS84 and CRS suggestions."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from fieldkit.errors import CRSError
from fieldkit.geo import chinese
from fieldkit.geo.crs import (
    CRSInfo,
    legacy_geojson_crs,
    looks_swapped,
    plausible_lonlat,
    resolve_crs,
    suggest_crs,
    to_wgs84,
)
from fieldkit.geo.measure import distance_m


@pytest.mark.parametrize(("spec", "key"), [
    ("EPSG:4490", "EPSG:4490"), ("4490", "EPSG:4490"), (4490, "EPSG:4490"), ("epsg:4547", "EPSG:4547"),
    ("cgcs2000", "EPSG:4490"), ("CGCS2000", "EPSG:4490"), ("wgs84", "EPSG:4326"), ("WGS 84", "EPSG:4326"),
    ("xian80", "EPSG:4610"), ("hk1980", "EPSG:2326"), ("gcj02", "gcj02"), ("GCJ-02", "gcj02"),
    ("amap", "gcj02"), ("bd09", "bd09"), ("baidu", "bd09"), (2390, "EPSG:2390"), (2327, "EPSG:2327"),
    ("urn:ogc:def:crs:EPSG::4523", "EPSG:4523"), ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"),
    ("http://www.opengis.net/def/crs/EPSG/0/4554", "EPSG:4554"),
    ("+proj=longlat +datum=WGS84 +no_defs", "EPSG:4326"),
])
def test_resolve_crs_accepts_codes_and_names(spec, key):
    info = resolve_crs(spec)
    assert info.key == key and info.label


@pytest.mark.parametrize("code", [4491, 4512, 4513, 4533, 4534, 4554, 2327, 2390, 2326, 4610])
def test_resolve_all_chinese_zone_ranges(code):
    info = resolve_crs(code)
    assert info.key == f"EPSG:{code}"
    assert info.pyproj_crs.to_epsg() == code


def test_resolve_wkt_and_pyproj_crs_objects():
    wkt = pyproj.CRS.from_epsg(4543).to_wkt()
    assert resolve_crs(wkt).key == "EPSG:4543"
    assert resolve_crs(pyproj.CRS.from_epsg(4543)).key == "EPSG:4543"
    custom = resolve_crs("+proj=tmerc +lon_0=102.5 +k=1 +x_0=500000 +ellps=GRS80 +units=m +no_defs")
    assert custom.key.startswith("PROJCRS") and custom.pyproj_crs.is_projected


def test_offset_crs_have_no_pyproj_crs():
    assert resolve_crs("gcj02").pyproj_crs is None
    assert resolve_crs("bd09").pyproj_crs is None
    assert isinstance(resolve_crs(4326), CRSInfo)
    with pytest.raises(AttributeError):
        resolve_crs(4326).key = "x"  # frozen


@pytest.mark.parametrize(("spec", "message"), [
    (None, "no CRS"), ("", "empty"), ("not-a-crs", "unknown CRS 'not-a-crs'"),
    ("EPSG:999999", "unknown CRS"), (4978, "geocentric"), (True, "got bool"), (3.5, "got float"),
])
def test_resolve_crs_errors_name_the_input(spec, message):
    with pytest.raises(CRSError, match=message):
        resolve_crs(spec)


@pytest.mark.parametrize(("member", "expected"), [
    ({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}, "EPSG:4547"),
    ({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG:6.6:4490"}}, "EPSG:4490"),
    ({"type": "name", "properties": {"name": "EPSG:4326"}}, "EPSG:4326"),
    ({"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "EPSG:4326"),
    ({"type": "name", "properties": {"name": "http://www.opengis.net/def/crs/EPSG/0/2326"}}, "EPSG:2326"),
    ({"type": "EPSG", "properties": {"code": 4523}}, "EPSG:4523"),
    ({"type": "name", "properties": {"name": "CGCS2000"}}, "CGCS2000"),
    ({"type": "link", "properties": {"href": "http://example.com/crs.prj", "type": "proj4"}}, None),
    ({"type": "name", "properties": {}}, None), ({"type": "name"}, None), (None, None), ("EPSG:4326", None),
])
def test_legacy_geojson_crs(member, expected):
    assert legacy_geojson_crs(member) == expected


def test_legacy_name_resolves():
    name = legacy_geojson_crs({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}})
    assert resolve_crs(name).label == "CGCS2000 / 3-degree Gauss-Kruger CM 114E"


def _points(lon, lat):
    return shapely.points(np.asarray(lon, float), np.asarray(lat, float))


def test_to_wgs84_identity_for_4326():
    geoms = np.array([shapely.Point(102, 38), None], dtype=object)
    assert to_wgs84(geoms, resolve_crs(4326)) is geoms


def test_to_wgs84_gauss_kruger_zone_round_trip():
    lon, lat = np.array([102.1, 102.9, 101.3]), np.array([38.5, 38.2, 37.9])
    fwd = pyproj.Transformer.from_crs(4326, 4543, always_xy=True)
    x, y = fwd.transform(lon, lat)
    line = shapely.LineString(np.column_stack([x, y]))
    out = to_wgs84(np.array([_points(x[0], y[0]), line, None], dtype=object), resolve_crs("EPSG:4543"))
    assert out[2] is None
    back = shapely.get_coordinates(out[1])
    assert distance_m(back[:, 0], back[:, 1], lon, lat).max() < 0.001
    assert distance_m(out[0].x, out[0].y, lon[0], lat[0]) < 0.001


def test_to_wgs84_cgcs2000_is_within_a_metre_of_wgs84():
    geoms = _points([102.19, 125.14], [38.52, 42.89])
    out = to_wgs84(geoms, resolve_crs("cgcs2000"))
    assert out is not geoms
    assert distance_m(shapely.get_x(out), shapely.get_y(out), [102.19, 125.14], [38.52, 42.89]).max() < 1.0


def test_to_wgs84_gcj02_and_bd09_use_the_chinese_module_and_keep_z():
    line = shapely.LineString([(102.19, 38.52, 1500.0), (102.20, 38.53, 1510.0)])
    out = to_wgs84(np.array([line]), resolve_crs("amap"))[0]
    coords = shapely.get_coordinates(out, include_z=True)
    expected = np.column_stack(chinese.gcj02_to_wgs84(np.array([102.19, 102.20]), np.array([38.52, 38.53])))
    np.testing.assert_allclose(coords[:, :2], expected, atol=1e-12)
    assert coords[:, 2].tolist() == [1500.0, 1510.0]
    bd = to_wgs84(np.array([shapely.Point(116.404, 39.915)]), resolve_crs("baidu"))[0]
    assert distance_m(bd.x, bd.y, *chinese.bd09_to_wgs84(116.404, 39.915)) < 1e-6


def test_to_wgs84_reports_untransformable_coordinates():
    far = _points([1e12], [1e12])
    with pytest.raises(CRSError, match="1 of 1 geometries could not be transformed"):
        to_wgs84(far, resolve_crs("EPSG:4543"))
    # Empty geometries and NaN input pass through without an error.
    empty = np.array([shapely.from_wkt("POINT EMPTY"), shapely.Point(np.nan, np.nan)], dtype=object)
    assert to_wgs84(empty, resolve_crs("EPSG:4543")).shape == (2,)


def test_plausible_lonlat_and_swapped():
    assert plausible_lonlat((101.5, 37.8, 102.9, 39.1))
    assert not plausible_lonlat((35_400_000, 4_200_000, 35_450_000, 4_260_000))
    assert not plausible_lonlat((37.8, 101.5, 39.1, 102.9))   # lat/lon swapped: y > 90
    assert not plausible_lonlat((np.nan, 0, 1, 1))
    assert looks_swapped((37.8, 101.5, 39.1, 102.9))
    assert looks_swapped((38.5, 80.1, 39.0, 81.0))            # swapped but still "plausible" lon/lat
    assert not looks_swapped((101.5, 37.8, 102.9, 39.1))


def _projected_bounds(epsg, lon, lat, half=0.02):
    fwd = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    x, y = fwd.transform([lon - half, lon + half], [lat - half, lat + half])
    return (min(x), min(y), max(x), max(y))


def test_suggest_zone_prefixed_easting():
    bounds = _projected_bounds(4523, 105.2, 38.0)  # easting 35,5xx,xxx
    assert 35_000_000 < bounds[0] < 36_000_000
    suggestions = suggest_crs(bounds)
    assert suggestions[0][0] == "EPSG:4523"
    assert "3-degree Gauss-Kruger zone 35" in suggestions[0][1] and "zone number 35" in suggestions[0][1]
    assert "EPSG:2359" in [k for k, _ in suggestions]  # the Xian 80 zone 35 alternative
    six = suggest_crs(_projected_bounds(4497, 111.3, 30.7))  # 6-degree zone 19 (CM 111E, Yichang)
    assert six[0][0] == "EPSG:4497"


def test_suggest_unprefixed_lists_central_meridians_covering_china():
    bounds = _projected_bounds(4543, 102.1, 38.5)  # Jinchang, CM 102E: 4xx/5xx,xxx; 4,2xx,xxx
    suggestions = suggest_crs(bounds)
    keys = [k for k, _ in suggestions]
    three_degree = [k for k in keys if 4534 <= int(k[5:]) <= 4554]
    assert "EPSG:4543" in three_degree and len(three_degree) >= 10
    assert keys[: len(three_degree)] == three_degree  # 3-degree CM zones come first
    assert "EPSG:4534" in keys                        # 75E: Xinjiang reaches 38.5N
    assert "EPSG:4551" not in keys                    # 126E at 38.5N is North Korea/sea
    assert any(k == "EPSG:32648" for k in keys)
    assert "ambiguous" in suggestions[0][1]
    # Liaoyuan (CM 126E, 42.9N) is a candidate there.
    assert "EPSG:4551" in [k for k, _ in suggest_crs(_projected_bounds(4551, 125.2, 42.9))]


def test_suggest_hk1980_grid_and_web_mercator():
    assert suggest_crs((803_520, 807_558, 846_331, 845_074))[0][0] == "EPSG:2326"
    assert suggest_crs(_projected_bounds(3857, 121.47, 31.23))[0][0] == "EPSG:3857"


@pytest.mark.parametrize("bounds", [
    (101.5, 37.8, 102.9, 39.1),                  # already lon/lat
    (5_000, 6_000, 9_000, 9_500),                # small local grid
    (35_400_000, 4_200_000, 36_100_000, 4_260_000),  # straddles two zone prefixes
    (np.nan, 1, 2, 3),
])
def test_suggest_returns_nothing_for_unrecognised_numbers(bounds):
    assert suggest_crs(bounds) == []
