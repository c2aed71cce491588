"""``fieldkit demo`` / :func:`fieldkit.demo.load_demo` on a fresh runtime, run twice."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import func, select

from fieldkit.cli import main
from fieldkit.demo import DEMO_BATCHES, demo_root, load_demo
from fieldkit.errors import ConfigError
from fieldkit.geo.measure import line_lengths_m, local_metric_crs
from fieldkit.layers import load_manifest
from fieldkit.store.models import Feature, Inspection, Layer, Photo, PhotoFeatureLink, PhotoSubmission, User
from fieldkit.users import authenticate

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "layers" / "layers.toml"


def test_demo_root_is_the_checkout():
    assert demo_root() == ROOT
    assert (demo_root() / "layers" / "layers.toml").is_file() and (demo_root() / "photos").is_dir()


def test_manifest_passes_check_manifest():
    result = CliRunner().invoke(main, ["layers", "check-manifest", str(MANIFEST)])
    assert result.exit_code == 0, result.output
    entries = {e.id: e for e in load_manifest(MANIFEST).entries}
    assert {e.kind for e in entries.values()} == {"great_wall", "river", "fitness_site", "boundary"}
    for e in entries.values():
        assert e.responsible_body and e.source and e.licence and e.tolerance_m > 0
        assert e.demo is (e.kind in ("great_wall", "fitness_site")), e.id
    assert entries["jinchang-great-wall"].crs == "EPSG:4543"
    assert entries["liaoyuan-fitness-sites"].crs == "gcj02"


def _snapshot(db) -> dict:
    with db.session() as s:
        return {
            "layers": sorted(s.execute(select(Layer.slug, Layer.version, Layer.feature_count, Layer.imported_at))),
            "features": sorted(s.scalars(select(Feature.id))),
            "photos": sorted(s.execute(select(Photo.id, Photo.sha256, Photo.lat, Photo.lon, Photo.location_source))),
            "links": sorted(s.execute(select(PhotoFeatureLink.photo_id, PhotoFeatureLink.feature_id,
                                             PhotoFeatureLink.distance_m))),
            "submissions": s.scalar(select(func.count()).select_from(PhotoSubmission)),
            "inspections": sorted(s.scalars(select(Inspection.name))),
        }


@pytest.mark.slow
def test_load_demo_loads_everything_and_a_second_run_changes_nothing(runtime):
    started = time.monotonic()
    summary = load_demo(runtime)
    assert [l.status for l in summary.layers] == ["imported"] * 6
    assert summary.failed == 0 and summary.photos_ingested == 44 and summary.duplicates == 0
    assert summary.placed_by == {"exif": 34, "gpx": 8} and summary.unplaced == 2
    db = runtime.db
    with db.session() as s:
        layers = {l.slug: l for l in s.scalars(select(Layer))}
        assert {slug: l.feature_count for slug, l in layers.items()} == {
            "jinchang-great-wall": 46, "jinchang-rivers": 2, "jinchang-boundaries": 3,
            "liaoyuan-fitness-sites": 58, "liaoyuan-rivers": 7, "liaoyuan-boundaries": 5}
        wall = layers["jinchang-great-wall"]
        assert wall.source_crs == "EPSG:4543" and wall.tolerance_m == 200
        geoms = [shapely.from_wkb(g) if isinstance(g, bytes) else g
                 for g in s.scalars(select(Feature.geom).where(Feature.layer_id == wall.id))]
        total_m = float(line_lengths_m(np.array(geoms, dtype=object)).sum())
        assert 120_000 <= total_m <= 180_000, total_m
        for slug in ("jinchang-great-wall", "liaoyuan-fitness-sites"):
            props = s.scalars(select(Feature.properties).where(Feature.layer_id == layers[slug].id)).all()
            assert props and all(p["demo"] in (True, "true", "TRUE") and "演示数据" in p["note"] for p in props)
        sources = dict(s.execute(select(Photo.location_source, func.count()).group_by(Photo.location_source)).all())
        assert sources == {"exif": 38, "gpx": 8, "none": 2}  # 4 of the exif ones are look-back re-shoots
        per_inspection = dict(s.execute(select(Inspection.name, func.count(Photo.id))
                                        .join(Photo, Photo.inspection_id == Inspection.id).group_by(Inspection.name)).all())
        assert per_inspection == {"2025-05 金昌长城巡查": 24, "2025-06 辽源健身器材巡查": 12, "2025-06 辽源河道巡查": 8,
                                  "2025-08 金昌长城回头看": 3, "2025-09 辽源健身器材回头看": 1}
        gpx_points = s.execute(select(Photo.lon, Photo.lat).where(Photo.location_source == "gpx")).all()
        uploaders = dict(s.execute(select(User.username, func.count(Photo.id))
                                   .join(Photo, Photo.uploaded_by_id == User.id).group_by(User.username)).all())
        assert uploaders == {"inspector": 27, "inspector2": 21}
        roles = dict(s.execute(select(User.username, User.role)).all())
        assert roles == {"admin": "admin", "reviewer": "reviewer", "inspector": "inspector",
                         "inspector2": "inspector"}
    assert sorted(summary.users_created) == ["admin", "inspector", "inspector2", "reviewer"]
    assert authenticate(runtime, "reviewer", "fieldkit-demo-reviewer") is not None
    _assert_near(gpx_points, geoms, 60.0)  # the track runs 30 m beside the wall

    first = _snapshot(db)
    again = load_demo(runtime)
    assert not again.changed and again.photos_ingested == 0 and again.duplicates == 44
    assert again.users_created == []
    assert [l.status for l in again.layers] == ["unchanged"] * 6
    assert _snapshot(db) == first
    assert time.monotonic() - started < 30


def _assert_near(points, lines, limit_m: float) -> None:
    lon0, lat0 = np.mean(points, axis=0)
    from fieldkit.geo.crs import from_wgs84_transformer, resolve_crs

    crs = resolve_crs(local_metric_crs(lon0, lat0).to_wkt())
    to_m = from_wgs84_transformer(crs)
    wall = shapely.transform(shapely.union_all(lines), lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    for lon, lat in points:
        x, y = to_m.transform(lon, lat)
        assert wall.distance(shapely.Point(x, y)) < limit_m, (lon, lat)


@pytest.mark.slow
def test_layers_are_reimported_only_when_their_files_change(runtime, tmp_path):
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    manifest = layers / "layers.toml"
    first = load_demo(runtime, manifest, load_photos=False)
    assert [l.version for l in first.layers] == [1] * 6
    touched = layers / "liaoyuan_rivers.geojson"
    later = time.time() + 5
    os.utime(touched, (later, later))
    second = load_demo(runtime, manifest, load_photos=False)
    status = {l.slug: (l.status, l.version) for l in second.layers}
    assert status.pop("liaoyuan-rivers") == ("replaced", 2)
    assert set(status.values()) == {("unchanged", 1)}
    forced = load_demo(runtime, manifest, load_photos=False, force_layers=True)
    assert {l.status for l in forced.layers} == {"replaced"}


def test_cli_demo_prints_a_summary_and_reports_missing_material(tmp_path):
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path / "data"), "demo", "--no-photos"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "jinchang-great-wall" in result.output and "imported" in result.output
    result = runner.invoke(main, args)
    assert result.exit_code == 0 and "nothing changed" in result.output
    missing = runner.invoke(main, ["--data-dir", str(tmp_path / "data"), "demo", "--photos", str(tmp_path / "nope")])
    assert missing.exit_code == ConfigError.exit_code and "nope" in missing.output


def test_missing_batch_folder_is_reported_not_fatal(runtime, tmp_path):
    (tmp_path / DEMO_BATCHES[0].folder).mkdir()
    summary = load_demo(runtime, photos_dir=tmp_path, load_layers=False)
    assert [b.files for b in summary.batches] == [0, 0, 0]
    assert all(b.errors for b in summary.batches) and summary.photos_ingested == 0
