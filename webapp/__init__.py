"""The FieldKit web app: a thin Flask layer over the ``fieldkit`` library."""

from __future__ import annotations

import importlib
import os
import secrets
from typing import Any, Mapping

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from fieldkit.errors import FieldkitError
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings

from .i18n import init_i18n
from .security import default_config, init_security, wants_json

BLUEPRINTS = ("home", "auth", "admin", "map", "api", "photos", "upload", "findings", "cases", "lookback",
              "lookback_plan", "reports")


def create_app(config: Mapping[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the Flask app. ``config`` overrides Flask settings (``FIELDKIT`` key: library
    settings overrides); ``runtime`` replaces the library runtime built from the environment."""
    app = Flask(__name__, instance_relative_config=False)
    config = dict(config or {})
    if runtime is None:
        runtime = Runtime(Settings.from_env(**config.pop("FIELDKIT", {})))
    app.config.from_mapping(SECRET_KEY=runtime.settings.secret_key or _secret_for(runtime))
    app.config.update(default_config(testing=bool(config.get("TESTING"))))
    app.config.update(config)
    app.extensions["fieldkit"] = runtime

    init_security(app)
    init_i18n(app)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)
    app.register_error_handler(FieldkitError, _fieldkit_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _error_response(status: int, message: str, kind: str, page_message: str | None = None):
    if wants_json():
        return {"error": message, "type": kind}, status
    return render_template("error.html", status=status, message=page_message or message), status


def _fieldkit_error(exc: FieldkitError):
    return _error_response(exc.http_status, str(exc), type(exc).__name__)


def _http_error(exc: HTTPException):
    """JSON for ``/api``; otherwise an error page in the user's language (werkzeug's texts are English)."""
    if isinstance(exc, CSRFError):
        page_message = _(
            "The form has expired or did not come from this site. Reload the page and try again."
        )
    elif exc.description == type(exc).description:
        page_message = _("The request could not be completed.")
    else:
        page_message = exc.description
    response = _error_response(exc.code or 500, exc.description or exc.name, type(exc).__name__, page_message)
    if exc.code == 405 and exc.valid_methods:
        return (*response, {"Allow": ", ".join(exc.valid_methods)})
    return response


def _secret_for(runtime: Runtime) -> str:
    """A per-data-directory secret key, generated once and kept with mode 0600."""
    path = runtime.settings.data_dir / "secret_key"
    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()
