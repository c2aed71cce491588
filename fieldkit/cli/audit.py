"""``fieldkit audit``: check the hash-chained audit log."""

from __future__ import annotations

import sys

import click

from .. import audit
from ..runtime import Runtime


@click.group("audit")
def command() -> None:
    """The append-only audit log of findings, cases and documents."""


@command.command("verify")
@click.option("--expect-head", metavar="SEQ:HASH",
              help="The head printed by an earlier run; detects entries cut off the end since.")
@click.pass_obj
def verify(rt: Runtime, expect_head: str | None) -> None:
    """Recompute the hash chain; print every altered, missing or unlinked entry (exit 1 if any)."""
    expected = None
    if expect_head:
        seq, _, digest = expect_head.partition(":")
        expected = (int(seq), digest)
    problems = audit.verify(rt, expect_head=expected)
    for problem in problems:
        click.echo(f"seq {problem.seq}: {problem.kind}: {problem.message}", err=True)
    current = audit.head(rt)
    click.echo("head: " + (f"{current[0]}:{current[1]}" if current else "(empty log)"))
    if problems:
        sys.exit(1)
    click.echo("audit log OK")
