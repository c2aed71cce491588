"""``fieldkit backup DIR`` and ``fieldkit restore DIR``: the database and the evidence store, hashed."""

from __future__ import annotations

import click

from .. import backup as backup_lib
from ..runtime import Runtime


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@click.pass_obj
def command(rt: Runtime, dest: str) -> None:
    """Copy the database (SQLite online backup or pg_dump) and every original into the new folder DEST."""
    manifest = backup_lib.backup(rt, dest)
    click.echo(f"backup of the {manifest['backend']} database, {manifest['originals']} originals and "
               f"{len(manifest['files']) - manifest['originals'] - 1} other files written to {dest}")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.pass_obj
def restore_command(rt: Runtime, src: str) -> None:
    """Restore the backup SRC into an empty data directory / database, then verify every hash."""
    report = backup_lib.restore(rt, src)
    click.echo(f"restored {report.photos} photos; {report.files_hashed} originals re-hashed and "
               f"{report.audit_entries} audit entries verified: OK")
