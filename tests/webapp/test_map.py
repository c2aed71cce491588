"""Map page (offline, sandboxed frame, datum notice, MBTiles/PMTiles route) and the photo page."""

from __future__ import annotations

import io
import logging
import re
import sqlite3

import pytest
import shapely

from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.store import Feature, Layer
from tests.photo_factory import make_jpeg
from tests.webapp.conftest import do_login
from webapp import create_app

XSS = "<img src=x onerror=window.__xss=1>${window.__xss=2}</script>"
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""", re.I)


def off_origin_urls(html: str) -> list[str]:
    """Absolute or protocol-relative URLs that a page could load (links in comments included)."""
    return [u for u in URL.findall(html) if not u.startswith(("http://localhost", "//localhost"))]


@pytest.fixture
def wall(runtime):
    with runtime.db.session(write=True) as s:
        layer = Layer(slug="wall", name="长城", kind="great_wall")
        s.add(layer)
        s.flush()
        geom = shapely.LineString([(102.0, 38.0), (102.2, 38.0)])
        s.add(Feature.from_geometry(layer.id, "W1", XSS, geom))


def test_map_page_and_frame_are_offline(client, login, users, wall):
    login(client, "insp")
    page = client.get("/map")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'sandbox="allow-scripts allow-same-origin' in html and "/map/frame" in html
    assert "WGS84" in html
    assert off_origin_urls(html) == []
    frame = client.get("/map/frame")
    body = frame.get_data(as_text=True)
    assert frame.status_code == 200 and "fieldkitMap(" in body
    assert off_origin_urls(body) == [], off_origin_urls(body)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', body):
        resp = client.get(asset)
        resp.close()
        assert resp.status_code == 200, asset
    assert "leaflet.markercluster.js" in body and "Control.FullScreen.js" in body and "L.control.scale" in body
    assert "jquery" not in body.lower() and "bootstrap" not in body.lower()
    assert "'unsafe-inline'" in frame.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_frame_embeds_no_data(client, login, users, wall):
    """Feature names reach the page only through the API, never folium's inline script."""
    login(client, "rev")
    body = client.get("/map/frame").get_data(as_text=True)
    assert "onerror" not in body and "__xss" not in body
    assert "[[38.0, 102.0], [38.0, 102.2]]" in body.replace(",", ", ").replace(",  ", ", ")


def test_vendored_assets_are_recorded():
    from pathlib import Path

    vendor = Path(__file__).resolve().parents[2] / "webapp" / "static" / "vendor"
    doc = (vendor / "VENDORED.md").read_text()
    for d in (p for p in vendor.iterdir() if p.is_dir()):
        assert f"`{d.name}/`" in doc, d.name
        assert any(f.name.upper().startswith(("LICENSE", "MIT-LICENCE")) for f in d.iterdir()), d.name


def test_map_filters_pass_to_frame(client, login, users):
    login(client, "rev")
    html = client.get("/map?kind=river&inspector=insp&from=2024-01-01").get_data(as_text=True)
    assert "/map/frame?kind=river&amp;inspector=insp&amp;from=2024-01-01" in html
    body = client.get("/map/frame?kind=river&kind=bogus&inspector=insp").get_data(as_text=True)
    assert '"kind":["river"]' in body and '"inspector":"insp"' in body


def test_anonymous_redirected(client):
    assert client.get("/map").status_code == 302
    assert client.get("/map/frame").status_code == 302


def make_mbtiles(path, tile: bytes) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    conn.execute("INSERT INTO tiles VALUES (1, 1, 0, ?)", (tile,))  # TMS row 0 at z1 is XYZ y=1
    conn.commit()
    conn.close()


def test_mbtiles_basemap_and_gcj02_notice(runtime, users, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    make_mbtiles(tmp_path / "base.mbtiles", png)
    settings = Settings.from_env(env={}, data_dir=runtime.settings.data_dir, database_url=runtime.settings.database_url,
                                 basemap_url=str(tmp_path / "base.mbtiles"), basemap_datum="gcj02")
    rt = Runtime(settings)
    client = create_app({"TESTING": True}, runtime=rt).test_client()
    assert do_login(client, "rev").status_code == 302
    tile = client.get("/tiles/1/1/1")
    assert tile.status_code == 200 and tile.data == png and tile.mimetype == "image/png"
    assert client.get("/tiles/1/0/0").status_code == 404
    assert "GCJ-02" in client.get("/map").get_data(as_text=True)
    assert '"url":"/tiles/{z}/{x}/{y}"' in client.get("/map/frame").get_data(as_text=True)
    rt.db.dispose()


def _tile_client(runtime, basemap_path):
    settings = Settings.from_env(env={}, data_dir=runtime.settings.data_dir,
                                 database_url=runtime.settings.database_url, basemap_url=str(basemap_path))
    rt = Runtime(settings)
    app = create_app({"TESTING": True}, runtime=rt)
    client = app.test_client()
    assert do_login(client, "rev").status_code == 302
    return rt, app, client


def test_pmtiles_and_mbtiles_routes_serve_the_same_tiles(runtime, users, tmp_path):
    from tests.unit.test_basemap import sample_tiles, write_mbtiles, write_pmtiles

    tiles = sample_tiles()
    write_mbtiles(tmp_path / "base.mbtiles", tiles)
    write_pmtiles(tmp_path / "base.pmtiles", tiles)
    served = {}
    for name in ("base.mbtiles", "base.pmtiles"):
        rt, _app, client = _tile_client(runtime, tmp_path / name)
        for zxy in [(0, 0, 0), (2, 3, 1), (3, 0, 7), (3, 2, 5)]:
            got = client.get("/tiles/{}/{}/{}".format(*zxy))
            assert got.status_code == 200 and got.mimetype == "image/png", (name, zxy)
            assert got.data == tiles[zxy]
            served[name, zxy] = got.data
        for missing in ["/tiles/3/6/1", "/tiles/4/0/0", "/tiles/2/4/0", "/tiles/31/0/0"]:
            assert client.get(missing).status_code == 404, (name, missing)
        assert '"url":"/tiles/{z}/{x}/{y}"' in client.get("/map/frame").get_data(as_text=True)
        rt.db.dispose()
    assert served["base.mbtiles", (2, 3, 1)] == served["base.pmtiles", (2, 3, 1)]


@pytest.mark.parametrize("content", [b"PMTiles\x03" + b"\x00" * 200, b"SQLite format 3\x00" + b"\xff" * 500,
                                     b"<html>not tiles</html>"])
def test_corrupt_basemap_gives_404_and_a_warning(runtime, users, tmp_path, caplog, content):
    path = tmp_path / "broken.pmtiles"
    path.write_bytes(content)
    rt, app, client = _tile_client(runtime, path)
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        response = client.get("/tiles/0/0/0")
    assert response.status_code == 404
    assert any("broken.pmtiles" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    rt.db.dispose()


# -- photo page ---------------------------------------------------------------------------------


@pytest.fixture
def photo_id(client, login, users, csrf_token):
    """A photo uploaded by ``insp`` whose EXIF Make is hostile; the client is logged out after."""
    login(client, "insp")
    data = {"file": [(io.BytesIO(make_jpeg(lat=38.0, lon=102.1, make=XSS, taken_at="2024:05:01 10:00:00")),
                      "<b>现场.jpg")]}
    resp = client.post("/api/uploads", data=data, headers={"X-CSRFToken": csrf_token(client)},
                       content_type="multipart/form-data")
    pid = resp.get_json()["results"][0]["photo_id"]
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    client.delete_cookie("session")
    return pid


def test_photo_page_escapes_and_shows(client, login, photo_id):
    login(client, "insp")
    html = client.get(f"/photos/{photo_id}").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror" in html
    assert "&lt;b&gt;现场.jpg" in html
    sha = client.get(f"/api/photos/{photo_id}").get_json()["sha256"]
    assert sha in html and "/original" in html
    for kind in ("preview", "thumb"):
        img = client.get(f"/photos/{photo_id}/{kind}")
        data = img.data
        img.close()
        assert img.status_code == 200 and img.mimetype == "image/jpeg" and data[:2] == b"\xff\xd8"


@pytest.mark.parametrize("who, status", [("insp", 200), ("rev", 200), ("admin", 200), ("insp2", 404)])
def test_original_download(client, login, photo_id, who, status):
    login(client, who)
    resp = client.get(f"/photos/{photo_id}/original")
    data = resp.data
    resp.close()
    assert resp.status_code == status
    assert client.get(f"/photos/{photo_id}").status_code == status
    if status == 200:
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert resp.mimetype == "application/octet-stream"
        import hashlib

        assert hashlib.sha256(data).hexdigest() == resp.headers["X-Original-SHA256"]


def test_photo_list(client, login, photo_id):
    login(client, "rev")
    html = client.get("/photos").get_data(as_text=True)
    assert f"/photos/{photo_id}" in html and "&lt;b&gt;" in html
    login(client, "insp2")
    assert f"/photos/{photo_id}\"" not in client.get("/photos").get_data(as_text=True)
