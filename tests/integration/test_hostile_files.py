"""Hostile and broken files: each refused with a message naming the file, nothing stored."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile

import pyogrio
import pytest
from sqlalchemy import func, select

from fieldkit.errors import InputError, UnsafeFileError
from fieldkit.layers import import_file
from fieldkit.store.models import Feature, Layer

POINT_GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [102.1, 38.5]}}]})
VRT = ('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
       "</OGRVRTLayer></OGRVRTDataSource>")


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def symlink_zip(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.shx", b"x")
        info = zipfile.ZipInfo("a.shp")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


def _write(path, data):
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                            for i in range(1, 10))
                  + ']><kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&lol9;</name>'
                  "<Point><coordinates>102,38</coordinates></Point></Placemark></kml>")
XXE = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&xxe;</name>'
       "<Point><coordinates>102,38</coordinates></Point></Placemark></kml>")

CASES = {
    "zip_slip": (lambda d: make_zip(d / "slip.zip", [("../../evil.shp", b"x")]), UnsafeFileError,
                 "outside the archive"),
    "absolute": (lambda d: make_zip(d / "abs.zip", [("/tmp/evil.shp", b"x")]), UnsafeFileError, "absolute path"),
    "entry_count": (lambda d: make_zip(d / "many.zip", [(f"f{i}.txt", b"") for i in range(1001)]),
                    UnsafeFileError, "1001 entries"),
    "ratio_bomb": (lambda d: make_zip(d / "bomb.zip", [("a.shp", b"\0" * 30 * 1024**2)]), UnsafeFileError,
                   "compression ratio"),
    "symlink": (lambda d: symlink_zip(d / "link.zip"), UnsafeFileError, "symbolic link"),
    "nested_zip": (lambda d: make_zip(d / "nest.zip", [("inner.zip", b"PK\x03\x04")]), UnsafeFileError,
                   "nested archive"),
    "vrt_in_zip": (lambda d: make_zip(d / "vrt.zip", [("a.vrt", VRT), ("b.geojson", POINT_GEOJSON)]),
                   UnsafeFileError, "GDAL virtual file"),
    "kml_xxe": (lambda d: _write(d / "xxe.kml", XXE), UnsafeFileError, "DOCTYPE or ENTITY"),
    "kml_billion_laughs": (lambda d: _write(d / "lol.kml", BILLION_LAUGHS), UnsafeFileError, "DOCTYPE or ENTITY"),
    "zero_bytes": (lambda d: _write(d / "empty.geojson", b""), InputError, "empty (0 bytes)"),
    "not_json": (lambda d: _write(d / "bad.geojson", "{not json"), InputError, "not valid JSON"),
    "json_not_geojson": (lambda d: _write(d / "list.geojson", "[1, 2]"), InputError, "not GeoJSON"),
    "vrt_named_geojson": (lambda d: _write(d / "vrt.geojson", VRT), InputError, "not valid JSON"),
    "geojson_named_kml": (lambda d: _write(d / "fake.kml", POINT_GEOJSON), InputError,
                          "GDAL cannot read it as kml"),
    "vrt_named_kml": (lambda d: _write(d / "v.kml", VRT), UnsafeFileError, "GDAL virtual file (VRT)"),
    "geojson_named_gpkg": (lambda d: _write(d / "f.gpkg", POINT_GEOJSON), UnsafeFileError, "gpkg signature"),
    "geojson_named_shp_in_zip": (lambda d: make_zip(d / "s.zip", [("a.shp", POINT_GEOJSON), ("a.shx", "x"),
                                                                   ("a.dbf", "x")]),
                                 UnsafeFileError, "shapefile signature"),
    "vrt_file": (lambda d: _write(d / "x.vrt", VRT), InputError, "unsupported file type '.vrt'"),
    "garbage_zip": (lambda d: _write(d / "g.zip", b"PK\x03\x04garbage"), InputError, "not a readable zip"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_refused(runtime, tmp_path, case):
    build, error, message = CASES[case]
    path = build(tmp_path)
    with pytest.raises(error) as info:
        import_file(runtime, path, "fitness_site")
    assert message in str(info.value)
    assert path.name in str(info.value)
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Layer)) == 0
        assert s.scalar(select(func.count()).select_from(Feature)) == 0


def _shapefile(folder):
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame({"n": ["a"]}, geometry=[shapely.Point(102.1, 38.5)], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, folder / "pts.shp")
    return folder / "pts.shp"


@pytest.mark.parametrize("sidecar, what", [(".shx", "index"), (".dbf", "attribute table")])
def test_shapefile_missing_sidecar(runtime, tmp_path, sidecar, what):
    path = _shapefile(tmp_path)
    (tmp_path / f"pts{sidecar}").unlink()
    with pytest.raises(InputError, match=f"pts.shp: the shapefile's {what} file \\(pts\\{sidecar}\\) is missing"):
        import_file(runtime, path, "fitness_site")
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Layer)) == 0


def test_zipped_shapefile_missing_shx(runtime, tmp_path):
    path = _shapefile(tmp_path)
    archive = tmp_path / "pts.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for suffix in (".shp", ".dbf", ".prj"):
            zf.write(path.with_suffix(suffix), f"pts{suffix}")
    with pytest.raises(InputError, match=r"pts.zip!pts.shp: the shapefile's index file \(pts.shx\) is missing"):
        import_file(runtime, archive, "fitness_site")


def test_geojson_content_named_shp_refused(tmp_path):
    from fieldkit.layers import check_file

    for suffix, data in ((".shp", POINT_GEOJSON), (".shx", b"x"), (".dbf", b"x")):
        _write(tmp_path / f"fake{suffix}", data)
    with pytest.raises(UnsafeFileError, match="fake.shp: does not start with the shapefile signature"):
        check_file(tmp_path / "fake.shp")


def test_importing_fieldkit_layers_first_disables_the_vrt_driver():
    code = "import fieldkit.layers, pyogrio; print(sorted(pyogrio.list_drivers()))"
    env = {k: v for k, v in os.environ.items() if k != "OGR_SKIP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    drivers = out.stdout
    assert "GeoJSON" in drivers and "OGR_VRT" not in drivers
