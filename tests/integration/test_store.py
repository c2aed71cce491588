"""The database: migrations, SQLite pragmas, geometry round trip, data-dir selection."""

from __future__ import annotations

import sqlite3

import pytest

import shapely
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from fieldkit.cli import main
from fieldkit.settings import Settings
from fieldkit.store import Database, Feature, Layer
from fieldkit.store.migrate import current


def test_migrations_create_every_table(db):
    tables = set(inspect(db.engine).get_table_names())
    assert {"layers", "features", "photos", "photo_submissions", "photo_feature_links", "users"} <= tables
    assert current(db.engine) is not None


def test_sqlite_runs_in_wal_with_busy_timeout(db):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_geometry_round_trips_as_wgs84_shapely(db):
    line = shapely.LineString([(102.1, 38.5), (102.2, 38.6)])
    with db.session(write=True) as s:
        layer = Layer(slug="t", name="测试", kind="river")
        s.add(layer)
        s.flush()
        s.add(Feature(layer_id=layer.id, fid="1", name="金川河", geom_type="LineString", geom=line,
                      minx=102.1, miny=38.5, maxx=102.2, maxy=38.6))
    with db.session() as s:
        feat = s.scalars(select(Feature)).one()
        assert feat.geom.equals(line)
        assert feat.name == "金川河"


def test_write_sessions_take_the_lock_up_front(db, settings):
    # A write session holds the write lock from its first statement (BEGIN IMMEDIATE), so a
    # competing writer waits at BEGIN instead of failing later on lock upgrade.
    other = sqlite3.connect(settings.data_dir / "fieldkit.sqlite3", timeout=0.05, isolation_level=None)
    with db.session(write=True) as s:
        s.execute(text("SELECT 1"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    with db.session() as s:  # read sessions do not take it
        s.execute(text("SELECT 1"))
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    other.close()


def test_data_dir_from_env_and_option(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDKIT_DATA_DIR", str(tmp_path / "envdir"))
    assert Settings.from_env().data_dir == tmp_path / "envdir"
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "optdir"), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "optdir" / "fieldkit.sqlite3").exists()


def test_database_url_selects_another_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    settings = Settings.from_env(env={"FIELDKIT_DATABASE_URL": url}, data_dir=tmp_path / "d")
    assert settings.db_url == url
    Database(url).upgrade()
    assert (tmp_path / "other.db").exists()


def test_cli_help_lists_every_command_with_help():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("db", "layers", "photos", "ingest", "demo", "serve"):
        line = next(l for l in result.output.splitlines() if l.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 5, f"{name} has no help text"


def test_feature_from_geometry_derives_type_and_bbox():
    line = shapely.LineString([(102.1, 38.6), (102.2, 38.5)])
    feat = Feature.from_geometry(1, "W1", "段", line, length_m=9000.0)
    assert (feat.geom_type, feat.minx, feat.miny, feat.maxx, feat.maxy) == ("LineString", 102.1, 38.5, 102.2, 38.6)
    assert feat.fid == "W1" and feat.length_m == 9000.0 and feat.geom is line


def test_a_database_url_with_a_percent_sign_migrates(tmp_path):
    """Alembic's config interpolates '%': a data directory (or URL-encoded password) with one
    used to stop every migration."""
    from fieldkit.runtime import Runtime

    rt = Runtime(Settings.from_env(env={}, data_dir=tmp_path / "巡查 100%"))
    try:
        assert current(rt.db.engine) is not None
    finally:
        rt.db.dispose()
