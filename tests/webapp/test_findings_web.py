"""Findings in the web app: record on a joined photo, duplicate hint, list filters, page, GeoJSON."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from shapely import LineString

from fieldkit import cases
from fieldkit.geo.measure import GEOD
from fieldkit.join import clear_index_cache
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store.models import Feature, Layer
from tests.integration.test_lookback_setup import add_finding, served_case
from tests.photo_factory import make_jpeg

LON0, LAT0 = 116.02, 40.36


def east(metres: float) -> tuple[float, float]:
    """A point ``metres`` east of the origin (lon, lat)."""
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 90.0, metres)
    return lon, lat


def add_wall(rt) -> int:
    """A 4 km Great Wall segment through the origin, with a responsible body on the layer."""
    line = LineString([east(-2000), east(2000)])
    with rt.db.session(write=True) as s:
        layer = Layer(slug="wall", name="长城", kind="great_wall", tolerance_m=100.0,
                      responsible_body="延庆区文化和旅游局")
        s.add(layer)
        s.flush()
        s.add(Feature.from_geometry(layer.id, "GW-1", "八达岭北段", line))
        return layer.id


def add_photo(rt, user_id: int, metres: float, n: int) -> int:
    """Ingest a JPEG taken ``metres`` east of the origin, uploaded by ``user_id``."""
    lon, lat = east(metres)
    data = make_jpeg(width=64 + n, lat=lat, lon=lon, taken_at=f"2025:05:06 10:{n:02d}:00", offset="+08:00")
    result = ingest_upload(rt, data, f"现场{n}.jpg", uploaded_by=user_id)
    assert result.status == "ingested", result
    return result.photo_id


@pytest.fixture
def world(runtime, users):
    """A wall layer and three photos by ``insp``: two 100 m apart, one 1.5 km away."""
    clear_index_cache()
    add_wall(runtime)
    insp = users["insp"].id
    photos = {"a": add_photo(runtime, insp, 0, 1), "b": add_photo(runtime, insp, 100, 2),
              "far": add_photo(runtime, insp, 1500, 3)}
    yield photos
    clear_index_cache()


def record(client, token, photo_id, category="gw-graffiti", **extra):
    return client.post(f"/photos/{photo_id}/findings/new",
                       data={"csrf_token": token, "category_id": category, **extra})


def finding_id(response) -> int:
    return int(re.search(r"/findings/(\d+)$", response.headers["Location"]).group(1))


def test_form_lists_categories_of_the_joined_layer_grouped_by_domain(client, login, world):
    login(client, "insp")
    html = client.get(f"/photos/{world['a']}/findings/new").get_data(as_text=True)
    assert '<optgroup label="长城' in html and 'value="gw-graffiti"' in html
    assert "rv-dumping-rubbish" not in html  # the photo is joined to a wall, not a river
    assert 'name="csrf_token"' in html


def test_record_then_duplicate_hint_on_a_second_one_nearby(client, login, csrf_token, world):
    login(client, "insp")
    token = csrf_token(client)
    first = record(client, token, world["a"], note="城墙上有<script>alert(1)</script>涂鸦")
    assert first.status_code == 302
    fid = finding_id(first)
    page = client.get(first.headers["Location"] + "?lang=zh_CN").get_data(as_text=True)
    assert "八达岭北段" in page and "K2+000" in page and "《长城保护条例》" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert f'href="/photos/{world["a"]}"' in page
    assert "附近 250 米内" not in page
    second = record(client, token, world["b"], severity="high")
    hint = client.get(second.headers["Location"] + "?lang=zh_CN").get_data(as_text=True)
    assert f"附近 250 米内已有同类未结问题 #{fid}（100 米）" in hint
    far = record(client, token, world["far"])
    assert "250" not in client.get(far.headers["Location"]).get_data(as_text=True).split("<main")[1][:400]


def test_bad_input_is_refused_and_csrf_is_required(client, login, csrf_token, world):
    login(client, "insp")
    assert client.post(f"/photos/{world['a']}/findings/new", data={"category_id": "gw-graffiti"}).status_code == 400
    assert record(client, csrf_token(client), world["a"], category="no-such").status_code == 404
    assert record(client, csrf_token(client), world["a"], severity="huge").status_code == 400
    login(client, "insp2")  # team B cannot see team A's photo
    assert client.get(f"/photos/{world['a']}/findings/new").status_code == 404


def test_list_filters_and_visibility(client, login, csrf_token, world):
    login(client, "insp")
    token = csrf_token(client)
    graffiti = finding_id(record(client, token, world["a"]))
    building = finding_id(record(client, token, world["far"], category="gw-illegal-construction"))
    html = client.get("/findings?category_id=gw-graffiti").get_data(as_text=True)
    assert f"/findings/{graffiti}" in html and f"/findings/{building}" not in html
    both = client.get("/findings?domain=great_wall&state=open&since=2025-05-06&until=2025-05-06")
    assert f"/findings/{building}" in both.get_data(as_text=True)
    none = client.get("/findings?until=2025-05-05").get_data(as_text=True)
    assert f"/findings/{graffiti}" not in none
    assert client.get("/findings?since=yesterday").status_code == 400
    assert client.get("/findings?state=bogus").status_code == 400
    login(client, "insp2")
    assert f"/findings/{graffiti}" not in client.get("/findings").get_data(as_text=True)
    assert client.get(f"/findings/{graffiti}").status_code == 404
    login(client, "rev")
    assert f"/findings/{graffiti}" in client.get("/findings").get_data(as_text=True)


def test_api_findings_geojson_by_bbox(client, login, csrf_token, world):
    login(client, "insp")
    token = csrf_token(client)
    near = finding_id(record(client, token, world["a"]))
    far = finding_id(record(client, token, world["far"]))
    lon, lat = east(50)
    data = client.get(f"/api/findings?bbox={lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}").get_json()
    assert data["type"] == "FeatureCollection"
    assert [f["id"] for f in data["features"]] == [near]
    props = data["features"][0]["properties"]
    assert props["feature_name"] == "八达岭北段" and props["photo_ids"] == [world["a"]]
    everything = client.get("/api/findings?bbox=100,30,130,50").get_json()
    assert {f["id"] for f in everything["features"]} == {near, far}
    assert client.get("/api/findings?bbox=1,2,3").status_code == 400
    login(client, "insp2")
    assert client.get("/api/findings?bbox=100,30,130,50").get_json()["features"] == []


def test_photo_page_links_to_the_finding_form_for_those_who_may_record(client, users, login):
    from fieldkit.photos.ingest import ingest_upload
    from tests.photo_factory import make_jpeg

    rt = client.application.extensions["fieldkit"]
    photo = ingest_upload(rt, make_jpeg(64, 48, lat=38.5, lon=102.2), "p.jpg", uploaded_by=users["insp"].id)
    login(client, "insp")
    page = client.get(f"/photos/{photo.photo_id}").get_data(as_text=True)
    assert f'href="/photos/{photo.photo_id}/findings/new"' in page


def test_list_and_page_show_translated_labels_and_local_minutes(client, login, csrf_token, world):
    login(client, "insp")
    fid = finding_id(record(client, csrf_token(client), world["a"], severity="high"))
    zh = client.get("/findings?lang=zh_CN").get_data(as_text=True)
    assert 'data-state="open">未结' in zh and "<td>严重</td>" in zh
    assert "<td>2025-05-06 10:01</td>" in zh  # 10:01 +08:00 on the camera, shown in Asia/Shanghai
    en = client.get(f"/findings/{fid}?lang=en").get_data(as_text=True)
    assert 'data-state="open">Open' in en and "High · Normal" in en and "2025-05-06 10:01" in en
    assert f"<h1>Finding #{fid} · Carving or graffiti on the wall</h1>" in en
    zh_page = client.get(f"/findings/{fid}?lang=zh_CN").get_data(as_text=True)
    assert f"<h1>问题 #{fid} · 在长城上刻划、涂污</h1>" in zh_page
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", en) and "Recorded" in en


def test_edit_and_close_a_finding_by_role_and_state(client, login, csrf_token, world, runtime):
    from fieldkit import users as users_lib
    from fieldkit.findings.service import get_finding

    users_lib.add_user(runtime, "insp3", "pw-insp3-123456", role="inspector", team="A")
    login(client, "insp")
    token = csrf_token(client)
    fid = finding_id(record(client, token, world["a"]))
    page = client.get(f"/findings/{fid}").get_data(as_text=True)
    assert f'action="/findings/{fid}/edit"' in page and f'action="/findings/{fid}/close"' in page
    saved = client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "category_id": "gw-illegal-construction",
                                                       "severity": "critical", "note": "新建房屋", "place": "北门"})
    assert saved.status_code == 302
    view = get_finding(runtime, fid)
    assert (view.category_id, view.severity, view.note, view.place) == (
        "gw-illegal-construction", "critical", "新建房屋", "北门")
    assert client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "severity": "huge"}).status_code == 400
    assert client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "category_id": "nope"}).status_code == 400
    assert client.post(f"/findings/{fid}/edit", data={"note": "no token"}).status_code == 400
    assert client.post(f"/findings/{fid}/close", data={"reason": "no token"}).status_code == 400

    login(client, "insp3")  # same team: may see it, may not change another's finding
    token = csrf_token(client)
    assert f'action="/findings/{fid}/edit"' not in client.get(f"/findings/{fid}").get_data(as_text=True)
    assert client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "note": "x"}).status_code == 403
    assert client.post(f"/findings/{fid}/close", data={"csrf_token": token, "reason": "x"}).status_code == 403
    login(client, "insp2")  # other team: cannot even see it
    token = csrf_token(client)
    assert client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "note": "x"}).status_code == 404

    login(client, "rev")
    token = csrf_token(client)
    assert client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "note": "复核"}).status_code == 302
    assert client.post(f"/findings/{fid}/close", data={"csrf_token": token, "reason": " "}).status_code == 400
    closed = client.post(f"/findings/{fid}/close", data={"csrf_token": token, "reason": "已拆除"})
    assert closed.status_code == 302 and get_finding(runtime, fid).state == "closed"
    page = client.get(f"/findings/{fid}?lang=zh_CN").get_data(as_text=True)
    assert 'data-state="closed">已结' in page and "已拆除" in page and f'action="/findings/{fid}/edit"' not in page
    again = client.post(f"/findings/{fid}/edit", data={"csrf_token": token, "note": "x"})
    assert again.status_code == 409 and "only open findings change" in again.get_data(as_text=True)
    assert client.post(f"/findings/{fid}/close", data={"csrf_token": token, "reason": "x"}).status_code == 409
    assert get_finding(runtime, fid).note == "复核"


def closed_case_at(rt, user_id: int, lon: float, lat: float, *, closed_on=dt.date(2025, 3, 12),
                   title: str = "八达岭北段涂污", body: str = "延庆区文化和旅游局") -> int:
    """A great-wall case on an old graffiti finding at (lon, lat): served, replied, followed up and
    closed as rectified on ``closed_on``."""
    old = add_finding(rt, user_id, [], lon, lat, category="gw-graffiti", observed_at=dt.datetime(2024, 12, 20, 2))
    case_id = served_case(rt, user_id, [old], served_on=dt.date(2025, 1, 10), reply_on=dt.date(2025, 3, 1),
                          title=title, body=body)
    at = dt.datetime.combine(closed_on, dt.time(2))
    cases.apply(rt, case_id, "start_follow_up", user_id, at=at)
    cases.apply(rt, case_id, "close", user_id, at=at, ended_on=closed_on)
    return case_id


def test_recurrence_notice_links_the_old_case_for_staff_only(app, client, login, csrf_token, runtime, users,
                                                             world):
    case_id = closed_case_at(runtime, users["rev"].id, *east(0))
    login(client, "insp")
    token = csrf_token(client)
    new = record(client, token, world["b"])  # 100 m from the closed case's place, photo of 2025-05-06
    new_id = finding_id(new)
    page = client.get(new.headers["Location"] + "?lang=zh_CN").get_data(as_text=True)
    assert f"反弹：附近的案件 #{case_id}（八达岭北段涂污）已于 2025-03-12 结案，相距 100 米。" in page  # flash
    notice = page.split('class="flash flash-warning fk-recurrence"')[1].split("</section>")[0]
    assert "<h2" in notice and "反弹" in notice and f"#{case_id} 八达岭北段涂污" in notice
    assert "延庆区文化和旅游局" in notice and "2025-03-12 结案" in notice and "相距 100 米" in notice
    assert f'href="/cases/{case_id}"' not in page  # inspectors may not open cases
    far = finding_id(record(client, token, world["far"]))  # 1.5 km away: not a recurrence
    assert "fk-recurrence" not in client.get(f"/findings/{far}").get_data(as_text=True)
    listing = client.get("/findings").get_data(as_text=True)
    cells = {int(m[1]): m[2] for m in re.finditer(r'<td><a href="/findings/(\d+)">#\d+</a>(.*?)</td>', listing)}
    assert "fk-recurrence-badge" in cells[new_id] and ">反弹</strong>" in cells[new_id] and cells[far] == ""
    assert listing.count("fk-recurrence-badge") == 1
    staff = app.test_client()
    login(staff, "rev")
    page = staff.get(f"/findings/{new_id}?lang=en").get_data(as_text=True)
    assert f'<a href="/cases/{case_id}">Case #{case_id} 八达岭北段涂污</a>' in page
    assert "Recurrence" in page and "closed on 2025-03-12" in page and "100 m away" in page
    assert "Flagged as a recurrence" in page  # the history names the audit entry
    assert staff.get(f"/cases/{case_id}").status_code == 200 and client.get(f"/cases/{case_id}").status_code == 403
