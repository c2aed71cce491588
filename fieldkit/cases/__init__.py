"""Cases: findings grouped against one responsible body, moved through the workflow, audited.

The rules live in :mod:`fieldkit.cases.workflow` (pure state machine) and
:mod:`fieldkit.cases.deadlines` (configurable deadline rules). These functions load a case,
let the state machine decide, and write the case, its :class:`CaseEvent` and the audit entries
in one write session, so a refused action changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import ConflictError, InputError, NotFoundError
from ..store.lookup import check_actor, get_or_raise
from ..store.models import utcnow
from ..store.models_cases import Case, CaseEvent, CaseFinding, Finding
from .deadlines import DeadlineRules
from .workflow import (
    CASE_FIELDS,
    EDITABLE_STATES,
    Action,
    CaseFacts,
    Event,
    State,
    allowed_actions,
    pending_deadlines,
    step,
)

__all__ = [
    "Action",
    "CaseFacts",
    "DeadlineRules",
    "Event",
    "State",
    "add_findings",
    "allowed_actions",
    "apply",
    "case_events",
    "case_facts",
    "case_finding_ids",
    "edit_case",
    "find_open_case",
    "get_case",
    "is_editable",
    "open_case",
    "pending_deadlines",
    "remove_findings",
]

EDITABLE_FIELDS = ("title", "responsible_body", "domain", "nature", "urgent")


def label(case: Case) -> str:
    """How messages name a case: ``case 12 (title)``."""
    return f"case {case.id} ({case.title})"


def open_case(
    rt,
    *,
    title: str,
    responsible_body: str,
    actor_id: int,
    domain: str | None = None,
    nature: str | None = None,
    urgent: bool = False,
    finding_ids: Iterable[int] = (),
    at: dt.datetime | None = None,
) -> Case:
    """Create a case in state ``clue`` (optionally with findings) and audit it."""
    title, body = _text(title, "title"), _text(responsible_body, "responsible_body")
    at = at or utcnow()
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = Case(
            title=title,
            responsible_body=body,
            domain=domain,
            nature=nature,
            urgent=bool(urgent),
            state=State.CLUE.value,
            created_by_id=actor_id,
            created_at=at,
            updated_at=at,
        )
        s.add(case)
        s.flush()
        fields = {k: getattr(case, k) for k in EDITABLE_FIELDS}
        audit.append(s, actor_id, "case", case.id, "open", fields, at=at)
        _link(s, case, list(finding_ids), actor_id, at)
    return case


def get_case(rt, case_id: int) -> Case:
    """The case with ``case_id``; NotFoundError if there is none."""
    with rt.db.session() as s:
        return _load(s, case_id)


def case_facts(rt, case_id: int) -> CaseFacts:
    """The workflow facts of a case (state, dates, deadlines, finding count)."""
    with rt.db.session() as s:
        case = _load(s, case_id)
        return _facts(s, case)


def case_events(rt, case_id: int) -> list[CaseEvent]:
    """The case's workflow events, oldest first."""
    with rt.db.session() as s:
        _load(s, case_id)
        return list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def is_editable(case: Case) -> bool:
    """Whether the case's details and findings may still change (before the suggestion, R69)."""
    return case.state in EDITABLE_STATES


def case_finding_ids(rt, case_id: int | None = None) -> list[int]:
    """Ids of the findings attached to the case, or to any case when ``case_id`` is None; ascending."""
    query = select(CaseFinding.finding_id).distinct().order_by(CaseFinding.finding_id)
    if case_id is not None:
        query = query.where(CaseFinding.case_id == case_id)
    with rt.db.session() as s:
        if case_id is not None:
            _load(s, case_id)
        return list(s.scalars(query))


def find_open_case(rt, responsible_body: str, nature: str | None) -> Case | None:
    """An editable case against the same body for the same nature, if any (R69: one case)."""
    with rt.db.session() as s:
        return s.scalars(
            select(Case)
            .where(Case.responsible_body == responsible_body, Case.nature == nature)
            .where(Case.state.in_([st.value for st in EDITABLE_STATES]))
            .order_by(Case.id)
            .limit(1)
        ).first()


def add_findings(
    rt, case_id: int, finding_ids: Iterable[int], actor_id: int, at: dt.datetime | None = None
) -> Case:
    """Attach findings to a case that has no suggestion yet; already attached ones are skipped."""
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = _editable(s, case_id, "add findings to")
        _link(s, case, list(finding_ids), actor_id, at or utcnow())
    return case


def remove_findings(
    rt, case_id: int, finding_ids: Iterable[int], actor_id: int, at: dt.datetime | None = None
) -> Case:
    """Detach findings from a case that has no suggestion yet."""
    at = at or utcnow()
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = _editable(s, case_id, "remove findings from")
        for fid in dict.fromkeys(finding_ids):
            link = s.get(CaseFinding, (case.id, fid))
            if link is None:
                raise NotFoundError(f"{label(case)}: finding {fid} is not part of the case")
            s.delete(link)
            audit.append(s, actor_id, "case", case.id, "remove_finding", {"finding_id": fid}, at=at)
        case.updated_at = at
    return case


def edit_case(rt, case_id: int, actor_id: int, at: dt.datetime | None = None, **fields: Any) -> Case:
    """Change title, responsible body, domain, nature or urgency before the suggestion is issued."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise InputError(
            f"case {case_id}: cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE_FIELDS)}"
        )
    at = at or utcnow()
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = _editable(s, case_id, "edit")
        for key in ("title", "responsible_body"):
            if key in fields:
                fields[key] = _text(fields[key], key)
        changes = {k: v for k, v in fields.items() if getattr(case, k) != v}
        for key, value in changes.items():
            setattr(case, key, value)
        if changes:
            case.updated_at = at
            audit.append(s, actor_id, "case", case.id, "edit", changes, at=at)
    return case


def apply(
    rt,
    case_id: int,
    action: str | Action,
    actor_id: int,
    at: dt.datetime | None = None,
    rules: DeadlineRules | None = None,
    **data: Any,
) -> Event:
    """Apply a workflow action; record the CaseEvent and the audit entry; return the event.

    Refused actions raise (ConflictError, InputError) and leave the case, its events and the
    audit log unchanged. Closing a case (rectified) closes its findings.
    """
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = _load(s, case_id)
        new, event = step(
            _facts(s, case), action, actor_id=actor_id, at=at, rules=rules, case_label=label(case), **data
        )
        for key in CASE_FIELDS:
            value = getattr(new, key)
            setattr(case, key, value.value if isinstance(value, State) else value)
        case.updated_at = at
        s.add(
            CaseEvent(
                case_id=case.id,
                action=event.action.value,
                from_state=event.from_state.value,
                to_state=event.to_state.value,
                actor_id=actor_id,
                at=at,
                note=event.note,
                changes=audit.json_ready(event.changes),
            )
        )
        payload = {
            "from": event.from_state,
            "to": event.to_state,
            "changes": event.changes,
            "note": event.note,
        }
        audit.append(s, actor_id, "case", case.id, event.action.value, payload, at=at)
        if event.to_state == State.CLOSED:
            _close_findings(s, case, actor_id, at)
    return event


def _facts(s: Session, case: Case) -> CaseFacts:
    count = s.scalar(select(func.count()).select_from(CaseFinding).where(CaseFinding.case_id == case.id))
    values = {key: getattr(case, key) for key in CASE_FIELDS}
    values["state"] = State(case.state)
    values["resume_to"] = State(case.resume_to) if case.resume_to else None
    return CaseFacts(finding_count=count or 0, **values)


def _load(s: Session, case_id: int) -> Case:
    return get_or_raise(s, Case, case_id, "case")


def _editable(s: Session, case_id: int, what: str) -> Case:
    case = _load(s, case_id)
    if case.state not in EDITABLE_STATES:
        raise ConflictError(
            f"{label(case)}: cannot {what} the case in state {case.state}; findings and details can "
            f"change only in states {', '.join(sorted(EDITABLE_STATES))} (before the suggestion, R69)"
        )
    return case


def _text(value: Any, field: str) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise InputError(f"case: {field} must be non-empty text")
    return text


def _link(s: Session, case: Case, finding_ids: list[int], actor_id: int, at: dt.datetime) -> None:
    for fid in dict.fromkeys(finding_ids):
        if s.get(Finding, fid) is None:
            raise NotFoundError(f"{label(case)}: finding {fid} not found")
        if s.get(CaseFinding, (case.id, fid)) is not None:
            continue
        s.add(CaseFinding(case_id=case.id, finding_id=fid, added_by_id=actor_id, added_at=at))
        audit.append(s, actor_id, "case", case.id, "add_finding", {"finding_id": fid}, at=at)
    case.updated_at = at


def _close_findings(s: Session, case: Case, actor_id: int, at: dt.datetime) -> None:
    findings = s.scalars(
        select(Finding)
        .join(CaseFinding, CaseFinding.finding_id == Finding.id)
        .where(CaseFinding.case_id == case.id, Finding.state != "closed")
        .order_by(Finding.id)
    )
    for finding in findings:
        finding.state = "closed"
        audit.append(s, actor_id, "finding", finding.id, "close", {"case_id": case.id}, at=at)
