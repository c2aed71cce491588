"""Importing layers of every supported format into the database, and the CLI."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import func, select

from fieldkit.cli import main
from fieldkit.errors import InputError
from fieldkit.layers import check_file, import_file, import_manifest
from fieldkit.store.models import Feature, Layer

NAMES = ["黄河", "湟水河", "石羊河"]


def river_frame() -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(101.8 + i * 0.1, 38.2), (101.85 + i * 0.1, 38.25)]) for i in range(3)]
    return gpd.GeoDataFrame({"code": ["R1", "R2", "R3"], "名称": NAMES}, geometry=lines, crs="EPSG:4326")


def write_gbk_shapefile(folder, stem="rivers", prj=False):
    """A shapefile whose .dbf is GBK, with no .cpg (and no .prj unless asked)."""
    path = folder / f"{stem}.shp"
    pyogrio.write_dataframe(river_frame(), path, encoding="GBK")
    (folder / f"{stem}.cpg").unlink(missing_ok=True)
    if not prj:
        (folder / f"{stem}.prj").unlink()
    return path


def zip_files(target, files):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f.name)
    return target


def stored(rt, slug):
    with rt.db.session() as s:
        layer = s.scalar(select(Layer).where(Layer.slug == slug))
        feats = s.scalars(select(Feature).where(Feature.layer_id == layer.id)).all()
    # The store keeps features in spatial (minx) order; tests compare them in source order.
    return layer, sorted(feats, key=lambda f: (len(f.fid), f.fid))


def test_gbk_shapefile_without_cpg(runtime, tmp_path):
    path = write_gbk_shapefile(tmp_path)
    layer, report = import_file(runtime, path, "river", name="测试河流", slug="rivers", id_field="code")
    assert report.encoding == "gb18030" and report.encoding_source == "detected"
    assert report.crs_source == "assumed"
    layer, feats = stored(runtime, "rivers")
    assert layer.version == 1 and layer.feature_count == 3 and layer.name == "测试河流"
    assert [f.name for f in feats] == NAMES and [f.fid for f in feats] == ["R1", "R2", "R3"]
    assert feats[0].properties == {"code": "R1", "名称": "黄河"}
    assert feats[0].length_m == pytest.approx(7111, rel=0.01)
    assert feats[0].geom.equals_exact(river_frame().geometry[0], 1e-9)
    assert feats[0].minx == pytest.approx(101.8) and feats[0].maxy == pytest.approx(38.25)
    assert layer.report["features_stored"] == 3


def test_encoding_option_overrides_detection(tmp_path):
    path = write_gbk_shapefile(tmp_path)
    result = check_file(path, encoding="latin-1")
    assert result.report.encoding_source == "option"
    assert result.names[0] != "黄河"  # mojibake, as the user asked


def test_wrong_cpg_is_reported_and_ignored(tmp_path):
    path = write_gbk_shapefile(tmp_path)
    (tmp_path / "rivers.cpg").write_text("UTF-8")
    result = check_file(path)
    assert result.names == NAMES
    assert any("the .cpg says 'UTF-8'" in w for w in result.report.warnings)


def test_zipped_shapefile_and_reimport_bumps_version(runtime, tmp_path):
    write_gbk_shapefile(tmp_path, prj=True)
    archive = zip_files(tmp_path / "rivers.zip", sorted(tmp_path.glob("rivers.*")))
    layer, report = import_file(runtime, archive, "river", slug="zr")
    assert report.crs == "EPSG:4326" and report.crs_source == "file"
    assert report.extra["zip_member"] == "rivers.shp"
    layer2, _ = import_file(runtime, archive, "river", slug="zr")
    layer, feats = stored(runtime, "zr")
    assert layer2.id == layer.id and layer.version == 2 and len(feats) == 3
    assert [f.name for f in feats] == NAMES
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Feature)) == 3


def test_geopackage_projected(runtime, tmp_path):
    frame = river_frame().to_crs("EPSG:4543")
    path = tmp_path / "r.gpkg"
    pyogrio.write_dataframe(frame, path, layer="rivers")
    layer, report = import_file(runtime, path, "river")
    assert report.crs == "EPSG:4543" and report.crs_source == "file"
    _, feats = stored(runtime, layer.slug)
    assert feats[0].geom.equals_exact(river_frame().geometry[0], 1e-7)


def test_kml(runtime, tmp_path):
    path = tmp_path / "sites.kml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        '<Placemark><name>健身点一</name><Point><coordinates>102.19,38.52</coordinates></Point></Placemark>'
        '<Placemark><name>健身点二</name><Point><coordinates>102.20,38.50</coordinates></Point></Placemark>'
        "</Document></kml>", encoding="utf-8")
    layer, report = import_file(runtime, path, "fitness_site")
    _, feats = stored(runtime, layer.slug)
    assert [f.name for f in feats] == ["健身点一", "健身点二"]
    assert (feats[0].geom.x, feats[0].geom.y) == pytest.approx((102.19, 38.52))


def test_csv_gbk_detected_columns_and_bad_rows(runtime, tmp_path):
    path = tmp_path / "sites.csv"
    text = "名称,经度,纬度\n金川公园,102.19,38.52\n坏行,abc,38.5\n永昌广场,101.97,38.25\n"
    path.write_bytes(text.encode("gbk"))
    layer, report = import_file(runtime, path, "fitness_site")
    assert report.encoding == "gb18030" and report.dropped_bad_coords == 1
    (problem,) = report.problems
    assert problem.row == 3 and "'abc'" in problem.message
    _, feats = stored(runtime, layer.slug)
    assert [f.name for f in feats] == ["金川公园", "永昌广场"]
    assert [f.fid for f in feats] == ["2", "4"]  # spreadsheet row numbers


def test_csv_named_columns_and_missing_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,E,N\n1,102.1,38.4\n", encoding="utf-8")
    with pytest.raises(InputError, match="no x .* column found.*--x-field"):
        check_file(path)
    result = check_file(path, x_field="e", y_field="N", id_field="id")
    assert (result.geoms[0].x, result.geoms[0].y) == (102.1, 38.4) and result.fids == ["1"]


def test_xlsx(tmp_path):
    path = tmp_path / "sites.xlsx"
    pd.DataFrame({"name": ["甲", "乙"], "lng": [102.19, 101.97], "lat": [38.52, 38.25]}).to_excel(path, index=False)
    result = check_file(path, "fitness_site")
    assert result.names == ["甲", "乙"] and result.report.source_format == "xlsx"
    assert np.allclose(shapely.get_coordinates(result.geoms), [[102.19, 38.52], [101.97, 38.25]])


def test_failed_import_stores_nothing(runtime, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("lon,lat\n500000,4200000\n", encoding="utf-8")
    with pytest.raises(InputError):
        import_file(runtime, path, "fitness_site")
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Layer)) == 0


def test_import_manifest(runtime, tmp_path):
    write_gbk_shapefile(tmp_path)
    (tmp_path / "layers.toml").write_text(
        '[[layer]]\nid = "gansu-rivers"\nname = "河流"\nkind = "river"\nfile = "rivers.shp"\n'
        'crs = "EPSG:4490"\nencoding = "gbk"\nid_field = "code"\ntolerance_m = 150\n'
        'responsible_body = "水务局"\nsource = "test"\nlicence = "CC0"\ndemo = true\n', encoding="utf-8")
    ((layer, report),) = import_manifest(runtime, tmp_path / "layers.toml")
    assert layer.slug == "gansu-rivers" and layer.tolerance_m == 150 and layer.responsible_body == "水务局"
    assert layer.attribution == "test" and layer.licence == "CC0"
    assert report.crs == "EPSG:4490" and report.encoding_source == "option" and layer.report["extra"]["demo"]


def test_cli_import_check_list(tmp_path):
    path = write_gbk_shapefile(tmp_path)
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(main, [*data, "layers", "check", str(path), "--kind", "river", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["features_stored"] == 3
    result = runner.invoke(main, [*data, "layers", "import", str(path), "--kind", "river", "--slug", "r"])
    assert result.exit_code == 0, result.output
    assert "stored layer 'r' (version 1, 3 features)" in result.output
    result = runner.invoke(main, [*data, "layers", "list"])
    assert result.exit_code == 0 and "r " in result.output and "river" in result.output
    result = runner.invoke(main, [*data, "layers", "import", str(path), "--kind", "boundary"])
    assert result.exit_code == 2 and "needs polygon geometries" in result.output


def test_cli_check_manifest(tmp_path):
    (tmp_path / "layers.toml").write_text('[[layer]]\nid = "x"\nname = "x"\nkind = "lake"\nfile = "no.shp"\n')
    result = CliRunner().invoke(main, ["layers", "check-manifest", str(tmp_path / "layers.toml")])
    assert result.exit_code == 3
    assert "layer #1 (id 'x'): kind 'lake'" in result.output and "file 'no.shp' not found" in result.output


def test_layers_named_only_in_chinese_get_distinct_stable_ids(runtime, tmp_path):
    """长城.shp and 河流.shp used to both become 'layer', the second replacing the first."""
    from fieldkit.layers.importer import slugify

    rivers = write_gbk_shapefile(tmp_path, stem="河流")
    frame = river_frame()
    frame.geometry = frame.geometry.translate(0.5, 0.5)
    wall = tmp_path / "长城.geojson"
    frame.to_file(wall, driver="GeoJSON")
    first, _ = import_file(runtime, rivers, "river")
    second, _ = import_file(runtime, wall, "great_wall")
    assert first.slug != second.slug
    assert first.slug.startswith("layer-") and second.slug.startswith("layer-")
    again, _ = import_file(runtime, rivers, "river")  # the same name: the same layer, replaced
    assert again.slug == first.slug and again.version == 2
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Layer)) == 2
    assert slugify("Jinchang Great Wall") == "jinchang-great-wall"  # ASCII names as before
    assert slugify("Café") == "cafe"
    assert slugify("长城 2024") != slugify("河流 2024")
