"""Uploading from a phone-sized browser: GPS and no-GPS photos, device position, a pin, the map."""

from __future__ import annotations

import pytest

from tests.browser.test_map_browser import open_map
from tests.photo_factory import make_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def jpeg(name: str, **exif) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": make_jpeg(width=640, height=480, **exif)}


def test_upload_place_by_pin_and_see_on_map(live_server, phone_page, login, screenshot, request_log,
                                            assert_same_origin):
    page = phone_page
    page.context.set_geolocation({"latitude": 38.02, "longitude": 102.03, "accuracy": 15})
    page.context.grant_permissions(["geolocation"])
    login(page, "insp")
    page.goto(live_server + "/upload")
    screenshot(page, "upload-phone")
    page.set_input_files("#files", [jpeg("有GPS.jpg", lat=38.0, lon=102.05, taken_at="2024:05:01 10:00:00"),
                                    jpeg("无GPS.jpg")])
    page.click("#upload-button")
    page.wait_for_selector("#upload-form[data-done]", timeout=20000)
    items = page.locator(".fk-result")
    assert items.count() == 2
    assert [items.nth(i).get_attribute("data-outcome") for i in range(2)] == ["placed", "unplaced"]
    assert items.nth(0).locator(".fk-result-name").text_content() == "有GPS.jpg"
    assert page.locator(".fk-result progress").first.get_attribute("value") == "100"
    # drop a pin for the photo without GPS
    items.nth(1).locator(".fk-pin-button").click()
    pin_map = page.locator("#pin-map")
    pin_map.wait_for()
    pin_map.click(position={"x": 60, "y": 40})
    page.click("#pin-save")
    page.wait_for_selector(".fk-result[data-outcome=placed] >> nth=1")
    assert items.nth(1).get_attribute("data-outcome") == "placed"
    # a third photo without GPS, placed by the phone's position at upload time
    page.check("#use-position")
    page.evaluate("document.getElementById('upload-form').removeAttribute('data-done')")
    page.set_input_files("#files", [jpeg("phone.jpg", make="PhoneCam")])
    page.click("#upload-button")
    page.wait_for_selector("#upload-form[data-done]", timeout=20000)
    third = page.locator(".fk-result").nth(2)
    assert third.get_attribute("data-outcome") == "placed"
    pid = third.get_attribute("data-photo-id")
    assert "±15" in page.locator("#position-status").text_content()
    screenshot(page, "upload-phone-results")
    frame = open_map(live_server, page)
    drawn = frame.evaluate("document.body.getAttribute('data-markers-drawn')")
    assert drawn == "3"
    page.goto(f"{live_server}/photos/{pid}")
    assert page.locator(".fk-source").text_content().strip()
    assert page.locator("img.fk-preview").evaluate("img => img.complete && img.naturalWidth > 0")
    assert_same_origin(request_log, live_server)


def test_upload_page_desktop(live_server, page, login, screenshot, request_log, assert_same_origin):
    login(page, "insp")
    page.goto(live_server + "/upload")
    assert page.locator("#files").get_attribute("multiple") is not None
    screenshot(page, "upload-desktop")
    assert_same_origin(request_log, live_server)
