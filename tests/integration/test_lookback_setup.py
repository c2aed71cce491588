"""Builders for the look-back tests (imported by the other test_lookback_* modules), plus the
migration 0004 checks: tables created, models match, downgrade and upgrade again."""

from __future__ import annotations

import datetime as dt

from alembic import command
from shapely.geometry import LineString
from sqlalchemy import inspect

import fieldkit.store.models_lookback  # noqa: F401  (registers the tables on Base.metadata)
from fieldkit import cases
from fieldkit.store import Feature, Inspection, Layer, Photo, PhotoFeatureLink, User
from fieldkit.store.migrate import alembic_config, current, schema_diff, upgrade
from fieldkit.store.models_cases import Finding, FindingPhoto
from tests.photo_factory import make_jpeg

LOOKBACK_TABLES = {"lookbacks", "lookback_pairs", "lookback_verdicts", "recurrences"}
T0 = dt.datetime(2025, 3, 1, 2, 0)  # 10:00 in China
# A stretch of the Ming wall near 永昌 (two features of one layer) and the 出发点 office.
WALL_A = LineString([(101.9600, 38.2400), (101.9700, 38.2480), (101.9800, 38.2520)])
WALL_B = LineString([(101.9900, 38.2600), (102.0000, 38.2650)])
OFFICE = (101.95, 38.23)


def add_user(rt, name: str, team: str | None = None, display: str | None = None) -> int:
    with rt.db.session(write=True) as s:
        user = User(username=name, password_hash="x", role="inspector", team=team, display_name=display)
        s.add(user)
    return user.id


def add_wall_layer(rt) -> tuple[int, int, int]:
    """A great_wall layer with features A (明长城永昌段) and B (明长城金川段): (layer, A, B)."""
    with rt.db.session(write=True) as s:
        layer = Layer(slug="wall", name="长城", kind="great_wall")
        s.add(layer)
        s.flush()
        a = Feature.from_geometry(layer.id, "A", "明长城永昌段", WALL_A)
        b = Feature.from_geometry(layer.id, "B", "明长城金川段", WALL_B)
        s.add_all([a, b])
    return layer.id, a.id, b.id


def inspection(rt, name: str, purpose: str = "inspection") -> int:
    with rt.db.session(write=True) as s:
        row = Inspection(name=name, purpose=purpose)
        s.add(row)
    return row.id


def add_photo(rt, lon: float | None, lat: float | None, *, bearing: float | None = None,
              taken: str = "2025-01-05T10:00:00+08:00", inspection_id: int | None = None,
              link: tuple[int, int] | None = None, seed: int = 0) -> int:
    """A photo with a preview in the evidence store; ``link`` = (layer_id, feature_id) join."""
    data = make_jpeg(64 + seed % 50, 48, lat=lat, lon=lon, bearing=bearing)
    sha, _ = rt.evidence.put(data)
    rt.evidence.put_derivative(sha, "preview", data)
    with rt.db.session(write=True) as s:
        photo = Photo(sha256=sha, original_name=f"IMG_{seed:04d}.jpg", size_bytes=len(data), format="JPEG",
                      taken_at=taken, lat=lat, lon=lon, bearing=bearing,
                      location_source="exif" if lat is not None else "none", inspection_id=inspection_id)
        s.add(photo)
        s.flush()
        if link is not None:
            s.add(PhotoFeatureLink(photo_id=photo.id, layer_id=link[0], feature_id=link[1], distance_m=3.0,
                                   layer_version=1))
    return photo.id


def add_finding(rt, user: int, photos: list[int], lon: float | None, lat: float | None, *,
                category: str = "gw-earth-brick-planting", layer_id: int | None = None,
                feature: tuple[int, str, str] | None = None, place: str | None = None,
                chainage_m: float | None = None, observed_at: dt.datetime | None = None) -> int:
    fid, ffid, fname = feature or (None, None, None)
    with rt.db.session(write=True) as s:
        f = Finding(category_id=category, lon=lon, lat=lat, layer_id=layer_id, feature_id=fid,
                    feature_fid=ffid, feature_name=fname, place=place, chainage_m=chainage_m,
                    observed_at=observed_at, created_by_id=user, state="open")
        s.add(f)
        s.flush()
        s.add_all(FindingPhoto(finding_id=f.id, photo_id=p, position=i) for i, p in enumerate(photos))
    return f.id


def served_case(rt, user: int, findings: list[int], *, served_on: dt.date, body: str = "永昌县文化和旅游局",
                title: str = "明长城永昌段取土", urgent: bool = False, domain: str = "great_wall",
                reply_on: dt.date | None = None) -> int:
    """A case taken through filing, investigation and suggestion to awaiting_reply."""
    case = cases.open_case(rt, title=title, responsible_body=body, actor_id=user, finding_ids=findings,
                           urgent=urgent, domain=domain, at=T0)
    decided = served_on - dt.timedelta(days=2)
    cases.apply(rt, case.id, "file", user, at=T0, filed_on=decided - dt.timedelta(days=20))
    cases.apply(rt, case.id, "start_investigation", user, at=T0)
    cases.apply(rt, case.id, "issue_suggestion", user, at=T0, decided_on=decided)
    cases.apply(rt, case.id, "record_service", user, at=T0, served_on=served_on)
    if reply_on is not None:
        cases.apply(rt, case.id, "record_reply", user, at=T0, received_on=reply_on)
    return case.id


def test_migration_0004_creates_the_tables_and_matches_the_models(db):
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_revision("0004").down_revision == "0003"
    assert current(db.engine) == scripts.get_current_head()
    assert LOOKBACK_TABLES <= set(inspect(db.engine).get_table_names())
    assert schema_diff(db.engine) == []  # ignores PostGIS's own tables and PG-only indexes
    command.downgrade(alembic_config(db.engine), "0003")
    assert not LOOKBACK_TABLES & set(inspect(db.engine).get_table_names())
    upgrade(db.engine)
    assert current(db.engine) == scripts.get_current_head()
