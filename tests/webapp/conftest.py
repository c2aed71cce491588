"""Web app fixtures: an app on a fresh data directory, a user per role, login and CSRF helpers.

CSRF protection stays ON in tests: form posts and API writes must carry a token
(``csrf_token(client)`` fetches one; send it as form field ``csrf_token`` or header ``X-CSRFToken``).
"""

from __future__ import annotations

import re

import pytest

from fieldkit import users as users_lib
from webapp import create_app

# name -> (role, team); every password is "pw-<name>-123456".
USERS = {
    "insp": ("inspector", "A"),
    "insp2": ("inspector", "B"),
    "rev": ("reviewer", None),
    "admin": ("admin", None),
}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def password_for(name: str) -> str:
    """The test password of user ``name``."""
    return f"pw-{name}-123456"


@pytest.fixture
def app(runtime):
    """The app on the ``runtime`` fixture's temporary data directory, TESTING, CSRF enabled."""
    return create_app({"TESTING": True}, runtime=runtime)


@pytest.fixture
def client(app):
    """A test client (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def users(runtime):
    """One user per role: ``insp`` (team A), ``insp2`` (team B), ``rev``, ``admin``; name -> User."""
    return {
        name: users_lib.add_user(runtime, name, password_for(name), role=role, team=team)
        for name, (role, team) in USERS.items()
    }


def fetch_csrf_token(client) -> str:
    """A CSRF token valid for ``client``'s session (read from the page's ``csrf-token`` meta tag)."""
    response = client.get("/")
    if response.status_code != 200:
        response = client.get("/login")
    match = CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no csrf-token meta tag in {response.request.path} ({response.status_code})"
    return match.group(1)


def do_login(client, name: str, password: str | None = None, next_url: str = ""):
    """Post the login form as ``name``; return the response (302 on success)."""
    return client.post(
        "/login",
        data={
            "username": name,
            "password": password or password_for(name),
            "csrf_token": fetch_csrf_token(client),
            "next": next_url,
        },
    )


@pytest.fixture
def csrf_token():
    """``csrf_token(client) -> str``."""
    return fetch_csrf_token


@pytest.fixture
def attempt_login(users):
    """``attempt_login(client, name, password=None, next_url="")`` -> response (302 on success)."""
    return do_login


@pytest.fixture
def login(users):
    """``login(client, name)``: log ``client`` in as one of the ``users`` (asserts success)."""

    def _login(client, name: str):
        response = do_login(client, name)
        assert response.status_code == 302, f"login as {name} failed ({response.status_code})"
        return response

    return _login
