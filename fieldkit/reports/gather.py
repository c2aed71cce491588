"""Gather the findings, photos and features of a :class:`ReportScope` from the database.

Findings match the scope by position (bbox, boundary polygon), layer kind, time observed and
inspection (a finding belongs to an inspection when one of its photos does). Photos are those of
the findings plus every other placed photo in scope that ``viewer`` may see (visibility as in
:mod:`fieldkit.queries`). Each finding goes under the feature it was joined to; other photos
under the nearest feature of their join links.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable

import shapely
from sqlalchemy import and_, exists, func, select

from ..documents.drafting import CHINA_TZ
from ..errors import InputError, NotFoundError
from ..findings.taxonomy import Taxonomy, load_taxonomy
from ..queries import MAX_FEATURES, BBox, visibility_clause
from ..store import (
    AuditEntry,
    Case,
    CaseFinding,
    Feature,
    Finding,
    FindingPhoto,
    Inspection,
    Layer,
    Photo,
    PhotoFeatureLink,
    User,
)
from ..store.models import utcnow
from .scope import NO_FEATURE, UNKNOWN_BODY, FeatureSection, FindingItem, PhotoItem, ReportData, ReportScope

#: A report lists every photo; beyond this many the scope must be narrowed.
MAX_PHOTOS = 5000
_CHUNK = 500
_KIND_ORDER = {"great_wall": 0, "river": 1, "fitness_site": 2, "boundary": 3, None: 9}


def gather(rt, scope: ReportScope, viewer: User | None, *, taxonomy: Taxonomy | None = None) -> ReportData:
    """Everything the report of ``scope`` shows; photos limited to those ``viewer`` may see.

    Unknown inspection or boundary feature → :class:`NotFoundError`; a boundary feature that
    is not a polygon or a scope of more than :data:`MAX_PHOTOS` photos → :class:`InputError`.
    """
    tax = taxonomy if taxonomy is not None else _packaged_taxonomy()
    with rt.db.session() as s:
        inspection_id = _inspection(s, scope.inspection)
        area, area_name = _boundary(s, scope.boundary_feature)
        box = _query_box(scope.bbox, area)
        findings = _findings(s, scope, box, area, inspection_id, tax)
        photo_ids = _scope_photo_ids(s, scope, box, area, inspection_id, viewer)
        finding_photo_ids = {p for f in findings for p in f.photo_ids}
        visible = _visible(s, finding_photo_ids, viewer)
        findings = [_only_visible(f, visible) for f in findings]
        all_ids = sorted(visible | set(photo_ids))
        if len(all_ids) > MAX_PHOTOS:
            raise InputError(f"report scope has {len(all_ids)} photos; narrow it (at most {MAX_PHOTOS})")
        photos = _photos(s, all_ids)
        loose = sorted(set(photo_ids) - finding_photo_ids)
        sections = _sections(s, findings, _photo_sections(s, loose, scope.kinds))
        extent = _extent(box, findings, photos.values())
        map_layers = _map_layers(s, extent, scope.kinds)
    return ReportData(scope=scope, generated_at=utcnow(), extent=extent, area=area, findings=findings,
                      photos=photos, sections=sections, map_layers=map_layers, area_name=area_name)


@functools.lru_cache(maxsize=1)
def _packaged_taxonomy() -> Taxonomy:
    return load_taxonomy()


def _inspection(s, name: str | None) -> int | None:
    if name is None:
        return None
    found = s.scalar(select(Inspection.id).where(Inspection.name == name.strip()))
    if found is None:
        raise NotFoundError(f"inspection {name!r}: not found")
    return found


def _boundary(s, feature_id: int | None):
    if feature_id is None:
        return None, None
    feature = s.get(Feature, feature_id)
    if feature is None:
        raise NotFoundError(f"boundary feature {feature_id}: not found")
    if feature.geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(f"boundary feature {feature_id} ({feature.name}): is a {feature.geom.geom_type}, "
                         "not a polygon")
    shapely.prepare(feature.geom)
    return feature.geom, feature.name or feature.fid


def _query_box(bbox: BBox | None, area) -> BBox | None:
    if area is None:
        return bbox
    x0, y0, x1, y1 = area.bounds
    if bbox is None:
        return BBox(x0, y0, x1, y1)
    box = BBox(max(x0, bbox.minx), max(y0, bbox.miny), min(x1, bbox.maxx), min(y1, bbox.maxy))
    if box.minx > box.maxx or box.miny > box.maxy:
        raise InputError("report scope: the bbox does not overlap the boundary feature")
    return box


def _day_bounds(scope: ReportScope) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The scope's local (China) days as naive-UTC instants [start, end)."""
    def utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), CHINA_TZ).astimezone(dt.UTC).replace(tzinfo=None)

    start = utc(scope.date_from) if scope.date_from else None
    end = utc(scope.date_to + dt.timedelta(days=1)) if scope.date_to else None
    return start, end


def _inside(area, lons: list[float | None], lats: list[float | None]) -> list[bool]:
    if area is None:
        return [True] * len(lons)
    return [x is not None and y is not None and bool(shapely.contains_xy(area, x, y))
            for x, y in zip(lons, lats)]


def _findings(s, scope, box, area, inspection_id, tax) -> list[FindingItem]:
    seen = func.coalesce(Finding.observed_at, Finding.created_at)
    q = (select(Finding, Layer.kind, Layer.name, Layer.responsible_body)
         .outerjoin(Layer, Finding.layer_id == Layer.id).order_by(Finding.id))
    if box is not None:
        q = q.where(Finding.lon.between(box.minx, box.maxx), Finding.lat.between(box.miny, box.maxy))
    if scope.kinds:
        q = q.where(Layer.kind.in_(scope.kinds))
    start, end = _day_bounds(scope)
    if start is not None:
        q = q.where(seen >= start)
    if end is not None:
        q = q.where(seen < end)
    if inspection_id is not None:
        q = q.where(Finding.id.in_(select(FindingPhoto.finding_id).join(Photo, FindingPhoto.photo_id == Photo.id)
                                   .where(Photo.inspection_id == inspection_id)))
    rows = s.execute(q).all()
    keep = _inside(area, [r[0].lon for r in rows], [r[0].lat for r in rows])
    rows = [r for r, k in zip(rows, keep) if k]
    ids = [r[0].id for r in rows]
    photos, cases, closed = _finding_photos(s, ids), _cases(s, ids), _closed_at(s, ids)
    out = []
    for f, kind, _layer_name, layer_body in rows:
        cat = tax.get(f.category_id) if f.category_id in tax else None
        case = cases.get(f.id)
        body = (case[1] if case else None) or layer_body or (cat.responsible_body if cat else None)
        out.append(FindingItem(
            id=f.id, category_id=f.category_id, category_zh=cat.name_zh if cat else f.category_id,
            domain=cat.domain if cat else None, severity=f.severity, state=f.state, note=f.note,
            place=f.place, lon=f.lon, lat=f.lat, seen_at=f.observed_at or f.created_at,
            chainage_m=f.chainage_m, body=body or UNKNOWN_BODY, case_id=case[0] if case else None,
            case_state=case[2] if case else None, closed_at=closed.get(f.id),
            photo_ids=photos.get(f.id, ()), section_key=_finding_key(f, kind)))
    return out


def _finding_key(f: Finding, kind: str | None) -> tuple:
    if f.feature_id is not None:
        return ("feature", f.feature_id)
    if f.feature_fid or f.feature_name:
        return ("snapshot", f.layer_id, f.feature_fid or f.feature_name, kind, f.feature_name)
    return ("none",)


def _chunks(ids: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _finding_photos(s, ids: list[int]) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for part in _chunks(ids):
        for fid, pid in s.execute(select(FindingPhoto.finding_id, FindingPhoto.photo_id)
                                  .where(FindingPhoto.finding_id.in_(part))
                                  .order_by(FindingPhoto.finding_id, FindingPhoto.position)):
            out.setdefault(fid, []).append(pid)
    return {k: tuple(v) for k, v in out.items()}


def _cases(s, ids: list[int]) -> dict[int, tuple[int, str, str]]:
    """finding id → (case id, responsible body, case state) of its first case."""
    out: dict[int, tuple[int, str, str]] = {}
    for part in _chunks(ids):
        rows = s.execute(select(CaseFinding.finding_id, Case.id, Case.responsible_body, Case.state)
                         .join(Case, CaseFinding.case_id == Case.id)
                         .where(CaseFinding.finding_id.in_(part)).order_by(Case.id))
        for fid, cid, body, state in rows:
            out.setdefault(fid, (cid, body, state))
    return out


def _closed_at(s, ids: list[int]) -> dict[int, dt.datetime]:
    """When each closed finding was closed, from the audit log."""
    out: dict[int, dt.datetime] = {}
    for part in _chunks(ids):
        rows = s.execute(select(AuditEntry.entity_id, AuditEntry.at)
                         .where(AuditEntry.entity == "finding", AuditEntry.action == "close",
                                AuditEntry.entity_id.in_([str(i) for i in part])))
        for eid, at in rows:
            out[int(eid)] = at
    return out


def _visible(s, ids: set[int], viewer: User | None) -> set[int]:
    out: set[int] = set()
    for part in _chunks(sorted(ids)):
        out.update(s.scalars(select(Photo.id).where(Photo.id.in_(part), visibility_clause(viewer))))
    return out


def _only_visible(f: FindingItem, visible: set[int]) -> FindingItem:
    return dataclasses.replace(f, photo_ids=tuple(p for p in f.photo_ids if p in visible))


def _scope_photo_ids(s, scope, box, area, inspection_id, viewer) -> list[int]:
    conds = [visibility_clause(viewer), Photo.lat.isnot(None), Photo.lon.isnot(None)]
    if box is not None:
        conds += [Photo.lon.between(box.minx, box.maxx), Photo.lat.between(box.miny, box.maxy)]
    if inspection_id is not None:
        conds.append(Photo.inspection_id == inspection_id)
    start, end = _day_bounds(scope)
    if start is not None:
        conds.append(Photo.taken_at_utc >= start)
    if end is not None:
        conds.append(Photo.taken_at_utc < end)
    if scope.kinds:
        conds.append(exists().where(PhotoFeatureLink.photo_id == Photo.id, PhotoFeatureLink.layer_id == Layer.id,
                                    Layer.kind.in_(scope.kinds)))
    total = s.scalar(select(func.count(Photo.id)).where(and_(*conds))) or 0
    if total > MAX_PHOTOS:
        raise InputError(f"report scope has {total} photos; narrow it (at most {MAX_PHOTOS})")
    rows = s.execute(select(Photo.id, Photo.lon, Photo.lat).where(and_(*conds)).order_by(Photo.id)).all()
    keep = _inside(area, [r.lon for r in rows], [r.lat for r in rows])
    return [r.id for r, k in zip(rows, keep) if k]


def _photos(s, ids: list[int]) -> dict[int, PhotoItem]:
    out: dict[int, PhotoItem] = {}
    for part in _chunks(ids):
        rows = s.execute(select(Photo.id, Photo.sha256, Photo.original_name, Photo.taken_at, Photo.taken_at_utc,
                                Photo.lon, Photo.lat, Photo.location_source, Photo.size_bytes,
                                Inspection.name, User.username)
                         .outerjoin(Inspection, Photo.inspection_id == Inspection.id)
                         .outerjoin(User, Photo.uploaded_by_id == User.id)
                         .where(Photo.id.in_(part)))
        for r in rows:
            out[r[0]] = PhotoItem(r[0], r[1], r[2], _local_time(r[3], r[4]), r[5], r[6], r[7], r[8], r[9], r[10])
    return dict(sorted(out.items()))


def _local_time(taken_at: str | None, taken_utc: dt.datetime | None) -> dt.datetime | None:
    """The camera's local time as it said it, else the UTC time shown in China time."""
    if taken_at:
        try:
            return dt.datetime.fromisoformat(taken_at).replace(tzinfo=None)
        except ValueError:
            pass
    if taken_utc is not None:
        return taken_utc.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).replace(tzinfo=None)
    return None


def _photo_sections(s, photo_ids: list[int], kinds) -> dict[int, tuple]:
    """photo id → section key of its nearest joined feature (boundaries only locate)."""
    out: dict[int, tuple] = {}
    best: dict[int, float] = {}
    for part in _chunks(photo_ids):
        q = (select(PhotoFeatureLink.photo_id, PhotoFeatureLink.feature_id, PhotoFeatureLink.distance_m)
             .join(Layer, PhotoFeatureLink.layer_id == Layer.id)
             .where(PhotoFeatureLink.photo_id.in_(part), Layer.kind != "boundary"))
        if kinds:
            q = q.where(Layer.kind.in_(kinds))
        for pid, fid, dist in s.execute(q):
            if dist < best.get(pid, float("inf")):
                best[pid], out[pid] = dist, ("feature", fid)
    return {pid: out.get(pid, ("none",)) for pid in photo_ids}


def _sections(s, findings: list[FindingItem], photo_keys: dict[int, tuple]) -> list[FeatureSection]:
    sections: dict[tuple, FeatureSection] = {}
    feature_ids = sorted({k[1] for k in [f.section_key for f in findings] + list(photo_keys.values())
                          if k[0] == "feature"})
    for part in _chunks(feature_ids):
        rows = s.execute(select(Feature.id, Feature.fid, Feature.name, Feature.length_m, Layer.kind, Layer.name)
                         .join(Layer, Feature.layer_id == Layer.id).where(Feature.id.in_(part)))
        for fid, code, name, length, kind, layer in rows:
            sections[("feature", fid)] = FeatureSection(("feature", fid), kind, layer, code, name or code, length)
    for f in findings:
        key = f.section_key
        if key not in sections:
            sections[key] = (FeatureSection(key, key[3], None, key[2], key[4] or key[2]) if key[0] == "snapshot"
                             else FeatureSection(key, None, None, None, NO_FEATURE))
        sections[key].findings.append(f)
    for pid, key in photo_keys.items():
        if key not in sections:
            sections[key] = FeatureSection(key, None, None, None, NO_FEATURE)
        sections[key].photo_ids.append(pid)
    for sec in sections.values():
        sec.findings.sort(key=lambda f: (f.chainage_m is None, f.chainage_m or 0.0, f.id))
    return sorted(sections.values(), key=lambda x: (x.key == ("none",), _KIND_ORDER.get(x.kind, 8), x.name))


def _extent(box: BBox | None, findings: list[FindingItem], photos: Iterable[PhotoItem]) -> BBox | None:
    if box is not None:
        return box
    xs = [f.lon for f in findings if f.lon is not None] + [p.lon for p in photos if p.lon is not None]
    ys = [f.lat for f in findings if f.lat is not None] + [p.lat for p in photos if p.lat is not None]
    if not xs:
        return None
    return BBox(min(xs), min(ys), max(xs), max(ys))


def _map_layers(s, extent: BBox | None, kinds) -> list[tuple[str, object]]:
    """Features to draw: the scope's kinds plus boundaries, simplified to the map's detail."""
    if extent is None:
        return []
    pad = max(extent.width, extent.height, 0.01) * 0.1
    q = (select(Layer.kind, Feature.geom).join(Layer, Feature.layer_id == Layer.id)
         .where(Feature.maxx >= extent.minx - pad, Feature.minx <= extent.maxx + pad,
                Feature.maxy >= extent.miny - pad, Feature.miny <= extent.maxy + pad)
         .order_by(Feature.id).limit(MAX_FEATURES))
    if kinds:
        q = q.where(Layer.kind.in_((*kinds, "boundary")))
    tol = max(extent.width, extent.height, 0.01) / 3000.0
    return [(kind, shapely.simplify(geom, tol, preserve_topology=True)) for kind, geom in s.execute(q)]
