"""Which look-backs are due, from the case deadlines: overdue, this week, later.

A case in ``awaiting_reply`` or ``follow_up`` (R77) is due for a look-back on:

1. the planned date of its earliest look-back not yet done, if one is planned; else
2. ``revisit_days`` (default 30) after its last look-back, when that one left the case in
   follow-up (partly rectified, no access); else
3. its reply deadline (J21; G19: 2 months after service, 15 days when urgent) — the brief's
   rule "after the reply deadline, inspectors go back" — or, lacking one, the end of the
   rectification period.

Groups: ``overdue`` (due before ``today``), ``this_week`` (``today`` up to ``today + week_days
- 1``) and ``later``. Dates are calendar dates in China (:func:`~fieldkit.cases.deadlines.legal_date`).
Inspectors of a case: the look-back's inspectors, the case's creator and its findings' recorders;
a team filter matches any of them whose ``users.team`` is that team.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from ..cases.deadlines import legal_date
from ..store.models import User, utcnow
from ..store.models_cases import Case, CaseFinding, Finding
from ..store.models_lookback import LookBack
from .common import LOOKBACK_STATES

REVISIT_DAYS = 30
WEEK_DAYS = 7


@dataclasses.dataclass(frozen=True, slots=True)
class DueItem:
    """One case due for a look-back."""

    case_id: int
    title: str
    responsible_body: str
    state: str
    due_on: dt.date
    basis: str  # "planned" | "revisit" | "reply_due" | "rectification_due"
    days_left: int  # 0 on the day, negative once overdue
    group: str  # "overdue" | "this_week" | "later"
    lookback_id: int | None  # the planned look-back, when basis == "planned"
    reply_due: dt.date | None
    rectification_due: dt.date | None
    finding_count: int
    inspector_ids: tuple[int, ...]
    teams: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class DueList:
    """Due look-backs in three groups, each sorted by due date then case id."""

    today: dt.date
    overdue: tuple[DueItem, ...]
    this_week: tuple[DueItem, ...]
    later: tuple[DueItem, ...]

    @property
    def items(self) -> tuple[DueItem, ...]:
        """Every item, overdue first."""
        return self.overdue + self.this_week + self.later


def due_lookbacks(
    rt,
    *,
    today: dt.date | None = None,
    inspector_id: int | None = None,
    team: str | None = None,
    responsible_body: str | None = None,
    week_days: int = WEEK_DAYS,
    revisit_days: int = REVISIT_DAYS,
) -> DueList:
    """The look-backs due, grouped; optionally only one inspector's, one team's or one body's."""
    today = today or legal_date(utcnow())
    query = select(Case).where(Case.state.in_(LOOKBACK_STATES)).order_by(Case.id)
    if responsible_body is not None:
        query = query.where(Case.responsible_body == responsible_body)
    items: list[DueItem] = []
    with rt.db.session() as s:
        teams = dict(s.execute(select(User.id, User.team)).all())
        for case in s.scalars(query):
            lookbacks = list(
                s.scalars(select(LookBack).where(LookBack.case_id == case.id).order_by(LookBack.planned_on, LookBack.id))
            )
            due = _due(case, lookbacks, revisit_days)
            if due is None:
                continue
            findings = list(
                s.execute(
                    select(Finding.id, Finding.created_by_id)
                    .join(CaseFinding, CaseFinding.finding_id == Finding.id)
                    .where(CaseFinding.case_id == case.id)
                )
            )
            people = _people(case, lookbacks, [f[1] for f in findings])
            their_teams = tuple(sorted({teams[p] for p in people if teams.get(p)}))
            if inspector_id is not None and inspector_id not in people:
                continue
            if team is not None and team not in their_teams:
                continue
            day, basis, lb_id = due
            left = (day - today).days
            group = "overdue" if left < 0 else "this_week" if left < week_days else "later"
            items.append(
                DueItem(case.id, case.title, case.responsible_body, case.state, day, basis, left, group,
                        lb_id, case.reply_due, case.rectification_due, len(findings), people, their_teams)
            )
    items.sort(key=lambda i: (i.due_on, i.case_id))
    return DueList(
        today,
        tuple(i for i in items if i.group == "overdue"),
        tuple(i for i in items if i.group == "this_week"),
        tuple(i for i in items if i.group == "later"),
    )


def _due(case: Case, lookbacks: list[LookBack], revisit_days: int) -> tuple[dt.date, str, int | None] | None:
    pending = [lb for lb in lookbacks if lb.done_on is None]
    if pending:
        return pending[0].planned_on, "planned", pending[0].id
    done = [lb for lb in lookbacks if lb.done_on is not None]
    if done:
        last = max(done, key=lambda lb: (lb.done_on, lb.id))
        return last.done_on + dt.timedelta(days=revisit_days), "revisit", None
    if case.reply_due is not None:
        return case.reply_due, "reply_due", None
    if case.rectification_due is not None:
        return case.rectification_due, "rectification_due", None
    return None


def _people(case: Case, lookbacks: list[LookBack], recorders: list[int | None]) -> tuple[int, ...]:
    ids = [i for lb in lookbacks if lb.done_on is None for i in (lb.inspector_ids or ())]
    ids += [case.created_by_id, *recorders]
    return tuple(sorted({int(i) for i in ids if i is not None}))
