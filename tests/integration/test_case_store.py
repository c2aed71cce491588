"""Cases in the database: migration 0002, the service functions, events and audit entries."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DatabaseError

import fieldkit.store.models_cases  # noqa: F401  (registers the tables on Base.metadata)
from fieldkit import audit, cases
from fieldkit.cases.workflow import Action
from fieldkit.errors import ConflictError, InputError, NotFoundError
from fieldkit.store import User
from fieldkit.store.migrate import alembic_config, current, schema_diff, upgrade
from fieldkit.store.models_cases import AuditEntry, Case, CaseEvent, Finding

T0 = dt.datetime(2025, 1, 2, 2, 0)
NEW_TABLES = {"findings", "finding_photos", "cases", "case_findings", "case_events", "audit_entries"}


@pytest.fixture
def users(runtime):
    with runtime.db.session(write=True) as s:
        people = [User(username=n, password_hash="x", role="inspector") for n in ("li", "wang")]
        s.add_all(people)
    return [u.id for u in people]


@pytest.fixture
def findings(runtime, users):
    with runtime.db.session(write=True) as s:
        rows = [
            Finding(
                category_id="fit.rust",
                severity="medium",
                note=f"器材锈蚀 {i}",
                lat=39.9,
                lon=116.4,
                created_by_id=users[0],
            )
            for i in range(3)
        ]
        s.add_all(rows)
    return [f.id for f in rows]


def counts(rt, case_id: int) -> tuple[int, int]:
    with rt.db.session() as s:
        events = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id))
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
    return events, entries


def row(rt, case_id: int) -> dict:
    with rt.db.session() as s:
        case = s.get(Case, case_id)
        return {c.key: getattr(case, c.key) for c in inspect(Case).column_attrs}


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_creates_tables_and_matches_the_models(db):
    assert current(db.engine) == head_revision()
    assert NEW_TABLES <= set(inspect(db.engine).get_table_names())
    assert schema_diff(db.engine) == []  # ignores PostGIS's own tables and PG-only indexes


TRIGGER_COUNT = {"sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
                 "postgresql": "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"}


def test_downgrade_drops_tables_and_triggers(db):
    with db.engine.connect() as conn:
        assert conn.execute(text(TRIGGER_COUNT[db.dialect])).scalar() > 0  # the append-only guards
    command.downgrade(alembic_config(db.engine), "0001")
    assert not NEW_TABLES & set(inspect(db.engine).get_table_names())
    with db.engine.connect() as conn:
        assert conn.execute(text(TRIGGER_COUNT[db.dialect])).scalar() == 0
    upgrade(db.engine)
    assert current(db.engine) == head_revision()


def test_full_workflow_records_events_and_audit(runtime, users, findings):
    li, wang = users
    case = cases.open_case(
        runtime,
        title="某公园健身器材锈蚀",
        responsible_body="某区教育体育局",
        actor_id=li,
        domain="fitness",
        nature="fitness.equipment_safety",
        finding_ids=findings[:2],
        at=T0,
    )
    assert (case.state, counts(runtime, case.id)) == ("clue", (0, 3))  # open + 2 add_finding
    steps = [
        ("file", {}),
        ("start_investigation", {}),
        ("issue_suggestion", {"decided_on": "2025-01-28"}),
        ("record_service", {"served_on": "2025-01-31", "method": "left"}),
        ("record_filed_upward", {"filed_upward_on": "2025-02-03"}),
        ("record_reply", {"received_on": "2025-03-20", "note": "已整改"}),
        ("start_follow_up", {}),
        ("close", {}),
    ]
    for i, (action, data) in enumerate(steps):
        actor = wang if action == "close" else li
        cases.apply(runtime, case.id, action, actor, at=T0 + dt.timedelta(days=i), **data)
    final = row(runtime, case.id)
    assert final["state"] == "closed" and final["reply_due"] == dt.date(2025, 3, 31)
    assert final["filed_upward_due"] == dt.date(2025, 2, 5) and final["service_method"] == "left"
    events = cases.case_events(runtime, case.id)
    assert [e.action for e in events] == [a for a, _ in steps]
    assert (events[-1].actor_id, events[-1].at, events[-1].from_state) == (
        wang,
        T0 + dt.timedelta(days=7),
        "follow_up",
    )
    assert events[3].changes["reply_due"] == "2025-03-31" and events[5].note == "已整改"
    with runtime.db.session() as s:
        closed = s.scalars(select(Finding.state).where(Finding.id.in_(findings))).all()
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(3)).all()
    assert sorted(closed) == ["closed", "closed", "open"]
    assert [(e.entity, e.action) for e in last] == [
        ("finding", "close"),
        ("finding", "close"),
        ("case", "close"),
    ]
    assert audit.verify(runtime) == []


def test_refused_actions_change_nothing(runtime, users, findings):
    case = cases.open_case(runtime, title="河道乱堆", responsible_body="某县水利局", actor_id=users[0], at=T0)
    cases.apply(runtime, case.id, "file", users[0], at=T0)
    cases.apply(runtime, case.id, "start_investigation", users[0], at=T0)
    before, n = row(runtime, case.id), counts(runtime, case.id)
    with pytest.raises(ConflictError, match=r"case \d+ \(河道乱堆\): cannot issue_suggestion .*no findings"):
        cases.apply(runtime, case.id, "issue_suggestion", users[0])
    with pytest.raises(ConflictError, match="cannot close in state investigating.*allowed: serve_filing"):
        cases.apply(runtime, case.id, Action.CLOSE, users[0])
    with pytest.raises(InputError, match="unknown field"):
        cases.apply(runtime, case.id, "terminate", users[0], reason="x")
    with pytest.raises(NotFoundError, match="user 999"):
        cases.apply(runtime, case.id, "terminate", 999)
    with pytest.raises(NotFoundError, match="case 999"):
        cases.apply(runtime, 999, "terminate", users[0])
    assert (row(runtime, case.id), counts(runtime, case.id)) == (before, n)


def test_findings_editable_only_before_the_suggestion(runtime, users, findings):
    li = users[0]
    case = cases.open_case(
        runtime, title="长城刻划", responsible_body="某县文物局", actor_id=li, nature="gw.damage", at=T0
    )
    assert cases.find_open_case(runtime, "某县文物局", "gw.damage").id == case.id
    assert cases.find_open_case(runtime, "某县文物局", "gw.sign") is None
    cases.add_findings(runtime, case.id, [findings[0], findings[1], findings[0]], li)
    cases.remove_findings(runtime, case.id, [findings[1]], li)
    with pytest.raises(NotFoundError, match="finding 12345 not found"):
        cases.add_findings(runtime, case.id, [12345], li)
    with pytest.raises(NotFoundError, match=f"finding {findings[2]} is not part of the case"):
        cases.remove_findings(runtime, case.id, [findings[2]], li)
    cases.edit_case(runtime, case.id, li, urgent=True, title="长城墙体刻划")
    with pytest.raises(InputError, match="cannot edit state"):
        cases.edit_case(runtime, case.id, li, state="closed")
    for action in ("file", "start_investigation", "issue_suggestion"):
        cases.apply(runtime, case.id, action, li)
    assert cases.case_facts(runtime, case.id).finding_count == 1
    with pytest.raises(ConflictError, match="cannot add findings to the case in state suggestion_issued"):
        cases.add_findings(runtime, case.id, [findings[2]], li)
    with pytest.raises(ConflictError, match="cannot edit the case"):
        cases.edit_case(runtime, case.id, li, urgent=False)
    assert cases.find_open_case(runtime, "某县文物局", "gw.damage") is None
    cases.apply(runtime, case.id, "record_service", li, served_on=dt.date.today().isoformat())
    assert cases.get_case(runtime, case.id).reply_due - dt.date.today() == dt.timedelta(days=15)  # urgent
    with runtime.db.session() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[:5] == ["open", "add_finding", "add_finding", "remove_finding", "edit"]


def test_case_events_are_append_only(runtime, users):
    case = cases.open_case(runtime, title="t", responsible_body="b", actor_id=users[0])
    cases.apply(runtime, case.id, "file", users[0])
    with (
        pytest.raises(DatabaseError, match="case_events is append-only"),
        runtime.db.session(write=True) as s,
    ):
        s.execute(text("UPDATE case_events SET actor_id = :a"), {"a": users[1]})
    with pytest.raises(DatabaseError, match="(?i)append-only|foreign key"), runtime.db.session(write=True) as s:
        s.execute(text("DELETE FROM cases"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), with_finding=st.booleans())
def test_random_sequences_through_the_store(runtime, users, findings, data, with_finding):
    case = cases.open_case(
        runtime,
        title="随机",
        responsible_body="某局",
        actor_id=users[0],
        finding_ids=findings[:1] if with_finding else [],
    )
    for i in range(data.draw(st.integers(0, 20), label="length")):
        before, n = row(runtime, case.id), counts(runtime, case.id)
        allowed = cases.allowed_actions(cases.case_facts(runtime, case.id))
        pool = list(allowed) if allowed and data.draw(st.booleans(), label="allowed?") else list(Action)
        action = data.draw(st.sampled_from(pool), label="action")
        extra = {"approved_by_higher": True} if action == Action.EXTEND_LITIGATION_REVIEW else {}
        try:
            event = cases.apply(runtime, case.id, action, users[1], at=T0 + dt.timedelta(days=i), **extra)
        except ConflictError as exc:  # not allowed here, or a guard (no findings, already recorded)
            assert ("not allowed in this state" in str(exc)) == (action not in allowed)
            assert (row(runtime, case.id), counts(runtime, case.id)) == (before, n)
            continue
        after = row(runtime, case.id)
        assert action in allowed and (after["state"], event.from_state) == (event.to_state, before["state"])
        assert counts(runtime, case.id)[0] == n[0] + 1 and counts(runtime, case.id)[1] > n[1]
    assert audit.verify(runtime) == []
