"""Look-back pages: plan from the case page, pair, verdicts, conclude, record downloads, access rules."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest

from fieldkit import cases
from fieldkit.lookback import get_lookback, list_pairs, plan_lookback
from tests.integration.test_lookback_setup import add_finding, add_photo, add_wall_layer, served_case

D = dt.date
F1 = (101.9700, 38.2480)
NORTH_10M = 10 / 111_000


@pytest.fixture
def world(runtime, users):
    """A served case (awaiting reply) with one finding on wall feature A and its old photo facing north."""
    rev = users["rev"].id
    layer, fa, fb = add_wall_layer(runtime)
    old = add_photo(runtime, F1[0], F1[1] - NORTH_10M, bearing=0.0, link=(layer, fa), seed=1)
    finding = add_finding(runtime, users["insp"].id, [old], *F1, layer_id=layer, feature=(fa, "A", "明长城永昌段"),
                          place="马营沟村北侧")
    case = served_case(runtime, rev, [finding], served_on=D(2025, 1, 10))
    return {"layer": layer, "fa": fa, "fb": fb, "old": old, "finding": finding, "case": case}


def planned(runtime, users, world, inspectors=("insp",)):
    """A look-back planned with inspection 回头看-测试 and two new photos: facing the spot and facing away."""
    lb = plan_lookback(runtime, world["case"], planned_on=D(2025, 3, 12), actor_id=users["rev"].id,
                       inspector_ids=[users[n].id for n in inspectors], inspection="回头看-测试")
    link = (world["layer"], world["fa"])
    good = add_photo(runtime, F1[0], F1[1] - NORTH_10M, bearing=5.0, inspection_id=lb.inspection_id, link=link,
                     seed=11)
    away = add_photo(runtime, F1[0], F1[1] - 2 * NORTH_10M, bearing=180.0, inspection_id=lb.inspection_id,
                     link=link, seed=12)
    return lb, good, away


def post(client, csrf_token, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def test_case_page_plans_a_lookback(runtime, client, users, world, login, csrf_token):
    login(client, "rev")
    page = client.get(f"/cases/{world['case']}").get_data(as_text=True)
    assert 'id="plan-lookback"' in page and f'name="inspector_id" value="{users["insp"].id}"' in page
    response = post(client, csrf_token, f"/cases/{world['case']}/lookbacks", planned_on="2025-03-12",
                    inspector_id=[str(users["insp"].id), str(users["insp2"].id)], inspection="回头看-三月",
                    note="<script>alert(1)</script>")
    assert response.status_code == 302
    lb_id = int(re.search(r"/lookbacks/(\d+)$", response.headers["Location"]).group(1))
    lb = get_lookback(runtime, lb_id)
    assert (lb.planned_on, lb.inspector_ids, lb.inspection_name) == (
        D(2025, 3, 12), (users["insp"].id, users["insp2"].id), "回头看-三月")
    html = client.get(f"/lookbacks/{lb_id}").get_data(as_text=True)
    assert f'data-finding="{world["finding"]}"' in html and 'data-status="not_checked"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'href="/lookbacks/{lb_id}"' in client.get(f"/cases/{world['case']}").get_data(as_text=True)


def test_plan_refuses_bad_date_and_wrong_state(runtime, client, users, world, login, csrf_token):
    login(client, "rev")
    assert post(client, csrf_token, f"/cases/{world['case']}/lookbacks", planned_on="").status_code == 400
    assert post(client, csrf_token, f"/cases/{world['case']}/lookbacks", planned_on="2024-12-01").status_code == 400
    fresh = cases.open_case(runtime, title="新线索", responsible_body="某局", actor_id=users["rev"].id,
                            finding_ids=[], domain="great_wall")
    assert 'id="plan-lookback"' not in client.get(f"/cases/{fresh.id}").get_data(as_text=True)
    response = post(client, csrf_token, f"/cases/{fresh.id}/lookbacks", planned_on="2025-03-12")
    assert response.status_code == 409


def test_pair_verdict_and_conclude_closes_the_case(runtime, client, users, world, login, csrf_token):
    lb, good, away = planned(runtime, users, world)
    login(client, "insp")
    html = client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    assert f'href="/upload?inspection={quote("回头看-测试")}"' in html
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/suggest").status_code == 302
    pairs = {p.photo_id: p for p in list_pairs(runtime, lb.id)}
    assert set(pairs) == {good, away} and pairs[away].weak and not pairs[good].weak
    html = client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    row = re.search(rf'<tr class="fk-pair fk-weak" data-pair="{pairs[away].id}".*?</tr>', html, re.S).group(0)
    assert "180°" in row and "20 m" in row
    good_row = re.search(rf'<tr class="fk-pair" data-pair="{pairs[good].id}".*?</tr>', html, re.S).group(0)
    assert f"{pairs[good].score:.2f}" in good_row and "10 m" in good_row and "5°" in good_row
    # no confirmed photo yet: "rectified" is refused, the finding stays not checked
    url = f"/lookbacks/{lb.id}/findings/{world['finding']}/verdict"
    assert post(client, csrf_token, url, verdict="rectified").status_code == 409
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/pairs/{pairs[good].id}/confirm").status_code == 302
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/pairs/{pairs[away].id}/reject").status_code == 302
    html = client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    assert 'data-status="paired"' in html and "data-slider" in html
    assert f'src="/photos/{world["old"]}/preview"' in html and f'src="/photos/{good}/preview"' in html
    assert post(client, csrf_token, url, verdict="rectified", note="已清理").status_code == 302
    html = client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    assert 'data-status="rectified"' in html and 'class="fk-lb-preview" data-outcome="closed"' in html
    assert 'id="conclude"' not in html  # inspectors do not conclude
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/conclude").status_code == 403

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "rev")
    assert 'id="conclude"' in client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/conclude", done_on="2025-03-12").status_code == 302
    assert cases.get_case(runtime, world["case"]).state == "closed"
    html = client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    assert 'data-outcome="closed"' in html and 'class="fk-case-state" data-state="closed"' in html
    assert 'id="to-case"' in html and 'id="suggest-pairs"' not in html and "fk-verdict" not in html
    assert post(client, csrf_token, url, verdict="worse").status_code == 409  # concluded: frozen


def test_not_rectified_after_deadline_goes_to_litigation_review(runtime, client, users, world, login, csrf_token):
    lb, good, _away = planned(runtime, users, world)
    login(client, "rev")
    response = post(client, csrf_token, f"/lookbacks/{lb.id}/pairs", finding_id=world["finding"], photo_id=good)
    assert response.status_code == 302
    [pair] = [p for p in list_pairs(runtime, lb.id) if p.photo_id == good]
    assert pair.state == "confirmed" and pair.confirmed_by_id == users["rev"].id
    post(client, csrf_token, f"/lookbacks/{lb.id}/findings/{world['finding']}/verdict", verdict="not_rectified")
    html = client.get(f"/lookbacks/{lb.id}").get_data(as_text=True)
    assert 'data-outcome="litigation_review"' in html  # today is long after the 2025 deadlines
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/conclude", done_on="2025-06-01").status_code == 302
    assert cases.get_case(runtime, world["case"]).state == "litigation_review"


def test_manual_pair_takes_only_photos_of_the_lookback_inspection(runtime, client, users, world, login,
                                                                  csrf_token):
    lb, _good, _away = planned(runtime, users, world)
    login(client, "rev")
    response = post(client, csrf_token, f"/lookbacks/{lb.id}/pairs", finding_id=world["finding"],
                    photo_id=world["old"])
    assert response.status_code == 400 and "回头看-测试" in response.get_data(as_text=True)
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/pairs", finding_id="x").status_code == 400
    assert list_pairs(runtime, lb.id) == []


def test_access_follows_the_lookback_team(runtime, client, users, world, login, csrf_token):
    lb, good, _away = planned(runtime, users, world, inspectors=("insp",))
    login(client, "insp2")  # team B, not on the look-back
    assert client.get(f"/lookbacks/{lb.id}").status_code == 404
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/suggest").status_code == 404
    assert client.get(f"/lookbacks/{lb.id}/record.pdf").status_code == 404
    assert post(client, csrf_token, f"/cases/{world['case']}/lookbacks", planned_on="2025-03-12").status_code == 403
    assert list_pairs(runtime, lb.id) == []
    # a pair of another look-back cannot be confirmed through this one
    other = plan_lookback(runtime, world["case"], planned_on=D(2025, 3, 20), actor_id=users["rev"].id,
                          inspector_ids=[users["insp2"].id], inspection="回头看-测试")
    post(client, csrf_token, f"/lookbacks/{other.id}/suggest")
    foreign = list_pairs(runtime, other.id)[0]
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "insp")
    assert client.get(f"/lookbacks/{lb.id}").status_code == 200
    assert post(client, csrf_token, f"/lookbacks/{lb.id}/pairs/{foreign.id}/confirm").status_code == 404
    assert list_pairs(runtime, other.id)[0].state == "candidate"


@pytest.mark.parametrize("ext, magic, mime", [("docx", b"PK", "wordprocessingml"), ("pdf", b"%PDF", "pdf")])
def test_record_downloads_with_chinese_file_name(runtime, client, users, world, login, ext, magic, mime):
    lb, _good, _away = planned(runtime, users, world)
    login(client, "rev")
    response = client.get(f"/lookbacks/{lb.id}/record.{ext}")
    assert response.status_code == 200 and response.data.startswith(magic)
    assert mime in response.headers["Content-Type"]
    disposition = response.headers["Content-Disposition"]
    expected = quote(f"回头看记录-案件{world['case']}-{lb.id}.{ext}")
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{expected}" in disposition
    assert response.headers["Cache-Control"] == "private, no-store"


def test_upload_page_preselects_the_inspection(client, users, login):
    login(client, "insp")
    html = client.get("/upload?inspection=" + quote('回头看-1"><script>x</script>')).get_data(as_text=True)
    assert 'value="回头看-1&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html
    assert 'value=""' in client.get("/upload").get_data(as_text=True)
