"""The role × endpoint matrix: each role gets exactly what it may, and every route is in the table.

To add an endpoint, add a row to MATRIX: ``(method, URL rule) -> Case(allowed, url=..., data=...)``.
``allowed`` is a set of roles, or PUBLIC for pages anyone may open. Anonymous visitors of a
non-public page are sent to the login page (``/api``: 401 JSON); a logged-in wrong role gets 403.
A role that is allowed must not get 401/403/a redirect to ``/login?next=`` and no 5xx (404 or 400
for a missing
object or a bad body is fine: object-level access is tested with the endpoint's own tests).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fieldkit import users as users_lib
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from webapp import create_app

ROLES = ("inspector", "reviewer", "admin")
ALL = frozenset(ROLES)
PUBLIC = frozenset(("anonymous",) + ROLES)
STAFF = frozenset({"reviewer", "admin"})
ROLE_USER = {"inspector": "insp", "reviewer": "rev", "admin": "admin"}
BBOX = "bbox=100,30,110,40"


@dataclasses.dataclass(frozen=True)
class Case:
    """Who may call an endpoint, and how to call it."""

    allowed: frozenset
    url: str | None = None  # defaults to the rule itself
    data: dict[str, Any] | None = None  # form body for POST
    json: Any = None  # JSON body for POST/PATCH


MATRIX: dict[tuple[str, str], Case] = {
    # core (webapp-core engineer)
    ("GET", "/"): Case(ALL),
    ("GET", "/login"): Case(PUBLIC),
    ("POST", "/login"): Case(PUBLIC, data={"username": "nobody", "password": "wrong-password"}),
    ("POST", "/logout"): Case(PUBLIC),
    ("GET", "/reauth"): Case(ALL),
    ("POST", "/reauth"): Case(ALL, data={"password": "wrong-password"}),
    ("GET", "/admin/users"): Case(frozenset({"admin"})),
    ("POST", "/admin/users"): Case(
        frozenset({"admin"}),
        data={"username": "newbie", "password": "pw-newbie-123456", "role": "inspector", "team": "A"},
    ),
    ("POST", "/admin/users/<int:user_id>/role"): Case(
        frozenset({"admin"}), url="/admin/users/{rev_id}/role", data={"role": "reviewer"}
    ),
    # map, API, photos, upload (map engineer)
    ("GET", "/map"): Case(ALL),
    ("GET", "/map/frame"): Case(ALL),
    ("GET", "/tiles/<int:z>/<int:x>/<int:y>"): Case(ALL, url="/tiles/3/6/3"),
    ("GET", "/api/openapi.json"): Case(PUBLIC),
    ("GET", "/api/layers"): Case(ALL),
    ("GET", "/api/features"): Case(ALL, url=f"/api/features?{BBOX}"),
    ("GET", "/api/photos"): Case(ALL, url=f"/api/photos?{BBOX}"),
    ("GET", "/api/photos/<int:photo_id>"): Case(ALL, url="/api/photos/999999"),
    ("POST", "/api/photos/<int:photo_id>/location"): Case(
        frozenset({"inspector", "admin"}), url="/api/photos/999999/location", json={"lat": 38.5, "lon": 101.9}
    ),
    ("PATCH", "/api/photos/<int:photo_id>/location"): Case(
        frozenset({"inspector", "admin"}), url="/api/photos/999999/location", json={"lat": 38.5, "lon": 101.9}
    ),
    ("GET", "/photos"): Case(ALL),
    ("GET", "/photos/<int:photo_id>"): Case(ALL, url="/photos/999999"),
    ("GET", "/photos/<int:photo_id>/preview"): Case(ALL, url="/photos/999999/preview"),
    ("GET", "/photos/<int:photo_id>/thumb"): Case(ALL, url="/photos/999999/thumb"),
    ("GET", "/photos/<int:photo_id>/original"): Case(ALL, url="/photos/999999/original"),
    ("GET", "/upload"): Case(frozenset({"inspector", "admin"})),
    ("POST", "/api/uploads"): Case(frozenset({"inspector", "admin"}), data={}),
    # findings and cases (cases-web engineer): inspectors record and read findings (own team's);
    # cases and the 检察建议书 are for reviewers and admins only.
    ("GET", "/photos/<int:photo_id>/findings/new"): Case(ALL, url="/photos/999999/findings/new"),
    ("POST", "/photos/<int:photo_id>/findings/new"): Case(
        ALL, url="/photos/999999/findings/new", data={"category_id": "gw-graffiti"}
    ),
    ("GET", "/findings"): Case(ALL),
    ("GET", "/findings/<int:finding_id>"): Case(ALL, url="/findings/999999"),
    ("GET", "/api/findings"): Case(ALL, url=f"/api/findings?{BBOX}"),
    # edit/close: inspectors their own open findings (checked per object), reviewers/admins any.
    ("POST", "/findings/<int:finding_id>/edit"): Case(ALL, url="/findings/999999/edit", data={"note": "x"}),
    ("POST", "/findings/<int:finding_id>/close"): Case(ALL, url="/findings/999999/close", data={"reason": "x"}),
    ("GET", "/cases"): Case(STAFF),
    ("POST", "/cases/new"): Case(STAFF, data={"finding_id": "999999"}),
    ("GET", "/cases/<int:case_id>"): Case(STAFF, url="/cases/999999"),
    ("POST", "/cases/<int:case_id>/actions/<action>"): Case(
        STAFF, url="/cases/999999/actions/file", data={"filed_on": "2025-06-01"}
    ),
    ("POST", "/cases/<int:case_id>/edit"): Case(STAFF, url="/cases/999999/edit", data={"title": "x"}),
    ("POST", "/cases/<int:case_id>/findings"): Case(
        STAFF, url="/cases/999999/findings", data={"finding_id": "999999"}
    ),
    ("POST", "/cases/<int:case_id>/findings/<int:finding_id>/remove"): Case(
        STAFF, url="/cases/999999/findings/999999/remove"
    ),
    ("POST", "/cases/<int:case_id>/draft"): Case(STAFF, url="/cases/999999/draft"),
    ("POST", "/cases/<int:case_id>/suggestions/<int:record_id>"): Case(
        STAFF, url="/cases/999999/suggestions/999999", data={"addressee": "x"}
    ),
    ("POST", "/cases/<int:case_id>/suggestions/<int:record_id>/issue"): Case(
        STAFF, url="/cases/999999/suggestions/999999/issue"
    ),
    ("GET", "/cases/<int:case_id>/suggestions/<int:record_id>.docx"): Case(
        STAFF, url="/cases/999999/suggestions/999999.docx"
    ),
    ("GET", "/cases/<int:case_id>/suggestions/<int:record_id>.pdf"): Case(
        STAFF, url="/cases/999999/suggestions/999999.pdf"
    ),
    # look-backs (lookback-web engineer): reviewers/admins plan (from the case page) and conclude;
    # pairing, verdicts and the record also for inspectors of the look-back's team (checked per object).
    ("POST", "/cases/<int:case_id>/lookbacks"): Case(
        STAFF, url="/cases/999999/lookbacks", data={"planned_on": "2025-06-01"}
    ),
    ("GET", "/lookbacks/<int:lookback_id>"): Case(ALL, url="/lookbacks/999999"),
    ("POST", "/lookbacks/<int:lookback_id>/suggest"): Case(ALL, url="/lookbacks/999999/suggest"),
    ("POST", "/lookbacks/<int:lookback_id>/pairs"): Case(
        ALL, url="/lookbacks/999999/pairs", data={"finding_id": "1", "photo_id": "1"}
    ),
    ("POST", "/lookbacks/<int:lookback_id>/pairs/<int:pair_id>/confirm"): Case(
        ALL, url="/lookbacks/999999/pairs/999999/confirm"
    ),
    ("POST", "/lookbacks/<int:lookback_id>/pairs/<int:pair_id>/reject"): Case(
        ALL, url="/lookbacks/999999/pairs/999999/reject"
    ),
    ("POST", "/lookbacks/<int:lookback_id>/findings/<int:finding_id>/verdict"): Case(
        ALL, url="/lookbacks/999999/findings/999999/verdict", data={"verdict": "rectified"}
    ),
    ("POST", "/lookbacks/<int:lookback_id>/conclude"): Case(STAFF, url="/lookbacks/999999/conclude"),
    ("GET", "/lookbacks/<int:lookback_id>/record.docx"): Case(ALL, url="/lookbacks/999999/record.docx"),
    ("GET", "/lookbacks/<int:lookback_id>/record.pdf"): Case(ALL, url="/lookbacks/999999/record.pdf"),
    # reports and exports (reports-web engineer): staff only, like cases (reports show case states)
    ("GET", "/reports"): Case(STAFF),
    ("POST", "/reports"): Case(STAFF, data={"output": "ledger", "from": "not-a-date"}),
    ("GET", "/reports/jobs/<job_id>"): Case(STAFF, url="/reports/jobs/no-such-job"),
    ("GET", "/reports/jobs/<job_id>/download"): Case(STAFF, url="/reports/jobs/no-such-job/download"),
    # look-back planning (lookback-plan engineer): due list, .ics and trips for everyone (inspectors
    # their own team's); scorecards for reviewers and admins.
    ("GET", "/lookbacks/due"): Case(ALL),
    ("GET", "/lookbacks/due.ics"): Case(ALL),
    ("POST", "/lookbacks/trip"): Case(ALL, data={"case_id": "999999", "start": "101.9,38.2"}),
    ("GET", "/lookbacks/trip.gpx"): Case(ALL, url="/lookbacks/trip.gpx?case_id=999999&start=101.9,38.2"),
    ("GET", "/lookbacks/trip.kml"): Case(ALL, url="/lookbacks/trip.kml?case_id=999999&start=101.9,38.2"),
    ("GET", "/lookbacks/scorecards"): Case(STAFF),
    ("GET", "/lookbacks/scorecards/<kind>.png"): Case(STAFF, url="/lookbacks/scorecards/rates.png"),
}
IGNORED_RULES = {"/static/<path:filename>"}


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory):
    """One app for the whole matrix (its writes are idempotent), with the four test users."""
    rt = Runtime(Settings.from_env(env={}, data_dir=tmp_path_factory.mktemp("matrix")))
    for name, role, team in (("insp", "inspector", "A"), ("insp2", "inspector", "B"),
                             ("rev", "reviewer", None), ("admin", "admin", None)):
        users_lib.add_user(rt, name, f"pw-{name}-123456", role=role, team=team)
    yield create_app({"TESTING": True}, runtime=rt)
    rt.db.dispose()


@pytest.fixture(scope="module")
def role_sessions(matrix_app):
    """Session cookie of each role, logged in once (logging in per case would dominate the run)."""
    cookies = {}
    for role, name in ROLE_USER.items():
        client = matrix_app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        response = client.post("/login", data={"username": name, "password": f"pw-{name}-123456",
                                               "csrf_token": token})
        assert response.status_code == 302
        cookies[role] = client.get_cookie("session").value
    return cookies


def _call(client, method: str, key: tuple[str, str], case: Case, token: str, rev_id: int):
    url = (case.url or key[1]).format(rev_id=rev_id)
    kwargs: dict[str, Any] = {"headers": {"X-CSRFToken": token}}
    if case.json is not None:
        kwargs["json"] = case.json
    elif method != "GET":
        kwargs["data"] = case.data or {}
    return client.open(url, method=method, **kwargs)


def _outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and location.startswith("/login?next="):
        return "login"
    if response.status_code == 401:
        return "login"
    if response.status_code == 403:
        return "forbidden"
    assert response.status_code < 500, f"server error {response.status_code}"
    return "granted"


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[0]} {k[1]}")
@pytest.mark.parametrize("role", ("anonymous",) + ROLES)
def test_role_gets_exactly_what_it_may(matrix_app, role_sessions, csrf_token, key, role):
    client = matrix_app.test_client()
    if role != "anonymous":
        client.set_cookie("session", role_sessions[role])
    case = MATRIX[key]
    method, rule = key
    rev_id = users_lib.get_user_by_name(matrix_app.extensions["fieldkit"], "rev").id
    response = _call(client, method, key, case, csrf_token(client), rev_id)
    is_api = rule.startswith("/api")
    got = _outcome(response)
    if role in case.allowed:
        expected = "granted"
    else:
        expected = "login" if role == "anonymous" else "forbidden"
    where = response.headers.get("Location")
    assert got == expected, f"{role} {method} {rule}: {response.status_code} {where}"
    if got == "login" and is_api:
        assert response.status_code == 401 and response.is_json
    elif got == "login":
        assert response.status_code == 302
    if got == "forbidden" and is_api:
        assert response.is_json


def test_every_route_is_in_the_matrix(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule not in IGNORED_RULES
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    missing = sorted(routes - set(MATRIX))
    assert missing == [], f"routes without a row in MATRIX (tests/webapp/test_roles.py): {missing}"


def test_admin_can_add_a_user_and_change_a_role(app, client, users, login, runtime):
    from fieldkit.users import authenticate, get_user_by_name

    login(client, "admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "insp2" in page and 'name="csrf_token"' in page
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post("/admin/users", data={
        "csrf_token": token, "username": "王巡查", "password": "pw-wang-123456", "role": "inspector",
        "team": "B", "display_name": "王"})
    assert response.status_code == 302
    assert authenticate(runtime, "王巡查", "pw-wang-123456").team == "B"
    response = client.post(f"/admin/users/{users['insp'].id}/role",
                           data={"csrf_token": token, "role": "reviewer"})
    assert response.status_code == 302
    assert get_user_by_name(runtime, "insp").role == "reviewer"


def test_admin_form_errors_are_shown_not_stored(app, client, users, login, csrf_token, runtime):
    from fieldkit.users import list_users

    login(client, "admin")
    token = csrf_token(client)
    duplicate = client.post("/admin/users", data={
        "csrf_token": token, "username": "rev", "password": "pw-rev2-123456", "role": "reviewer"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.get_data(as_text=True)
    short = client.post("/admin/users", data={
        "csrf_token": token, "username": "shorty", "password": "short", "role": "reviewer"})
    assert short.status_code == 400
    bad_role = client.post(f"/admin/users/{users['rev'].id}/role", data={"csrf_token": token, "role": "god"})
    assert bad_role.status_code == 400
    last_admin = client.post(f"/admin/users/{users['admin'].id}/role",
                             data={"csrf_token": token, "role": "reviewer"})
    assert last_admin.status_code == 409 and "last active admin" in last_admin.get_data(as_text=True)
    assert sorted((u.username, u.role) for u in list_users(runtime)) == [
        ("admin", "admin"), ("insp", "inspector"), ("insp2", "inspector"), ("rev", "reviewer")]


def test_nav_shows_admin_link_to_admins_only(app, client, users, login, csrf_token):
    login(client, "insp")
    assert "/admin/users" not in client.get("/?lang=en").get_data(as_text=True)
    client.post("/logout", headers={"X-CSRFToken": csrf_token(client)})
    login(client, "admin")
    assert 'href="/admin/users"' in client.get("/?lang=en").get_data(as_text=True)
