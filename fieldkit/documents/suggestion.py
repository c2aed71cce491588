"""The 检察建议书 as a plain value object, and its content as an ordered list of blocks.

Fields follow the domain brief §2 (R75, G16, G20): procuratorate, title, number, addressee, case
source, facts of harm (each with time, place, coordinates, feature and chainage, photos), the
organ's duty and how it failed, the legal basis, concrete recommendations, the rectification and
reply deadline, objection terms, reply method, other matters, date and cc list; plus the photo
annex (照片附件) whose captions carry time, place, how the photo was placed, and its SHA-256.

:meth:`SuggestionDocument.blocks` turns the document into :class:`Block` values (heading, body
paragraph, signature…) so the DOCX and PDF exporters lay out exactly the same text.

The date is written per GB/T 9704 7.3.5.1 (Arabic numerals, full year, no leading zeros:
``2025年6月3日``). The rectification deadline is free text (BRIEF §6 Q2): :func:`deadline_text`
gives the default wording, 2 months, or a written reply within 15 days when urgent (J21; G19).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path

from ..errors import InputError

TITLE = "检察建议书"
_DIGITS = "零一二三四五六七八九"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def chinese_numeral(n: int) -> str:
    """``n`` (1–99) in Chinese numerals: 1→一, 10→十, 15→十五, 20→二十."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_numeral supports 1–99, not {n}")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


def cn_date(value: date) -> str:
    """A date as 成文日期: ``2025年6月3日`` (full year, no leading zeros)."""
    return f"{value.year}年{value.month}月{value.day}日"


def cn_time(value: datetime) -> str:
    """A time of day after the date: ``2025年5月1日10时20分``."""
    return f"{cn_date(value)}{value.hour}时{value.minute:02d}分"


def cn_coords(lon: float, lat: float) -> str:
    """WGS-84 coordinates as text: ``东经101.971234°、北纬38.249612°``."""
    ew = "东经" if lon >= 0 else "西经"
    ns = "北纬" if lat >= 0 else "南纬"
    return f"{ew}{abs(lon):.6f}°、{ns}{abs(lat):.6f}°"


def deadline_text(urgent: bool = False) -> str:
    """Default rectification/reply wording: 2 months, or a reply within 15 days when urgent."""
    if urgent:
        return ("鉴于公益损害仍在持续扩大，请你单位自收到本检察建议书之日起十五日内"
                "依法履行职责，并将办理情况书面回复本院。")
    return "请你单位自收到本检察建议书之日起两个月内依法履行职责，并将办理情况书面回复本院。"


def objection_text(days: int) -> str:
    """Objection wording with a period of ``days`` days set by the procuratorate (G16(5))."""
    return f"如对本检察建议有异议，请自收到本检察建议书之日起{chinese_numeral(days)}日内书面向本院提出。"


@dataclass(slots=True, frozen=True)
class FactItem:
    """One finding of harm to the public interest, as stated in the facts section."""

    time: datetime
    place: str
    description: str
    lon: float | None = None
    lat: float | None = None
    feature_name: str = ""
    chainage: str = ""
    photo_refs: tuple[str, ...] = ()

    def heading(self) -> str:
        """The sub-heading: feature name and chainage, or the place."""
        return " ".join(p for p in (self.feature_name, self.chainage) if p) or self.place

    def text(self, photo_numbers: dict[str, int]) -> str:
        """The paragraph: time, place, coordinates, feature/chainage, description, photos."""
        where = self.place
        if self.lon is not None and self.lat is not None:
            where += f"（{cn_coords(self.lon, self.lat)}）"
        if self.feature_name or self.chainage:
            where += f"，位于{self.feature_name}{self.chainage}处"
        photos = "、".join(f"照片{photo_numbers[r]}" for r in self.photo_refs)
        tail = f"（见照片附件{photos}）" if photos else ""
        return f"{cn_time(self.time)}，在{where}，{self.description.rstrip('。')}{tail}。"


@dataclass(slots=True, frozen=True)
class PhotoAnnexItem:
    """A photo of the annex: its JPEG preview and the caption facts."""

    ref: str
    image_path: Path
    taken_at: datetime | None
    place: str
    placement: str
    sha256: str
    lon: float | None = None
    lat: float | None = None

    def caption_lines(self, number: int) -> tuple[str, ...]:
        """Caption lines: number and time, place, how it was placed, SHA-256."""
        when = cn_time(self.taken_at) if self.taken_at else "拍摄时间不详"
        where = self.place
        if self.lon is not None and self.lat is not None:
            where += f"（{cn_coords(self.lon, self.lat)}）"
        return (f"照片{number}　拍摄时间：{when}", f"拍摄地点：{where}",
                f"定位来源：{self.placement}", f"SHA-256：{self.sha256}")


@dataclass(slots=True, frozen=True)
class Block:
    """One laid-out unit of the document; ``kind`` picks the style in each exporter.

    Kinds: ``org``, ``title``, ``number``, ``addressee``, ``para``, ``h1``, ``h2``, ``item``,
    ``annex_note``, ``signature`` (``lines`` holds the date it is centred over), ``date``, ``cc``,
    ``annex_title``, ``photo`` (``image`` set, ``lines`` is the caption).
    """

    kind: str
    text: str = ""
    image: Path | None = None
    lines: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class SuggestionDocument:
    """A 检察建议书 (pre-litigation procuratorial recommendation) ready to export."""

    procuratorate: str
    doc_number: str
    addressee: str
    case_source: str
    facts: tuple[FactItem, ...]
    duty_and_reasons: tuple[str, ...]
    legal_basis: tuple[str, ...]
    recommendations: tuple[str, ...]
    deadline: str
    objection_terms: str
    reply_method: str
    date: date
    other_matters: str = ""
    cc: tuple[str, ...] = ()
    photos: tuple[PhotoAnnexItem, ...] = ()
    title: str = TITLE

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first missing or inconsistent field."""
        for name in ("procuratorate", "doc_number", "addressee", "case_source", "deadline",
                     "objection_terms", "reply_method", "title"):
            if not str(getattr(self, name)).strip():
                raise InputError(f"检察建议书: field '{name}' is empty")
        for name in ("facts", "duty_and_reasons", "legal_basis", "recommendations"):
            if not getattr(self, name) or not all(getattr(self, name)):
                raise InputError(f"检察建议书: field '{name}' needs at least one non-empty item")
        refs = [p.ref for p in self.photos]
        if len(set(refs)) != len(refs):
            raise InputError("检察建议书: field 'photos' has a repeated ref")
        for i, photo in enumerate(self.photos, 1):
            if not _SHA256.fullmatch(photo.sha256):
                raise InputError(f"检察建议书: photos[{i}] ({photo.ref}) sha256 is not 64 lowercase hex")
        for i, fact in enumerate(self.facts, 1):
            if not fact.place.strip() or not fact.description.strip():
                raise InputError(f"检察建议书: facts[{i}] needs a place and a description")
            missing = [r for r in fact.photo_refs if r not in refs]
            if missing:
                raise InputError(f"检察建议书: facts[{i}] refers to photo(s) {missing} not in the annex")

    def blocks(self) -> list[Block]:
        """The whole document, in reading order, as :class:`Block` values."""
        numbers = {p.ref: i for i, p in enumerate(self.photos, 1)}
        out = [Block("org", self.procuratorate), Block("title", self.title),
               Block("number", self.doc_number), Block("addressee", f"{self.addressee}："),
               Block("para", self.case_source)]
        for n, (heading, body) in enumerate(self._sections(numbers), 1):
            out.append(Block("h1", f"{chinese_numeral(n)}、{heading}"))
            out.extend(body)
        if self.photos:
            out.append(Block("annex_note", f"附件：照片附件（共{len(self.photos)}张）"))
        out += [Block("signature", self.procuratorate, lines=(cn_date(self.date),)),
                Block("date", cn_date(self.date))]
        if self.photos:
            out.append(Block("annex_title", "照片附件"))
            out += [Block("photo", image=p.image_path, lines=p.caption_lines(i))
                    for i, p in enumerate(self.photos, 1)]
        if self.cc:
            out.append(Block("cc", "抄送：" + "，".join(self.cc) + "。"))
        return out

    def _sections(self, numbers: dict[str, int]) -> list[tuple[str, list[Block]]]:
        facts: list[Block] = []
        for i, fact in enumerate(self.facts, 1):
            facts += [Block("h2", f"（{chinese_numeral(i)}）{fact.heading()}"),
                      Block("para", fact.text(numbers))]
        basis = "、".join(self.legal_basis)
        sections = [
            ("公益受损的事实", facts),
            ("行政机关的法定职责及未依法履行职责的事实和理由",
             [Block("para", p) for p in self.duty_and_reasons]),
            ("提出检察建议的法律依据",
             [Block("para", f"根据{basis}的规定，本院向你单位提出如下检察建议：")]),
            ("检察建议", [Block("item", f"{i}. {r}") for i, r in enumerate(self.recommendations, 1)]),
            ("整改及书面回复期限", [Block("para", self.deadline)]),
            ("异议期限", [Block("para", self.objection_terms)]),
            ("书面回复方式", [Block("para", self.reply_method)]),
        ]
        if self.other_matters.strip():
            sections.append(("其他事项", [Block("para", self.other_matters)]))
        return sections

    def required_texts(self) -> list[str]:
        """Every field's text as it must appear in an export (used by checks and tests)."""
        numbers = {p.ref: i for i, p in enumerate(self.photos, 1)}
        texts = [self.procuratorate, self.title, self.doc_number, self.addressee, self.case_source,
                 *self.duty_and_reasons, *self.legal_basis, *self.recommendations, self.deadline,
                 self.objection_terms, self.reply_method, cn_date(self.date), *self.cc]
        texts += [f.text(numbers) for f in self.facts]
        texts += [line for i, p in enumerate(self.photos, 1) for line in p.caption_lines(i)]
        return texts + ([self.other_matters] if self.other_matters.strip() else [])
