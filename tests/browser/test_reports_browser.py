"""The report page in Chromium: choose a scope, start a PDF report, watch the progress reach done,
download it, and keep its first two pages as PNG artifacts (``test-artifacts/reports-web/``)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from pypdf import PdfReader

from fieldkit import users as users_lib
from tests.browser.conftest import ARTIFACTS, TEST_USERS
from tests.webapp.test_reports_web import SPRING, build_scene

expect = pytest.importorskip("playwright.sync_api", reason="python package playwright not installed").expect
OUT = ARTIFACTS / "reports-web"


@pytest.fixture
def scene(live_app, runtime):
    users = {name: users_lib.get_user_by_name(runtime, name) for name in TEST_USERS}
    return build_scene(runtime, users)


def test_start_a_pdf_report_follow_progress_and_download(page, live_server, login, scene, screenshot,
                                                         request_log, assert_same_origin, tmp_path):
    login(page, "rev")
    page.click("nav >> text=报告")
    expect(page).to_have_url(f"{live_server}/reports")
    expect(page.locator("h1")).to_have_text("报告与导出")
    page.select_option("#inspection", SPRING)
    page.check("input[name=kind][value=great_wall]")
    page.fill("#date-from", "2025-05-01")
    page.fill("#date-to", "2025-05-31")
    page.check("input[name=output][value=report_pdf]")
    page.click("#report-form button[type=submit]")

    job = page.locator("#job")
    expect(job).to_be_visible()
    expect(job).to_have_attribute("data-state", "done", timeout=90_000)
    expect(page.locator("#job-progress")).to_have_js_property("value", 1)
    expect(page.locator("#job-stage")).to_have_text("完成")
    expect(page.locator("#job-error")).to_be_hidden()
    link = page.locator("#job-download")
    expect(link).to_be_visible()
    expect(link).to_contain_text(f"巡查报告-{SPRING}-")

    OUT.mkdir(parents=True, exist_ok=True)
    screenshot(page, "reports-web/page")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith(f"巡查报告-{SPRING}-")
    assert download.suggested_filename.endswith(".pdf")
    pdf = tmp_path / "report.pdf"
    download.save_as(pdf)
    text = "".join(p.extract_text() for p in PdfReader(pdf).pages).replace(" ", "").replace("\n", "")
    assert f"{SPRING}巡查报告" in text and "八达岭北段" in text
    assert_same_origin(request_log, live_server)

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed: no PNG pages rendered")
    for old in OUT.glob("report-page-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "2", str(pdf), str(OUT / "report-page")],
                   check=True, timeout=60)
    pages = sorted(OUT.glob("report-page-*.png"))
    assert len(pages) == 2 and all(p.stat().st_size > 5_000 for p in pages)


def test_a_bad_scope_shows_the_message_on_the_page(page, live_server, login, scene):
    login(page, "rev")
    page.goto(f"{live_server}/reports")
    page.fill("#bbox", "116.0,40.3,116.1")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#job-error")).to_contain_text("导出失败")
    expect(page.locator("#job-error")).to_contain_text("bbox")
    expect(page.locator("#job")).to_have_attribute("data-state", "error")
    expect(page.locator("#report-form button[type=submit]")).to_be_enabled()
