"""The front half of a look-back (回头看) in headless Chromium: open the due list, see the cases in
their groups with Chinese labels, tick two of them, plan the trip from the office, check the
ordered stops, their distances and the old photos to re-shoot, download the GPX and read it back
with pyogrio, then follow the link to the case, plan the look-back there and — through the helpers
of :mod:`tests.browser.test_lookback_browser` — pair, judge and conclude until the case is closed.

The cases are built with the library: the overdue one (served 2025, reply deadline long past) is
``follow_up_case`` of the other browser test; a second one, served today, is due later (its reply
deadline is two months away). Nothing may be requested off-origin.
"""

from __future__ import annotations

import re

import pyogrio
import pytest
from playwright.sync_api import expect
from pyproj import Geod
from sqlalchemy import select

from fieldkit import cases
from fieldkit.cases.deadlines import legal_date
from fieldkit.store import Feature, Photo
from fieldkit.store.models import utcnow
from tests.browser.test_lookback_browser import F1, follow_up_case, pair_verdict_and_conclude, plan_lookback
from tests.integration.test_lookback_setup import OFFICE, add_finding, add_photo, served_case

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["follow_up_case"]  # the fixture, imported so that pytest finds it here
F2 = (101.9950, 38.2625)  # on wall feature B, farther from the office than F1
GEOD = Geod(ellps="WGS84")
GROUP_LABELS = {"overdue": "已逾期", "this_week": "本周", "later": "以后"}


def _group(due_on) -> str:
    """The due-list group of a due date, by the rule the page states (today, the next 7 days)."""
    left = (due_on - legal_date(utcnow())).days
    return "overdue" if left < 0 else "this_week" if left < 7 else "later"


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2] / 1000


@pytest.fixture
def trip_cases(runtime, follow_up_case) -> dict:
    """``follow_up_case`` (overdue) plus a case served today on wall feature B (due later); both
    old photos get the thumbnail the ingest pipeline would have made."""
    users = follow_up_case["users"]
    with runtime.db.session() as s:
        fb = s.scalars(select(Feature).where(Feature.fid == "B")).one()
        layer, fb_id = fb.layer_id, fb.id
    old2 = add_photo(runtime, F2[0], F2[1] - 0.0001, bearing=350.0, link=(layer, fb_id), seed=7)
    finding2 = add_finding(runtime, users["insp"], [old2], *F2, layer_id=layer, feature=(fb_id, "B", "明长城金川段"),
                           place="金川峡口东侧")
    case2 = served_case(runtime, users["rev"], [finding2], served_on=legal_date(utcnow()),
                        body="金川区文物管理所", title="明长城金川段刻划")
    with runtime.db.session() as s:
        shas = list(s.scalars(select(Photo.sha256).where(Photo.id.in_([follow_up_case["old"], old2]))))
    for sha in shas:
        runtime.evidence.put_derivative(sha, "thumb", runtime.evidence.preview_path(sha).read_bytes())
    return {**follow_up_case, "case2": case2, "finding2": finding2, "old2": old2}


def test_due_list_trip_gpx_and_lookback(live_server, runtime, trip_cases, page, login, screenshot, tmp_path,
                                        request_log, assert_same_origin):
    case1, case2 = trip_cases["case"], trip_cases["case2"]
    due1, due2 = cases.get_case(runtime, case1).reply_due, cases.get_case(runtime, case2).reply_due
    assert (_group(due1), _group(due2)) == ("overdue", "later")
    login(page, "rev")
    page.goto(f"{live_server}/lookbacks/due")
    expect(page.locator("h1")).to_have_text("待回头看")
    for case_id, due_on in ((case1, due1), (case2, due2)):
        key = _group(due_on)
        section = page.locator(f"section#{key}")
        expect(section.locator("h2")).to_contain_text(GROUP_LABELS[key])
        row = section.locator(f"tr[data-case='{case_id}']")
        expect(row).to_contain_text(due_on.isoformat())
        expect(row).to_contain_text("书面回复期限")  # the basis, translated, never "reply_due"
    expect(page.locator("section#overdue tr[data-case]")).to_have_count(1)
    expect(page.locator("section#later tr[data-case]")).to_have_count(1)
    expect(page.locator("section#this_week")).to_contain_text("本周 (0)")
    expect(page.locator(f"tr[data-case='{case1}']")).to_contain_text("跟进调查")  # follow_up, as fieldkit.labels and the brief name it
    expect(page.locator(f"tr[data-case='{case2}']")).to_contain_text("待回复")  # awaiting_reply
    expect(page.locator(".fk-due")).not_to_contain_text("reply_due")

    # tick both cases, start from the office, plan the trip
    page.locator(f"input[name=case_id][value='{case1}']").check()
    page.locator(f"input[name=case_id][value='{case2}']").check()
    page.locator("input[name=start]").fill(f"{OFFICE[0]},{OFFICE[1]}")
    page.locator("input[name=start_name]").fill("县检察院")
    with page.expect_navigation():
        page.locator(".fk-trip-form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("回头看路线")
    expect(page.locator(".fk-trip-summary")).to_contain_text("县检察院")
    stops = page.locator("tr.fk-stop")
    expect(stops).to_have_count(2)
    # nearest first: F1 (wall A) is nearer the office than F2 (wall B)
    expect(stops.nth(0)).to_have_attribute("data-finding", str(trip_cases["finding"]))
    expect(stops.nth(1)).to_have_attribute("data-finding", str(trip_cases["finding2"]))
    leg1, leg2 = _km(OFFICE, F1), _km(F1, F2)
    cells = [[float(stops.nth(i).locator("td").nth(k).inner_text()) for k in (4, 5)] for i in range(2)]
    assert cells[0] == pytest.approx([leg1, leg1], abs=0.006), cells
    assert cells[1] == pytest.approx([leg2, leg1 + leg2], abs=0.006), cells
    expect(stops.nth(0)).to_contain_text("马营沟村北侧")
    expect(stops.nth(1)).to_contain_text("金川峡口东侧")
    for stop, old in ((stops.nth(0), trip_cases["old"]), (stops.nth(1), trip_cases["old2"])):
        img = stop.locator(f".fk-reshoot img[src$='/photos/{old}/thumb']")
        expect(img).to_have_count(1)
        img.scroll_into_view_if_needed()  # loading="lazy"
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("el => el.naturalWidth") > 0, f"thumbnail of photo {old} did not load"
    screenshot(page, "lookback-trip")

    # the GPX a phone opens: waypoints in visiting order, Chinese names, at the findings
    with page.expect_download() as info:
        page.get_by_role("link", name="下载 GPX").click()
    download = info.value
    assert download.suggested_filename.endswith(".gpx") and "回头看路线" in download.suggested_filename
    gpx = tmp_path / "trip.gpx"
    download.save_as(gpx)
    wpts = pyogrio.read_dataframe(gpx, layer="waypoints")
    assert list(wpts["name"]) == ["1. 马营沟村北侧", "2. 金川峡口东侧"]
    got = [(round(p.x, 6), round(p.y, 6)) for p in wpts.geometry]
    assert got == [F1, F2]
    route = pyogrio.read_dataframe(gpx, layer="route_points")
    assert list(route["name"]) == ["县检察院", "1. 马营沟村北侧", "2. 金川峡口东侧"]
    assert (round(route.geometry[0].x, 6), round(route.geometry[0].y, 6)) == OFFICE

    # on to the case, plan the look-back there; the look-back lists the finding as not checked
    with page.expect_navigation():
        stops.nth(0).locator(f"a[href='/cases/{case1}']").click()
    assert re.search(rf"/cases/{case1}$", page.url), page.url
    lookback_url = plan_lookback(page, trip_cases["users"]["insp"])
    card = page.locator(f"article[data-finding='{trip_cases['finding']}']")
    expect(card.locator(".fk-lb-status")).to_have_attribute("data-status", "not_checked")
    expect(card.locator(".fk-lb-status")).to_contain_text("未核查")

    # the due list now shows the planned look-back instead of the reply deadline
    page.goto(f"{live_server}/lookbacks/due")
    row = page.locator(f"tr[data-case='{case1}']")
    expect(row).to_contain_text("已计划的回头看")
    expect(row.locator(f"a[href='{lookback_url.removeprefix(live_server)}']")).to_have_count(1)

    pair_verdict_and_conclude(page, runtime, lookback_url, trip_cases["finding"], trip_cases["users"]["insp"],
                              screenshot, shot_prefix="lookback-trip")
    assert cases.get_case(runtime, case1).state == "closed"
    page.goto(f"{live_server}/lookbacks/due")
    expect(page.locator(f"tr[data-case='{case1}']")).to_have_count(0)
    expect(page.locator(f"tr[data-case='{case2}']")).to_have_count(1)
    assert_same_origin(request_log, live_server)
