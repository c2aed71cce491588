"""Database engine and sessions.

SQLite (the default) runs in WAL mode with a busy timeout and ``synchronous=FULL``; write
sessions start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing with
"database is locked" on lock upgrade. A PostgreSQL URL selects PostgreSQL + PostGIS: the
pool is checked before use and recycled, so a restarted server or a dropped connection costs a
reconnect, not a failed request.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import StorageError
from ..settings import Settings

BUSY_TIMEOUT_MS = 30_000
PG_POOL = {"pool_size": 5, "max_overflow": 10, "pool_recycle": 1800, "pool_timeout": 30}


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with FieldKit's connection settings."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=_pg_connect_args(url), **PG_POOL)
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _pg_connect_args(url: str) -> dict:
    """An application name (shown in ``pg_stat_activity``) unless the URL gives one."""
    return {} if "application_name=" in url else {"application_name": "fieldkit"}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("fieldkit_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _disk_full(exc: BaseException | None) -> bool:
    """SQLITE_FULL ("database or disk is full") or PostgreSQL's disk_full (SQLSTATE 53100), also when
    it is the cause of the error that surfaced (SQLite's rollback then loses the savepoint)."""
    seen = 0
    while exc is not None and seen < 10:
        orig = getattr(exc, "orig", exc)
        if getattr(orig, "sqlite_errorname", "") == "SQLITE_FULL" or getattr(orig, "sqlstate", "") == "53100":
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class Database:
    """An engine plus session factories; the unit of work for the library."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(fieldkit_write=True), expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        """Open the database the settings name."""
        return cls(settings.db_url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        ``write=True`` takes the SQLite write lock up front (``BEGIN IMMEDIATE``).
        """
        factory = self._write if write else self._read
        with factory() as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                if _disk_full(exc):
                    raise StorageError(f"database {self.engine.url.render_as_string()}: the disk is full "
                                       "(nothing of this change was stored; free space and retry)") from exc
                raise
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Bring the schema up to the newest migration."""
        from .migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection (call before forking workers)."""
        self.engine.dispose()
