"""Login hardening: the database-backed rate limiter, ProxyFix by setting, and re-authentication.

The limiter's counts live in the database, so two app instances on one database — two server
worker processes — share them. ``X-Forwarded-For`` counts only when FIELDKIT_TRUSTED_PROXIES
says a proxy sets it. Originals and report/export jobs need a password entered within the
re-authentication age (12 hours) in a fresh session.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from fieldkit import logins
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.store import LoginAttempt
from fieldkit.store.migrate import current, schema_diff
from tests.webapp.conftest import do_login, fetch_csrf_token, password_for
from webapp import create_app
from webapp.security import AUTH_AT

T0 = dt.datetime(2026, 5, 1, 8, 0, 0)
WRONG = "pw-wrong-123456"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


# -- library ------------------------------------------------------------------------------------


def test_migration_creates_the_table_matching_the_model(runtime):
    runtime.db.upgrade()
    assert current(runtime.db.engine) == "0006"
    assert [d for d in schema_diff(runtime.db.engine) if "login_attempts" in repr(d)] == []


def test_username_limit_and_wait_time(runtime):
    for minute in range(5):
        logins.check_allowed(runtime, "rev", "10.0.0.1", now=at(minute))
        logins.record_failure(runtime, "Rev ", "10.0.0.1", now=at(minute))  # same count: case-folded, stripped
    with pytest.raises(logins.TooManyAttemptsError, match="try again in 660 s") as info:
        logins.check_allowed(runtime, "rev", "10.0.0.2", now=at(4))  # another address: the name is locked
    assert info.value.retry_after == 11 * 60 and info.value.http_status == 429
    logins.check_allowed(runtime, "admin", "10.0.0.1", now=at(4))  # the address is still under 20
    logins.check_allowed(runtime, "rev", "10.0.0.1", now=at(15.01))  # the first failure left the window


def test_ip_limit_counts_every_username(runtime):
    for i in range(20):
        logins.record_failure(runtime, f"user{i}", "198.51.100.7", now=at(i * 0.5))
    with pytest.raises(logins.TooManyAttemptsError) as info:
        logins.check_allowed(runtime, "someone-new", "198.51.100.7", now=at(10))
    assert info.value.retry_after == 5 * 60
    logins.check_allowed(runtime, "someone-new", "198.51.100.8", now=at(10))
    assert logins.failures(runtime, ip="198.51.100.7", now=at(10)) == 20


def test_success_clears_the_username_not_other_names_from_the_address(runtime):
    for minute in range(4):
        logins.record_failure(runtime, "insp", "10.1.1.1", now=at(minute))
        logins.record_failure(runtime, "rev", "10.1.1.1", now=at(minute))
    logins.clear_failures(runtime, "INSP")
    assert logins.failures(runtime, "insp", now=at(5)) == 0
    assert logins.failures(runtime, "rev", now=at(5)) == 4
    assert logins.failures(runtime, ip="10.1.1.1", now=at(5)) == 4


def test_old_rows_are_pruned(runtime):
    logins.record_failure(runtime, "a", "10.0.0.9", now=at(0))
    logins.record_failure(runtime, "b", "10.0.0.9", now=at(30))
    with runtime.db.session() as s:
        assert sorted(a.username for a in s.query(LoginAttempt)) == ["b"]


def test_trusted_proxies_setting_is_read_from_the_environment(tmp_path):
    assert Settings.from_env(env={}).trusted_proxies == 0
    assert Settings.from_env(env={"FIELDKIT_TRUSTED_PROXIES": "1"}).trusted_proxies == 1


# -- the login form -----------------------------------------------------------------------------


def test_sixth_attempt_is_refused_even_with_the_right_password(client, users):
    for _ in range(5):
        assert do_login(client, "rev", WRONG).status_code == 200
    response = do_login(client, "rev")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900
    page = response.get_data(as_text=True)
    assert "登录失败次数过多，请 15 分钟后再试" in page
    assert client.get("/").status_code == 302  # not logged in
    english = client.post("/login", headers={"Accept-Language": "en"},
                          data={"username": "rev", "password": password_for("rev"),
                                "csrf_token": fetch_csrf_token(client)})
    assert english.status_code == 429 and "Try again in 15 min." in english.get_data(as_text=True)
    assert do_login(client, "admin").status_code == 302  # other accounts from the same address still work


def test_successful_login_resets_the_count(client, users, runtime):
    for _ in range(4):
        do_login(client, "insp", WRONG)
    assert do_login(client, "insp").status_code == 302
    assert logins.failures(runtime, "insp") == 0
    client.post("/logout", data={"csrf_token": fetch_csrf_token(client)})
    for _ in range(4):
        assert do_login(client, "insp", WRONG).status_code == 200
    assert do_login(client, "insp").status_code == 302


def test_counts_are_shared_by_two_workers_on_one_database(runtime, users):
    other = Runtime(runtime.settings)  # a second worker process: its own engine, same database
    worker_a = create_app({"TESTING": True}, runtime=runtime).test_client()
    worker_b = create_app({"TESTING": True}, runtime=other).test_client()
    for i in range(5):
        assert do_login(worker_a if i % 2 else worker_b, "rev", WRONG).status_code == 200
    assert do_login(worker_a, "rev").status_code == 429
    assert do_login(worker_b, "rev").status_code == 429
    other.db.dispose()


def _proxy_client(runtime, proxies: int):
    settings = Settings.from_env(env={}, data_dir=runtime.settings.data_dir, trusted_proxies=proxies)
    rt = Runtime(settings)
    return rt, create_app({"TESTING": True}, runtime=rt).test_client()


def _post_from(client, forwarded: str, name: str):
    return client.post("/login", headers={"X-Forwarded-For": forwarded},
                       data={"username": name, "password": WRONG, "csrf_token": fetch_csrf_token(client)})


@pytest.mark.parametrize("proxies", [0, 1])
def test_client_address_comes_from_the_proxy_only_when_trusted(runtime, users, proxies):
    rt, client = _proxy_client(runtime, proxies)
    for i in range(20):
        assert _post_from(client, "203.0.113.5", f"guess{i}").status_code == 200
    assert _post_from(client, "203.0.113.5", "guess-more").status_code == 429
    # behind a trusted proxy another client address is not locked; without one the header is
    # ignored, everything comes from the test client's own address, which is locked
    assert _post_from(client, "203.0.113.6", "guess-more").status_code == (200 if proxies else 429)
    expected = "203.0.113.5" if proxies else "127.0.0.1"
    assert logins.failures(rt, ip=expected) == 20
    rt.db.dispose()


# -- re-authentication --------------------------------------------------------------------------


def _age_login(client, hours: float) -> None:
    with client.session_transaction() as sess:
        sess[AUTH_AT] = int(time.time() - hours * 3600)


def test_fresh_login_may_start_a_job_and_open_originals(client, users, login):
    login(client, "rev")
    assert client.get("/photos/999999/original").status_code == 404  # past the check: no such photo
    response = client.post("/reports", data={"output": "ledger", "from": "not-a-date",
                                             "csrf_token": fetch_csrf_token(client)})
    assert response.status_code == 400


def test_old_login_must_reenter_the_password_for_originals(client, users, login):
    login(client, "rev")
    _age_login(client, 12.5)
    response = client.get("/photos/999999/original")
    assert response.status_code == 302
    assert response.location.startswith("/reauth?next=/photos/999999/original")
    page = client.get(response.location).get_data(as_text=True)
    assert "确认密码" in page and "此操作需要再次输入密码" in page
    wrong = client.post("/reauth", data={"password": WRONG, "next": "/photos/999999/original",
                                         "csrf_token": fetch_csrf_token(client)})
    assert wrong.status_code == 200 and "密码错误" in wrong.get_data(as_text=True)
    assert client.get("/photos/999999/original").status_code == 302
    ok = client.post("/reauth", data={"password": password_for("rev"), "next": "/photos/999999/original",
                                      "csrf_token": fetch_csrf_token(client)})
    assert ok.status_code == 302 and ok.location == "/photos/999999/original"
    assert client.get("/photos/999999/original").status_code == 404


def test_eleven_hour_old_login_still_passes(client, users, login):
    login(client, "rev")
    _age_login(client, 11)
    assert client.get("/photos/999999/original").status_code == 404


def test_old_login_cannot_start_a_report_job(client, users, login):
    login(client, "rev")
    _age_login(client, 13)
    data = {"output": "ledger", "csrf_token": fetch_csrf_token(client)}
    page = client.post("/reports", data=data)
    assert page.status_code == 302 and page.location == "/reauth?next=/reports"
    script = client.post("/reports", data=data, headers={"Accept": "application/json"})
    assert script.status_code == 401
    assert script.json["type"] == "ReauthenticationRequired" and script.json["reauth_url"] == "/reauth?next=/reports"


def test_non_fresh_session_must_reauthenticate(client, users, login):
    """A session Flask-Login marks non-fresh (restored from a remember cookie) is asked again."""
    login(client, "rev")
    with client.session_transaction() as sess:
        sess["_fresh"] = False
    assert client.get("/photos/999999/original").status_code == 302
    client.post("/reauth", data={"password": password_for("rev"), "csrf_token": fetch_csrf_token(client)})
    with client.session_transaction() as sess:
        assert sess["_fresh"] is True
    assert client.get("/photos/999999/original").status_code == 404


def test_reauth_is_rate_limited_too(client, users, login):
    login(client, "rev")
    _age_login(client, 13)
    for _ in range(5):
        client.post("/reauth", data={"password": WRONG, "csrf_token": fetch_csrf_token(client)})
    locked = client.post("/reauth", data={"password": password_for("rev"), "csrf_token": fetch_csrf_token(client)})
    assert locked.status_code == 429
    assert client.get("/photos/999999/original").status_code == 302


def test_reauth_next_is_local_only(client, users, login):
    login(client, "rev")
    response = client.post("/reauth", data={"password": password_for("rev"), "next": "https://evil.example/",
                                            "csrf_token": fetch_csrf_token(client)})
    assert response.status_code == 302 and response.location == "/"
