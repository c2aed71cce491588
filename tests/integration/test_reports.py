"""巡查报告 end to end: real photos ingested, findings recorded, DOCX and PDF written and read back."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader
from shapely import LineString, Polygon

from fieldkit.cli import main
from fieldkit.errors import InputError, NotFoundError
from fieldkit.findings import load_taxonomy
from fieldkit.findings.service import close_finding, record_finding
from fieldkit.geo.measure import GEOD
from fieldkit.join import clear_index_cache
from fieldkit.photos.ingest import ingest_paths
from fieldkit.reports import (
    ReportScope,
    build_report,
    gather,
    map_frame,
    render_charts,
    render_map,
)
from fieldkit.reports.content import ANNEX_TITLE
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.store.models import Feature, Layer, User
from tests.photo_factory import make_jpeg

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
LON0, LAT0 = 116.02, 40.36
GRAFFITI, BUILDING, RUBBISH = "gw-graffiti", "gw-illegal-construction", "rv-dumping-rubbish"
SECTIONS = ("一、概况", "二、总览图", "三、统计图表", "四、分要素情况", ANNEX_TITLE)


def _east(metres: float, north: float = 0.0) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(LON0, LAT0, 90.0, metres)
    if north:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north)
    return lon, lat


def _layer(rt, slug: str, kind: str, fid: str, name: str, geom, body: str | None = None) -> None:
    with rt.db.session(write=True) as s:
        layer = Layer(slug=slug, name=name, kind=kind, tolerance_m=150.0, responsible_body=body)
        s.add(layer)
        s.flush()
        s.add(Feature.from_geometry(layer.id, fid, name, geom))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Layers, 9 ingested photos (two inspections), 4 findings (one closed)."""
    root = tmp_path_factory.mktemp("reports")
    rt = Runtime(Settings.from_env(env={}, data_dir=root / "data"))
    clear_index_cache()
    wall = LineString([_east(-500), _east(6000)])
    river = LineString([_east(0, -3000), _east(5000, -3000)])
    area = Polygon([_east(-1000, -4000), _east(7000, -4000), _east(7000, 1000), _east(-1000, 1000)])
    _layer(rt, "wall", "great_wall", "YQ-001", "延庆区明长城第1段", wall, "延庆区文化和旅游局")
    _layer(rt, "river", "river", "GH-01", "妫水河延庆段", river, "延庆区水务局")
    _layer(rt, "county", "boundary", "110119", "延庆区", area)
    with rt.db.session(write=True) as s:
        user = User(username="jianchaguan", password_hash="x", role="admin")
        s.add(user)
        s.flush()
        uid = s.get(User, user.id).id
    photos = root / "photos"
    plan = {"2025-05 长城巡查": [(500, 0), (1500, 0), (2500, 0), (4000, 0), (5500, 20)],
            "2025-06 河道巡查": [(1000, -3000), (3000, -3000), (4000, -3000), (2000, -2990)]}
    ids: dict[str, list[int]] = {}
    for k, (inspection, spots) in enumerate(plan.items()):
        folder = photos / f"i{k}"
        folder.mkdir(parents=True)
        for i, (east, north) in enumerate(spots):
            lon, lat = _east(east, north)
            taken = dt.datetime(2025, 5 + k, 6, 9 + i, 15)
            (folder / f"IMG_{i:03d}.jpg").write_bytes(
                make_jpeg(640, 480, lat=lat, lon=lon, taken_at=taken, offset="+08:00"))
        summary = ingest_paths(rt, [folder], inspection=inspection, uploaded_by=uid, workers=1)
        ids[inspection] = [r.photo_id for r in summary.results if r.status == "ingested"]
    wall_ids, river_ids = ids["2025-05 长城巡查"], ids["2025-06 河道巡查"]
    f1 = record_finding(rt, photo_ids=wall_ids[:2], category_id=GRAFFITI, actor_id=uid, note="墙体刻划“到此一游”字样")
    f2 = record_finding(rt, photo_ids=[wall_ids[2]], category_id=BUILDING, actor_id=uid, place="八达岭镇石峡村北")
    f3 = record_finding(rt, photo_ids=river_ids[:2], category_id=RUBBISH, actor_id=uid, note="河道内倾倒建筑垃圾")
    f4 = record_finding(rt, photo_ids=[river_ids[2]], category_id=RUBBISH, actor_id=uid)
    close_finding(rt, f4.id, uid, reason="已清理", at=dt.datetime(2025, 7, 1, 2))
    yield {"rt": rt, "root": root, "findings": [f1, f2, f3, f4], "photos": ids, "user": uid}
    rt.db.dispose()


@pytest.fixture(scope="module")
def outputs(world):
    rt, root = world["rt"], world["root"]
    calls: list[tuple[str, float]] = []
    docx_res = build_report(rt, ReportScope(title="延庆区公益诉讼巡查报告"), "docx", root / "r.docx")
    pdf_res = build_report(rt, ReportScope(title="延庆区公益诉讼巡查报告"), "pdf", root / "r.pdf",
                           progress=lambda stage, share: calls.append((stage, share)))
    return docx_res, pdf_res, calls


def _all_shas(rt) -> list[str]:
    data = gather(rt, ReportScope(), None)  # None sees no photo: only to prove visibility applies
    assert data.photos == {}
    from fieldkit.reports import SYSTEM_VIEWER

    return [p.sha256 for p in gather(rt, ReportScope(), SYSTEM_VIEWER).photos.values()]


def test_docx_sections_chinese_photos_and_annex(world, outputs):
    rt = world["rt"]
    docx_res = outputs[0]
    word = docx.Document(str(docx_res.path))
    section = word.sections[0]
    assert abs(section.page_width.mm - 210) < 0.5 and abs(section.page_height.mm - 297) < 0.5
    text = "\n".join(p.text for p in word.paragraphs)
    for heading in SECTIONS:
        assert heading in text
    tax = load_taxonomy()
    for cat in (GRAFFITI, BUILDING, RUBBISH):
        assert tax.get(cat).name_zh in text
    assert "延庆区公益诉讼巡查报告" in text and "墙体刻划“到此一游”字样" in text
    assert "延庆区明长城第1段" in text and "妫水河延庆段" in text and "K" in text
    annex = word.tables[-1]
    annex_text = "\n".join(c.text for row in annex.rows for c in row.cells)
    shas = _all_shas(rt)
    assert len(shas) == 9 == docx_res.photos
    for sha in shas:
        assert sha in annex_text
    # map + 4 charts + one thumbnail per photo (a photo appears once: on its finding or its feature)
    assert len(word.inline_shapes) == 5 + 9


def test_pdf_sections_fonts_annex_and_artifacts(world, outputs):
    rt = world["rt"]
    pdf_res, calls = outputs[1], outputs[2]
    reader = PdfReader(str(pdf_res.path))
    for page in reader.pages:
        assert abs(float(page.mediabox.width) - 595.28) < 1 and abs(float(page.mediabox.height) - 841.89) < 1
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    for heading in SECTIONS:
        assert heading.replace(" ", "") in text
    assert "延庆区公益诉讼巡查报告" in text and "河道内倾倒建筑垃圾" in text
    for sha in _all_shas(rt):
        assert sha in text
    fonts = [f.get_object() for p in reader.pages for f in (p["/Resources"].get("/Font") or {}).values()]
    embedded = [f for f in fonts if "/FontDescriptor" in f and "/FontFile2" in f["/FontDescriptor"]]
    assert embedded  # the CJK TrueType subsets are embedded
    shares = [share for _, share in calls]
    assert shares == sorted(shares) and shares[-1] == 1.0 and len(calls) >= 5
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "4", str(pdf_res.path),
                        str(ARTIFACTS / "xuncha-baogao")], check=True, timeout=60)
        pages = sorted(ARTIFACTS.glob("xuncha-baogao-*.png"))
        assert len(pages) >= 4
        with Image.open(pages[1]) as img:  # 概况 + map page is not blank
            assert img.convert("L").getextrema()[0] < 100


def test_map_png_size_and_findings_drawn(world):
    rt = world["rt"]
    from fieldkit.reports import SYSTEM_VIEWER

    data = gather(rt, ReportScope(), SYSTEM_VIEWER)
    png = render_map(data, (1200, 800))
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (1200, 800)
        rgb = img.convert("RGB")
        frame = map_frame(data, (1200, 800))
        for f in data.findings:
            x, y = frame.to_pixel(f.lon, f.lat)
            patch = [rgb.getpixel((int(x) + dx, int(y) + dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
            assert any(abs(r - g) > 40 or abs(g - b) > 40 for r, g, b in patch), f"finding {f.id} not drawn"
        far = rgb.getpixel((int(frame.width_px * 0.5), 5))  # empty top edge is background
        assert far == (247, 247, 242)
    charts = render_charts(data)
    for png in charts.values():
        with Image.open(io.BytesIO(png)) as img:
            assert img.size == (1400, 800) and img.convert("L").getextrema()[0] < 100


def test_scope_filters(world):
    from fieldkit.reports import SYSTEM_VIEWER

    rt = world["rt"]
    river = gather(rt, ReportScope(inspection="2025-06 河道巡查"), SYSTEM_VIEWER)
    assert {f.category_id for f in river.findings} == {RUBBISH}
    assert set(river.photos) == set(world["photos"]["2025-06 河道巡查"])
    walls = gather(rt, ReportScope(kinds=("great_wall",)), SYSTEM_VIEWER)
    assert {f.category_id for f in walls.findings} == {GRAFFITI, BUILDING}
    assert all(s.kind == "great_wall" for s in walls.sections)
    may = gather(rt, ReportScope(date_from=dt.date(2025, 5, 1), date_to=dt.date(2025, 5, 31)), SYSTEM_VIEWER)
    assert len(may.findings) == 2 and len(may.photos) == 5
    with rt.db.session() as s:
        county = s.scalar(shapely_select_boundary())
    inside = gather(rt, ReportScope(boundary_feature=county), SYSTEM_VIEWER)
    assert len(inside.findings) == 4 and inside.area_name == "延庆区"
    closed = next(f for f in inside.findings if f.state == "closed")
    assert closed.closed_at == dt.datetime(2025, 7, 1, 2)
    assert {f.body for f in inside.findings} == {"延庆区文化和旅游局", "延庆区水务局"}
    east = gather(rt, ReportScope(bbox=_bbox(3500, -3500, 6000, 500)), SYSTEM_VIEWER)
    assert len(east.findings) == 1 and east.findings[0].state == "closed"
    with pytest.raises(NotFoundError, match="inspection '没有这次巡查'"):
        gather(rt, ReportScope(inspection="没有这次巡查"), SYSTEM_VIEWER)
    with pytest.raises(InputError, match="not a polygon"):
        gather(rt, ReportScope(boundary_feature=1), SYSTEM_VIEWER)


def shapely_select_boundary():
    from sqlalchemy import select

    return select(Feature.id).join(Layer, Feature.layer_id == Layer.id).where(Layer.kind == "boundary")


def _bbox(e0, n0, e1, n1):
    from fieldkit.queries import BBox

    (x0, y0), (x1, y1) = _east(e0, n0), _east(e1, n1)
    return BBox(x0, y0, x1, y1)


def test_cli_report(world, tmp_path):
    rt = world["rt"]
    out = tmp_path / "river.pdf"
    result = CliRunner().invoke(main, ["--data-dir", str(rt.settings.data_dir), "report", "--format", "pdf",
                                       "--inspection", "2025-06 河道巡查", "--kind", "river", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 findings" not in result.output and "2 findings, 4 photos" in result.output
    assert out.read_bytes().startswith(b"%PDF")
    bad = CliRunner().invoke(main, ["--data-dir", str(rt.settings.data_dir), "report", "--format", "pdf",
                                    "--from", "2025-13-01", "-o", str(out)])
    assert bad.exit_code == 2 and "from='2025-13-01'" in bad.output


def test_empty_scope_still_writes(world, tmp_path):
    rt = world["rt"]
    res = build_report(rt, ReportScope(date_from=dt.date(2030, 1, 1)), "docx", tmp_path / "empty.docx")
    assert res.findings == 0 and res.photos == 0
    text = "\n".join(p.text for p in docx.Document(str(res.path)).paragraphs)
    assert "范围内没有问题或照片" in text


def test_report_names_states_as_the_ledger_does(world, outputs):
    """The 巡查报告 and the 台账 used two tables with different words for one state (待整改 / 未整改)."""
    from fieldkit.labels import FINDING_STATES_ZH

    word = docx.Document(str(outputs[0].path))
    text = "\n".join(p.text for p in word.paragraphs)
    assert f"状态：{FINDING_STATES_ZH['open']}" in text
    assert "待整改" not in text
