"""Login, logout, ``next`` handling, session hygiene and cookie flags."""

from __future__ import annotations

import pytest

from fieldkit.store import User
from webapp import create_app
from webapp.auth import safe_next


@pytest.fixture
def do_login(attempt_login):
    return attempt_login


@pytest.fixture
def fetch_csrf_token(csrf_token):
    return csrf_token


def test_login_ok_redirects_home_and_opens_pages(client, users, do_login):
    response = do_login(client, "rev")
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").status_code == 200


def test_login_with_bad_password_is_refused(client, users, do_login):
    response = do_login(client, "rev", password="pw-wrong-123456")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous


def test_unknown_user_gets_the_same_answer(client, users, do_login):
    known = do_login(client, "rev", password="pw-wrong-123456").get_data(as_text=True)
    unknown = do_login(client, "nobody", password="pw-wrong-123456").get_data(as_text=True)
    assert "用户名或密码错误" in known and "用户名或密码错误" in unknown


def test_inactive_user_cannot_log_in(client, users, runtime, do_login):
    with runtime.db.session(write=True) as s:
        s.get(User, users["rev"].id).active = False
    assert do_login(client, "rev").status_code == 200
    assert client.get("/").status_code == 302


def test_next_local_path_is_followed(client, users, do_login):
    response = do_login(client, "admin", next_url="/admin/users?x=1")
    assert response.status_code == 302 and response.location == "/admin/users?x=1"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "http:/evil",
     "javascript:alert(1)", "/ok\r\nLocation: https://evil.example", "evil"],
)
def test_next_open_redirect_is_refused(client, users, target, do_login):
    response = do_login(client, "rev", next_url=target)
    assert response.status_code == 302
    assert response.location == "/"


def test_safe_next_accepts_only_local_paths():
    assert safe_next("/map?layer=1#x") == "/map?layer=1#x"
    assert safe_next("/") == "/"
    for bad in (None, "", "map", "//a.b", "/\\a.b", "https://a.b/c", "/a\tb", "/a\x7fb"):
        assert safe_next(bad) is None, bad


def test_anonymous_page_redirects_to_login_with_next(client):
    response = client.get("/admin/users?tab=1")
    assert response.status_code == 302
    assert response.location == "/login?next=/admin/users?tab%3D1"


def test_login_page_carries_next_into_the_form(client, users):
    location = client.get("/admin/users").location
    page = client.get(location).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/admin/users"' in page


def test_session_is_cleared_at_login_but_language_kept(client, users, do_login):
    client.get("/login?lang=en")
    with client.session_transaction() as sess:
        sess["planted"] = "attacker-fixed value"
    do_login(client, "rev")
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["lang"] == "en"
        assert sess["_user_id"].startswith(f"{users['rev'].id}.")


def test_logout_requires_post_and_ends_the_session(client, users, do_login, fetch_csrf_token):
    do_login(client, "rev")
    assert client.get("/logout").status_code == 405
    response = client.post("/logout", data={"csrf_token": fetch_csrf_token(client)})
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/").status_code == 302


def test_password_change_ends_existing_sessions(client, users, runtime, do_login):
    from fieldkit import users as users_lib

    do_login(client, "rev")
    assert client.get("/").status_code == 200
    users_lib.set_password(runtime, "rev", "a-new-password-42")
    assert client.get("/").status_code == 302


def test_stored_password_hashes_are_argon2id(users, runtime):
    with runtime.db.session() as s:
        hashes = [u.password_hash for u in s.query(User)]
    assert len(hashes) == 4
    for h in hashes:
        assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert "pw-" not in h


def _cookie_header(app):
    return app.test_client().get("/login").headers["Set-Cookie"]


def test_session_cookie_is_secure_httponly_lax_by_default(runtime, monkeypatch):
    monkeypatch.delenv("FIELDKIT_INSECURE_COOKIES", raising=False)
    cookie = _cookie_header(create_app({}, runtime=runtime))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_insecure_cookies_only_when_asked(runtime, monkeypatch):
    monkeypatch.setenv("FIELDKIT_INSECURE_COOKIES", "1")
    cookie = _cookie_header(create_app({}, runtime=runtime))
    assert "Secure" not in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_page_warns_when_secure_cookies_meet_plain_http(runtime, monkeypatch):
    monkeypatch.delenv("FIELDKIT_INSECURE_COOKIES", raising=False)
    client = create_app({}, runtime=runtime).test_client()
    remote = client.get("/login?lang=en", base_url="http://10.0.0.5:8000").get_data(as_text=True)
    local = client.get("/login?lang=en", base_url="http://127.0.0.1:8000").get_data(as_text=True)
    assert "FIELDKIT_INSECURE_COOKIES=1" in remote
    assert "FIELDKIT_INSECURE_COOKIES=1" not in local
