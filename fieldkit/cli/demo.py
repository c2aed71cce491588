"""``fieldkit demo``: load the demo layers and photos."""

import click


@click.command("demo")
def command() -> None:
    """Load the demo layers and photos."""
