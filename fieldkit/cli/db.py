"""``fieldkit db``: schema migrations."""

from __future__ import annotations

import click

from ..runtime import Runtime
from ..store.migrate import current


@click.group("db")
def command() -> None:
    """Database schema commands."""


@command.command("upgrade")
@click.pass_obj
def upgrade(rt: Runtime) -> None:
    """Create or upgrade the database schema to the newest migration."""
    db = rt.db  # opening the runtime's database migrates it
    click.echo(f"{db.url}: at revision {current(db.engine)}")
