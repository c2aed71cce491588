"""GIS exports read back with pyogrio and with GDAL's ``ogrinfo``: CRS, Chinese values, counts."""

from __future__ import annotations

import csv
import shutil
import subprocess

import pyogrio
import pytest

from fieldkit.errors import InputError
from fieldkit.exports.gis import write_gis
from fieldkit.exports.scope import ExportScope, parse_scope
from tests.integration import test_exports_world as _world_module
from tests.integration.test_exports_world import CHINESE_NOTE, HOSTILE_NOTE, LAT0, LON0

shared_world = _world_module.shared_world  # the fixture, shared from the world module


@pytest.fixture
def world(shared_world):
    """The module's read-only export world."""
    return shared_world


OGRINFO = shutil.which("ogrinfo")


def _ogrinfo(path) -> str:
    if OGRINFO is None:
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    run = subprocess.run([OGRINFO, "-ro", "-so", "-al", str(path)], capture_output=True, timeout=60,
                         env={"OGR_SKIP": "OGR_VRT", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr.decode("utf-8", "replace")
    return run.stdout.decode("utf-8")


def _ogr_features(path, layer) -> str:
    run = subprocess.run([OGRINFO, "-ro", "-al", str(path), layer] if layer else [OGRINFO, "-ro", "-al", str(path)],
                         capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    return run.stdout.decode("utf-8")


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "kml"])
def test_export_reads_back_with_crs_and_chinese(world, tmp_path, fmt):
    out = tmp_path / f"巡查.{fmt}"
    result = write_gis(world.rt, ExportScope(), out)
    expected_layers = ["findings", "photos"] if fmt in ("gpkg", "kml") else ["findings"]
    assert list(result.counts) == expected_layers and result.counts["findings"] == 3
    assert [name for name, _ in pyogrio.list_layers(out)] == expected_layers
    findings = pyogrio.read_dataframe(out, layer="findings")
    assert findings.crs.to_epsg() == 4326
    assert len(findings) == 3
    river = findings[findings.geometry.y < LAT0 - 0.01]
    assert len(river) == 1 and abs(river.geometry.x.iloc[0] - LON0) < 1e-6
    if fmt == "kml":
        descriptions = findings["description" if "description" in findings else "Description"]
        assert {CHINESE_NOTE, HOSTILE_NOTE} <= set(descriptions)
        assert not any("<img" in d for d in descriptions)  # viewers render KML text as HTML
        assert any(d.startswith("&lt;/script&gt;&lt;img") for d in descriptions)
        assert "八达岭北段" in set(findings["feature_name"])
    else:
        assert set(findings["note"]) >= {CHINESE_NOTE, HOSTILE_NOTE}  # GIS keeps data verbatim
        assert set(findings["state_zh"]) == {"未整改"}
        assert "八达岭北段" in set(findings["feature_name"])
    info = _ogrinfo(out)
    assert "WGS 84" in info or "WGS84" in info
    assert "Feature Count: 3" in info
    assert CHINESE_NOTE in _ogr_features(out, "findings")


def test_photos_layer_has_places_sources_and_uploaders(world, tmp_path):
    out = tmp_path / "photos.gpkg"
    result = write_gis(world.rt, ExportScope(), out)
    assert result.counts["photos"] == 4 and result.unplaced_photos == 1
    photos = pyogrio.read_dataframe(out, layer="photos").set_index("photo_id")
    assert photos.crs.to_epsg() == 4326
    pinned = photos.loc[world.photos["pinned"]]
    assert pinned["source"] == "manual" and pinned["source_zh"] == "人工标注"
    assert photos.loc[world.photos["wall1"], "name"] == "现场照片.jpg"
    assert photos.loc[world.photos["wall1"], "uploaded_by"] == "insp"
    assert str(photos["taken_utc"].dtype).startswith("datetime64")
    assert photos.loc[world.photos["wall1"], "taken_utc"].hour == 2  # 10:30 at +08:00 is 02:30 UTC
    assert "Feature Count: 4" in _ogrinfo(out)


def test_photos_honour_the_viewer(world, tmp_path):
    from fieldkit.exports.gis import photos_frame
    from fieldkit.store import User

    with world.rt.db.session() as s:
        users = {u.username: u for u in s.query(User)}
    frame, unplaced = photos_frame(world.rt, ExportScope(), users["insp2"])
    assert sorted(frame["photo_id"]) == sorted([world.photos["pinned"], world.photos["river"]]) and unplaced == 0
    assert len(photos_frame(world.rt, ExportScope(), None)[0]) == 0  # nobody logged in sees nothing
    assert len(photos_frame(world.rt, ExportScope(), users["admin"])[0]) == 4


def test_csv_has_wkt_lonlat_bom_and_neutralised_text(world, tmp_path):
    out = tmp_path / "findings.csv"
    write_gis(world.rt, ExportScope(), out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0])[:1] == ["WKT"] and {"lon", "lat"} <= set(rows[0])
    notes = {r["note"] for r in rows}
    assert "'" + HOSTILE_NOTE in notes and CHINESE_NOTE in notes
    assert all(r["WKT"].startswith("POINT (") for r in rows)
    frame = pyogrio.read_dataframe(out)  # GDAL takes the WKT column as the geometry
    assert len(frame) == 3 and frame.geometry.notna().all()
    assert CHINESE_NOTE in set(frame["note"])
    assert "Feature Count: 3" in _ogrinfo(out)


def test_single_layer_formats_take_the_photos_layer_and_scope(world, tmp_path):
    out = tmp_path / "photos.geojson"
    result = write_gis(world.rt, parse_scope({"inspection": "夏季巡查"}), out, layer="photos")
    assert result.counts == {"photos": 1}
    frame = pyogrio.read_dataframe(out)
    assert list(frame["name"]) == ["河道.jpg"]
    with pytest.raises(InputError, match="shp"):
        write_gis(world.rt, ExportScope(), tmp_path / "x.shp")
