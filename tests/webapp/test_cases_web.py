"""Cases in the web app: open from findings, workflow POSTs, refusals, draft, issue, DOCX/PDF."""

from __future__ import annotations

import datetime as dt
import io
import re

import docx
import pytest
from shapely import LineString

from fieldkit.cases.deadlines import legal_date
from fieldkit.documents.drafting import case_records
from fieldkit.findings.service import record_finding
from fieldkit.geo.measure import GEOD
from fieldkit.join import clear_index_cache
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store.models import Feature, Layer, utcnow
from tests.photo_factory import make_jpeg
from tests.webapp.test_findings_web import closed_case_at

LON0, LAT0 = 101.97, 38.25
BODY = "永昌县文化和旅游局"


def east(metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 90.0, metres)
    return lon, lat


@pytest.fixture
def findings(runtime, users):
    """Two graffiti findings by ``insp`` on photos joined to a wall segment whose layer names a body."""
    clear_index_cache()
    line = LineString([east(-2000), east(2000)])
    with runtime.db.session(write=True) as s:
        layer = Layer(slug="wall", name="明长城", kind="great_wall", tolerance_m=100.0, responsible_body=BODY)
        s.add(layer)
        s.flush()
        s.add(Feature.from_geometry(layer.id, "GW-9", "明长城永昌段", line))
    ids = []
    for n, metres in enumerate((0, 600)):
        lon, lat = east(metres)
        data = make_jpeg(width=80 + n, lat=lat, lon=lon, taken_at=f"2025:05:06 1{n}:00:00", offset="+08:00")
        photo = ingest_upload(runtime, data, f"墙{n}.jpg", uploaded_by=users["insp"].id).photo_id
        ids.append(record_finding(runtime, photo_ids=[photo], category_id="gw-graffiti",
                                  actor_id=users["insp"].id, note=f"第{n + 1}处涂鸦").id)
    yield ids
    clear_index_cache()


def post(client, token, url, **data):
    return client.post(url, data={"csrf_token": token, **data})


def open_case(client, token, finding_ids) -> int:
    response = client.post("/cases/new", data={"csrf_token": token, "finding_id": [str(i) for i in finding_ids]})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))


def state_of(client, case_id) -> str:
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    return re.search(r'class="fk-state" data-state="(\w+)"', html).group(1)


def test_open_case_defaults_from_the_first_finding(client, login, csrf_token, findings):
    login(client, "rev")
    case_id = open_case(client, csrf_token(client), findings)
    html = client.get(f"/cases/{case_id}?lang=zh_CN").get_data(as_text=True)
    assert BODY in html and "在长城上刻划、涂污（明长城永昌段）" in html
    assert all(f'href="/findings/{i}"' in html for i in findings)
    assert 'data-action="file"' in html and 'data-action="decline_filing"' in html
    assert 'data-action="record_service"' not in html
    listing = client.get("/cases").get_data(as_text=True)
    assert f'href="/cases/{case_id}"' in listing and 'data-state="clue">线索' in listing
    assert client.post("/cases/new", data={"csrf_token": csrf_token(client)}).status_code == 400


def test_workflow_through_posts_to_awaiting_reply_with_deadlines(client, login, csrf_token, findings):
    login(client, "rev")
    token = csrf_token(client)
    case_id = open_case(client, token, findings)
    refused = post(client, token, f"/cases/{case_id}/actions/record_service", served_on="2025-06-05")
    assert refused.status_code == 409
    assert "cannot record_service in state clue" in refused.get_data(as_text=True)
    assert state_of(client, case_id) == "clue"
    assert post(client, token, f"/cases/{case_id}/actions/no_such").status_code == 400
    bad_date = post(client, token, f"/cases/{case_id}/actions/file", filed_on="2025-13-01")
    assert bad_date.status_code == 400 and "2025-13-01" in bad_date.get_data(as_text=True)
    steps = [("file", {"filed_on": "2025-06-01"}), ("start_investigation", {}),
             ("issue_suggestion", {"decided_on": "2025-06-03", "note": "经集体讨论决定"}),
             ("record_service", {"served_on": "2025-06-04", "method": "announced"})]
    for action, data in steps:
        response = post(client, token, f"/cases/{case_id}/actions/{action}", **data)
        assert response.status_code == 302, (action, response.get_data(as_text=True))
    assert state_of(client, case_id) == "awaiting_reply"
    html = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Written reply due: 2025-08-04" in html and "Rectification due: 2025-08-04" in html
    assert "File the suggestion upward: 2025-06-09" in html
    assert 'class="fk-overdue"' in html and "overdue by" in html  # 2025 dates are past today
    assert "经集体讨论决定" in html and html.count("<td>rev</td>") == 4  # who, in the timeline
    assert 'data-action="record_reply"' in html and 'data-action="file"' not in html


def test_draft_edit_issue_and_download(app, client, login, csrf_token, findings, runtime):
    login(client, "rev")
    token = csrf_token(client)
    case_id = open_case(client, token, findings)
    assert post(client, token, f"/cases/{case_id}/draft").status_code == 302
    assert post(client, token, f"/cases/{case_id}/draft").status_code == 409  # one open draft at a time
    (record,) = case_records(runtime, case_id)
    assert record.content["procuratorate"] == "示例市人民检察院" and record.content["addressee"] == BODY
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/suggestions/{record.id}/issue"' in page
    edited = post(client, token, f"/cases/{case_id}/suggestions/{record.id}", addressee="永昌县人民政府",
                  recommendations="立即清除墙体涂鸦<b>。\n\n加强日常巡查。")
    assert edited.status_code == 302
    content = case_records(runtime, case_id)[0].content
    assert content["addressee"] == "永昌县人民政府"
    assert content["recommendations"] == ["立即清除墙体涂鸦<b>。", "加强日常巡查。"]
    assert "立即清除墙体涂鸦&lt;b&gt;" in client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert client.get(f"/cases/{case_id}/suggestions/{record.id}.docx").status_code == 404  # not issued
    assert post(client, token, f"/cases/{case_id + 1}/suggestions/{record.id}/issue").status_code == 404

    assert post(client, token, f"/cases/{case_id}/suggestions/{record.id}/issue").status_code == 302
    number = f"示检行公建〔{legal_date(utcnow()).year}〕1号"
    assert case_records(runtime, case_id)[0].doc_number == number
    assert number in client.get(f"/cases/{case_id}").get_data(as_text=True)
    again = post(client, token, f"/cases/{case_id}/suggestions/{record.id}", addressee="x")
    assert again.status_code == 409 and f"已以 {number} 制发并冻结" in again.get_data(as_text=True)

    word = client.get(f"/cases/{case_id}/suggestions/{record.id}.docx")
    assert word.status_code == 200 and word.headers["X-Content-Type-Options"] == "nosniff"
    assert word.headers["Content-Disposition"].startswith("attachment")
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(word.data)).paragraphs)
    assert number in text and "永昌县人民政府" in text and "加强日常巡查" in text
    pdf = client.get(f"/cases/{case_id}/suggestions/{record.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Content-Disposition"].startswith("attachment")
    path = runtime.settings.data_dir / "documents" / f"suggestion-case{case_id}-v1.pdf"
    path.write_bytes(pdf.data + b"tampered")
    assert client.get(f"/cases/{case_id}/suggestions/{record.id}.pdf").status_code == 507
    login(client, "insp")
    assert client.get(f"/cases/{case_id}/suggestions/{record.id}.docx").status_code == 403


def test_every_post_requires_csrf(client, login, csrf_token, findings, runtime):
    login(client, "rev")
    case_id = open_case(client, csrf_token(client), findings)
    post(client, csrf_token(client), f"/cases/{case_id}/draft")
    rid = case_records(runtime, case_id)[0].id
    urls = ["/cases/new", f"/cases/{case_id}/actions/file", f"/cases/{case_id}/draft",
            f"/cases/{case_id}/suggestions/{rid}", f"/cases/{case_id}/suggestions/{rid}/issue",
            "/photos/1/findings/new"]
    for url in urls:
        response = client.post(url, data={"finding_id": str(findings[0]), "category_id": "gw-graffiti",
                                          "addressee": "x"})
        assert response.status_code == 400, url
    assert state_of(client, case_id) == "clue" and case_records(runtime, case_id)[0].state == "draft"


def test_procuratorate_and_organ_mark_from_config(app, client, login, csrf_token, findings, runtime):
    app.config.update(FIELDKIT_PROCURATORATE="金昌市人民检察院", FIELDKIT_DOC_ORG="金")
    login(client, "admin")
    token = csrf_token(client)
    case_id = open_case(client, token, findings[:1])
    post(client, token, f"/cases/{case_id}/draft")
    rid = case_records(runtime, case_id)[0].id
    post(client, token, f"/cases/{case_id}/suggestions/{rid}/issue")
    (record,) = case_records(runtime, case_id)
    assert record.content["procuratorate"] == "金昌市人民检察院"
    assert re.fullmatch(r"金检行公建〔\d{4}〕1号", record.doc_number)


def test_case_page_shows_translated_states_and_local_minutes(client, login, csrf_token, findings, runtime):
    from fieldkit.cases import get_case

    login(client, "rev")
    token = csrf_token(client)
    case_id = open_case(client, token, findings)
    post(client, token, f"/cases/{case_id}/actions/file", filed_on="2025-06-01")
    created = get_case(runtime, case_id).created_at  # naive UTC in the store
    local = (created + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    zh = client.get(f"/cases/{case_id}?lang=zh_CN").get_data(as_text=True)
    assert 'data-state="filed">已立案' in zh and "线索 → 已立案" in zh and "立案" in zh
    assert f"<td>{local}</td>" in zh
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", zh) and "awaiting_reply" not in zh
    en = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert 'data-state="filed">Filed' in en and "Clue → Filed" in en
    listing = client.get("/cases?lang=en").get_data(as_text=True)
    assert 'data-state="filed">Filed' in listing


def advance_to_suggestion(client, token, case_id):
    for action, data in [("file", {"filed_on": "2025-06-01"}), ("start_investigation", {}),
                         ("issue_suggestion", {"decided_on": "2025-06-03"})]:
        assert post(client, token, f"/cases/{case_id}/actions/{action}", **data).status_code == 302


def test_edit_case_details_and_findings_until_the_suggestion(client, login, csrf_token, findings, runtime):
    from fieldkit.cases import case_finding_ids, get_case

    login(client, "rev")
    token = csrf_token(client)
    case_id = open_case(client, token, findings[:1])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/cases/{case_id}/edit"' in page and f'name="finding_id" value="{findings[1]}"' in page
    saved = post(client, token, f"/cases/{case_id}/edit", title="明长城永昌段涂鸦案", responsible_body="永昌县人民政府",
                 nature="gw-illegal-construction", urgent="1")
    assert saved.status_code == 302
    case = get_case(runtime, case_id)
    assert (case.title, case.responsible_body, case.nature, case.domain, case.urgent) == (
        "明长城永昌段涂鸦案", "永昌县人民政府", "gw-illegal-construction", "great_wall", True)
    assert post(client, token, f"/cases/{case_id}/edit", title="  ").status_code == 400
    assert post(client, token, f"/cases/{case_id}/edit", title="x", nature="no-such").status_code == 400
    assert post(client, token, f"/cases/{case_id}/findings", finding_id=str(findings[1])).status_code == 302
    assert case_finding_ids(runtime, case_id) == findings
    assert post(client, token, f"/cases/{case_id}/findings").status_code == 400
    removed = post(client, token, f"/cases/{case_id}/findings/{findings[0]}/remove")
    assert removed.status_code == 302 and case_finding_ids(runtime, case_id) == findings[1:]
    assert post(client, token, f"/cases/{case_id}/findings/{findings[0]}/remove").status_code == 404
    assert client.post(f"/cases/{case_id}/edit", data={"title": "no token"}).status_code == 400
    assert client.post(f"/cases/{case_id}/findings", data={"finding_id": str(findings[0])}).status_code == 400

    advance_to_suggestion(client, token, case_id)
    page = client.get(f"/cases/{case_id}?lang=zh_CN").get_data(as_text=True)
    assert f'action="/cases/{case_id}/edit"' not in page and "不能再修改" in page
    for url, data in [(f"/cases/{case_id}/edit", {"title": "改名"}),
                      (f"/cases/{case_id}/findings", {"finding_id": str(findings[0])}),
                      (f"/cases/{case_id}/findings/{findings[1]}/remove", {})]:
        refused = post(client, token, url, **data)
        assert refused.status_code == 409, url
        assert "只能在制发检察建议前" in refused.get_data(as_text=True)
    assert get_case(runtime, case_id).title == "明长城永昌段涂鸦案"
    assert case_finding_ids(runtime, case_id) == findings[1:]
    login(client, "insp")
    assert post(client, csrf_token(client), f"/cases/{case_id}/edit", title="x").status_code == 403


def test_every_draft_field_is_editable_until_issued(client, login, csrf_token, findings, runtime):
    login(client, "rev")
    token = csrf_token(client)
    case_id = open_case(client, token, findings)
    post(client, token, f"/cases/{case_id}/draft")
    (record,) = case_records(runtime, case_id)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for name in ("procuratorate", "case_source", "duty_and_reasons", "legal_basis", "deadline", "objection_terms",
                 "reply_method", "other_matters", "cc", "fact-1-description", "photo-0-place"):
        assert f'name="{name}"' in page, name
    form = {"procuratorate": "金昌市人民检察院", "case_source": "本院在巡查中发现线索。现查明：",
            "duty_and_reasons": "第一段理由。\n\n第二段理由。", "legal_basis": "《中华人民共和国长城保护条例》第十条",
            "deadline": "请于十五日内书面回复本院。", "objection_terms": "如有异议，请于五日内提出。",
            "reply_method": "书面回复。", "other_matters": "联系人：张某", "cc": "永昌县人民政府\n金昌市文物局",
            "fact-0-place": "明长城永昌段水泉子村", "fact-1-description": "墙体有大面积涂鸦",
            "photo-0-place": "水泉子村北"}
    assert post(client, token, f"/cases/{case_id}/suggestions/{record.id}", **form).status_code == 302
    content = case_records(runtime, case_id)[0].content
    assert content["procuratorate"] == "金昌市人民检察院" and content["other_matters"] == "联系人：张某"
    assert content["duty_and_reasons"] == ["第一段理由。", "第二段理由。"]
    assert content["cc"] == ["永昌县人民政府", "金昌市文物局"] and content["deadline"] == "请于十五日内书面回复本院。"
    assert content["facts"][0]["place"] == "明长城永昌段水泉子村"
    assert content["facts"][1]["description"] == "墙体有大面积涂鸦"
    assert content["facts"][1]["place"] == record.content["facts"][1]["place"]  # untouched
    assert content["photos"][0]["place"] == "水泉子村北"
    assert content["recommendations"] == record.content["recommendations"]  # absent from the form: kept
    empty = post(client, token, f"/cases/{case_id}/suggestions/{record.id}", legal_basis="\n")
    assert empty.status_code == 400 and "legal_basis" in empty.get_data(as_text=True)
    assert post(client, token, f"/cases/{case_id}/suggestions/{record.id}/issue").status_code == 302
    frozen = post(client, token, f"/cases/{case_id}/suggestions/{record.id}", cc="别处")
    assert frozen.status_code == 409 and "冻结" in frozen.get_data(as_text=True)
    assert case_records(runtime, case_id)[0].content["cc"] == ["永昌县人民政府", "金昌市文物局"]
    text = "\n".join(p.text for p in docx.Document(
        io.BytesIO(client.get(f"/cases/{case_id}/suggestions/{record.id}.docx").data)).paragraphs)
    assert "金昌市人民检察院" in text and "墙体有大面积涂鸦" in text and "金昌市文物局" in text
    login(client, "insp")
    assert post(client, csrf_token(client), f"/cases/{case_id}/suggestions/{record.id}", cc="x").status_code == 403


def test_closed_case_lists_later_recurrences(client, login, csrf_token, runtime, users, findings):
    old_case = closed_case_at(runtime, users["rev"].id, *east(1500), title="远处涂污", body=BODY)
    login(client, "rev")
    html = client.get(f"/cases/{old_case}?lang=zh_CN").get_data(as_text=True)
    assert "后续反弹" in html and "结案后此处附近没有新的问题。" in html
    lon, lat = east(1580)  # a new finding 80 m from the old one, observed after the closing
    data = make_jpeg(width=90, lat=lat, lon=lon, taken_at="2025:06:01 10:00:00", offset="+08:00")
    photo = ingest_upload(runtime, data, "反弹.jpg", uploaded_by=users["insp"].id).photo_id
    new = record_finding(runtime, photo_ids=[photo], category_id="gw-graffiti", actor_id=users["insp"].id).id
    block = client.get(f"/cases/{old_case}?lang=zh_CN").get_data(as_text=True).split('id="recurrences"')[1]
    block = block.split("</ul>")[0]
    assert f'href="/findings/{new}"' in block and "在长城上刻划、涂污" in block and "相距 80 米" in block
    assert "2025-06-01 10:00" in block and all(f'href="/findings/{i}"' not in block for i in findings)
    english = client.get(f"/cases/{old_case}?lang=en").get_data(as_text=True)
    assert "Later recurrences" in english and "80 m away" in english
    open_case_page = client.get(f"/cases/{open_case(client, csrf_token(client), findings)}").get_data(as_text=True)
    assert 'id="recurrences"' not in open_case_page  # only closed cases (or flagged ones) have the block


def test_case_states_read_in_chinese_as_the_ledger_and_report_print_them(app):
    """The pages had their own Chinese for case states (跟进监督, 起诉审查, 已中止), unlike the
    台账, the 巡查报告 and the brief (跟进调查, 审查起诉, 中止审查)."""
    from fieldkit.labels import CASE_STATES_ZH
    from fieldkit.cases.workflow import State
    from webapp.cases import CASE_STATE_LABELS

    CASE_STATES = [s.value for s in State]

    assert set(CASE_STATE_LABELS) == set(CASE_STATES)
    with app.test_request_context("/?lang=zh_CN"):
        assert {k: str(v) for k, v in CASE_STATE_LABELS.items()} == {k: CASE_STATES_ZH[k] for k in CASE_STATES}
    with app.test_request_context("/?lang=en"):
        assert str(CASE_STATE_LABELS["follow_up"]) == "Follow-up"
        assert str(CASE_STATE_LABELS["litigation_review"]) == "Litigation review"
