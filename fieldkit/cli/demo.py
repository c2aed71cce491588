"""``fieldkit demo``: load the demo layers and photos (idempotent)."""

from __future__ import annotations

import json

import click

from ..demo import load_demo


@click.command("demo")
@click.option("--layers", "layers_manifest", type=click.Path(dir_okay=False),
              help="Layers manifest (default: layers/layers.toml of the FieldKit checkout).")
@click.option("--photos", "photos_dir", type=click.Path(file_okay=False),
              help="Demo photos folder (default: photos/ of the FieldKit checkout).")
@click.option("--no-layers", is_flag=True, help="Do not import the demo layers.")
@click.option("--no-photos", is_flag=True, help="Do not ingest the demo photos.")
@click.option("--force-layers", is_flag=True, help="Re-import layers even when their files are unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def command(rt, layers_manifest, photos_dir, no_layers, no_photos, force_layers, as_json) -> None:
    """Load the demo layers (金昌市, 辽源市) and sample inspection photos.

    Running it again changes nothing: unchanged layers are skipped and photos already in the
    evidence store are reported as duplicates.
    """
    summary = load_demo(rt, layers_manifest, photos_dir, load_layers=not no_layers,
                        load_photos=not no_photos, force_layers=force_layers)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    for line in summary.lines():
        click.echo(line)
    if summary.failed:
        raise click.ClickException(f"{summary.failed} demo photo(s) failed to ingest")
