"""Log in and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from fieldkit import users

from .security import WebUser

bp = Blueprint("auth", __name__)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class LoginForm(FlaskForm):
    """Username and password (and the page to return to)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=100)])
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
    if form.validate_on_submit():
        user = users.authenticate(current_app.extensions["fieldkit"], form.username.data, form.password.data)
        if user is not None:
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(WebUser(user))
            return redirect(safe_next(form.next.data) or url_for("home.index"))
        flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form, insecure_warning=cookies_cannot_work())


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
