"""Login, roles, CSRF, cookies and security headers.

Cookies are ``HttpOnly`` and ``SameSite=Lax``, and ``Secure`` by default, which means browsers
only send them over HTTPS (and to ``localhost``). For a plain-HTTP intranet deployment set
``FIELDKIT_INSECURE_COOKIES=1`` in the environment, otherwise login cannot work there; the login
page warns when it detects that situation. ``TESTING`` apps use insecure cookies too.

Behind a reverse proxy (nginx) set ``FIELDKIT_TRUSTED_PROXIES`` to the number of proxies in front
of the app: only then is werkzeug's ``ProxyFix`` applied, so ``X-Forwarded-For``/``-Proto`` set by
those proxies give the client address (used by the login rate limiter) and the scheme. With the
default 0 the headers are ignored, since any client could forge them.

Re-authentication: there is no "remember me" cookie, so every session starts fresh from the login
form and Flask-Login's ``fresh_login_required`` alone would never ask again. Sensitive actions
(downloading an original, starting an export or report) therefore use
:func:`recent_login_required`: the password must have been entered within ``REAUTH_MAX_AGE``
(Flask config, default 12 hours) in this session, and the session must be fresh in Flask-Login's
sense; otherwise the user is sent to ``/reauth`` to enter the password again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import time
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin, LoginManager, current_user, login_fresh
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from fieldkit import users as users_lib
from fieldkit.store import User

ROLES = users_lib.ROLES
INSECURE_COOKIES_ENV = "FIELDKIT_INSECURE_COOKIES"
REAUTH_MAX_AGE = dt.timedelta(hours=12)
AUTH_AT = "auth_at"  # session key: when the password was last entered (UNIX seconds)

login_manager = LoginManager()
csrf = CSRFProtect()

BASE_CSP = {
    "default-src": "'self'",
    "img-src": "'self' data: blob:",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'self'",
    "form-action": "'self'",
}
OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), payment=(), usb=()",
}


class WebUser:
    """Flask-Login's view of a :class:`fieldkit.store.User` (the record is in ``.user``)."""

    __slots__ = ("user",)
    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def is_active(self) -> bool:  # noqa: D102
        return bool(self.user.active)

    def get_id(self) -> str:
        """Session id: user id plus a digest of the password hash, so a password change logs out."""
        return f"{self.user.id}.{_hash_tag(self.user.password_hash)}"

    def __getattr__(self, name: str):
        return getattr(self.user, name)


class Anonymous(AnonymousUserMixin):
    """The visitor who has not logged in."""

    role = None
    user = None


def default_config(testing: bool, env=os.environ) -> dict:
    """Cookie and CSRF settings; ``Secure`` cookies unless testing or ``FIELDKIT_INSECURE_COOKIES=1``."""
    secure = not testing and env.get(INSECURE_COOKIES_ENV, "") not in ("1", "true", "yes")
    return {
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # valid for the session: phones keep forms open for long
        "REAUTH_MAX_AGE": REAUTH_MAX_AGE,
    }


def init_security(app: Flask) -> None:
    """Install Flask-Login, CSRF protection and the security headers on ``app``."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    login_manager.anonymous_user = Anonymous
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    csrf.init_app(app)
    apply_proxy_fix(app, app.extensions["fieldkit"].settings.trusted_proxies)
    app.after_request(set_security_headers)
    app.context_processor(lambda: {"current_viewer": current_viewer, "may_visit": may_visit})


def apply_proxy_fix(app: Flask, proxies: int) -> None:
    """Trust ``X-Forwarded-For``/``-Proto`` from ``proxies`` reverse proxies (none when 0)."""
    if proxies < 0:
        raise ValueError(f"FIELDKIT_TRUSTED_PROXIES={proxies}: must be 0 or more")
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def mark_authenticated() -> None:
    """Record in the session that the password was entered just now (login or re-authentication)."""
    session[AUTH_AT] = int(time.time())


def login_is_recent() -> bool:
    """True when this session is fresh and its password was entered within ``REAUTH_MAX_AGE``."""
    at = session.get(AUTH_AT)
    if not login_fresh() or not isinstance(at, int):
        return False
    age = time.time() - at
    return 0 <= age <= current_app.config["REAUTH_MAX_AGE"].total_seconds()


def recent_login_required(view):
    """Like Flask-Login's ``fresh_login_required``, plus an age limit: ask for the password again
    (``/reauth``) unless it was entered within ``REAUTH_MAX_AGE``. Scripts asking for JSON get 401
    JSON with ``reauth_url``. Put it below :func:`role_required`."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if login_is_recent():
            return view(*args, **kwargs)
        back = request.full_path.rstrip("?") if request.method == "GET" else request.path
        target = url_for("auth.reauth", next=back)
        message = _("For this action, please enter your password again.")
        if wants_json() or request.accept_mimetypes.best == "application/json":
            return jsonify(error=message, type="ReauthenticationRequired", reauth_url=target), 401
        flash(message, "info")
        return redirect(target)

    return wrapped


def _hash_tag(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _load_user(session_id: str) -> WebUser | None:
    user_id, _, tag = session_id.partition(".")
    if not user_id.isdigit():
        return None
    user = users_lib.get_user(current_app.extensions["fieldkit"], int(user_id))
    if user is None or not user.active or tag != _hash_tag(user.password_hash):
        return None
    return WebUser(user)


def wants_json() -> bool:
    """True for API requests (paths under ``/api``), which get JSON errors instead of pages."""
    return request.path == "/api" or request.path.startswith("/api/")


def _unauthorized():
    if wants_json():
        return jsonify(error="login required", type="Unauthorized"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def current_viewer() -> User | None:
    """The logged-in :class:`fieldkit.store.User` (what library queries take as ``viewer``), or None."""
    return current_user.user if current_user.is_authenticated else None


def role_required(*roles: str):
    """Allow a view to logged-in users whose role is in ``roles`` (any role when none are given).

    Anonymous visitors are sent to the login page (pages) or get 401 JSON (``/api``); a wrong
    role gets 403. The roles are recorded on the view as ``allowed_roles`` for the nav.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
    allowed = frozenset(roles or ROLES)

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                if wants_json():
                    return jsonify(error="forbidden for your role", type="Forbidden"), 403
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = allowed
        return wrapped

    return decorator


def may_visit(path: str) -> bool:
    """True when ``path`` (a URL, variables filled in) is a GET route the current user's role may open."""
    if not current_user.is_authenticated:
        return False
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:  # no such route, not a GET route, or a redirect
        return False
    view = current_app.view_functions[endpoint]
    return current_user.role in getattr(view, "allowed_roles", ROLES)


def csp(**directives: str):
    """Replace CSP directives for one view, e.g. ``@csp(script_src="'self' 'unsafe-inline'")``."""
    override = {name.replace("_", "-"): value for name, value in directives.items()}

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            g.csp_override = override
            return view(*args, **kwargs)

        return wrapped

    return decorator


def content_security_policy(override: dict | None = None) -> str:
    """The CSP header value: the strict base, the basemap host in ``img-src``, then ``override``."""
    policy = dict(BASE_CSP)
    host = basemap_source(current_app.extensions["fieldkit"].settings.basemap_url)
    if host:
        policy["img-src"] += " " + host
    policy.update(override or {})
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def basemap_source(url: str | None) -> str | None:
    """CSP source for an XYZ tile URL: ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` →
    ``https://*.tile.example.org``. None for local files and hosts with a placeholder past the first label."""
    if not url or "://" not in url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    if any("{" in label or "}" in label for label in labels):
        return None
    return f"{parts.scheme}://{'.'.join(labels)}"


def set_security_headers(response):
    """``after_request``: CSP, nosniff, referrer and framing policy on every response."""
    response.headers["Content-Security-Policy"] = content_security_policy(g.get("csp_override"))
    for name, value in OTHER_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
