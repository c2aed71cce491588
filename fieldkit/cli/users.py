"""``fieldkit users``: add, list and change web app accounts."""

from __future__ import annotations

import sys

import click

from .. import users as users_lib
from ..runtime import Runtime


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def command() -> None:
    """Web app accounts: inspector, reviewer, admin."""


@command.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(users_lib.ROLES), required=True, help="The user's role.")
@click.option("--team", help="Team (inspectors see their team's photos).")
@click.option("--display-name", help="Name shown in the app.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def add(rt: Runtime, username: str, role: str, team: str | None, display_name: str | None,
        password_stdin: bool) -> None:
    """Create USERNAME with a password (prompted for unless --password-stdin)."""
    user = users_lib.add_user(rt, username, _read_password(password_stdin), role=role, team=team,
                              display_name=display_name)
    click.echo(f"added {user.username} ({user.role}{', team ' + user.team if user.team else ''})")


@command.command("list")
@click.pass_obj
def list_(rt: Runtime) -> None:
    """List every user with role, team and status."""
    rows = [("username", "role", "team", "active", "created (UTC)")]
    for u in users_lib.list_users(rt):
        rows.append((u.username, u.role, u.team or "-", "yes" if u.active else "no",
                     u.created_at.strftime("%Y-%m-%d %H:%M")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@command.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(users_lib.ROLES))
@click.pass_obj
def set_role(rt: Runtime, username: str, role: str) -> None:
    """Give USERNAME the ROLE."""
    user = users_lib.set_role(rt, username, role)
    click.echo(f"{user.username} is now {user.role}")


@command.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def set_password(rt: Runtime, username: str, password_stdin: bool) -> None:
    """Replace USERNAME's password (their open sessions end)."""
    user = users_lib.set_password(rt, username, _read_password(password_stdin))
    click.echo(f"password of {user.username} changed")
