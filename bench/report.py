"""Benchmark the 巡查报告: 200 findings and 400 photos, written as DOCX and as PDF.

Run ``python bench/report.py`` (no arguments). Setup (not timed) runs in a separate process so
its memory does not count: it builds a temporary data directory with a Great Wall line, river
reaches and fitness sites, generates 400 phone-like 2000×1500 JPEGs with EXIF GPS and time,
ingests them through :func:`fieldkit.photos.ingest.ingest_paths` (so thumbnails and previews
exist) and records 200 findings of two photos each (every fifth closed). Then, in this process,
it times :func:`fieldkit.reports.build_reports` writing DOCX and PDF (one gather, one map) and reads the peak resident
memory (``ru_maxrss``, which counts C allocations too).

The last line printed is one JSON object: ``{"seconds", "peak_mb", ...}``. Target: both
formats together under 20 s and under 1 GB.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_FINDINGS = 200
N_PHOTOS = 400
WIDTH, HEIGHT = 2000, 1500
LON0, LAT0 = 101.90, 38.20  # 永昌县, Gansu
TARGET_S, TARGET_MB = 20.0, 1024.0


def _exif(lon: float, lat: float, taken: dt.datetime) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "BenchPhone", "P-1"
    exif[0x8769] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S"), 0x9011: "+08:00"}
    exif[0x8825] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)}
    return exif.tobytes()


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round(((value - d) * 60 - m) * 60, 4)


def _spot(i: int) -> tuple[float, float]:
    """Photo i: pairs of photos on one of 200 spots along the wall (even) or the river (odd)."""
    k = i // 2
    east = (k % 100) * 0.004
    north = 0.0 if k < 100 else -0.05
    return LON0 + east + (i % 2) * 0.0001, LAT0 + north + (i % 2) * 0.0001


def _generate(folder: Path, indexes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack([x / WIDTH * 150 + 40, y / HEIGHT * 120 + 60, (x + y) / (WIDTH + HEIGHT) * 90 + 50], -1)
    for i in indexes:
        noise = rng.normal(0, 8, (HEIGHT // 4, WIDTH // 4, 3)).astype(np.float32)
        noise = np.repeat(np.repeat(noise, 4, 0), 4, 1)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        lon, lat = _spot(i)
        taken = dt.datetime(2025, 5, 1, 8) + dt.timedelta(days=i // 20, minutes=7 * i)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=88, exif=_exif(lon, lat, taken))
        (folder / f"IMG_{i:04d}.jpg").write_bytes(buf.getvalue())


def setup(data_dir: str) -> dict:
    """Build the data directory (runs in a child process)."""
    import shapely

    from fieldkit.findings import load_taxonomy
    from fieldkit.findings.service import close_finding, record_finding
    from fieldkit.photos.ingest import ingest_paths
    from fieldkit.runtime import Runtime
    from fieldkit.settings import Settings
    from fieldkit.store.models import Feature, Layer, User

    rt = Runtime(Settings.from_env(env={}, data_dir=Path(data_dir)))
    with rt.db.session(write=True) as s:
        user = User(username="bench", password_hash="x", role="admin")
        s.add(user)
        for slug, kind, body, lines in (
            ("wall", "great_wall", "永昌县文物局",
             [shapely.LineString([(LON0 + k * 0.04 - 0.001, LAT0 + 0.0003), (LON0 + (k + 1) * 0.04, LAT0 + 0.0003)])
              for k in range(10)]),
            ("river", "river", "永昌县水务局",
             [shapely.LineString([(LON0 + k * 0.08 - 0.001, LAT0 - 0.0497), (LON0 + (k + 1) * 0.08, LAT0 - 0.0497)])
              for k in range(5)]),
            ("county", "boundary", None, [shapely.box(LON0 - 0.1, LAT0 - 0.15, LON0 + 0.5, LAT0 + 0.1)]),
        ):
            layer = Layer(slug=slug, name=slug, kind=kind, responsible_body=body, tolerance_m=200.0)
            s.add(layer)
            s.flush()
            s.add_all(Feature.from_geometry(layer.id, f"{slug}-{k:02d}", f"{slug} 第{k + 1}段", g)
                      for k, g in enumerate(lines))
        s.flush()
        uid = user.id
    folder = Path(data_dir).parent / "photos"
    folder.mkdir()
    workers = max(1, min(os.cpu_count() or 1, 4))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_generate, [folder] * workers, [list(range(k, N_PHOTOS, workers)) for k in range(workers)],
                      range(workers)))
    summary = ingest_paths(rt, [folder], inspection="2025-05 永昌巡查", uploaded_by=uid)
    ids = sorted(r.photo_id for r in summary.results if r.status == "ingested")
    tax = load_taxonomy()
    cats = {k: [c.id for c in tax.for_layer_kind(k)] for k in ("great_wall", "river")}
    for n in range(N_FINDINGS):
        kind = "great_wall" if n < 100 else "river"
        f = record_finding(rt, photo_ids=ids[2 * n:2 * n + 2], category_id=cats[kind][n % len(cats[kind])],
                           actor_id=uid, note=f"基准测试问题{n}：现场情况描述")
        if n % 5 == 0:
            close_finding(rt, f.id, uid, reason="已整改")
    rt.db.dispose()
    return {"photos": len(ids), "bytes": sum(p.stat().st_size for p in folder.iterdir())}


def main() -> None:
    """Set up, then time DOCX + PDF and print the JSON line."""
    from fieldkit.reports import ReportScope, build_reports
    from fieldkit.runtime import Runtime
    from fieldkit.settings import Settings

    with tempfile.TemporaryDirectory(prefix="fk-bench-report-") as tmp:
        data_dir = Path(tmp, "data")
        t0 = time.perf_counter()
        with ProcessPoolExecutor(1) as pool:
            info = pool.submit(setup, str(data_dir)).result()
        print(f"setup: {info['photos']} photos ({info['bytes'] / 1e6:.0f} MB) ingested, "
              f"{N_FINDINGS} findings recorded in {time.perf_counter() - t0:.1f} s (not timed)")
        rt = Runtime(Settings.from_env(env={}, data_dir=data_dir))
        rt.db  # noqa: B018  open and migrate before timing
        times, sizes = {}, {}
        start = last = time.perf_counter()
        outputs = {fmt: Path(tmp, f"report.{fmt}") for fmt in ("docx", "pdf")}
        for res in build_reports(rt, ReportScope(title="永昌县长城和河道巡查报告"), outputs):
            times[res.format] = round(start + res.seconds - last, 2)  # gather, map, charts count in docx
            last = start + res.seconds
            sizes[res.format] = res.path.stat().st_size
            print(f"{res.format}: {res.findings} findings, {res.photos} photos, {res.sections} sections, "
                  f"{times[res.format]:.2f} s, {sizes[res.format] / 1e6:.1f} MB")
        seconds = round(time.perf_counter() - start, 2)
        peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        rt.db.dispose()
    verdict = "OK" if seconds < TARGET_S and peak_mb < TARGET_MB else "OVER TARGET"
    print(f"both formats: {seconds:.2f} s, peak RSS {peak_mb:.0f} MB "
          f"(target < {TARGET_S:.0f} s, < {TARGET_MB:.0f} MB): {verdict}")
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "docx_s": times["docx"], "pdf_s": times["pdf"],
                      "docx_bytes": sizes["docx"], "pdf_bytes": sizes["pdf"], "findings": N_FINDINGS,
                      "photos": N_PHOTOS}))


if __name__ == "__main__":
    main()
