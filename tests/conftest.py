"""Shared fixtures: a runtime on a temporary data directory, the real data in ../shared.

The suite runs on SQLite by default. With ``FIELDKIT_TEST_DATABASE_URL=postgresql+psycopg://...``
(``./dev test`` sets it for its second run) every test that uses the ``settings`` fixture (and so
``runtime``, ``db``, the web app...) runs on PostgreSQL + PostGIS instead: each xdist worker gets
its own database, migrated once, and every test starts with its tables truncated (faster than a
database per test). ``FIELDKIT_DATABASE_URL`` is set for the test too, so the CLI and subprocesses
the test starts use the same database. Tests that only make sense on SQLite carry
``@pytest.mark.sqlite_only(reason)`` or are listed in :data:`SQLITE_ONLY`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.store import Database

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FIELDKIT_SHARED_DIR", ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data"
TEST_DATA = Path(__file__).with_name("data")
PG_URL = os.environ.get("FIELDKIT_TEST_DATABASE_URL", "")

# CI runs property tests on a fixed seed sequence, so a red build is reproducible; locally they
# explore new examples every run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

_WAL = "SQLite-only: checks SQLite's WAL mode, busy timeout or lock behaviour"
_FILE = "SQLite-only: edits or inspects the SQLite database file directly"
_DEFAULT = "SQLite-only: checks the default SQLite database inside the data directory"
#: Tests of other modules that are inherently about SQLite (node id or its prefix -> reason).
SQLITE_ONLY = {
    "tests/integration/test_store.py::test_sqlite_runs_in_wal_with_busy_timeout": _WAL,
    "tests/integration/test_store.py::test_write_sessions_take_the_lock_up_front": _WAL,
    "tests/integration/test_store.py::test_data_dir_from_env_and_option": _DEFAULT,
    "tests/integration/test_audit.py::test_altered_payload_is_found_at_its_seq": _FILE,
    "tests/integration/test_audit.py::test_altered_time_or_actor_is_found": _FILE,
    "tests/integration/test_audit.py::test_rewritten_hash_breaks_the_next_link": _FILE,
    "tests/integration/test_audit.py::test_deleted_entry_is_reported_missing": _FILE,
    "tests/integration/test_audit.py::test_truncated_tail_needs_the_recorded_head": _FILE,
    "tests/integration/test_audit.py::test_cli_verify_reports_ok_then_the_altered_entry": _FILE,
    "tests/integration/test_join_db.py::test_the_index_is_reused_while_the_version_holds":
        "SQLite-only: counts hits of the in-process join index; PostgreSQL joins in the database",
}

#: Tests of other modules that need a small fix to pass on PostgreSQL (node id -> reason). Marked
#: strict xfail on PostgreSQL, so an entry that starts passing fails the run until it is removed.
PG_XFAIL: dict[str, str] = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): skipped when the suite runs on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only(reason): runs only on PostgreSQL + PostGIS")
    if PG_URL:
        # Runtimes a test builds itself (CLI runs, second runtimes) are not always disposed; on
        # SQLite their connections close silently when collected, psycopg warns. Not a test failure.
        config.addinivalue_line("filterwarnings", "ignore:.*was deleted while still open:ResourceWarning")


def pytest_collection_modifyitems(config, items):
    for item in items:
        node = item.nodeid
        marker = item.get_closest_marker("sqlite_only")
        listed = next((r for k, r in SQLITE_ONLY.items() if node.startswith(k)), None)
        if PG_URL and (marker or listed):
            reason = listed or (marker.args[0] if marker.args else "SQLite-only")
            item.add_marker(pytest.mark.skip(reason=reason))
        if PG_URL and node in PG_XFAIL:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"{PG_XFAIL[node]} (XPASS? then delete "
                                                                   "its entry in PG_XFAIL, tests/conftest.py)"))
        pg_marker = item.get_closest_marker("postgresql_only")
        if not PG_URL and pg_marker:
            why = pg_marker.args[0] if pg_marker.args else "needs PostgreSQL + PostGIS"
            item.add_marker(pytest.mark.skip(reason=f"{why} (set FIELDKIT_TEST_DATABASE_URL)"))


@pytest.fixture(scope="session")
def pg_worker_url() -> str | None:
    """This xdist worker's own PostgreSQL database (created and migrated once), or None on SQLite."""
    if not PG_URL:
        yield None
        return
    url = _create_worker_database(PG_URL, os.environ.get("PYTEST_XDIST_WORKER", "main"))
    yield url
    _drop_database(PG_URL, url)


def _admin_engine(base_url: str):
    return create_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _create_worker_database(base_url: str, worker: str) -> str:
    """``<base>_<worker>``: created fresh with PostGIS, migrated to head; returns its URL."""
    base = make_url(base_url)
    name = f"{base.database}_{worker}".lower()
    engine = _admin_engine(base_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    db.upgrade()  # migration 0001 creates the postgis extension
    db.dispose()
    return url


def _drop_database(base_url: str, url: str) -> None:
    engine = _admin_engine(base_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def _reset_database(url: str) -> None:
    """Empty every FieldKit table, restart the id sequences, and make sure the schema is at head.

    Connections a previous test left open are ended first, so no stale transaction holds a lock
    and no leaked pool eats the server's connection slots. ``session_replication_role=replica``
    switches off triggers (append-only guards, foreign keys) for this connection only, so plain
    DELETEs in any order empty the tables; on tables this small that is several times faster than
    TRUNCATE. (This is a throwaway test database, never a real one.)
    """
    engine = _admin_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('spatial_ref_sys', 'alembic_version')")).scalars().all()
        sequences = conn.execute(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars().all()
        statements = ["SET session_replication_role = replica",
                      *(f'DELETE FROM "{t}"' for t in tables),
                      *(f"SELECT setval('\"{q}\"', 1, false)" for q in sequences)]
        conn.exec_driver_sql("; ".join(statements))
        version = conn.execute(text("SELECT max(version_num) FROM alembic_version")).scalar()
    engine.dispose()
    if version != _head_revision():
        db = Database(url)
        db.upgrade()
        db.dispose()


def _head_revision() -> str:
    global _HEAD
    if _HEAD is None:
        from alembic.script import ScriptDirectory

        from fieldkit.store.migrate import alembic_config

        _HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return _HEAD


_HEAD: str | None = None


@pytest.fixture
def settings(tmp_path: Path, pg_worker_url, monkeypatch) -> Settings:
    """Settings whose data directory is a fresh temporary directory (and, on PostgreSQL, emptied tables)."""
    if pg_worker_url is None:
        return Settings.from_env(env={}, data_dir=tmp_path / "data")
    _reset_database(pg_worker_url)
    monkeypatch.setenv("FIELDKIT_DATABASE_URL", pg_worker_url)
    return Settings.from_env(env={}, data_dir=tmp_path / "data", database_url=pg_worker_url)


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    """A runtime on a fresh database (SQLite in the data dir, or the worker's emptied PostgreSQL one)."""
    rt = Runtime(settings)
    yield rt
    if "db" in rt.__dict__:
        rt.db.dispose()


@pytest.fixture
def db(runtime: Runtime):
    """The runtime's database, migrated."""
    return runtime.db


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (clone ../shared beside the repo)")
    return SHARED_DATA
