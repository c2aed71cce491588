"""The hash-chained audit log: appends verify, tampering is found, SQL edits are refused."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

import fieldkit.store.models_cases  # noqa: F401  (registers the tables; see the report)
from fieldkit import audit
from fieldkit.errors import InputError
from fieldkit.store.models_cases import AuditEntry

T0 = dt.datetime(2025, 3, 1, 8, 30, 15, 123456)


def fill(rt, n: int) -> None:
    with rt.db.session(write=True) as s:
        for i in range(n):
            audit.append(
                s,
                actor_id=i % 3 + 1,
                entity="finding",
                entity_id=i,
                action="create",
                payload={
                    "category_id": "gw.graffiti",
                    "note": f"长城墙体刻划 {i}",
                    "lat": 40.35 + i / 1e6,
                    "on": dt.date(2025, 3, 1),
                },
                at=T0 + dt.timedelta(seconds=i),
            )


def sqlite_path(rt) -> str:
    return rt.db.url.split("///", 1)[1]


def tamper(rt, *statements: str) -> None:
    """Edit the database file directly with the triggers dropped, as an attacker with the file could."""
    rt.db.dispose()
    con = sqlite3.connect(sqlite_path(rt))
    with con:
        con.execute("DROP TRIGGER audit_entries_no_update")
        con.execute("DROP TRIGGER audit_entries_no_delete")
        for sql in statements:
            con.execute(sql)
    con.close()


def test_appended_entries_chain_and_verify(runtime):
    fill(runtime, 25)
    assert audit.verify(runtime) == []
    with runtime.db.session() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert [e.seq for e in entries] == list(range(1, 26))
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    assert entries[4].payload == {
        "category_id": "gw.graffiti",
        "note": "长城墙体刻划 4",
        "lat": 40.350004,
        "on": "2025-03-01",
    }
    assert entries[4].at == T0 + dt.timedelta(seconds=4)
    assert audit.head(runtime) == (25, entries[-1].entry_hash)


def test_empty_log_verifies(runtime):
    assert audit.verify(runtime) == [] and audit.head(runtime) is None


def test_update_and_delete_are_refused_by_the_database(runtime):
    fill(runtime, 3)
    with (
        pytest.raises(DatabaseError, match="audit_entries is append-only: UPDATE refused"),
        runtime.db.session(write=True) as s,
    ):
        s.execute(text("UPDATE audit_entries SET payload = '{}' WHERE seq = 2"))
    with (
        pytest.raises(DatabaseError, match="append-only: DELETE refused"),
        runtime.db.session(write=True) as s,
    ):
        s.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    with pytest.raises(DatabaseError, match="append-only"), runtime.db.session(write=True) as s:
        s.get(AuditEntry, 1).action = "delete"
    assert audit.verify(runtime) == []


def test_altered_payload_is_found_at_its_seq(runtime):
    fill(runtime, 12)
    tamper(runtime, """UPDATE audit_entries SET payload = '{"note":"无问题"}' WHERE seq = 7""")
    problems = audit.verify(runtime)
    assert [(p.seq, p.kind) for p in problems] == [(7, "altered")]
    assert "seq 7 (finding 6 create)" in problems[0].message


def test_altered_time_or_actor_is_found(runtime):
    fill(runtime, 6)
    tamper(
        runtime,
        "UPDATE audit_entries SET at = '2025-03-01 08:30:16.000000' WHERE seq = 2",
        "UPDATE audit_entries SET actor_id = 99 WHERE seq = 5",
    )
    assert [(p.seq, p.kind) for p in audit.verify(runtime)] == [(2, "altered"), (5, "altered")]


def test_rewritten_hash_breaks_the_next_link(runtime):
    fill(runtime, 8)
    tamper(runtime, f"UPDATE audit_entries SET entry_hash = '{'ab' * 32}', action = 'x' WHERE seq = 4")
    kinds = [(p.seq, p.kind) for p in audit.verify(runtime)]
    assert kinds == [(4, "altered"), (5, "broken_link")]


def test_deleted_entry_is_reported_missing(runtime):
    fill(runtime, 8)
    tamper(runtime, "DELETE FROM audit_entries WHERE seq IN (4, 5)")
    problems = audit.verify(runtime)
    assert [(p.seq, p.kind) for p in problems] == [(4, "missing")]
    assert "seq 4-5: missing" in problems[0].message


def test_truncated_tail_needs_the_recorded_head(runtime):
    fill(runtime, 8)
    recorded = audit.head(runtime)
    assert audit.verify(runtime, expect_head=recorded) == []
    tamper(runtime, "DELETE FROM audit_entries WHERE seq >= 7")
    assert audit.verify(runtime) == []  # a shorter chain is still a valid chain ...
    problems = audit.verify(runtime, expect_head=recorded)  # ... but the recorded head is gone
    assert [(p.seq, p.kind) for p in problems] == [(8, "head")]


def test_payloads_that_are_not_json_are_refused(runtime):
    with runtime.db.session(write=True) as s:
        with pytest.raises(InputError, match="audit payload: object"):
            audit.append(s, 1, "case", 1, "edit", {"x": object()})
        with pytest.raises(InputError, match="audit payload"):
            audit.append(s, 1, "case", 1, "edit", {"x": float("nan")})
    assert audit.head(runtime) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payloads=st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), min_size=1, max_size=5)
)
def test_any_json_payload_round_trips_and_verifies(runtime, payloads):
    with runtime.db.session(write=True) as s:
        for payload in payloads:
            audit.append(s, None, "document", "金检行公建〔2025〕3号", "draft", payload)
    assert audit.verify(runtime) == []


def test_cli_verify_reports_ok_then_the_altered_entry(runtime):
    from click.testing import CliRunner

    from fieldkit.cli import main

    fill(runtime, 5)
    args = ["--data-dir", str(runtime.settings.data_dir), "audit", "verify"]
    ok = CliRunner().invoke(main, args)
    assert ok.exit_code == 0 and "audit log OK" in ok.output and "head: 5:" in ok.output
    head = ok.output.split("head: ")[1].split()[0]
    tamper(runtime, "UPDATE audit_entries SET payload = '{\"x\": 1}' WHERE seq = 3")
    bad = CliRunner().invoke(main, args + ["--expect-head", head])
    assert bad.exit_code == 1 and "seq 3: altered" in bad.output
