"""``fieldkit verify``: tampered, missing and extra files are each reported exactly; intact stores pass."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from fieldkit import audit, fixity
from fieldkit.cli import main
from fieldkit.photos.ingest import ingest_upload
from tests.photo_factory import make_jpeg


@pytest.fixture
def stored(runtime):
    """Three ingested photos and two audit entries; returns {name: (photo_id, sha256)}."""
    out = {}
    for i in range(3):
        data = make_jpeg(120, 90, lat=40.35 + i / 1000, lon=116.0, taken_at="2025:03:01 10:00:00")
        result = ingest_upload(runtime, data, f"IMG_{i}.jpg")
        assert result.status == "ingested", result
        out[f"IMG_{i}.jpg"] = (result.photo_id, result.sha256)
    with runtime.db.session(write=True) as s:
        audit.append(s, None, "finding", 1, "create", {"note": "长城墙体刻划"})
        audit.append(s, None, "finding", 1, "close", {})
    return out


def _writable(path):
    os.chmod(path, 0o644)
    return path


def test_intact_store_verifies(runtime, stored):
    report = fixity.verify(runtime)
    assert report.ok, report.problems
    assert (report.photos, report.files_hashed, report.audit_entries) == (3, 3, 2)
    assert report.bytes_hashed == sum(runtime.evidence.path(sha).stat().st_size for _, sha in stored.values())


def test_altered_missing_orphan_and_stray_are_each_reported(runtime, stored):
    store = runtime.evidence
    _, altered_sha = stored["IMG_0.jpg"]
    with open(_writable(store.path(altered_sha)), "r+b") as fh:  # flip one byte in the middle
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 0xFF]))
    _, missing_sha = stored["IMG_1.jpg"]
    store.path(missing_sha).unlink()
    orphan_sha, _ = store.put(b"bytes no photo row refers to")
    stray = store.objects_dir / "ab" / "notes.txt"
    stray.parent.mkdir(exist_ok=True)
    stray.write_text("hello")

    report = fixity.verify(runtime)
    kinds = {(p.kind, p.subject) for p in report.problems}
    assert kinds == {("altered", altered_sha), ("missing", missing_sha), ("orphan", orphan_sha),
                     ("stray", "objects/ab/notes.txt")}
    [altered] = report.by_kind("altered")
    assert "IMG_0.jpg" in altered.message and "now hashes to" in altered.message
    [missing] = report.by_kind("missing")
    assert f"photo {stored['IMG_1.jpg'][0]} (IMG_1.jpg)" in missing.message and "is missing" in missing.message


def test_truncated_original_is_altered_even_if_the_prefix_is_intact(runtime, stored):
    _, sha = stored["IMG_2.jpg"]
    path = _writable(runtime.evidence.path(sha))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    [problem] = fixity.verify(runtime).problems
    assert problem.kind == "altered" and problem.subject == sha


def test_audit_chain_problems_are_included(runtime, stored):
    head = audit.head(runtime)
    assert fixity.verify(runtime, expect_head=head).ok
    [problem] = fixity.verify(runtime, expect_head=(head[0] + 5, "0" * 64)).problems
    assert problem.kind == "audit" and "head" in problem.message


def test_cli_verify_exit_codes_and_json(runtime, stored, settings):
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]
    ok = runner.invoke(main, [*base, "verify"])
    assert ok.exit_code == 0, ok.output
    assert "3 photos, 3 originals re-hashed" in ok.output and "OK" in ok.output
    _, sha = stored["IMG_1.jpg"]
    runtime.evidence.path(sha).unlink()
    bad = runner.invoke(main, [*base, "verify"])
    assert bad.exit_code == 1
    assert f"missing: photo {stored['IMG_1.jpg'][0]} (IMG_1.jpg)" in bad.output
    assert "1 problem(s) found" in bad.output
    as_json = runner.invoke(main, [*base, "verify", "--json", "--no-audit"])
    body = json.loads(as_json.output)
    assert as_json.exit_code == 1 and body["ok"] is False
    assert [p["kind"] for p in body["problems"]] == ["missing"] and body["audit_entries"] == 0
    bad_head = runner.invoke(main, [*base, "verify", "--expect-head", "nonsense"])
    assert bad_head.exit_code == 2 and "SEQ:HASH" in bad_head.output
