"""Page geometry and typefaces for exported documents (GB/T 9704-2012), shared by DOCX and PDF.

**Geometry.** A4 210×297 mm; margins top 37, binding/left 28, bottom 35, right 26 mm (text block
156×225 mm). Line spacing defaults to a fixed 28 pt, which fits the standard's 22 lines in 225 mm
(29 pt would give 21). **Open question (BRIEF §6 Q6):** some offices use other margins, 28–30 pt
lines or other fonts, so every value is a field of :class:`Layout`.

**DOCX fonts.** Word needs a font *name*. The body is written as ``w:eastAsia="仿宋"`` (ships with
Windows since Vista as FangSong and with WPS), not ``仿宋_GB2312`` (only on old or customised
systems); ``仿宋_GB2312`` is recorded as ``w:altName`` in the font table so a
system that only has that can match (Word reads one ``w:altName`` per font, so only the
first alternative is written). Digits and Latin letters use Times New Roman (SPP practice).

**PDF fonts.** reportlab embeds only TrueType (glyf) fonts, not CFF/OTF, so Debian's fonts-noto-cjk
will not do. No free 仿宋 exists in Debian; the PDF uses AR PL UMing CN (a 明体/宋体,
Debian package **fonts-arphic-uming**) for body, title and page numbers, AR PL UKai CN
(**fonts-arphic-ukai**) for 楷体 headings and WenQuanYi Zen Hei (**fonts-wqy-zenhei**) for 黑体
headings. Each role falls back to the others, so fonts-arphic-uming alone is enough.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

MM_PER_PT = 25.4 / 72


@dataclass(slots=True, frozen=True)
class DocxFont:
    """A Word font name and alternative names recorded in the font table."""

    name: str
    alt_names: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class Layout:
    """Page, spacing and font settings (defaults per GB/T 9704-2012; see the module docstring)."""

    page_width_mm: float = 210.0
    page_height_mm: float = 297.0
    top_mm: float = 37.0
    left_mm: float = 28.0
    bottom_mm: float = 35.0
    right_mm: float = 26.0
    body_pt: float = 16.0  # 三号
    title_pt: float = 22.0  # 二号
    page_number_pt: float = 14.0  # 四号
    caption_pt: float = 12.0  # 小四, so two photos and captions fit on an annex page
    hash_pt: float = 10.5  # 五号, so a SHA-256 fits on one line
    line_pt: float = 28.0
    number_align: str = "center"  # GB/T 9704 7.2.5; "right" for the legal-document style (§6 Q1)
    photo_width_mm: float = 110.0  # annex photo box (two photos and 版记 fit on a page); aspect kept
    photo_height_mm: float = 66.0
    latin: str = "Times New Roman"
    body: DocxFont = DocxFont("仿宋", ("仿宋_GB2312", "FangSong"))
    title: DocxFont = DocxFont("方正小标宋简体", ("小标宋", "华文中宋", "宋体"))
    h1: DocxFont = DocxFont("黑体", ("SimHei",))
    h2: DocxFont = DocxFont("楷体", ("楷体_GB2312", "KaiTi"))
    page_number: DocxFont = DocxFont("宋体", ("SimSun",))

    def __post_init__(self) -> None:
        if self.number_align not in ("center", "right"):
            raise ConfigError(f"layout number_align must be 'center' or 'right', not {self.number_align!r}")
        if not 20 <= self.line_pt <= 40:
            raise ConfigError(f"layout line_pt {self.line_pt} is outside 20–40 pt")
        if (self.left_mm + self.right_mm >= self.page_width_mm
                or self.top_mm + self.bottom_mm >= self.page_height_mm):
            raise ConfigError("layout margins leave no text block")

    @property
    def text_width_mm(self) -> float:
        """Width of the text block (版心), 156 mm by default."""
        return self.page_width_mm - self.left_mm - self.right_mm

    def fit_photo(self, width_px: int, height_px: int) -> tuple[float, float]:
        """Size in mm of a ``width_px``×``height_px`` photo scaled into the annex photo box."""
        scale = min(self.photo_width_mm / width_px, self.photo_height_mm / height_px)
        return width_px * scale, height_px * scale

    @property
    def indent_pt(self) -> float:
        """Two body characters (首行缩进二字)."""
        return 2 * self.body_pt


def char_width(text: str) -> float:
    """Width of ``text`` in body characters: ASCII counts half, everything else one."""
    return sum(0.5 if ord(c) < 128 else 1.0 for c in text)


@dataclass(slots=True, frozen=True)
class FontFile:
    """A TrueType font file (or collection member) to embed in PDFs."""

    family: str
    path: Path
    index: int = 0


# role → candidate families with their usual Debian paths (fc-match is tried first).
PDF_CANDIDATES: dict[str, tuple[FontFile, ...]] = {
    "song": (FontFile("AR PL UMing CN", Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),),
    "kai": (FontFile("AR PL UKai CN", Path("/usr/share/fonts/truetype/arphic/ukai.ttc"), 0),),
    "hei": (FontFile("WenQuanYi Zen Hei", Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
            FontFile("WenQuanYi Micro Hei", Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0)),
}
INSTALL_HINT = ("install the Debian package fonts-arphic-uming (optionally fonts-arphic-ukai and "
                "fonts-wqy-zenhei), or pass fonts= with TrueType (glyf) .ttf/.ttc files")


def locate(candidate: FontFile) -> FontFile | None:
    """``candidate`` as installed: found by fc-match (exact family) or at its known path."""
    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            out = subprocess.run([fc_match, "-f", "%{family[0]}|%{file}|%{index}", candidate.family],
                                 capture_output=True, text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        family, _, rest = out.partition("|")
        file, _, index = rest.partition("|")
        if family == candidate.family and file.lower().endswith((".ttf", ".ttc")):
            return FontFile(candidate.family, Path(file), int(index or 0))
    return candidate if candidate.path.is_file() else None


def resolve_pdf_fonts(overrides: dict[str, FontFile] | None = None) -> dict[str, FontFile]:
    """A TrueType font for each role ``song``/``kai``/``hei``; missing roles borrow another's.

    Raises :class:`ConfigError` naming what was tried when no CJK TrueType font is installed.
    """
    found: dict[str, FontFile] = dict(overrides or {})
    for role, candidates in PDF_CANDIDATES.items():
        if role not in found:
            hit = next((f for f in map(locate, candidates) if f is not None), None)
            if hit is not None:
                found[role] = hit
    if not found:
        tried = ", ".join(f"{c.family} ({c.path})" for cs in PDF_CANDIDATES.values() for c in cs)
        raise ConfigError(f"no TrueType CJK font found for the PDF (tried {tried}); {INSTALL_HINT}")
    order = [found.get("song"), found.get("kai"), found.get("hei")]
    fallback = next(f for f in order if f is not None)
    return {role: found.get(role, fallback) for role in ("song", "kai", "hei")}
