"""``fieldkit join``: join photos to the nearest features."""

import click


@click.command("join")
def command() -> None:
    """Join photos to the nearest feature of each layer."""
