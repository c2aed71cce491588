"""What a 巡查报告 covers (:class:`ReportScope`) and the plain records a report is built from.

The records (:class:`PhotoItem`, :class:`FindingItem`, :class:`FeatureSection`, :class:`ReportData`)
are small value objects: image bytes are never held here, only evidence-store paths, so a report
of thousands of photos stays small in memory until the writers stream the images one by one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from ..labels import LAYER_KINDS_ZH
from ..queries import BBox, parse_bbox, parse_date, parse_kinds
from ..store.models import LAYER_KINDS

#: ``progress(stage, fraction)``: a short Chinese stage text and 0.0–1.0 of the whole build.
Progress = Callable[[str, float], None]

SECTION_KIND_ZH = {"great_wall": "长城段落", "river": "河段", "fitness_site": "健身场地", "boundary": "区域"}
NO_FEATURE = "未关联要素"
UNKNOWN_BODY = "未确定"


@dataclasses.dataclass(frozen=True, slots=True)
class ReportScope:
    """The scope of a report; every field narrows it, ``None`` means "any".

    ``bbox`` is a WGS84 lon/lat box; ``boundary_feature`` the id of a polygon feature (e.g. a
    county from a boundary layer) whose outline bounds the report; both may be given.
    ``kinds`` limits findings and photos to features of those layer kinds; ``date_from`` and
    ``date_to`` (inclusive) bound the time a finding was observed and a photo was taken.
    """

    inspection: str | None = None
    bbox: BBox | None = None
    boundary_feature: int | None = None
    kinds: tuple[str, ...] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if self.kinds is not None:
            bad = [k for k in self.kinds if k not in LAYER_KINDS]
            if bad:
                raise InputError(f"report scope kind {', '.join(bad)}: unknown; use {', '.join(LAYER_KINDS)}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(f"report scope dates: from {self.date_from} is after to {self.date_to}")
        if self.inspection is not None and not self.inspection.strip():
            raise InputError("report scope inspection: empty name")

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> "ReportScope":
        """Build a scope from text arguments (CLI options or a web form).

        Keys: ``inspection``, ``bbox`` (``minx,miny,maxx,maxy``), ``boundary`` (feature id),
        ``kind`` (comma-separated), ``from`` and ``to`` (YYYY-MM-DD), ``title``.
        """
        boundary = str(args.get("boundary") or "").strip()
        if boundary and not boundary.isdigit():
            raise InputError(f"boundary={boundary!r}: expected a feature id (a whole number)")
        return cls(
            inspection=(str(args.get("inspection") or "").strip() or None),
            bbox=parse_bbox(args.get("bbox")),
            boundary_feature=int(boundary) if boundary else None,
            kinds=parse_kinds(args.get("kind")),
            date_from=parse_date(args.get("from"), "from"),
            date_to=parse_date(args.get("to"), "to"),
            title=(str(args.get("title") or "").strip() or None),
        )

    def describe(self) -> list[tuple[str, str]]:
        """(label, value) pairs in Chinese for the cover page."""
        box = self.bbox
        return [
            ("巡查活动", self.inspection or "全部"),
            ("图层类型", "、".join(LAYER_KINDS_ZH[k] for k in self.kinds) if self.kinds else "全部"),
            ("时间范围", f"{self.date_from or '不限'} 至 {self.date_to or '不限'}"),
            ("范围", f"经度 {box.minx:.4f}–{box.maxx:.4f}，纬度 {box.miny:.4f}–{box.maxy:.4f}"
             if box else "不限"),
        ]


@dataclasses.dataclass(frozen=True, slots=True)
class PhotoItem:
    """One evidence photo as the report shows it."""

    id: int
    sha256: str
    original_name: str
    taken_at: dt.datetime | None  # camera local time (China time when only UTC is known)
    lon: float | None
    lat: float | None
    location_source: str
    size_bytes: int
    inspection: str | None
    uploaded_by: str | None

    @property
    def ref(self) -> str:
        """The label used across the report and the annex (``P12``)."""
        return f"P{self.id}"


@dataclasses.dataclass(frozen=True, slots=True)
class FindingItem:
    """One finding with its category, state, responsible body and photos."""

    id: int
    category_id: str
    category_zh: str
    domain: str | None
    severity: str | None
    state: str
    note: str | None
    place: str | None
    lon: float | None
    lat: float | None
    seen_at: dt.datetime  # observed (UTC), else recorded
    chainage_m: float | None
    body: str
    case_id: int | None
    case_state: str | None
    closed_at: dt.datetime | None
    photo_ids: tuple[int, ...]
    section_key: tuple


@dataclasses.dataclass(slots=True)
class FeatureSection:
    """A segment / reach / site with the findings and photos on it."""

    key: tuple
    kind: str | None
    layer_name: str | None
    fid: str | None
    name: str
    length_m: float | None = None
    findings: list[FindingItem] = dataclasses.field(default_factory=list)
    photo_ids: list[int] = dataclasses.field(default_factory=list)  # photos on no finding here

    @property
    def heading(self) -> str:
        """``长城段落：明长城永昌段（YC-012）``."""
        what = SECTION_KIND_ZH.get(self.kind or "", "要素") if self.kind else "其他"
        fid = f"（{self.fid}）" if self.fid and self.fid != self.name else ""
        return f"{what}：{self.name}{fid}"


@dataclasses.dataclass(slots=True)
class ReportData:
    """Everything a report shows, gathered by :func:`fieldkit.reports.gather`."""

    scope: ReportScope
    generated_at: dt.datetime
    extent: BBox | None
    area: Any  # shapely polygon of the boundary feature, or None
    findings: list[FindingItem]
    photos: dict[int, PhotoItem]
    sections: list[FeatureSection]
    map_layers: list[tuple[str, Any]]  # (kind, shapely geometry) to draw
    area_name: str | None = None

    @property
    def title(self) -> str:
        """The report title (the scope's, else built from the inspection name)."""
        if self.scope.title:
            return self.scope.title
        return f"{self.scope.inspection}巡查报告" if self.scope.inspection else "巡查报告"
