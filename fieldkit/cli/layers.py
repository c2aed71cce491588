"""``fieldkit layers``: import, check and list GIS layers; check and import the manifest."""

from __future__ import annotations

import json

import click

from ..store.models import LAYER_KINDS

KIND = click.Choice(LAYER_KINDS)


def _reading_options(func):
    options = [
        click.option("--crs", help="CRS when the file declares none: EPSG:4490, 4547, cgcs2000, hk1980, gcj02, bd09..."),
        click.option("--encoding", help="Attribute text encoding (overrides .cpg and detection), e.g. gbk."),
        click.option("--id-field", help="Attribute holding each feature's id."),
        click.option("--name-field", help="Attribute holding each feature's name (detected when omitted)."),
        click.option("--x-field", help="CSV/XLSX column with x (longitude or easting)."),
        click.option("--y-field", help="CSV/XLSX column with y (latitude or northing)."),
        click.option("--swap-xy", is_flag=True, help="Exchange x and y (for files with latitude first)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _echo_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{report.file}: {report.source_format} ({report.driver}), CRS {report.crs} "
               f"[{report.crs_source}], encoding {report.encoding} [{report.encoding_source}]")
    types = ", ".join(f"{n} {t}" for t, n in report.geometry_types.items())
    click.echo(f"  features: {report.features_read} read, {report.features_stored} kept ({types})")
    click.echo(f"  repaired {report.repaired}, empty dropped {report.dropped_empty}, bad coordinates "
               f"{report.dropped_bad_coords}, wrong type dropped {report.dropped_wrong_type}, "
               f"outside China {report.outside_china}")
    if report.total_length_m is not None:
        click.echo(f"  total line length: {report.total_length_m / 1000:,.3f} km")
    for warning in report.warnings:
        click.secho(f"  warning: {warning}", fg="yellow")
    for problem in report.problems:
        click.echo(f"  - {problem.message}")
    if report.problems_not_listed:
        click.echo(f"  ... and {report.problems_not_listed} more problems")


@click.group("layers")
def command() -> None:
    """Import, check and list GIS layers."""


@command.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", type=KIND, required=True, help="What the layer holds.")
@click.option("--name", help="Display name (default: the file name).")
@click.option("--slug", help="Layer id; re-importing the same id replaces its features.")
@_reading_options
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@click.pass_obj
def import_(rt, file, kind, name, slug, crs, encoding, as_json, **reading) -> None:
    """Import FILE (GeoJSON, Shapefile or zipped Shapefile, GeoPackage, KML, CSV, XLSX)."""
    from ..layers import import_file

    layer, report = import_file(rt, file, kind, crs=crs, encoding=encoding, name=name, slug=slug, **reading)
    _echo_report(report, as_json)
    if not as_json:
        click.secho(f"stored layer {layer.slug!r} (version {layer.version}, {layer.feature_count} features)",
                    fg="green")


@command.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", type=KIND, help="Check geometry types against this kind.")
@_reading_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(file, kind, crs, encoding, as_json, **reading) -> None:
    """Read and validate FILE and report, storing nothing."""
    from ..layers import check_file

    result = check_file(file, kind, crs, encoding, **reading)
    _echo_report(result.report, as_json)


@command.command("check-manifest")
@click.argument("path", type=click.Path(dir_okay=False), default="layers/layers.toml")
def check_manifest(path) -> None:
    """Validate the layers manifest PATH (default layers/layers.toml)."""
    from ..layers import load_manifest

    manifest = load_manifest(path)
    for entry in manifest.entries:
        click.echo(f"  {entry.id}: {entry.kind}, {entry.file.name}")
    click.secho(f"{path}: {len(manifest.entries)} layer(s), all valid", fg="green")


@command.command("import-manifest")
@click.argument("path", type=click.Path(dir_okay=False), default="layers/layers.toml")
@click.pass_obj
def import_manifest_(rt, path) -> None:
    """Import every layer of the manifest PATH (default layers/layers.toml)."""
    from ..layers import import_manifest

    for layer, report in import_manifest(rt, path):
        click.echo(f"{layer.slug}: version {layer.version}, {layer.feature_count} features, "
                   f"{len(report.problems) + report.problems_not_listed} problem(s)")


@command.command("list")
@click.pass_obj
def list_(rt) -> None:
    """List the stored layers."""
    from sqlalchemy import select

    from ..store.models import Layer

    with rt.db.session() as session:
        layers = session.scalars(select(Layer).order_by(Layer.slug)).all()
    if not layers:
        click.echo("no layers stored")
        return
    rows = [(lay.slug, lay.kind, str(lay.feature_count), str(lay.version), lay.source_crs or "",
             lay.imported_at.strftime("%Y-%m-%d %H:%M"), lay.name) for lay in layers]
    header = ("id", "kind", "features", "version", "source CRS", "imported (UTC)", "name")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header) - 1)]
    for row in [header] + rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
