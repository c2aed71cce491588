"""Unit tests of the layers manifest parser/validator (fieldkit.layers.manifest)."""

from __future__ import annotations

import json

import pytest

from fieldkit.errors import ConfigError
from fieldkit.layers import load_manifest

GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"segment_id": "A1", "name": "长城甲段", "body": "永昌县文物局"},
     "geometry": {"type": "LineString", "coordinates": [[101.9, 38.3], [101.95, 38.32]]}}]}

GOOD = """
[[layer]]
id = "jinchang-great-wall"
name = "金昌市长城（演示数据）"
kind = "great_wall"
file = "wall.geojson"
crs = "EPSG:4543"
encoding = "utf-8"
id_field = "segment_id"
name_field = "name"
tolerance_m = 200
responsible_body = "永昌县文物主管部门"
responsible_body_field = "body"
source = "generated"
licence = "CC0"
demo = true
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "wall.geojson").write_text(json.dumps(GEOJSON), encoding="utf-8")
    return tmp_path


def write(folder, text):
    path = folder / "layers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_manifest(folder):
    manifest = load_manifest(write(folder, GOOD))
    (entry,) = manifest.entries
    assert entry.id == "jinchang-great-wall" and entry.kind == "great_wall"
    assert entry.file == folder / "wall.geojson"
    assert entry.tolerance_m == 200 and entry.demo is True
    options = entry.import_options()
    assert options["slug"] == "jinchang-great-wall" and options["responsible_body_field"] == "body"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace('kind = "great_wall"', 'kind = "castle"'), "kind 'castle' is not one of"),
        (lambda t: t.replace('file = "wall.geojson"', 'file = "nope.geojson"'), "file 'nope.geojson' not found"),
        (lambda t: t.replace('name_field = "name"', 'name_feld = "name"'), "unknown key 'name_feld'"),
        (lambda t: t.replace('name = "金昌市长城（演示数据）"\n', ""), "missing required field 'name'"),
        (lambda t: t.replace("tolerance_m = 200", 'tolerance_m = "200"'), "tolerance_m = '200' is not a number"),
        (lambda t: t.replace("demo = true", 'demo = "yes"'), "demo = 'yes' is not a boolean"),
        (lambda t: t.replace('crs = "EPSG:4543"', 'crs = "EPSG:999999"'), "crs 'EPSG:999999'"),
        (lambda t: t.replace('encoding = "utf-8"', 'encoding = "klingon"'), "encoding 'klingon' is unknown"),
        (lambda t: t.replace('id = "jinchang-great-wall"', 'id = "Bad Id"'), "is not a slug"),
    ],
)
def test_bad_entries_name_the_entry(folder, edit, message):
    with pytest.raises(ConfigError) as info:
        load_manifest(write(folder, edit(GOOD)))
    assert message in str(info.value)
    assert "layer #1" in str(info.value)


def test_duplicate_ids(folder):
    with pytest.raises(ConfigError, match=r"layer #2 \(id 'jinchang-great-wall'\): duplicate id, also layer #1"):
        load_manifest(write(folder, GOOD + GOOD))


def test_all_errors_reported_at_once(folder):
    text = GOOD + GOOD.replace("jinchang-great-wall", "second").replace('kind = "great_wall"', 'kind = "x"')
    text = text.replace("demo = true", "demo = true\nextra = 1", 1)
    with pytest.raises(ConfigError) as info:
        load_manifest(write(folder, text))
    message = str(info.value)
    assert "layer #1 (id 'jinchang-great-wall'): unknown key 'extra'" in message
    assert "layer #2 (id 'second'): kind 'x'" in message


def test_unknown_top_level_key_and_no_layers(folder):
    with pytest.raises(ConfigError, match="unknown top-level key 'layers'") as info:
        load_manifest(write(folder, '[[layers]]\nid = "x"\n'))
    assert "no [[layer]] entries" in str(info.value)


def test_not_toml(folder):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_manifest(write(folder, "[[layer]\nid ="))


def test_missing_manifest(tmp_path):
    with pytest.raises(ConfigError, match="no such manifest"):
        load_manifest(tmp_path / "absent.toml")
