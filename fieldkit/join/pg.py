"""The photo ↔ feature join inside PostgreSQL + PostGIS.

PostGIS finds, for every located photo in scope, the features of the layer within its tolerance,
nearest first: ``ST_DWithin`` and the KNN operator ``<->`` on ``geography`` (both served by the
GIST index ``ix_features_geog_gist`` of migration 0001). Distances are geodesic on the WGS84
spheroid (``ST_Distance`` on geography), the azimuth from the photo to the feature's nearest
point comes with each candidate, and chainage along a LineString is located in the photo's UTM
zone and scaled to the line's geodesic length, as :func:`fieldkit.geo.measure.chainage_m` does
(MultiLineStrings, which ``ST_LineLocatePoint`` refuses, use that function).

The bearing rule is the same as :class:`~fieldkit.join.index.LayerIndex`'s and is applied here in
Python to the few candidates per photo, so both backends choose the same feature.
"""

from __future__ import annotations

import itertools
import math

import shapely
from sqlalchemy import LargeBinary, bindparam, func, select, text, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from ..geo.measure import chainage_m
from ..store.models import Feature, Layer
from .index import BEARING_MAX_RATIO, BEARING_MIN_REACH_M, BEARING_WINDOW_DEG, ON_FEATURE_M

#: Most candidates fetched per photo (nearest first); the bearing rule chooses among them.
CANDIDATES = 16

_CANDIDATES_SQL = text("""
WITH p AS (
    SELECT id, lon, lat, bearing, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
    FROM photos
    WHERE lat IS NOT NULL AND lon IS NOT NULL AND abs(lat) <= 90 AND abs(lon) <= 180
      AND (CAST(:all_photos AS boolean) OR id = ANY(:ids))
)
SELECT p.id, p.lon, p.lat, p.bearing, c.id, c.d, c.az, c.chain, c.multiline
FROM p CROSS JOIN LATERAL (
    SELECT f.id,
           ST_Distance(f.geom::geography, p.pt::geography) AS d,
           degrees(ST_Azimuth(p.pt::geography, ST_ClosestPoint(f.geom, p.pt)::geography)) AS az,
           CASE WHEN GeometryType(f.geom) = 'LINESTRING' THEN
               ST_LineLocatePoint(ST_Transform(f.geom, utm.srid), ST_Transform(p.pt, utm.srid))
               * ST_Length(f.geom::geography)
           END AS chain,
           GeometryType(f.geom) = 'MULTILINESTRING' AS multiline
    FROM features f,
         LATERAL (SELECT (CASE WHEN p.lat >= 0 THEN 32600 ELSE 32700 END)
                         + least(60, floor((p.lon + 180) / 6)::int + 1) AS srid) utm
    WHERE f.layer_id = :layer_id
      AND ST_DWithin(f.geom::geography, p.pt::geography, :tolerance)
    ORDER BY f.geom::geography <-> p.pt::geography, f.id
    LIMIT :limit
) c
ORDER BY p.id, c.d, c.id
""").bindparams(bindparam("ids", type_=ARRAY(BIGINT)))


def link_rows(db, layer: Layer, photo_ids: list[int] | None) -> list[dict]:
    """PhotoFeatureLink rows (as dicts) for the photos in scope and one layer, chosen in PostGIS."""
    params = {"all_photos": photo_ids is None, "ids": list(photo_ids or []), "layer_id": int(layer.id),
              "tolerance": float(layer.tolerance_m), "limit": CANDIDATES}
    with db.session() as s:
        rows = s.execute(_CANDIDATES_SQL, params).all()
        rows_by_photo = [list(group) for _, group in itertools.groupby(rows, key=lambda r: r[0])]
        chosen = [_choose(group, float(layer.tolerance_m)) for group in rows_by_photo]
        multi = {r[4] for r in chosen if r is not None and r[8]}
        lines = _load_geoms(s, multi)
    out = []
    for row in chosen:
        if row is None:
            continue
        (photo_id, lon, lat, _bearing, feature_id, dist, _az, chain, is_multi), by_bearing = row[:9], row[9]
        if is_multi:
            chain = chainage_m(lines[feature_id], lon, lat)
        out.append({"photo_id": int(photo_id), "layer_id": int(layer.id), "feature_id": int(feature_id),
                    "distance_m": float(dist), "chainage_m": None if chain is None else float(chain),
                    "by_bearing": by_bearing, "layer_version": int(layer.version)})
    return out


def _choose(candidates: list, tolerance_m: float) -> tuple | None:
    """The nearest candidate, or a faced one within reach when the nearest is not faced.

    Same rule as :meth:`LayerIndex._apply_bearing`: a candidate is faced when the direction to
    its nearest point is within ``BEARING_WINDOW_DEG`` of the photo's bearing (or the photo
    stands on it); a faced candidate may be at most ``max(BEARING_MAX_RATIO × nearest,
    BEARING_MIN_REACH_M)`` away. Returns the row plus a ``by_bearing`` flag.
    """
    nearest = candidates[0]
    if nearest[5] > tolerance_m:
        return None
    bearing = nearest[3]
    if bearing is None or not math.isfinite(bearing) or _faces(nearest, bearing):
        return (*nearest, False)
    limit = min(max(BEARING_MAX_RATIO * nearest[5], BEARING_MIN_REACH_M), tolerance_m)
    for row in candidates[1:]:
        if row[5] <= limit and _faces(row, bearing):
            return (*row, True)
    return (*nearest, False)


def _faces(row, bearing: float) -> bool:
    dist, azimuth = row[5], row[6]
    if dist < ON_FEATURE_M or azimuth is None:
        return dist < ON_FEATURE_M
    return abs((azimuth - bearing + 180.0) % 360.0 - 180.0) <= BEARING_WINDOW_DEG


def _load_geoms(session, feature_ids: set[int]) -> dict:
    if not feature_ids:
        return {}
    stmt = select(Feature.id, type_coerce(func.ST_AsBinary(Feature.geom), LargeBinary)).where(
        Feature.id.in_(sorted(feature_ids)))
    return {fid: shapely.from_wkb(bytes(wkb)) for fid, wkb in session.execute(stmt)}
