"""Scorecards per responsible body for review meetings: a pure function over the database.

Per body (cases whose suggestion was decided within ``since``..``until`` when given):

- ``suggestions_issued``: cases with a 检察建议 decided (``decided_on`` set);
- ``replies_due``: of those, cases replied to or whose reply deadline has passed by ``today``;
  ``replies_on_time``: first reply on or before the reply deadline (J21; G19);
- ``cases_looked_back``: cases with at least one concluded look-back;
  ``rectified_first_lookback``: cases whose first concluded look-back found every finding
  rectified (outcome ``closed``);
- ``closed_rectified`` and ``median_days_to_rectification``: cases closed as rectified
  (state ``closed``), days from service of the suggestion to the closing date, median;
- ``recurrences``: findings flagged as recurrences (反弹) of the body's closed cases.

Rates are ``None`` when their denominator is 0.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics

from sqlalchemy import func, select

from ..cases.deadlines import legal_date
from ..store.models import utcnow
from ..store.models_cases import Case
from ..store.models_lookback import LookBack, Recurrence


@dataclasses.dataclass(frozen=True, slots=True)
class ScorecardRow:
    """One responsible body's numbers (see the module docstring)."""

    responsible_body: str
    suggestions_issued: int
    replies_due: int
    replies_on_time: int
    reply_on_time_rate: float | None
    cases_looked_back: int
    rectified_first_lookback: int
    rectified_first_rate: float | None
    closed_rectified: int
    median_days_to_rectification: float | None
    recurrences: int


def scorecards(
    rt, *, since: dt.date | None = None, until: dt.date | None = None, today: dt.date | None = None
) -> list[ScorecardRow]:
    """One row per responsible body with an issued suggestion, sorted by body name (code points)."""
    today = today or legal_date(utcnow())
    query = select(Case).where(Case.decided_on.is_not(None)).order_by(Case.responsible_body, Case.id)
    if since is not None:
        query = query.where(Case.decided_on >= since)
    if until is not None:
        query = query.where(Case.decided_on <= until)
    with rt.db.session() as s:
        by_body: dict[str, list[Case]] = {}
        for case in s.scalars(query):
            by_body.setdefault(case.responsible_body, []).append(case)
        first_outcome = _first_outcomes(s)
        recurring = dict(
            s.execute(select(Recurrence.old_case_id, func.count()).group_by(Recurrence.old_case_id)).all()
        )
    return [_row(body, rows, today, first_outcome, recurring) for body, rows in sorted(by_body.items())]


def _first_outcomes(s) -> dict[int, str]:
    out: dict[int, str] = {}
    rows = s.execute(
        select(LookBack.case_id, LookBack.outcome)
        .where(LookBack.outcome.is_not(None))
        .order_by(LookBack.case_id, LookBack.done_on, LookBack.id)
    )
    for case_id, outcome in rows:
        out.setdefault(case_id, outcome)
    return out


def _row(body: str, rows: list[Case], today: dt.date, first: dict[int, str], recurring: dict[int, int]):
    due = [c for c in rows if c.first_reply_on is not None or (c.reply_due is not None and c.reply_due < today)]
    on_time = [c for c in due if c.first_reply_on is not None and c.reply_due is not None
               and c.first_reply_on <= c.reply_due]
    looked = [c for c in rows if c.id in first]
    first_ok = [c for c in looked if first[c.id] == "closed"]
    closed = [c for c in rows if c.state == "closed" and c.served_on and c.ended_on]
    days = [(c.ended_on - c.served_on).days for c in closed]
    return ScorecardRow(
        body,
        len(rows),
        len(due),
        len(on_time),
        _rate(len(on_time), len(due)),
        len(looked),
        len(first_ok),
        _rate(len(first_ok), len(looked)),
        len(closed),
        float(statistics.median(days)) if days else None,
        sum(recurring.get(c.id, 0) for c in rows),
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
