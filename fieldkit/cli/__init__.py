"""The ``fieldkit`` command line: thin click commands over library functions."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import FieldkitError
from ..runtime import Runtime
from ..settings import Settings


class FieldkitGroup(click.Group):
    """A click group that turns :class:`FieldkitError` into a message and an exit code."""

    def invoke(self, ctx: click.Context):  # noqa: D102
        try:
            return super().invoke(ctx)
        except FieldkitError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=FieldkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fieldkit")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="FIELDKIT_DATA_DIR",
    help="Directory for the database and evidence store (default: ~/.local/share/fieldkit).",
)
@click.option("--database-url", envvar="FIELDKIT_DATABASE_URL", help="SQLAlchemy URL (PostgreSQL + PostGIS).")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, database_url: str | None) -> None:
    """FieldKit: layers, photo evidence and findings for public-interest field inspections."""
    ctx.obj = Runtime(Settings.from_env(data_dir=data_dir, database_url=database_url))


def _register() -> None:
    from . import (
        audit,
        backup,
        bundle,
        db,
        demo,
        export,
        ingest,
        join,
        layers,
        lookback,
        photos,
        report,
        serve,
        taxonomy,
        users,
        verify,
    )

    for module in (db, layers, photos, ingest, join, taxonomy, audit, demo, serve, users, report, lookback,
                   verify, backup, export, bundle):
        main.add_command(module.command)
    main.add_command(export.pack_command)
    main.add_command(backup.restore_command)


_register()
