"""The case state machine: allowed transitions, guards, deadlines, refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.cases.deadlines import DeadlineRules, add_months
from fieldkit.cases.workflow import (
    FINAL_STATES,
    RULES,
    Action,
    CaseFacts,
    State,
    allowed_actions,
    pending_deadlines,
    step,
)
from fieldkit.errors import ConflictError, InputError

D = dt.date
T0 = dt.datetime(2025, 1, 2, 2, 0)  # 10:00 in Beijing

# The workflow of issue 5 / brief §1, written out independently of RULES: (state, action) -> next
# state; "=" means the state stays, "resume" returns to the remembered state.
EXPECTED = {
    ("clue", "file"): "filed",
    ("clue", "decline_filing"): "not_filed",
    ("filed", "serve_filing_decision"): "=",
    ("investigating", "serve_filing_decision"): "=",
    ("filed", "start_investigation"): "investigating",
    ("investigating", "issue_suggestion"): "suggestion_issued",
    ("investigating", "terminate"): "terminated",
    ("suggestion_issued", "record_service"): "awaiting_reply",
    ("awaiting_reply", "record_reply"): "=",
    ("follow_up", "record_reply"): "=",
    ("suspended", "record_reply"): "=",
    ("awaiting_reply", "record_filed_upward"): "=",
    ("follow_up", "record_filed_upward"): "=",
    ("suspended", "record_filed_upward"): "=",
    ("litigation_review", "record_filed_upward"): "=",
    ("awaiting_reply", "start_follow_up"): "follow_up",
    ("follow_up", "close"): "closed",
    ("follow_up", "transfer"): "transferred",
    ("follow_up", "terminate"): "terminated",
    ("follow_up", "suspend"): "suspended",
    ("suspended", "resume"): "resume",
    ("follow_up", "refer_to_litigation_review"): "litigation_review",
    ("litigation_review", "extend_litigation_review"): "=",
    ("follow_up", "record_look_back"): "=",
    ("litigation_review", "sue"): "sued",
    ("litigation_review", "terminate"): "terminated",
}
AFTER_SUGGESTION = {
    "suggestion_issued",
    "awaiting_reply",
    "follow_up",
    "suspended",
    "litigation_review",
    "sued",
    "closed",
    "transferred",
}
AFTER_SERVICE = AFTER_SUGGESTION - {"suggestion_issued"}
FINISHED = {"not_filed", "sued", "closed", "terminated", "transferred"}


def run(facts: CaseFacts, *actions: str, rules: DeadlineRules | None = None) -> CaseFacts:
    """Apply ``actions`` one day apart, starting the day after the case's latest date."""
    known = [getattr(facts, k.name) for k in dataclasses.fields(facts) if k.name.endswith("_on")]
    known = [d for d in known if d is not None] + [T0.date()]
    at = dt.datetime.combine(max(known), T0.time())
    for i, action in enumerate(actions, start=1):
        facts, _ = step(facts, action, actor_id=7, at=at + dt.timedelta(days=i), rules=rules)
    return facts


def test_rules_match_the_expected_table():
    table = {(s.value, a.value) for a, rule in RULES.items() for s in rule.sources}
    assert table == set(EXPECTED)


def test_happy_path_sets_every_deadline():
    f = CaseFacts(finding_count=2)
    f, e = step(f, "file", actor_id=7, at=T0, filed_on="2025-01-02")
    assert (e.from_state, e.to_state, e.actor_id, e.at) == (State.CLUE, State.FILED, 7, T0)
    assert f.filing_service_due == D(2025, 1, 9)
    f = run(f, "start_investigation")
    f, e = step(f, "issue_suggestion", actor_id=8, at=T0, decided_on=D(2025, 1, 28), note="检察长决定")
    assert (f.service_due, e.note, e.actor_id) == (D(2025, 1, 31), "检察长决定", 8)
    f, e = step(f, "record_service", actor_id=7, at=T0, served_on=D(2025, 1, 31), method="announced")
    assert f.state == State.AWAITING_REPLY and f.service_method == "announced"
    assert (f.filed_upward_due, f.reply_due, f.rectification_due) == (
        D(2025, 2, 5),
        D(2025, 3, 31),
        D(2025, 3, 31),
    )
    assert e.changes["reply_due"] == D(2025, 3, 31)
    f = run(f, "start_follow_up", "refer_to_litigation_review")
    assert f.review_due == D(2025, 4, 30)
    f = run(f, "extend_litigation_review")
    assert (f.review_due, f.review_extensions) == (D(2025, 5, 31), 1)
    f = run(f, "sue")
    assert f.state == State.SUED and allowed_actions(f) == ()


def test_urgent_case_gets_a_15_day_reply():
    f = run(CaseFacts(finding_count=1, urgent=True), "file", "start_investigation", "issue_suggestion")
    f, _ = step(f, "record_service", actor_id=7, at=T0 + dt.timedelta(days=30), served_on="2025-01-31")
    assert f.reply_due == D(2025, 2, 15)
    assert f.rectification_due == D(2025, 3, 31)  # §6 Q2: rectification stays 2 months unless configured
    rules = DeadlineRules(urgent_reply_days=10, urgent_rectification_days=20)
    g = run(CaseFacts(finding_count=1, urgent=True), "file", "start_investigation", "issue_suggestion")
    g, _ = step(g, "record_service", actor_id=7, at=T0, served_on="2025-01-31", rules=rules)
    assert (g.reply_due, g.rectification_due) == (D(2025, 2, 10), D(2025, 2, 20))


def test_illegal_transition_names_case_state_action_and_allowed():
    f = run(CaseFacts(), "file")
    with pytest.raises(ConflictError) as info:
        step(f, "record_service", actor_id=7, at=T0, case_label="case 12 (长城某段)")
    msg = str(info.value)
    assert "case 12 (长城某段)" in msg and "record_service" in msg and "filed" in msg
    assert "allowed: serve_filing_decision, start_investigation" in msg
    assert info.value.http_status == 409


def test_finished_case_allows_nothing():
    f = run(CaseFacts(), "decline_filing")
    assert f.state == State.NOT_FILED and f.ended_on == D(2025, 1, 3)
    with pytest.raises(ConflictError, match="allowed: none"):
        step(f, "file", actor_id=7, at=T0)


def test_suggestion_requires_a_finding():
    f = run(CaseFacts(), "file", "start_investigation")
    with pytest.raises(ConflictError, match="no findings"):
        step(f, "issue_suggestion", actor_id=7, at=T0)
    assert run(dataclasses.replace(f, finding_count=1), "issue_suggestion").state == State.SUGGESTION_ISSUED


def test_suspend_only_from_follow_up_and_resume_returns():
    f = run(CaseFacts(finding_count=1), "file", "start_investigation", "issue_suggestion", "record_service")
    with pytest.raises(ConflictError, match="cannot suspend in state awaiting_reply"):
        step(f, "suspend", actor_id=7, at=T0)
    f = run(f, "start_follow_up", "suspend")
    assert (f.state, f.resume_to) == (State.SUSPENDED, State.FOLLOW_UP)
    with pytest.raises(ConflictError, match="allowed: record_filed_upward, record_reply, resume"):
        step(f, "close", actor_id=7, at=T0)
    f, e = step(f, "resume", actor_id=7, at=T0)
    assert (f.state, f.resume_to, e.to_state) == (State.FOLLOW_UP, None, State.FOLLOW_UP)


def test_second_extension_needs_higher_approval():
    f = run(
        CaseFacts(finding_count=1),
        "file",
        "start_investigation",
        "issue_suggestion",
        "record_service",
        "start_follow_up",
        "refer_to_litigation_review",
        "extend_litigation_review",
    )
    with pytest.raises(ConflictError, match="higher procuratorate"):
        step(f, "extend_litigation_review", actor_id=7, at=T0)
    f, _ = step(f, "extend_litigation_review", actor_id=7, at=T0, approved_by_higher=True)
    assert f.review_extensions == 2 and f.review_due == add_months(f.rectification_due, 3)


def test_one_time_records_and_date_order_are_guarded():
    f = run(CaseFacts(finding_count=1), "file", "serve_filing_decision")
    with pytest.raises(ConflictError, match="already served"):
        step(f, "serve_filing_decision", actor_id=7, at=T0)
    f = run(f, "start_investigation")
    f, _ = step(f, "issue_suggestion", actor_id=7, at=T0, decided_on="2025-02-10")
    with pytest.raises(ConflictError, match="service date 2025-02-09 is before the decision date 2025-02-10"):
        step(f, "record_service", actor_id=7, at=T0, served_on="2025-02-09")
    f, _ = step(f, "record_service", actor_id=7, at=T0, served_on="2025-02-10")
    f = run(f, "record_reply", "record_reply")
    assert (f.reply_count, f.first_reply_on) == (2, D(2025, 2, 11))


@pytest.mark.parametrize(
    ("action", "data", "match"),
    [
        ("fly", {}, "action 'fly': unknown; known: file, "),
        ("file", {"served_on": "2025-01-01"}, "unknown field.*served_on; accepted: filed_on, note"),
        ("file", {"filed_on": "2025-02-30"}, "file: filed_on: '2025-02-30' is not a date"),
        ("file", {"filed_on": dt.datetime(2025, 1, 1, 9)}, "not a date and time"),
        ("file", {"note": 5}, "note must be text"),
    ],
)
def test_bad_input_is_an_input_error(action, data, match):
    with pytest.raises(InputError, match=match):
        step(CaseFacts(), action, actor_id=7, at=T0, **data)


def test_bad_service_method():
    f = run(CaseFacts(finding_count=1), "file", "start_investigation", "issue_suggestion")
    with pytest.raises(InputError, match="method 'fax'"):
        step(f, "record_service", actor_id=7, at=T0, method="fax")


def test_pending_deadlines():
    f = run(CaseFacts(finding_count=1), "file", "start_investigation", "issue_suggestion")
    assert set(pending_deadlines(f)) == {"filing_service_due", "service_due"}
    f = run(f, "record_service", "record_filed_upward")
    assert set(pending_deadlines(f)) == {"filing_service_due", "reply_due", "rectification_due"}
    f = run(f, "start_follow_up", "close")
    assert pending_deadlines(f) == {}


def test_every_state_is_reachable():
    seen, todo = {State.CLUE}, [State.CLUE]
    while todo:
        state = todo.pop()
        for (src, _action), dst in EXPECTED.items():
            nxt = State(dst) if dst not in ("=", "resume") else None
            if src == state and nxt and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(State)
    assert all(not allowed_actions(CaseFacts(state=s)) for s in FINAL_STATES)
    assert all(allowed_actions(CaseFacts(state=s)) for s in set(State) - FINAL_STATES)


def _expected_guard_refusal(f: CaseFacts, action: str, approved: bool) -> bool:
    return (
        (action == "issue_suggestion" and f.finding_count == 0)
        or (action == "serve_filing_decision" and f.filing_served_on is not None)
        or (action == "record_filed_upward" and f.filed_upward_on is not None)
        or (action == "extend_litigation_review" and f.review_extensions >= 1 and not approved)
    )


def _check_invariants(f: CaseFacts, rules: DeadlineRules) -> None:
    assert isinstance(f.state, State)
    assert (f.resume_to is not None) == (f.state == State.SUSPENDED)
    if f.state in AFTER_SUGGESTION:
        assert f.finding_count > 0 and f.decided_on is not None
        assert f.service_due == rules.suggestion_service_due(f.decided_on)
    if f.state in AFTER_SERVICE:
        assert f.served_on >= f.decided_on >= f.filed_on
        assert f.reply_due == rules.reply_due(f.served_on, f.urgent)
        assert f.filed_upward_due == rules.filed_upward_due(f.served_on)
        assert f.rectification_due == rules.rectification_due(f.served_on, f.urgent)
    if f.state == State.LITIGATION_REVIEW:
        assert f.review_due == rules.litigation_review_due(f.rectification_due, f.review_extensions)
    if f.filed_on is not None:
        assert f.filing_service_due == rules.filing_service_due(f.filed_on)
    assert (f.ended_on is not None) == (f.state in FINAL_STATES - {State.SUED})


rules_strategy = st.builds(
    DeadlineRules,
    filing_service_days=st.integers(0, 30),
    suggestion_service_days=st.integers(0, 30),
    filed_upward_days=st.integers(0, 30),
    reply_months=st.integers(1, 6),
    urgent_reply_days=st.integers(1, 60),
    rectification_months=st.integers(1, 6),
    urgent_rectification_days=st.none() | st.integers(1, 90),
    litigation_review_months=st.integers(1, 3),
)


@settings(max_examples=200)
@given(rules=rules_strategy, urgent=st.booleans(), findings=st.integers(0, 2), data=st.data())
def test_random_action_sequences_only_take_allowed_transitions(rules, urgent, findings, data):
    f = CaseFacts(urgent=urgent, finding_count=findings)
    at = T0
    for _ in range(data.draw(st.integers(0, 40), label="length")):
        # mostly actions the table allows here, so deep states are reached; sometimes any action
        everything = [a.value for a in Action]
        here = {a: nxt for (s, a), nxt in EXPECTED.items() if s == f.state.value}
        listed = sorted(here) or everything
        going_on = sorted(a for a, nxt in here.items() if nxt not in FINISHED) or listed
        pool = (everything, listed, going_on, going_on)[data.draw(st.integers(0, 3), label="pool")]
        action = data.draw(st.sampled_from(pool), label="action")
        approved = data.draw(st.booleans(), label="approved")
        at += dt.timedelta(days=data.draw(st.integers(0, 40), label="gap"), hours=5)
        extra = {"approved_by_higher": True} if approved and action == "extend_litigation_review" else {}
        key = (f.state.value, action)
        if key not in EXPECTED or _expected_guard_refusal(f, action, approved):
            with pytest.raises(ConflictError, match=f"cannot {action} in state {f.state.value}"):
                step(f, action, actor_id=1, at=at, rules=rules, **extra)
            continue
        new, event = step(f, action, actor_id=1, at=at, rules=rules, **extra)
        target = EXPECTED[key]
        want = f.state if target == "=" else (f.resume_to if target == "resume" else State(target))
        assert new.state == want == event.to_state and event.from_state == f.state
        assert (event.actor_id, event.at) == (1, at)
        f = new
        _check_invariants(f, rules)


def test_record_look_back_keeps_follow_up_and_guards_the_date():
    f = CaseFacts(finding_count=1)
    f = run(f, "file", "start_investigation", "issue_suggestion", "record_service")
    with pytest.raises(ConflictError, match="cannot record_look_back in state awaiting_reply"):
        step(f, "record_look_back", actor_id=7, at=T0 + dt.timedelta(days=90))
    f = run(f, "start_follow_up")
    with pytest.raises(ConflictError, match="look-back date .* is before the service date"):
        step(f, "record_look_back", actor_id=7, at=T0, done_on=f.served_on - dt.timedelta(days=1))
    new, event = step(f, "record_look_back", actor_id=7, at=T0, done_on=f.served_on, note="部分整改")
    assert new == f and (event.to_state, event.note, dict(event.changes)) == (State.FOLLOW_UP, "部分整改", {})
