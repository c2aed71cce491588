"""Trip plans from the database, exported as GPX and KML and read back with pyogrio (GDAL)."""

from __future__ import annotations

import datetime as dt

import pyogrio
import pytest
from click.testing import CliRunner

from fieldkit.cli import main
from fieldkit.errors import InputError, NotFoundError
from fieldkit.lookback import plan_trip, write_gpx, write_kml
from tests.integration.test_lookback_setup import OFFICE, add_finding, add_photo, add_user, served_case

SITES = [  # given order deliberately zig-zags
    ((101.99, 38.26), "长城敌台北侧（三号）"),
    ((101.96, 38.24), "马营沟村北侧"),
    ((101.98, 38.25), "烽火台东侧"),
    ((101.97, 38.245), "墩台西侧"),
]


def flat(points) -> list[float]:
    return [v for p in points for v in p[:2]]


@pytest.fixture
def trip_case(runtime):
    li = add_user(runtime, "li")
    findings, photos = [], []
    for k, ((lon, lat), place) in enumerate(SITES):
        photo = add_photo(runtime, lon, lat, bearing=30.0 * k, seed=k)
        photos.append(photo)
        findings.append(add_finding(runtime, li, [photo], lon, lat, place=place, chainage_m=1000.0 * k + 0.4))
    unplaced = add_finding(runtime, li, [], None, None, place="无坐标")
    case = served_case(runtime, li, findings + [unplaced], served_on=dt.date(2025, 1, 10))
    return case, findings, photos, unplaced


def test_plan_orders_sites_and_lists_what_to_reshoot(runtime, trip_case):
    case, findings, photos, unplaced = trip_case
    plan = plan_trip(runtime, [case], OFFICE)
    assert [s.place for s in plan.stops] == ["马营沟村北侧", "墩台西侧", "烽火台东侧", "长城敌台北侧（三号）"]
    assert plan.total_m < plan.given_order_m
    assert plan.unplaced_finding_ids == (unplaced,)
    first = plan.stops[0]
    assert (first.order, first.finding_id, first.old_photo_ids, first.chainage) == (1, findings[1], (photos[1],),
                                                                                  "K1+000")
    assert first.old_photos[0].bearing == 30.0 and first.name == "1. 马营沟村北侧"
    assert plan.stops[-1].cumulative_m == pytest.approx(plan.total_m, rel=1e-9)
    assert sum(s.leg_m for s in plan.stops) == pytest.approx(plan.total_m, rel=1e-9)


def test_gpx_and_kml_read_back_with_gdal(runtime, trip_case, tmp_path):
    case, *_ = trip_case
    plan = plan_trip(runtime, [case], OFFICE)
    gpx = write_gpx(plan, tmp_path / "trip.gpx")
    kml = write_kml(plan, tmp_path / "trip.kml")
    names = [s.name for s in plan.stops]
    coords = [(s.lon, s.lat) for s in plan.stops]

    assert {"waypoints", "routes", "route_points"} <= {n for n, _ in pyogrio.list_layers(gpx)}
    wpts = pyogrio.read_dataframe(gpx, layer="waypoints")
    assert list(wpts["name"]) == names
    assert flat((g.x, g.y) for g in wpts.geometry) == pytest.approx(flat(coords), abs=1e-7)
    assert "复拍原照片" in wpts["desc"][0] and "#" in wpts["desc"][0]
    rpts = pyogrio.read_dataframe(gpx, layer="route_points")
    assert list(rpts["name"]) == [plan.start_name] + names
    assert flat((g.x, g.y) for g in rpts.geometry)[2:] == pytest.approx(flat(coords), abs=1e-7)
    route = pyogrio.read_dataframe(gpx, layer="routes")
    assert len(route) == 1 and len(route.geometry[0].coords) == len(names) + 1

    layers = {n for n, _ in pyogrio.list_layers(kml)}
    assert layers == {"stops", "route"}
    stops = pyogrio.read_dataframe(kml, layer="stops")
    assert list(stops["Name"]) == names
    assert flat((g.x, g.y) for g in stops.geometry) == pytest.approx(flat(coords), abs=1e-7)
    line = pyogrio.read_dataframe(kml, layer="route").geometry[0]
    assert flat(line.coords) == pytest.approx(flat([OFFICE] + coords), abs=1e-7)


def test_round_trip_returns_to_the_office(runtime, trip_case, tmp_path):
    case, *_ = trip_case
    plan = plan_trip(runtime, [case], OFFICE, return_to_start=True)
    rpts = pyogrio.read_dataframe(write_gpx(plan, tmp_path / "r.gpx"), layer="route_points")
    assert rpts["name"].iloc[0] == rpts["name"].iloc[-1] == plan.start_name
    assert plan.total_m <= plan.given_order_m


def test_bad_requests(runtime, trip_case):
    with pytest.raises(NotFoundError, match="case 999"):
        plan_trip(runtime, [999], OFFICE)
    with pytest.raises(InputError, match="trip start"):
        plan_trip(runtime, [trip_case[0]], (500, 1))
    with pytest.raises(InputError, match="at least one case"):
        plan_trip(runtime, [], OFFICE)


@pytest.fixture
def cli_runtimes(monkeypatch):
    """Runtimes the CLI builds, disposed after the test (no pooled connection left to the GC)."""
    import fieldkit.cli

    built = []

    class Recording(fieldkit.cli.Runtime):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(fieldkit.cli, "Runtime", Recording)
    yield built
    for rt in built:
        if "db" in rt.__dict__:
            rt.db.dispose()


def test_cli_plan_and_due(runtime, trip_case, tmp_path, cli_runtimes):
    case, *_ = trip_case
    data = str(runtime.settings.data_dir)
    out = CliRunner().invoke(main, ["--data-dir", data, "lookback", "plan", str(case), "--start", "101.95,38.23",
                                    "--gpx", str(tmp_path / "t.gpx"), "--kml", str(tmp_path / "t.kml")])
    assert out.exit_code == 0, out.output
    assert "1. 马营沟村北侧" in out.output and "re-shoot: #" in out.output and "no position" in out.output
    assert len(pyogrio.read_dataframe(tmp_path / "t.kml", layer="stops")) == 4
    bad = CliRunner().invoke(main, ["--data-dir", data, "lookback", "plan", str(case), "--start", "here"])
    assert bad.exit_code == 2 and "LON,LAT" in bad.output
    due = CliRunner().invoke(main, ["--data-dir", data, "lookback", "due", "--today", "2025-03-09",
                                    "--ics", str(tmp_path / "due.ics")])
    assert due.exit_code == 0, due.output
    assert "本周 this week: 1" in due.output and "已逾期 overdue: 0" in due.output
    assert (tmp_path / "due.ics").read_bytes().count(b"BEGIN:VEVENT\r\n") == 1
