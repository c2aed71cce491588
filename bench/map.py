"""Map page with 50,000 photos: navigation -> markers drawn, and bytes transferred.

Inserts N photos straight into a temporary database, serves the app on 127.0.0.1, and drives
Debian's Chromium (Playwright) to measure, with the browser cache off:

- our page (``/map``: frame + vendored assets + viewport GeoJSON from the API), and
- a naive folium page embedding every photo as a ``Marker`` in a ``MarkerCluster`` (same
  vendored assets, so only the approach differs), capped at ``--naive-timeout`` seconds.

The last line printed is JSON: ``{"render_s", "bytes", "naive_render_s", "naive_bytes", ...}``;
``naive_render_s`` is null when the naive page did not finish within the cap.

    .venv/bin/python bench/map.py [--photos 50000] [--naive-timeout 90]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
BOX = (101.3, 37.6, 102.9, 38.9)  # around Jinchang / Yongchang, Gansu


def seed(rt, n: int, user_id: int) -> np.ndarray:
    """Insert ``n`` placed photos uniformly in :data:`BOX`; return their lon/lat array."""
    from sqlalchemy import insert

    from fieldkit.store import Photo

    rng = np.random.default_rng(7)
    lon = rng.uniform(BOX[0], BOX[2], n)
    lat = rng.uniform(BOX[1], BOX[3], n)
    rows = [{"sha256": f"{i:064x}", "original_name": f"IMG_{i:05d}.jpg", "size_bytes": 3_700_000,
             "lon": float(x), "lat": float(y), "location_source": "exif", "uploaded_by_id": user_id,
             "taken_at": "2024-05-01T10:00:00+08:00"} for i, (x, y) in enumerate(zip(lon, lat))]
    with rt.db.session(write=True) as s:
        for start in range(0, n, 10_000):
            s.execute(insert(Photo), rows[start:start + 10_000])
    return np.column_stack([lon, lat])


def naive_html(points: np.ndarray, static) -> str:
    """The naive page: folium MarkerCluster with one Marker (and popup) per photo."""
    import folium
    from folium.plugins import MarkerCluster

    from webapp.folium_offline import VENDOR

    m = folium.Map(location=[38.25, 102.1], zoom_start=9, tiles=None)
    m.default_js = [("leaflet", static(f"{VENDOR['leaflet']}/leaflet.js"))]
    m.default_css = [("leaflet_css", static(f"{VENDOR['leaflet']}/leaflet.css"))]
    mc = MarkerCluster()
    mc.default_js = [("markerclusterjs", static(f"{VENDOR['markercluster']}/leaflet.markercluster.js"))]
    mc.default_css = [("markerclustercss", static(f"{VENDOR['markercluster']}/MarkerCluster.css")),
                      ("markerclusterdefaultcss", static(f"{VENDOR['markercluster']}/MarkerCluster.Default.css"))]
    mc.add_to(m)
    for i, (x, y) in enumerate(points):
        folium.Marker([float(y), float(x)], popup=f"IMG_{i:05d}.jpg").add_to(mc)
    return m.get_root().render()


def serve(app):
    """Serve ``app`` on a free port in a thread; return (base_url, server)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def measure(page, cdp, url: str, ready, timeout_s: float) -> tuple[float | None, int]:
    """Seconds from navigation start until ``ready(page)`` returns, and bytes received."""
    received = {"bytes": 0}
    cdp.on("Network.loadingFinished", lambda e: received.__setitem__("bytes", received["bytes"] + int(e["encodedDataLength"])))
    t0 = time.perf_counter()
    try:
        page.goto(url, timeout=timeout_s * 1000, wait_until="commit")
        ready(page, timeout_s * 1000)
        elapsed = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - the naive page may time out; report it as null
        print(f"  {url}: not drawn within {timeout_s:.0f} s ({type(exc).__name__})", file=sys.stderr)
        elapsed = None
    page.wait_for_timeout(300)  # let the last loadingFinished events arrive
    return elapsed, received["bytes"]


def our_ready(page, timeout_ms: float) -> None:
    """Our map: the frame says its markers are drawn and a cluster icon is in the DOM."""
    page.wait_for_selector("#mapframe", timeout=timeout_ms)
    frame = page.frame_locator("#mapframe")
    frame.locator("body[data-markers-drawn]").wait_for(state="attached", timeout=timeout_ms)
    frame.locator(".marker-cluster").first.wait_for(timeout=timeout_ms)


def naive_ready(page, timeout_ms: float) -> None:
    """Naive map: cluster icons are drawn."""
    page.locator(".marker-cluster").first.wait_for(timeout=timeout_ms)


def run(n: int, naive_timeout: float) -> dict:
    """Seed, serve, measure both pages; return the result dict."""
    from flask import Flask, url_for
    from playwright.sync_api import sync_playwright

    from fieldkit import users as users_lib
    from fieldkit.runtime import Runtime
    from fieldkit.settings import Settings
    from webapp import create_app

    tmp = Path(tempfile.mkdtemp(prefix="fieldkit-bench-map-"))
    rt = Runtime(Settings.from_env(env={}, data_dir=tmp / "data"))
    user = users_lib.add_user(rt, "bench", "pw-bench-123456", role="reviewer")
    t = time.perf_counter()
    points = seed(rt, n, user.id)
    print(f"seeded {n} photos in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    base, server = serve(create_app({"TESTING": True}, runtime=rt))

    naive_app = Flask("naive", static_folder=str(ROOT / "webapp" / "static"))
    with naive_app.test_request_context():
        html = naive_html(points, lambda p: url_for("static", filename=p))
    naive_app.add_url_rule("/naive", "naive", lambda: html)
    naive_base, naive_server = serve(naive_app)
    print(f"naive page: {len(html) / 1e6:.1f} MB of HTML", file=sys.stderr)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        results = {}
        for key, url, ready, cap in (("", f"{base}/map", our_ready, 30.0),
                                     ("naive_", f"{naive_base}/naive", naive_ready, naive_timeout)):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            if not key:
                page.goto(f"{base}/login")
                page.fill("#username", "bench")
                page.fill("#password", "pw-bench-123456")
                with page.expect_navigation():
                    page.click("button[type=submit]")
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            elapsed, nbytes = measure(page, cdp, url, ready, cap)
            results[key + "render_s"] = None if elapsed is None else round(elapsed, 3)
            results[key + "bytes"] = nbytes
            context.close()
        browser.close()
    server.shutdown()
    naive_server.shutdown()
    rt.db.dispose()
    results.update(photos=n, naive_timeout_s=naive_timeout,
                   target_met=bool(results["render_s"] is not None and results["render_s"] < 3
                                   and results["bytes"] < 5_000_000))
    return results


def main() -> None:
    """Parse arguments, run, print the JSON line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50_000)
    parser.add_argument("--naive-timeout", type=float, default=90.0)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is absent: apt-get install chromium")
    print(json.dumps(run(args.photos, args.naive_timeout)))


if __name__ == "__main__":
    main()
