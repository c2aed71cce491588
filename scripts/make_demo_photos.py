#!/usr/bin/env python
"""Generate the demo inspection photos in ``photos/`` from the demo layers, reproducibly.

Each photo is an ~800x600 JPEG of drawn shapes and a caption (e.g. "夯土墙坍塌"), clearly
marked 演示照片 / DEMO, with EXIF written through Pillow's Exif API: Make/Model,
DateTimeOriginal (+ OffsetTimeOriginal for phones) and, for phones, a GPS IFD (0x8825) with
latitude/longitude/altitude/GPSImgDirection as rationals. The design (see photos/README.md):

* ``2025-05_jinchang_great_wall/``: 14 phone photos on the demo wall (EXIF GPS), 8 photos from
  a camera without GPS and without a time-zone tag, placed by ``track.gpx`` (UTC times; the
  camera clock is Beijing time), and 2 more from that camera taken the next day, which nothing
  can place;
* ``2025-06_liaoyuan_fitness/``: 12 phone photos at demo fitness sites (one stored rotated,
  EXIF Orientation 6);
* ``2025-06_liaoyuan_rivers/``: 8 phone photos by the 东辽河 reach in the city.

Usage: ``python scripts/make_demo_photos.py [--layers layers] [--out photos]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import json
import sys
from pathlib import Path

import numpy as np
import shapely
from PIL import Image, ImageDraw, ImageFont
from PIL.TiffImagePlugin import IFDRational
from shapely.geometry import LineString, shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldkit.geo import chinese, crs as fkcrs  # noqa: E402

SEED = 20250601
SIZE = (800, 600)
QUALITY = 70
BEIJING = dt.timezone(dt.timedelta(hours=8))
FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
]
WALL_DIR, FITNESS_DIR, RIVER_DIR = "2025-05_jinchang_great_wall", "2025-06_liaoyuan_fitness", "2025-06_liaoyuan_rivers"
WALL_LABELS = [("夯土墙坍塌", "rammed-earth wall collapsed"), ("墙体裂缝", "crack in the wall"),
               ("墙体取土", "earth dug from the wall"), ("车辆碾压", "vehicle tracks across the wall"),
               ("保护标志缺失", "protection sign missing"), ("墙体刻划", "graffiti carved in the wall"),
               ("违规种植", "crops planted on the wall")]
FITNESS_LABELS = [("器材锈蚀", "rusty equipment"), ("螺丝松动", "loose bolts"), ("座椅破损", "broken seat"),
                  ("缺少警示标识", "no warning sign"), ("超过安全使用年限", "past service life")]
RIVER_LABELS = [("河道垃圾堆放", "rubbish dumped by the river"), ("违规建筑", "illegal building"),
                ("河道采砂", "sand mining"), ("侵占河道", "encroachment on the river")]
PHONES = [("HUAWEI", "ELS-AN00"), ("Xiaomi", "M2102K1C"), ("OPPO", "PEEM00"), ("vivo", "V2049A")]
CAMERA = ("Canon", "Canon EOS 90D")
EXPECTED = {"exif": 34, "gpx": 8, "unplaced": 2}  # the design above; checked by the tests


@dataclasses.dataclass(slots=True)
class Shot:
    """One demo photo to draw and tag."""

    folder: str
    name: str
    scene: str  # "wall" | "fitness" | "river"
    label: tuple[str, str]
    local_time: dt.datetime  # naive, camera clock (Beijing time)
    make: str
    model: str
    lon: float | None = None
    lat: float | None = None
    alt: float | None = None
    bearing: float | None = None
    offset: str | None = "+08:00"
    orientation: int = 1
    expect: str = "exif"  # how ingest should place it: exif | gpx | unplaced


# --- reading the demo layers ---------------------------------------------------------------

def wall_lines(layers: Path) -> list[tuple[str, LineString]]:
    """(segment_id, WGS84 line) of the demo wall, reprojected from the file's EPSG:4543."""
    doc = json.loads((layers / "jinchang_great_wall.geojson").read_text(encoding="utf-8"))
    key = fkcrs.legacy_geojson_crs(doc["crs"])
    geoms = np.array([shape(f["geometry"]) for f in doc["features"]], dtype=object)
    wgs = fkcrs.to_wgs84(geoms, fkcrs.resolve_crs(key))
    return [(f["properties"]["segment_id"], g) for f, g in zip(doc["features"], wgs)]


def dongliao_lines(layers: Path) -> list[LineString]:
    """The reaches named 东辽河 by the demo naming rule."""
    doc = json.loads((layers / "liaoyuan_rivers.geojson").read_text(encoding="utf-8"))
    return [shape(f["geometry"]) for f in doc["features"] if f["properties"].get("demo_naming")]


def fitness_points(layers: Path) -> list[tuple[str, float, float]]:
    """(name, lon, lat) of urban demo fitness sites, GCJ-02 columns converted back to WGS84."""
    from openpyxl import load_workbook

    wb = load_workbook(layers / "liaoyuan_fitness_sites.xlsx", read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    wb.close()
    head = rows[0]
    out = []
    for row in rows[1:]:
        rec = dict(zip(head, row))
        if "社区" in rec["名称"]:
            lon, lat = chinese.gcj02_to_wgs84(float(rec["经度"]), float(rec["纬度"]))
            out.append((rec["名称"], lon, lat))
    return out


# --- placing photos ------------------------------------------------------------------------

def _beside(line: LineString, frac: float, dist_m: float, side: int) -> tuple[float, float, float]:
    """A point ``dist_m`` to one side of ``line`` at ``frac`` of its length, and the bearing
    (degrees from north) from that point back towards the line."""
    lon0, lat0 = line.interpolate(frac, normalized=True).coords[0]
    ahead = line.interpolate(min(frac + 0.01, 1.0), normalized=True).coords[0]
    behind = line.interpolate(max(frac - 0.01, 0.0), normalized=True).coords[0]
    kx = 111320.0 * np.cos(np.radians(lat0))
    tx, ty = (ahead[0] - behind[0]) * kx, (ahead[1] - behind[1]) * 110540.0
    norm = np.hypot(tx, ty) or 1.0
    nx, ny = -ty / norm * side, tx / norm * side
    lon, lat = lon0 + nx * dist_m / kx, lat0 + ny * dist_m / 110540.0
    bearing = (np.degrees(np.arctan2(-nx, -ny)) + 360.0) % 360.0
    return float(lon), float(lat), float(bearing)


def wall_shots(walls, rng) -> list[Shot]:
    """14 phone photos within 5-60 m of the wall (EXIF GPS), spread over the segments."""
    shots = []
    picks = rng.choice(len(walls), size=14, replace=False)
    start = dt.datetime(2025, 5, 13, 9, 0)
    for i, idx in enumerate(sorted(int(p) for p in picks)):
        lon, lat, bearing = _beside(walls[idx][1], float(rng.uniform(0.1, 0.9)),
                                    float(rng.uniform(5, 60)), int(rng.choice([-1, 1])))
        when = start + dt.timedelta(days=i // 7, minutes=int(i % 7 * 47 + rng.integers(0, 20)))
        make, model = PHONES[i % 2]
        label = WALL_LABELS[i % len(WALL_LABELS)]
        name = f"{label[0]}.jpg" if i == 0 else f"IMG_{when:%Y%m%d_%H%M%S}.jpg"
        shots.append(Shot(WALL_DIR, name, "wall", label, when, make, model, lon, lat,
                          round(float(rng.uniform(1500, 1900)), 1),
                          round((bearing + float(rng.normal(0, 8))) % 360, 2)))
    return shots


def track_and_camera_shots(walls, rng) -> tuple[list[tuple[dt.datetime, float, float, float]], list[Shot]]:
    """A GPX walk 30 m beside one stretch of wall (1 fix / 10 s) and the camera photos on it."""
    stretch = shapely.line_merge(shapely.union_all([g for _, g in walls[3:6]]))
    if not isinstance(stretch, LineString):
        stretch = max(stretch.geoms, key=lambda g: g.length)
    start_utc = dt.datetime(2025, 5, 14, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 Beijing time
    n = 540  # 90 minutes
    track = []
    for k in range(n + 1):
        lon, lat, _ = _beside(stretch, k / n, 30.0, 1)
        track.append((start_utc + dt.timedelta(seconds=10 * k), lon, lat, round(1650 + 20 * np.sin(k / 60), 1)))
    shots = []
    for j, minute in enumerate(sorted(int(m) for m in rng.choice(np.arange(3, 87), size=8, replace=False))):
        when = (start_utc + dt.timedelta(minutes=minute, seconds=int(rng.integers(0, 60)))).astimezone(BEIJING)
        label = WALL_LABELS[(j + 3) % len(WALL_LABELS)]
        shots.append(Shot(WALL_DIR, f"IMG_{412 + j:04d}.JPG", "wall", label, when.replace(tzinfo=None),
                          *CAMERA, offset=None, expect="gpx"))
    for j in range(2):  # the next day, after the GPS logger's battery died: no position anywhere
        when = dt.datetime(2025, 5, 15, 15, 20 + 7 * j, int(rng.integers(0, 60)))
        shots.append(Shot(WALL_DIR, f"IMG_{420 + j:04d}.JPG", "wall", WALL_LABELS[j], when, *CAMERA,
                          offset=None, expect="unplaced"))
    return track, shots


def fitness_shots(sites, rng) -> list[Shot]:
    """12 phone photos taken 5-30 m from urban fitness sites, facing them."""
    shots = []
    picks = sorted(int(p) for p in rng.choice(len(sites), size=12, replace=False))
    for i, idx in enumerate(picks):
        name, lon0, lat0 = sites[idx]
        dist, towards = float(rng.uniform(5, 30)), float(rng.uniform(0, 360))
        back = np.radians((towards + 180) % 360)
        lon = lon0 + dist * np.sin(back) / (111320.0 * np.cos(np.radians(lat0)))
        lat = lat0 + dist * np.cos(back) / 110540.0
        when = dt.datetime(2025, 6, 10 + i // 6, 9 + i % 6, int(rng.integers(0, 60)), int(rng.integers(0, 60)))
        make, model = PHONES[2 + i % 2]
        label = FITNESS_LABELS[i % len(FITNESS_LABELS)]
        fname = "健身器材锈蚀_龙山区.jpg" if i == 0 else f"IMG_{when:%Y%m%d_%H%M%S}.jpg"
        shots.append(Shot(FITNESS_DIR, fname, "fitness", label, when, make, model, float(lon), float(lat),
                          round(float(rng.uniform(240, 300)), 1), round(towards, 2),
                          orientation=6 if i == 5 else 1))
    return shots


def river_shots(rivers, rng, urban_box=(125.05, 42.85, 125.25, 42.96)) -> list[Shot]:
    """8 phone photos 20-80 m from the 东辽河 reach inside the city, facing the water."""
    line = max((r.intersection(shapely.box(*urban_box)) for r in rivers), key=lambda g: g.length)
    if not isinstance(line, LineString):
        line = max(line.geoms, key=lambda g: g.length)
    shots = []
    for i in range(8):
        lon, lat, bearing = _beside(line, (i + 0.5) / 8, float(rng.uniform(20, 80)), int(rng.choice([-1, 1])))
        when = dt.datetime(2025, 6, 12, 14, 5 * i + int(rng.integers(0, 4)), int(rng.integers(0, 60)))
        label = RIVER_LABELS[i % len(RIVER_LABELS)]
        fname = "东辽河垃圾堆放.jpg" if i == 0 else f"IMG_{when:%Y%m%d_%H%M%S}.jpg"
        shots.append(Shot(RIVER_DIR, fname, "river", label, when, *PHONES[i % 2], lon, lat,
                          round(float(rng.uniform(240, 270)), 1), round(bearing, 2)))
    return shots


# --- drawing and writing -------------------------------------------------------------------

def _font(size: int):
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size), True
    return ImageFont.load_default(size), False


def draw(shot: Shot, rng: np.random.Generator) -> Image.Image:
    """The picture (as displayed): sky, ground, the subject and a caption marked DEMO."""
    w, h = (SIZE[1], SIZE[0]) if shot.orientation == 6 else SIZE
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.35, 0.5))
    for y in range(horizon):  # sky gradient
        t = y / horizon
        d.line([(0, y), (w, y)], fill=(int(120 + 90 * t), int(170 + 60 * t), int(225 + 20 * t)))
    ground = {"wall": (196, 170, 120), "fitness": (120, 150, 90), "river": (110, 130, 95)}[shot.scene]
    d.rectangle([0, horizon, w, h], fill=ground)
    {"wall": _draw_wall, "fitness": _draw_fitness, "river": _draw_river}[shot.scene](d, w, h, horizon, rng)
    big, cjk = _font(34)
    small, _ = _font(18)
    caption = shot.label[0] if cjk else shot.label[1]
    d.rectangle([16, 16, 16 + 36 * max(len(caption), 4) + (0 if cjk else 200), 66], fill=(255, 255, 255))
    d.text((26, 20), caption, fill=(180, 20, 20), font=big)
    tag = "演示照片 DEMO  " if cjk else "DEMO  "
    d.text((16, h - 34), f"{tag}{shot.label[1]}  {shot.local_time:%Y-%m-%d %H:%M}", fill=(255, 255, 255), font=small)
    return img


def _draw_wall(d: ImageDraw.ImageDraw, w: int, h: int, horizon: int, rng) -> None:
    top = horizon - int(rng.uniform(40, 90))
    base = horizon + int(rng.uniform(60, 140))
    gap = int(rng.uniform(0.3, 0.6) * w)
    for x0, x1 in ((0, gap - 40), (gap + 60, w)):
        d.polygon([(x0, base), (x0, top), (x1, top + 10), (x1, base)], fill=(160, 120, 80))
        for y in range(top + 8, base, 9):  # rammed-earth layers
            d.line([(x0, y), (x1, y + 4)], fill=(140, 100, 65), width=2)
    d.polygon([(gap - 60, base), (gap - 20, top + 30), (gap + 80, base)], fill=(175, 140, 95))  # rubble
    d.line([(gap + 120, top + 5), (gap + 140, top + 40), (gap + 125, base - 10)], fill=(70, 50, 35), width=3)


def _draw_fitness(d: ImageDraw.ImageDraw, w: int, h: int, horizon: int, rng) -> None:
    d.rectangle([0, horizon + 60, w, h], fill=(170, 165, 155))  # paving
    for k in range(3):
        x = int(120 + k * 220 + rng.uniform(-20, 20))
        top, foot = horizon - 60, horizon + 200
        colour = [(30, 90, 200), (240, 190, 30), (40, 160, 80)][k]
        d.line([(x, foot), (x, top)], fill=colour, width=14)
        d.line([(x + 120, foot), (x + 120, top)], fill=colour, width=14)
        d.line([(x, top), (x + 120, top)], fill=colour, width=12)
        d.ellipse([x + 30, top + 60, x + 90, top + 120], outline=colour, width=10)
        for _ in range(6):  # rust spots
            cx, cy = x + int(rng.uniform(-10, 130)), int(rng.uniform(top, foot))
            r = int(rng.uniform(4, 12))
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(150, 70, 30))


def _draw_river(d: ImageDraw.ImageDraw, w: int, h: int, horizon: int, rng) -> None:
    y0 = horizon + 40
    d.polygon([(0, y0), (w, y0 + 30), (w, y0 + 170), (0, y0 + 130)], fill=(70, 110, 140))
    for _ in range(25):  # rubbish on the bank
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(y0 + 180, h - 50))
        r = int(rng.uniform(6, 22))
        colour = tuple(int(c) for c in rng.integers(40, 255, size=3))
        d.rectangle([cx - r, cy - r // 2, cx + r, cy + r // 2], fill=colour)


def _rational(value: float, den: int) -> IFDRational:
    return IFDRational(round(abs(value) * den), den)


def exif_for(shot: Shot) -> Image.Exif:
    """EXIF through Pillow: IFD0 Make/Model/Orientation, Exif IFD times, GPS IFD rationals."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = shot.make, shot.model, shot.orientation
    sub = {0x9003: shot.local_time.strftime("%Y:%m:%d %H:%M:%S")}
    if shot.offset:
        sub[0x9011] = shot.offset
    exif[0x8769] = sub
    if shot.lat is not None:
        gps = {0: b"\x02\x03\x00\x00"}
        for ref, tag, value, hemis in ((1, 2, shot.lat, "NS"), (3, 4, shot.lon, "EW")):
            deg = int(abs(value))
            minutes = (abs(value) - deg) * 60
            gps[ref] = hemis[0] if value >= 0 else hemis[1]
            gps[tag] = (IFDRational(deg, 1), IFDRational(int(minutes), 1),
                        _rational((minutes - int(minutes)) * 60, 10000))
        gps[5], gps[6] = 0, _rational(shot.alt, 10)
        gps[16], gps[17] = "T", _rational(shot.bearing, 100)
        exif[0x8825] = gps
    return exif


def render(shot: Shot, rng: np.random.Generator) -> bytes:
    """The JPEG bytes of one shot (stored rotated when Orientation is 6)."""
    img = draw(shot, rng)
    if shot.orientation == 6:  # displayed = stored turned 90° clockwise
        img = img.transpose(Image.Transpose.ROTATE_90)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=QUALITY, exif=exif_for(shot).tobytes())
    return out.getvalue()


def gpx_text(track) -> str:
    """A GPX 1.1 track with UTC times."""
    pts = "\n".join(
        f'      <trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>{ele}</ele>'
        f"<time>{t:%Y-%m-%dT%H:%M:%SZ}</time></trkpt>" for t, lon, lat, ele in track)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gpx version="1.1" creator="fieldkit scripts/make_demo_photos.py (demo data)" '
            'xmlns="http://www.topografix.com/GPX/1/1">\n'
            '  <metadata><name>2025-05-14 永昌县长城巡查 GPS 轨迹（演示数据）</name></metadata>\n'
            "  <trk><name>demo track</name><trkseg>\n" + pts + "\n  </trkseg></trk>\n</gpx>\n")


def plan(layers: Path) -> tuple[list, list[Shot]]:
    """The GPX track and every shot, all from one seeded generator."""
    rng = np.random.default_rng(SEED)
    walls = wall_lines(layers)
    shots = wall_shots(walls, rng)
    track, camera = track_and_camera_shots(walls, rng)
    shots += camera
    shots += fitness_shots(fitness_points(layers), rng)
    shots += river_shots(dongliao_lines(layers), rng)
    return track, shots


def build(layers: Path, out: Path) -> list[Path]:
    """Write the photos, ``track.gpx`` and return the files written."""
    track, shots = plan(layers)
    counts = {k: sum(s.expect == k for s in shots) for k in EXPECTED}
    assert counts == EXPECTED, counts
    rng = np.random.default_rng(SEED + 1)
    written = []
    for shot in shots:
        folder = out / shot.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / shot.name).write_bytes(render(shot, rng))
        written.append(folder / shot.name)
    (out / "track.gpx").write_text(gpx_text(track), encoding="utf-8")
    return written + [out / "track.gpx"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=Path, default=ROOT / "layers", help="folder of the demo layers")
    ap.add_argument("--out", type=Path, default=ROOT / "photos", help="output folder")
    args = ap.parse_args(argv)
    files = build(args.layers, args.out)
    total = sum(p.stat().st_size for p in files)
    print(f"wrote {len(files)} files, {total / 1e6:.2f} MB, into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
