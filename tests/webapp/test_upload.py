"""Upload page and POST /api/uploads: outcomes per file, names, device position, roles, limits."""

from __future__ import annotations

import io

import pytest

from tests.photo_factory import make_jpeg
from fieldkit.photos.names import clean_name

GPX = b"""<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<trk><trkseg><trkpt lat="38.0" lon="102.0"><time>2024-05-01T02:00:00Z</time></trkpt>
<trkpt lat="38.0" lon="102.1"><time>2024-05-01T02:04:00Z</time></trkpt>
<trkpt lat="38.0" lon="102.2"><time>2024-05-01T02:08:00Z</time></trkpt></trkseg></trk></gpx>"""


def upload(client, token, *files, **form):
    data = {"file": [(io.BytesIO(b), n) for b, n in files], **form}
    return client.post("/api/uploads", data=data, headers={"X-CSRFToken": token},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("raw, clean", [("现场照片.jpg", "现场照片.jpg"), ("a\x00b\u202e.jpg", "ab.jpg"),
                                        ("../../etc/passwd", "passwd"), ("C:\\x\\y.jpg", "y.jpg"),
                                        ("", "unnamed"), ("e\u0301.jpg", "\u00e9.jpg"), ("x" * 300, "x" * 200)])
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_upload_page(client, login, users):
    login(client, "insp")
    html = client.get("/upload").get_data(as_text=True)
    assert 'type="file"' in html and "multiple" in html and "upload-config" in html
    login(client, "rev")
    assert client.get("/upload").status_code == 403


def test_upload_outcomes(client, login, users, csrf_token):
    login(client, "insp")
    token = csrf_token(client)
    gps = make_jpeg(lat=38.0, lon=102.05, taken_at="2024:05:01 10:00:00", make="Huawei")
    resp = upload(client, token, (gps, "现场照片.jpg"), (make_jpeg(), "no\x00gps\u202e.jpg"),
                  (b"<html>not an image</html>", "evil.jpg"), (gps, "again.jpg"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    res = resp.get_json()["results"]
    assert [r["outcome"] for r in res] == ["placed", "unplaced", "failed", "duplicate"]
    assert res[0]["name"] == "现场照片.jpg" and res[0]["placed_by"] == "exif"
    assert res[0]["url"] == f"/photos/{res[0]['photo_id']}"
    assert res[1]["name"] == "nogps.jpg"  # NUL and the RTL override are stripped
    assert res[2]["error"] and res[2]["photo_id"] is None
    dev = upload(client, token, (make_jpeg(width=50), "d.jpg"), device_lat="38.01", device_lon="102.02",
                 device_accuracy="12")
    assert dev.get_json()["results"][0]["placed_by"] == "device"


def test_upload_with_gpx(client, login, users, csrf_token):
    login(client, "insp")
    photo = make_jpeg(taken_at="2024:05:01 10:05:00", offset="+08:00")
    data = {"file": [(io.BytesIO(photo), "t.jpg")], "gpx": (io.BytesIO(GPX), "track.gpx")}
    resp = client.post("/api/uploads", data=data, headers={"X-CSRFToken": csrf_token(client)},
                       content_type="multipart/form-data")
    r = resp.get_json()["results"][0]
    assert (r["outcome"], r["placed_by"]) == ("placed", "gpx"), r
    bad = {"file": [(io.BytesIO(photo), "t2.jpg")], "gpx": (io.BytesIO(b"<gpx"), "bad.gpx")}
    resp = client.post("/api/uploads", data=bad, headers={"X-CSRFToken": csrf_token(client)},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and "bad.gpx" in resp.get_json()["error"]


def test_upload_roles_and_limits(app, client, login, users, csrf_token):
    assert client.post("/api/uploads").status_code in (400, 401)
    login(client, "rev")
    assert upload(client, csrf_token(client), (make_jpeg(), "a.jpg")).status_code == 403
    app.config["MAX_CONTENT_LENGTH"] = 2000
    client2 = app.test_client()
    login(client2, "insp")
    big = upload(client2, csrf_token(client2), (make_jpeg(width=800, height=600), "big.jpg"))
    assert big.status_code == 413 and "MB" in big.get_json()["error"]
    assert upload(client2, csrf_token(client2), device_lat="x").status_code == 400  # no file
    bad_pos = upload(client2, csrf_token(client2), (make_jpeg(width=20), "p.jpg"), device_lat="x", device_lon="1")
    assert bad_pos.status_code == 400 and "device" in bad_pos.get_json()["error"]
