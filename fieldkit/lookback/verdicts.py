"""Verdicts per finding on a look-back, and concluding it: the case moves on by the rules.

A finding's status on a look-back is ``not_checked`` until a new photo of it is confirmed
(:mod:`.pairing`), then ``paired`` until a verdict is given. Every verdict except ``no_access``
needs a confirmed new photo, so a finding is never ``rectified`` without one.

:func:`conclude_lookback` applies the existing workflow (:func:`fieldkit.cases.apply`), first
``start_follow_up`` when the case is still awaiting the reply (R77), then:

- every open finding ``rectified`` → ``close`` (R79-80 with R74(3)), ending on the look-back date;
- any ``not_rectified`` or ``worse`` and the look-back after the deadline (the end of the
  rectification period, else the reply deadline) → ``refer_to_litigation_review``, whose own
  deadline is 1 month after the rectification period (R81-82; R47);
- otherwise (partly, no access, not checked, or not rectified while the period still runs) →
  ``record_look_back``: the case stays in follow-up with a note naming those findings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, cases
from ..cases.deadlines import DeadlineRules, legal_date
from ..cases.workflow import Event, as_date
from ..errors import ConflictError, InputError
from ..store.lookup import check_actor, get_or_raise
from ..store.models import utcnow
from ..store.models_cases import Finding
from ..store.models_lookback import VERDICTS, LookBackPair, LookBackVerdict
from .common import LOOKBACK_STATES, case_findings, case_label, load_case, load_lookback

VERDICT_ZH = {
    "rectified": "已整改",
    "partly": "部分整改",
    "not_rectified": "未整改",
    "worse": "情况恶化",
    "no_access": "无法进入现场",
    "not_checked": "未核查",
    "paired": "待认定",
}


@dataclasses.dataclass(frozen=True, slots=True)
class FindingCheck:
    """Where one finding stands on a look-back."""

    finding_id: int
    category_id: str
    place: str | None
    status: str  # not_checked | paired | one of VERDICTS
    new_photo_ids: tuple[int, ...]  # confirmed pairs
    verdict: str | None
    verdict_by_id: int | None
    verdict_at: dt.datetime | None
    note: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Conclusion:
    """What concluding a look-back did to its case."""

    lookback_id: int
    case_id: int
    outcome: str  # closed | litigation_review | follow_up
    done_on: dt.date
    note: str
    events: tuple[Event, ...]
    checks: tuple[FindingCheck, ...]


def finding_checks(rt, lookback_id: int) -> list[FindingCheck]:
    """The status of every open finding of the look-back's case (closed ones when concluded)."""
    with rt.db.session() as s:
        return checks_of(s, load_lookback(s, lookback_id))


def record_verdict(
    rt,
    lookback_id: int,
    finding_id: int,
    verdict: str,
    actor_id: int,
    *,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> FindingCheck:
    """Give (or change) the verdict on a finding; audited with the previous verdict."""
    if verdict not in VERDICTS:
        raise InputError(f"look-back {lookback_id}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        lb = load_lookback(s, lookback_id)
        if lb.outcome is not None:
            raise ConflictError(f"look-back {lb.id}: already concluded ({lb.outcome}); verdicts can no longer change")
        finding = get_or_raise(s, Finding, finding_id, "finding")
        if finding.id not in {f.id for f in case_findings(s, lb.case_id)}:
            raise ConflictError(f"look-back {lb.id}: finding {finding_id} is not part of case {lb.case_id}")
        if verdict != "no_access" and not _confirmed(s, lb.id, finding.id):
            raise ConflictError(
                f"look-back {lb.id}: finding {finding_id} has no confirmed new photo; it stays not checked "
                f"(confirm a pair first, or record no_access)"
            )
        row = s.scalar(select(LookBackVerdict).where(LookBackVerdict.lookback_id == lb.id,
                                                     LookBackVerdict.finding_id == finding.id))
        before = None if row is None else row.verdict
        if row is None:
            row = LookBackVerdict(lookback_id=lb.id, finding_id=finding.id)
            s.add(row)
        row.verdict, row.by_id, row.at, row.note = verdict, actor_id, at, (note or "").strip() or None
        s.flush()
        audit.append(s, actor_id, "lookback", lb.id, "verdict",
                     {"finding_id": finding.id, "from": before, "to": verdict, "note": row.note}, at=at)
        return next(c for c in checks_of(s, lb) if c.finding_id == finding.id)


def conclude_lookback(
    rt,
    lookback_id: int,
    actor_id: int,
    *,
    done_on: dt.date | str | None = None,
    at: dt.datetime | None = None,
    rules: DeadlineRules | None = None,
) -> Conclusion:
    """Mark the look-back done and move its case on by the rules (module docstring)."""
    at = (at or utcnow()).replace(tzinfo=None)
    with rt.db.session() as s:
        check_actor(s, actor_id)
        lb = load_lookback(s, lookback_id)
        if lb.outcome is not None:
            raise ConflictError(f"look-back {lb.id}: already concluded ({lb.outcome})")
        day = as_date(done_on, f"look-back {lb.id}: done_on") if done_on else (lb.done_on or legal_date(at))
        case = load_case(s, lb.case_id)
        if case.state not in LOOKBACK_STATES:
            raise ConflictError(f"{case_label(case)}: is {case.state}; a look-back concludes only in "
                                f"{', '.join(LOOKBACK_STATES)}")
        checks = checks_of(s, lb)
        deadline = case.rectification_due or case.reply_due
        outcome, note = decide(checks, day, deadline)
        state = case.state
    events = []
    if state == "awaiting_reply":
        events.append(cases.apply(rt, lb.case_id, "start_follow_up", actor_id, at=at, rules=rules,
                                  note=f"回头看 look-back {lb.id}"))
    if outcome == "closed":
        events.append(cases.apply(rt, lb.case_id, "close", actor_id, at=at, rules=rules, ended_on=day, note=note))
    elif outcome == "litigation_review":
        events.append(cases.apply(rt, lb.case_id, "refer_to_litigation_review", actor_id, at=at, rules=rules,
                                  note=note))
    else:
        events.append(cases.apply(rt, lb.case_id, "record_look_back", actor_id, at=at, rules=rules,
                                  done_on=day, note=note))
    with rt.db.session(write=True) as s:
        lb = load_lookback(s, lookback_id)
        lb.done_on, lb.outcome, lb.updated_at = day, outcome, at
        audit.append(s, actor_id, "lookback", lb.id, "conclude",
                     {"done_on": day, "outcome": outcome, "note": note,
                      "verdicts": {str(c.finding_id): c.status for c in checks}}, at=at)
    return Conclusion(lookback_id, lb.case_id, outcome, day, note, tuple(events), tuple(checks))


def decide(checks: list[FindingCheck], done_on: dt.date, deadline: dt.date | None) -> tuple[str, str]:
    """``(outcome, note)`` for the statuses of a case's findings (pure; see the module docstring)."""
    if not checks:
        raise ConflictError("look-back: the case has no open findings to decide on")
    by_status: dict[str, list[int]] = {}
    for c in checks:
        by_status.setdefault(c.status, []).append(c.finding_id)
    bad = by_status.get("not_rectified", []) + by_status.get("worse", [])
    summary = "；".join(
        f"{VERDICT_ZH[k]} {k}: " + ", ".join(map(str, v)) for k, v in sorted(by_status.items())
    )
    if bad and deadline is not None and done_on > deadline:
        return "litigation_review", f"回头看 {done_on}：整改期限 {deadline} 届满后仍未整改（{summary}）"
    if set(by_status) == {"rectified"}:
        return "closed", f"回头看 {done_on}：全部整改到位（{summary}）"
    return "follow_up", f"回头看 {done_on}：继续跟进（{summary}）"


def _confirmed(s: Session, lookback_id: int, finding_id: int) -> list[int]:
    return list(s.scalars(select(LookBackPair.photo_id).where(
        LookBackPair.lookback_id == lookback_id, LookBackPair.finding_id == finding_id,
        LookBackPair.state == "confirmed").order_by(LookBackPair.id)))


def checks_of(s: Session, lb) -> list[FindingCheck]:
    """:func:`finding_checks` inside an open session, for a loaded look-back row."""
    verdicts = {v.finding_id: v for v in s.scalars(select(LookBackVerdict).where(LookBackVerdict.lookback_id == lb.id))}
    out = []
    for f in case_findings(s, lb.case_id):
        if f.state != "open" and f.id not in verdicts:
            continue
        photos = tuple(_confirmed(s, lb.id, f.id))
        v = verdicts.get(f.id)
        status = v.verdict if v is not None else ("paired" if photos else "not_checked")
        out.append(FindingCheck(f.id, f.category_id, f.place, status, photos, v and v.verdict,
                                v and v.by_id, v and v.at, v and v.note))
    return out
