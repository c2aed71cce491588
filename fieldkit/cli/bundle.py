"""``fieldkit bundle``: evidence bundles of a case's original photos, and their verification."""

from __future__ import annotations

import sys

import click

from ..runtime import Runtime


@click.group("bundle")
def command() -> None:
    """Evidence bundles: original photos of a case with a SHA-256 manifest."""


@command.command("make")
@click.argument("case_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="ZIP file to write.")
@click.option("--by", "created_by", metavar="NAME", help="Who makes the bundle (recorded in the manifest).")
@click.pass_obj
def make_command(rt: Runtime, case_id: int, output: str, created_by: str | None) -> None:
    """Zip the originals of CASE_ID's photos with manifest.json, manifest.csv and its hash."""
    from ..exports.bundle import make_bundle

    manifest = make_bundle(rt, case_id, output, created_by=created_by)
    click.echo(f"{output}: {len(manifest['files'])} original photo(s) of case {case_id}")
    click.echo(f"manifest SHA-256: {manifest['manifest_sha256']}  (keep it in the case file)")


@command.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--expect", "expected", metavar="SHA256",
              help="The manifest SHA-256 printed by 'bundle make'; also catches a rewritten manifest.")
def verify_command(bundle: str, expected: str | None) -> None:
    """Check every member of BUNDLE against its manifest (exit 1 on any problem)."""
    from ..exports.verify import verify_bundle

    check = verify_bundle(bundle, expect_manifest_sha256=expected)
    for problem in check.problems:
        click.echo(f"{problem.kind}: {problem.message}", err=True)
    case = check.case or {}
    click.echo(f"{bundle}: case {case.get('id', '?')} ({case.get('title', '?')}), "
               f"{check.files_ok} file(s) intact, manifest SHA-256 {check.manifest_sha256}")
    if not check.ok:
        click.echo(f"bundle FAILED verification: {len(check.problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("bundle OK")
