"""GPX parsing (safely), interpolation by time, clock offsets and the geotag/offset commands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from fieldkit.cli import main
from fieldkit.errors import InputError, UnsafeFileError
from fieldkit.photos import geotag as gt
from tests.photo_factory import make_jpeg

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 2, 0, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))

GPX11 = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="10" lon="10"><time>2024-05-01T02:00:30Z</time></wpt>
  <trk><name>walk</name><trkseg>
    <trkpt lat="38.0000" lon="102.0000"><ele>1500</ele><time>2024-05-01T02:00:00Z</time></trkpt>
    <trkpt lat="38.0010" lon="102.0020"><ele>1510</ele><time>2024-05-01T02:01:00Z</time></trkpt>
    <trkpt lat="38.0020" lon="102.0040"><time>2024-05-01T02:02:00Z</time></trkpt>
    <trkpt lat="38.0025" lon="102.0045"><ele>1520</ele></trkpt>
  </trkseg><trkseg>
    <trkpt lat="38.0100" lon="102.0100"><ele>1600</ele><time>2024-05-01T02:30:00Z</time></trkpt>
    <trkpt lat="38.0110" lon="102.0110"><ele>1600</ele><time>2024-05-01T02:31:00Z</time></trkpt>
  </trkseg></trk>
</gpx>"""

GPX10_ROUTE = b"""<?xml version="1.0"?>
<gpx version="1.0" creator="old" xmlns="http://www.topografix.com/GPX/1/0">
  <rte><rtept lat="-33.5" lon="151.0"><time>2024-05-01T03:00:00+08:00</time></rtept>
  <rtept lat="-33.4" lon="151.1"><time>2024-04-30T19:00:00</time></rtept></rte>
</gpx>"""


@pytest.fixture
def track():
    return gt.parse_gpx(GPX11, "walk.gpx")


def test_parse_gpx11_track_ignores_waypoints_and_untimed_points(track):
    assert len(track) == 5
    assert [p.time for p in track] == sorted(p.time for p in track)
    assert track[0] == gt.TrackPoint(T0, 38.0, 102.0, 1500.0)
    assert track[2].alt is None
    assert all(p.time.tzinfo is UTC for p in track)


def test_parse_gpx10_route_with_offsets_and_naive_utc(tmp_path):
    path = tmp_path / "route.gpx"
    path.write_bytes(GPX10_ROUTE)
    points = gt.parse_gpx(path)
    assert [p.time for p in points] == [datetime(2024, 4, 30, 19, 0, tzinfo=UTC)] * 2
    assert {p.lat for p in points} == {-33.5, -33.4}


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx><trk><trkseg><trkpt lat="1" lon="1"><time>2024-05-01T00:00:00Z</time><name>&xxe;</name></trkpt>
</trkseg></trk></gpx>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<gpx><trk><trkseg><trkpt lat="1" lon="1"><time>2024-05-01T00:00:00Z</time><name>&lol3;</name></trkpt>
</trkseg></trk></gpx>"""

PARAM_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<gpx/>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS, PARAM_ENTITY], ids=["xxe", "billion-laughs", "param-entity"])
def test_entities_are_refused(payload):
    with pytest.raises(UnsafeFileError, match="evil.gpx: line"):
        gt.parse_gpx(payload, "evil.gpx")


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"<gpx><trk><trkpt lat='1' lon='1'>", "not well-formed"),
        (b"<gpx><trk><trkseg>\n<trkpt lat='91' lon='1'><time>2024-05-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>",
         "line 2: lat='91'"),
        (b"<gpx><trk><trkseg><trkpt lat='1' lon='x'><time>2024-05-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>",
         "lon='x'"),
        (b"<gpx><trk><trkseg><trkpt lat='1' lon='1'><time>yesterday</time></trkpt></trkseg></trk></gpx>",
         "time='yesterday'"),
        (b"<gpx><wpt lat='1' lon='1'><time>2024-05-01T00:00:00Z</time></wpt></gpx>", "no track or route points"),
    ],
)
def test_bad_gpx_names_file_and_reason(payload, message):
    with pytest.raises(InputError, match=message) as info:
        gt.parse_gpx(payload, "bad.gpx")
    assert "bad.gpx" in str(info.value)


def test_missing_gpx_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        gt.parse_gpx(tmp_path / "none.gpx")


def test_interpolates_between_points(track):
    lat, lon, alt = gt.locate(track, T0 + timedelta(seconds=30))
    assert (lat, lon, alt) == (pytest.approx(38.0005), pytest.approx(102.001), pytest.approx(1505))
    assert gt.locate(track, T0 + timedelta(minutes=1)) == (38.001, 102.002, 1510.0)


def test_missing_altitude_takes_nearest(track):
    assert gt.locate(track, T0 + timedelta(seconds=80))[2] == 1510.0
    assert gt.locate(track, T0 + timedelta(seconds=119))[2] is None


def test_outside_track_and_gaps_are_not_guessed(track):
    position, reason = gt.locate_explained(track, T0 - timedelta(seconds=30))
    assert position == (38.0, 102.0, 1500.0) and "before the track starts" in reason
    position, reason = gt.locate_explained(track, T0 - timedelta(seconds=61))
    assert position is None and "before the track starts" in reason
    position, reason = gt.locate_explained(track, T0 + timedelta(minutes=33))
    assert position is None and "after the track ends" in reason
    position, reason = gt.locate_explained(track, T0 + timedelta(minutes=10))
    assert position is None and "gap" in reason
    assert gt.locate(track, T0 + timedelta(minutes=10), max_gap_s=3600) is not None


def test_locate_needs_aware_time(track):
    with pytest.raises(InputError, match="timezone-aware"):
        gt.locate(track, datetime(2024, 5, 1, 2, 0, 30))
    assert gt.locate([], T0) is None


def test_antimeridian_interpolation():
    pts = [gt.TrackPoint(T0, 0.0, 179.9), gt.TrackPoint(T0 + timedelta(seconds=10), 0.0, -179.9)]
    lat, lon, _ = gt.locate(pts, T0 + timedelta(seconds=5))
    assert abs(lon) == pytest.approx(180.0)


def test_camera_time_to_utc():
    naive = datetime(2024, 5, 1, 10, 0, 30)
    assert gt.camera_time_to_utc(naive, CST, timedelta(0)) == T0 + timedelta(seconds=30)
    assert gt.camera_time_to_utc(naive, CST, timedelta(seconds=-30)) == T0
    aware = naive.replace(tzinfo=timezone(timedelta(hours=9)))
    assert gt.camera_time_to_utc(aware, CST, timedelta(0)) == T0 - timedelta(minutes=59, seconds=30)
    with pytest.raises(InputError, match="no time zone"):
        gt.camera_time_to_utc(naive, None, timedelta(0))


def test_estimate_offset_recovers_a_slow_clock(track):
    # The photo was taken at 02:00:45 UTC at the point the track passes then; camera 90 s slow.
    true_lat, true_lon, _ = gt.locate(track, T0 + timedelta(seconds=45))
    camera = datetime(2024, 5, 1, 9, 59, 15)  # local (+08:00), 90 s behind
    offset = gt.estimate_offset(camera, true_lat, true_lon, track, CST)
    assert offset == timedelta(seconds=90)
    placed = gt.locate(track, gt.camera_time_to_utc(camera, CST, offset))
    assert placed[:2] == (pytest.approx(true_lat, abs=1e-7), pytest.approx(true_lon, abs=1e-7))


def test_estimate_offset_prefers_the_pass_nearest_in_time():
    out = [gt.TrackPoint(T0 + timedelta(minutes=m), 30.0 + m * 0.001, 110.0) for m in range(0, 11)]
    back = [gt.TrackPoint(T0 + timedelta(minutes=20 + m), 30.01 - m * 0.001, 110.0) for m in range(0, 11)]
    track = out + back
    # The place at lat 30.005 is passed at 02:05 and at 02:25; the photo clock says 02:24.
    offset = gt.estimate_offset(datetime(2024, 5, 1, 2, 24, tzinfo=UTC), 30.005, 110.0, track, None)
    assert offset == timedelta(minutes=1)
    with pytest.raises(InputError):
        gt.estimate_offset(T0, 1, 1, [], None)


@pytest.mark.parametrize(
    "text, seconds",
    [("+00:01:30", 90), ("-90s", -90), ("90", 90), ("-1h2m", -3720), ("-01:30", -5400), ("2m5.5s", 125.5)],
)
def test_parse_time_offset(text, seconds):
    assert gt.parse_time_offset(text) == timedelta(seconds=seconds)
    assert gt.parse_time_offset(gt.format_time_offset(timedelta(seconds=round(seconds)))) == timedelta(
        seconds=round(seconds)
    )


@pytest.mark.parametrize("text", ["", "abc", "1x", "--5", "1:2", "h"])
def test_parse_time_offset_rejects(text):
    with pytest.raises(InputError, match="time offset"):
        gt.parse_time_offset(text)


def test_parse_tz():
    assert gt.parse_tz("+08:00") == CST
    assert gt.parse_tz("-0530").utcoffset(None) == timedelta(hours=-5, minutes=-30)
    assert gt.parse_tz("UTC") == UTC
    assert gt.parse_tz("Asia/Shanghai").utcoffset(datetime(2024, 5, 1)) == timedelta(hours=8)
    for bad in ("+15:00", "Mars/Olympus", "../../etc/passwd"):
        with pytest.raises(InputError):
            gt.parse_tz(bad)


# --- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    (tmp_path / "walk.gpx").write_bytes(GPX11)
    photos = {
        "no_gps.jpg": make_jpeg(taken_at="2024:05:01 09:59:45"),  # 02:00:45 UTC if clock +60 s
        "has_gps.jpg": make_jpeg(lat=40.0, lon=116.0, taken_at="2024:05:01 10:00:00"),
        "outside.jpg": make_jpeg(taken_at="2024:05:01 12:00:00"),
        "broken.jpg": b"not an image",
    }
    for name, data in photos.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _run(args):
    return CliRunner().invoke(main, args)


def test_cli_geotag_json(files):
    names = ["no_gps.jpg", "has_gps.jpg", "outside.jpg", "broken.jpg"]
    result = _run(["--data-dir", str(files / "d"), "photos", "geotag", *[str(files / n) for n in names],
                   "--gpx", str(files / "walk.gpx"), "--tz", "+08:00", "--time-offset", "+60s", "--json"])
    assert result.exit_code == 1, result.output
    rows = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(result.output)}
    assert rows["no_gps.jpg"]["placed_by"] == "gpx"
    assert rows["no_gps.jpg"]["lat"] == pytest.approx(38.00075)
    assert rows["no_gps.jpg"]["time_utc"] == "2024-05-01T02:00:45+00:00"
    assert rows["has_gps.jpg"]["placed_by"] == "exif" and rows["has_gps.jpg"]["lat"] == pytest.approx(40.0)
    assert rows["outside.jpg"]["placed_by"] is None and "after the track ends" in rows["outside.jpg"]["reason"]
    assert rows["broken.jpg"]["error"]


def test_cli_geotag_without_tz_reports_why(files):
    result = _run(["--data-dir", str(files / "d"), "photos", "geotag", str(files / "no_gps.jpg"),
                   "--gpx", str(files / "walk.gpx")])
    assert result.exit_code == 0, result.output
    assert "not placed" in result.output and "--tz" in result.output


def test_cli_offset(files):
    result = _run(["--data-dir", str(files / "d"), "photos", "offset", str(files / "no_gps.jpg"),
                   "--lat", "38.0015", "--lon", "102.003", "--gpx", str(files / "walk.gpx"), "--tz", "+08:00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "+00:01:45"


def test_cli_rejects_unsafe_gpx(files):
    (files / "evil.gpx").write_bytes(XXE)
    result = _run(["--data-dir", str(files / "d"), "photos", "geotag", str(files / "no_gps.jpg"),
                   "--gpx", str(files / "evil.gpx")])
    assert result.exit_code == 2 and "entity" in result.output
