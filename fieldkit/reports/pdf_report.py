"""Write the 巡查报告 items as PDF/A4 with embedded CJK TrueType fonts (reportlab platypus).

Fonts come from :func:`fieldkit.documents.fonts.resolve_pdf_fonts` and are registered as in the
检察建议书 export. Photos are reportlab ``Image`` flowables on the evidence-store file path
(read when drawn, not before), so memory does not grow with the number of photos in the story.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab.lib.colors import black, grey
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ..documents.fonts import FontFile, Layout, resolve_pdf_fonts
from ..documents.pdf_ import build_pdf, register_fonts
from .content import Item, PhotoCell, image_size
from .docx_report import PHOTOS_PER_ROW, REPORT_LAYOUT
from .scope import Progress


def write_pdf(items: Iterable[Item], path: Path, *, title: str = "巡查报告", layout: Layout = REPORT_LAYOUT,
              fonts: dict[str, FontFile] | None = None, progress: Progress | None = None) -> Path:
    """Write ``items`` to ``path`` as PDF; ``progress("排版PDF", share)`` while the story is made."""
    names = register_fonts(resolve_pdf_fonts(fonts))
    story_maker = _Story(layout, names)
    story: list = []
    for item in items:
        if progress is not None and item.progress is not None:
            progress("排版PDF", item.progress)
        story.extend(getattr(story_maker, f"_{item.kind}")(item))
    return build_pdf(path, story, layout, _page_numbers(layout, names["song"]), title=title, author="FieldKit")


def _page_numbers(layout: Layout, font: str):
    def paint(canvas, doc) -> None:
        n = canvas.getPageNumber()
        if n == 1:  # no number on the cover
            return
        canvas.saveState()
        canvas.setFont(font, layout.caption_pt)
        canvas.drawCentredString(layout.page_width_mm * mm / 2, (layout.bottom_mm - 12) * mm, f"— {n} —")
        canvas.restoreState()

    return paint


class _Story:
    def __init__(self, layout: Layout, names: dict[str, str]) -> None:
        self.layout = lay = layout
        body = ParagraphStyle("body", fontName=names["song"], fontSize=lay.body_pt, leading=lay.line_pt,
                              alignment=TA_JUSTIFY, wordWrap="CJK")
        small = ParagraphStyle("small", body, fontSize=lay.caption_pt, leading=lay.caption_pt * 1.45)
        self.styles = {
            "body": ParagraphStyle("para", body, firstLineIndent=2 * lay.body_pt),
            "small": small,
            "caption": ParagraphStyle("caption", small, alignment=TA_CENTER),
            "cell": ParagraphStyle("cell", small, fontSize=lay.caption_pt - 1.5, leading=(lay.caption_pt - 1.5) * 1.3,
                                   alignment=TA_CENTER),
            "table": ParagraphStyle("table", small, alignment=TA_LEFT),
            "title": ParagraphStyle("title", body, fontName=names["hei"], fontSize=lay.title_pt,
                                    leading=lay.title_pt * 1.6, alignment=TA_CENTER),
            "cover": ParagraphStyle("cover", body, leftIndent=20 * mm, alignment=TA_LEFT),
            "h1": ParagraphStyle("h1", body, fontName=names["hei"], spaceBefore=lay.line_pt / 3),
            "h2": ParagraphStyle("h2", body, fontName=names["kai"], spaceBefore=lay.line_pt / 4),
        }

    def _p(self, text: str, style: str) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), self.styles[style])

    def _title(self, item: Item) -> list:
        return [Spacer(1, 60 * mm), self._p(item.text, "title"), Spacer(1, 20 * mm)]

    def _cover_line(self, item: Item) -> list:
        return [self._p(item.text, "cover")]

    def _page_break(self, item: Item) -> list:
        return [PageBreak()]

    def _h1(self, item: Item) -> list:
        return [CondPageBreak(4 * self.layout.line_pt), self._p(item.text, "h1")]

    def _h2(self, item: Item) -> list:
        return [CondPageBreak(4 * self.layout.line_pt), self._p(item.text, "h2")]

    def _para(self, item: Item) -> list:
        return [self._p(item.text, "body")]

    def _note(self, item: Item) -> list:
        return [self._p(item.text, "small")]

    def _figure(self, item: Item) -> list:
        with PILImage.open(io.BytesIO(item.png)) as img:
            w, h = img.size
        width = self.layout.text_width_mm * mm
        image = Image(io.BytesIO(item.png), width=width, height=width * h / w)
        return [KeepTogether([image, Spacer(1, 2), self._p(item.text, "caption")]), Spacer(1, 6)]

    def _photos(self, item: Item) -> list:
        col = self.layout.text_width_mm * mm / PHOTOS_PER_ROW
        cells = [self._cell(c, col - 4 * mm) for c in item.cells]
        while len(cells) % PHOTOS_PER_ROW:
            cells.append("")
        rows = [cells[i:i + PHOTOS_PER_ROW] for i in range(0, len(cells), PHOTOS_PER_ROW)]
        table = Table(rows, colWidths=[col] * PHOTOS_PER_ROW)
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))
        return [table, Spacer(1, 4)]

    def _cell(self, cell: PhotoCell, box: float) -> list:
        size = image_size(cell.image)
        captions = [self._p(line, "cell") for line in cell.lines]
        if size is None:
            return [self._p("（照片文件缺失）", "cell"), *captions]
        scale = min(box / size[0], box / size[1])
        return [Image(str(cell.image), width=size[0] * scale, height=size[1] * scale), *captions]

    def _table(self, item: Item) -> list:
        hash_pt = self.layout.hash_pt

        def cell(text: str):
            first, _, rest = text.partition("\n")
            markup = escape(first)
            if rest:
                markup += f'<br/><font face="Courier" size="{hash_pt}">{escape(rest)}</font>'
            return Paragraph(markup, self.styles["table"])

        data = [[cell(h) for h in item.header]] + [[cell(t) for t in row] for row in item.rows]
        table = Table(data, colWidths=[w * mm for w in item.widths_mm], repeatRows=1)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LINEBELOW", (0, 0), (-1, 0), 0.8, black)]))
        return [table, Spacer(1, 6)]
