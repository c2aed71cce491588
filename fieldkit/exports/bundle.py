"""Evidence bundles: the original photos of a case in a zip, with a manifest to verify them.

Layout::

    photos/<original name>     the stored originals, byte for byte (names made safe, duplicates
                               numbered "name (2).jpg")
    manifest.json              per file: member, SHA-256, size, capture time, place and how it was
                               placed, who uploaded it, original name, findings; the case
    manifest.csv               the same, one row per file, for people (UTF-8 with BOM)
    manifest.sha256            SHA-256 of manifest.json ("<hex>  manifest.json")

:func:`verify_bundle` reads the zip without extracting it, refuses unsafe member names and
reports every altered, missing or extra member and any edit of the manifest.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from ..errors import NotFoundError, StorageError
from ..store import Case, CaseFinding, FindingPhoto
from ..store.models import utcnow
from ..labels import CASE_STATES_ZH, LOCATION_SOURCES_ZH, zh
from .safety import neutralise_cell, safe_member_name
from .scope import UNRESTRICTED, ExportScope, first_submission, scope_photos

FORMAT = "fieldkit-evidence-bundle"
VERSION = 1
MANIFEST, MANIFEST_CSV, MANIFEST_HASH = "manifest.json", "manifest.csv", "manifest.sha256"
PHOTO_DIR = "photos/"
CSV_COLUMNS = (
    ("member", "文件"), ("sha256", "SHA-256"), ("size_bytes", "字节数"), ("original_name", "原始文件名"),
    ("taken_at", "拍摄时间（设备所记）"), ("taken_at_utc", "拍摄时间（UTC）"), ("lon", "经度"), ("lat", "纬度"),
    ("placed_by_zh", "定位方式"), ("uploaded_by", "上传人"), ("uploaded_at_utc", "上传时间（UTC）"),
    ("finding_ids", "问题编号"),
)


def case_photo_ids(rt, case_id: int) -> tuple[Case, dict[int, list[int]]]:
    """The case and its photos: photo id → ids of the case's findings it shows."""
    with rt.db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        rows = s.execute(select(FindingPhoto.photo_id, FindingPhoto.finding_id)
                         .join(CaseFinding, CaseFinding.finding_id == FindingPhoto.finding_id)
                         .where(CaseFinding.case_id == case_id)
                         .order_by(FindingPhoto.finding_id, FindingPhoto.position)).all()
    photos: dict[int, list[int]] = {}
    for pid, fid in rows:
        photos.setdefault(pid, []).append(fid)
    return case, photos


def build_manifest(rt, case_id: int, viewer: Any = UNRESTRICTED, *, created_by: str | None = None) -> dict:
    """The manifest of a case's bundle (members named, hashes from the database)."""
    case, by_photo = case_photo_ids(rt, case_id)
    records = scope_photos(rt, ExportScope(), viewer, ids=list(by_photo))
    if len(records) < len(by_photo):
        raise NotFoundError(f"case {case_id}: {len(by_photo) - len(records)} photo(s) are not visible to you")
    uploads = first_submission(rt, [p.id for p in records])
    used: set[str] = set()
    files = []
    for p in records:
        member = PHOTO_DIR + safe_member_name(p.original_name, used)
        up_user, up_at = uploads.get(p.id, (None, p.ingested_at))
        files.append({
            "member": member, "photo_id": p.id, "sha256": p.sha256, "size_bytes": p.size_bytes,
            "original_name": p.original_name, "taken_at": p.taken_at, "taken_at_utc": _iso(p.taken_at_utc),
            "lon": p.lon, "lat": p.lat, "placed_by": p.location_source, "location_note": p.location_note,
            "uploaded_by": p.uploaded_by or up_user, "uploaded_at_utc": _iso(up_at),
            "inspection": p.inspection, "finding_ids": by_photo[p.id],
        })
    return {
        "format": FORMAT, "version": VERSION, "created_at_utc": _iso(utcnow()), "created_by": created_by,
        "case": {"id": case.id, "title": case.title, "responsible_body": case.responsible_body,
                 "state": case.state, "state_zh": zh(CASE_STATES_ZH, case.state)},
        "note": "拍摄时间与位置为设备所记（device-claimed）；SHA-256 为入库时计算的原件校验值。",
        "files": files,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=None).isoformat() + "Z"


def manifest_bytes(manifest: dict) -> bytes:
    """The canonical JSON of a manifest (sorted keys, UTF-8, two-space indent)."""
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def manifest_csv(manifest: dict) -> bytes:
    """The human-readable CSV of a manifest (Chinese headers, UTF-8 BOM, cells neutralised)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([zh_name for _, zh_name in CSV_COLUMNS])
    for f in manifest["files"]:
        row = {**f, "placed_by_zh": zh(LOCATION_SOURCES_ZH, f["placed_by"]),
               "finding_ids": "、".join(map(str, f["finding_ids"]))}
        out.writerow([neutralise_cell(row.get(key)) for key, _ in CSV_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


def make_bundle(rt, case_id: int, path: str | Path, viewer: Any = UNRESTRICTED, *,
                created_by: str | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the evidence bundle of ``case_id`` to ``path``; return the manifest plus its
    ``manifest_sha256``. Originals are streamed from the store and re-hashed on the way: a
    stored file that no longer matches its SHA-256 stops the bundle (StorageError).
    ``progress(done, total)`` is called after each original (the slow part: all their bytes)."""
    manifest = build_manifest(rt, case_id, viewer, created_by=created_by)
    data = manifest_bytes(manifest)
    digest = hashlib.sha256(data).hexdigest()
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for done, f in enumerate(manifest["files"], start=1):
                _copy_original(rt, zf, f)
                if progress is not None:
                    progress(done, len(manifest["files"]))
            zf.writestr(MANIFEST, data, zipfile.ZIP_DEFLATED)
            zf.writestr(MANIFEST_CSV, manifest_csv(manifest), zipfile.ZIP_DEFLATED)
            zf.writestr(MANIFEST_HASH, f"{digest}  {MANIFEST}\n")
        tmp.replace(path)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the bundle ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return {**manifest, "manifest_sha256": digest}


def _copy_original(rt, zf: zipfile.ZipFile, f: dict) -> None:
    digest = hashlib.sha256()
    info = zipfile.ZipInfo(f["member"], date_time=_zip_time(f["taken_at_utc"]))
    info.compress_type = zipfile.ZIP_STORED  # JPEG/HEIC do not compress; stored is byte-visible
    with rt.evidence.open(f["sha256"]) as src, zf.open(info, "w", force_zip64=True) as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    if digest.hexdigest() != f["sha256"]:
        raise StorageError(f"evidence {f['sha256']} ({f['original_name']}): the stored original no longer "
                           "matches its SHA-256; run a fixity check before bundling")


def _zip_time(iso: str | None) -> tuple[int, int, int, int, int, int]:
    if iso is None:
        return (1980, 1, 1, 0, 0, 0)
    t = dt.datetime.fromisoformat(iso.rstrip("Z"))
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)
