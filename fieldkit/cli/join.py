"""``fieldkit join``: join photos to the nearest features."""

from __future__ import annotations

import click
from sqlalchemy import select

from ..errors import NotFoundError
from ..runtime import Runtime
from ..store.models import Layer


@click.command("join")
@click.option("--layer", "slugs", multiple=True, metavar="SLUG", help="Re-join this layer (repeatable).")
@click.option("--all", "all_layers", is_flag=True, help="Re-join every layer.")
@click.pass_obj
def command(rt: Runtime, slugs: tuple[str, ...], all_layers: bool) -> None:
    """Join photos to the nearest feature of each layer and print a summary."""
    from ..join import join_layers

    if bool(slugs) == all_layers:
        raise click.UsageError("give one or more --layer SLUG, or --all")
    layer_ids = None if all_layers else _layer_ids(rt, slugs)
    stats = join_layers(rt, layer_ids=layer_ids)
    if not stats:
        click.echo("no layers to join")
        return
    for s in stats:
        click.echo(
            f"{s.slug} (v{s.version}, {s.name}): {s.links} of {s.photos} located photos linked, "
            f"{s.by_bearing} by bearing, {s.seconds:.2f} s"
        )
    click.echo(f"{sum(s.links for s in stats)} links written for {len(stats)} layer(s)")


def _layer_ids(rt: Runtime, slugs: tuple[str, ...]) -> list[int]:
    with rt.db.session() as s:
        found = dict(s.execute(select(Layer.slug, Layer.id).where(Layer.slug.in_(slugs))).all())
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise NotFoundError(f"join: no layer with slug {', '.join(missing)}")
    return [found[slug] for slug in dict.fromkeys(slugs)]
