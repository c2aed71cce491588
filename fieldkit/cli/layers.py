"""``fieldkit layers``: import and check GIS layers."""

import click


@click.group("layers")
def command() -> None:
    """Import, check and list GIS layers."""
