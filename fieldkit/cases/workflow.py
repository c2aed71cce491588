"""The workflow of an administrative public-interest case (行政公益诉讼) as a pure state machine.

No database here: :func:`step` takes the facts of a case, an action and its data, and returns
the new facts plus the :class:`Event` to record, or raises. The store applies both.

Transitions (brief §1; R = 公益诉讼办案规则, J = 两高解释, G = 检察建议工作规定)::

    clue ──file──▶ filed ──start_investigation──▶ investigating ──issue_suggestion──▶
    suggestion_issued ──record_service──▶ awaiting_reply ──start_follow_up──▶ follow_up
    follow_up ──close──▶ closed            (fully rectified; R79-80 with R74(3))
    follow_up ──transfer──▶ transferred    (R79(3))
    follow_up ──suspend──▶ suspended ──resume──▶ (the state it was suspended from; R78)
    follow_up ──refer_to_litigation_review──▶ litigation_review ──sue──▶ sued   (R81-83)
    clue ──decline_filing──▶ not_filed     (R28-30)
    investigating | follow_up | litigation_review ──terminate──▶ terminated   (R73-74, R79-80)

Actions that keep the state: ``serve_filing_decision`` (R70), ``record_filed_upward`` (R75),
``record_reply`` (replies may come in stages), ``extend_litigation_review`` (R47: one extension
by the chief procurator, further ones need the higher level's approval), ``record_look_back``
(R77: a look-back that did not decide the case — partly rectified, no access — noted on the
timeline while the case stays in follow-up).
Guards: a suggestion needs at least one finding; dates may not precede the dates they follow.
Findings may be added to or removed from a case only before the suggestion is issued (R69).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConflictError, InputError
from .deadlines import DeadlineRules, legal_date


class State(enum.StrEnum):
    """Where a case stands."""

    CLUE = "clue"
    NOT_FILED = "not_filed"
    FILED = "filed"
    INVESTIGATING = "investigating"
    SUGGESTION_ISSUED = "suggestion_issued"
    AWAITING_REPLY = "awaiting_reply"
    FOLLOW_UP = "follow_up"
    SUSPENDED = "suspended"
    LITIGATION_REVIEW = "litigation_review"
    SUED = "sued"
    CLOSED = "closed"
    TERMINATED = "terminated"
    TRANSFERRED = "transferred"


class Action(enum.StrEnum):
    """What a user can do to a case."""

    FILE = "file"
    DECLINE_FILING = "decline_filing"
    SERVE_FILING_DECISION = "serve_filing_decision"
    START_INVESTIGATION = "start_investigation"
    ISSUE_SUGGESTION = "issue_suggestion"
    RECORD_SERVICE = "record_service"
    RECORD_FILED_UPWARD = "record_filed_upward"
    RECORD_REPLY = "record_reply"
    START_FOLLOW_UP = "start_follow_up"
    SUSPEND = "suspend"
    RESUME = "resume"
    CLOSE = "close"
    TRANSFER = "transfer"
    REFER_TO_LITIGATION_REVIEW = "refer_to_litigation_review"
    EXTEND_LITIGATION_REVIEW = "extend_litigation_review"
    RECORD_LOOK_BACK = "record_look_back"
    SUE = "sue"
    TERMINATE = "terminate"


S, A = State, Action
FINAL_STATES = frozenset({S.NOT_FILED, S.SUED, S.CLOSED, S.TERMINATED, S.TRANSFERRED})
EDITABLE_STATES = frozenset({S.CLUE, S.FILED, S.INVESTIGATING})
SERVICE_METHODS = {"written": "书面送达", "announced": "宣告送达", "left": "留置送达"}
DATE_FIELDS = frozenset(
    {
        "filed_on",
        "served_on",
        "decided_on",
        "filed_upward_on",
        "received_on",
        "ended_on",
        "sued_on",
        "rectification_due",
        "done_on",
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One action: the states it starts from, where it leads and the data it takes."""

    sources: frozenset[State]
    target: State | None  # None: the state stays (or, for ``resume``, returns to ``resume_to``)
    fields: tuple[str, ...]
    basis: str


RULES: Mapping[Action, Rule] = {
    A.FILE: Rule(frozenset({S.CLUE}), S.FILED, ("filed_on",), "R67-70"),
    A.DECLINE_FILING: Rule(frozenset({S.CLUE}), S.NOT_FILED, ("ended_on",), "R28-30"),
    A.SERVE_FILING_DECISION: Rule(frozenset({S.FILED, S.INVESTIGATING}), None, ("served_on",), "R70"),
    A.START_INVESTIGATION: Rule(frozenset({S.FILED}), S.INVESTIGATING, (), "R71-72"),
    A.ISSUE_SUGGESTION: Rule(frozenset({S.INVESTIGATING}), S.SUGGESTION_ISSUED, ("decided_on",), "R75"),
    A.RECORD_SERVICE: Rule(
        frozenset({S.SUGGESTION_ISSUED}),
        S.AWAITING_REPLY,
        ("served_on", "method", "rectification_due"),
        "R76; J21; G19",
    ),
    A.RECORD_FILED_UPWARD: Rule(
        frozenset({S.AWAITING_REPLY, S.FOLLOW_UP, S.SUSPENDED, S.LITIGATION_REVIEW}),
        None,
        ("filed_upward_on",),
        "R75",
    ),
    A.RECORD_REPLY: Rule(
        frozenset({S.AWAITING_REPLY, S.FOLLOW_UP, S.SUSPENDED}), None, ("received_on",), "J21; G19"
    ),
    A.START_FOLLOW_UP: Rule(frozenset({S.AWAITING_REPLY}), S.FOLLOW_UP, (), "R77"),
    A.SUSPEND: Rule(frozenset({S.FOLLOW_UP}), S.SUSPENDED, (), "R78"),
    A.RESUME: Rule(frozenset({S.SUSPENDED}), None, (), "R78"),
    A.CLOSE: Rule(frozenset({S.FOLLOW_UP}), S.CLOSED, ("ended_on",), "R79-80, R74(3)"),
    A.TRANSFER: Rule(frozenset({S.FOLLOW_UP}), S.TRANSFERRED, ("ended_on",), "R79(3)"),
    A.REFER_TO_LITIGATION_REVIEW: Rule(frozenset({S.FOLLOW_UP}), S.LITIGATION_REVIEW, (), "R81-82; R47"),
    A.EXTEND_LITIGATION_REVIEW: Rule(frozenset({S.LITIGATION_REVIEW}), None, ("approved_by_higher",), "R47"),
    A.RECORD_LOOK_BACK: Rule(frozenset({S.FOLLOW_UP}), None, ("done_on",), "R77"),
    A.SUE: Rule(frozenset({S.LITIGATION_REVIEW}), S.SUED, ("sued_on",), "R81, R83"),
    A.TERMINATE: Rule(
        frozenset({S.INVESTIGATING, S.FOLLOW_UP, S.LITIGATION_REVIEW}),
        S.TERMINATED,
        ("ended_on",),
        "R73-74, R79-80",
    ),
}


@dataclasses.dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the workflow knows of a case. Field names match the columns of ``cases``."""

    state: State = S.CLUE
    urgent: bool = False
    finding_count: int = 0
    resume_to: State | None = None
    filed_on: dt.date | None = None
    filing_service_due: dt.date | None = None
    filing_served_on: dt.date | None = None
    decided_on: dt.date | None = None
    service_due: dt.date | None = None
    served_on: dt.date | None = None
    service_method: str | None = None
    filed_upward_due: dt.date | None = None
    filed_upward_on: dt.date | None = None
    reply_due: dt.date | None = None
    rectification_due: dt.date | None = None
    first_reply_on: dt.date | None = None
    reply_count: int = 0
    review_due: dt.date | None = None
    review_extensions: int = 0
    sued_on: dt.date | None = None
    ended_on: dt.date | None = None


CASE_FIELDS = tuple(f.name for f in dataclasses.fields(CaseFacts) if f.name != "finding_count")


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One accepted action: who did what, when, and which case fields it set."""

    action: Action
    from_state: State
    to_state: State
    actor_id: int
    at: dt.datetime
    note: str | None
    changes: Mapping[str, Any]


def allowed_actions(facts: CaseFacts) -> tuple[Action, ...]:
    """Actions whose source states include the case's state (guards aside), in declaration order."""
    return tuple(a for a, rule in RULES.items() if facts.state in rule.sources)


def parse_action(action: str | Action) -> Action:
    """``action`` as an :class:`Action`; an unknown name raises InputError listing the known ones."""
    try:
        return Action(action)
    except ValueError:
        raise InputError(f"action {action!r}: unknown; known: {', '.join(Action)}") from None


def step(
    facts: CaseFacts,
    action: str | Action,
    *,
    actor_id: int,
    at: dt.datetime,
    rules: DeadlineRules | None = None,
    case_label: str = "case",
    **data: Any,
) -> tuple[CaseFacts, Event]:
    """Apply ``action`` to ``facts``: return the new facts and the event, or raise.

    An action not allowed in the current state, or whose guard fails, raises ConflictError naming
    the case, the state, the action and the allowed actions; bad data raises InputError.
    """
    action = parse_action(action)
    rule = RULES[action]
    if facts.state not in rule.sources:
        raise ConflictError(_refusal(facts, action, case_label, "not allowed in this state"))
    inputs = _inputs(action, rule, data, at, case_label)
    note = inputs.pop("note", None)
    changes = _EFFECTS[action](facts, inputs, rules or DeadlineRules(), _Refuse(facts, action, case_label))
    target = changes.pop("state", None) or rule.target or facts.state
    new = dataclasses.replace(facts, state=target, **changes)
    event = Event(action, facts.state, target, actor_id, at, note, dict(changes))
    return new, event


def _refusal(facts: CaseFacts, action: Action, case_label: str, why: str) -> str:
    allowed = ", ".join(allowed_actions(facts)) or "none (the case is finished)"
    return f"{case_label}: cannot {action} in state {facts.state!s} ({why}); allowed: {allowed}"


class _Refuse:
    """Raises the ConflictError of a failed guard with the standard message."""

    def __init__(self, facts: CaseFacts, action: Action, case_label: str) -> None:
        self.args = (facts, action, case_label)

    def __call__(self, why: str) -> None:
        raise ConflictError(_refusal(*self.args, why))


def _inputs(action: Action, rule: Rule, data: Mapping[str, Any], at: dt.datetime, label: str) -> dict:
    unknown = sorted(set(data) - set(rule.fields) - {"note"})
    if unknown:
        accepted = ", ".join(rule.fields + ("note",))
        raise InputError(f"{label}: {action}: unknown field(s) {', '.join(unknown)}; accepted: {accepted}")
    values = {k: v for k, v in data.items() if v is not None}
    for key in rule.fields:
        if key in DATE_FIELDS and key in values:
            values[key] = as_date(values[key], f"{label}: {action}: {key}")
        elif key in DATE_FIELDS and key != "rectification_due":
            values[key] = legal_date(at)
    if "method" in values and values["method"] not in SERVICE_METHODS:
        raise InputError(
            f"{label}: {action}: method {values['method']!r}: must be one of {', '.join(SERVICE_METHODS)}"
        )
    if "approved_by_higher" in values and not isinstance(values["approved_by_higher"], bool):
        raise InputError(f"{label}: {action}: approved_by_higher must be true or false")
    if "note" in values and not isinstance(values["note"], str):
        raise InputError(f"{label}: {action}: note must be text")
    return values


def as_date(value: Any, where: str) -> dt.date:
    """``value`` (a date or ``YYYY-MM-DD``) as a date; InputError naming ``where`` otherwise."""
    if isinstance(value, dt.datetime):
        raise InputError(f"{where}: give a calendar date, not a date and time ({value!r})")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _not_before(refuse: _Refuse, day: dt.date, earlier: dt.date | None, what: str, name: str) -> None:
    if earlier is not None and day < earlier:
        refuse(f"{what} {day} is before {name} {earlier}")


Effect = Callable[[CaseFacts, dict, DeadlineRules, _Refuse], dict]


def _file(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    return {"filed_on": i["filed_on"], "filing_service_due": r.filing_service_due(i["filed_on"])}


def _serve_filing(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    if f.filing_served_on is not None:
        refuse(f"the filing decision was already served on {f.filing_served_on}")
    _not_before(refuse, i["served_on"], f.filed_on, "service date", "the filing date")
    return {"filing_served_on": i["served_on"]}


def _issue(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    if f.finding_count < 1:
        refuse("the case has no findings; add at least one")
    _not_before(refuse, i["decided_on"], f.filed_on, "decision date", "the filing date")
    return {"decided_on": i["decided_on"], "service_due": r.suggestion_service_due(i["decided_on"])}


def _service(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    served = i["served_on"]
    _not_before(refuse, served, f.decided_on, "service date", "the decision date")
    rectification = i.get("rectification_due") or r.rectification_due(served, f.urgent)
    if rectification <= served:
        refuse(f"rectification deadline {rectification} must be after the service date {served}")
    return {
        "served_on": served,
        "service_method": i.get("method", "written"),
        "filed_upward_due": r.filed_upward_due(served),
        "reply_due": r.reply_due(served, f.urgent),
        "rectification_due": rectification,
    }


def _filed_upward(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    if f.filed_upward_on is not None:
        refuse(f"the suggestion was already filed upward on {f.filed_upward_on}")
    _not_before(refuse, i["filed_upward_on"], f.served_on, "filing date", "the service date")
    return {"filed_upward_on": i["filed_upward_on"]}


def _reply(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    _not_before(refuse, i["received_on"], f.served_on, "reply date", "the service date")
    return {"first_reply_on": f.first_reply_on or i["received_on"], "reply_count": f.reply_count + 1}


def _suspend(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    return {"resume_to": f.state}


def _resume(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    if f.resume_to is None:  # only reachable with facts built by hand
        refuse("the state to resume to is unknown")
    return {"state": f.resume_to, "resume_to": None}


def _refer(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    if f.rectification_due is None:  # only reachable with facts built by hand
        refuse("the rectification period is unknown; record the service first")
    return {"review_due": r.litigation_review_due(f.rectification_due), "review_extensions": 0}


def _extend(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    if f.review_extensions >= r.extensions_without_approval and not i.get("approved_by_higher"):
        refuse("a further extension needs the higher procuratorate's approval (approved_by_higher)")
    n = f.review_extensions + 1
    return {"review_extensions": n, "review_due": r.litigation_review_due(f.rectification_due, n)}


def _look_back(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    _not_before(refuse, i["done_on"], f.served_on, "look-back date", "the service date")
    return {}


def _ending(key: str) -> Effect:
    def effect(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
        _not_before(refuse, i[key], f.filed_on, key.replace("_", " "), "the filing date")
        return {key: i[key]}

    return effect


def _nothing(f: CaseFacts, i: dict, r: DeadlineRules, refuse: _Refuse) -> dict:
    return {}


_EFFECTS: Mapping[Action, Effect] = {
    A.FILE: _file,
    A.DECLINE_FILING: _ending("ended_on"),
    A.SERVE_FILING_DECISION: _serve_filing,
    A.START_INVESTIGATION: _nothing,
    A.ISSUE_SUGGESTION: _issue,
    A.RECORD_SERVICE: _service,
    A.RECORD_FILED_UPWARD: _filed_upward,
    A.RECORD_REPLY: _reply,
    A.START_FOLLOW_UP: _nothing,
    A.SUSPEND: _suspend,
    A.RESUME: _resume,
    A.CLOSE: _ending("ended_on"),
    A.TRANSFER: _ending("ended_on"),
    A.REFER_TO_LITIGATION_REVIEW: _refer,
    A.EXTEND_LITIGATION_REVIEW: _extend,
    A.RECORD_LOOK_BACK: _look_back,
    A.SUE: _ending("sued_on"),
    A.TERMINATE: _ending("ended_on"),
}


def pending_deadlines(facts: CaseFacts) -> dict[str, dt.date]:
    """Deadlines still running for the case (name → last day); none once the case is finished."""
    if facts.state in FINAL_STATES:
        return {}
    due: dict[str, dt.date | None] = {
        "filing_service_due": facts.filing_service_due if facts.filing_served_on is None else None,
        "service_due": facts.service_due if facts.state == S.SUGGESTION_ISSUED else None,
        "filed_upward_due": facts.filed_upward_due if facts.filed_upward_on is None else None,
        "reply_due": facts.reply_due if facts.first_reply_on is None else None,
        "rectification_due": facts.rectification_due if facts.state != S.LITIGATION_REVIEW else None,
        "review_due": facts.review_due if facts.state == S.LITIGATION_REVIEW else None,
    }
    return {k: v for k, v in due.items() if v is not None}
