"""Findings in the database: recorded on joined photos, duplicate hints, filters, edits, audit."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from shapely import LineString
from sqlalchemy import func, select

from fieldkit import audit
from fieldkit.errors import ConflictError, InputError, NotFoundError
from fieldkit.findings.service import (
    close_finding,
    findings_geojson,
    get_finding,
    list_findings,
    nearby_open_findings,
    record_finding,
    update_finding,
)
from fieldkit.geo.measure import GEOD
from fieldkit.join import clear_index_cache, join_photos
from fieldkit.store.models import Feature, Layer, Photo, User
from fieldkit.store.models_cases import AuditEntry, Finding, FindingPhoto

LON0, LAT0 = 116.02, 40.36  # 八达岭 area
GRAFFITI, BUILDING, RUBBISH = "gw-graffiti", "gw-illegal-construction", "rv-dumping-rubbish"
T0 = dt.datetime(2025, 5, 6, 2, 30)


def at(east_m=0.0, north_m=0.0):
    lon, lat = LON0, LAT0
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0 if north_m > 0 else 180.0, abs(north_m))
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0 if east_m > 0 else 270.0, abs(east_m))
    return lon, lat


def add_layer(db, slug, kind, features):
    with db.session(write=True) as s:
        layer = Layer(slug=slug, name=slug, kind=kind, tolerance_m=100.0)
        s.add(layer)
        s.flush()
        for fid, name, geom in features:
            minx, miny, maxx, maxy = shapely.bounds(geom)
            s.add(
                Feature(
                    layer_id=layer.id,
                    fid=fid,
                    name=name,
                    geom_type=geom.geom_type,
                    geom=geom,
                    minx=minx,
                    miny=miny,
                    maxx=maxx,
                    maxy=maxy,
                )
            )
        return layer.id


def add_photo(db, n, position=None, taken=None):
    lon, lat = position if position else (None, None)
    with db.session(write=True) as s:
        photo = Photo(
            sha256=f"{n:064x}",
            original_name=f"IMG_{n}.jpg",
            size_bytes=1000,
            lon=lon,
            lat=lat,
            taken_at_utc=taken,
        )
        s.add(photo)
        s.flush()
        return photo.id


@pytest.fixture
def world(runtime):
    """A wall (W→E, 4 km, 30 m north of the origin) and a river 10 m south (closer to the photos)."""
    clear_index_cache()
    db = runtime.db
    wall = add_layer(
        db, "wall", "great_wall", [("GW-1", "八达岭北段", LineString([at(-2000, 30), at(2000, 30)]))]
    )
    river = add_layer(db, "river", "river", [("RV-1", "妫水河", LineString([at(-2000, -10), at(2000, -10)]))])
    photos = {
        "a": add_photo(db, 1, at(300, 0), T0),
        "a2": add_photo(db, 2, at(310, 0), T0 - dt.timedelta(minutes=5)),
        "near": add_photo(db, 3, at(400, 0), T0),
        "far": add_photo(db, 4, at(700, 0), T0),
        "unplaced": add_photo(db, 5),
    }
    with db.session(write=True) as s:
        users = [User(username=n, password_hash="x") for n in ("li", "wang")]
        s.add_all(users)
    join_photos(runtime)
    yield {"wall": wall, "river": river, "photos": photos, "users": [u.id for u in users]}
    clear_index_cache()


def stored(runtime):
    with runtime.db.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) for m in (Finding, FindingPhoto, AuditEntry)
        )


def test_record_takes_feature_chainage_and_place_from_the_join(runtime, world):
    p, li = world["photos"], world["users"][0]
    rec = record_finding(
        runtime,
        photo_ids=[p["unplaced"], p["a"], p["a2"]],
        category_id=GRAFFITI,
        actor_id=li,
        note="城墙上有喷漆涂鸦",
        at=T0,
    )
    assert (rec.layer_id, rec.feature_name) == (world["wall"], "八达岭北段")  # not the nearer river
    assert rec.chainage_m == pytest.approx(2300, abs=1)
    assert (rec.lon, rec.lat) == pytest.approx(at(300, 0)) and rec.duplicates == ()
    view = get_finding(runtime, rec.id)
    assert view.feature_fid == "GW-1" and view.chainage_label == "K2+300"
    assert (view.severity, view.urgency) == ("medium", "normal")  # the category's defaults
    assert view.domain == "great_wall" and view.name_zh == "在长城上刻划、涂污"
    assert view.photo_ids == (p["unplaced"], p["a"], p["a2"])
    assert view.observed_at == T0 - dt.timedelta(minutes=5)  # the earliest photo time
    with runtime.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "finding")).one()
    assert entry.action == "record" and entry.payload["feature_name"] == "八达岭北段"
    assert entry.payload["photo_ids"] == [p["unplaced"], p["a"], p["a2"]]


def test_a_river_category_joins_the_river_and_explicit_values_win(runtime, world):
    p, li = world["photos"], world["users"][0]
    rec = record_finding(
        runtime, photo_ids=[p["a"]], category_id=RUBBISH, actor_id=li, severity="critical", urgency="urgent"
    )
    view = get_finding(runtime, rec.id)
    assert (view.feature_name, view.layer_id, view.severity, view.urgency) == (
        "妫水河",
        world["river"],
        "critical",
        "urgent",
    )


def test_explicit_position_is_joined_there(runtime, world):
    p, li = world["photos"], world["users"][0]
    lon, lat = at(-1500, 20)
    rec = record_finding(
        runtime, photo_ids=[p["unplaced"]], category_id=GRAFFITI, actor_id=li, lat=lat, lon=lon
    )
    assert (rec.lon, rec.lat) == (lon, lat) and rec.feature_name == "八达岭北段"
    assert rec.chainage_m == pytest.approx(500, abs=1)
    lon, lat = at(0, 3000)  # nothing within tolerance
    rec = record_finding(runtime, photo_ids=[p["a"]], category_id=GRAFFITI, actor_id=li, lat=lat, lon=lon)
    assert (rec.feature_id, rec.layer_id, rec.chainage_m) == (None, None, None)


def test_duplicate_hint_same_category_open_and_within_250_m(runtime, world):
    p, (li, wang) = world["photos"], world["users"]
    first = record_finding(runtime, photo_ids=[p["a"]], category_id=GRAFFITI, actor_id=li)
    other = record_finding(runtime, photo_ids=[p["a"]], category_id=BUILDING, actor_id=li)
    assert other.duplicates == ()  # a different category is not a duplicate
    near = record_finding(runtime, photo_ids=[p["near"]], category_id=GRAFFITI, actor_id=wang)
    assert [h.finding_id for h in near.duplicates] == [first.id]
    assert near.duplicates[0].distance_m == pytest.approx(100, abs=0.5)
    far = record_finding(runtime, photo_ids=[p["far"]], category_id=GRAFFITI, actor_id=wang)
    assert far.duplicates == ()  # 400 m from first, 300 m from near: both beyond 250 m
    hints = nearby_open_findings(runtime, GRAFFITI, *at(350, 0))
    assert [h.finding_id for h in hints] == [first.id, near.id]  # nearest first (50 m, 50 m: by id)
    hints = nearby_open_findings(runtime, GRAFFITI, *at(390, 0))
    assert [h.finding_id for h in hints] == [near.id, first.id]
    close_finding(runtime, first.id, li, reason="已整改")
    again = record_finding(runtime, photo_ids=[p["a2"]], category_id=GRAFFITI, actor_id=li)
    assert [h.finding_id for h in again.duplicates] == [near.id]  # the closed one is not hinted
    narrow = record_finding(
        runtime, photo_ids=[p["a"]], category_id=GRAFFITI, actor_id=li, duplicate_radius_m=15
    )  # the radius is an argument
    assert [h.finding_id for h in narrow.duplicates] == [again.id]


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"category_id": "gw-no-such"}, NotFoundError, "gw-no-such"),
        ({"photo_ids": ["unplaced"]}, InputError, "no position"),
        ({"photo_ids": ["a", 9999]}, NotFoundError, "photo 9999"),
        ({"photo_ids": []}, InputError, "at least one photo"),
        ({"lat": 40.0}, InputError, "both lat and lon"),
        ({"lat": 95.0, "lon": 116.0}, InputError, "lat=95.0"),
        ({"severity": "huge"}, InputError, "'huge'"),
        ({"actor_id": 999}, NotFoundError, "user 999"),
    ],
)
def test_refused_records_store_nothing(runtime, world, kwargs, error, words):
    p = world["photos"]
    args = {"photo_ids": [p["a"]], "category_id": GRAFFITI, "actor_id": world["users"][0]}
    args.update(kwargs)
    args["photo_ids"] = [p.get(x, x) for x in args["photo_ids"]]
    before = stored(runtime)
    with pytest.raises(error, match=words):
        record_finding(runtime, **args)
    assert stored(runtime) == before


def test_updates_are_audited_with_before_and_after(runtime, world):
    p, (li, wang) = world["photos"], world["users"]
    a = record_finding(runtime, photo_ids=[p["a"]], category_id=GRAFFITI, actor_id=li, note="涂鸦")
    record_finding(runtime, photo_ids=[p["near"]], category_id=BUILDING, actor_id=wang)
    view = update_finding(runtime, a.id, wang, note="大面积涂鸦", severity="high")
    assert (view.note, view.severity) == ("大面积涂鸦", "high")
    with runtime.db.session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert entry.action == "edit" and entry.actor_id == wang
    assert entry.payload == {
        "before": {"note": "涂鸦", "severity": "medium"},
        "after": {"note": "大面积涂鸦", "severity": "high"},
    }
    view = update_finding(runtime, a.id, wang, category_id=RUBBISH)  # other domain: rejoined
    assert (view.feature_name, view.layer_id, view.domain) == ("妫水河", world["river"], "rivers")
    count = stored(runtime)[2]
    update_finding(runtime, a.id, wang, note="大面积涂鸦")  # no change, no entry
    assert stored(runtime)[2] == count
    with pytest.raises(InputError, match="cannot edit lat"):
        update_finding(runtime, a.id, wang, lat=1.0)
    with pytest.raises(NotFoundError, match="no-such"):
        update_finding(runtime, a.id, wang, category_id="no-such")
    with pytest.raises(NotFoundError, match="finding 999"):
        update_finding(runtime, 999, wang, note="x")
    close_finding(runtime, a.id, li)
    with pytest.raises(ConflictError, match="already closed"):
        close_finding(runtime, a.id, li)
    with pytest.raises(ConflictError, match="closed"):
        update_finding(runtime, a.id, wang, note="y")
    assert stored(runtime)[2] == count + 1
    assert audit.verify(runtime) == []


def test_list_filters_and_geojson(runtime, world):
    p, (li, wang) = world["photos"], world["users"]
    a = record_finding(runtime, photo_ids=[p["a"]], category_id=GRAFFITI, actor_id=li)
    b = record_finding(
        runtime,
        photo_ids=[p["far"]],
        category_id=BUILDING,
        actor_id=wang,
        observed_at=T0 + dt.timedelta(days=3),
    )
    c = record_finding(runtime, photo_ids=[p["near"]], category_id=RUBBISH, actor_id=wang)
    close_finding(runtime, c.id, wang)

    def ids(**kw):
        return [v.id for v in list_findings(runtime, **kw)]

    assert ids() == [a.id, b.id, c.id]
    assert ids(category_id=GRAFFITI) == [a.id]
    assert ids(domain="great_wall") == [a.id, b.id] and ids(domain="rivers") == [c.id]
    assert ids(state="open") == [a.id, b.id] and ids(state="closed") == [c.id]
    assert ids(layer_id=world["river"]) == [c.id]
    assert ids(created_by=wang) == [b.id, c.id]
    assert ids(bbox=(*at(200, -50), *at(450, 50))) == [a.id, c.id]
    assert ids(since=T0 + dt.timedelta(days=1)) == [b.id]
    assert ids(until=T0.date()) == [a.id, c.id]
    assert ids(until=T0 - dt.timedelta(seconds=1)) == []
    assert ids(domain="great_wall", state="open", created_by=li) == [a.id]
    for bad, words in [
        ({"state": "gone"}, "'gone'"),
        ({"bbox": (1, 2, 0, 3)}, "bbox"),
        ({"domain": "moon"}, "moon"),
        ({"since": "yesterday"}, "since"),
    ]:
        with pytest.raises(InputError, match=words):
            list_findings(runtime, **bad)
    fc = findings_geojson(runtime, state="open")
    assert fc["type"] == "FeatureCollection" and [f["id"] for f in fc["features"]] == [a.id, b.id]
    first = fc["features"][0]
    assert first["geometry"]["coordinates"] == pytest.approx(list(at(300, 0)))
    props = first["properties"]
    assert (props["chainage"], props["feature_name"], props["state"]) == ("K2+300", "八达岭北段", "open")
    assert (props["name_zh"], props["name_en"], props["severity"]) == (
        "在长城上刻划、涂污",
        get_finding(runtime, a.id).name_en,
        "medium",
    )
    assert audit.verify(runtime) == []
