"""Read queries behind the web app's map, photo page and JSON API (no Flask here).

Every photo query takes a ``viewer`` (a :class:`fieldkit.store.User` or ``None``) and applies
visibility: inspectors see photos they uploaded or that a member of their team uploaded;
reviewers and admins see all; ``None`` (nobody logged in) sees nothing.

Coordinates are WGS84 unless ``datum="gcj02"``: then the bbox a client sends is read as GCJ-02
and every coordinate returned is shifted WGS84 -> GCJ-02 to sit on a GCJ-02 basemap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Mapping

import numpy as np
import shapely
from sqlalchemy import and_, func, or_, select

from .errors import ConflictError, FieldkitError, InputError, NotFoundError
from .geo import chinese
from .geo.measure import format_chainage
from .store import Feature, Inspection, Layer, Photo, PhotoFeatureLink, PhotoSubmission, User
from .store.models import LAYER_KINDS

MAX_POINTS = 3000  # above this many photos in a viewport the API answers with grid clusters
GRID_COLS, GRID_ROWS = 48, 32
MAX_FEATURES = 20000
DATUMS = ("wgs84", "gcj02")


class ForbiddenError(FieldkitError):
    """The viewer may see the object but not do this to it."""

    http_status = 403


@dataclasses.dataclass(frozen=True, slots=True)
class BBox:
    """A lon/lat box: west, south, east, north."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    @property
    def width(self) -> float:
        """East-west extent in degrees."""
        return self.maxx - self.minx

    @property
    def height(self) -> float:
        """North-south extent in degrees."""
        return self.maxy - self.miny


@dataclasses.dataclass(frozen=True, slots=True)
class PhotoFilters:
    """Optional filters of the photo queries; ``None`` means "any"."""

    inspection: int | None = None
    inspector: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def parse_bbox(text: str | None) -> BBox | None:
    """Parse ``"minx,miny,maxx,maxy"`` (lon/lat degrees); ``None``/empty means no bbox."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"bbox={text!r}: expected four numbers minx,miny,maxx,maxy") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise InputError(f"bbox={text!r}: expected four finite numbers minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = vals
    if minx > maxx or miny > maxy:
        raise InputError(f"bbox={text!r}: min must not exceed max")
    if miny < -90 or maxy > 90:
        raise InputError(f"bbox={text!r}: latitude outside -90..90")
    return BBox(max(minx, -180.0), miny, min(maxx, 180.0), maxy)


def parse_photo_filters(args: Mapping[str, str]) -> PhotoFilters:
    """Read ``inspection``, ``inspector``, ``from`` and ``to`` (YYYY-MM-DD) from query arguments."""
    insp = (args.get("inspection") or "").strip()
    if insp and not insp.isdigit():
        raise InputError(f"inspection={insp!r}: expected an inspection id (a whole number)")
    return PhotoFilters(
        inspection=int(insp) if insp else None,
        inspector=(args.get("inspector") or "").strip() or None,
        date_from=parse_date(args.get("from"), "from"),
        date_to=parse_date(args.get("to"), "to"),
    )


def parse_date(value: Any, name: str) -> dt.date | None:
    """Parse a ``YYYY-MM-DD`` argument called ``name`` (a date passes through; blank is None)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{name}={value!r}: expected a date YYYY-MM-DD") from None


def parse_kinds(text: str | None) -> tuple[str, ...] | None:
    """Parse ``kind=great_wall,river``; unknown kinds are an :class:`InputError`."""
    if not text:
        return None
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in LAYER_KINDS]
    if bad:
        raise InputError(f"kind={text!r}: unknown kind(s) {', '.join(bad)}; use {', '.join(LAYER_KINDS)}")
    return kinds or None


def _check_datum(datum: str) -> None:
    if datum not in DATUMS:
        raise InputError(f"datum {datum!r}: use one of {', '.join(DATUMS)}")


def _to_wgs84_bbox(bbox: BBox, datum: str) -> BBox:
    if datum == "wgs84":
        return bbox
    xs, ys = chinese.gcj02_to_wgs84(
        np.array([bbox.minx, bbox.maxx, bbox.minx, bbox.maxx]),
        np.array([bbox.miny, bbox.miny, bbox.maxy, bbox.maxy]),
    )
    pad = 0.001  # corners converted exactly; this covers the offset curving along the edges
    return BBox(float(xs.min()) - pad, float(ys.min()) - pad, float(xs.max()) + pad, float(ys.max()) + pad)


def _shift(lon, lat, datum: str):
    return (lon, lat) if datum == "wgs84" else chinese.wgs84_to_gcj02(lon, lat)


def visibility_clause(viewer: User | None):
    """SQL condition selecting the photos ``viewer`` may see."""
    if viewer is None:
        return Photo.id.is_(None)
    if viewer.role in ("reviewer", "admin"):
        return Photo.id.isnot(None)
    team_ids = select(User.id).where(User.team == viewer.team) if viewer.team else None
    own = Photo.uploaded_by_id == viewer.id
    return or_(own, Photo.uploaded_by_id.in_(team_ids)) if team_ids is not None else own


def can_see(viewer: User | None, photo: Photo, uploader: User | None) -> bool:
    """Whether ``viewer`` may see ``photo`` (uploaded by ``uploader``)."""
    if viewer is None:
        return False
    if viewer.role in ("reviewer", "admin") or photo.uploaded_by_id == viewer.id:
        return True
    return bool(viewer.team and uploader is not None and uploader.team == viewer.team)


def can_download_original(viewer: User | None, photo: Photo, uploader: User | None) -> bool:
    """Originals go to reviewers, admins and the uploading inspector or their team."""
    return can_see(viewer, photo, uploader)


def can_place(viewer: User | None, photo: Photo, uploader: User | None) -> bool:
    """Placing a photo by hand: its uploader's team (inspectors) and admins; never reviewers."""
    if viewer is None or viewer.role == "reviewer":
        return False
    return can_see(viewer, photo, uploader)


def _photo_where(bbox: BBox | None, filters: PhotoFilters, viewer: User | None) -> list:
    conds = [visibility_clause(viewer), Photo.lat.isnot(None), Photo.lon.isnot(None)]
    if bbox is not None:
        conds += [Photo.lon.between(bbox.minx, bbox.maxx), Photo.lat.between(bbox.miny, bbox.maxy)]
    if filters.inspection is not None:
        conds.append(Photo.inspection_id == filters.inspection)
    if filters.inspector is not None:
        who = select(User.id).where(
            or_(User.username == filters.inspector, User.id == _int_or_none(filters.inspector))
        )
        conds.append(Photo.uploaded_by_id.in_(who))
    if filters.date_from is not None:
        conds.append(Photo.taken_at_utc >= dt.datetime.combine(filters.date_from, dt.time()))
    if filters.date_to is not None:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time())
        conds.append(Photo.taken_at_utc < end)
    return conds


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def photos_geojson(
    rt, bbox: BBox | None, filters: PhotoFilters, viewer: User | None, *, datum: str = "wgs84"
) -> dict[str, Any]:
    """Visible, placed photos in ``bbox`` as a compact FeatureCollection.

    Up to :data:`MAX_POINTS` photos come back one feature each (properties ``id``, ``t`` time,
    ``src`` location source); beyond that, grid clusters (``cluster: true``, ``count``) so a
    viewport over 50,000 photos stays small. ``properties.total`` of the collection is the count.
    """
    _check_datum(datum)
    qbox = _to_wgs84_bbox(bbox, datum) if bbox is not None else None
    conds = _photo_where(qbox, filters, viewer)
    with rt.db.session() as s:
        total = s.scalar(select(func.count(Photo.id)).where(and_(*conds))) or 0
        if total > MAX_POINTS:
            feats = _grid_clusters(s, conds, qbox or _extent(s, conds), datum)
        else:
            rows = s.execute(
                select(Photo.id, Photo.lon, Photo.lat, Photo.taken_at, Photo.location_source)
                .where(and_(*conds)).order_by(Photo.id)
            ).all()
            feats = _point_features(rows, datum)
    return {"type": "FeatureCollection", "features": feats,
            "properties": {"total": total, "clustered": total > MAX_POINTS, "datum": datum}}


def _point_features(rows, datum: str) -> list[dict]:
    if not rows:
        return []
    lon, lat = _shift(np.array([r.lon for r in rows]), np.array([r.lat for r in rows]), datum)
    return [
        {"type": "Feature", "id": r.id,
         "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]},
         "properties": {"id": r.id, "t": r.taken_at, "src": r.location_source}}
        for r, x, y in zip(rows, lon, lat)
    ]


def _extent(s, conds) -> BBox:
    row = s.execute(select(func.min(Photo.lon), func.min(Photo.lat), func.max(Photo.lon),
                           func.max(Photo.lat)).where(and_(*conds))).one()
    return BBox(*row)


def _grid_clusters(s, conds, box: BBox, datum: str) -> list[dict]:
    cw = max(box.width / GRID_COLS, 1e-9)
    ch = max(box.height / GRID_ROWS, 1e-9)
    gx = func.floor((Photo.lon - box.minx) / cw).label("gx")
    gy = func.floor((Photo.lat - box.miny) / ch).label("gy")
    rows = s.execute(
        select(gx, gy, func.count(Photo.id), func.avg(Photo.lon), func.avg(Photo.lat), func.min(Photo.id))
        .where(and_(*conds)).group_by(gx, gy)
    ).all()
    lon, lat = _shift(np.array([r[3] for r in rows]), np.array([r[4] for r in rows]), datum)
    feats = []
    for r, x, y in zip(rows, np.atleast_1d(lon), np.atleast_1d(lat)):
        props = {"cluster": True, "count": int(r[2])} if r[2] > 1 else {"id": int(r[5])}
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]},
                      "properties": props})
    return feats


def features_geojson(
    rt, bbox: BBox | None, kinds: tuple[str, ...] | None = None, layer: str | None = None,
    *, datum: str = "wgs84",
) -> dict[str, Any]:
    """Layer features intersecting ``bbox`` (by their bbox columns), simplified to the viewport.

    Properties: ``id``, ``fid``, ``name``, ``kind``, ``layer`` (slug), ``layer_name``. At most
    :data:`MAX_FEATURES` come back; ``properties.truncated`` says when more matched.
    """
    _check_datum(datum)
    qbox = _to_wgs84_bbox(bbox, datum) if bbox is not None else None
    conds = []
    if qbox is not None:
        conds += [Feature.maxx >= qbox.minx, Feature.minx <= qbox.maxx,
                  Feature.maxy >= qbox.miny, Feature.miny <= qbox.maxy]
    if kinds:
        conds.append(Layer.kind.in_(kinds))
    if layer:
        conds.append(or_(Layer.slug == layer, Layer.id == _int_or_none(layer)))
    stmt = (select(Feature.id, Feature.fid, Feature.name, Feature.geom, Layer.kind, Layer.slug, Layer.name)
            .join(Layer, Feature.layer_id == Layer.id).where(*conds).order_by(Feature.id)
            .limit(MAX_FEATURES + 1))
    with rt.db.session() as s:
        rows = s.execute(stmt).all()
    truncated = len(rows) > MAX_FEATURES
    rows = rows[:MAX_FEATURES]
    tol = (qbox.width / 2000.0) if qbox is not None else 0.0
    geoms = _prepare_geoms(np.array([r[3] for r in rows], dtype=object), tol, datum)
    feats = [
        {"type": "Feature", "id": r[0], "geometry": g,
         "properties": {"id": r[0], "fid": r[1], "name": r[2], "kind": r[4], "layer": r[5], "layer_name": r[6]}}
        for r, g in zip(rows, geoms)
    ]
    return {"type": "FeatureCollection", "features": feats,
            "properties": {"truncated": truncated, "datum": datum}}


def _prepare_geoms(geoms: np.ndarray, tol: float, datum: str) -> list[dict]:
    if len(geoms) == 0:
        return []
    if tol > 0:
        geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    if datum == "gcj02":
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(chinese.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    geoms = shapely.set_precision(geoms, 1e-6)
    return [shapely.geometry.mapping(g) for g in geoms]


def data_extent(rt, viewer: User | None) -> BBox | None:
    """The box around every feature and every photo ``viewer`` sees; ``None`` when empty."""
    with rt.db.session() as s:
        f = s.execute(select(func.min(Feature.minx), func.min(Feature.miny),
                             func.max(Feature.maxx), func.max(Feature.maxy))).one()
        p = _extent(s, _photo_where(None, PhotoFilters(), viewer))
    boxes = [b for b in (f, (p.minx, p.miny, p.maxx, p.maxy)) if b[0] is not None]
    if not boxes:
        return None
    return BBox(min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))


def layers_list(rt) -> list[dict[str, Any]]:
    """Every layer with its kind, feature count, version, tolerance and provenance."""
    with rt.db.session() as s:
        layers = s.scalars(select(Layer).order_by(Layer.kind, Layer.name)).all()
    return [{"id": la.id, "slug": la.slug, "name": la.name, "kind": la.kind,
             "feature_count": la.feature_count, "version": la.version, "tolerance_m": la.tolerance_m,
             "responsible_body": la.responsible_body, "licence": la.licence, "attribution": la.attribution}
            for la in layers]


def filter_choices(rt, viewer: User | None) -> dict[str, list[dict[str, Any]]]:
    """Inspections and inspectors to offer in the map's filter form."""
    with rt.db.session() as s:
        insp = s.execute(select(Inspection.id, Inspection.name).order_by(Inspection.name)).all()
        who = s.execute(select(User.id, User.username, User.display_name)
                        .where(User.id.in_(select(Photo.uploaded_by_id).where(visibility_clause(viewer))))
                        .order_by(User.username)).all()
    return {"inspections": [{"id": i, "name": n} for i, n in insp],
            "inspectors": [{"id": i, "username": u, "display_name": d or u} for i, u, d in who]}


def get_photo(rt, photo_id: int, viewer: User | None) -> tuple[Photo, User | None]:
    """The photo and its uploader; :class:`NotFoundError` if absent *or* not visible to ``viewer``."""
    with rt.db.session() as s:
        photo = s.get(Photo, photo_id)
        uploader = s.get(User, photo.uploaded_by_id) if photo and photo.uploaded_by_id else None
    if photo is None or not can_see(viewer, photo, uploader):
        raise NotFoundError(f"photo {photo_id} not found")
    return photo, uploader


def photo_detail(rt, photo_id: int, viewer: User | None, *, datum: str = "wgs84") -> dict[str, Any]:
    """Everything the photo page and ``/api/photos/<id>`` show about one visible photo."""
    photo, uploader = get_photo(rt, photo_id, viewer)
    with rt.db.session() as s:
        links = s.execute(
            select(PhotoFeatureLink, Feature.fid, Feature.name, Layer.name, Layer.kind, Layer.slug)
            .join(Feature, PhotoFeatureLink.feature_id == Feature.id)
            .join(Layer, PhotoFeatureLink.layer_id == Layer.id)
            .where(PhotoFeatureLink.photo_id == photo_id).order_by(PhotoFeatureLink.distance_m)
        ).all()
        inspection = s.get(Inspection, photo.inspection_id) if photo.inspection_id else None
        subs = s.execute(select(PhotoSubmission.action, PhotoSubmission.original_name,
                                PhotoSubmission.submitted_at, User.username)
                         .outerjoin(User, PhotoSubmission.submitted_by_id == User.id)
                         .where(PhotoSubmission.photo_id == photo_id).order_by(PhotoSubmission.id)).all()
    lon, lat = (None, None)
    if photo.lon is not None and photo.lat is not None:
        lon, lat = (float(v) for v in _shift(photo.lon, photo.lat, datum))
    return {
        "id": photo.id, "sha256": photo.sha256, "original_name": photo.original_name,
        "size_bytes": photo.size_bytes, "format": photo.format, "width": photo.width,
        "height": photo.height, "make": photo.make, "model": photo.model, "taken_at": photo.taken_at,
        "taken_at_utc": _iso(photo.taken_at_utc), "lon": lon, "lat": lat, "alt": photo.alt,
        "bearing": photo.bearing, "location_source": photo.location_source,
        "location_note": photo.location_note, "datum": datum,
        "inspection": {"id": inspection.id, "name": inspection.name} if inspection else None,
        "uploaded_by": uploader.username if uploader else None, "ingested_at": _iso(photo.ingested_at),
        "nearest": [_link_dict(*row) for row in links],
        "submissions": [{"action": a, "original_name": n, "at": _iso(t), "by": u} for a, n, t, u in subs],
        "can_download": can_download_original(viewer, photo, uploader),
        "can_place": can_place(viewer, photo, uploader),
    }


def _link_dict(link: PhotoFeatureLink, fid, name, layer_name, kind, slug) -> dict[str, Any]:
    ch = link.chainage_m
    return {"layer": slug, "layer_name": layer_name, "kind": kind, "feature_id": link.feature_id,
            "fid": fid, "name": name, "distance_m": round(link.distance_m, 1),
            "chainage_m": None if ch is None else round(ch, 1),
            "chainage": None if ch is None else format_chainage(ch),
            "by_bearing": link.by_bearing}


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).isoformat() if value.tzinfo is None else value.isoformat()


def place_photo(rt, photo_id: int, lat: float, lon: float, viewer: User | None) -> dict[str, Any]:
    """Place a photo by hand (a pin on the map): ``location_source="manual"``, then re-join it.

    Only photos without a location, or placed by hand before, may be placed; a position read
    from EXIF, GPX or the device is evidence and is never overwritten (:class:`ConflictError`).
    """
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"lat={lat}, lon={lon}: not a valid WGS84 position")
    photo, uploader = get_photo(rt, photo_id, viewer)
    if not can_place(viewer, photo, uploader):
        raise ForbiddenError(f"photo {photo_id}: you may not place this photo")
    if photo.location_source not in ("none", "manual"):
        raise ConflictError(f"photo {photo_id} is already placed from {photo.location_source}; not moved")
    note = f"pin dropped by {viewer.username} at {_iso(dt.datetime.now(dt.timezone.utc))}"
    with rt.db.session(write=True) as s:
        row = s.get(Photo, photo_id)
        row.lat, row.lon, row.location_source, row.location_note = lat, lon, "manual", note
        row.geom = shapely.Point(lon, lat)
    _rejoin(rt, photo_id)
    return photo_detail(rt, photo_id, viewer)


def _rejoin(rt, photo_id: int) -> None:
    try:
        from .join import join_photos
    except ImportError:  # the join module is optional at this layer
        return
    join_photos(rt, [photo_id])
