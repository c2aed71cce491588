"""A look-back (回头看) in headless Chromium: plan it from the case page, pair the new photo with the
finding, compare before/after, give the verdict, conclude, and see the case closed.

The case, its finding and the old photo are built with the library (as the other browser tests
do); the new photo is ingested with the library's ``ingest_upload`` into the look-back inspection
the page planned. Nothing may be requested off-origin.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from fieldkit import cases
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store.models import User
from tests.integration.test_lookback_setup import add_finding, add_photo, add_wall_layer, served_case
from tests.photo_factory import make_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]
F1 = (101.9700, 38.2480)
NORTH_10M = 10 / 111_000
INSPECTION = "回头看-浏览器测试"


@pytest.fixture
def follow_up_case(runtime, live_app) -> dict:
    """A case in follow-up with one finding on wall feature A, its old photo 10 m south facing north."""
    with runtime.db.session() as s:
        ids = {u.username: u.id for u in s.scalars(select(User))}
    layer, fa, _fb = add_wall_layer(runtime)
    old = add_photo(runtime, F1[0], F1[1] - NORTH_10M, bearing=0.0, link=(layer, fa), seed=3)
    finding = add_finding(runtime, ids["insp"], [old], *F1, layer_id=layer, feature=(fa, "A", "明长城永昌段"),
                          place="马营沟村北侧")
    case = served_case(runtime, ids["rev"], [finding], served_on=dt.date(2025, 1, 10),
                       reply_on=dt.date(2025, 2, 20))
    cases.apply(runtime, case, "start_follow_up", ids["rev"])
    assert cases.get_case(runtime, case).state == "follow_up"
    return {"case": case, "finding": finding, "old": old, "users": ids}


def plan_lookback(page, inspector_id: int, planned_on: str = "2025-03-12") -> str:
    """On an open case page: plan a look-back with one inspector and ``INSPECTION``; its URL."""
    form = page.locator("#plan-lookback")
    expect(form).to_be_visible()
    form.locator("input[name=planned_on]").fill(planned_on)
    form.locator(f"input[name=inspector_id][value='{inspector_id}']").check()
    form.locator("input[name=inspection]").fill(INSPECTION)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert re.search(r"/lookbacks/\d+$", page.url), page.url
    return page.url


def pair_verdict_and_conclude(page, runtime, lookback_url: str, finding_id: int, inspector_id: int,
                              screenshot, shot_prefix: str = "lookback") -> None:
    """On the look-back page: ingest a re-shot photo, pair it, judge it rectified, conclude, and see
    the case closed (ends on the case page)."""
    page.goto(lookback_url)
    card = page.locator(f"article[data-finding='{finding_id}']")
    expect(card.locator(".fk-lb-status")).to_have_attribute("data-status", "not_checked")

    # the inspectors re-shoot the spot from the same angle; the photo goes into the look-back inspection
    data = make_jpeg(lat=F1[1] - NORTH_10M, lon=F1[0], bearing=8.0, taken_at="2025:03:12 10:30:00",
                     offset="+08:00")
    new = ingest_upload(runtime, data, "回头看.jpg", inspection=INSPECTION, uploaded_by=inspector_id).photo_id
    assert new is not None
    page.goto(lookback_url)
    with page.expect_navigation():
        page.click("#suggest-pairs")
    row = card.locator(f"tr.fk-pair[data-photo='{new}']")
    expect(row).to_have_attribute("data-state", "candidate")
    expect(row).to_contain_text("10 m")
    with page.expect_navigation():
        row.locator("button[data-confirm]").click()
    expect(row).to_have_attribute("data-state", "confirmed")
    expect(card.locator(".fk-lb-status")).to_have_attribute("data-status", "paired")

    slider = card.locator("[data-slider]")
    expect(slider).to_have_attribute("data-split", "50")
    slider.locator("input[type=range]").fill("30")
    expect(slider).to_have_attribute("data-split", "30")
    expect(slider.locator(".fk-slider-after")).to_have_css("clip-path", "inset(0px 0px 0px 30%)")
    for img in card.locator(".fk-panes img").all() + slider.locator("img").all():
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("el => el.naturalWidth") > 0
    card.scroll_into_view_if_needed()
    screenshot(page, f"{shot_prefix}-before-after")

    card.locator("input[name=verdict][value=rectified]").check()
    card.locator("input[name=note]").fill("涂鸦已清除")
    with page.expect_navigation():
        card.locator("button[data-verdict-for]").click()
    expect(card.locator(".fk-lb-status")).to_have_attribute("data-status", "rectified")
    expect(page.locator(".fk-lb-preview")).to_have_attribute("data-outcome", "closed")
    page.locator("input[name=done_on]").fill("2025-03-12")
    with page.expect_navigation():
        page.click("#conclude")
    expect(page.locator(".fk-case-state")).to_have_attribute("data-state", "closed")
    expect(page.locator(".fk-lb-outcome")).to_have_attribute("data-outcome", "closed")
    screenshot(page, f"{shot_prefix}-concluded")
    with page.expect_navigation():
        page.click("#to-case")
    expect(page.locator(".fk-state")).to_have_attribute("data-state", "closed")
    expect(page.locator("#lookbacks")).to_contain_text("2025-03-12")


def test_lookback_pairs_verdict_and_closes_the_case(live_server, runtime, follow_up_case, page, login, screenshot,
                                                     request_log, assert_same_origin):
    case_id, finding_id = follow_up_case["case"], follow_up_case["finding"]
    login(page, "rev")
    page.goto(f"{live_server}/cases/{case_id}")
    lookback_url = plan_lookback(page, follow_up_case["users"]["insp"])
    pair_verdict_and_conclude(page, runtime, lookback_url, finding_id, follow_up_case["users"]["insp"], screenshot)
    assert cases.get_case(runtime, case_id).state == "closed"
    assert_same_origin(request_log, live_server)
