"""``fieldkit photos``: read photo metadata."""

import click


@click.group("photos")
def command() -> None:
    """Photo metadata and placement commands."""
