"""The meeting pack in headless Chromium from a file:// URL with every network request blocked:
markers drawn, Chinese popups, thumbnails from the zip, the four charts (from ``charts/`` and
inlined), and no XSS from a hostile finding note.

Uses ``page``, ``request_log`` and ``screenshot`` from ``tests/browser/conftest.py``.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from fieldkit.exports.pack import make_pack, write_pack_html
from fieldkit.exports.safety import is_safe_member
from fieldkit.exports.scope import ExportScope
from fieldkit.reports.charts import CHARTS
from tests.integration import test_exports_world as _world_module
from tests.integration.test_exports_world import CHINESE_NOTE, XSS_NOTE

world = _world_module.world  # the fixture, shared from the world module
_ALT_RE = re.compile(r"^统计图：.+")
_INLINE_CHART_RE = re.compile(r'data-chart="(\w+)"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _unzip(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            assert is_safe_member(info.filename), info.filename
            dest = target / info.filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(info))
    return target / "index.html"


def _offline(page, blocked: list[str]) -> None:
    def handle(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", handle)


def _expect_charts_loaded(page, widths: dict[str, int]) -> None:
    """Every chart image decoded at its PNG's own pixel width, with a Chinese alt and caption."""
    section = page.locator("#fk-charts")
    expect(section.locator("h2")).to_have_text("统计图表")
    imgs = section.locator("figure.fk-chart img")
    expect(imgs).to_have_count(len(CHARTS))
    for name in CHARTS:
        img = section.locator(f'figure[data-chart="{name}"] img')
        expect(img).to_have_js_property("complete", True)
        expect(img).to_have_js_property("naturalWidth", widths[name])
        expect(img).to_have_attribute("alt", _ALT_RE)
        expect(section.locator(f'figure[data-chart="{name}"] figcaption')).not_to_be_empty()


def _open(page, index: Path) -> None:
    page.goto(index.resolve().as_uri())
    page.wait_for_selector("body[data-markers-drawn]", timeout=15000)


def test_pack_opens_offline_draws_markers_and_popups_are_text(world, tmp_path, page, request_log, screenshot):
    result = make_pack(world.rt, ExportScope(), tmp_path / "pack.zip")
    assert (result.findings, result.thumbs) == (3, 5)
    index = _unzip(tmp_path / "pack.zip", tmp_path / "usb")
    blocked: list[str] = []
    _offline(page, blocked)
    _open(page, index)
    body = page.locator("body")
    assert body.get_attribute("data-markers-drawn") == "4"  # placed photos
    assert body.get_attribute("data-findings-drawn") == "3"
    assert int(body.get_attribute("data-features-drawn")) >= 2
    assert page.locator("#fk-title").text_content() == "巡查情况图（会议材料）"

    page.click(f'[data-finding-id="{world.findings["river"]}"]')
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert CHINESE_NOTE in popup.text_content()
    assert "未整改" in popup.text_content()
    img = popup.locator("img")
    img.wait_for()
    expect(img).to_have_js_property("complete", True)
    assert img.evaluate("el => el.naturalWidth") > 0  # the thumbnail loaded from thumbs/ beside the page
    assert img.get_attribute("alt") == "河道.jpg"

    page.click(f'[data-finding-id="{world.findings["xss"]}"]')
    hostile = page.locator(".leaflet-popup-content").filter(has_text=f'#{world.findings["xss"]}')
    expect(hostile).to_contain_text("onerror")
    assert XSS_NOTE in hostile.text_content()
    assert page.evaluate("window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0
    with zipfile.ZipFile(tmp_path / "pack.zip") as zf:
        widths = {n: Image.open(io.BytesIO(zf.read(f"charts/{n}.png"))).width for n in CHARTS}
    assert all(w > 0 for w in widths.values())
    _expect_charts_loaded(page, widths)
    assert page.locator('#fk-charts img[src^="charts/"]').count() == len(CHARTS)
    screenshot(page, "meeting-pack")  # full page: the map, then the charts below it
    assert blocked == [] and all(u.startswith(("file:", "data:")) for u in request_log), request_log


def test_single_file_pack_has_inline_thumbnails(world, tmp_path, page):
    result = write_pack_html(world.rt, ExportScope(kinds=("great_wall",)), tmp_path / "会议.html")
    assert result.findings == 2
    html = (tmp_path / "会议.html").read_text("utf-8")
    assert "</script><img" not in html and "\\u003c/script\\u003e" in html
    blocked: list[str] = []
    _offline(page, blocked)
    _open(page, tmp_path / "会议.html")
    assert page.locator("body").get_attribute("data-findings-drawn") == "2"
    page.click(f'[data-finding-id="{world.findings["hostile"]}"]')
    imgs = page.locator(".leaflet-popup-content img")
    expect(imgs).to_have_count(2)
    assert imgs.first.evaluate("el => el.src.slice(0, 11)") == "data:image/"
    expect(imgs.first).to_have_js_property("complete", True)
    assert imgs.first.evaluate("el => el.naturalWidth") > 0
    inlined = dict(_INLINE_CHART_RE.findall(html))
    widths = {n: Image.open(io.BytesIO(base64.b64decode(inlined[n]))).width for n in CHARTS}
    _expect_charts_loaded(page, widths)
    assert blocked == []
