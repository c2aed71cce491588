"""Unit tests of the pre-GDAL safety checks (zips, XML) in fieldkit.layers.safety."""

from __future__ import annotations

import stat
import zipfile

import pytest

from fieldkit.errors import InputError, UnsafeFileError
from fieldkit.layers import safety


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def test_plain_zip_passes(tmp_path):
    path = _zip(tmp_path / "ok.zip", [("a.shp", b"x" * 100), ("a.dbf", b"y")])
    assert [i.filename for i in safety.check_zip(path)] == ["a.shp", "a.dbf"]


@pytest.mark.parametrize(
    "name, message",
    [
        ("../../etc/passwd", "outside the archive"),
        ("dir/../../x.shp", "outside the archive"),
        ("/etc/passwd", "absolute path"),
        ("C:/evil.shp", "absolute path"),
        ("inner.zip", "nested archive"),
        ("x.kmz", "nested archive"),
        ("evil.vrt", ".vrt"),
    ],
)
def test_hostile_entry_names(tmp_path, name, message):
    path = _zip(tmp_path / "bad.zip", [(name, b"data")])
    with pytest.raises(UnsafeFileError, match=message) as info:
        safety.check_zip(path)
    assert "bad.zip" in str(info.value)


def test_symlink_entry_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("a.shp")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        safety.check_zip(path)


def test_too_many_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_ZIP_ENTRIES", 10)
    path = _zip(tmp_path / "many.zip", [(f"f{i}.txt", b"") for i in range(11)])
    with pytest.raises(UnsafeFileError, match="11 entries"):
        safety.check_zip(path)


def test_ratio_bomb(tmp_path):
    path = _zip(tmp_path / "bomb.zip", [("a.dbf", b"\0" * (20 * 1024**2))])
    with pytest.raises(UnsafeFileError, match="compression ratio"):
        safety.check_zip(path)


def test_total_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_ZIP_TOTAL_BYTES", 1000)
    path = _zip(tmp_path / "big.zip", [("a.shp", b"x" * 600), ("a.dbf", b"y" * 600)])
    with pytest.raises(UnsafeFileError, match="expand to more than"):
        safety.check_zip(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(InputError, match="not a readable zip"):
        safety.check_zip(path)


@pytest.mark.parametrize(
    "xml, message",
    [
        (b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]><kml/>', "DOCTYPE"),
        (b"<kml><!ENTITY a 'b'></kml>", "ENTITY"),
        (b"<kml><Document><NetworkLink><Link><href>http://x</href></Link></NetworkLink></Document></kml>",
         "NetworkLink"),
    ],
)
def test_xml_screen(xml, message):
    with pytest.raises(UnsafeFileError, match=message):
        safety.check_xml_bytes("a.kml", xml)


def test_xml_screen_passes_plain_kml():
    safety.check_xml_bytes("a.kml", b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>')


def test_driver_allowlist(tmp_path):
    with pytest.raises(UnsafeFileError, match="OGR_VRT"):
        safety.check_driver(tmp_path / "x.geojson", "geojson", "OGR_VRT")
    safety.check_driver(tmp_path / "x.geojson", "geojson", "GeoJSON")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        safety.check_not_empty(path)
