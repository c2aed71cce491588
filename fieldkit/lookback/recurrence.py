"""Recurrence (反弹): a new finding near a place whose case closed recently is flagged and linked.

:func:`flag_recurrence` is called by :func:`fieldkit.findings.service.record_finding` after a
finding is stored. It looks for findings of cases **closed** (rectified) within ``months``
(default 12) before the new finding was observed, of the same domain when both are known,
within ``radius_m`` (default 250 m, the radius of the findings' duplicate hint) — geodesic
distance. Each old case found gets one :class:`~fieldkit.store.models_lookback.Recurrence` row
(nearest old finding) and an audit entry on the new finding. A recurrence triggers renewed
consultation in practice (brief §4).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math

from sqlalchemy import select

from .. import audit
from ..cases.deadlines import add_months, legal_date
from ..errors import InputError
from ..findings.taxonomy import Taxonomy, load_taxonomy
from ..geo.measure import distance_m
from ..store.lookup import get_or_raise
from ..store.models import utcnow
from ..store.models_cases import Case, CaseFinding, Finding
from ..store.models_lookback import Recurrence

RADIUS_M = 250.0
MONTHS = 12
_M_PER_DEG_LAT = 110_574.0


@dataclasses.dataclass(frozen=True, slots=True)
class RecurrenceView:
    """A new finding linked to an old, closed case near it."""

    id: int
    finding_id: int
    old_case_id: int
    old_case_title: str
    responsible_body: str
    old_finding_id: int
    distance_m: float
    old_closed_on: dt.date
    flagged_at: dt.datetime


def flag_recurrence(
    rt,
    finding_id: int,
    actor_id: int | None = None,
    *,
    radius_m: float = RADIUS_M,
    months: int = MONTHS,
    at: dt.datetime | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[RecurrenceView]:
    """Flag ``finding_id`` as a recurrence of every nearby case closed in the last ``months``."""
    if not (math.isfinite(radius_m) and radius_m >= 0) or months < 0:
        raise InputError(f"recurrence: radius_m={radius_m} and months={months} must be >= 0")
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        new = get_or_raise(s, Finding, finding_id, "finding")
        if new.lon is None or new.lat is None:
            return []
        day = legal_date(new.observed_at or new.created_at or at)
        domain = _domain(new.category_id, taxonomy)
        best: dict[int, tuple[float, Finding, Case]] = {}
        for old, case in _candidates(s, new, radius_m, add_months(day, -months), day):
            if domain and case.domain and case.domain != domain:
                continue
            d = float(distance_m(new.lon, new.lat, old.lon, old.lat))
            if d <= radius_m and (case.id not in best or d < best[case.id][0]):
                best[case.id] = (d, old, case)
        out = []
        for case_id, (d, old, case) in sorted(best.items()):
            if s.scalar(select(Recurrence.id).where(Recurrence.finding_id == new.id,
                                                    Recurrence.old_case_id == case_id)):
                continue
            row = Recurrence(finding_id=new.id, old_case_id=case_id, old_finding_id=old.id,
                             distance_m=round(d, 2), old_closed_on=case.ended_on, flagged_at=at)
            s.add(row)
            s.flush()
            audit.append(s, actor_id, "finding", new.id, "flag_recurrence",
                         {"old_case_id": case_id, "old_finding_id": old.id, "distance_m": row.distance_m}, at=at)
            out.append(_view(row, case))
        return out


def recurrences(rt, *, finding_id: int | None = None, old_case_id: int | None = None) -> list[RecurrenceView]:
    """Flagged recurrences, optionally of one new finding or of one old case, oldest first."""
    query = select(Recurrence, Case).join(Case, Case.id == Recurrence.old_case_id).order_by(Recurrence.id)
    if finding_id is not None:
        query = query.where(Recurrence.finding_id == finding_id)
    if old_case_id is not None:
        query = query.where(Recurrence.old_case_id == old_case_id)
    with rt.db.session() as s:
        return [_view(r, c) for r, c in s.execute(query)]


def _candidates(s, new: Finding, radius_m: float, since: dt.date, until: dt.date):
    dlat = radius_m / _M_PER_DEG_LAT * 1.01
    dlon = min(180.0, dlat / max(math.cos(math.radians(min(abs(new.lat) + dlat, 90.0))), 1e-6))
    return s.execute(
        select(Finding, Case)
        .join(CaseFinding, CaseFinding.finding_id == Finding.id)
        .join(Case, Case.id == CaseFinding.case_id)
        .where(
            Case.state == "closed",
            Case.ended_on.is_not(None),
            Case.ended_on >= since,
            Case.ended_on <= until,
            Finding.id != new.id,
            Finding.lat.between(new.lat - dlat, new.lat + dlat),
            Finding.lon.between(new.lon - dlon, new.lon + dlon),
        )
        .order_by(Case.id, Finding.id)
    ).all()


@functools.lru_cache(maxsize=1)
def _packaged_taxonomy() -> Taxonomy:
    return load_taxonomy()


def _domain(category_id: str, taxonomy: Taxonomy | None) -> str | None:
    tax = taxonomy if taxonomy is not None else _packaged_taxonomy()
    return tax.get(category_id).domain if category_id in tax else None


def _view(row: Recurrence, case: Case) -> RecurrenceView:
    return RecurrenceView(row.id, row.finding_id, row.old_case_id, case.title, case.responsible_body,
                          row.old_finding_id, row.distance_m, row.old_closed_on, row.flagged_at)
