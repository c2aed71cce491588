"""Crash safety: SIGKILL mid-upload leaves no partial row or original, leftovers are swept, the retry
succeeds; a full disk gives a clear error and loses nothing already stored."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from fieldkit import fixity
from fieldkit.errors import StorageError
from fieldkit.photos import evidence as evidence_mod
from fieldkit.photos.evidence import EvidenceStore
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store.models import Photo, PhotoSubmission
from tests.photo_factory import make_jpeg

ROOT = Path(__file__).resolve().parents[2]

# The child ingests one photo and stops dead at the chosen moment, telling the parent it is there.
CHILD = r"""
import os, sys, time
from pathlib import Path
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.photos.ingest import ingest_upload

data_dir, photo, marker, moment = sys.argv[1:5]

def stop_here(*_a, **_k):
    Path(marker).write_text(str(os.getpid()))
    time.sleep(120)

if moment == "writing":              # temp file written, before fsync and link
    import fieldkit.photos.evidence as ev
    ev.os.fsync = stop_here
elif moment == "committing":         # original linked, rows flushed, transaction not committed
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    def seen(session, *_a):
        if any(type(o).__name__ == "PhotoSubmission" for o in session.new):
            session.info["custody"] = True
    event.listen(Session, "before_flush", seen)
    real_commit = Session.commit
    def commit(self):
        self.flush()
        if self.info.get("custody"):
            stop_here()
        real_commit(self)
    Session.commit = commit

rt = Runtime(Settings.from_env(data_dir=data_dir))
rt.db  # migrate before the moment is armed for real work
ingest_upload(rt, Path(photo).read_bytes(), "IMG_0001.jpg")
print("finished without being killed")
"""


def kill_mid_ingest(tmp_path, settings, moment: str) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_jpeg(640, 480, lat=40.35, lon=116.01, taken_at="2025:05:01 10:00:00"))
    marker = tmp_path / f"{moment}.marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(settings.data_dir), str(photo), str(marker), moment],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child ended early: {child.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "child never reached the moment"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return photo.read_bytes()


def counts(rt):
    with rt.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Photo)),
                s.scalar(select(func.count()).select_from(PhotoSubmission)))


def originals(rt):
    return sorted(p.name for p in rt.settings.evidence_dir.joinpath("objects").rglob("*") if p.is_file())


def test_killed_while_writing_the_original(runtime, settings, tmp_path):
    runtime.db  # schema exists before the child starts
    data = kill_mid_ingest(tmp_path, settings, "writing")
    tmp_dir = settings.evidence_dir / "tmp"
    assert len(list(tmp_dir.glob("fk-*.tmp"))) == 1, "the half-written temp file is the only trace"
    assert counts(runtime) == (0, 0) and originals(runtime) == []
    EvidenceStore(settings.evidence_dir)  # a restart sweeps it at once: its writer is dead
    assert list(tmp_dir.iterdir()) == []
    result = ingest_upload(runtime, data, "IMG_0001.jpg")
    assert result.status == "ingested" and counts(runtime) == (1, 1)
    assert fixity.verify(runtime).ok


def test_killed_before_the_commit_leaves_no_row_and_the_retry_adopts_the_original(runtime, settings, tmp_path):
    runtime.db
    data = kill_mid_ingest(tmp_path, settings, "committing")
    assert counts(runtime) == (0, 0), "the uncommitted rows must be gone"
    [orphan] = originals(runtime)
    assert runtime.evidence.verify(orphan), "the original is complete, never half-written"
    assert [p.kind for p in fixity.verify(runtime).problems] == ["orphan"]
    result = ingest_upload(runtime, data, "IMG_0001.jpg")
    assert result.status == "ingested" and result.sha256 == orphan and counts(runtime) == (1, 1)
    assert fixity.verify(runtime).ok


def test_full_disk_while_storing_an_original_is_a_clear_error(runtime, monkeypatch):
    first = make_jpeg(200, 150, lat=40.35, lon=116.0, taken_at="2025:05:01 10:00:00")
    assert ingest_upload(runtime, first, "kept.jpg").status == "ingested"
    second = make_jpeg(200, 150, lat=40.36, lon=116.0, taken_at="2025:05:01 10:05:00")

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evidence_mod.os, "fsync", full)
    with pytest.raises(StorageError, match="the disk is full"):
        ingest_upload(runtime, second, "new.jpg")
    monkeypatch.undo()
    assert counts(runtime) == (1, 1) and list(runtime.evidence.tmp_dir.iterdir()) == []
    assert fixity.verify(runtime).ok, "what was stored before is intact"
    assert ingest_upload(runtime, second, "new.jpg").status == "ingested"


@pytest.mark.sqlite_only("SQLITE_FULL is simulated with PRAGMA max_page_count")
def test_full_database_disk_is_a_clear_error_and_rolls_back(runtime):
    first = make_jpeg(200, 150, lat=40.35, lon=116.0, taken_at="2025:05:01 10:00:00")
    assert ingest_upload(runtime, first, "kept.jpg").status == "ingested"
    engine = runtime.db.engine
    engine.dispose()

    @event.listens_for(engine, "connect")
    def cap(dbapi_conn, _record):
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    big = [make_jpeg(64, 48, lat=40.0 + i / 100, lon=116.0, make="X" * 2000) for i in range(30)]
    with pytest.raises(StorageError, match="disk is full"):
        for i, data in enumerate(big):
            ingest_upload(runtime, data, f"n{i}.jpg")
    event.remove(engine, "connect", cap)
    engine.dispose()
    photos, _ = counts(runtime)
    assert photos >= 1
    assert fixity.verify(runtime).by_kind("altered") == [] and fixity.verify(runtime).by_kind("missing") == []
