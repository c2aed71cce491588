"""Ingest end to end: directory walk, worker processes, placement, custody records, join, CLI."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import select

from fieldkit.cli import main
from fieldkit.photos import ingest as ingest_mod
from fieldkit.photos.ingest import (
    IngestSummary,
    Processed,
    collect_files,
    ingest_paths,
    ingest_upload,
    record_batch,
)
from fieldkit.photos.metadata import read_metadata
from fieldkit.photos.placement import PlaceContext
from fieldkit.store.models import Feature, Inspection, Layer, Photo, PhotoFeatureLink, PhotoSubmission
from tests.photo_factory import make_heic, make_jpeg, make_png

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="38.5000" lon="102.2000"><time>2024-05-01T02:00:00Z</time></trkpt>
<trkpt lat="38.5010" lon="102.2010"><time>2024-05-01T02:01:00Z</time></trkpt>
<trkpt lat="38.5020" lon="102.2020"><time>2024-05-01T02:16:00Z</time></trkpt>
</trkseg></trk></gpx>
"""


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """good / duplicate / bad / truncated / no-GPS / GPX-placeable / HEIC / Chinese names."""
    root = tmp_path / "照片"
    (root / "第一天").mkdir(parents=True)
    good = make_jpeg(1200, 900, lat=38.5, lon=102.2, alt=1650.0, bearing=90.0,
                     taken_at="2024:05:01 10:00:00", offset="+08:00", make="HUAWEI", model="P60")
    (root / "good.jpg").write_bytes(good)
    (root / "第一天" / "重复.JPG").write_bytes(good)  # same bytes, another name
    (root / "bad.jpg").write_bytes(b"<html>not a photo</html>")
    (root / "truncated.jpeg").write_bytes(make_jpeg(640, 480, quality=95)[:1500])
    (root / "nogps.png").write_bytes(make_png(320, 240))
    (root / "第一天" / "长城.jpg").write_bytes(make_jpeg(640, 480, taken_at="2024:05:01 10:00:30"))
    (root / "第一天" / "gap.jpg").write_bytes(make_jpeg(641, 480, taken_at="2024:05:01 10:08:00"))
    (root / "iphone.HEIC").write_bytes(make_heic(400, 300, lat=38.6, lon=102.3))
    (root / "notes.txt").write_text("not an image extension: skipped")
    return root


@pytest.fixture
def gpx_file(tmp_path: Path) -> Path:
    path = tmp_path / "track.gpx"
    path.write_text(GPX)
    return path


def by_name(summary: IngestSummary) -> dict[str, object]:
    return {Path(r.name).name: r for r in summary.results}


def test_collect_files_walks_recursively_by_extension(photo_dir):
    files, missing = collect_files([photo_dir, photo_dir / "good.jpg", photo_dir / "absent.jpg"])
    names = sorted(Path(f).name for f in files)
    assert names == ["bad.jpg", "gap.jpg", "good.jpg", "iphone.HEIC", "nogps.png", "truncated.jpeg",
                     "重复.JPG", "长城.jpg"]
    assert [m.status for m in missing] == ["failed"] and "absent.jpg" in missing[0].error


def test_ingest_directory_places_dedupes_and_reports(runtime, photo_dir, gpx_file):
    tz = dt.timezone(dt.timedelta(hours=8))
    summary = ingest_paths(runtime, [photo_dir], inspection="金昌长城 2024-05", gpx=gpx_file,
                           camera_tz=tz, workers=2)
    assert summary.counts() == {"ingested": 5, "duplicates": 1, "unplaced": 2, "failed": 2}
    assert 0 < summary.peak_worker_kb < 300 * 1024
    results = by_name(summary)
    assert "not a JPEG, PNG, HEIF or TIFF" in results["bad.jpg"].error
    assert "truncated" in results["truncated.jpeg"].error
    assert results["good.jpg"].placed_by == "exif"
    assert results["重复.JPG"].status == "duplicate" and results["重复.JPG"].photo_id == results["good.jpg"].photo_id
    assert results["长城.jpg"].placed_by == "gpx"
    assert results["gap.jpg"].placed_by == "none" and "900 s gap" in results["gap.jpg"].note
    assert results["nogps.png"].placed_by == "none"
    assert results["iphone.HEIC"].placed_by == "exif"

    with runtime.db.session() as s:
        photos = {p.original_name: p for p in s.scalars(select(Photo))}
        subs = s.execute(select(PhotoSubmission.original_name, PhotoSubmission.action)).all()
        inspection = s.scalars(select(Inspection)).one()
    assert set(photos) == {"good.jpg", "长城.jpg", "gap.jpg", "nogps.png", "iphone.HEIC"}
    good = photos["good.jpg"]
    assert (good.width, good.height, good.make, good.model, good.format) == (1200, 900, "HUAWEI", "P60", "JPEG")
    assert good.taken_at_utc == dt.datetime(2024, 5, 1, 2, 0, 0)
    assert good.bearing == pytest.approx(90.0) and good.alt == pytest.approx(1650.0)
    assert good.geom.equals(shapely.Point(102.2, 38.5))
    assert good.metadata_json["sha256"] == good.sha256 and good.metadata_json["lat"] == pytest.approx(38.5)
    gpx_placed = photos["长城.jpg"]
    assert gpx_placed.location_source == "gpx"
    assert gpx_placed.lat == pytest.approx(38.5005) and gpx_placed.lon == pytest.approx(102.2005)
    assert gpx_placed.taken_at_utc == dt.datetime(2024, 5, 1, 2, 0, 30)
    assert photos["nogps.png"].geom is None and photos["nogps.png"].location_source == "none"
    assert sorted(subs) == sorted([("good.jpg", "ingested"), ("重复.JPG", "resubmitted"), ("长城.jpg", "ingested"),
                                   ("gap.jpg", "ingested"), ("nogps.png", "ingested"), ("iphone.HEIC", "ingested")])
    assert all(p.inspection_id == inspection.id for p in photos.values())
    assert inspection.name == "金昌长城 2024-05"

    store = runtime.evidence
    for photo in photos.values():
        assert store.verify(photo.sha256) and store.has_derivatives(photo.sha256)
    assert len([p for p in (store.root / "objects").rglob("*") if p.is_file()]) == 5


def test_reingest_is_all_resubmissions_and_reuses_the_inspection(runtime, photo_dir):
    first = ingest_paths(runtime, [photo_dir], inspection="巡查", workers=1)
    again = ingest_paths(runtime, [photo_dir], inspection="巡查", workers=2)
    assert first.counts()["ingested"] == 5
    assert again.counts() == {"ingested": 0, "duplicates": 6, "unplaced": 0, "failed": 2}
    with runtime.db.session() as s:
        assert s.query(Inspection).count() == 1
        assert s.query(Photo).count() == 5
        actions = [a for (a,) in s.execute(select(PhotoSubmission.action))]
    assert actions.count("ingested") == 5 and actions.count("resubmitted") == 7


def test_time_offset_and_missing_zone_notes(runtime, tmp_path, gpx_file):
    photo = tmp_path / "slow_clock.jpg"
    photo.write_bytes(make_jpeg(320, 240, taken_at="2024:05:01 09:59:30"))  # camera 60 s slow
    naive = ingest_paths(runtime, [photo], gpx=gpx_file, workers=1).results[0]
    assert naive.placed_by == "none" and "--tz" in naive.note
    other = tmp_path / "slow_clock2.jpg"
    other.write_bytes(make_jpeg(321, 240, taken_at="2024:05:01 09:59:30"))
    fixed = ingest_paths(runtime, [other], gpx=gpx_file, workers=1, time_offset=dt.timedelta(seconds=60),
                         camera_tz=dt.timezone(dt.timedelta(hours=8))).results[0]
    assert fixed.placed_by == "gpx"


def test_upload_with_gcj02_pin_device_position_and_duplicates(runtime):
    data = make_jpeg(300, 200, taken_at="2024:05:01 10:00:00")
    gcj_lon, gcj_lat = 102.2059, 38.5013  # a spot copied from AMap
    pinned = ingest_upload(runtime, data, "现场.jpg", manual=(gcj_lat, gcj_lon, "gcj02"))
    assert (pinned.status, pinned.placed_by) == ("ingested", "manual")
    again = ingest_upload(runtime, data, "again.jpg", device=(38.5, 102.2, 15.0))
    assert (again.status, again.photo_id) == ("duplicate", pinned.photo_id)
    other = ingest_upload(runtime, make_jpeg(301, 200), "dev.jpg", device=(38.5, 102.2, 15.0),
                          manual=(1.0, 2.0, "wgs84"))
    assert other.placed_by == "device" and "accuracy 15 m" in other.note
    with runtime.db.session() as s:
        photo = s.get(Photo, pinned.photo_id)
    from fieldkit.geo.chinese import gcj02_to_wgs84

    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert (photo.lat, photo.lon) == (pytest.approx(lat), pytest.approx(lon))
    assert abs(photo.lon - gcj_lon) > 0.001  # the ~170 m offset really was removed
    assert photo.original_name == "现场.jpg"


def test_upload_of_a_bad_file_is_a_failed_result(runtime):
    result = ingest_upload(runtime, b"\x00" * 100, "evil.jpg")
    assert result.status == "failed" and "evil.jpg" in result.error
    with pytest.raises(Exception, match="not a valid latitude"):
        ingest_upload(runtime, make_jpeg(10, 10), "x.jpg", manual=(95.0, 10.0, "wgs84"))


def test_concurrent_identical_insert_becomes_a_resubmission(runtime, tmp_path):
    """Another process inserted the same sha256 after our lookup: the unique index decides."""
    path = tmp_path / "same.jpg"
    path.write_bytes(make_jpeg(200, 100, lat=38.0, lon=102.0))
    meta = read_metadata(path)
    item = Processed(str(path), path.stat().st_size, meta)
    ctx = PlaceContext()
    first = record_batch(runtime, [item], ctx)[0]
    with runtime.db.session(write=True) as s:  # the lookup "misses": known is empty
        second = ingest_mod._record_one(s, item, {}, ctx, None, None)
    assert first.status == "ingested"
    assert (second.status, second.photo_id) == ("duplicate", first.photo_id)
    with runtime.db.session() as s:
        assert s.query(Photo).count() == 1
        assert [a for (a,) in s.execute(select(PhotoSubmission.action))] == ["ingested", "resubmitted"]


def test_new_photos_are_joined_to_layers(runtime, tmp_path):
    with runtime.db.session(write=True) as s:
        layer = Layer(slug="wall", name="长城", kind="great_wall", tolerance_m=200)
        s.add(layer)
        s.flush()
        line = shapely.LineString([(102.199, 38.5), (102.201, 38.5)])
        s.add(Feature.from_geometry(layer.id, "W1", "段1", line))
    (tmp_path / "near.jpg").write_bytes(make_jpeg(100, 100, lat=38.5005, lon=102.2))
    (tmp_path / "far.jpg").write_bytes(make_jpeg(101, 100, lat=39.5, lon=103.2))
    summary = ingest_paths(runtime, [tmp_path], workers=1)
    assert summary.counts()["ingested"] == 2
    with runtime.db.session() as s:
        links = s.scalars(select(PhotoFeatureLink)).all()
        near_id = s.scalar(select(Photo.id).where(Photo.original_name == "near.jpg"))
    assert [link.photo_id for link in links] == [near_id]
    assert links[0].distance_m == pytest.approx(55.6, abs=2)


def test_cli_summary_and_exit_status(runtime, photo_dir, tmp_path):
    data_dir = str(runtime.settings.data_dir)
    runner = CliRunner()
    result = runner.invoke(main, ["--data-dir", data_dir, "ingest", str(photo_dir), "--workers", "2",
                                  "--inspection", "现场", "--tz", "+08:00", "--time-offset", "-5s"])
    assert result.exit_code == 1, result.output
    assert "ingested: 5, duplicates: 1, unplaced: 3, failed: 2" in result.stdout
    assert "bad.jpg" in result.stderr and "truncated.jpeg" in result.stderr
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "ok.jpg").write_bytes(make_jpeg(50, 50, lat=1.0, lon=1.0))
    ok = runner.invoke(main, ["--data-dir", data_dir, "ingest", str(clean), "-q"])
    assert ok.exit_code == 0, ok.output
    assert "ingested: 1, duplicates: 0, unplaced: 0, failed: 0" in ok.stdout
    bad_tz = runner.invoke(main, ["--data-dir", data_dir, "ingest", str(clean), "--tz", "Mars/Base"])
    assert bad_tz.exit_code == 2 and "time zone" in bad_tz.stderr


def test_disk_full_fails_files_in_a_batch_and_raises_for_an_upload(runtime, tmp_path, monkeypatch):
    import errno

    from fieldkit.errors import StorageError
    from fieldkit.photos import evidence

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    runtime.evidence  # noqa: B018 - open the store before the disk "fills"
    monkeypatch.setattr(evidence.os, "fsync", full)
    (tmp_path / "a.jpg").write_bytes(make_jpeg(64, 48, lat=1.0, lon=1.0))
    summary = ingest_paths(runtime, [tmp_path / "a.jpg"], workers=1)
    assert summary.counts()["failed"] == 1 and "disk is full" in summary.results[0].error
    with pytest.raises(StorageError, match="disk is full"):
        ingest_upload(runtime, make_jpeg(65, 48), "b.jpg")
    with runtime.db.session() as s:
        assert s.query(Photo).count() == 0  # no row without bytes
    assert not [p for p in (runtime.evidence.root / "objects").rglob("*") if p.is_file()]


def _crash_on(path: str):
    if path.endswith("crash.jpg"):
        os._exit(1)  # what a segfault in a decoder looks like to the pool
    return _real_start_path(path)


_real_start_path = ingest_mod._start_path


def test_a_crashing_worker_does_not_lose_the_batch(runtime, tmp_path, monkeypatch):
    for i in range(3):
        (tmp_path / f"ok{i}.jpg").write_bytes(make_jpeg(40 + i, 40, lat=1.0, lon=1.0))
    (tmp_path / "zz_crash.jpg").write_bytes(make_jpeg(60, 40))
    monkeypatch.setattr(ingest_mod, "_start_path", _crash_on)
    summary = ingest_paths(runtime, [tmp_path], workers=2)
    assert summary.failed >= 1
    crashed = [r for r in summary.results if r.name.endswith("zz_crash.jpg")][0]
    assert crashed.status == "failed" and "worker process died" in crashed.error
    assert summary.ingested + summary.failed == 4


def test_batch_falls_back_to_one_by_one_when_a_photo_appears_after_the_lookup(runtime, tmp_path, monkeypatch):
    """The batch is written in one flush; a unique-key clash (another writer, PostgreSQL) makes
    it roll back to its savepoint and record the photos one at a time."""
    items = []
    for i in range(2):
        path = tmp_path / f"p{i}.jpg"
        path.write_bytes(make_jpeg(200 + i, 100, lat=38.0, lon=102.0 + i))
        items.append(Processed(str(path), path.stat().st_size, read_metadata(path)))
    real_all, real_one, one_calls = ingest_mod._record_all, ingest_mod._record_one, []

    def clashing(s, batch, known, *args):
        s.add(ingest_mod._new_photo(batch[0], PlaceContext(), None, None))  # "another writer"
        s.flush()
        return real_all(s, batch, known, *args)

    monkeypatch.setattr(ingest_mod, "_record_all", clashing)
    monkeypatch.setattr(ingest_mod, "_record_one", lambda *a: one_calls.append(a) or real_one(*a))
    results = record_batch(runtime, items, PlaceContext())
    assert [r.status for r in results] == ["ingested", "ingested"] and len(one_calls) == 2
    with runtime.db.session() as s:
        assert s.query(Photo).count() == 2
        assert [a for (a,) in s.execute(select(PhotoSubmission.action))] == ["ingested", "ingested"]


def test_each_original_is_durable_before_its_result_and_overlaps_the_next_photo(tmp_path, monkeypatch):
    """A worker starts photo k+1 before waiting for photo k's fsync, and returns photo k only
    after that wait (the parent records a photo only once its original is on disk)."""
    events = []

    def start(path):
        events.append(("start", Path(path).name))
        return Processed(path, 1), lambda: events.append(("durable", Path(path).name))

    monkeypatch.setattr(ingest_mod, "_start_path", start)
    monkeypatch.setitem(ingest_mod._worker, "rss0_kb", 0)
    done = ingest_mod._process_paths([str(tmp_path / n) for n in ("a.jpg", "b.jpg", "c.jpg")])
    assert [Path(p.name).name for p in done] == ["a.jpg", "b.jpg", "c.jpg"]
    assert events == [("start", "a.jpg"), ("start", "b.jpg"), ("durable", "a.jpg"), ("start", "c.jpg"),
                      ("durable", "b.jpg"), ("durable", "c.jpg")]
