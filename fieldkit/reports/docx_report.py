"""Write the 巡查报告 items as DOCX (python-docx), reusing the 检察建议书 page setup and fonts.

A4 with the GB/T 9704 margins of :class:`~fieldkit.documents.fonts.Layout` (body 四号 仿宋 on a
24 pt line by default: a report is denser than a 公文), headings in 黑体/楷体, photos three to a
row as thumbnails from the evidence store, the photo annex as a table with the SHA-256 in a
monospaced font. Images are added one at a time from their files.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from ..documents.docx_ import _page_numbers, _register_alt_names, _setup_page, _setup_styles, set_fonts
from ..documents.fonts import DocxFont, Layout
from ..errors import StorageError
from .content import Item, PhotoCell, image_size
from .scope import Progress

REPORT_LAYOUT = Layout(body_pt=14.0, line_pt=24.0, caption_pt=10.5, hash_pt=7.5, title_pt=22.0)
MONO = DocxFont("Courier New")
PHOTOS_PER_ROW = 3
_CENTER, _LEFT, _JUSTIFY = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.JUSTIFY


def write_docx(items: Iterable[Item], path: Path, *, layout: Layout = REPORT_LAYOUT,
               progress: Progress | None = None) -> Path:
    """Write ``items`` to ``path`` as DOCX; ``progress("写入DOCX", share)`` as sections pass."""
    word = Document()
    _setup_page(word, layout)
    _setup_styles(word, layout)
    _register_alt_names(word, layout)
    writer = _DocxWriter(word, layout)
    for item in items:
        if progress is not None and item.progress is not None:
            progress("写入DOCX", item.progress)
        getattr(writer, f"_{item.kind}")(item)
    _page_numbers(word, layout)
    try:
        word.save(str(path))
    except OSError as exc:
        raise StorageError(f"cannot write DOCX {path}: {exc}") from exc
    return Path(path)


class _DocxWriter:
    def __init__(self, word, layout: Layout) -> None:
        self.word, self.layout = word, layout

    def _p(self, text: str, *, font: DocxFont | None = None, size: float | None = None, align=_JUSTIFY,
           indent: bool = False, container=None):
        lay = self.layout
        p = (container or self.word).add_paragraph()
        p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Pt(2 * (size or lay.body_pt))
        for i, line in enumerate(text.split("\n")):
            if i:
                p.add_run().add_break()
            if line:
                set_fonts(p.add_run(line), font or lay.body, size or lay.body_pt, lay.latin)
        return p

    def _title(self, item: Item) -> None:
        for _ in range(4):
            self._p("")
        p = self._p(item.text, font=self.layout.title, size=self.layout.title_pt, align=_CENTER)
        p.paragraph_format.line_spacing = Pt(self.layout.title_pt * 1.6)
        p.paragraph_format.space_after = Pt(self.layout.line_pt * 2)

    def _cover_line(self, item: Item) -> None:
        p = self._p(item.text, align=_LEFT)
        p.paragraph_format.left_indent = Mm(20)

    def _page_break(self, item: Item) -> None:
        self.word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def _h1(self, item: Item) -> None:
        self._p(item.text, font=self.layout.h1).paragraph_format.keep_with_next = True

    def _h2(self, item: Item) -> None:
        self._p(item.text, font=self.layout.h2).paragraph_format.keep_with_next = True

    def _para(self, item: Item) -> None:
        self._p(item.text, indent=True)

    def _note(self, item: Item) -> None:
        self._p(item.text, size=self.layout.caption_pt)

    def _figure(self, item: Item) -> None:
        p = self._p("", align=_CENTER)
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        p.paragraph_format.keep_with_next = True
        p.add_run().add_picture(io.BytesIO(item.png), width=Mm(self.layout.text_width_mm))
        self._p(item.text, size=self.layout.caption_pt, align=_CENTER)

    def _photos(self, item: Item) -> None:
        cells = list(item.cells)
        width = self.layout.text_width_mm / PHOTOS_PER_ROW
        rows = -(-len(cells) // PHOTOS_PER_ROW)
        table = self.word.add_table(rows=rows, cols=PHOTOS_PER_ROW)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for i, cell in enumerate(cells):
            self._photo_cell(table.cell(i // PHOTOS_PER_ROW, i % PHOTOS_PER_ROW), cell, width - 4)

    def _photo_cell(self, target, cell: PhotoCell, width_mm: float) -> None:
        lay = self.layout
        p = target.paragraphs[0]
        p.alignment = _CENTER
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        size = image_size(cell.image)
        if size is None:
            set_fonts(p.add_run("（照片文件缺失）"), lay.body, lay.caption_pt, lay.latin)
        else:
            height = min(width_mm * size[1] / size[0], width_mm)
            p.add_run().add_picture(str(cell.image), width=Mm(height * size[0] / size[1]), height=Mm(height))
        for line in cell.lines:
            cap = self._p(line, size=lay.caption_pt - 1.5, align=_CENTER, container=target)
            cap.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE

    def _table(self, item: Item) -> None:
        lay = self.layout
        table = self.word.add_table(rows=1, cols=len(item.header))
        table.style = "Table Grid"
        for cell, text, width in zip(table.rows[0].cells, item.header, item.widths_mm):
            cell.width = Mm(width)
            self._cell_text(cell, text, bold=True)
        _repeat_header(table.rows[0])
        for row in item.rows:
            cells = table.add_row().cells
            for cell, text, width in zip(cells, row, item.widths_mm):
                cell.width = Mm(width)
                self._cell_text(cell, text)
        self._p("", size=lay.caption_pt)

    def _cell_text(self, cell, text: str, bold: bool = False) -> None:
        lay = self.layout
        p = cell.paragraphs[0]
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        first, _, rest = text.partition("\n")
        run = p.add_run(first)
        set_fonts(run, lay.body, lay.caption_pt, lay.latin)
        run.bold = bold or None
        if rest:  # the SHA-256 line of the annex: monospaced, small, one line
            run.add_break()
            set_fonts(p.add_run(rest), MONO, lay.hash_pt, MONO.name)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)
