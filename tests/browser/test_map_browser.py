"""The map in headless Chromium: markers drawn, popups and labels safe, nothing loaded off-origin.

Uses the fixtures of ``tests/browser/conftest.py`` (live server, Debian Chromium, login,
screenshots, request log); skips when ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import pytest
import shapely
from playwright.sync_api import expect
from sqlalchemy import select

from fieldkit.photos.ingest import ingest_upload
from fieldkit.store import Feature, Layer, User
from tests.photo_factory import make_jpeg

XSS = "<img src=x onerror=window.__xss=1>${window.__xss=2}"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def user_id(rt, name: str) -> int:
    """The id of user ``name``."""
    with rt.db.session() as s:
        return s.scalar(select(User.id).where(User.username == name))


@pytest.fixture
def mapdata(runtime, live_app):
    """A wall whose name is hostile, a river, and two photos by ``insp`` (one with hostile EXIF)."""
    with runtime.db.session(write=True) as s:
        wall = Layer(slug="wall", name="长城", kind="great_wall")
        river = Layer(slug="river", name="河流", kind="river")
        s.add_all([wall, river])
        s.flush()
        for lay, fid, name, coords in [(wall, "W1", XSS, [(102.0, 38.0), (102.2, 38.0)]),
                                       (river, "R1", "石羊河", [(102.0, 38.05), (102.2, 38.1)])]:
            geom = shapely.LineString(coords)
            s.add(Feature.from_geometry(lay.id, fid, name, geom))
    uid = user_id(runtime, "insp")
    ingest_upload(runtime, make_jpeg(lat=38.0005, lon=102.05, make=XSS, model="${window.__xss=3}",
                                     taken_at="2024:05:01 10:00:00"), "<svg onload=window.__xss=4>.jpg",
                  uploaded_by=uid)
    ingest_upload(runtime, make_jpeg(lat=38.06, lon=102.15, taken_at="2024:05:01 11:00:00"), "二号.jpg",
                  uploaded_by=uid)


def open_map(base: str, page):
    """Open /map and wait until the frame has drawn the photos of the current view."""
    page.goto(base + "/map")
    frame = page.frame_locator("#mapframe")
    frame.locator("body[data-markers-drawn]").wait_for(timeout=15000)
    return page.frame(name="mapframe")


def test_map_markers_popup_and_no_xss(live_server, mapdata, page, login, screenshot, request_log,
                                      assert_same_origin):
    login(page, "insp")
    frame = open_map(live_server, page)
    assert frame.evaluate("document.body.getAttribute('data-markers-drawn')") == "2"
    labels = frame.locator(".fk-label-great_wall")
    labels.first.wait_for()
    assert labels.first.text_content() == XSS  # shown as text, not parsed as HTML
    # click the hostile photo's marker like a user would
    point = frame.evaluate("""() => new Promise(resolve => {
        const fk = window.fieldkit;
        const m = fk.cluster.getLayers().find(l => Math.abs(l.getLatLng().lng - 102.05) < 1e-4);
        fk.cluster.zoomToShowLayer(m, () => { const p = fk.map.latLngToContainerPoint(m.getLatLng()); resolve([p.x, p.y]); });
    })""")
    box = page.locator("#mapframe").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    popup = frame.locator(".fk-popup-link")
    popup.wait_for(timeout=10000)
    text = frame.locator(".fk-popup").text_content()
    assert XSS in text and "${window.__xss=3}" in text and "<svg onload=window.__xss=4>.jpg" in text
    assert "K4+" in text and "长城" in text  # nearest feature, layer, chainage
    assert frame.locator(".fk-popup img").get_attribute("src").endswith("/thumb")
    # Not wait_for_function: polling a predicate string needs eval, which the page's CSP forbids.
    expect(frame.locator(".fk-popup img")).to_have_js_property("complete", True)
    assert frame.evaluate("document.querySelector('.fk-popup img').naturalWidth") > 0
    assert frame.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("typeof window.__xss") == "undefined"
    screenshot(page, "map-desktop")
    with page.expect_navigation():
        popup.click()
    assert "/photos/" in page.url
    assert page.locator(".fk-sha").text_content().strip()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert_same_origin(request_log, live_server)


def test_map_phone_and_filters(live_server, mapdata, phone_page, login, screenshot, request_log,
                               assert_same_origin):
    page = phone_page
    login(page, "rev")
    frame = open_map(live_server, page)
    assert frame.evaluate("document.body.getAttribute('data-markers-drawn')") == "2"
    assert frame.locator(".leaflet-control-scale").count() == 1
    assert frame.locator(".leaflet-control-layers").count() == 1
    assert frame.locator(".leaflet-control-zoom-fullscreen, .fullscreen-icon").count() >= 1
    screenshot(page, "map-phone")
    page.uncheck("input[name=kind][value=great_wall]")
    page.fill("input[name=from]", "2024-05-01")
    with page.expect_response(lambda r: "/map/frame?" in r.url):
        page.click("#map-filters button[type=submit]")
    frame = page.frame(name="mapframe")
    frame.wait_for_selector("body[data-markers-drawn]", timeout=15000)
    assert "kind=river" in frame.url
    assert frame.locator(".fk-label-great_wall").count() == 0
    assert frame.locator(".fk-label-river").count() == 1
    assert_same_origin(request_log, live_server)
