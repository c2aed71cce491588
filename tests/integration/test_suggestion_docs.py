"""The 检察建议书 for a Great Wall case in 永昌县, exported to DOCX and PDF and read back."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from pypdf import PdfReader

from fieldkit.documents import (
    FactItem,
    Layout,
    NumberingScheme,
    PhotoAnnexItem,
    SuggestionDocument,
    deadline_text,
    export_docx,
    export_pdf,
    objection_text,
)
from fieldkit.documents.fonts import FontFile, resolve_pdf_fonts
from fieldkit.errors import ConfigError, InputError
from tests.photo_factory import make_jpeg

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MM_PER_PT = 25.4 / 72


def _photo(folder: Path, ref: str, lon: float, lat: float, taken: datetime, placement: str) -> PhotoAnnexItem:
    data = make_jpeg(800, 600, lat=lat, lon=lon, taken_at=taken, offset="+08:00")
    path = folder / f"{ref}.jpg"
    path.write_bytes(data)
    return PhotoAnnexItem(ref=ref, image_path=path, taken_at=taken, place="永昌县新城子镇马营沟村北侧",
                          placement=placement, sha256=hashlib.sha256(data).hexdigest(), lon=lon, lat=lat)


def build_document(folder: Path) -> SuggestionDocument:
    """A realistic draft: two findings on the Ming wall, two photos."""
    t1, t2 = datetime(2025, 5, 6, 10, 24), datetime(2025, 5, 6, 11, 5)
    photos = (
        _photo(folder, "p1", 101.968421, 38.247315, t1, "照片EXIF GPS（WGS-84）"),
        _photo(folder, "p2", 101.973002, 38.251876, t2, "GPS轨迹按拍摄时间插值"),
    )
    facts = (
        FactItem(time=t1, place="永昌县新城子镇马营沟村北侧", lon=101.968421, lat=38.247315,
                 feature_name="明长城永昌段", chainage="K12+300",
                 description="墙体被人为取土形成长约6米、深约1.5米的豁口，豁口处有车辆碾压痕迹",
                 photo_refs=("p1",)),
        FactItem(time=t2, place="永昌县新城子镇马营沟村北侧", lon=101.973002, lat=38.251876,
                 feature_name="明长城永昌段", chainage="K12+850",
                 description="长城保护标志缺失，现场未见标明保护范围和建设控制地带的界桩",
                 photo_refs=("p2",)),
    )
    return SuggestionDocument(
        procuratorate="永昌县人民检察院",
        doc_number=NumberingScheme(org="永").format(2025, 3),
        addressee="永昌县文化和旅游局",
        case_source="本院在开展长城保护公益诉讼专项监督活动中发现本案线索，于2025年5月8日依法立案调查。现查明：",
        facts=facts,
        duty_and_reasons=(
            ("《长城保护条例》第四条规定，县级以上地方人民政府文物主管部门依照本条例的规定，负责本行政区域内的长城保护工作。"
             "你单位作为永昌县文物主管部门，对辖区内长城负有监督管理职责。"),
            "上述长城段落遭受取土破坏、保护标志缺失，你单位未依法履行监督管理职责，致使国家利益和社会公共利益持续受到侵害。",
        ),
        legal_basis=("《中华人民共和国行政诉讼法》第二十五条第四款",
                     "《最高人民法院、最高人民检察院关于检察公益诉讼案件适用法律若干问题的解释》第二十一条"),
        recommendations=("依法对明长城永昌段K12+300处取土破坏行为进行调查处理，并组织对豁口进行抢险加固；",
                         "会同有关部门在K12+850处补设长城保护标志和界桩，落实长城保护员巡查制度。"),
        deadline=deadline_text(urgent=False),
        objection_terms=objection_text(5),
        reply_method="请将书面回复及整改前后对比照片送达本院第五检察部，联系人：李检察官，电话：0935-7521234。",
        other_matters="本院将对整改情况进行跟进调查。",
        date=date(2025, 6, 3),
        cc=("永昌县人民政府", "金昌市人民检察院"),
        photos=photos,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suggestion")
    doc = build_document(folder)
    return doc, export_docx(doc, folder / "jianyi.docx"), export_pdf(doc, folder / "jianyi.pdf")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_docx_page_geometry_and_fonts(exported):
    _, docx_path, _ = exported
    word = docx.Document(str(docx_path))
    section = word.sections[0]
    for got, want in ((section.page_width, 210), (section.page_height, 297), (section.top_margin, 37),
                      (section.left_margin, 28), (section.bottom_margin, 35), (section.right_margin, 26)):
        assert abs(got.mm - want) <= 0.5
    normal = word.styles["Normal"]
    assert normal.font.size.pt == 16
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋"
    body_runs = [r for p in word.paragraphs for r in p.runs if r.text.strip()]
    assert all(r._r.rPr.rFonts.get(qn("w:eastAsia")) for r in body_runs)
    title = next(p for p in word.paragraphs if p.text == "检察建议书")
    assert title.runs[0].font.size.pt == 22
    heading = next(p for p in word.paragraphs if p.text.startswith("一、"))
    assert heading.runs[0]._r.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert heading.paragraph_format.first_line_indent.pt == 32


def test_docx_contains_every_field_and_photos(exported):
    doc, docx_path, _ = exported
    word = docx.Document(str(docx_path))
    text = _squash("".join(p.text for p in word.paragraphs))
    for required in doc.required_texts():
        assert _squash(required) in text, required
    assert "永检行公建〔2025〕3号" in text and "2025年6月3日" in text and "照片附件" in text
    assert len(word.inline_shapes) == 2
    with zipfile.ZipFile(docx_path) as z:
        footers = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("word/footer"))
        settings = z.read("word/settings.xml").decode()
        font_table = z.read("word/fontTable.xml").decode()
    assert "PAGE" in footers and "— " in footers and " —" in footers
    assert "evenAndOddHeaders" in settings
    assert 'w:altName w:val="仿宋_GB2312"' in font_table


def test_pdf_text_fonts_and_page_size(exported):
    doc, _, pdf_path = exported
    reader = PdfReader(str(pdf_path))
    for page in reader.pages:
        assert abs(float(page.mediabox.width) * MM_PER_PT - 210) <= 0.5
        assert abs(float(page.mediabox.height) * MM_PER_PT - 297) <= 0.5
    pages = [page.extract_text() for page in reader.pages]
    # Page labels sit between a paragraph's halves when it runs over a page: drop them first.
    text = _squash("".join(re.sub(r"— \d+ —", "", page) for page in pages))
    for required in doc.required_texts():
        assert _squash(required) in text, required
    assert "— 1 —" in pages[0]
    assert f"— {len(pages)} —" in pages[-1]
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        assert "/FontFile2" in font["/FontDescriptor"], font["/BaseFont"]


def test_pdf_layout_margins_from_text_positions(exported):
    _, _, pdf_path = exported
    page = PdfReader(str(pdf_path)).pages[0]
    xs, ys = [], []

    def visit(text, cm, tm, font, size):
        if text.strip() and "—" not in text:
            xs.append(tm[4] * cm[0] + tm[5] * cm[2] + cm[4])
            ys.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])

    page.extract_text(visitor_text=visit)
    assert min(xs) * MM_PER_PT == pytest.approx(28, abs=0.5)
    assert 297 - max(ys) * MM_PER_PT >= 37 - 0.5
    assert min(ys) * MM_PER_PT >= 35 - 0.5


def test_pdf_renders_to_png(exported):
    _, _, pdf_path = exported
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed")
    reader = PdfReader(str(pdf_path))
    annex = next(i for i, p in enumerate(reader.pages, 1) if "SHA-256" in p.extract_text())
    ARTIFACTS.mkdir(exist_ok=True)
    for page, name in ((1, "suggestion-page1"), (annex, "suggestion-annex")):
        prefix = ARTIFACTS / name
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(page), "-l", str(page), "-singlefile",
                        str(pdf_path), str(prefix)], check=True, timeout=60)
        png = prefix.with_suffix(".png")
        assert png.stat().st_size > 5000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_urgent_deadline_wording():
    assert "十五日内" in deadline_text(urgent=True)
    assert "两个月内" in deadline_text(urgent=False)


def test_invalid_documents_name_the_field(tmp_path):
    doc = build_document(tmp_path)
    with pytest.raises(InputError, match="'addressee' is empty"):
        replace(doc, addressee=" ")
    with pytest.raises(InputError, match="'recommendations' needs"):
        replace(doc, recommendations=())
    with pytest.raises(InputError, match=r"facts\[1\] refers to photo"):
        replace(doc, facts=(replace(doc.facts[0], photo_refs=("nope",)),))
    with pytest.raises(InputError, match="sha256"):
        replace(doc, photos=(replace(doc.photos[0], sha256="abc"), doc.photos[1]))


def test_missing_photo_file_is_reported(tmp_path):
    doc = build_document(tmp_path)
    doc.photos[1].image_path.unlink()
    with pytest.raises(InputError, match="p2.jpg"):
        export_docx(doc, tmp_path / "x.docx")
    with pytest.raises(InputError, match="p2.jpg"):
        export_pdf(doc, tmp_path / "x.pdf")


def test_layout_is_configurable(tmp_path):
    doc = build_document(tmp_path)
    layout = Layout(line_pt=30, number_align="right")
    word = docx.Document(str(export_docx(doc, tmp_path / "c.docx", layout)))
    assert word.styles["Normal"].paragraph_format.line_spacing.pt == 30
    number = next(p for p in word.paragraphs if p.text == doc.doc_number)
    assert number.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
    with pytest.raises(ConfigError, match="number_align"):
        Layout(number_align="middle")


def test_missing_font_gives_install_hint(monkeypatch):
    from fieldkit.documents import fonts

    monkeypatch.setattr(fonts, "locate", lambda candidate: None)
    with pytest.raises(ConfigError, match="fonts-arphic-uming"):
        resolve_pdf_fonts()


def test_text_the_font_cannot_draw_is_refused(tmp_path):
    doc = build_document(tmp_path)
    with pytest.raises(ConfigError, match="lacks glyphs for '🏯'"):
        export_pdf(replace(doc, other_matters="见🏯"), tmp_path / "g.pdf")


def test_cff_font_is_refused_with_the_reason(tmp_path):
    cff = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
    if not cff.is_file():
        pytest.skip(f"{cff} (Debian fonts-noto-cjk) is not installed")
    with pytest.raises(ConfigError, match="TrueType"):
        export_pdf(build_document(tmp_path), tmp_path / "c.pdf", fonts={"song": FontFile("Noto", cff, 0)})


UMING = Path("/usr/share/fonts/truetype/arphic/uming.ttc")
UKAI = Path("/usr/share/fonts/truetype/arphic/ukai.ttc")


@pytest.fixture
def no_real_system_fonts(monkeypatch):
    """Hide any real 仿宋/小标宋 the machine may have: only the Debian stand-ins stay findable."""
    from fieldkit.documents import fonts

    if not UMING.is_file():
        pytest.skip(f"{UMING} (Debian fonts-arphic-uming) is not installed")
    stand_ins = {c.family for cs in fonts.PDF_CANDIDATES.values() for c in cs}
    real_locate = fonts.locate
    monkeypatch.setattr(fonts, "SYSTEM_FONT_DIRS", ())
    monkeypatch.setattr(fonts, "locate", lambda c: real_locate(c) if c.family in stand_ins else None)


def _creator(pdf: Path) -> str:
    return PdfReader(str(pdf)).metadata["/Creator"]


def test_without_real_fonts_the_stand_ins_are_used_and_said(tmp_path, no_real_system_fonts, caplog):
    caplog.set_level("INFO", logger="fieldkit.documents.fonts")
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "readme.txt").write_text("no fonts here")
    chosen = resolve_pdf_fonts(font_dir=tmp_path / "fonts")
    assert chosen["fangsong"].stand_in and chosen["title"].stand_in and not chosen["song"].stand_in
    assert chosen["fangsong"].path == chosen["song"].path
    assert "仿宋=AR PL UMing CN (uming.ttc, stand-in)" in caplog.text
    pdf = export_pdf(build_document(tmp_path), tmp_path / "s.pdf", font_dir=tmp_path / "fonts")
    creator = _creator(pdf)
    assert "仿宋=AR PL UMing CN (uming.ttc, stand-in)" in creator
    assert "UMing" in _fonts_by_text(pdf)["检察建议书"]
    assert "小标宋=AR PL UMing CN (uming.ttc, stand-in)" in creator and "宋体=AR PL UMing CN (uming.ttc)" in creator


def test_real_fangsong_and_xiaobiaosong_in_the_font_dir_are_chosen(tmp_path, no_real_system_fonts):
    if not UKAI.is_file():
        pytest.skip(f"{UKAI} (Debian fonts-arphic-ukai) is not installed")
    folder = tmp_path / "fonts"
    (folder / "founder").mkdir(parents=True)
    (folder / "STFANGSO.TTF").symlink_to(UMING)  # file names as an office installs them
    (folder / "founder" / "fzxbsjw.ttf").symlink_to(UKAI)
    (folder / "simkai.ttf").write_bytes(b"OTTO" + bytes(60))  # a CFF/OTF file: skipped, not embedded
    chosen = resolve_pdf_fonts(font_dir=folder)
    assert chosen["fangsong"] == FontFile("STFangsong", folder / "STFANGSO.TTF")
    assert chosen["title"] == FontFile("方正小标宋简体", folder / "founder" / "fzxbsjw.ttf")
    assert chosen["kai"].family == "AR PL UKai CN" and chosen["kai"].path != folder / "simkai.ttf"
    pdf = export_pdf(build_document(tmp_path), tmp_path / "r.pdf", font_dir=folder)
    creator = _creator(pdf)
    assert "仿宋=STFangsong (STFANGSO.TTF)" in creator and "小标宋=方正小标宋简体 (fzxbsjw.ttf)" in creator
    assert "仿宋=STFangsong (STFANGSO.TTF, stand-in)" not in creator
    fonts_of = _fonts_by_text(pdf)
    assert "UKai" in fonts_of["检察建议书"]  # the title in the 小标宋 file (here a copy of UKai)
    assert "UMing" in fonts_of[next(t for t in fonts_of if "马营沟村" in t)]  # body in the 仿宋 file


def _fonts_by_text(pdf: Path) -> dict[str, str]:
    """Text run on page 1 → the BaseFont that draws it."""
    out: dict[str, str] = {}

    def visit(text, cm, tm, font, size):
        if text.strip() and font is not None:
            out[text.strip()] = str(font["/BaseFont"])

    PdfReader(str(pdf)).pages[0].extract_text(visitor_text=visit)
    return out


def test_docx_names_fangsong_and_xiaobiaosong_and_says_so(tmp_path):
    path = export_docx(build_document(tmp_path), tmp_path / "f.docx")
    word = docx.Document(str(path))
    title = next(p for p in word.paragraphs if p.text == "检察建议书")
    assert title.runs[0]._r.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert word.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋"
    assert "正文=仿宋 (alt 仿宋_GB2312/FangSong)" in word.core_properties.comments
    assert "标题=方正小标宋简体" in word.core_properties.comments


def test_font_dir_setting_reaches_the_pdf(monkeypatch, tmp_path):
    from fieldkit.settings import Settings

    monkeypatch.setenv("FIELDKIT_FONT_DIR", str(tmp_path))
    assert Settings.from_env().font_dir == tmp_path
    assert Settings.from_env(env={}).font_dir is None
