"""From a photo to an issued 检察建议书 in headless Chromium, and findings drawn on the map.

An inspector records a finding on a placed photo through the photo page; a reviewer opens a case
from the findings list, walks the workflow, drafts and issues the suggestion, downloads the DOCX;
the map shows the finding as a marker with a popup. Nothing may be requested off-origin.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from shapely import LineString
from sqlalchemy import select

from fieldkit.geo.measure import GEOD
from fieldkit.join import clear_index_cache
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store.models import Feature, Layer, User
from tests.photo_factory import make_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LON0, LAT0 = 101.97, 38.25
BODY = "永昌县文化和旅游局"
GRAFFITI = "在长城上刻划、涂污"


def east(metres: float) -> tuple[float, float]:
    """The point ``metres`` east of (LON0, LAT0)."""
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 90.0, metres)
    return lon, lat


@pytest.fixture
def wall_photo(runtime, live_app) -> int:
    """A wall segment whose layer names a body, and one photo by ``insp`` placed 0 m from it."""
    clear_index_cache()
    line = LineString([east(-2000), east(2000)])
    with runtime.db.session(write=True) as s:
        layer = Layer(slug="wall", name="明长城", kind="great_wall", tolerance_m=100.0, responsible_body=BODY)
        s.add(layer)
        s.flush()
        s.add(Feature.from_geometry(layer.id, "GW-9", "明长城永昌段", line))
        uid = s.scalar(select(User.id).where(User.username == "insp"))
    lon, lat = east(300)
    data = make_jpeg(lat=lat, lon=lon, taken_at="2025:05:06 10:00:00", offset="+08:00")
    yield ingest_upload(runtime, data, "墙体涂鸦.jpg", uploaded_by=uid).photo_id
    clear_index_cache()


def open_map(base: str, page):
    """Open /map and wait until the frame has drawn photos (and findings) of the view."""
    page.goto(base + "/map")
    page.frame_locator("#mapframe").locator("body[data-markers-drawn]").wait_for(timeout=15000)
    return page.frame(name="mapframe")


def click_action(page, action: str) -> None:
    """Submit the case page's form for workflow ``action`` and wait for the reload."""
    with page.expect_navigation():
        page.click(f"button[data-action={action}]")
    assert page.locator(".flash-error, .fk-error").count() == 0, page.content()


def test_photo_to_issued_suggestion_and_map(live_server, wall_photo, page, login, screenshot, request_log,
                                            assert_same_origin):
    login(page, "insp")
    page.goto(f"{live_server}/photos/{wall_photo}")
    with page.expect_navigation():
        page.click("a.fk-button:has-text('记录问题')")
    assert page.locator("select[name=category_id] option[value=gw-graffiti]").count() == 1
    page.select_option("select[name=category_id]", "gw-graffiti")
    page.fill("textarea[name=note]", "墙面新涂鸦<b>约2平方米")
    with page.expect_navigation():
        page.click("form.fk-form button[type=submit]")
    match = re.search(r"/findings/(\d+)$", page.url)
    assert match, page.url
    finding_id = int(match.group(1))
    body = page.locator("body").text_content()
    assert GRAFFITI in body and "明长城永昌段" in body and "墙面新涂鸦<b>约2平方米" in body

    page.context.clear_cookies()
    login(page, "rev")
    page.goto(f"{live_server}/findings")
    page.check(f"input[name=finding_id][value='{finding_id}']")
    with page.expect_navigation():
        page.click("form[action='/cases/new'] button[type=submit]")
    case_id = int(re.search(r"/cases/(\d+)$", page.url).group(1))
    assert page.locator(".fk-state").get_attribute("data-state") == "clue"
    assert BODY in page.locator("body").text_content()
    for action in ("file", "start_investigation"):
        click_action(page, action)
    assert page.locator(".fk-state").get_attribute("data-state") == "investigating"
    with page.expect_navigation():
        page.click(f"form[action='/cases/{case_id}/draft'] button")
    page.fill("textarea[name=recommendations]", "立即清除墙体涂鸦。\n加强日常巡查。")
    page.fill("textarea[name=cc]", "永昌县人民政府")
    with page.expect_navigation():
        page.click("form.fk-draft button[type=submit]")
    assert page.locator("textarea[name=cc]").input_value() == "永昌县人民政府"
    with page.expect_navigation():
        page.click("form[action$='/issue'] button")
    click_action(page, "issue_suggestion")
    assert page.locator(".fk-state").get_attribute("data-state") == "suggestion_issued"
    heading = page.locator("section.fk-record h3").first.text_content()
    number = re.search(r"\S+检行公建〔\d{4}〕\d+号", heading)
    assert number, heading
    with page.expect_download() as info:
        page.click("a[href$='.docx']")
    download = info.value
    assert download.suggested_filename.endswith(".docx")
    with open(download.path(), "rb") as fh:
        assert fh.read(2) == b"PK"
    screenshot(page, "case-issued")

    frame = open_map(live_server, page)
    frame.wait_for_selector("body[data-findings-drawn]", timeout=10000)
    assert frame.evaluate("document.body.getAttribute('data-findings-drawn')") == "1"
    drawn = frame.evaluate("""() => window.fieldkit.findings.getLayers().map(m => [m.findingId, m.options.fill,
        m.options.fillColor, !!m._map && !!m._renderer, window.fieldkit.map.getBounds().contains(m.getLatLng())])""")
    assert drawn == [[finding_id, True, "#b91c1c", True, True]]  # open great-wall finding, filled, on screen
    assert frame.locator(".fk-legend-finding").count() >= 2
    assert frame.locator(".leaflet-control-layers-overlays label:has-text('问题')").count() == 1
    point = frame.evaluate("""() => {
        const fk = window.fieldkit; const m = fk.findings.getLayers()[0];
        const p = fk.map.latLngToContainerPoint(m.getLatLng()); return [p.x, p.y]; }""")
    box = page.locator("#mapframe").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    popup = frame.locator(".fk-finding-popup")
    popup.wait_for(timeout=10000)
    text = popup.text_content()
    assert GRAFFITI in text and "明长城永昌段" in text and "K" in text and "未结" in text
    assert popup.locator("a").get_attribute("href") == f"/findings/{finding_id}"
    expect(frame.locator(".leaflet-popup")).to_have_css("opacity", "1")
    screenshot(page, "map-findings")
    assert_same_origin(request_log, live_server)


def test_findings_overlay_hides_quietly_when_refused(live_server, wall_photo, page, login, request_log,
                                                     assert_same_origin):
    login(page, "insp")
    page.route("**/api/findings?*", lambda route: route.fulfill(status=403, body="{}",
                                                                content_type="application/json"))
    frame = open_map(live_server, page)
    assert frame.evaluate("document.body.getAttribute('data-markers-drawn')") == "1"  # photos still drawn
    assert frame.evaluate("document.body.getAttribute('data-findings-hidden')") == "1"
    assert frame.evaluate("document.body.hasAttribute('data-load-error')") is False
    assert frame.locator(".fk-legend-finding").count() == 0
    assert frame.locator(".leaflet-control-layers-overlays label:has-text('问题')").count() == 0
    assert_same_origin(request_log, live_server)
