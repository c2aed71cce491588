"""The report page: the form, every output end to end through the job API (files reopened with
their own readers), job ownership, bad scopes, failures and the job registry's limits."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
import zipfile
from urllib.parse import quote

import docx
import openpyxl
import pyogrio
import pytest
from pypdf import PdfReader
from shapely import LineString

from fieldkit import cases
from fieldkit.errors import StorageError
from fieldkit.exports import verify_bundle
from fieldkit.findings.service import record_finding
from fieldkit.findings.taxonomy import load_taxonomy
from fieldkit.join import clear_index_cache
from tests.integration.test_exports_world import LAT0, LON0, _layer, _photo
from webapp.jobs import STATES, BusyError, JobRegistry

JSON = {"Accept": "application/json"}
SPRING, SUMMER = "春季巡查", "夏季巡查"
NOTE = "墙体砖块脱落，游客攀爬"


def build_scene(rt, users) -> dict:
    """A wall and a river, four photos in two inspections, three findings, one case."""
    clear_index_cache()
    _layer(rt, "wall", "great_wall", "GW-001", "八达岭北段", LineString([(LON0 - 0.01, LAT0), (LON0 + 0.01, LAT0)]))
    _layer(rt, "river", "river", "RV-001", "妫水河",
           LineString([(LON0 - 0.01, LAT0 - 0.05), (LON0 + 0.01, LAT0 - 0.05)]))
    t0 = dt.datetime(2025, 5, 6, 10, 30)
    insp, insp2 = users["insp"].id, users["insp2"].id
    photos = {
        "wall1": _photo(rt, "现场照片.jpg", insp, SPRING, lat=LAT0 + 0.0003, lon=LON0, taken_at=t0, offset="+08:00"),
        "wall2": _photo(rt, "墙体.jpg", insp2, SPRING, lat=LAT0 + 0.0004, lon=LON0 + 0.001,
                        taken_at=t0 + dt.timedelta(minutes=5), offset="+08:00"),
        "river": _photo(rt, "河道.jpg", insp2, SUMMER, lat=LAT0 - 0.0499, lon=LON0,
                        taken_at=dt.datetime(2025, 7, 1, 9, 0), offset="+08:00"),
    }
    findings = {
        "graffiti": record_finding(rt, photo_ids=[photos["wall1"]], category_id="gw-graffiti", actor_id=insp,
                                   note=NOTE).id,
        "building": record_finding(rt, photo_ids=[photos["wall2"]], category_id="gw-illegal-construction",
                                   actor_id=insp2, note="=1+1").id,
        "river": record_finding(rt, photo_ids=[photos["river"]], category_id="rv-dumping-rubbish",
                                actor_id=insp2, note="河道内倾倒建筑垃圾").id,
    }
    case = cases.open_case(rt, title="八达岭长城保护案", responsible_body="延庆区文化和旅游局",
                           actor_id=users["rev"].id, domain="great_wall",
                           finding_ids=[findings["graffiti"], findings["building"]])
    return {"photos": photos, "findings": findings, "case_id": case.id}


@pytest.fixture
def scene(runtime, users):
    return build_scene(runtime, users)


def start(client, token, **form):
    """POST /reports as the page's script does; the JSON reply."""
    response = client.post("/reports", data={"csrf_token": token, **form}, headers=JSON)
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["state"] in STATES and body["status_url"].endswith(body["id"])
    return body


def wait(client, status_url: str, timeout: float = 90.0) -> dict:
    """Poll the job until it is done or failed; fractions never go backwards."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(status_url)
        assert response.status_code == 200 and response.is_json
        job = response.get_json()
        seen.append(job["fraction"])
        if job["state"] in ("done", "error"):
            assert seen == sorted(seen) and 0.0 <= seen[0] <= seen[-1] <= 1.0
            return job
        time.sleep(0.1)
    raise AssertionError(f"job did not finish in {timeout} s: {seen[-3:]}")


def test_form_renders_with_chinese_labels(client, login, scene):
    login(client, "rev")
    page = client.get("/reports").get_data(as_text=True)
    for text in ("报告与导出", "图层类型", "区域边界（可选）", "巡查报告（PDF）", "巡查报告（DOCX）", "会商材料包",
                 "台账（XLSX）", "GIS：GeoPackage", "证据包", "长城", "河流", "开始导出"):
        assert text in page, text
    assert f'<option value="{SPRING}">{SPRING}</option>' in page
    assert f'<option value="{scene["case_id"]}"' in page and 'src="/static/app/reports.js"' in page
    assert "<script>" not in page  # CSP: no inline scripts (the config is a JSON data block)
    english = client.get("/reports?lang=en").get_data(as_text=True)
    assert "Inspection report (PDF)" in english and "Evidence bundle of a case" in english
    assert 'href="/reports"' in client.get("/").get_data(as_text=True)  # the nav link


def test_case_page_links_to_its_bundle(client, login, scene):
    login(client, "rev")
    case_id = scene["case_id"]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="/reports?case={case_id}#bundle"' in page
    form = client.get(f"/reports?case={case_id}").get_data(as_text=True)
    assert f'<option value="{case_id}" selected>' in form


def test_inspectors_get_neither_page_nor_nav_link(client, login, scene):
    login(client, "insp")
    assert client.get("/reports").status_code == 403
    assert 'href="/reports"' not in client.get("/").get_data(as_text=True)


def _reopen_docx(data: bytes, scene) -> None:
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert "春季巡查巡查报告" in text and load_taxonomy().get("gw-graffiti").name_zh in text
    assert "妫水河" not in text  # the summer river photo is outside the spring inspection


def _reopen_pdf(data: bytes, scene) -> None:
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace(" ", "").replace("\n", "")
    assert "春季巡查巡查报告" in text and "八达岭北段" in text


def _reopen_pack(data: bytes, scene) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        html = zf.read("index.html").decode("utf-8")
    assert "index.html" in names and sum(n.startswith("thumbs/") for n in names) == 2
    assert "八达岭北段" in html and "河道.jpg" not in html


def _reopen_ledger(data: bytes, scene) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    ids = {r[0] for r in rows[1:]}
    assert ids == {scene["findings"]["graffiti"], scene["findings"]["building"]}
    assert "'=1+1" in {c for r in rows for c in r if isinstance(c, str)}  # formula neutralised
    assert wb.worksheets[0].freeze_panes == "A2" and len(list(wb.worksheets[1].iter_rows())) == 2


def _reopen_gis(suffix: str):
    def check(data: bytes, scene, tmp_path) -> None:
        path = tmp_path / f"out.{suffix}"
        path.write_bytes(data)
        layers = [name for name, _ in pyogrio.list_layers(path)]
        frame = pyogrio.read_dataframe(path, layer="findings" if len(layers) > 1 else None)
        assert len(frame) == 2 and frame.geometry.notna().all()
        if suffix != "csv":  # CSV has no CRS; its WKT is lon/lat WGS84 by the export's contract
            assert frame.crs.to_epsg() == 4326
        values = {str(v) for col in frame.columns if col != "geometry" for v in frame[col]}
        assert NOTE in values and "八达岭北段" in values  # Chinese attribute values survive
        if suffix in ("gpkg", "kml"):
            assert set(layers) == {"findings", "photos"}
    return check


READERS = {
    "report_docx": ("wordprocessingml.document", "巡查报告", _reopen_docx),
    "report_pdf": ("pdf", "巡查报告", _reopen_pdf),
    "pack": ("zip", "会商材料包", _reopen_pack),
    "ledger": ("vnd.openxmlformats-officedocument.spreadsheetml.sheet", "台账", _reopen_ledger),
    "gis_geojson": ("geo+json", "GIS导出", _reopen_gis("geojson")),
    "gis_gpkg": ("geopackage+sqlite3", "GIS导出", _reopen_gis("gpkg")),
    "gis_kml": ("vnd.google-earth.kml+xml", "GIS导出", _reopen_gis("kml")),
    "gis_csv": ("text/csv", "GIS导出", _reopen_gis("csv")),
}


@pytest.mark.parametrize("output", sorted(READERS))
def test_each_output_end_to_end_through_the_job_api(client, login, csrf_token, scene, output, tmp_path):
    login(client, "rev")
    job = start(client, csrf_token(client), output=output, inspection=SPRING, kind="great_wall",
                **{"from": "2025-05-01", "to": "2025-05-31"})
    done = wait(client, job["status_url"])
    assert done["state"] == "done" and done["fraction"] == 1.0 and done["error"] is None
    with client.get(done["download_url"]) as response:
        data = response.get_data()
    mime, name, reopen = READERS[output]
    assert response.status_code == 200 and mime in response.headers["Content-Type"]
    filename = done["filename"]
    assert filename.startswith(f"{name}-{SPRING}-") and filename.endswith("." + filename.rsplit(".", 1)[1])
    assert f"filename*=UTF-8''{quote(filename)}" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    if output.startswith("gis_"):
        reopen(data, scene, tmp_path)
    else:
        reopen(data, scene)


def test_evidence_bundle_through_the_job_api(client, login, csrf_token, scene, tmp_path):
    login(client, "admin")
    job = start(client, csrf_token(client), output="bundle", case_id=str(scene["case_id"]))
    done = wait(client, job["status_url"])
    assert done["state"] == "done" and done["filename"] == f"证据包-案件{scene['case_id']}.zip"
    with client.get(done["download_url"]) as response:
        assert response.headers["Content-Type"] == "application/zip"
        path = tmp_path / "bundle.zip"
        path.write_bytes(response.get_data())
    assert verify_bundle(path).ok
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert {f["photo_id"] for f in manifest["files"]} == {scene["photos"]["wall1"], scene["photos"]["wall2"]}
    assert manifest["created_by"] == "admin"


def test_another_users_job_is_not_found(app, client, login, csrf_token, scene):
    login(client, "admin")
    job = start(client, csrf_token(client), output="ledger")
    wait(client, job["status_url"])
    other = app.test_client()
    login(other, "rev")
    assert other.get(job["status_url"]).status_code == 404
    assert other.get(job["status_url"]).get_json()["type"] == "NotFoundError"
    assert other.get(job["download_url"]).status_code == 404
    with client.get(job["download_url"]) as response:
        assert response.status_code == 200


@pytest.mark.parametrize("form, field", [
    ({"output": "report_pdf", "from": "2025-13-40"}, "from="),
    ({"output": "ledger", "to": "yesterday"}, "to="),
    ({"output": "pack", "bbox": "1,2,3"}, "bbox"),
    ({"output": "report_docx", "kind": "castle"}, "castle"),
    ({"output": "report_pdf", "from": "2025-06-01", "to": "2025-05-01"}, "after"),
    ({"output": "report_pdf", "inspection": "没有这个巡查"}, "inspection="),
    ({"output": "report_pdf", "boundary": "abc"}, "boundary="),
    ({"output": "gis_csv", "layer": "roads"}, "layer="),
    ({"output": "word"}, "output="),
    ({"output": "bundle", "case_id": ""}, "case_id="),
])
def test_bad_scope_is_a_400_naming_the_field(client, login, csrf_token, scene, form, field):
    login(client, "rev")
    token = csrf_token(client)
    response = client.post("/reports", data={"csrf_token": token, **form}, headers=JSON)
    assert response.status_code == 400 and field in response.get_json()["error"]
    page = client.post("/reports", data={"csrf_token": token, **form})  # without JavaScript: an error page
    assert page.status_code == 400 and field in page.get_data(as_text=True).replace("&#39;", "'")


def test_failed_job_is_reported_as_an_error(client, login, csrf_token, scene, monkeypatch):
    from webapp import reports

    def disk_full(rt, scope, path):
        raise StorageError(f"{path.name}: 磁盘已满，无法写入台账")

    def crash(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    login(client, "rev")
    monkeypatch.setattr(reports, "write_ledger", disk_full)
    job = wait(client, start(client, csrf_token(client), output="ledger")["status_url"])
    assert job["state"] == "error" and "磁盘已满" in job["error"]
    assert client.get(job["download_url"]).status_code == 404
    monkeypatch.setattr(reports, "write_gis", crash)
    job = wait(client, start(client, csrf_token(client), output="gis_kml")["status_url"])
    assert job["state"] == "error" and "secret" not in job["error"] and "内部错误" in job["error"]


def test_without_javascript_the_post_redirects_to_the_job_on_the_page(client, login, csrf_token, scene):
    login(client, "rev")
    response = client.post("/reports", data={"csrf_token": csrf_token(client), "output": "gis_geojson"})
    assert response.status_code == 302 and "/reports?job=" in response.headers["Location"]
    job_id = response.headers["Location"].split("job=")[1].split("#")[0]
    wait(client, f"/reports/jobs/{job_id}")
    page = client.get(f"/reports?job={job_id}").get_data(as_text=True)
    assert f'href="/reports/jobs/{job_id}/download"' in page and "GIS导出-全部-" in page


def test_registry_limits_running_jobs_and_expires_finished_ones(app, tmp_path):
    reg = JobRegistry(tmp_path / "jobs", ttl=60, max_running=1)
    release = threading.Event()

    def slow(job_dir, progress):
        progress("等待", 0.5)
        release.wait(10)
        (job_dir / "out.txt").write_text("ok")
        return job_dir / "out.txt"

    job = reg.start(app, 1, slow, label="x", filename="输出.txt", mimetype="text/plain")
    with pytest.raises(BusyError, match="上限 1"):
        reg.start(app, 1, slow, label="y", filename="y.txt", mimetype="text/plain")
    assert reg.get(job.id, 2) is None and reg.get(job.id, 1) is job
    release.set()
    deadline = time.monotonic() + 10
    while job.state != "done" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state == "done" and job.result.read_text() == "ok"
    assert reg.cleanup(now=time.time() + 30) == 0 and job.dir.exists()
    assert reg.cleanup(now=time.time() + 61) == 1
    assert not job.dir.exists() and reg.get(job.id, 1) is None
