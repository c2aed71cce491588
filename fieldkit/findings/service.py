"""Findings in the database: record on photos, list and filter, map as GeoJSON, edit, close.

A finding takes its position from its first placed photo (or an explicit ``lat``/``lon``) and
its feature from the photo ↔ feature join: the nearest linked feature of a layer whose kind the
category applies to. Feature id, fid, name and chainage are copied onto the finding, so it still
names its segment after the layer is re-imported. Every change writes the finding rows and one
audit entry in the same write session: a refused change stores nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import ConflictError, InputError, NotFoundError
from ..geo.measure import distance_m, format_chainage
from ..join import index_for_layer
from ..store.lookup import check_actor, get_or_raise
from ..store.models import Layer, Photo, PhotoFeatureLink, utcnow
from ..store.models_cases import FINDING_STATES, Finding, FindingPhoto
from .taxonomy import SEVERITIES, URGENCIES, Category, Taxonomy, load_taxonomy

#: Radius of the duplicate hint, in metres (FixMyStreet shows nearby reports within 250 m).
DUPLICATE_RADIUS_M = 250.0
EDITABLE_FIELDS = ("note", "severity", "urgency", "category_id", "place")
_GEOJSON_KEYS = (
    "id",
    "category_id",
    "domain",
    "name_zh",
    "name_en",
    "severity",
    "urgency",
    "state",
    "note",
    "place",
    "layer_id",
    "feature_fid",
    "feature_name",
    "chainage_m",
)
_M_PER_DEG_LAT = 110_574.0  # smallest metres per degree of latitude (at the equator)


@dataclasses.dataclass(frozen=True, slots=True)
class DuplicateHint:
    """An open finding of the same category near a new one (a hint, not a refusal)."""

    finding_id: int
    distance_m: float
    note: str | None
    feature_name: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class RecordedFinding:
    """What :func:`record_finding` stored, with nearby open findings of the same category."""

    id: int
    category_id: str
    lat: float
    lon: float
    layer_id: int | None
    feature_id: int | None
    feature_name: str | None
    chainage_m: float | None
    duplicates: tuple[DuplicateHint, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class FindingView:
    """A finding with its category names and photos, as lists and the map show it."""

    id: int
    category_id: str
    domain: str | None
    name_zh: str | None
    name_en: str | None
    severity: str | None
    urgency: str | None
    state: str
    note: str | None
    place: str | None
    lat: float | None
    lon: float | None
    observed_at: dt.datetime | None
    layer_id: int | None
    feature_id: int | None
    feature_fid: str | None
    feature_name: str | None
    chainage_m: float | None
    photo_ids: tuple[int, ...]
    created_by_id: int | None
    created_at: dt.datetime

    @property
    def chainage_label(self) -> str | None:
        """Chainage as station text (``K12+300``), or None off a line feature."""
        return None if self.chainage_m is None else format_chainage(self.chainage_m)


_VIEW_COLUMNS = tuple(
    f.name
    for f in dataclasses.fields(FindingView)
    if f.name not in {"domain", "name_zh", "name_en", "photo_ids"}
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Joined:
    layer_id: int | None = None
    feature_id: int | None = None
    feature_fid: str | None = None
    feature_name: str | None = None
    chainage_m: float | None = None


@functools.lru_cache(maxsize=1)
def _packaged_taxonomy() -> Taxonomy:
    return load_taxonomy()


def _tax(taxonomy: Taxonomy | None) -> Taxonomy:
    return taxonomy if taxonomy is not None else _packaged_taxonomy()


def record_finding(
    rt,
    *,
    photo_ids: Sequence[int],
    category_id: str,
    actor_id: int,
    severity: str | None = None,
    urgency: str | None = None,
    note: str = "",
    lat: float | None = None,
    lon: float | None = None,
    at: dt.datetime | None = None,
    taxonomy: Taxonomy | None = None,
    place: str | None = None,
    observed_at: dt.datetime | None = None,
    duplicate_radius_m: float = DUPLICATE_RADIUS_M,
) -> RecordedFinding:
    """Record a finding of ``category_id`` on photos; return it with the duplicate hint.

    Position: ``lat``/``lon`` if given (joined against the category's layers there), else the
    first placed photo's (its join links give the feature). Severity and urgency default from
    the category; ``observed_at`` from the earliest photo time. Unknown category → NotFoundError,
    missing photo → NotFoundError, no position at all → InputError; nothing is stored then.
    """
    category = _tax(taxonomy).get(category_id)
    severity = _choice(severity or category.severity, SEVERITIES, "severity")
    urgency = _choice(urgency or category.urgency, URGENCIES, "urgency")
    manual = _position(lat, lon)
    ids = list(dict.fromkeys(int(p) for p in photo_ids))
    if not ids:
        raise InputError(f"finding of {category_id}: needs at least one photo (photo_ids is empty)")
    joined_manual = _join_point(rt, manual, category) if manual else None
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        photos = _load_photos(s, ids)
        placed = [p for p in photos if p.lat is not None and p.lon is not None]
        if manual is None and not placed:
            raise InputError(
                f"finding of {category_id}: photo(s) {', '.join(map(str, ids))} have no "
                "position; place a photo or give lat and lon"
            )
        lon_, lat_ = manual or (placed[0].lon, placed[0].lat)
        joined = joined_manual or _join_photo(s, placed[0].id, category)
        times = [p.taken_at_utc for p in photos if p.taken_at_utc is not None]
        finding = Finding(
            category_id=category.id,
            severity=severity,
            urgency=urgency,
            note=note or None,
            place=place,
            observed_at=observed_at or (min(times) if times else None),
            lat=lat_,
            lon=lon_,
            state="open",
            created_by_id=actor_id,
            created_at=at,
            **dataclasses.asdict(joined),
        )
        s.add(finding)
        s.flush()
        s.add_all(
            FindingPhoto(finding_id=finding.id, photo_id=pid, position=i, added_at=at)
            for i, pid in enumerate(ids)
        )
        audit.append(
            s, actor_id, "finding", finding.id, "record", {**_snapshot(finding), "photo_ids": ids}, at=at
        )
        hints = _nearby(s, category.id, lon_, lat_, duplicate_radius_m, exclude=finding.id)
    from ..lookback.recurrence import flag_recurrence  # lazy: lookback imports findings

    flag_recurrence(rt, finding.id, actor_id, at=at, taxonomy=taxonomy, months=rt.settings.recurrence_months,
                    radius_m=rt.settings.recurrence_radius_m)
    return RecordedFinding(
        finding.id,
        category.id,
        lat_,
        lon_,
        joined.layer_id,
        joined.feature_id,
        joined.feature_name,
        joined.chainage_m,
        hints,
    )


def nearby_open_findings(
    rt, category_id: str, lon: float, lat: float, radius_m: float = DUPLICATE_RADIUS_M
) -> tuple[DuplicateHint, ...]:
    """Open findings of ``category_id`` within ``radius_m`` (geodesic) of a point, nearest first."""
    lon, lat = _position(lat, lon)
    with rt.db.session() as s:
        return _nearby(s, category_id, lon, lat, radius_m)


def list_findings(
    rt,
    *,
    category_id: str | None = None,
    domain: str | None = None,
    state: str | None = None,
    layer_id: int | None = None,
    bbox: Sequence[float] | None = None,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    created_by: int | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[FindingView]:
    """Findings matching every filter given, oldest id first.

    ``bbox`` is ``(min_lon, min_lat, max_lon, max_lat)``; ``since``/``until`` bound the time
    observed (the record time when no photo time is known), both inclusive; a date ``until``
    includes that whole day.
    """
    tax = _tax(taxonomy)
    query = select(Finding).order_by(Finding.id)
    if category_id is not None:
        query = query.where(Finding.category_id == category_id)
    if domain is not None:
        query = query.where(
            Finding.category_id.in_([c.id for c in tax.categories(domain, include_retired=True)])
        )
    if state is not None:
        query = query.where(Finding.state == _choice(state, FINDING_STATES, "state"))
    if layer_id is not None:
        query = query.where(Finding.layer_id == layer_id)
    if created_by is not None:
        query = query.where(Finding.created_by_id == created_by)
    if bbox is not None:
        x0, y0, x1, y1 = _bbox(bbox)
        query = query.where(Finding.lon.between(x0, x1), Finding.lat.between(y0, y1))
    seen = func.coalesce(Finding.observed_at, Finding.created_at)
    if since is not None:
        query = query.where(seen >= _instant(since, "since"))
    if until is not None:
        end = _instant(until, "until")
        query = query.where(seen < end + dt.timedelta(days=1) if _is_date(until) else seen <= end)
    with rt.db.session() as s:
        rows = list(s.scalars(query))
        photos = _photo_ids(s, [f.id for f in rows])
    return [_view(f, tax, photos.get(f.id, ())) for f in rows]


def get_finding(rt, finding_id: int, taxonomy: Taxonomy | None = None) -> FindingView:
    """One finding as a :class:`FindingView`; NotFoundError if there is none."""
    with rt.db.session() as s:
        finding = _load(s, finding_id)
        photos = _photo_ids(s, [finding.id])
    return _view(finding, _tax(taxonomy), photos.get(finding.id, ()))


def findings_geojson(rt, **filters: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of :func:`list_findings` (same filters) for the map."""
    features = []
    for v in list_findings(rt, **filters):
        geometry = (
            None if v.lon is None or v.lat is None else {"type": "Point", "coordinates": [v.lon, v.lat]}
        )
        props = {k: getattr(v, k) for k in _GEOJSON_KEYS}
        props.update(
            chainage=v.chainage_label,
            photo_ids=list(v.photo_ids),
            observed_at=v.observed_at.isoformat() if v.observed_at else None,
            created_at=v.created_at.isoformat(),
        )
        features.append({"type": "Feature", "id": v.id, "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def update_finding(
    rt,
    finding_id: int,
    actor_id: int,
    *,
    at: dt.datetime | None = None,
    taxonomy: Taxonomy | None = None,
    **fields: Any,
) -> FindingView:
    """Change note, severity, urgency, category or place of an open finding; audit before/after.

    A new category whose layer kinds differ re-derives the joined feature for those kinds.
    """
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise InputError(
            f"finding {finding_id}: cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE_FIELDS)}"
        )
    tax = _tax(taxonomy)
    for key, choices in (("severity", SEVERITIES), ("urgency", URGENCIES)):
        if key in fields:
            fields[key] = _choice(fields[key], choices, f"finding {finding_id}: {key}")
    for key in ("note", "place"):
        if key in fields:
            fields[key] = (fields[key] or "").strip() or None
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        finding = _load(s, finding_id)
        if finding.state != "open":
            raise ConflictError(f"finding {finding_id}: is {finding.state}; only open findings change")
        before = _snapshot(finding)
        if "category_id" in fields and fields["category_id"] != finding.category_id:
            new = tax.get(fields["category_id"])
            old = tax.get(finding.category_id) if finding.category_id in tax else None
            if old is None or set(old.layer_kinds) != set(new.layer_kinds):
                _rejoin(rt, s, finding, new)
        for key, value in fields.items():
            setattr(finding, key, value)
        after = _snapshot(finding)
        changed = [k for k in after if after[k] != before[k]]
        if changed:
            audit.append(
                s,
                actor_id,
                "finding",
                finding.id,
                "edit",
                {"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}},
                at=at,
            )
        photos = _photo_ids(s, [finding.id])
    return _view(finding, tax, photos.get(finding.id, ()))


def close_finding(
    rt, finding_id: int, actor_id: int, *, reason: str = "", at: dt.datetime | None = None
) -> None:
    """Close an open finding (it stops counting as a duplicate); ConflictError if already closed."""
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        finding = _load(s, finding_id)
        if finding.state == "closed":
            raise ConflictError(f"finding {finding_id}: already closed")
        finding.state = "closed"
        audit.append(s, actor_id, "finding", finding.id, "close", {"reason": reason.strip() or None}, at=at)


# --- helpers ---------------------------------------------------------------------------------


def _snapshot(f: Finding) -> dict[str, Any]:
    keys = (
        "category_id",
        "severity",
        "urgency",
        "note",
        "place",
        "observed_at",
        "lat",
        "lon",
        "layer_id",
        "feature_id",
        "feature_fid",
        "feature_name",
        "chainage_m",
        "state",
    )
    return audit.json_ready({k: getattr(f, k) for k in keys})


def _view(f: Finding, tax: Taxonomy, photo_ids: Iterable[int]) -> FindingView:
    cat = tax.get(f.category_id) if f.category_id in tax else None
    names = {"domain": cat and cat.domain, "name_zh": cat and cat.name_zh, "name_en": cat and cat.name_en}
    own = {k: getattr(f, k) for k in _VIEW_COLUMNS}
    return FindingView(**own, **names, photo_ids=tuple(photo_ids))


def _photo_ids(s: Session, finding_ids: list[int]) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for i in range(0, len(finding_ids), 500):
        rows = s.execute(
            select(FindingPhoto.finding_id, FindingPhoto.photo_id)
            .where(FindingPhoto.finding_id.in_(finding_ids[i : i + 500]))
            .order_by(FindingPhoto.finding_id, FindingPhoto.position)
        )
        for fid, pid in rows:
            out.setdefault(fid, []).append(pid)
    return {k: tuple(v) for k, v in out.items()}


def _load(s: Session, finding_id: int) -> Finding:
    return get_or_raise(s, Finding, finding_id, "finding")


def _load_photos(s: Session, ids: list[int]) -> list[Photo]:
    found = {p.id: p for p in s.scalars(select(Photo).where(Photo.id.in_(ids)))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"photo {', '.join(missing)}: not found")
    return [found[i] for i in ids]


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InputError(f"{what}: {value!r} is not one of {', '.join(choices)}")
    return value


def _position(lat: Any, lon: Any) -> tuple[float, float] | None:
    """``(lon, lat)`` validated, or None when neither is given."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise InputError("finding position: give both lat and lon, or neither")
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InputError(f"finding position: lat={lat!r}, lon={lon!r} are not numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"finding position: lat={lat}, lon={lon} is not a WGS84 position")
    return lon, lat


def _bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InputError(f"bbox: expected (min_lon, min_lat, max_lon, max_lat), got {bbox!r}") from None
    if not all(map(math.isfinite, (x0, y0, x1, y1))) or x0 > x1 or y0 > y1:
        raise InputError(f"bbox: {bbox!r} is not (min_lon, min_lat, max_lon, max_lat) with min <= max")
    return x0, y0, x1, y1


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _instant(value: Any, what: str) -> dt.datetime:
    if _is_date(value):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        raise InputError(f"{what}: expected a date or datetime, got {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _join_photo(s: Session, photo_id: int, category: Category) -> _Joined:
    """The nearest feature linked to the photo in a layer of the category's kinds."""
    row = s.execute(
        select(PhotoFeatureLink, Layer.kind)
        .join(Layer, Layer.id == PhotoFeatureLink.layer_id)
        .where(PhotoFeatureLink.photo_id == photo_id, Layer.kind.in_(category.layer_kinds))
        .order_by(PhotoFeatureLink.distance_m, PhotoFeatureLink.layer_id)
        .limit(1)
    ).first()
    if row is None:
        return _Joined()
    link = row[0]
    return _Joined(link.layer_id, link.feature_id, link.feature.fid, link.feature.name, link.chainage_m)


def _join_point(rt, lon_lat: tuple[float, float], category: Category) -> _Joined:
    """The nearest feature within tolerance of a point over the category's layers."""
    with rt.db.session() as s:
        layers = list(s.scalars(select(Layer).where(Layer.kind.in_(category.layer_kinds)).order_by(Layer.id)))
    best: tuple[float, int, Any] | None = None
    for layer in layers:
        hit = index_for_layer(rt.db, layer).nearest([lon_lat[0]], [lon_lat[1]])[0]
        if hit is not None and (best is None or hit.distance_m < best[0]):
            best = (hit.distance_m, layer.id, hit)
    if best is None:
        return _Joined()
    _, layer_id, hit = best
    return _Joined(layer_id, hit.feature_id, hit.fid, hit.name, hit.chainage_m)


def _rejoin(rt, s: Session, finding: Finding, category: Category) -> None:
    """Re-derive the finding's feature for a category on other layer kinds."""
    first = s.execute(
        select(Photo)
        .join(FindingPhoto, FindingPhoto.photo_id == Photo.id)
        .where(FindingPhoto.finding_id == finding.id, Photo.lat.is_not(None), Photo.lon.is_not(None))
        .order_by(FindingPhoto.position)
        .limit(1)
    ).scalar_one_or_none()
    if first is not None and (first.lon, first.lat) == (finding.lon, finding.lat):
        joined = _join_photo(s, first.id, category)
    elif finding.lon is not None and finding.lat is not None:
        joined = _join_point(rt, (finding.lon, finding.lat), category)
    else:
        joined = _Joined()
    for key, value in dataclasses.asdict(joined).items():
        setattr(finding, key, value)


def _nearby(
    s: Session, category_id: str, lon: float, lat: float, radius_m: float, exclude: int | None = None
) -> tuple[DuplicateHint, ...]:
    if not (math.isfinite(radius_m) and radius_m >= 0):
        raise InputError(f"duplicate radius must be a distance >= 0 m, got {radius_m}")
    dlat = radius_m / _M_PER_DEG_LAT * 1.01
    dlon = min(180.0, dlat / max(math.cos(math.radians(min(abs(lat) + dlat, 90.0))), 1e-6))
    rows = list(
        s.scalars(
            select(Finding).where(
                Finding.category_id == category_id,
                Finding.state == "open",
                Finding.id != (exclude or -1),
                Finding.lat.between(lat - dlat, lat + dlat),
                Finding.lon.between(lon - dlon, lon + dlon),
            )
        )
    )
    hints = []
    for f in rows:
        d = float(distance_m(lon, lat, f.lon, f.lat))
        if d <= radius_m:
            hints.append(DuplicateHint(f.id, d, f.note, f.feature_name))
    return tuple(sorted(hints, key=lambda h: (h.distance_m, h.finding_id)))
