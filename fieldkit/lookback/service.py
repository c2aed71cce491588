"""Look-back visits in the database: plan one for a case, list them, read one.

Every change writes the row and one audit entry (entity ``lookback``) in the same write session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..cases.workflow import as_date
from ..errors import ConflictError, InputError, NotFoundError
from ..store.lookup import check_actor
from ..store.models import Inspection, User, utcnow
from ..store.models_lookback import LookBack
from .common import LOOKBACK_STATES, case_label, load_case, load_lookback


@dataclasses.dataclass(frozen=True, slots=True)
class LookBackView:
    """A look-back as lists and pages show it."""

    id: int
    case_id: int
    planned_on: dt.date
    done_on: dt.date | None
    inspector_ids: tuple[int, ...]
    inspection_id: int | None
    inspection_name: str | None
    note: str | None
    outcome: str | None  # None until concluded: closed / litigation_review / follow_up


def plan_lookback(
    rt,
    case_id: int,
    *,
    planned_on: dt.date | str,
    actor_id: int,
    inspector_ids: Iterable[int] = (),
    inspection: str | None = None,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> LookBackView:
    """Plan a look-back of a case in awaiting_reply or follow_up; audit it.

    ``inspection`` names the inspection (photo batch) the look-back photos are ingested into;
    it is created with purpose ``lookback`` when new. Unknown inspectors raise NotFoundError;
    a case in another state raises ConflictError.
    """
    day = as_date(planned_on, f"look-back of case {case_id}: planned_on")
    people = list(dict.fromkeys(int(i) for i in inspector_ids))
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = load_case(s, case_id)
        if case.state not in LOOKBACK_STATES:
            raise ConflictError(
                f"{case_label(case)}: cannot plan a look-back in state {case.state}; "
                f"only in {', '.join(LOOKBACK_STATES)}"
            )
        if case.served_on is not None and day < case.served_on:
            raise InputError(f"{case_label(case)}: look-back date {day} is before the service date {case.served_on}")
        _check_users(s, people)
        row = LookBack(
            case_id=case.id,
            planned_on=day,
            inspector_ids=people,
            inspection_id=_inspection(s, inspection),
            note=(note or "").strip() or None,
            created_by_id=actor_id,
            created_at=at,
            updated_at=at,
        )
        s.add(row)
        s.flush()
        audit.append(s, actor_id, "lookback", row.id, "plan", _snapshot(row), at=at)
        return _view(s, row)


def get_lookback(rt, lookback_id: int) -> LookBackView:
    """One look-back; NotFoundError if there is none."""
    with rt.db.session() as s:
        return _view(s, load_lookback(s, lookback_id))


def list_lookbacks(rt, case_id: int | None = None) -> list[LookBackView]:
    """Look-backs (of one case, or all), by planned date then id."""
    query = select(LookBack).order_by(LookBack.planned_on, LookBack.id)
    if case_id is not None:
        query = query.where(LookBack.case_id == case_id)
    with rt.db.session() as s:
        return [_view(s, row) for row in s.scalars(query)]


def _check_users(s: Session, ids: list[int]) -> None:
    found = set(s.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"look-back inspectors: user {', '.join(missing)} not found")


def _inspection(s: Session, name: str | None) -> int | None:
    if name is None:
        return None
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError(f"look-back inspection name {name!r}: must be 1-200 characters")
    found = s.scalar(select(Inspection.id).where(Inspection.name == name))
    if found is not None:
        return found
    row = Inspection(name=name, purpose="lookback")
    s.add(row)
    s.flush()
    return row.id


def _snapshot(row: LookBack) -> dict:
    keys = ("case_id", "planned_on", "done_on", "inspector_ids", "inspection_id", "note", "outcome")
    return audit.json_ready({k: getattr(row, k) for k in keys})


def _view(s: Session, row: LookBack) -> LookBackView:
    name = s.get(Inspection, row.inspection_id).name if row.inspection_id else None
    return LookBackView(
        row.id, row.case_id, row.planned_on, row.done_on, tuple(row.inspector_ids or ()),
        row.inspection_id, name, row.note, row.outcome,
    )
