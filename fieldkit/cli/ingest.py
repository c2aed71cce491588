"""``fieldkit ingest``: store photos as evidence."""

import click


@click.command("ingest")
def command() -> None:
    """Ingest photos into the evidence store."""
