"""Export a :class:`SuggestionDocument` to DOCX laid out per GB/T 9704-2012 (python-docx).

A4 with margins 37/28/35/26 mm, body 仿宋 三号 (16 pt) at a fixed 28 pt line, title 小标宋 二号,
heading levels 一、/（一）/1./（1） in 黑体/楷体/仿宋/仿宋, paragraphs indented two characters,
the date four characters in from the right with the organ name centred over it, the photo annex
on a new page, 抄送 last, and page numbers "— N —" (宋体 四号) right on odd pages and left on
even pages (``w:evenAndOddHeaders``). Fonts and geometry come from :class:`~.fonts.Layout`.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from ..errors import InputError, StorageError
from .fonts import DocxFont, Layout, char_width
from .suggestion import Block, SuggestionDocument

_CENTER, _RIGHT, _LEFT = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.LEFT
_JUSTIFY = WD_ALIGN_PARAGRAPH.JUSTIFY


def export_docx(doc: SuggestionDocument, path: Path, layout: Layout | None = None) -> Path:
    """Write ``doc`` to ``path`` as DOCX and return the path."""
    layout = layout or Layout()
    word = Document()
    _setup_page(word, layout)
    _setup_styles(word, layout)
    _register_alt_names(word, layout)
    writer = _Writer(word, layout)
    for block in doc.blocks():
        writer.write(block)
    _page_numbers(word, layout)
    word.core_properties.comments = f"FieldKit; fonts named: {docx_font_note(layout)}"
    try:
        word.save(str(path))
    except OSError as exc:
        raise StorageError(f"cannot write DOCX {path}: {exc}") from exc
    return Path(path)


def docx_font_note(layout: Layout) -> str:
    """The fonts the DOCX names per role (the reader's Word/WPS renders them), for its metadata."""
    roles = (("正文", layout.body), ("标题", layout.title), ("一级标题", layout.h1), ("二级标题", layout.h2),
             ("页码", layout.page_number))
    return "; ".join(f"{label}={font.name}" + (f" (alt {'/'.join(font.alt_names)})" if font.alt_names else "")
                     for label, font in roles)


def _setup_page(word, layout: Layout) -> None:
    section = word.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(layout.page_width_mm), Mm(layout.page_height_mm)
    section.top_margin, section.bottom_margin = Mm(layout.top_mm), Mm(layout.bottom_mm)
    section.left_margin, section.right_margin = Mm(layout.left_mm), Mm(layout.right_mm)
    # The page-number line sits about 7 mm below the text block (GB/T 9704 7.5).
    section.footer_distance = Mm(max(layout.bottom_mm - 7 - layout.page_number_pt * 25.4 / 72, 5))
    section.header_distance = Mm(15)


def set_fonts(target, font: DocxFont, size_pt: float, latin: str) -> None:
    """Set Latin and East Asian font names and the size on a run or style (``w:rFonts``)."""
    target.font.name = latin
    target.font.size = Pt(size_pt)
    rpr = target.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attr), latin)
    rfonts.set(qn("w:eastAsia"), font.name)


def _setup_styles(word, layout: Layout) -> None:
    normal = word.styles["Normal"]
    set_fonts(normal, layout.body, layout.body_pt, layout.latin)
    pf = normal.paragraph_format
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(layout.line_pt)
    pf.space_before = pf.space_after = Pt(0)
    pf.widow_control = False


def _register_alt_names(word, layout: Layout) -> None:
    """Add ``w:font`` entries with ``w:altName`` (fallback names) to the font table.

    python-docx keeps ``fontTable.xml`` as a plain blob part, so it is edited as XML here.
    """
    part = next(r.target_part for r in word.part.rels.values() if r.reltype.endswith("/fontTable"))
    root = etree.fromstring(part.blob)
    present = {el.get(qn("w:name")) for el in root.iter(qn("w:font"))}
    for font in (layout.body, layout.title, layout.h1, layout.h2, layout.page_number):
        if font.name in present:
            continue
        present.add(font.name)
        el = etree.SubElement(root, qn("w:font"))
        el.set(qn("w:name"), font.name)
        if font.alt_names:
            etree.SubElement(el, qn("w:altName")).set(qn("w:val"), font.alt_names[0])
        etree.SubElement(el, qn("w:charset")).set(qn("w:val"), "86")  # GB2312
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


class _Writer:
    """Writes :class:`Block` values as paragraphs with the GB/T 9704 styles."""

    def __init__(self, word, layout: Layout) -> None:
        self.word, self.layout = word, layout

    def write(self, block: Block) -> None:
        """Append ``block`` to the document."""
        handler = getattr(self, f"_{block.kind}", None)
        if handler is None:
            raise InputError(f"DOCX export: unknown block kind {block.kind!r}")
        handler(block)

    def _add(self, text: str, *, font: DocxFont | None = None, size: float | None = None,
              align=_JUSTIFY, indent: bool = True, bold: bool = False):
        lay = self.layout
        p = self.word.add_paragraph()
        p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Pt(lay.indent_pt)
        if text:
            run = p.add_run(text)
            set_fonts(run, font or lay.body, size or lay.body_pt, lay.latin)
            run.bold = bold or None
        return p

    def _blank(self) -> None:
        self._add("", indent=False)

    def _org(self, b: Block) -> None:
        self._title_line(b.text)

    def _title(self, b: Block) -> None:
        self._title_line(b.text)
        self._blank()

    def _title_line(self, text: str) -> None:
        p = self._add(text, font=self.layout.title, size=self.layout.title_pt, align=_CENTER, indent=False)
        p.paragraph_format.line_spacing = Pt(max(self.layout.line_pt, self.layout.title_pt * 1.5))

    def _number(self, b: Block) -> None:
        align = _CENTER if self.layout.number_align == "center" else _RIGHT
        self._add(b.text, align=align, indent=False)
        self._blank()

    def _addressee(self, b: Block) -> None:
        self._add(b.text, indent=False, align=_LEFT)

    def _h1(self, b: Block) -> None:
        self._add(b.text, font=self.layout.h1).paragraph_format.keep_with_next = True

    def _h2(self, b: Block) -> None:
        self._add(b.text, font=self.layout.h2).paragraph_format.keep_with_next = True

    def _para(self, b: Block) -> None:
        self._add(b.text)

    _item = _para

    def _annex_note(self, b: Block) -> None:
        self._blank()
        self._add(b.text)

    def _signature(self, b: Block) -> None:
        self._blank()
        self._blank()
        date_text = b.lines[0] if b.lines else b.text
        self._signature_line(b.text, extra_chars=(char_width(date_text) - char_width(b.text)) / 2)

    def _date(self, b: Block) -> None:
        self._signature_line(b.text, extra_chars=0)

    def _signature_line(self, text: str, extra_chars: float) -> None:
        p = self._add(text, align=_RIGHT, indent=False)
        p.paragraph_format.right_indent = Pt(max(4 + extra_chars, 0) * self.layout.body_pt)

    def _annex_title(self, b: Block) -> None:
        p = self._add(b.text, font=self.layout.h1, indent=False, align=_LEFT)
        p.paragraph_format.page_break_before = True

    def _photo(self, b: Block) -> None:
        lay = self.layout
        p = self._add("", indent=False, align=_CENTER)
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        p.paragraph_format.keep_with_next = True
        try:
            with PILImage.open(b.image) as img:
                width, height = lay.fit_photo(*img.size)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"DOCX export: photo file {b.image} cannot be read: {exc}") from exc
        p.add_run().add_picture(str(b.image), width=Mm(width), height=Mm(height))
        for line in b.lines:
            size = lay.hash_pt if line.startswith("SHA-256") else lay.caption_pt
            cap = self._add(line, size=size, indent=False, align=_LEFT)
            cap.paragraph_format.keep_with_next = line is not b.lines[-1]
        self._blank()

    def _cc(self, b: Block) -> None:
        self._blank()
        p = self._add(b.text, size=self.layout.caption_pt, indent=False, align=_LEFT)
        p.paragraph_format.left_indent = Pt(self.layout.caption_pt)
        _top_bottom_rule(p)


def _top_bottom_rule(paragraph) -> None:
    """Thin rules above and below the 抄送 line (版记分隔线)."""
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    for side in ("top", "bottom"):
        el = OxmlElement(f"w:{side}")
        for k, v in (("w:val", "single"), ("w:sz", "4"), ("w:space", "1"), ("w:color", "000000")):
            el.set(qn(k), v)
        border.append(el)
    ppr.append(border)


def _page_numbers(word, layout: Layout) -> None:
    word.settings.odd_and_even_pages_header_footer = True
    section = word.sections[0]
    indent = Pt(layout.page_number_pt)
    _footer_number(section.footer, _RIGHT, layout, right=indent)
    _footer_number(section.even_page_footer, _LEFT, layout, left=indent)


def _footer_number(footer, align, layout: Layout, left=None, right=None) -> None:
    footer.is_linked_to_previous = False
    p = footer.paragraphs[0]
    p.alignment = align
    p.paragraph_format.left_indent, p.paragraph_format.right_indent = left, right
    p.paragraph_format.first_line_indent = Pt(0)
    p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    for text, field in (("— ", None), ("", "PAGE"), (" —", None)):
        run = p.add_run(text)
        set_fonts(run, layout.page_number, layout.page_number_pt, layout.page_number.name)
        if field:
            _add_field(run, field)


def _add_field(run, instr: str) -> None:
    for kind, text in (("begin", None), (None, f" {instr} "), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text.strip().isdigit():
            el = OxmlElement("w:t")
            el.text = text
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
