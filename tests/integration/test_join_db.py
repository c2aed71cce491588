"""join_photos / rejoin_layer against a real SQLite database, plus the ``fieldkit join`` command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from shapely import LineString, Point
from sqlalchemy import select

from fieldkit.cli import main
from fieldkit.errors import NotFoundError
from fieldkit.geo.measure import GEOD
from fieldkit.join import cache_stats, clear_index_cache, index_for_layer, join_photos, rejoin_layer
from fieldkit.store.models import Feature, Layer, Photo, PhotoFeatureLink

LON0, LAT0 = 102.19, 38.52


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_index_cache()
    yield
    clear_index_cache()


def at(east_m=0.0, north_m=0.0):
    lon, lat = LON0, LAT0
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0 if north_m > 0 else 180.0, abs(north_m))
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0 if east_m > 0 else 270.0, abs(east_m))
    return lon, lat


def add_layer(db, slug, kind, tolerance, geoms):
    with db.session(write=True) as s:
        layer = Layer(slug=slug, name=slug, kind=kind, tolerance_m=tolerance)
        s.add(layer)
        s.flush()
        s.add_all(Feature.from_geometry(layer.id, f"{slug}-{i}", name, g) for i, (name, g) in enumerate(geoms))
        return layer.id


def add_photo(db, n, position=None, bearing=None):
    lon, lat = position if position else (None, None)
    with db.session(write=True) as s:
        photo = Photo(sha256=f"{n:064x}", original_name=f"IMG_{n}.jpg", size_bytes=1000,
                      lon=lon, lat=lat, bearing=bearing)
        s.add(photo)
        s.flush()
        return photo.id


def links(db):
    with db.session() as s:
        rows = s.execute(
            select(PhotoFeatureLink, Feature.name).join(Feature).order_by(PhotoFeatureLink.photo_id,
                                                                          PhotoFeatureLink.layer_id)
        ).all()
    return {(link.photo_id, link.layer_id): (name, link) for link, name in rows}


@pytest.fixture
def world(db):
    """A wall layer (two parallel walls 40 m N and 25 m S of the origin) and a site layer."""
    wall = add_layer(db, "wall", "great_wall", 100.0, [
        ("北墙", LineString([at(-800, 40), at(800, 40)])),
        ("南墙", LineString([at(-800, -25), at(800, -25)])),
    ])
    sites = add_layer(db, "sites", "fitness_site", 50.0, [("健身点", Point(at(30, 0)))])
    photos = {
        "origin": add_photo(db, 1, at()),
        "facing_north": add_photo(db, 2, at(), bearing=5.0),
        "far": add_photo(db, 3, at(0, 3000)),
        "no_position": add_photo(db, 4),
    }
    return {"wall": wall, "sites": sites, "photos": photos}


def test_join_writes_one_link_per_photo_and_layer(db, runtime, world):
    p, wall, sites = world["photos"], world["wall"], world["sites"]
    assert join_photos(runtime) == 4
    got = links(db)
    assert set(got) == {(p["origin"], wall), (p["origin"], sites), (p["facing_north"], wall),
                        (p["facing_north"], sites)}
    name, link = got[(p["origin"], wall)]
    assert name == "南墙" and link.distance_m == pytest.approx(25.0, abs=0.05)
    assert link.chainage_m == pytest.approx(800.0, rel=0.005) and not link.by_bearing
    assert link.layer_version == 1
    name, link = got[(p["facing_north"], wall)]
    assert name == "北墙" and link.by_bearing and link.distance_m == pytest.approx(40.0, abs=0.05)
    name, link = got[(p["origin"], sites)]
    assert name == "健身点" and link.chainage_m is None and link.distance_m == pytest.approx(30.0, abs=0.05)


def test_join_again_replaces_instead_of_duplicating(db, runtime, world):
    assert join_photos(runtime) == 4
    assert join_photos(runtime) == 4
    assert len(links(db)) == 4


def test_join_can_be_limited_to_some_photos_and_layers(db, runtime, world):
    p, wall = world["photos"], world["wall"]
    assert join_photos(runtime, photo_ids=[p["origin"]], layer_ids=[wall]) == 1
    assert set(links(db)) == {(p["origin"], wall)}
    with pytest.raises(NotFoundError, match="no layer with id 999"):
        join_photos(runtime, layer_ids=[999])


def test_a_photo_that_loses_its_position_loses_its_links(db, runtime, world):
    p = world["photos"]
    join_photos(runtime)
    with db.session(write=True) as s:
        photo = s.get(Photo, p["origin"])
        photo.lat = photo.lon = None
    assert join_photos(runtime, photo_ids=[p["origin"]]) == 0
    assert {k[0] for k in links(db)} == {p["facing_north"]}


def test_rejoin_layer_after_the_layer_changes(db, runtime, world):
    p, wall = world["photos"], world["wall"]
    join_photos(runtime)
    first = index_for_layer(db, _layer(db, wall))
    with db.session(write=True) as s:  # re-import: the south wall moves 10 m closer, version bumps
        layer = s.get(Layer, wall)
        south = s.scalars(select(Feature).where(Feature.name == "南墙")).one()
        south.geom = LineString([at(-800, -15), at(800, -15)])
        layer.version += 1
    assert rejoin_layer(runtime, wall) == 2
    name, link = links(db)[(p["origin"], wall)]
    assert name == "南墙" and link.distance_m == pytest.approx(15.0, abs=0.05)
    assert link.layer_version == 2
    assert index_for_layer(db, _layer(db, wall)) is not first
    # ... and the other layer's links were left alone.
    assert (p["origin"], world["sites"]) in links(db)


def test_the_index_is_reused_while_the_version_holds(db, runtime, world):
    layer = _layer(db, world["wall"])
    first = index_for_layer(db, layer)
    assert index_for_layer(db, _layer(db, world["wall"])) is first
    join_photos(runtime, layer_ids=[world["wall"]])
    join_photos(runtime, layer_ids=[world["wall"]])
    stats = cache_stats()
    assert stats["builds"] == 1 and stats["hits"] == 3
    layer.version += 1  # a stale in-memory Layer with a new version gets a new index
    assert index_for_layer(db, layer) is not first
    assert cache_stats()["builds"] == 2


def _layer(db, layer_id):
    with db.session() as s:
        return s.get(Layer, layer_id)


def test_cli_join_prints_a_summary(db, settings, world):
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]
    result = runner.invoke(main, [*base, "join", "--layer", "wall"])
    assert result.exit_code == 0, result.output
    assert "wall (v1, wall): 2 of 3 located photos linked, 1 by bearing" in result.output
    assert "2 links written for 1 layer(s)" in result.output
    result = runner.invoke(main, [*base, "join", "--all"])
    assert result.exit_code == 0 and "4 links written for 2 layer(s)" in result.output
    assert len(links(db)) == 4


def test_cli_join_refuses_bad_arguments(settings, world):
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]
    result = runner.invoke(main, [*base, "join"])
    assert result.exit_code == 2 and "--all" in result.output
    result = runner.invoke(main, [*base, "join", "--layer", "nope"])
    assert result.exit_code == NotFoundError.exit_code
    assert "no layer with slug nope" in result.output
