"""``fieldkit verify``: re-hash every original, compare rows with files, check the audit chain."""

from __future__ import annotations

import sys

import click
import orjson

from .. import fixity
from ..runtime import Runtime


@click.command("verify")
@click.option("--expect-head", metavar="SEQ:HASH",
              help="The audit head printed by an earlier run; detects entries cut off the end since.")
@click.option("--no-audit", is_flag=True, help="Check the evidence store only, not the audit chain.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_obj
def command(rt: Runtime, expect_head: str | None, no_audit: bool, as_json: bool) -> None:
    """Prove the evidence intact; print every missing, altered or orphaned original (exit 1 if any)."""
    expected = None
    if expect_head:
        seq, _, digest = expect_head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("expected SEQ:HASH, e.g. 42:3f…(64 hex digits)", param_hint="--expect-head")
        expected = (int(seq), digest)
    report = fixity.verify(rt, check_audit=not no_audit, expect_head=expected)
    if as_json:
        body = {"ok": report.ok, "photos": report.photos, "files_hashed": report.files_hashed,
                "bytes_hashed": report.bytes_hashed, "audit_entries": report.audit_entries,
                "problems": [{"kind": p.kind, "subject": p.subject, "message": p.message}
                             for p in report.problems]}
        click.echo(orjson.dumps(body).decode())
    else:
        for problem in report.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{report.photos} photos, {report.files_hashed} originals re-hashed "
                   f"({report.bytes_hashed / 1e6:.1f} MB), {report.audit_entries} audit entries")
        click.echo("verify: OK, every original and the audit chain are intact" if report.ok
                   else f"verify: {len(report.problems)} problem(s) found")
    if not report.ok:
        sys.exit(1)
