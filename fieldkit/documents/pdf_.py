"""Export a :class:`SuggestionDocument` to PDF with embedded Chinese TrueType fonts (reportlab).

Same content and geometry as the DOCX (:class:`~.fonts.Layout`): A4, margins 37/28/35/26 mm,
16 pt body on a fixed 28 pt line, 22 pt title, page numbers "— N —" in 14 pt, right on odd pages
and left on even pages, 7 mm below the text block. Fonts are embedded as TrueType subsets
(``/FontFile2``); see :mod:`.fonts` for which Debian packages supply them. Output is invariant
(no timestamps or random ids), so re-exporting a frozen document gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from reportlab.lib.colors import black
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import TopPadder

from ..errors import ConfigError, InputError, StorageError
from .fonts import FontFile, Layout, char_width, describe_fonts, resolve_pdf_fonts
from .suggestion import Block, SuggestionDocument


def export_pdf(doc: SuggestionDocument, path: Path, layout: Layout | None = None,
               fonts: dict[str, FontFile] | None = None, font_dir: Path | None = None) -> Path:
    """Write ``doc`` to ``path`` as PDF/A4 with embedded CJK fonts and return the path.

    ``fonts`` overrides roles; ``font_dir`` is searched first for real 仿宋/小标宋 files (see
    :func:`~.fonts.resolve_pdf_fonts`). The fonts used are named in the PDF's Creator entry."""
    layout = layout or Layout()
    chosen = resolve_pdf_fonts(fonts, font_dir)
    names = register_fonts(chosen)
    blocks = doc.blocks()
    _check_glyphs(blocks, names)
    story = _Story(layout, names).build(blocks)
    return build_pdf(path, story, layout, _page_number_painter(layout, names["song"]),
                     title=f"{doc.title} {doc.doc_number}", author=doc.procuratorate,
                     creator=f"FieldKit; fonts: {describe_fonts(chosen)}", initialFontName=names["fangsong"],
                     initialFontSize=layout.body_pt, initialLeading=layout.line_pt)


def build_pdf(path: str | Path, story: list, layout: Layout, on_page=None, **info) -> Path:
    """Lay ``story`` out on ``layout``'s pages and write ``path``; ``on_page(canvas, doc)`` paints
    each page (page numbers), ``info`` goes to the document (title, author...).

    The frame is the text block (版心) itself: no padding inside the margins.
    """
    pdf = BaseDocTemplate(str(path), pagesize=(layout.page_width_mm * mm, layout.page_height_mm * mm),
                          invariant=True, **info)
    frame = Frame(layout.left_mm * mm, layout.bottom_mm * mm, layout.text_width_mm * mm,
                  (layout.page_height_mm - layout.top_mm - layout.bottom_mm) * mm,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="text-block")
    pages = PageTemplate("page", [frame], onPage=on_page) if on_page else PageTemplate("page", [frame])
    pdf.addPageTemplates(pages)
    try:
        pdf.build(story)
    except OSError as exc:
        raise StorageError(f"cannot write PDF {path}: {exc}") from exc
    return Path(path)


def register_fonts(fonts: dict[str, FontFile]) -> dict[str, str]:
    """Register each role's TrueType font with reportlab; return role → font name."""
    names = {}
    for role, font in fonts.items():
        name = f"FK-{font.path.stem}-{font.index}"
        if name not in pdfmetrics.getRegisteredFontNames():
            try:
                pdfmetrics.registerFont(TTFont(name, str(font.path), subfontIndex=font.index))
            except (TTFError, OSError) as exc:
                raise ConfigError(f"font {font.family} ({font.path}) cannot be embedded: {exc}; "
                                  "reportlab needs TrueType (glyf) outlines, not CFF/OTF") from exc
        names[role] = name
    return names


_ROLE_OF_KIND = {"h1": "hei", "annex_title": "hei", "h2": "kai", "title": "title"}


def _check_glyphs(blocks: list[Block], names: dict[str, str]) -> None:
    """Refuse text a font cannot draw, rather than print empty boxes."""
    texts: dict[str, str] = {"song": "— 0123456789"}
    for b in blocks:
        role = _ROLE_OF_KIND.get(b.kind, "fangsong")
        texts[role] = texts.get(role, "") + b.text + "".join(b.lines)
    for role, text in texts.items():
        font = pdfmetrics.getFont(names[role])
        cmap = font.face.charToGlyph
        missing = sorted({c for c in text if ord(c) not in cmap and not c.isspace()})
        if missing:
            raise ConfigError(f"PDF font {font.face.filename} lacks glyphs for {''.join(missing)!r}; "
                              "choose another font with fonts=")


def _page_number_painter(layout: Layout, font: str):
    def paint(canvas, doc) -> None:
        n = canvas.getPageNumber()
        text = f"— {n} —"
        size = layout.page_number_pt
        y = (layout.bottom_mm - 7) * mm - size
        canvas.saveState()
        canvas.setFont(font, size)
        canvas.setFillColor(black)
        if n % 2:
            canvas.drawRightString((layout.page_width_mm - layout.right_mm) * mm - size, y, text)
        else:
            canvas.drawString(layout.left_mm * mm + size, y, text)
        canvas.restoreState()

    return paint


class _Story:
    """Turns :class:`Block` values into reportlab flowables with the GB/T 9704 styles."""

    def __init__(self, layout: Layout, names: dict[str, str]) -> None:
        self.layout = lay = layout
        body = ParagraphStyle("body", fontName=names["fangsong"], fontSize=lay.body_pt, leading=lay.line_pt,
                              firstLineIndent=lay.indent_pt, alignment=TA_JUSTIFY, wordWrap="CJK")
        flush = ParagraphStyle("flush", body, firstLineIndent=0, alignment=TA_LEFT)
        caption = ParagraphStyle("caption", flush, fontSize=lay.caption_pt, leading=lay.caption_pt * 1.5)
        self.styles = {
            "body": body, "flush": flush, "caption": caption,
            "title": ParagraphStyle("title", body, fontName=names["title"], fontSize=lay.title_pt,
                                    firstLineIndent=0,
                                    leading=max(lay.line_pt, lay.title_pt * 1.5), alignment=TA_CENTER),
            "number": ParagraphStyle("number", flush, alignment=TA_CENTER if lay.number_align == "center"
                                     else TA_RIGHT),
            "h1": ParagraphStyle("h1", body, fontName=names["hei"]),
            "h2": ParagraphStyle("h2", body, fontName=names["kai"]),
            "annex_title": ParagraphStyle("annex_title", flush, fontName=names["hei"]),
            "hash": ParagraphStyle("hash", caption, fontSize=lay.hash_pt),
            "cc": ParagraphStyle("cc", caption, leftIndent=lay.caption_pt),
        }

    def build(self, blocks: list[Block]) -> list:
        """The flowables for ``blocks`` in order."""
        story: list = []
        for block in blocks:
            handler = getattr(self, f"_{block.kind}", None)
            if handler is None:
                raise InputError(f"PDF export: unknown block kind {block.kind!r}")
            story.extend(handler(block))
        return story

    def _p(self, text: str, style: str, **overrides) -> Paragraph:
        st = self.styles[style]
        if overrides:
            st = ParagraphStyle(f"{style}+", st, **overrides)
        return Paragraph(escape(text), st)

    def _blank(self) -> Spacer:
        return Spacer(1, self.layout.line_pt)

    def _heavy(self, text: str) -> Flowable:
        style = self.styles["title"]
        if stringWidth(text, style.fontName, style.fontSize) > self.layout.text_width_mm * mm:
            return self._p(text, "title")
        return HeavyLine(text, style.fontName, style.fontSize, style.leading)

    def _org(self, b: Block) -> list:
        return [self._heavy(b.text)]

    def _title(self, b: Block) -> list:
        return [self._heavy(b.text), self._blank()]

    def _number(self, b: Block) -> list:
        return [self._p(b.text, "number"), self._blank()]

    def _addressee(self, b: Block) -> list:
        return [self._p(b.text, "flush")]

    def _para(self, b: Block) -> list:
        return [self._p(b.text, "body")]

    _item = _para

    def _h1(self, b: Block) -> list:
        return [CondPageBreak(3 * self.layout.line_pt), self._p(b.text, "h1")]

    def _h2(self, b: Block) -> list:
        return [CondPageBreak(3 * self.layout.line_pt), self._p(b.text, "h2")]

    def _annex_note(self, b: Block) -> list:
        return [self._blank(), self._p(b.text, "body")]

    def _signature(self, b: Block) -> list:
        extra = (char_width(b.lines[0] if b.lines else b.text) - char_width(b.text)) / 2
        indent = max(4 + extra, 0) * self.layout.body_pt
        line = self._p(b.text, "flush", alignment=TA_RIGHT, rightIndent=indent)
        return [self._blank(), self._blank(), line]

    def _date(self, b: Block) -> list:
        return [self._p(b.text, "flush", alignment=TA_RIGHT, rightIndent=4 * self.layout.body_pt)]

    def _annex_title(self, b: Block) -> list:
        return [PageBreak(), self._p(b.text, "annex_title"), Spacer(1, self.layout.line_pt / 2)]

    def _photo(self, b: Block) -> list:
        try:
            with PILImage.open(b.image) as img:
                w, h = self.layout.fit_photo(*img.size)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"PDF export: photo file {b.image} cannot be read: {exc}") from exc
        image = Image(str(b.image), width=w * mm, height=h * mm)
        captions = [self._p(line, "hash" if line.startswith("SHA-256") else "caption") for line in b.lines]
        return [KeepTogether([image, Spacer(1, 4), *captions]), Spacer(1, self.layout.line_pt / 2)]

    def _cc(self, b: Block) -> list:
        # 版记 sits at the foot of the last page between two rules (GB/T 9704 7.4).
        table = Table([[self._p(b.text, "cc")]], colWidths=[self.layout.text_width_mm * mm])
        table.setStyle(TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.5, black),
                                   ("LINEBELOW", (0, -1), (-1, -1), 0.5, black),
                                   ("FONTNAME", (0, 0), (-1, -1), self.styles["cc"].fontName),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
        return [TopPadder(table)]


class HeavyLine(Flowable):
    """A centred line drawn filled and stroked: a stand-in for 小标宋's heavy strokes."""

    def __init__(self, text: str, font: str, size: float, leading: float) -> None:
        super().__init__()
        self.text, self.font, self.size, self.leading = text, font, size, leading

    def wrap(self, avail_width, avail_height):
        """Take the full width and one line of ``leading``."""
        self.width = avail_width
        return avail_width, self.leading

    def draw(self) -> None:
        """Draw the text centred, with a thin outline stroke to thicken it."""
        canvas = self.canv
        text = canvas.beginText()
        text.setFont(self.font, self.size)
        text.setTextRenderMode(2)
        x = (self.width - stringWidth(self.text, self.font, self.size)) / 2
        text.setTextOrigin(x, (self.leading - self.size) / 2 + 0.12 * self.size)
        text.textOut(self.text)
        canvas.saveState()
        canvas.setLineWidth(self.size * 0.035)
        canvas.setStrokeColor(black)
        canvas.setFillColor(black)
        canvas.drawText(text)
        canvas.restoreState()
