"""``fieldkit report``: write a 巡查报告 (DOCX or PDF) for a scope."""

from __future__ import annotations

import click

from ..reports import FORMATS, ReportScope, build_report
from ..runtime import Runtime


@click.command("report")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="docx or pdf.")
@click.option("--inspection", metavar="NAME", help="Only this inspection (巡查活动).")
@click.option("--kind", metavar="KINDS", help="Layer kinds, comma-separated: great_wall,river,fitness_site.")
@click.option("--from", "date_from", metavar="DATE", help="First day (YYYY-MM-DD, China time).")
@click.option("--to", "date_to", metavar="DATE", help="Last day (YYYY-MM-DD, China time).")
@click.option("--bbox", metavar="MINX,MINY,MAXX,MAXY", help="WGS84 lon/lat box.")
@click.option("--boundary", metavar="FEATURE_ID", help="Id of a boundary polygon feature bounding the report.")
@click.option("--title", help="Report title (default: <inspection>巡查报告).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="File to write.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.pass_obj
def command(rt: Runtime, fmt: str, inspection, kind, date_from, date_to, bbox, boundary, title, out,
            quiet: bool) -> None:
    """Write the inspection report: cover, figures, map, charts, per-feature findings, photo annex."""
    scope = ReportScope.from_args({"inspection": inspection, "kind": kind, "from": date_from, "to": date_to,
                                   "bbox": bbox, "boundary": boundary, "title": title})
    last = [""]

    def progress(stage: str, share: float) -> None:
        if not quiet and stage != last[0]:
            last[0] = stage
            click.echo(f"{stage}…", err=True)

    result = build_report(rt, scope, fmt, out, progress=progress)
    click.echo(f"wrote {result.path}: {result.findings} findings, {result.photos} photos, "
               f"{result.sections} sections ({result.seconds:.1f} s)")
