"""The meeting pack's charts: four PNGs in the zip (``charts/*.png``) shown in a "统计图表" section
of index.html, inlined as ``data:`` URIs in the single-file pack, and drawn from exactly the
findings the pack's map shows for every kind of scope."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import re
import zipfile

from PIL import Image

from fieldkit.exports.pack import make_pack, pack_data, write_pack_html
from fieldkit.exports.pack_charts import PACK_CHART_SIZE, chart_data, pack_charts, report_scope
from fieldkit.exports.pack_html import CSP, charts_section
from fieldkit.exports.scope import ExportScope, inspection_id
from fieldkit.queries import BBox
from fieldkit.reports.charts import CHARTS
from tests.integration import test_exports_world as _world_module
from tests.integration.test_exports_world import LAT0, LON0

shared_world = _world_module.shared_world  # the fixtures, shared from the world module
world = _world_module.world

_IMG_RE = re.compile(r'<figure class="fk-chart" data-chart="(\w+)"><img src="([^"]+)" alt="([^"]+)"')


def _png(blob: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(blob))
    image.load()
    return image


def _chart_imgs(page: str) -> list[tuple[str, str, str]]:
    section = page[page.index('<section id="fk-charts"'):page.index("</section>")]
    assert "<h2" in section and "统计图表" in section
    return [(name, html.unescape(src), html.unescape(alt)) for name, src, alt in _IMG_RE.findall(section)]


def test_zip_holds_four_chart_pngs_shown_in_index(shared_world, tmp_path):
    result = make_pack(shared_world.rt, ExportScope(), tmp_path / "pack.zip")
    assert result.charts == 4
    with zipfile.ZipFile(tmp_path / "pack.zip") as zf:
        names = [n for n in zf.namelist() if n.startswith("charts/")]
        pngs = {n: zf.read(n) for n in names}
        page = zf.read("index.html").decode("utf-8")
    assert sorted(names) == sorted(f"charts/{c}.png" for c in CHARTS)
    for name, blob in pngs.items():
        image = _png(blob)
        assert image.format == "PNG" and image.size == PACK_CHART_SIZE, name
        assert len(image.getcolors(1 << 20) or []) > 2, f"{name} is blank"  # drawn, not an empty canvas
    imgs = _chart_imgs(page)
    assert [src for _n, src, _a in imgs] == [f"charts/{c}.png" for c in CHARTS]
    assert all(alt.startswith("统计图：") and len(alt) > 8 for _n, _s, alt in imgs)
    assert "<figcaption>问题类别分布：" in page and "<figcaption>整改进度（累计）：" in page
    assert page.index('id="map"') < page.index('id="fk-charts"')  # below the map
    assert f'content="{html.escape(CSP)}"' in page and "img-src data: file: 'self'" in CSP


def test_single_file_embeds_the_charts(shared_world, tmp_path):
    result = write_pack_html(shared_world.rt, ExportScope(kinds=("great_wall",)), tmp_path / "会议.html")
    assert (result.findings, result.charts) == (2, 4)
    page = (tmp_path / "会议.html").read_text("utf-8")
    assert "charts/" not in page
    imgs = _chart_imgs(page)
    assert [n for n, _s, _a in imgs] == list(CHARTS)
    prefix = "data:image/png;base64,"
    for name, src, _alt in imgs:
        assert src.startswith(prefix), name
        assert _png(base64.b64decode(src[len(prefix):])).size == PACK_CHART_SIZE


def test_charts_follow_the_scope(shared_world, tmp_path):
    rt = shared_world.rt
    everything = {c.name: c.png for c in pack_charts(rt, ExportScope(), [f["id"] for f in
                                                                          pack_data(rt, ExportScope())["findings"]])}
    river = ExportScope(kinds=("river",))
    only_river = {c.name: c.png for c in pack_charts(rt, river, [f["id"] for f in pack_data(rt, river)["findings"]])}
    assert all(everything[name] != only_river[name] for name in ("category", "body"))
    make_pack(rt, river, tmp_path / "river.zip")
    with zipfile.ZipFile(tmp_path / "river.zip") as zf:
        assert zf.read("charts/category.png") == only_river["category"]


def _scopes() -> list[ExportScope]:
    day = dt.date(2025, 5, 6)
    return [
        ExportScope(),
        ExportScope(kinds=("river",)),
        ExportScope(kinds=("great_wall", "river")),
        ExportScope(inspection="春季巡查"),
        ExportScope(inspection="夏季巡查"),
        ExportScope(date_from=day, date_to=day),
        ExportScope(date_from=day - dt.timedelta(days=1), date_to=day - dt.timedelta(days=1)),
        ExportScope(date_to=day + dt.timedelta(days=3650)),
        ExportScope(bbox=BBox(LON0 - 0.02, LAT0 - 0.01, LON0 + 0.02, LAT0 + 0.01)),
        ExportScope(inspection="春季巡查", kinds=("river",)),
    ]


def test_chart_findings_are_the_map_findings_for_every_scope(shared_world):
    rt = shared_world.rt
    counts = set()
    for scope in _scopes():
        on_map = sorted(f["id"] for f in pack_data(rt, scope)["findings"])
        charted = sorted(f.id for f in chart_data(rt, scope, on_map).findings)
        assert charted == on_map, scope
        counts.add(len(on_map))
    assert len(counts) >= 3  # the scopes really select different findings


def test_inspection_by_id_maps_to_its_name(shared_world):
    rt = shared_world.rt
    insp = inspection_id(rt, ExportScope(inspection="夏季巡查"))
    mapped = report_scope(rt, ExportScope(inspection=str(insp), date_to=dt.date(2025, 7, 1), kinds=()))
    assert (mapped.inspection, mapped.date_to, mapped.kinds) == ("夏季巡查", dt.date(2025, 7, 2), None)


def test_charts_section_escapes_and_is_empty_without_charts():
    from fieldkit.exports.pack_charts import PackChart

    assert charts_section([]) == ""
    hostile = PackChart("category", '<b>"x"</b>', "&caption", b"")
    out = charts_section([('charts/a.png" onerror="alert(1)', hostile)])
    assert "<b>" not in out and 'onerror="alert' not in out and "&amp;caption" in out


def test_pack_respects_the_viewer_and_charts_stay_whole(shared_world, tmp_path):
    from fieldkit.store import User

    rt = shared_world.rt
    with rt.db.session() as s:
        inspector = s.get(User, shared_world.users["insp2"])
        s.expunge(inspector)
    result = write_pack_html(rt, ExportScope(), tmp_path / "insp2.html", inspector)
    assert result.photos < 5 and result.findings == 3 and result.charts == 4


def test_utc_day_boundary_finding_is_charted(world):
    """Export dates are UTC days, report dates China days: a finding seen at 20:00 UTC on the
    scope's last day (04:00 the next day in China) is on the map and must be in the charts."""
    from fieldkit.findings.service import record_finding

    late = record_finding(world.rt, photo_ids=[world.photos["river"]], category_id="rv-dumping-rubbish",
                          actor_id=world.users["insp"], observed_at=dt.datetime(2025, 7, 3, 20, 0),
                          duplicate_radius_m=0).id
    scope = ExportScope(date_from=dt.date(2025, 7, 3), date_to=dt.date(2025, 7, 3))
    on_map = [f["id"] for f in pack_data(world.rt, scope)["findings"]]
    assert on_map == [late]
    assert [f.id for f in chart_data(world.rt, scope, on_map).findings] == [late]
