"""What an export covers: a small scope (inspection, layer kinds, date range, bbox) and the
queries that select photos, findings, cases and features inside it.

Kept here so the exports need not wait for ``fieldkit.reports.scope``; the two can be unified.
Photo queries honour visibility: pass the logged-in ``viewer`` from the web app (``None`` sees
nothing, as in :mod:`fieldkit.queries`); the CLI passes :data:`UNRESTRICTED`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any, Mapping

from sqlalchemy import and_, func, or_, select

from ..errors import InputError, NotFoundError
from ..findings.service import FindingView, list_findings
from ..findings.taxonomy import Taxonomy, load_taxonomy
from ..queries import BBox, parse_bbox, parse_date, parse_kinds, visibility_clause
from ..store import (
    Case,
    CaseFinding,
    Feature,
    Finding,
    FindingPhoto,
    Inspection,
    Layer,
    Photo,
    PhotoFeatureLink,
    PhotoSubmission,
    User,
)

UNRESTRICTED = object()  # viewer for trusted callers (the CLI): every photo


@functools.lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """The packaged finding taxonomy (category and domain names), loaded once."""
    return load_taxonomy()


@dataclasses.dataclass(frozen=True, slots=True)
class ExportScope:
    """Filters of an export; ``None`` means "any". Dates are inclusive (UTC days)."""

    inspection: str | None = None  # inspection name or id
    kinds: tuple[str, ...] | None = None  # layer kinds the photos/findings are joined to
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    bbox: BBox | None = None

    def describe(self) -> str:
        """A one-line Chinese description for titles and file metadata."""
        parts = []
        if self.inspection:
            parts.append(f"巡查：{self.inspection}")
        if self.kinds:
            from ..labels import LAYER_KINDS_ZH

            parts.append("类型：" + "、".join(LAYER_KINDS_ZH.get(k, k) for k in self.kinds))
        if self.date_from or self.date_to:
            parts.append(f"日期：{self.date_from or '…'} 至 {self.date_to or '…'}")
        if self.bbox:
            b = self.bbox
            parts.append(f"范围：{b.minx:.4f},{b.miny:.4f},{b.maxx:.4f},{b.maxy:.4f}")
        return "；".join(parts) or "全部"


@dataclasses.dataclass(frozen=True, slots=True)
class PhotoRecord:
    """A photo with the names an export shows (inspection, uploader)."""

    id: int
    sha256: str
    original_name: str
    size_bytes: int
    format: str | None
    taken_at: str | None
    taken_at_utc: dt.datetime | None
    lon: float | None
    lat: float | None
    alt: float | None
    bearing: float | None
    location_source: str
    location_note: str | None
    inspection: str | None
    uploaded_by: str | None
    ingested_at: dt.datetime


def parse_scope(args: Mapping[str, Any]) -> ExportScope:
    """A scope from text arguments (web query or CLI): ``inspection``, ``kind`` (comma list),
    ``from``/``to`` (YYYY-MM-DD), ``bbox`` (minx,miny,maxx,maxy). Bad values → InputError."""
    scope = ExportScope(
        inspection=(str(args.get("inspection") or "").strip() or None),
        kinds=parse_kinds(args.get("kind") or None),
        date_from=parse_date(args.get("from"), "from"),
        date_to=parse_date(args.get("to"), "to"),
        bbox=parse_bbox(args.get("bbox") or None),
    )
    if scope.date_from and scope.date_to and scope.date_from > scope.date_to:
        raise InputError(f"from={scope.date_from} is after to={scope.date_to}")
    return scope


def inspection_id(rt, scope: ExportScope) -> int | None:
    """The id of the scope's inspection (by name, or by id when a number); NotFoundError if none."""
    if scope.inspection is None:
        return None
    with rt.db.session() as s:
        row = s.scalar(select(Inspection.id).where(Inspection.name == scope.inspection))
        if row is None and scope.inspection.isdigit():
            row = s.scalar(select(Inspection.id).where(Inspection.id == int(scope.inspection)))
    if row is None:
        raise NotFoundError(f"inspection {scope.inspection!r} not found")
    return row


def _kind_layers(kinds: tuple[str, ...]):
    return select(Layer.id).where(Layer.kind.in_(kinds))


def photo_conditions(rt, scope: ExportScope, viewer: Any = UNRESTRICTED) -> list:
    """SQL conditions on :class:`Photo` for the scope (placed or not) and the viewer."""
    conds: list = [] if viewer is UNRESTRICTED else [visibility_clause(viewer)]
    insp = inspection_id(rt, scope)
    if insp is not None:
        conds.append(Photo.inspection_id == insp)
    if scope.kinds:
        linked = select(PhotoFeatureLink.photo_id).where(PhotoFeatureLink.layer_id.in_(_kind_layers(scope.kinds)))
        conds.append(Photo.id.in_(linked))
    when = func.coalesce(Photo.taken_at_utc, Photo.ingested_at)
    if scope.date_from:
        conds.append(when >= dt.datetime.combine(scope.date_from, dt.time()))
    if scope.date_to:
        conds.append(when < dt.datetime.combine(scope.date_to + dt.timedelta(days=1), dt.time()))
    if scope.bbox:
        b = scope.bbox
        conds += [Photo.lon.between(b.minx, b.maxx), Photo.lat.between(b.miny, b.maxy)]
    return conds


def scope_photos(rt, scope: ExportScope, viewer: Any = UNRESTRICTED, *, ids: list[int] | None = None
                 ) -> list[PhotoRecord]:
    """Photos in the scope visible to ``viewer`` (or exactly ``ids``, still filtered by the viewer)."""
    conds = photo_conditions(rt, scope, viewer) if ids is None else (
        [Photo.id.in_(ids)] + ([] if viewer is UNRESTRICTED else [visibility_clause(viewer)]))
    stmt = (select(Photo, Inspection.name, User.username, User.display_name)
            .outerjoin(Inspection, Photo.inspection_id == Inspection.id)
            .outerjoin(User, Photo.uploaded_by_id == User.id)
            .where(*conds).order_by(Photo.id))
    with rt.db.session() as s:
        rows = s.execute(stmt).all()
    return [_photo_record(p, insp, user, display) for p, insp, user, display in rows]


def _photo_record(p: Photo, insp: str | None, user: str | None, display: str | None) -> PhotoRecord:
    who = None if user is None else (f"{display}（{user}）" if display and display != user else user)
    return PhotoRecord(p.id, p.sha256, p.original_name, p.size_bytes, p.format, p.taken_at, p.taken_at_utc,
                       p.lon, p.lat, p.alt, p.bearing, p.location_source, p.location_note, insp, who,
                       p.ingested_at)


def scope_findings(rt, scope: ExportScope) -> list[FindingView]:
    """Findings in the scope: observed in the date range, inside the bbox, on a feature of the
    kinds, and (with an inspection) shown on at least one photo of that inspection."""
    views = list_findings(rt, bbox=_bbox_tuple(scope.bbox), since=scope.date_from, until=scope.date_to)
    conds = []
    insp = inspection_id(rt, scope)
    if insp is not None:
        conds.append(Finding.id.in_(select(FindingPhoto.finding_id).join(Photo, Photo.id == FindingPhoto.photo_id)
                                    .where(Photo.inspection_id == insp)))
    if scope.kinds:
        conds.append(Finding.layer_id.in_(_kind_layers(scope.kinds)))
    if not conds:
        return views
    with rt.db.session() as s:
        keep = set(s.scalars(select(Finding.id).where(*conds)))
    return [v for v in views if v.id in keep]


def _bbox_tuple(bbox: BBox | None):
    return None if bbox is None else (bbox.minx, bbox.miny, bbox.maxx, bbox.maxy)


def is_everything(scope: ExportScope) -> bool:
    """Whether the scope has no filter at all."""
    return scope == ExportScope()


def scope_cases(rt, scope: ExportScope, finding_ids: list[int]) -> list[tuple[Case, list[int]]]:
    """Cases with at least one of ``finding_ids`` (every case when the scope is empty), each with
    the ids of all its findings, oldest case first."""
    with rt.db.session() as s:
        links = s.execute(select(CaseFinding.case_id, CaseFinding.finding_id)
                          .order_by(CaseFinding.case_id, CaseFinding.finding_id)).all()
        by_case: dict[int, list[int]] = {}
        for case_id, fid in links:
            by_case.setdefault(case_id, []).append(fid)
        wanted = set(finding_ids)
        stmt = select(Case).order_by(Case.id)
        if not is_everything(scope):
            stmt = stmt.where(Case.id.in_([c for c, fids in by_case.items() if wanted & set(fids)]))
        cases = list(s.scalars(stmt))
    return [(c, by_case.get(c.id, [])) for c in cases]


def finding_cases(rt, finding_ids: list[int]) -> dict[int, list[int]]:
    """Finding id → ids of the cases it belongs to."""
    out: dict[int, list[int]] = {}
    with rt.db.session() as s:
        for case_id, fid in s.execute(select(CaseFinding.case_id, CaseFinding.finding_id)
                                      .where(CaseFinding.finding_id.in_(finding_ids)).order_by(CaseFinding.case_id)):
            out.setdefault(fid, []).append(case_id)
    return out


def scope_features(rt, scope: ExportScope, findings: list[FindingView], photo_ids: list[int],
                   limit: int = 5000) -> list[tuple[Feature, Layer]]:
    """Features the scope touches: those its findings or photos are joined to, plus (with a bbox)
    those of the scope's kinds intersecting it; boundaries only inside a bbox."""
    conds = [Feature.id.in_([f.feature_id for f in findings if f.feature_id]),
             Feature.id.in_(select(PhotoFeatureLink.feature_id).where(PhotoFeatureLink.photo_id.in_(photo_ids)))]
    if scope.bbox:
        b = scope.bbox
        inside = [Feature.maxx >= b.minx, Feature.minx <= b.maxx, Feature.maxy >= b.miny, Feature.miny <= b.maxy]
        if scope.kinds:
            inside.append(Layer.kind.in_(scope.kinds))
        conds.append(and_(*inside))
    stmt = (select(Feature, Layer).join(Layer, Feature.layer_id == Layer.id)
            .where(or_(*conds)).order_by(Feature.id).limit(limit))
    with rt.db.session() as s:
        return [(f, la) for f, la in s.execute(stmt).all()]


def first_submission(rt, photo_ids: list[int]) -> dict[int, tuple[str | None, dt.datetime]]:
    """Photo id → (username, time) of the first submission of its bytes (who uploaded it)."""
    out: dict[int, tuple[str | None, dt.datetime]] = {}
    with rt.db.session() as s:
        rows = s.execute(select(PhotoSubmission.photo_id, User.username, PhotoSubmission.submitted_at)
                         .outerjoin(User, PhotoSubmission.submitted_by_id == User.id)
                         .where(PhotoSubmission.photo_id.in_(photo_ids)).order_by(PhotoSubmission.id)).all()
    for pid, user, at in rows:
        out.setdefault(pid, (user, at))
    return out
