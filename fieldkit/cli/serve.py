"""``fieldkit serve``: run the web app under a production WSGI server (waitress)."""

from __future__ import annotations

import click

from ..runtime import Runtime


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
@click.pass_obj
def command(rt: Runtime, host: str, port: int, threads: int) -> None:
    """Serve the map app with waitress (not Flask's development server)."""
    from waitress import serve

    from webapp import create_app

    app = create_app(runtime=rt)
    click.echo(f"FieldKit on http://{host}:{port}/  (data: {rt.settings.data_dir})")
    serve(app, host=host, port=port, threads=threads)
