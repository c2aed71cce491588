"""Pairing new look-back photos with the case's open findings, scored 0..1; confirm or correct.

For each placed new photo within ``max_distance_m`` of an open finding, a candidate pair gets
three components, each 0..1:

- ``distance``: ``1 - d / max_distance_m`` (geodesic metres from the photo to the finding);
- ``feature``: 1 when the photo's nearest-feature join (:class:`PhotoFeatureLink`) on the
  finding's layer names the finding's feature, 0 when it names another feature, 0.5 unknown;
- ``bearing``: ``(1 + cos Δ) / 2`` where Δ is the angle between the new photo's bearing and
  the reference: the old photos' mean bearing (re-shoot from the same angle), else the direction
  from the new photo to the finding. 0.5 when the new photo has no bearing. Δ > 90° (facing
  away) marks the pair ``weak``.

``score = 0.35·distance + 0.35·feature + 0.30·bearing``. Candidates are proposals: only a pair
the inspector confirms (:func:`confirm_pair`, or :func:`pair_manually` to correct) counts as the
finding's new photo. Every change is audited (entity ``lookback``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import ConflictError, InputError, NotFoundError
from ..geo.measure import GEOD
from ..store.lookup import check_actor, get_or_raise
from ..store.models import Feature, Photo, PhotoFeatureLink, utcnow
from ..store.models_cases import Finding, FindingPhoto
from ..store.models_lookback import LookBack, LookBackPair
from .common import case_findings, load_lookback

MAX_DISTANCE_M = 100.0
WEIGHTS = {"distance": 0.35, "feature": 0.35, "bearing": 0.30}
FACING_AWAY_DEG = 90.0
_PAIR_ACTIONS = {"confirmed": "confirm_pair", "rejected": "reject_pair"}


@dataclasses.dataclass(frozen=True, slots=True)
class PairView:
    """A (finding, new photo) pair with its score and components."""

    id: int
    lookback_id: int
    finding_id: int
    photo_id: int
    score: float
    components: dict
    state: str  # candidate | confirmed | rejected
    confirmed_by_id: int | None
    confirmed_at: dt.datetime | None

    @property
    def weak(self) -> bool:
        """True when the new photo faces away from the reference direction."""
        return bool(self.components.get("weak"))


def angle_between(a: float, b: float) -> float:
    """The smaller angle in degrees (0..180) between two bearings."""
    d = abs((a - b) % 360.0)
    return min(d, 360.0 - d)


def mean_bearing(bearings: Iterable[float]) -> float | None:
    """Circular mean of bearings in degrees (None for none or when they cancel out)."""
    values = [math.radians(b) for b in bearings]
    if not values:
        return None
    x, y = sum(math.cos(v) for v in values), sum(math.sin(v) for v in values)
    if math.hypot(x, y) < 1e-9:
        return None
    return math.degrees(math.atan2(y, x)) % 360.0


def score_pair(
    distance: float,
    feature_match: bool | None,
    photo_bearing: float | None,
    reference_bearing: float | None,
    max_distance_m: float = MAX_DISTANCE_M,
) -> dict:
    """The components and score of one pair (see the module docstring); a plain dict."""
    dist_c = max(0.0, 1.0 - distance / max_distance_m)
    feat_c = 0.5 if feature_match is None else (1.0 if feature_match else 0.0)
    if photo_bearing is None or reference_bearing is None:
        diff, bear_c = None, 0.5
    else:
        diff = angle_between(photo_bearing, reference_bearing)
        bear_c = (1.0 + math.cos(math.radians(diff))) / 2.0
    score = WEIGHTS["distance"] * dist_c + WEIGHTS["feature"] * feat_c + WEIGHTS["bearing"] * bear_c
    return {
        "distance_m": round(distance, 2),
        "distance": round(dist_c, 4),
        "feature": feat_c,
        "bearing": round(bear_c, 4),
        "bearing_diff_deg": None if diff is None else round(diff, 1),
        "weak": diff is not None and diff > FACING_AWAY_DEG,
        "score": round(score, 4),
    }


def suggest_pairs(
    rt,
    lookback_id: int,
    actor_id: int,
    *,
    photo_ids: Sequence[int] | None = None,
    max_distance_m: float = MAX_DISTANCE_M,
    at: dt.datetime | None = None,
) -> list[PairView]:
    """Replace the look-back's unconfirmed candidates with fresh ones; return all its pairs.

    Photos: ``photo_ids``, else the photos ingested into the look-back's inspection. Pairs are
    sorted by finding, then score (best first).
    """
    if not (math.isfinite(max_distance_m) and max_distance_m > 0):
        raise InputError(f"pairing: max_distance_m must be > 0, got {max_distance_m}")
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        lb = _open_lookback(s, lookback_id)
        photos = _photos(s, lb, photo_ids)
        s.execute(delete(LookBackPair).where(LookBackPair.lookback_id == lb.id, LookBackPair.state == "candidate"))
        taken = {(p.finding_id, p.photo_id) for p in _pairs(s, lb.id)}
        made = 0
        for finding in case_findings(s, lb.case_id):
            if finding.state != "open" or finding.lon is None or finding.lat is None:
                continue
            for photo in photos:
                if (finding.id, photo.id) in taken:
                    continue
                comp = _components(s, finding, photo, max_distance_m)
                if comp is not None:
                    s.add(LookBackPair(lookback_id=lb.id, finding_id=finding.id, photo_id=photo.id,
                                       score=comp["score"], components=comp, state="candidate", created_at=at))
                    made += 1
        s.flush()
        audit.append(s, actor_id, "lookback", lb.id, "suggest_pairs",
                     {"photo_ids": [p.id for p in photos], "candidates": made}, at=at)
        return [_view(p) for p in _pairs(s, lb.id)]


def list_pairs(rt, lookback_id: int) -> list[PairView]:
    """The look-back's pairs, by finding then score (best first)."""
    with rt.db.session() as s:
        load_lookback(s, lookback_id)
        return [_view(p) for p in _pairs(s, lookback_id)]


def confirm_pair(rt, pair_id: int, actor_id: int, at: dt.datetime | None = None) -> PairView:
    """The inspector confirms a candidate: the photo is the finding's re-shot."""
    return _set_state(rt, pair_id, actor_id, "confirmed", at)


def reject_pair(rt, pair_id: int, actor_id: int, at: dt.datetime | None = None) -> PairView:
    """The inspector rejects a pair (it stays listed as rejected)."""
    return _set_state(rt, pair_id, actor_id, "rejected", at)


def pair_manually(
    rt, lookback_id: int, finding_id: int, photo_id: int, actor_id: int, at: dt.datetime | None = None
) -> PairView:
    """Correct the pairing: confirm ``photo_id`` as ``finding_id``'s new photo (scored all the same)."""
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        lb = _open_lookback(s, lookback_id)
        finding = get_or_raise(s, Finding, finding_id, "finding")
        if finding.id not in {f.id for f in case_findings(s, lb.case_id)}:
            raise ConflictError(f"look-back {lb.id}: finding {finding_id} is not part of case {lb.case_id}")
        photo = get_or_raise(s, Photo, photo_id, "photo")
        comp = _components(s, finding, photo, math.inf) or {"score": 0.0, "unplaced": True}
        pair = s.scalar(select(LookBackPair).where(LookBackPair.lookback_id == lb.id,
                                                   LookBackPair.finding_id == finding.id,
                                                   LookBackPair.photo_id == photo.id))
        if pair is None:
            pair = LookBackPair(lookback_id=lb.id, finding_id=finding.id, photo_id=photo.id, created_at=at)
            s.add(pair)
        pair.score, pair.components = comp["score"], comp
        pair.state, pair.confirmed_by_id, pair.confirmed_at = "confirmed", actor_id, at
        s.flush()
        audit.append(s, actor_id, "lookback", lb.id, "pair_manual",
                     {"pair_id": pair.id, "finding_id": finding.id, "photo_id": photo.id, "score": pair.score}, at=at)
        return _view(pair)


# --- helpers ---------------------------------------------------------------------------------


def _open_lookback(s: Session, lookback_id: int) -> LookBack:
    lb = load_lookback(s, lookback_id)
    if lb.outcome is not None:
        raise ConflictError(f"look-back {lb.id}: already concluded ({lb.outcome}); pairs can no longer change")
    return lb


def _photos(s: Session, lb: LookBack, photo_ids: Sequence[int] | None) -> list[Photo]:
    if photo_ids is not None:
        ids = list(dict.fromkeys(int(i) for i in photo_ids))
        found = {p.id: p for p in s.scalars(select(Photo).where(Photo.id.in_(ids)))}
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise NotFoundError(f"photo {', '.join(missing)}: not found")
        return [found[i] for i in ids]
    if lb.inspection_id is None:
        raise InputError(f"look-back {lb.id}: has no inspection; give photo_ids or plan it with an inspection")
    return list(s.scalars(select(Photo).where(Photo.inspection_id == lb.inspection_id).order_by(Photo.id)))


def _components(s: Session, finding: Finding, photo: Photo, max_distance_m: float) -> dict | None:
    if photo.lon is None or photo.lat is None or finding.lon is None or finding.lat is None:
        return None
    az, _, d = GEOD.inv(photo.lon, photo.lat, finding.lon, finding.lat)
    if d > max_distance_m:
        return None
    old = s.scalars(select(Photo.bearing).join(FindingPhoto, FindingPhoto.photo_id == Photo.id)
                    .where(FindingPhoto.finding_id == finding.id, Photo.bearing.is_not(None)))
    reference = mean_bearing(old)
    if reference is None and d > 5.0:
        reference = az % 360.0
    scale = max_distance_m if math.isfinite(max_distance_m) else MAX_DISTANCE_M
    return score_pair(float(d), _same_feature(s, finding, photo), photo.bearing, reference, scale)


def _same_feature(s: Session, finding: Finding, photo: Photo) -> bool | None:
    if finding.layer_id is None or (finding.feature_fid is None and finding.feature_id is None):
        return None
    link = s.scalar(select(PhotoFeatureLink).where(PhotoFeatureLink.photo_id == photo.id,
                                                   PhotoFeatureLink.layer_id == finding.layer_id))
    if link is None:
        return None
    if finding.feature_id is not None and link.feature_id == finding.feature_id:
        return True
    feature = s.get(Feature, link.feature_id)
    return feature is not None and feature.fid == finding.feature_fid


def _pairs(s: Session, lookback_id: int) -> list[LookBackPair]:
    return list(s.scalars(select(LookBackPair).where(LookBackPair.lookback_id == lookback_id)
                          .order_by(LookBackPair.finding_id, LookBackPair.score.desc(), LookBackPair.id)))


def _set_state(rt, pair_id: int, actor_id: int, state: str, at: dt.datetime | None) -> PairView:
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        pair = get_or_raise(s, LookBackPair, pair_id, "look-back pair")
        _open_lookback(s, pair.lookback_id)
        before = pair.state
        pair.state = state
        pair.confirmed_by_id, pair.confirmed_at = (actor_id, at) if state == "confirmed" else (None, None)
        s.flush()
        audit.append(s, actor_id, "lookback", pair.lookback_id, _PAIR_ACTIONS[state],
                     {"pair_id": pair.id, "finding_id": pair.finding_id, "photo_id": pair.photo_id,
                      "from": before, "to": state}, at=at)
        return _view(pair)


def _view(p: LookBackPair) -> PairView:
    return PairView(p.id, p.lookback_id, p.finding_id, p.photo_id, p.score, dict(p.components),
                    p.state, p.confirmed_by_id, p.confirmed_at)
