"""The FieldKit web app: a thin Flask layer over the ``fieldkit`` library."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from fieldkit.errors import FieldkitError
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings


def create_app(config: Mapping[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the Flask app. ``config`` overrides Flask settings; ``runtime`` the library's."""
    app = Flask(__name__, instance_relative_config=False)
    config = dict(config or {})
    if runtime is None:
        runtime = Runtime(Settings.from_env(**config.pop("FIELDKIT", {})))
    app.config.from_mapping(SECRET_KEY=runtime.settings.secret_key or _secret_for(runtime))
    app.config.update(config)
    app.extensions["fieldkit"] = runtime

    from . import home

    app.register_blueprint(home.bp)

    @app.errorhandler(FieldkitError)
    def _fieldkit_error(exc: FieldkitError):
        return {"error": str(exc), "type": type(exc).__name__}, exc.http_status

    return app


def _secret_for(runtime: Runtime) -> str:
    """A per-data-directory secret key, generated once and kept with mode 0600."""
    import os
    import secrets

    path = runtime.settings.data_dir / "secret_key"
    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()
