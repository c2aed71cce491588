"""Administration: list users, add a user, change a role (admins only)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from fieldkit import users
from fieldkit.errors import FieldkitError, NotFoundError

from .security import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


def role_choices() -> list[tuple[str, str]]:
    """(role, translated label) pairs for select boxes."""
    labels = {"inspector": _l("Inspector"), "reviewer": _l("Reviewer"), "admin": _l("Administrator")}
    return [(role, labels[role]) for role in users.ROLES]


class AddUserForm(FlaskForm):
    """A new account."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=100)])
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=200)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=users.MIN_PASSWORD_LENGTH, max=1024)]
    )
    role = SelectField(_l("Role"), choices=role_choices)
    team = StringField(_l("Team"), validators=[Optional(), Length(max=100)])


def _runtime():
    return current_app.extensions["fieldkit"]


@bp.get("/users")
@role_required("admin")
def user_list():
    """Every user, with a role selector each and the add-user form."""
    return _render_list(AddUserForm())


@bp.post("/users")
@role_required("admin")
def user_add():
    """Create a user from the form; on bad input show the list again with the reasons."""
    form = AddUserForm()
    try:
        if form.validate():
            user = users.add_user(_runtime(), form.username.data, form.password.data, role=form.role.data,
                                  team=form.team.data, display_name=form.display_name.data)
            flash(_("User %(name)s added.", name=user.username), "info")
            return redirect(url_for("admin.user_list"))
    except FieldkitError as exc:
        flash(str(exc), "error")
    return _render_list(form), 400


@bp.post("/users/<int:user_id>/role")
@role_required("admin")
def user_role(user_id: int):
    """Change one user's role (the library refuses unknown roles and demoting the last admin)."""
    user = users.get_user(_runtime(), user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    try:
        user = users.set_role(_runtime(), user.username, request.form.get("role", ""))
    except FieldkitError as exc:
        flash(str(exc), "error")
        return _render_list(AddUserForm(formdata=None)), exc.http_status
    flash(_("%(name)s is now %(role)s.", name=user.username, role=dict(role_choices())[user.role]), "info")
    return redirect(url_for("admin.user_list"))


def _render_list(form: AddUserForm):
    return render_template("admin/users.html", users=users.list_users(_runtime()), form=form,
                           roles=role_choices(), role_labels=dict(role_choices()))
