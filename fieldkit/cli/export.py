"""``fieldkit export`` (ledger and GIS files) and ``fieldkit pack`` (the meeting pack)."""

from __future__ import annotations

import functools

import click

from ..runtime import Runtime

GIS_FORMATS = ("geojson", "gpkg", "kml", "csv")


def scope_options(func):
    """The scope options shared by every export: inspection, kind, from, to, bbox."""
    options = [
        click.option("--inspection", metavar="NAME", help="Only this inspection (name or id)."),
        click.option("--kind", metavar="KINDS", help="Layer kinds, comma-separated (great_wall,river,...)."),
        click.option("--from", "date_from", metavar="YYYY-MM-DD", help="From this day (UTC, inclusive)."),
        click.option("--to", "date_to", metavar="YYYY-MM-DD", help="To this day (UTC, inclusive)."),
        click.option("--bbox", metavar="W,S,E,N", help="Lon/lat box, WGS84."),
    ]
    for option in reversed(options):
        func = option(func)

    @functools.wraps(func)
    def wrapper(*args, inspection, kind, date_from, date_to, bbox, **kwargs):
        from ..exports.scope import parse_scope

        scope = parse_scope({"inspection": inspection, "kind": kind, "from": date_from, "to": date_to,
                             "bbox": bbox})
        return func(*args, scope=scope, **kwargs)

    return wrapper


@click.group("export")
def command() -> None:
    """Export the ledger (XLSX) or GIS files of photos and findings for a scope."""


@command.command("ledger")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="XLSX file to write.")
@scope_options
@click.pass_obj
def ledger_command(rt: Runtime, output: str, scope) -> None:
    """The ledger (台账): findings and cases with deadlines and states, XLSX."""
    from ..exports.ledger import write_ledger

    counts = write_ledger(rt, scope, output)
    click.echo(f"{output}: {counts['findings']} findings, {counts['cases']} cases ({scope.describe()})")


def _gis_command(fmt: str):
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help=f"{fmt} file to write.")
    @click.option("--layer", type=click.Choice(["findings", "photos"]), default="findings", show_default=True,
                  help="Which layer (GeoJSON and CSV hold one; GPKG and KML always hold both).")
    @scope_options
    @click.pass_obj
    def run(rt: Runtime, output: str, layer: str, scope) -> None:
        from ..exports.gis import write_gis

        result = write_gis(rt, scope, output, fmt, layer=layer)
        parts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
        click.echo(f"{output}: {parts} (EPSG:4326; {scope.describe()})")
        if result.unplaced_photos:
            click.echo(f"{result.unplaced_photos} photo(s) without a position left out", err=True)

    run.__doc__ = f"Photos and findings as {fmt.upper()} (WGS84)."
    return command.command(fmt)(run)


for _fmt in GIS_FORMATS:
    _gis_command(_fmt)


@click.command("pack")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="ZIP (index.html + thumbs/) or, with a .html name, one self-contained HTML file.")
@click.option("--title", help="Title shown on the map (default 巡查情况图（会议材料）).")
@scope_options
@click.pass_obj
def pack_command(rt: Runtime, output: str, title: str | None, scope) -> None:
    """The meeting pack: an offline HTML map of the scope's features, findings and photos."""
    from ..exports.pack import make_pack, write_pack_html

    writer = write_pack_html if output.lower().endswith((".html", ".htm")) else make_pack
    result = writer(rt, scope, output, title=title)
    click.echo(f"{output}: {result.features} features, {result.findings} findings, {result.photos} photos, "
               f"{result.thumbs} thumbnails ({scope.describe()})")
