"""Evidence bundles: originals byte for byte, manifest fields, safe names, and verify catching
every kind of tampering (also through the CLI, with its exit code)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from click.testing import CliRunner

from fieldkit.cli import main
from fieldkit.errors import InputError, NotFoundError
from fieldkit.exports.bundle import MANIFEST, MANIFEST_CSV, MANIFEST_HASH, make_bundle, manifest_csv
from fieldkit.exports.verify import verify_bundle
from fieldkit.store import Photo, User
from tests.integration import test_exports_world as _world_module

shared_world = _world_module.shared_world  # the fixture, shared from the world module


@pytest.fixture
def world(shared_world):
    """The module's read-only export world."""
    return shared_world


@pytest.fixture
def bundle(world, tmp_path):
    path = tmp_path / "案件1证据.zip"
    manifest = make_bundle(world.rt, world.case_id, path, created_by="admin")
    return world, path, manifest


def _rewrite(src, dst, change):
    """Copy the zip ``src`` to ``dst``; ``change(name, data)`` returns new bytes or None to drop."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
    return dst


def test_bundle_holds_the_originals_and_a_complete_manifest(bundle):
    world, path, manifest = bundle
    with world.rt.db.session() as s:
        photos = {p.id: p for p in s.query(Photo)}
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        files = {f["member"]: f for f in json.loads(zf.read(MANIFEST))["files"]}
        assert set(names) == set(files) | {MANIFEST, MANIFEST_CSV, MANIFEST_HASH}
        for member, f in files.items():
            original = world.rt.evidence.read(f["sha256"])
            assert zf.read(member) == original and hashlib.sha256(original).hexdigest() == f["sha256"]
        digest = hashlib.sha256(zf.read(MANIFEST)).hexdigest()
        assert zf.read(MANIFEST_HASH).decode().split()[0] == digest == manifest["manifest_sha256"]
        table = list(csv.DictReader(io.StringIO(zf.read(MANIFEST_CSV).decode("utf-8-sig"))))
    # two photos named 现场照片.jpg, one named ../../etc/passwd; the finding on the pinned photo is in the case
    assert sorted(files) == ["photos/passwd", "photos/现场照片 (2).jpg", "photos/现场照片.jpg"]
    first = files["photos/现场照片.jpg"]
    assert first["photo_id"] == world.photos["wall1"] and first["placed_by"] == "exif"
    assert first["uploaded_by"] == "insp" and first["taken_at_utc"] == "2025-05-06T02:30:00Z"
    assert first["lon"] == pytest.approx(photos[first["photo_id"]].lon)
    assert files["photos/passwd"]["placed_by"] == "manual" and files["photos/passwd"]["uploaded_by"] == "insp2"
    assert manifest["case"]["state_zh"] == "已立案" and manifest["created_by"] == "admin"
    assert {r["定位方式"] for r in table} == {"照片EXIF定位", "人工标注"}
    assert {r["SHA-256"] for r in table} == {f["sha256"] for f in files.values()}
    assert verify_bundle(path).ok


@pytest.mark.parametrize("tamper, kind, text", [
    ("flip", "altered", "ALTERED"),
    ("raw_flip", "altered", "ALTERED"),
    ("drop", "missing", "missing"),
    ("add", "extra", "not in the manifest"),
    ("edit_manifest", "manifest", "was edited"),
    ("edit_csv", "altered", "manifest.csv does not match"),
    ("slip", "unsafe", "unsafe member"),
])
def test_verify_reports_each_kind_of_tampering(bundle, tmp_path, tamper, kind, text):
    _world, path, _manifest = bundle
    target = "photos/现场照片 (2).jpg"
    bad = tmp_path / "bad.zip"
    if tamper == "flip":
        _rewrite(path, bad, lambda n, d: d[:100] + bytes([d[100] ^ 1]) + d[101:] if n == target else d)
    elif tamper == "raw_flip":  # flip a byte inside the stored member without touching its CRC
        raw = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(target)
        raw[info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 200] ^= 0xFF
        bad.write_bytes(bytes(raw))
    elif tamper == "drop":
        _rewrite(path, bad, lambda n, d: None if n == target else d)
    elif tamper == "add":
        _rewrite(path, bad, lambda n, d: d)
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("photos/补拍.jpg", b"not evidence")
    elif tamper == "edit_manifest":
        _rewrite(path, bad, lambda n, d: d.replace(b'"placed_by": "manual"', b'"placed_by": "exif"')
                 if n == MANIFEST else d)
    elif tamper == "edit_csv":
        _rewrite(path, bad, lambda n, d: d.replace("人工标注".encode(), "照片EXIF定位".encode()) if n == MANIFEST_CSV else d)
    else:
        _rewrite(path, bad, lambda n, d: d)
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("../../evil.sh", b"#!/bin/sh\n")
    check = verify_bundle(bad)
    assert not check.ok
    extra = {"manifest.csv does not match"} if tamper == "edit_manifest" else set()  # the CSV no longer agrees
    assert [p.kind for p in check.problems][0] == kind and len(check.problems) == 1 + len(extra), check.problems
    assert text in check.problems[0].message
    if kind in ("altered", "missing"):
        assert check.problems[0].member in (target, MANIFEST_CSV)
    runner = CliRunner()
    result = runner.invoke(main, ["bundle", "verify", str(bad)])
    assert result.exit_code == 1 and text in result.output and "FAILED" in result.output


def test_expected_hash_catches_a_rewritten_manifest_and_its_hash(bundle, tmp_path):
    _world, path, manifest = bundle

    def forge(name, data):
        if name == MANIFEST:
            return data.replace(b'"uploaded_by": "insp2"', b'"uploaded_by": "insp"')
        return data

    bad = _rewrite(path, tmp_path / "forged.zip", forge)
    with zipfile.ZipFile(bad) as zf:
        forged = zf.read(MANIFEST)
    good_hash = manifest["manifest_sha256"]
    rehashed = tmp_path / "rehashed.zip"
    redone = {MANIFEST_HASH: f"{hashlib.sha256(forged).hexdigest()}  {MANIFEST}\n".encode(),
              MANIFEST_CSV: manifest_csv(json.loads(forged))}
    _rewrite(bad, rehashed, lambda n, d: redone.get(n, d))
    assert verify_bundle(rehashed).ok  # self-consistent forgery; only the kept hash can tell
    check = verify_bundle(rehashed, expect_manifest_sha256=good_hash)
    assert [p.kind for p in check.problems] == ["manifest"] and good_hash in check.problems[0].message


def test_cli_make_and_verify(world, tmp_path):
    out = tmp_path / "b.zip"
    runner = CliRunner()
    env = {"FIELDKIT_DATA_DIR": str(world.rt.settings.data_dir)}
    made = runner.invoke(main, ["bundle", "make", str(world.case_id), "-o", str(out)], env=env)
    assert made.exit_code == 0, made.output
    digest = made.output.split("manifest SHA-256: ")[1].split()[0]
    ok = runner.invoke(main, ["bundle", "verify", str(out), "--expect", digest])
    assert ok.exit_code == 0 and "bundle OK" in ok.output and "3 file(s) intact" in ok.output
    missing = runner.invoke(main, ["bundle", "make", "999", "-o", str(out)], env=env)
    assert missing.exit_code != 0 and "case 999 not found" in missing.output


def test_visibility_and_progress(world, tmp_path):
    with world.rt.db.session() as s:
        users = {u.username: u for u in s.query(User)}
    with pytest.raises(NotFoundError, match="not visible"):  # team B cannot bundle team A's originals
        make_bundle(world.rt, world.case_id, tmp_path / "b.zip", users["insp2"])
    calls = []
    manifest = make_bundle(world.rt, world.case_id, tmp_path / "a.zip", users["admin"],
                           progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)] and len(manifest["files"]) == 3


def test_not_a_zip_and_unknown_case(world, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(InputError, match="junk.zip"):
        verify_bundle(junk)
    with pytest.raises(NotFoundError):
        make_bundle(world.rt, 999, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()
