"""The 108 real camera files of ianare/exif-samples against ExifTool 12.57's answers (-n).

Every file yields a result or a per-file error. Where we disagree with ExifTool on purpose,
the file is listed below with the reason; nothing is skipped silently.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fieldkit.photos.metadata import PhotoMetadata, read_metadata

pytestmark = pytest.mark.shared

# ExifTool finds a capture time where we, reading standard EXIF only, find none.
TIME_EXCEPTIONS = {
    "exif-samples/jpg/Reconyx_HC500_Hyperfire.jpg": "time only in Reconyx maker notes, not in the Exif IFD",
    "exif-samples/jpg/exif-org/olympus-d320l.jpg": "pre-EXIF camera: time in Olympus' APP12 text block",
    "exif-samples/jpg/exif-org/sony-powershota5.jpg": "pre-EXIF camera: time in a Canon CIFF (HEAPJPGM) block",
    "exif-samples/jpg/tests/30-type_error.jpg": "broken file: the ExifIFD pointer is typed ASCII; "
    "ExifTool falls back to XMP",
}
# Make/Model found by ExifTool in non-EXIF vendor blocks.
CAMERA_EXCEPTIONS = {
    "exif-samples/jpg/exif-org/sony-powershota5.jpg": "Make/Model only in the Canon CIFF block",
}
# HEIF rotation ('irot' box) is applied by libheif; ExifTool reports the stored (unrotated) size.
SIZE_EXCEPTIONS = {
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G.heif": "irot 90° in the HEIF container (EXIF says 1)",
}


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> tuple[dict[str, dict], dict[str, PhotoMetadata]]:
    root = shared_data / "photos"
    with open(root / "exif-samples-exiftool.csv", encoding="utf-8", newline="") as fh:
        reference = {row["SourceFile"]: row for row in csv.DictReader(fh)}
    files = sorted(p for p in (root / "exif-samples").rglob("*") if p.is_file())
    results = {p.relative_to(root).as_posix(): read_metadata(p) for p in files}
    return reference, results


def _num(text: str) -> float | None:
    return float(text) if text else None


def _with_values(reference: dict[str, dict], column: str) -> list[str]:
    return [name for name, row in reference.items() if row[column]]


def test_every_file_gives_a_result_or_an_error(samples):
    reference, results = samples
    assert len(results) == 108
    for name, meta in results.items():
        if name in reference:
            assert meta.error is None, f"{name}: {meta.error}"
            assert meta.sha256 and meta.width and meta.height
        else:  # the READMEs: not images
            assert meta.error and "not a JPEG" in meta.error, name
    assert len([m for m in results.values() if m.error]) == 108 - len(reference)


def test_coordinates_match_exiftool(samples):
    reference, results = samples
    with_gps = _with_values(reference, "GPSLatitude")
    assert len(with_gps) == 18
    for name, row in reference.items():
        meta = results[name]
        if row["GPSLatitude"]:
            assert meta.lat == pytest.approx(float(row["GPSLatitude"]), abs=1e-6), name
            assert meta.lon == pytest.approx(float(row["GPSLongitude"]), abs=1e-6), name
            assert meta.location_source == "exif"
        else:
            assert meta.lat is None and meta.lon is None, name


@pytest.mark.parametrize(
    "column, field, tolerance", [("GPSAltitude", "alt", 0.01), ("GPSImgDirection", "bearing", 0.01)]
)
def test_altitude_and_direction_match_exiftool(samples, column, field, tolerance):
    reference, results = samples
    assert len(_with_values(reference, column)) >= 6
    for name, row in reference.items():
        expected, got = _num(row[column]), getattr(results[name], field)
        if expected is None:
            assert got is None, name
        else:
            assert got == pytest.approx(expected, abs=tolerance), name


def test_times_match_exiftool(samples):
    reference, results = samples
    compared = 0
    for name, row in reference.items():
        meta, expected = results[name], row["DateTimeOriginal"]
        if name in TIME_EXCEPTIONS:
            assert expected and meta.taken_at is None, name
            continue
        if not expected:
            assert meta.taken_at is None, name
            continue
        compared += 1
        local = expected[:10].replace(":", "-") + "T" + expected[11:19]
        assert meta.taken_at[:19] == local, name
        if row["OffsetTimeOriginal"]:
            assert meta.taken_at[19:] == row["OffsetTimeOriginal"], name
        elif len(meta.taken_at) > 19:  # offset derived from the GPS UTC stamp
            assert meta.taken_at_utc.endswith("+00:00"), name
    assert compared == len(_with_values(reference, "DateTimeOriginal")) - len(TIME_EXCEPTIONS) >= 50


def test_orientation_size_and_camera_match_exiftool(samples):
    reference, results = samples
    for name, row in reference.items():
        meta = results[name]
        orientation = int(row["Orientation"]) if row["Orientation"] else None
        assert meta.orientation == orientation, name
        width, height = int(row["ImageWidth"]), int(row["ImageHeight"])
        shown = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        if name in SIZE_EXCEPTIONS:
            assert (meta.width, meta.height) == shown[::-1], name
        else:
            assert (meta.width, meta.height) == shown, name
        if name not in CAMERA_EXCEPTIONS:
            assert (meta.make, meta.model) == (row["Make"] or None, row["Model"] or None), name
