"""Joining stored photos to stored layers: cached indexes and PhotoFeatureLink rows.

Indexes are cached in-process per database and layer, stamped with the layer's ``version``
(and ``imported_at``, in case SQLite reuses the id of a deleted layer). A layer whose version
changed gets a fresh index on next use and the old one is dropped.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time

import numpy as np
import shapely
from sqlalchemy import LargeBinary, delete, func, insert, select, type_coerce

from ..errors import NotFoundError
from ..store.db import Database
from ..store.models import Feature, Layer, Photo, PhotoFeatureLink
from . import pg
from .index import LayerIndex

#: Most layer indexes kept in memory at once (least recently used dropped first).
CACHE_SIZE = 16
_CHUNK = 5_000

_cache: "collections.OrderedDict[tuple[str, int], tuple[tuple, LayerIndex]]" = collections.OrderedDict()
_lock = threading.Lock()
_stats = {"builds": 0, "hits": 0}


@dataclasses.dataclass(slots=True)
class LayerJoinStats:
    """What one layer's join did: photos considered, links written, how many by bearing."""

    layer_id: int
    slug: str
    name: str
    version: int
    photos: int
    links: int
    by_bearing: int
    seconds: float


def cache_stats() -> dict[str, int]:
    """Counters of index builds and cache hits since start (or :func:`clear_index_cache`)."""
    with _lock:
        return dict(_stats, cached=len(_cache))


def clear_index_cache() -> None:
    """Drop every cached index and reset the counters."""
    with _lock:
        _cache.clear()
        _stats.update(builds=0, hits=0)


def index_for_layer(db: Database, layer: Layer) -> LayerIndex:
    """The layer's :class:`LayerIndex`, built on first use and reused while its version holds."""
    key = (db.url, int(layer.id))
    stamp = (int(layer.version), layer.imported_at, float(layer.tolerance_m))
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            _cache.move_to_end(key)
            _stats["hits"] += 1
            return hit[1]
        _cache.pop(key, None)
        index = _load_index(db, layer)
        _cache[key] = (stamp, index)
        _stats["builds"] += 1
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return index


def _load_index(db: Database, layer: Layer) -> LayerIndex:
    """Read the layer's features (geometry as raw WKB, decoded in one vectorised call)."""
    wkb = func.ST_AsBinary(Feature.geom) if db.dialect == "postgresql" else Feature.geom
    stmt = select(Feature.id, Feature.fid, Feature.name, type_coerce(wkb, LargeBinary)).where(
        Feature.layer_id == layer.id
    )
    with db.session() as s:
        rows = s.execute(stmt.order_by(Feature.id)).all()
    ids, fids, names, blobs = (list(c) for c in zip(*rows)) if rows else ([], [], [], [])
    geoms = shapely.from_wkb(np.asarray([bytes(b) for b in blobs], dtype=object))
    return LayerIndex(ids, geoms, layer.tolerance_m, fids=fids, names=names)


def _load_layers(db: Database, layer_ids: list[int] | None) -> list[Layer]:
    with db.session() as s:
        stmt = select(Layer).order_by(Layer.id)
        if layer_ids is not None:
            stmt = stmt.where(Layer.id.in_(layer_ids))
        layers = list(s.scalars(stmt))
    missing = set(layer_ids or ()) - {layer.id for layer in layers}
    if missing:
        raise NotFoundError(f"join: no layer with id {', '.join(map(str, sorted(missing)))}")
    return layers


def _load_photos(db: Database, photo_ids: list[int] | None) -> tuple[np.ndarray, ...]:
    """(id, lon, lat, bearing) of located photos; bearing NaN where unknown."""
    base = select(Photo.id, Photo.lon, Photo.lat, Photo.bearing).where(
        Photo.lat.is_not(None), Photo.lon.is_not(None)
    )
    rows: list = []
    with db.session() as s:
        if photo_ids is None:
            rows = s.execute(base).all()
        else:
            for i in range(0, len(photo_ids), _CHUNK):
                rows += s.execute(base.where(Photo.id.in_(photo_ids[i : i + _CHUNK]))).all()
    arr = np.array([(r[0], r[1], r[2], np.nan if r[3] is None else r[3]) for r in rows], dtype=float)
    arr = arr.reshape(-1, 4)
    return arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3]


def _link_rows(layer: Layer, index: LayerIndex, photo_id: np.ndarray, ans) -> list[dict]:
    hit = np.flatnonzero(ans.index >= 0)
    feat = ans.index[hit]
    chain = ans.chainage_m[hit]
    return [
        {
            "photo_id": int(p),
            "layer_id": layer.id,
            "feature_id": int(f),
            "distance_m": float(d),
            "chainage_m": None if c != c else float(c),
            "by_bearing": bool(b),
            "layer_version": layer.version,
        }
        for p, f, d, c, b in zip(
            photo_id[hit].tolist(),
            index.feature_ids[feat].tolist(),
            ans.distance_m[hit].tolist(),
            chain.tolist(),
            ans.by_bearing[hit].tolist(),
        )
    ]


def _replace_links(db: Database, layer_id: int, photo_ids: list[int] | None, rows: list[dict]) -> None:
    """Delete the old links of the photos in scope for one layer and insert the new ones."""
    with db.session(write=True) as s:
        stmt = delete(PhotoFeatureLink).where(PhotoFeatureLink.layer_id == layer_id)
        if photo_ids is None:
            s.execute(stmt)
        else:
            for i in range(0, len(photo_ids), _CHUNK):
                s.execute(stmt.where(PhotoFeatureLink.photo_id.in_(photo_ids[i : i + _CHUNK])))
        for i in range(0, len(rows), _CHUNK):
            s.execute(insert(PhotoFeatureLink), rows[i : i + _CHUNK])


def join_layers(
    rt, photo_ids: list[int] | None = None, layer_ids: list[int] | None = None
) -> list[LayerJoinStats]:
    """Join photos (all, or ``photo_ids``) to layers (all, or ``layer_ids``); one stats per layer.

    For each layer the links of the photos in scope are replaced: photos that no longer have a
    position or a feature within tolerance lose their old link. Photos without lat/lon are skipped.
    """
    db = rt.db
    layers = _load_layers(db, layer_ids)
    scope = None if photo_ids is None else [int(p) for p in photo_ids]
    pid, lon, lat, bearing = _load_photos(db, scope)
    stats = []
    for layer in layers:
        start = time.perf_counter()
        if db.dialect == "postgresql":  # nearest features found in PostGIS (KNN on geography)
            rows = pg.link_rows(db, layer, scope)
        else:
            index = index_for_layer(db, layer)
            rows = _link_rows(layer, index, pid, index.query(lon, lat, bearing))
        _replace_links(db, layer.id, scope, rows)
        stats.append(
            LayerJoinStats(
                layer.id, layer.slug, layer.name, layer.version, int(pid.size), len(rows),
                sum(r["by_bearing"] for r in rows), time.perf_counter() - start,
            )
        )
    return stats


def join_photos(rt, photo_ids: list[int] | None = None, layer_ids: list[int] | None = None) -> int:
    """Write PhotoFeatureLink rows for the photos and layers in scope; returns links written."""
    return sum(s.links for s in join_layers(rt, photo_ids, layer_ids))


def rejoin_layer(rt, layer_id: int) -> int:
    """Re-join every photo to one layer after it changed (its new version's index is built)."""
    return join_photos(rt, layer_ids=[int(layer_id)])
