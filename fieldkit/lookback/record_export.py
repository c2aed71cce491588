"""Write a :class:`~fieldkit.lookback.record.LookBackRecord` (回头看记录) as DOCX and PDF.

Both show the case and look-back header (dates, inspectors, outcome), then per finding its
place, verdict and a two-column table: 整改前 (old photos) beside 整改后 (confirmed new photos),
each with its time, place and bearing. Page geometry and fonts follow
:class:`fieldkit.documents.fonts.Layout` (A4, GB/T 9704 margins); the PDF embeds the CJK
TrueType fonts :func:`fieldkit.documents.fonts.resolve_pdf_fonts` finds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.sax.saxutils import escape

import docx
from docx.shared import Mm
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, Spacer, Table, TableStyle

from ..cases.deadlines import LEGAL_TZ
from ..documents.docx_ import set_fonts
from ..documents.fonts import FontFile, Layout, resolve_pdf_fonts
from ..documents.pdf_ import build_pdf, register_fonts
from ..errors import InputError, StorageError
from .record import TITLE, LookBackRecord, RecordItem, RecordPhoto

PHOTO_W_MM = 70.0
PHOTO_H_MM = 52.0


def header_lines(rec: LookBackRecord) -> list[str]:
    """The record's header as text lines (shared by DOCX and PDF)."""
    return [
        f"案件：{rec.case_title}（案件 {rec.case_id}）",
        f"责任单位：{rec.responsible_body}",
        f"检察建议送达：{_d(rec.served_on)}；书面回复期限：{_d(rec.reply_due)}；整改期限：{_d(rec.rectification_due)}",
        f"回头看：计划 {_d(rec.planned_on)}，实施 {_d(rec.done_on)}（回头看 {rec.lookback_id}）",
        f"检察人员：{'、'.join(rec.inspectors) or '—'}",
        f"结论：{rec.outcome_zh}",
    ]


def item_lines(item: RecordItem) -> list[str]:
    """One finding's text lines: place, description and verdict."""
    place = item.place + (f"（{item.chainage}）" if item.chainage else "")
    lines = [f"地点：{place}", f"问题：{item.category}" + (f"：{item.note}" if item.note else "")]
    verdict = f"认定：{item.status_zh}（{item.status}）"
    if item.verdict_by:
        verdict += f"，{item.verdict_by} {_local(item.verdict_at)}"
    lines.append(verdict)
    if item.verdict_note:
        lines.append(f"说明：{item.verdict_note}")
    return lines


def export_record_docx(rec: LookBackRecord, path: str | Path, layout: Layout | None = None) -> Path:
    """Write the record as DOCX and return the path."""
    layout = layout or Layout()
    word = docx.Document()
    section = word.sections[0]
    section.page_width, section.page_height = Mm(layout.page_width_mm), Mm(layout.page_height_mm)
    section.top_margin, section.bottom_margin = Mm(layout.top_mm), Mm(layout.bottom_mm)
    section.left_margin, section.right_margin = Mm(layout.left_mm), Mm(layout.right_mm)
    set_fonts(word.styles["Normal"], layout.body, 12, layout.latin)
    title = word.add_paragraph()
    title.alignment = 1
    set_fonts(title.add_run(f"{rec.procuratorate}\n{TITLE}"), layout.title, layout.title_pt, layout.latin)
    for line in header_lines(rec):
        word.add_paragraph(line)
    for n, item in enumerate(rec.items, start=1):
        head = word.add_paragraph()
        set_fonts(head.add_run(f"{n}. 问题 {item.finding_id}"), layout.h1, 14, layout.latin)
        for line in item_lines(item):
            word.add_paragraph(line)
        table = word.add_table(rows=2, cols=2)
        table.style = "Table Grid"
        table.cell(0, 0).text, table.cell(0, 1).text = "整改前", "整改后"
        for col, photos in enumerate((item.before, item.after)):
            cell = table.cell(1, col)
            cell.paragraphs[0].text = "" if photos else "（无照片）"
            for p in photos:
                if p.image_path is not None:
                    cell.add_paragraph().add_run().add_picture(str(p.image_path), width=Mm(PHOTO_W_MM))
                cell.add_paragraph(p.caption + ("" if p.image_path else "（预览缺失）"))
    try:
        word.save(str(path))
    except OSError as exc:
        raise StorageError(f"cannot write DOCX {path}: {exc}") from exc
    return Path(path)


def export_record_pdf(
    rec: LookBackRecord, path: str | Path, layout: Layout | None = None, fonts: dict[str, FontFile] | None = None
) -> Path:
    """Write the record as PDF (A4, embedded CJK fonts) and return the path."""
    layout = layout or Layout()
    names = register_fonts(resolve_pdf_fonts(fonts))
    body = ParagraphStyle("lb-body", fontName=names["song"], fontSize=12, leading=18, wordWrap="CJK")
    small = ParagraphStyle("lb-small", body, fontSize=9, leading=12)
    head = ParagraphStyle("lb-head", body, fontName=names["hei"], fontSize=14, leading=22, spaceBefore=8)
    title = ParagraphStyle("lb-title", body, fontSize=layout.title_pt, leading=layout.title_pt * 1.5,
                           alignment=1)
    story: list = [Paragraph(escape(rec.procuratorate), title), Paragraph(TITLE, title), Spacer(1, 8)]
    story += [Paragraph(escape(line), body) for line in header_lines(rec)]
    for n, item in enumerate(rec.items, start=1):
        story.append(Paragraph(escape(f"{n}. 问题 {item.finding_id}"), head))
        story += [Paragraph(escape(line), body) for line in item_lines(item)]
        cells = [[_pdf_photos(item.before, small), _pdf_photos(item.after, small)]]
        table = Table([[Paragraph("整改前", body), Paragraph("整改后", body)], *cells],
                      colWidths=[(layout.text_width_mm / 2) * mm] * 2)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story += [Spacer(1, 4), table]
    return build_pdf(path, story, layout, title=f"{TITLE} {rec.case_title}", author=rec.procuratorate)


def _pdf_photos(photos: tuple[RecordPhoto, ...], style: ParagraphStyle) -> list:
    if not photos:
        return [Paragraph("（无照片）", style)]
    out: list = []
    for p in photos:
        if p.image_path is not None:
            try:
                with PILImage.open(p.image_path) as img:
                    w, h = img.size
            except (OSError, UnidentifiedImageError) as exc:
                raise InputError(f"look-back record: photo file {p.image_path} cannot be read: {exc}") from exc
            scale = min(PHOTO_W_MM / w, PHOTO_H_MM / h)
            out.append(Image(str(p.image_path), width=w * scale * mm, height=h * scale * mm))
        out.append(Paragraph(escape(p.caption + ("" if p.image_path else "（预览缺失）")), style))
    return out


def _d(day: dt.date | None) -> str:
    return "—" if day is None else f"{day.year}年{day.month}月{day.day}日"


def _local(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    return at.replace(tzinfo=dt.UTC).astimezone(LEGAL_TZ).strftime("%Y-%m-%d %H:%M")
