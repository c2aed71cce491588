"""Backup and the restore drill: restore into a fresh data directory (or database) and verify every hash."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.pool import NullPool

from fieldkit import audit, backup, fixity
from fieldkit.cli import main
from fieldkit.errors import ConflictError, InputError, StorageError
from fieldkit.photos.ingest import ingest_upload
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.store.models import Photo, PhotoSubmission
from tests.photo_factory import make_jpeg


@pytest.fixture
def filled(runtime):
    """Four photos (one submitted twice), an audit entry, and a file of the web app in the data dir."""
    for i in range(4):
        data = make_jpeg(100, 80, lat=40.3 + i / 100, lon=116.0, taken_at="2025:04:01 09:00:00")
        assert ingest_upload(runtime, data, f"P{i}.jpg").status == "ingested"
    ingest_upload(runtime, data, "P3-again.jpg")
    with runtime.db.session(write=True) as s:
        audit.append(s, None, "finding", 7, "create", {"note": "河道垃圾"})
    (runtime.settings.data_dir / "secret_key").write_text("s3cret")
    return runtime


@pytest.fixture
def fresh(tmp_path, pg_worker_url):
    """A runtime on a fresh data directory and, on PostgreSQL, a new empty database (dropped after)."""
    if pg_worker_url is None:
        yield Runtime(Settings.from_env(env={}, data_dir=tmp_path / "restored"))
        return
    admin = create_engine(pg_worker_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"{make_url(pg_worker_url).database}_restore"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_worker_url).set(database=name).render_as_string(hide_password=False)
    rt = Runtime(Settings.from_env(env={}, data_dir=tmp_path / "restored", database_url=url))
    yield rt
    if "db" in rt.__dict__:
        rt.db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _counts(rt):
    with rt.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Photo)),
                s.scalar(select(func.count()).select_from(PhotoSubmission)), audit.head(rt))


def test_restore_drill_into_a_fresh_data_dir_verifies_every_hash(filled, fresh, tmp_path):
    manifest = backup.backup(filled, tmp_path / "bk")
    assert manifest["originals"] == 4 and manifest["backend"] == filled.db.dialect
    assert "files/secret_key" in manifest["files"]
    report = backup.restore(fresh, tmp_path / "bk")
    assert report.ok and report.photos == 4 and report.files_hashed == 4 and report.audit_entries == 1
    assert _counts(fresh) == _counts(filled)
    with fresh.db.session() as s:
        shas = set(s.scalars(select(Photo.sha256)))
    assert all(fresh.evidence.verify(sha) for sha in shas)
    assert (fresh.settings.data_dir / "secret_key").read_text() == "s3cret"
    assert fixity.verify(fresh).ok


def test_a_damaged_backup_is_refused_before_anything_is_restored(filled, fresh, tmp_path):
    manifest = backup.backup(filled, tmp_path / "bk")
    original = next(rel for rel in manifest["files"] if rel.startswith("evidence/objects/"))
    path = tmp_path / "bk" / original
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    (tmp_path / "bk" / "files" / "secret_key").unlink()
    with pytest.raises(StorageError) as err:
        backup.restore(fresh, tmp_path / "bk")
    assert f"{original}: altered" in str(err.value) and "files/secret_key: missing" in str(err.value)
    assert not (fresh.settings.evidence_dir / "objects").exists() or not any(
        p.is_file() for p in (fresh.settings.evidence_dir / "objects").rglob("*"))


def test_restore_refuses_a_target_with_data_and_backup_a_non_empty_folder(filled, tmp_path):
    backup.backup(filled, tmp_path / "bk")
    with pytest.raises(ConflictError, match="already"):
        backup.restore(filled, tmp_path / "bk")
    with pytest.raises(ConflictError, match="not empty"):
        backup.backup(filled, tmp_path / "bk")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="not a FieldKit backup"):
        backup.restore(filled, tmp_path / "nothing")


def test_manifest_paths_cannot_leave_the_backup(filled, fresh, tmp_path):
    backup.backup(filled, tmp_path / "bk")
    manifest_path = tmp_path / "bk" / backup.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["files/../../escape"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(StorageError, match="leaves the backup folder"):
        backup.restore(fresh, tmp_path / "bk")


def test_cli_backup_and_restore(filled, fresh, tmp_path, monkeypatch):
    runner = CliRunner()
    out = runner.invoke(main, ["--data-dir", str(filled.settings.data_dir), "backup", str(tmp_path / "bk")])
    assert out.exit_code == 0, out.output
    assert "4 originals" in out.output
    if fresh.settings.database_url:
        monkeypatch.setenv("FIELDKIT_DATABASE_URL", fresh.settings.database_url)
    out = runner.invoke(main, ["--data-dir", str(fresh.settings.data_dir), "restore", str(tmp_path / "bk")])
    assert out.exit_code == 0, out.output
    assert "restored 4 photos; 4 originals re-hashed" in out.output


@pytest.fixture
def drill_database(pg_worker_url):
    """A new database owned by a role without superuser rights, as docs/deploy.md sets one up;
    yields ``make(with_postgis) -> SQLAlchemy URL`` acting as that role (``options=-crole=…``)."""
    if pg_worker_url is None:
        pytest.skip("PostgreSQL only: restoring as a role that is not superuser")
    base = make_url(pg_worker_url)
    name, role = f"{base.database}_drill", f"{base.database}_owner"
    admin = create_engine(pg_worker_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))

    def make(with_postgis: bool) -> str:
        drop()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
            conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
        if with_postgis:  # the superuser's one step
            su = create_engine(base.set(database=name), isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with su.connect() as conn:
                conn.execute(text("CREATE EXTENSION postgis"))
            su.dispose()
        return base.set(database=name, query={"options": f"-crole={role}"}).render_as_string(hide_password=False)

    yield make
    drop()
    admin.dispose()


def test_restore_drill_as_a_role_that_is_not_superuser(filled, drill_database, tmp_path):
    """pg_restore used to stop at COMMENT ON EXTENSION postgis (only its owner may) and at
    PostGIS's own spatial_ref_sys rows: the drill failed on a real server."""
    backup.backup(filled, tmp_path / "bk")
    url = drill_database(with_postgis=True)
    rt = Runtime(Settings.from_env(env={}, data_dir=tmp_path / "drill", database_url=url))
    try:
        report = backup.restore(rt, tmp_path / "bk")
        assert report.ok and report.photos == 4 and _counts(rt) == _counts(filled)
        with rt.db.session() as s:
            assert s.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) is False
    finally:
        rt.db.dispose()
    bare = Runtime(Settings.from_env(env={}, data_dir=tmp_path / "drill2", database_url=drill_database(with_postgis=False)))
    with pytest.raises(StorageError, match="CREATE EXTENSION postgis"):
        backup.restore(bare, tmp_path / "bk")
