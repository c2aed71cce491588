"""The content of a 回头看记录 (look-back record) for a case, read from the database.

A :class:`LookBackRecord` is plain data: the case, the look-back (dates, inspectors, outcome)
and per finding the old photos (整改前) beside the confirmed new ones (整改后), with times,
places and the verdict. Photos are the evidence store's preview derivatives, as in the
检察建议书 photo annex. Export with :mod:`fieldkit.lookback.record_export`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from ..cases.deadlines import LEGAL_TZ
from ..errors import NotFoundError
from ..findings.taxonomy import Taxonomy, load_taxonomy
from ..geo.measure import format_chainage
from ..store.models import Photo, User
from ..store.models_cases import FindingPhoto
from ..store.models_lookback import LookBack
from .common import case_findings, load_case, load_lookback
from .verdicts import VERDICT_ZH, FindingCheck, checks_of

TITLE = "回头看记录"
OUTCOME_ZH = {"closed": "全部整改到位，结案", "litigation_review": "移送审查起诉", "follow_up": "继续跟进"}


@dataclasses.dataclass(frozen=True, slots=True)
class RecordPhoto:
    """One photo in the record: its preview file, time and place."""

    photo_id: int
    image_path: Path | None  # None when the preview is missing from the evidence store
    taken_at: dt.datetime | None
    lon: float | None
    lat: float | None
    bearing: float | None
    sha256: str

    @property
    def caption(self) -> str:
        """``照片 P12 · 2025-05-06 10:24 · 101.968421, 38.247315 · 朝向 45°``."""
        parts = [f"照片 P{self.photo_id}"]
        if self.taken_at:
            parts.append(f"{self.taken_at:%Y-%m-%d %H:%M}")
        if self.lon is not None and self.lat is not None:
            parts.append(f"{self.lon:.6f}, {self.lat:.6f}")
        if self.bearing is not None:
            parts.append(f"朝向 {self.bearing:.0f}°")
        return " · ".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class RecordItem:
    """One finding: place, verdict, before and after photos."""

    finding_id: int
    category: str
    place: str
    chainage: str | None
    note: str | None
    status: str
    status_zh: str
    verdict_by: str | None
    verdict_at: dt.datetime | None
    verdict_note: str | None
    before: tuple[RecordPhoto, ...]
    after: tuple[RecordPhoto, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class LookBackRecord:
    """Everything a 回头看记录 shows."""

    procuratorate: str
    case_id: int
    case_title: str
    responsible_body: str
    served_on: dt.date | None
    reply_due: dt.date | None
    rectification_due: dt.date | None
    lookback_id: int
    planned_on: dt.date
    done_on: dt.date | None
    inspectors: tuple[str, ...]
    outcome: str | None
    outcome_zh: str
    items: tuple[RecordItem, ...]


def lookback_record(
    rt, case_id: int, lookback_id: int | None = None, *, taxonomy: Taxonomy | None = None
) -> LookBackRecord:
    """The record of a case's look-back (``lookback_id``, else its latest one)."""
    tax = taxonomy or load_taxonomy()
    with rt.db.session() as s:
        case = load_case(s, case_id)
        if lookback_id is None:
            lb = s.scalar(select(LookBack).where(LookBack.case_id == case.id)
                          .order_by(LookBack.planned_on.desc(), LookBack.id.desc()).limit(1))
            if lb is None:
                raise NotFoundError(f"case {case.id} ({case.title}): has no look-back")
        else:
            lb = load_lookback(s, lookback_id)
            if lb.case_id != case.id:
                raise NotFoundError(f"look-back {lookback_id}: not a look-back of case {case.id}")
        names = {u.id: u.display_name or u.username for u in s.scalars(select(User))}
        findings = {f.id: f for f in case_findings(s, case.id)}
        items = tuple(_item(s, rt.evidence, tax, findings[c.finding_id], c, names) for c in checks_of(s, lb))
        return LookBackRecord(
            rt.settings.procuratorate, case.id, case.title, case.responsible_body, case.served_on,
            case.reply_due, case.rectification_due, lb.id, lb.planned_on, lb.done_on,
            tuple(names.get(i, f"用户 {i}") for i in lb.inspector_ids or ()), lb.outcome,
            OUTCOME_ZH.get(lb.outcome or "", "尚未认定"), items,
        )


def _item(s, evidence, tax: Taxonomy, finding, check: FindingCheck, names: dict) -> RecordItem:
    before = s.scalars(select(Photo).join(FindingPhoto, FindingPhoto.photo_id == Photo.id)
                       .where(FindingPhoto.finding_id == finding.id).order_by(FindingPhoto.position))
    after = s.scalars(select(Photo).where(Photo.id.in_(check.new_photo_ids)).order_by(Photo.id))
    category = tax.get(finding.category_id).name_zh if finding.category_id in tax else finding.category_id
    return RecordItem(
        finding.id, category, finding.place or finding.feature_name or "现场",
        None if finding.chainage_m is None else format_chainage(finding.chainage_m), finding.note,
        check.status, VERDICT_ZH.get(check.status, check.status),
        names.get(check.verdict_by_id) if check.verdict_by_id else None, check.verdict_at, check.note,
        tuple(_photo(evidence, p) for p in before), tuple(_photo(evidence, p) for p in after),
    )


def _photo(evidence, p: Photo) -> RecordPhoto:
    path = evidence.preview_path(p.sha256)
    return RecordPhoto(p.id, path if path.is_file() else None, _time(p), p.lon, p.lat, p.bearing, p.sha256)


def _time(p: Photo) -> dt.datetime | None:
    if p.taken_at:
        try:
            return dt.datetime.fromisoformat(p.taken_at).replace(tzinfo=None)
        except ValueError:
            pass
    if p.taken_at_utc is not None:
        return p.taken_at_utc.replace(tzinfo=dt.UTC).astimezone(LEGAL_TZ).replace(tzinfo=None)
    return None
