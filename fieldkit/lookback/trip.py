"""A look-back trip for chosen cases: the sites in visiting order, as a printable list.

Each open finding of the cases with a position is one stop (its place, feature, chainage and the
old photos to re-shoot); findings without a position are listed apart (``unplaced``). The order
comes from :func:`fieldkit.lookback.route.plan_order`. Export with
:func:`fieldkit.lookback.gpx_kml.write_gpx` / :func:`~fieldkit.lookback.gpx_kml.write_kml`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlalchemy import select

from ..errors import InputError
from ..geo.measure import distance_m, format_chainage
from ..store.models import Photo
from ..store.models_cases import FindingPhoto
from .common import case_findings, load_case
from .route import check_point, plan_order


@dataclasses.dataclass(frozen=True, slots=True)
class OldPhoto:
    """A photo of the finding taken before: what to re-shoot, from where, facing where."""

    id: int
    original_name: str
    taken_at: str | None
    lon: float | None
    lat: float | None
    bearing: float | None


@dataclasses.dataclass(frozen=True, slots=True)
class TripStop:
    """One site of the trip, in visiting order (``order`` starts at 1)."""

    order: int
    finding_id: int
    case_id: int
    case_title: str
    responsible_body: str
    category_id: str
    place: str | None
    feature_name: str | None
    chainage_m: float | None
    lon: float
    lat: float
    note: str | None
    old_photos: tuple[OldPhoto, ...]
    leg_m: float  # from the previous stop (the start for the first)
    cumulative_m: float

    @property
    def chainage(self) -> str | None:
        """Chainage as station text (``K12+300``), or None."""
        return None if self.chainage_m is None else format_chainage(self.chainage_m)

    @property
    def name(self) -> str:
        """Short label for maps and lists: ``1. place`` (or the feature, or the finding id)."""
        label = self.place or self.feature_name or f"问题 {self.finding_id}"
        return f"{self.order}. {label}"

    @property
    def old_photo_ids(self) -> tuple[int, ...]:
        """Ids of the old photos to re-shoot."""
        return tuple(p.id for p in self.old_photos)


@dataclasses.dataclass(frozen=True, slots=True)
class TripPlan:
    """Stops in visiting order from ``start``, with the lengths of the plan and of the given order."""

    start: tuple[float, float]
    start_name: str
    stops: tuple[TripStop, ...]
    total_m: float
    given_order_m: float
    return_to_start: bool
    unplaced_finding_ids: tuple[int, ...]


def plan_trip(
    rt,
    case_ids: Iterable[int],
    start: Sequence[float],
    *,
    start_name: str = "出发点 Office",
    return_to_start: bool = False,
    finding_ids: Iterable[int] | None = None,
) -> TripPlan:
    """Plan a trip over the open findings of ``case_ids`` (or only ``finding_ids`` among them)."""
    start = check_point(start, "trip start")
    ids = list(dict.fromkeys(int(c) for c in case_ids))
    if not ids:
        raise InputError("trip plan: give at least one case")
    chosen = None if finding_ids is None else set(int(f) for f in finding_ids)
    sites, unplaced = [], []
    with rt.db.session() as s:
        for case_id in ids:
            case = load_case(s, case_id)
            for f in case_findings(s, case.id):
                if f.state != "open" or (chosen is not None and f.id not in chosen):
                    continue
                if f.lon is None or f.lat is None:
                    unplaced.append(f.id)
                else:
                    sites.append((case, f, _old_photos(s, f.id)))
    order, total, given = plan_order(start, [(f.lon, f.lat) for _, f, _ in sites], return_to_start)
    stops, prev, run = [], start, 0.0
    for n, k in enumerate(order, start=1):
        case, f, photos = sites[k]
        leg = float(distance_m(prev[0], prev[1], f.lon, f.lat))
        run += leg
        stops.append(
            TripStop(n, f.id, case.id, case.title, case.responsible_body, f.category_id, f.place,
                     f.feature_name, f.chainage_m, f.lon, f.lat, f.note, photos, leg, run)
        )
        prev = (f.lon, f.lat)
    return TripPlan(start, start_name, tuple(stops), total, given, return_to_start, tuple(unplaced))


def _old_photos(s, finding_id: int) -> tuple[OldPhoto, ...]:
    rows = s.scalars(
        select(Photo)
        .join(FindingPhoto, FindingPhoto.photo_id == Photo.id)
        .where(FindingPhoto.finding_id == finding_id)
        .order_by(FindingPhoto.position)
    )
    return tuple(OldPhoto(p.id, p.original_name, p.taken_at, p.lon, p.lat, p.bearing) for p in rows)
