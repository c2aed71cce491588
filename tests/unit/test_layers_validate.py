"""check_file on small GeoJSON files made in tmp_path: CRS rules, repair, swap, kind, flags."""

from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest
import shapely

from fieldkit.errors import CRSError, InputError
from fieldkit.layers import check_file

WALL = [[101.90, 38.30], [101.95, 38.32], [102.00, 38.31]]  # near Yongchang, Gansu


def feature(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_geojson(path, features, crs=None):
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def line(coords):
    return {"type": "LineString", "coordinates": coords}


def test_plain_lines_assumed_wgs84_with_length(tmp_path):
    path = write_geojson(tmp_path / "w.geojson", [feature(line(WALL), name="甲段")])
    result = check_file(path, "great_wall")
    report = result.report
    assert report.crs == "EPSG:4326" and report.crs_source == "assumed"
    assert any("assumed WGS84" in w for w in report.warnings)
    geod = pyproj.Geod(ellps="WGS84")
    expected = geod.line_length([c[0] for c in WALL], [c[1] for c in WALL])
    assert result.lengths_m[0] == pytest.approx(expected, rel=1e-6)  # geo.measure: < 1 mm per km
    assert result.names == ["甲段"] and result.fids == ["1"]


def test_legacy_crs_member_is_honoured(tmp_path):
    to_4547 = pyproj.Transformer.from_crs(4326, 4547, always_xy=True)
    projected = [list(to_4547.transform(x, y)) for x, y in WALL]
    path = write_geojson(tmp_path / "p.geojson", [feature(line(projected))], crs="urn:ogc:def:crs:EPSG::4547")
    result = check_file(path, "great_wall", crs="EPSG:4326")  # the file's own crs wins
    assert result.report.crs == "EPSG:4547" and result.report.crs_source == "file"
    assert any("ignored" in w for w in result.report.warnings)
    got = shapely.get_coordinates(result.geoms[0])
    assert np.allclose(got, WALL, atol=1e-7)


def test_projected_numbers_without_crs_refused_with_candidates(tmp_path):
    to_4543 = pyproj.Transformer.from_crs(4326, 4543, always_xy=True)
    projected = [list(to_4543.transform(x, y)) for x, y in WALL]
    path = write_geojson(tmp_path / "gk.geojson", [feature(line(projected))])
    with pytest.raises(CRSError) as info:
        check_file(path, "great_wall")
    message = str(info.value)
    assert "gk.geojson" in message and "not plausible longitude/latitude" in message
    assert "EPSG:4543" in message  # 3-degree CGCS2000 zone with CM 102E is among the candidates
    result = check_file(path, "great_wall", crs="EPSG:4543")
    assert np.allclose(shapely.get_coordinates(result.geoms[0]), WALL, atol=1e-7)


def test_geographic_crs_with_projected_numbers_refused(tmp_path):
    path = write_geojson(tmp_path / "gk.geojson", [feature(line([[500000, 4200000], [501000, 4201000]]))])
    with pytest.raises(CRSError, match="not longitude/latitude"):
        check_file(path, crs="EPSG:4490")


def test_swapped_refused_then_swapped_on_request(tmp_path):
    swapped = [[y, x] for x, y in WALL]
    path = write_geojson(tmp_path / "s.geojson", [feature(line(swapped))])
    with pytest.raises(CRSError, match="look swapped.*--swap-xy"):
        check_file(path, "great_wall")
    result = check_file(path, "great_wall", swap_xy=True)
    assert result.report.swapped_xy
    assert np.allclose(shapely.get_coordinates(result.geoms[0]), WALL)


def test_bow_tie_repaired_and_empty_dropped(tmp_path):
    bow_tie = {"type": "Polygon", "coordinates": [[[102, 38], [102.1, 38.1], [102.1, 38], [102, 38.1], [102, 38]]]}
    square = {"type": "Polygon", "coordinates": [[[102, 38], [102.1, 38], [102.1, 38.1], [102, 38.1], [102, 38]]]}
    features = [feature(square, code="A"), feature(bow_tie, code="B"), feature(None, code="C")]
    path = write_geojson(tmp_path / "b.geojson", features)
    result = check_file(path, "boundary", id_field="code")
    report = result.report
    assert report.repaired == 1 and report.dropped_empty == 1 and report.features_stored == 2
    assert result.fids == ["A", "B"]
    assert shapely.is_valid(result.geoms).all()
    assert result.geoms[1].geom_type == "MultiPolygon"
    assert result.flags == [None, ["repaired"]]
    by_code = {p.code: p for p in report.problems}
    assert by_code["repaired"].row == 2 and by_code["repaired"].fid == "B"
    assert "Self-intersection" in by_code["repaired"].message
    assert by_code["empty"].row == 3 and "feature #3 (id 'C')" in by_code["empty"].message


def test_outside_china_flagged(tmp_path):
    features = [feature(line(WALL)), feature(line([[2.35, 48.85], [2.36, 48.86]]))]
    result = check_file(write_geojson(tmp_path / "o.geojson", features), "river")
    assert result.report.outside_china == 1
    assert result.flags == [None, ["outside_china"]]
    (problem,) = result.report.problems
    assert problem.row == 2 and problem.code == "outside_china"


def test_wrong_geometry_type_for_kind(tmp_path):
    point = {"type": "Point", "coordinates": [102, 38.3]}
    mixed = write_geojson(tmp_path / "m.geojson", [feature(line(WALL)), feature(point)])
    result = check_file(mixed, "river")
    assert result.report.dropped_wrong_type == 1 and len(result) == 1
    assert "Point does not fit a river layer" in result.report.problems[0].message
    points = write_geojson(tmp_path / "p.geojson", [feature(point)])
    with pytest.raises(InputError, match="a great_wall layer needs line geometries, but the file holds 1 Point"):
        check_file(points, "great_wall")


def test_unknown_kind_and_missing_fields(tmp_path):
    path = write_geojson(tmp_path / "w.geojson", [feature(line(WALL), name="x")])
    with pytest.raises(InputError, match="unknown layer kind 'wall'"):
        check_file(path, "wall")
    with pytest.raises(InputError, match="no attribute 'seg' for the feature id"):
        check_file(path, id_field="seg")


def test_gcj02_option_overrides_declared_wgs84(tmp_path):
    path = write_geojson(tmp_path / "g.geojson", [feature(line(WALL))], crs="urn:ogc:def:crs:OGC:1.3:CRS84")
    result = check_file(path, crs="gcj02")
    assert result.report.crs == "gcj02"
    shift = np.abs(shapely.get_coordinates(result.geoms[0]) - np.array(WALL)).max()
    assert 1e-4 < shift < 1e-2  # GCJ-02 offsets are hundreds of metres


def test_non_finite_coordinates_dropped_with_a_reason(tmp_path):
    """A KML "NaN116.0" coordinate reads as NaN; GEOS would warn on repairing it."""
    path = tmp_path / "nan.kml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><name>坏段</name><LineString><coordinates>NaN116.0,40.0 116.1,40.1</coordinates>"
        "</LineString></Placemark><Placemark><name>好段</name><LineString><coordinates>116.0,40.0 116.1,40.1"
        "</coordinates></LineString></Placemark></Document></kml>", encoding="utf-8")
    result = check_file(path, "great_wall")
    assert result.names == ["好段"] and result.report.dropped_bad_coords == 1
    assert [p.code for p in result.report.problems] == ["bad_coordinates"]
    assert "not a finite number" in result.report.problems[0].message
