"""Look-back planning pages: due list and its .ics, trip plans (page, GPX, KML), scorecards, roles."""

from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import quote

import pyogrio
import pytest
from PIL import Image

from fieldkit.cases.deadlines import legal_date
from fieldkit.lookback import conclude_lookback, pair_manually, plan_lookback, record_verdict
from fieldkit.store import Photo
from fieldkit.store.models import utcnow
from tests.integration.test_lookback_setup import add_finding, add_photo, served_case
from tests.unit.test_lookback_ics import parse_ics

A_BODY, B_BODY, C_BODY = "永昌县文化和旅游局", "金川区文化和旅游局", "山丹县文化和旅游局"
SITES_A = [((101.99, 38.26), "长城敌台北侧"), ((101.96, 38.24), "马营沟村北侧"), ((101.98, 38.25), "烽火台东侧")]
SITE_B = ((102.10, 38.50), "金川区涂污点")
SITE_C = ((101.97, 38.245), "墩台西侧")
TODAY = legal_date(utcnow())


def _thumbed(runtime, photo_id: int, uploader: int) -> None:
    """Give a test photo a thumbnail (the builders store only a preview) and its uploader."""
    with runtime.db.session(write=True) as s:
        photo = s.get(Photo, photo_id)
        photo.uploaded_by_id = uploader
        sha = photo.sha256
    runtime.evidence.put_derivative(sha, "thumb", runtime.evidence.preview_path(sha).read_bytes())


def _sites(runtime, user: int, sites, seed: int) -> tuple[list[int], list[int]]:
    findings, photos = [], []
    for k, ((lon, lat), place) in enumerate(sites):
        photo = add_photo(runtime, lon, lat, bearing=30.0 * k, seed=seed + k)
        _thumbed(runtime, photo, user)
        photos.append(photo)
        findings.append(add_finding(runtime, user, [photo], lon, lat, place=place, chainage_m=1000.0 * k + 300))
    return findings, photos


@pytest.fixture
def world(runtime, users):
    """A overdue (team A), B planned this week (team B), C planned later (team A), one concluded."""
    rev, insp, insp2 = users["rev"].id, users["insp"].id, users["insp2"].id
    fa, photos_a = _sites(runtime, insp, SITES_A, 0)
    a = served_case(runtime, rev, fa, served_on=dt.date(2025, 1, 10), body=A_BODY, title="明长城取土")
    fb, _ = _sites(runtime, insp2, [SITE_B], 10)
    b = served_case(runtime, rev, fb, served_on=dt.date(2025, 1, 20), body=B_BODY, title="金川涂污",
                    reply_on=dt.date(2025, 3, 1))
    lb_b = plan_lookback(runtime, b, planned_on=TODAY + dt.timedelta(days=2), actor_id=rev, inspector_ids=[insp2])
    fc, _ = _sites(runtime, insp, [SITE_C], 20)
    c = served_case(runtime, rev, fc, served_on=dt.date(2025, 2, 1), body=C_BODY, title="山丹墩台")
    lb_c = plan_lookback(runtime, c, planned_on=TODAY + dt.timedelta(days=40), actor_id=rev)
    fd, _ = _sites(runtime, insp, [((101.5, 38.0), "已整改点")], 30)
    d = served_case(runtime, rev, fd, served_on=dt.date(2025, 2, 10), body=A_BODY, title="已整改",
                    reply_on=dt.date(2025, 3, 5))
    done = plan_lookback(runtime, d, planned_on=dt.date(2025, 4, 1), actor_id=rev)
    pair_manually(runtime, done.id, fd[0], add_photo(runtime, 101.5, 38.0, seed=40), rev)
    record_verdict(runtime, done.id, fd[0], "rectified", rev)
    conclude_lookback(runtime, done.id, rev, done_on=dt.date(2025, 4, 1))
    return {"a": a, "b": b, "c": c, "d": d, "lb_b": lb_b.id, "lb_c": lb_c.id, "fa": fa, "photos_a": photos_a}


def _sections(html: str) -> dict[str, set[int]]:
    out = {}
    for key in ("overdue", "this_week", "later"):
        part = html.split(f'id="{key}"', 1)[1].split("</section>", 1)[0]
        out[key] = {int(x) for x in re.findall(r'data-case="(\d+)"', part)}
    return out


def test_due_list_groups_links_and_nav(client, login, world):
    login(client, "rev")
    html = client.get("/lookbacks/due").get_data(as_text=True)
    assert _sections(html) == {"overdue": {world["a"]}, "this_week": {world["b"]}, "later": {world["c"]}}
    assert f'href="/cases/{world["a"]}"' in html and f'href="/lookbacks/{world["lb_b"]}"' in html
    assert '<a href="/lookbacks/due">回头看</a>' in html
    assert "已逾期" in html and "书面回复期限" in html and "金川涂污" in html
    assert f'href="/cases/{world["d"]}"' not in html  # closed by its look-back: nothing due
    english = client.get("/lookbacks/due?lang=en").get_data(as_text=True)
    assert "Overdue" in english and "This week" in english and "Plan the trip" in english


@pytest.mark.parametrize("query, expected", [
    ("team=B", {"b"}),
    ("team=A", {"a", "c"}),
    (f"body={quote(C_BODY)}", {"c"}),
    (f"body={quote(A_BODY)}&team=A", {"a"}),
    ("team=nobody", set()),
])
def test_due_list_filters(client, login, world, query, expected):
    login(client, "rev")
    html = client.get(f"/lookbacks/due?{query}").get_data(as_text=True)
    found = set().union(*_sections(html).values())
    assert found == {world[k] for k in expected}


def test_due_list_filter_by_inspector_and_bad_values(client, login, world, users):
    login(client, "admin")
    html = client.get(f"/lookbacks/due?inspector={users['insp2'].id}").get_data(as_text=True)
    assert set().union(*_sections(html).values()) == {world["b"]}
    bad = client.get("/lookbacks/due?inspector=abc")
    assert bad.status_code == 400 and "abc" in bad.get_data(as_text=True)
    unknown = client.get("/lookbacks/due?inspector=999999")
    assert unknown.status_code == 400 and "999999" in unknown.get_data(as_text=True)


def test_inspectors_see_their_team_only(client, login, world):
    login(client, "insp")
    response = client.get("/lookbacks/due")
    html = response.get_data(as_text=True)
    assert set().union(*_sections(html).values()) == {world["a"], world["c"]}
    assert "/cases/" not in html  # cases are for reviewers and admins
    assert client.get("/lookbacks/due?team=A").status_code == 200
    assert client.get("/lookbacks/due?team=B").status_code == 403
    assert client.get("/lookbacks/due.ics?team=B").status_code == 403
    assert "/lookbacks/scorecards" not in html


def test_due_ics_parses_with_the_same_filters(client, login, world):
    login(client, "rev")
    response = client.get("/lookbacks/due.ics?team=A")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition
    assert quote("回头看") in disposition
    data = response.get_data()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    events = parse_ics(data.decode("utf-8"))
    cases = sorted(int(re.search(r"lookback-case-(\d+)-", e["UID"]).group(1)) for e in events)
    assert cases == sorted([world["a"], world["c"]])
    planned = next(e for e in events if f"case-{world['c']}-" in e["UID"])
    assert planned["DTSTART;VALUE=DATE"] == f"{TODAY + dt.timedelta(days=40):%Y%m%d}"
    assert len(parse_ics(client.get("/lookbacks/due.ics").get_data(as_text=True))) == 3


def _post_trip(client, csrf_token, **data):
    return client.post("/lookbacks/trip", data={"csrf_token": csrf_token(client), **data})


def test_trip_plan_page_orders_stops_with_km_and_photos(client, login, world, csrf_token):
    login(client, "insp")
    response = _post_trip(client, csrf_token, case_id=[str(world["a"]), str(world["c"])],
                          start="101.95,38.23", start_name="永昌县检察院")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    places = re.findall(r'<tr class="fk-stop"[^>]*>\s*<td>\d+</td>\s*<td><strong>([^<]+)</strong>', html)
    assert places == ["马营沟村北侧", "墩台西侧", "烽火台东侧", "长城敌台北侧"]
    assert "K1+300" in html and "永昌县检察院" in html and "全程 " in html and " 公里" in html
    for photo in world["photos_a"]:
        assert f'src="/photos/{photo}/thumb"' in html
    thumb = client.get(f"/photos/{world['photos_a'][0]}/thumb")
    assert thumb.status_code == 200 and thumb.get_data()[:2] == b"\xff\xd8"
    thumb.close()
    assert "/lookbacks/trip.gpx?" in html and "/lookbacks/trip.kml?" in html
    assert 'src="/static/app/lookback_plan.js"' in html and "<script>" not in html


def _download(client, kind: str, world, tmp_path):
    url = f"/lookbacks/trip.{kind}?case_id={world['a']}&case_id={world['c']}&start=101.95,38.23"
    response = client.get(url)
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"filename*=UTF-8''{quote('回头看路线')}" in disposition
    path = tmp_path / f"trip.{kind}"
    path.write_bytes(response.get_data())
    return response, path


def test_trip_gpx_and_kml_read_back_with_gdal(client, login, world, tmp_path):
    login(client, "rev")
    order = ["1. 马营沟村北侧", "2. 墩台西侧", "3. 烽火台东侧", "4. 长城敌台北侧"]
    response, gpx = _download(client, "gpx", world, tmp_path)
    assert response.mimetype == "application/gpx+xml"
    assert list(pyogrio.read_dataframe(gpx, layer="waypoints")["name"]) == order
    route = pyogrio.read_dataframe(gpx, layer="routes")
    assert len(route.geometry[0].coords) == 5 and route.geometry[0].coords[0] == pytest.approx((101.95, 38.23))
    response, kml = _download(client, "kml", world, tmp_path)
    assert response.mimetype == "application/vnd.google-earth.kml+xml"
    assert {n for n, _ in pyogrio.list_layers(kml)} == {"stops", "route"}
    assert list(pyogrio.read_dataframe(kml, layer="stops")["Name"]) == order


def test_trip_start_defaults_to_the_centre_of_the_sites(client, login, world, csrf_token):
    login(client, "rev")
    html = _post_trip(client, csrf_token, case_id=str(world["a"]), return_to_start="1").get_data(as_text=True)
    lon = sum(p[0][0] for p in SITES_A) / 3
    lat = sum(p[0][1] for p in SITES_A) / 3
    assert f"{lon:.5f}" in html and f"{lat:.5f}" in html and "现场点位中心" in html
    assert "return_to_start=1" in html


@pytest.mark.parametrize("data, status, words", [
    ({}, 400, "至少选择一个案件"),
    ({"case_id": "abc"}, 400, "abc"),
    ({"case_id": "{a}", "start": "北京"}, 400, "北京"),
    ({"case_id": "{a}", "start": "200,10"}, 400, "200,10"),
    ({"case_id": "999999", "start": "101.9,38.2"}, 404, "999999"),
    ({"case_id": "999999"}, 400, "请填写出发点"),
])
def test_trip_bad_input_is_refused_with_a_message(client, login, world, csrf_token, data, status, words):
    login(client, "rev")
    data = {k: v.format(a=world["a"]) for k, v in data.items()}
    response = _post_trip(client, csrf_token, **data)
    assert response.status_code == status and words in response.get_data(as_text=True)
    query = "&".join(f"{k}={quote(v)}" for k, v in data.items())
    assert client.get(f"/lookbacks/trip.gpx?{query}").status_code == status


def test_inspectors_plan_trips_for_their_own_due_list_only(client, login, world, csrf_token):
    login(client, "insp")
    refused = _post_trip(client, csrf_token, case_id=str(world["b"]))
    assert refused.status_code == 404 and "不在您的待回头看清单" in refused.get_data(as_text=True)
    assert client.get(f"/lookbacks/trip.kml?case_id={world['b']}").status_code == 404
    assert _post_trip(client, csrf_token, case_id=str(world["c"])).status_code == 200


def test_scorecards_table_and_charts(client, login, world):
    login(client, "rev")
    html = client.get("/lookbacks/scorecards").get_data(as_text=True)
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td>(\d+)</td>', html))
    assert rows == {A_BODY: "2", B_BODY: "1", C_BODY: "1"}
    assert "1 / 2 (50%)" in html and "1 (100%)" in html  # A: replies on time; rectified at the first look-back
    charts = re.findall(r'<img src="(/lookbacks/scorecards/[a-z]+\.png[^"]*)"', html)
    assert len(charts) == 2
    for src in charts:
        response = client.get(src.replace("&amp;", "&"))
        assert response.mimetype == "image/png"
        image = Image.open(io.BytesIO(response.get_data()))
        assert image.format == "PNG" and image.size[0] == 1400
    narrow = client.get("/lookbacks/scorecards?since=2025-02-05&until=2025-12-31").get_data(as_text=True)
    assert dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td>(\d+)</td>', narrow)) == {A_BODY: "1"}
    assert "since=2025-02-05" in narrow


@pytest.mark.parametrize("url, words", [
    ("/lookbacks/scorecards?since=2025-13-01", "since"),
    ("/lookbacks/scorecards?since=2025-06-01&until=2025-01-01", "since"),
    ("/lookbacks/scorecards/pie.png", "pie"),
    ("/lookbacks/scorecards/rates.png?until=yesterday", "until"),
])
def test_scorecards_bad_input(client, login, world, url, words):
    login(client, "admin")
    response = client.get(url)
    assert response.status_code == 400 and words in response.get_data(as_text=True)


def test_scorecards_are_for_reviewers_and_admins(client, login, world):
    login(client, "insp")
    assert client.get("/lookbacks/scorecards").status_code == 403
    assert client.get("/lookbacks/scorecards/rates.png").status_code == 403
