"""The users library (argon2id hashes, roles, authentication) and ``fieldkit users`` commands."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from fieldkit import users
from fieldkit.cli.users import command
from fieldkit.errors import ConflictError, InputError, NotFoundError
from fieldkit.store import User


def test_hash_is_argon2id_with_owasp_parameters_and_verifies():
    h = users.hash_password("correct horse battery")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert users.verify_password(h, "correct horse battery")
    assert not users.verify_password(h, "correct horse batterY")
    assert not users.verify_password("not-a-hash", "correct horse battery")
    assert users.hash_password("correct horse battery") != h  # salted


@pytest.mark.parametrize("bad", ["short", "", "x" * 1025])
def test_password_length_is_checked(bad):
    with pytest.raises(InputError, match="password"):
        users.hash_password(bad)


def test_add_and_authenticate(runtime):
    user = users.add_user(runtime, " 张三 ", "pw-zhang-123456", role="inspector", team=" A ",
                          display_name="张三")
    assert (user.username, user.role, user.team, user.active) == ("张三", "inspector", "A", True)
    assert users.authenticate(runtime, "张三", "pw-zhang-123456").id == user.id
    assert users.authenticate(runtime, "张三", "pw-zhang-1234567") is None
    assert users.authenticate(runtime, "李四", "pw-zhang-123456") is None
    assert users.authenticate(runtime, "", "") is None
    assert users.authenticate(runtime, "bad name!", "x") is None


@pytest.mark.parametrize("name", ["", "a b", "<script>", "x" * 101, "semi;colon"])
def test_bad_usernames_are_refused(runtime, name):
    with pytest.raises(InputError, match="username"):
        users.add_user(runtime, name, "pw-long-enough-1")


def test_duplicate_unknown_role_and_missing_user(runtime):
    users.add_user(runtime, "rev", "pw-rev-123456", role="reviewer")
    with pytest.raises(ConflictError, match="'rev' already exists"):
        users.add_user(runtime, "rev", "pw-rev-123456")
    with pytest.raises(InputError, match="role 'boss'"):
        users.add_user(runtime, "boss", "pw-boss-123456", role="boss")
    with pytest.raises(NotFoundError, match="no user 'ghost'"):
        users.set_role(runtime, "ghost", "admin")


def test_set_role_and_last_admin_guard(runtime):
    users.add_user(runtime, "a1", "pw-a1-1234567", role="admin")
    users.add_user(runtime, "i1", "pw-i1-1234567")
    with pytest.raises(ConflictError, match="last active admin"):
        users.set_role(runtime, "a1", "reviewer")
    assert users.set_role(runtime, "i1", "admin").role == "admin"
    assert users.set_role(runtime, "a1", "reviewer").role == "reviewer"
    assert [(u.username, u.role) for u in users.list_users(runtime)] == [("a1", "reviewer"), ("i1", "admin")]


def test_inactive_users_cannot_authenticate(runtime):
    user = users.add_user(runtime, "gone", "pw-gone-123456")
    with runtime.db.session(write=True) as s:
        s.get(User, user.id).active = False
    assert users.authenticate(runtime, "gone", "pw-gone-123456") is None


def test_outdated_hash_is_upgraded_at_login(runtime):
    user = users.add_user(runtime, "old", "pw-old-1234567")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw-old-1234567")
    with runtime.db.session(write=True) as s:
        s.get(User, user.id).password_hash = weak
    assert users.authenticate(runtime, "old", "pw-old-1234567") is not None
    assert users.get_user(runtime, user.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_set_password(runtime):
    users.add_user(runtime, "pat", "pw-pat-1234567")
    users.set_password(runtime, "pat", "pw-pat-new-7654321")
    assert users.authenticate(runtime, "pat", "pw-pat-1234567") is None
    assert users.authenticate(runtime, "pat", "pw-pat-new-7654321") is not None


# --- CLI ------------------------------------------------------------------------------------

def _run(runtime, args, stdin=None):
    return CliRunner().invoke(command, args, obj=runtime, input=stdin)


def test_cli_add_list_set_role(runtime):
    result = _run(runtime, ["add", "wang", "--role", "inspector", "--team", "金昌", "--password-stdin"],
                  "pw-wang-123456\n")
    assert result.exit_code == 0, result.output
    assert "added wang (inspector, team 金昌)" in result.output
    assert users.authenticate(runtime, "wang", "pw-wang-123456") is not None

    result = _run(runtime, ["set-role", "wang", "reviewer"])
    assert result.exit_code == 0 and "wang is now reviewer" in result.output

    result = _run(runtime, ["list"])
    lines = result.output.splitlines()
    assert lines[0].split() == ["username", "role", "team", "active", "created", "(UTC)"]
    assert lines[1].split()[:4] == ["wang", "reviewer", "金昌", "yes"]


def test_cli_add_prompts_twice_without_stdin_flag(runtime):
    result = _run(runtime, ["add", "li", "--role", "admin"], "pw-li-1234567\npw-li-1234567\n")
    assert result.exit_code == 0, result.output
    assert users.authenticate(runtime, "li", "pw-li-1234567").role == "admin"


def test_cli_rejects_bad_role_and_short_password(runtime):
    result = _run(runtime, ["add", "x", "--role", "boss", "--password-stdin"], "pw-x-12345678\n")
    assert result.exit_code == 2 and "boss" in result.output
    result = _run(runtime, ["add", "x", "--role", "reviewer", "--password-stdin"], "short\n")
    assert isinstance(result.exception, InputError) and "at least 10" in str(result.exception)
    assert users.list_users(runtime) == []


def test_cli_set_password(runtime):
    users.add_user(runtime, "sun", "pw-sun-1234567")
    result = _run(runtime, ["set-password", "sun", "--password-stdin"], "pw-sun-7654321\n")
    assert result.exit_code == 0 and users.authenticate(runtime, "sun", "pw-sun-7654321") is not None
