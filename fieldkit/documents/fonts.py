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

**PDF fonts.** reportlab embeds only TrueType (glyf) fonts, not CFF/OTF. The PDF wants a font per
role: ``fangsong`` (仿宋, body), ``title`` (小标宋), ``song`` (宋体, page numbers), ``kai`` (楷体) and
``hei`` (黑体). :func:`resolve_pdf_fonts` looks for the *real* typefaces first — the files an office
installs from Windows or Founder/SinoType packages (:data:`REAL_FONTS`: ``simfang.ttf``,
``STFANGSO.TTF``, ``FZXBSJW.TTF``, ``simkai.ttf``, ``simhei.ttf`` …) — in the folder named by the
``font_dir`` setting (``FIELDKIT_FONT_DIR``), then by family through fontconfig and in the system font
folders. No free 仿宋 or 小标宋 exists in Debian, so without those files the roles fall back to the
installed CJK fonts: AR PL UMing CN (a 明体/宋体, **fonts-arphic-uming**) for 仿宋, 小标宋 and 宋体,
AR PL UKai CN (**fonts-arphic-ukai**) for 楷体, WenQuanYi Zen Hei (**fonts-wqy-zenhei**) for 黑体;
each role falls back to the others, so fonts-arphic-uming alone is enough. A fallback is marked
``stand_in`` and :func:`describe_fonts` says so; the PDF records that text as its Creator and the
choice is logged, so nobody mistakes 明体 for 仿宋.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigError

MM_PER_PT = 25.4 / 72
log = logging.getLogger(__name__)


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
    stand_in: bool = False  # True when the font stands in for a typeface of another style


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
    match = _fc_match(candidate.family)
    if match is not None:
        return FontFile(candidate.family, *match)
    return candidate if candidate.path.is_file() else None


@functools.lru_cache(maxsize=256)
def _fc_match(family: str) -> tuple[Path, int] | None:
    """fontconfig's TrueType file and index for exactly ``family``, or None. Cached for the
    process: each call starts fc-match (tens of milliseconds), and a document asks for many."""
    fc_match = shutil.which("fc-match")
    if not fc_match:
        return None
    try:
        out = subprocess.run([fc_match, "-f", "%{family[0]}|%{file}|%{index}", family],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found, _, rest = out.partition("|")
    file, _, index = rest.partition("|")
    if found == family and file.lower().endswith((".ttf", ".ttc")):
        return Path(file), int(index or 0)
    return None


ROLES = ("fangsong", "title", "song", "kai", "hei")
ROLE_NAMES = {"fangsong": "仿宋", "title": "小标宋", "song": "宋体", "kai": "楷体", "hei": "黑体"}
# role → (family as fontconfig knows it, known file names), preferred first.
REAL_FONTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "fangsong": (("仿宋_GB2312", ("仿宋_GB2312.ttf", "FangSong_GB2312.ttf", "fs_GB2312.ttf")),
                 ("FangSong", ("simfang.ttf", "FangSong.ttf", "仿宋.ttf")),
                 ("STFangsong", ("STFANGSO.TTF", "STFangsong.ttf", "华文仿宋.ttf")),
                 ("FZFangSong-Z02S", ("FZFSK.TTF", "FZFSJW.TTF", "FZFangSong-Z02S.ttf"))),
    "title": (("方正小标宋简体", ("FZXBSJW.TTF", "FZXBSJW--GB1-0.ttf", "方正小标宋简体.ttf")),
              ("FZXiaoBiaoSong-B05S", ("FZXiaoBiaoSong-B05S.ttf", "FZXBSK.TTF", "方正小标宋_GBK.ttf")),
              ("STZhongsong", ("STZHONGS.TTF", "STZhongsong.ttf", "华文中宋.ttf"))),
    "song": (("SimSun", ("simsun.ttc", "simsun.ttf", "宋体.ttf")), ("STSong", ("STSONG.TTF", "华文宋体.ttf"))),
    "kai": (("楷体_GB2312", ("楷体_GB2312.ttf", "KaiTi_GB2312.ttf")), ("KaiTi", ("simkai.ttf", "楷体.ttf")),
            ("STKaiti", ("STKAITI.TTF", "华文楷体.ttf"))),
    "hei": (("SimHei", ("simhei.ttf", "黑体.ttf")), ("STHeiti", ("STHEITI.TTF", "STXIHEI.TTF"))),
}
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"),
                    Path.home() / ".local/share/fonts", Path.home() / ".fonts")


def is_truetype(path: Path) -> bool:
    """Whether ``path`` is a TrueType font or collection with glyf outlines (not CFF/OTF)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            if head[:4] == b"ttcf" and len(head) == 16:
                fh.seek(int.from_bytes(head[12:16], "big"))
                head = fh.read(4)
    except OSError:
        return False
    return head[:4] in (b"\x00\x01\x00\x00", b"true")


def _files_by_name(folders) -> dict[str, Path]:
    """Font files under ``folders`` (recursively) keyed by lower-case file name; earlier folders win."""
    return dict(_scan_folders(tuple(str(f) for f in folders if f is not None)))


@functools.lru_cache(maxsize=32)
def _scan_folders(folders: tuple[str, ...]) -> tuple[tuple[str, Path], ...]:
    """:func:`_files_by_name` for the process: walking the system font folders takes a while."""
    found: dict[str, Path] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in (".ttf", ".ttc") and path.is_file():
                found.setdefault(path.name.lower(), path)
    return tuple(found.items())


def find_real_font(role: str, font_dir: Path | None = None, system_dirs=None) -> FontFile | None:
    """The real typeface of ``role`` (:data:`REAL_FONTS`): a known file in ``font_dir``, else an
    installed family (fontconfig), else a known file in ``system_dirs``; TrueType only, or None."""
    candidates = REAL_FONTS.get(role, ())
    for folders in ([font_dir], None, list(SYSTEM_FONT_DIRS if system_dirs is None else system_dirs)):
        if folders is None:
            hit = next((f for f in (locate(FontFile(fam, Path("/nonexistent"))) for fam, _ in candidates)
                        if f is not None and is_truetype(f.path)), None)
        else:
            files = _files_by_name(folders)
            hit = next((FontFile(fam, files[n.lower()]) for fam, names in candidates for n in names
                        if n.lower() in files and is_truetype(files[n.lower()])), None)
        if hit is not None:
            return hit
    return None


def resolve_pdf_fonts(overrides: dict[str, FontFile] | None = None,
                      font_dir: Path | None = None) -> dict[str, FontFile]:
    """A TrueType font for each of :data:`ROLES`: ``overrides``, else the real typeface
    (:func:`find_real_font`), else the installed CJK stand-ins (marked ``stand_in``).

    Raises :class:`ConfigError` naming what was tried when no CJK TrueType font is found at all.
    """
    found: dict[str, FontFile] = dict(overrides or {})
    for role in ROLES:
        if role not in found:
            hit = find_real_font(role, font_dir)
            if hit is None:
                hit = next((f for f in map(locate, PDF_CANDIDATES.get(role, ())) if f is not None), None)
            if hit is not None:
                found[role] = hit
    if not found:
        tried = ", ".join(f"{c.family} ({c.path})" for cs in PDF_CANDIDATES.values() for c in cs)
        raise ConfigError(f"no TrueType CJK font found for the PDF (tried {tried}); {INSTALL_HINT}")
    order = [found.get(r) for r in ("song", "fangsong", "title", "kai", "hei")]
    fallback = next(f for f in order if f is not None)
    chosen = {}
    for role in ROLES:
        font = found.get(role)
        if font is None:
            near = found.get("song") if role in ("fangsong", "title") else None
            font = replace(near or fallback, stand_in=True)
        chosen[role] = font
    log.info("PDF fonts: %s", describe_fonts(chosen))
    return chosen


def describe_fonts(fonts: dict[str, FontFile]) -> str:
    """One line naming the font used for each role, e.g. ``仿宋=AR PL UMing CN (uming.ttc, stand-in)``."""
    return "; ".join(f"{ROLE_NAMES.get(role, role)}={font.family} ({font.path.name}"
                     f"{', stand-in' if font.stand_in else ''})" for role, font in fonts.items())
