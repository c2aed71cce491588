"""Log in, log out, and re-enter the password for sensitive actions (``/reauth``).

Failed logins are rate-limited per username and per client address by :mod:`fieldkit.logins`
(counts in the database, shared by all worker processes): past the limit the form answers 429
with the wait time, without checking the password. The client address is ``request.remote_addr``,
which is the real client only when ``FIELDKIT_TRUSTED_PROXIES`` matches the proxies in front.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import confirm_login, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from fieldkit import logins, users

from .security import WebUser, mark_authenticated, role_required

bp = Blueprint("auth", __name__)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class LoginForm(FlaskForm):
    """Username and password (and the page to return to)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class ReauthForm(FlaskForm):
    """The password again (and the page to return to)."""

    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/...``), else None: no scheme, host, ``//`` or ``\\``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def cookies_cannot_work() -> bool:
    """True when cookies are ``Secure`` but this request came over plain HTTP to a non-local host."""
    return (current_app.config["SESSION_COOKIE_SECURE"] and not request.is_secure
            and request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on success start a fresh session and go to ``next`` (local paths only)."""
    form = LoginForm(next=request.args.get("next", ""))
    retry = None
    if form.validate_on_submit():
        user, retry = _check_password(form.username.data, form.password.data)
        if user is not None:
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(WebUser(user))
            mark_authenticated()
            return redirect(safe_next(form.next.data) or url_for("home.index"))
        if retry is None:
            flash(_("Wrong username or password."), "error")
    return _page("auth/login.html", retry, form=form, insecure_warning=cookies_cannot_work())


@bp.route("/reauth", methods=["GET", "POST"])
@role_required()
def reauth():
    """Ask the logged-in user for the password again before a sensitive action, then go to ``next``."""
    form = ReauthForm(next=request.args.get("next", ""))
    retry = None
    if form.validate_on_submit():
        user, retry = _check_password(current_user.username, form.password.data)
        if user is not None and user.id == current_user.id:
            confirm_login()
            mark_authenticated()
            return redirect(safe_next(form.next.data) or url_for("home.index"))
        if retry is None:
            flash(_("Wrong password."), "error")
    return _page("auth/reauth.html", retry, form=form)


def _check_password(username: str, password: str):
    """``(user or None, seconds to wait or None)``. While ``username`` or this address is locked out
    the password is not checked and the wait is flashed; otherwise a failure is counted and a
    success clears the username's count."""
    rt = current_app.extensions["fieldkit"]
    ip = request.remote_addr
    try:
        logins.check_allowed(rt, username, ip)
    except logins.TooManyAttemptsError as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        flash(_("Too many failed attempts. Try again in %(num)d min.", num=minutes), "error")
        current_app.logger.warning("login refused for %r from %s: %s", username, ip, exc)
        return None, exc.retry_after
    user = users.authenticate(rt, username, password)
    if user is None:
        logins.record_failure(rt, username, ip)
    else:
        logins.clear_failures(rt, username)
    return user, None


def _page(template: str, retry: int | None, **context):
    """The form page: 200, or 429 with ``Retry-After`` while locked out."""
    if retry is None:
        return render_template(template, **context)
    return render_template(template, **context), 429, {"Retry-After": str(retry)}


@bp.post("/logout")
def logout():
    """End the session (POST with the CSRF token, so another site cannot log you out)."""
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))
