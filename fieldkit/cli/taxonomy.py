"""``fieldkit taxonomy``: check and list the finding categories (data files, not code)."""

from __future__ import annotations

import sys

import click

from ..findings.taxonomy import check_taxonomy, load_taxonomy


@click.group("taxonomy")
def command() -> None:
    """Finding categories per domain: check an office's files, list what is loaded."""


@command.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def check(paths: tuple[str, ...]) -> None:
    """Validate the packaged taxonomy plus office files or folders PATHS (exit 1 on problems)."""
    problems = check_taxonomy(list(paths) or None)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo("taxonomy OK")


@command.command("list")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--domain", help="Only this domain (great_wall, rivers, fitness, ...).")
def list_(paths: tuple[str, ...], domain: str | None) -> None:
    """List the categories in force (packaged, then office PATHS overriding by id)."""
    taxonomy = load_taxonomy(list(paths) or None)
    for cat in taxonomy.categories(domain):
        click.echo(f"{cat.id:<34} {cat.severity:<8} {cat.urgency:<7} {cat.name_zh} / {cat.name_en}")
