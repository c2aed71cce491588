"""Security headers on every response, per-view CSP relaxation, CSRF on forms and API writes."""

from __future__ import annotations

import pytest
from flask import Blueprint

from webapp import create_app
from webapp.security import basemap_source, csp, role_required

STRICT_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'"
)


def assert_security_headers(response, csp_value: str = STRICT_CSP):
    assert response.headers["Content-Security-Policy"] == csp_value
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def _get_pages(app):
    """Every GET route without URL parameters (the parameterised ones are covered by test_roles)."""
    return sorted(r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and not r.arguments)


@pytest.mark.parametrize("who", [None, "insp", "rev", "admin"])
def test_every_page_has_the_headers(app, client, users, login, who):
    if who:
        login(client, who)
    pages = _get_pages(app)
    assert {"/", "/login", "/admin/users"} <= set(pages)
    relaxed = {r.rule for r in app.url_map.iter_rules() if r.rule == "/map/frame"}
    for path in pages:
        query = {"bbox": "100,30,110,40"} if path.startswith("/api/") else None
        response = client.get(path, query_string=query)
        if path in relaxed and response.status_code == 200:  # the sandboxed folium frame loosens script-src
            assert "script-src 'self' 'unsafe-inline'" in response.headers["Content-Security-Policy"]
            assert "object-src 'none'" in response.headers["Content-Security-Policy"]
            continue
        assert_security_headers(response)


def test_errors_static_and_redirects_have_the_headers(app, client, users, login):
    assert_security_headers(client.get("/no-such-page"))
    assert_security_headers(client.get("/api/no-such-endpoint"))
    assert_security_headers(client.get("/"))  # redirect to login
    response = client.get("/static/core/base.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert_security_headers(response)
    response.close()


def test_api_errors_are_json_and_pages_are_html(client, users, login):
    api = client.get("/api/no-such-endpoint")
    assert api.status_code == 404 and api.is_json and api.json["type"] == "NotFound"
    page = client.get("/no-such-page?lang=en")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "<h1>Not found" in page.get_data(as_text=True)


def test_fieldkit_errors_become_json_or_a_page(runtime):
    from fieldkit.errors import ConflictError

    bp = Blueprint("boom", __name__)

    @bp.get("/api/boom")
    def api_boom():
        raise ConflictError("layer 'x': <b>busy</b>")

    @bp.get("/boom")
    def page_boom():
        raise ConflictError("layer 'x': <b>busy</b>")

    app = create_app({"TESTING": True}, runtime=runtime)
    app.register_blueprint(bp)
    client = app.test_client()
    api = client.get("/api/boom")
    assert api.status_code == 409 and api.json == {"error": "layer 'x': <b>busy</b>", "type": "ConflictError"}
    page = client.get("/boom")
    assert page.status_code == 409 and page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    assert "&lt;b&gt;busy&lt;/b&gt;" in body and "<b>busy</b>" not in body  # escaped
    assert_security_headers(page)


def test_csp_decorator_relaxes_one_view_only(runtime):
    bp = Blueprint("relaxed", __name__)

    @bp.get("/relaxed")
    @csp(script_src="'self' 'unsafe-inline'")
    def relaxed():
        return "ok"

    app = create_app({"TESTING": True}, runtime=runtime)
    app.register_blueprint(bp)
    client = app.test_client()
    assert_security_headers(client.get("/relaxed"), STRICT_CSP.replace(
        "script-src 'self';", "script-src 'self' 'unsafe-inline';"))
    assert_security_headers(client.get("/login"))


def test_basemap_host_is_allowed_for_images(tmp_path):
    app = create_app({"TESTING": True, "FIELDKIT": {
        "data_dir": tmp_path, "basemap_url": "https://{s}.tile.example.org/{z}/{x}/{y}.png"}})
    response = app.test_client().get("/login")
    assert response.headers["Content-Security-Policy"].startswith(
        "default-src 'self'; img-src 'self' data: blob: https://*.tile.example.org; script-src 'self';")


@pytest.mark.parametrize("url, expected", [
    ("https://webrd0{1-4}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}", "https://*.is.autonavi.com"),
    ("http://tiles.local:8080/{z}/{x}/{y}.png", "http://tiles.local:8080"),
    ("/srv/tiles/china.mbtiles", None),
    ("file:///srv/tiles/china.mbtiles", None),
    ("https://a.{s}.example.org/{z}/{x}/{y}.png", None),
    (None, None),
])
def test_basemap_source(url, expected):
    assert basemap_source(url) == expected


def test_role_required_rejects_unknown_roles():
    with pytest.raises(ValueError, match="superuser"):
        role_required("superuser")


# --- CSRF -----------------------------------------------------------------------------------

def test_form_post_without_token_is_refused(client, users):
    response = client.post("/login", data={"username": "rev", "password": "pw-rev-123456"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not logged in


def test_form_post_with_a_wrong_token_is_refused(client, users, csrf_token):
    csrf_token(client)
    response = client.post("/login", data={"username": "rev", "password": "pw-rev-123456",
                                           "csrf_token": "forged"})
    assert response.status_code == 400


def test_admin_post_without_token_is_refused_and_nothing_stored(client, users, login, runtime):
    from fieldkit.users import list_users

    login(client, "admin")
    response = client.post("/admin/users?lang=en", data={
        "username": "mallory", "password": "pw-mallory-123456", "role": "admin"})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert "mallory" not in {u.username for u in list_users(runtime)}


def test_api_write_needs_the_header_token(client, users, login, csrf_token):
    login(client, "admin")
    bare = client.post("/api/photos/1/location", json={"lat": 38.5, "lon": 101.9})
    assert bare.status_code == 400 and bare.is_json and "CSRF" in bare.json["error"]
    token = csrf_token(client)
    with_header = client.post("/api/photos/1/location", json={"lat": 38.5, "lon": 101.9},
                              headers={"X-CSRFToken": token})
    assert with_header.status_code != 400 or "CSRF" not in with_header.json.get("error", "")


def test_token_from_another_session_is_refused(app, users, csrf_token):
    alice, mallory = app.test_client(), app.test_client()
    stolen = csrf_token(mallory)
    csrf_token(alice)
    response = alice.post("/login", data={"username": "rev", "password": "pw-rev-123456",
                                          "csrf_token": stolen})
    assert response.status_code == 400
