"""The 巡查报告's content as a stream of :class:`Item` values, written alike by DOCX and PDF.

Order: cover; 一、概况 (summary figures); 二、总览图; 三、统计图表; 四、分要素情况 (per segment /
reach / site: its findings with category, state, body, chainage and photos); 附件 照片清单
(every photo with its SHA-256). :func:`report_items` is a generator and photo items carry only
evidence-store paths, so writers open one image at a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from ..documents.drafting import CHINA_TZ, PLACEMENT_ZH
from ..geo.measure import format_chainage
from .charts import CHART_TITLES, CHARTS
from ..labels import CASE_STATES_ZH, FINDING_STATES_ZH, SEVERITIES_ZH
from .scope import FeatureSection, FindingItem, PhotoItem, ReportData

ANNEX_TITLE = "附件：照片清单"
ANNEX_HEADER = ("编号", "拍摄时间", "文件名 / SHA-256")
SUMMARY_HEADER = ("项目", "数量")
_NUMERALS = "一二三四五六七八九十"


@dataclasses.dataclass(frozen=True, slots=True)
class PhotoCell:
    """One photo in a grid: its image file (None when the store has none) and caption lines."""

    photo_id: int
    image: Path | None
    lines: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    """One piece of the report: ``kind`` says which fields matter.

    Kinds: ``title``, ``cover_line``, ``page_break``, ``h1``, ``h2``, ``para``, ``note``
    (small text), ``figure`` (``png`` + ``text`` caption), ``photos`` (``cells``), ``table``
    (``header`` + ``rows``, ``mono`` marks the column drawn in a monospaced font).
    """

    kind: str
    text: str = ""
    png: bytes | None = None
    cells: tuple[PhotoCell, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    widths_mm: tuple[float, ...] = ()
    progress: float | None = None  # share of the body done when this item is reached


def china_time(at: dt.datetime | None) -> str:
    """A naive-UTC instant as China time text ``2025-05-06 10:24``."""
    if at is None:
        return "—"
    return at.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def local_time(at: dt.datetime | None) -> str:
    """A camera-local time as text (already local: no conversion)."""
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else "—"


def summary_rows(data: ReportData) -> list[tuple[str, str]]:
    """The summary figures (label, value) shown under 一、概况."""
    states = Counter(f.state for f in data.findings)
    cases = {f.case_id for f in data.findings if f.case_id is not None}
    features = [s for s in data.sections if s.key != ("none",)]
    return [
        ("发现问题", f"{len(data.findings)} 个"),
        (f"其中{FINDING_STATES_ZH['open']}", f"{states.get('open', 0)} 个"),
        (f"其中{FINDING_STATES_ZH['closed']}", f"{states.get('closed', 0)} 个"),
        ("涉及要素（段落/河段/场地）", f"{len(features)} 处"),
        ("涉及责任主体", f"{len({f.body for f in data.findings})} 个"),
        ("已立案件", f"{len(cases)} 件"),
        ("证据照片", f"{len(data.photos)} 张"),
    ]


def report_items(data: ReportData, evidence, map_png: bytes, charts: dict[str, bytes]) -> Iterator[Item]:
    """The report as items, in order (a generator: photo items are made as they are reached)."""
    yield Item("title", data.title)
    yield Item("cover_line", f"生成时间：{china_time(data.generated_at)}")
    for label, value in data.scope.describe():
        yield Item("cover_line", f"{label}：{value}")
    if data.area_name:
        yield Item("cover_line", f"报告范围：{data.area_name}")
    yield Item("page_break")
    yield Item("h1", "一、概况")
    yield Item("para", _overview_text(data))
    yield Item("table", header=SUMMARY_HEADER, rows=tuple(summary_rows(data)), widths_mm=(90.0, 50.0))
    yield Item("h1", "二、总览图")
    yield Item("figure", "图1 巡查范围总览图（WGS-84）", png=map_png)
    yield Item("h1", "三、统计图表")
    for i, name in enumerate(CHARTS, start=2):
        yield Item("figure", f"图{i} {CHART_TITLES[name]}", png=charts[name])
    yield Item("h1", "四、分要素情况")
    if not data.sections:
        yield Item("para", "范围内没有问题或照片。")
    total = max(len(data.photos) + len(data.findings), 1)
    done = 0
    for n, section in enumerate(data.sections, start=1):
        yield Item("h2", f"（{_numeral(n)}）{section.heading}", progress=done / total)
        yield from _section_items(section, data, evidence)
        done += len(section.findings) + len(section.photo_ids) + sum(len(f.photo_ids) for f in section.findings)
    yield Item("page_break", progress=1.0)
    yield Item("h1", ANNEX_TITLE)
    yield Item("note", f"共 {len(data.photos)} 张。SHA-256 为证据原件的校验值，可用 sha256sum 等工具核对。")
    yield Item("table", header=ANNEX_HEADER, rows=tuple(annex_rows(data)), widths_mm=(18.0, 34.0, 104.0))


def _numeral(n: int) -> str:
    if n <= 10:
        return _NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    if n < 100:
        return ("" if tens == 1 else _NUMERALS[tens - 1]) + "十" + (_NUMERALS[ones - 1] if ones else "")
    return str(n)


def _overview_text(data: ReportData) -> str:
    open_n = sum(1 for f in data.findings if f.state == "open")
    days = sorted(f.seen_at for f in data.findings)
    span = f"，发现时间为{china_time(days[0])[:10]}至{china_time(days[-1])[:10]}" if days else ""
    return (f"本次报告范围内共发现问题{len(data.findings)}个{span}，其中{FINDING_STATES_ZH['open']}{open_n}个；"
            f"涉及证据照片{len(data.photos)}张。各要素的问题、状态和照片见第四部分，"
            "全部照片及其SHA-256校验值见附件。")


def _section_items(section: FeatureSection, data: ReportData, evidence) -> Iterator[Item]:
    facts = [section.layer_name and f"图层：{section.layer_name}",
             section.length_m and f"长度：{section.length_m / 1000:.2f} 千米",
             f"问题：{len(section.findings)} 个"]
    yield Item("note", "；".join(t for t in facts if t))
    for i, finding in enumerate(section.findings, start=1):
        yield Item("para", finding_text(i, finding))
        cells = photo_cells(finding.photo_ids, data.photos, evidence)
        if cells:
            yield Item("photos", cells=cells)
    if section.photo_ids:
        yield Item("note", f"该处其他巡查照片 {len(section.photo_ids)} 张：")
        yield Item("photos", cells=photo_cells(section.photo_ids, data.photos, evidence))


def finding_text(n: int, f: FindingItem) -> str:
    """One finding as a paragraph: category, state, body, chainage, time, place and note."""
    parts = [f"{n}. {f.category_zh}（问题编号F{f.id}）", f"状态：{FINDING_STATES_ZH.get(f.state, f.state)}"]
    if f.closed_at:
        parts.append(f"关闭时间：{china_time(f.closed_at)}")
    if f.case_id is not None:
        parts.append(f"案件：第{f.case_id}号（{CASE_STATES_ZH.get(f.case_state or '', f.case_state)}）")
    parts.append(f"责任主体：{f.body}")
    if f.severity:
        parts.append(f"程度：{SEVERITIES_ZH.get(f.severity, f.severity)}")
    if f.chainage_m is not None:
        parts.append(f"桩号：{format_chainage(f.chainage_m)}")
    parts.append(f"发现时间：{china_time(f.seen_at)}")
    if f.lon is not None and f.lat is not None:
        parts.append(f"位置：{f.lon:.6f}, {f.lat:.6f}")
    if f.place:
        parts.append(f"地点：{f.place}")
    text = "；".join(parts) + "。"
    note = (f.note or "").strip()
    return text + (f"情况：{note}" if note else "")


def photo_image(evidence, sha256: str) -> Path | None:
    """The thumbnail (else the preview) of a photo in the evidence store; None if neither exists."""
    for path in (evidence.thumb_path(sha256), evidence.preview_path(sha256)):
        if path.is_file():
            return path
    return None


def photo_cells(ids, photos: dict[int, PhotoItem], evidence) -> tuple[PhotoCell, ...]:
    """Grid cells for the visible photos among ``ids``."""
    out = []
    for pid in ids:
        p = photos.get(pid)
        if p is None:
            continue
        out.append(PhotoCell(pid, photo_image(evidence, p.sha256),
                             (f"{p.ref} {local_time(p.taken_at)}", PLACEMENT_ZH.get(p.location_source,
                                                                                    p.location_source))))
    return tuple(out)


def annex_rows(data: ReportData) -> Iterator[tuple[str, str, str]]:
    """One annex row per photo: reference, time taken, file name and SHA-256 (newline-separated)."""
    for p in data.photos.values():
        yield (p.ref, local_time(p.taken_at), f"{p.original_name}\n{p.sha256}")



def image_size(path: Path | None) -> tuple[int, int] | None:
    """Pixel size of the image at ``path``; None when there is none or it cannot be read."""
    if path is None:
        return None
    try:
        with PILImage.open(path) as img:
            return img.size
    except (OSError, UnidentifiedImageError):
        return None
