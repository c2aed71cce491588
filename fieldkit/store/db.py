"""Database engine and sessions.

SQLite (the default) runs in WAL mode with a busy timeout and ``synchronous=FULL``; write
sessions start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing with
"database is locked" on lock upgrade. A PostgreSQL URL selects PostgreSQL + PostGIS.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings

BUSY_TIMEOUT_MS = 30_000


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
    return create_engine(url, echo=echo, pool_pre_ping=True)


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
