"""On PostgreSQL: the plpgsql append-only triggers refuse edits, and edits made behind them are found."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from fieldkit import audit, fixity

pytestmark = pytest.mark.postgresql_only("plpgsql triggers and ALTER TABLE … DISABLE TRIGGER")


def fill(rt, n: int) -> None:
    with rt.db.session(write=True) as s:
        for i in range(n):
            audit.append(s, i + 1, "finding", i, "create", {"note": f"河道垃圾 {i}"})


@pytest.mark.parametrize("sql", ["UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries",
                                 "TRUNCATE audit_entries", "TRUNCATE case_events"])
def test_edits_are_refused_by_the_database(runtime, sql):
    fill(runtime, 3)
    with pytest.raises(DatabaseError, match="append-only"), runtime.db.session(write=True) as s:
        s.execute(text(sql))
    assert audit.verify(runtime) == [] and audit.head(runtime)[0] == 3


def tamper(rt, sql: str) -> None:
    """Edit with the triggers switched off, as someone with the database owner's password could."""
    with rt.db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        try:
            conn.execute(text(sql))
        finally:
            conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))


def test_edits_behind_the_triggers_are_found_by_verify(runtime):
    fill(runtime, 10)
    head = audit.head(runtime)
    tamper(runtime, """UPDATE audit_entries SET payload = '{"note": "无问题"}' WHERE seq = 4""")
    tamper(runtime, "DELETE FROM audit_entries WHERE seq IN (7, 8)")
    problems = {(p.seq, p.kind) for p in audit.verify(runtime)}
    assert problems == {(4, "altered"), (7, "missing")}
    report = fixity.verify(runtime, expect_head=head)
    assert [p.kind for p in report.problems] == ["audit"] * 2
    assert any("seq 4" in p.message and "altered" in p.message for p in report.problems)
    tamper(runtime, "DELETE FROM audit_entries WHERE seq >= 9")
    cut = fixity.verify(runtime, expect_head=head)
    assert any("head" in p.message for p in cut.problems)
    with runtime.db.engine.connect() as conn:  # the triggers are back on
        enabled = conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_entries'::regclass "
                                    "AND NOT tgisinternal AND tgenabled = 'O'")).scalar()
    assert enabled == 2
