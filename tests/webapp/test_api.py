"""JSON API: bbox and filters, visibility per role, placing by pin, OpenAPI, uploads."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from fieldkit.store import Feature, Layer, Photo

WALL = shapely.LineString([(102.0, 38.0), (102.2, 38.0)])


@pytest.fixture
def data(runtime, users):
    """A wall, a river, and photos by insp (team A), insp2 (team B)."""
    with runtime.db.session(write=True) as s:
        wall = Layer(slug="wall", name="长城", kind="great_wall")
        river = Layer(slug="river", name="河流", kind="river")
        s.add_all([wall, river])
        s.flush()
        for layer, fid, geom, name in [(wall, "W1", WALL, "明长城<b>1</b>段"),
                                       (river, "R1", shapely.LineString([(110, 30), (110.1, 30.1)]), "某河")]:
            s.add(Feature.from_geometry(layer.id, fid, name, geom))
        when = dt.datetime(2024, 5, 1, 2)
        for n, (lon, lat, who, days) in enumerate([(102.05, 38.001, "insp", 0), (102.1, 38.002, "insp2", 3),
                                                   (110.05, 30.05, "insp2", 6)], start=1):
            s.add(Photo(sha256=f"{n:064x}", original_name=f"p{n}.jpg", size_bytes=1, lon=lon, lat=lat,
                        location_source="exif", uploaded_by_id=users[who].id,
                        taken_at_utc=when + dt.timedelta(days=days)))
    return users


def ids(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return sorted(f["properties"]["id"] for f in resp.get_json()["features"])


def test_anonymous_gets_401_json(client, data):
    for url in ("/api/layers", "/api/features", "/api/photos", "/api/photos/1"):
        resp = client.get(url)
        assert resp.status_code == 401 and resp.is_json, url


@pytest.mark.parametrize("who, expected", [("insp", [1]), ("insp2", [2, 3]), ("rev", [1, 2, 3]),
                                           ("admin", [1, 2, 3])])
def test_photos_visibility_by_role(client, login, data, who, expected):
    login(client, who)
    assert ids(client.get("/api/photos")) == expected
    for pid in (1, 2, 3):
        assert client.get(f"/api/photos/{pid}").status_code == (200 if pid in expected else 404)


def test_photos_bbox_and_filters(client, login, data):
    login(client, "rev")
    assert ids(client.get("/api/photos?bbox=102,37.9,102.2,38.1")) == [1, 2]
    assert ids(client.get("/api/photos?inspector=insp2")) == [2, 3]
    assert ids(client.get("/api/photos?from=2024-05-02&to=2024-05-05")) == [2]
    resp = client.get("/api/photos?bbox=1,2,3")
    assert resp.status_code == 400 and "bbox" in resp.get_json()["error"]
    assert client.get("/api/photos?from=yesterday").status_code == 400


def test_features_and_layers(client, login, data):
    login(client, "insp")
    resp = client.get("/api/features?bbox=101.9,37.9,102.3,38.1")
    assert resp.mimetype == "application/geo+json"
    feats = resp.get_json()["features"]
    assert [f["properties"]["name"] for f in feats] == ["明长城<b>1</b>段"]
    assert [f["properties"]["fid"] for f in client.get("/api/features?kind=river").get_json()["features"]] == ["R1"]
    assert client.get("/api/features?kind=castle").status_code == 400
    layers = client.get("/api/layers").get_json()["layers"]
    assert {la["slug"] for la in layers} == {"wall", "river"}


def test_gcj02_basemap_shifts_coordinates(runtime, users, data):
    from fieldkit.runtime import Runtime
    from fieldkit.settings import Settings
    from webapp import create_app

    settings = Settings.from_env(env={}, data_dir=runtime.settings.data_dir,
                                 database_url=runtime.settings.database_url,
                                 basemap_url="https://{s}.tiles.example.cn/{z}/{x}/{y}.png", basemap_datum="gcj02")
    gcj_runtime = Runtime(settings)
    app = create_app({"TESTING": True}, runtime=gcj_runtime)
    client = app.test_client()
    from tests.webapp.conftest import do_login

    assert do_login(client, "rev").status_code == 302
    x, _y = client.get("/api/photos?inspector=insp").get_json()["features"][0]["geometry"]["coordinates"]
    assert abs(x - 102.05) > 1e-4
    x2, _ = client.get("/api/photos?inspector=insp&datum=wgs84").get_json()["features"][0]["geometry"]["coordinates"]
    assert x2 == pytest.approx(102.05)
    gcj_runtime.db.dispose()


def test_place_by_pin(client, login, data, csrf_token, runtime):
    with runtime.db.session(write=True) as s:
        s.add(Photo(sha256="f" * 64, original_name="nogps.jpg", size_bytes=1, location_source="none",
                    uploaded_by_id=data["insp"].id))
    login(client, "insp")
    url = "/api/photos/4/location"
    assert client.post(url, json={"lat": 38.0, "lon": 102.1}).status_code == 400  # no CSRF token
    token = csrf_token(client)
    resp = client.post(url, json={"lat": 38.0005, "lon": 102.1}, headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["location_source"] == "manual"
    assert client.patch("/api/photos/1/location", json={"lat": 1, "lon": 1},
                        headers={"X-CSRFToken": token}).status_code == 409  # EXIF position is kept
    assert client.post(url, json={"lat": "north", "lon": 1}, headers={"X-CSRFToken": token}).status_code == 400


def test_reviewer_cannot_place(client, login, data, csrf_token):
    login(client, "rev")
    resp = client.post("/api/photos/1/location", json={"lat": 1, "lon": 1}, headers={"X-CSRFToken": csrf_token(client)})
    assert resp.status_code == 403


def test_openapi_is_valid(client):
    validator = pytest.importorskip("openapi_spec_validator")
    resp = client.get("/api/openapi.json")
    spec = resp.get_json()
    validator.validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert {"/api/layers", "/api/features", "/api/photos", "/api/photos/{photo_id}", "/api/uploads",
            "/api/photos/{photo_id}/location"} <= set(spec["paths"])


def test_openapi_covers_every_api_route(app):
    from webapp.openapi import spec

    documented = {p.replace("{photo_id}", "<int:photo_id>") for p in spec()["paths"]}
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/") and r.rule != "/api/openapi.json"}
    assert routes == documented
