"""Photo upload: the phone-friendly page and ``POST /api/uploads`` (one or more files per request).

The page sends one request per file (so each gets its own progress bar), each with the optional
GPX track and the phone's position. Client file names are kept only as metadata (NFC, control
characters removed, length-capped); files are stored under their SHA-256.
"""

from __future__ import annotations

import zoneinfo

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from fieldkit.errors import InputError
from fieldkit.photos.geotag import parse_gpx, parse_time_offset
from fieldkit.photos.ingest import ingest_upload
from fieldkit.photos.names import clean_name

from .api import display_datum, json_response, runtime
from .security import current_viewer, role_required, wants_json

bp = Blueprint("upload", __name__)
UPLOAD_ROLES = ("inspector", "admin")
DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # one request carries one phone photo (+ a GPX) from the page


@bp.record_once
def _limits(state) -> None:
    config = state.app.config
    if config.get("MAX_CONTENT_LENGTH") is None:
        config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BYTES
    config.setdefault("MAX_FORM_PARTS", 1000)


def outcome(status: str, placed_by: str | None) -> str:
    """What the page shows: placed / duplicate / unplaced / failed."""
    if status in ("failed", "duplicate"):
        return status
    return "unplaced" if placed_by in (None, "none") else "placed"


@bp.get("/upload")
@role_required(*UPLOAD_ROLES)
def page():
    """The upload page."""
    max_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    inspection = (request.args.get("inspection") or "").strip()[:200]  # preselected, e.g. by a look-back
    return render_template("upload/page.html", max_mb=max_mb, datum=display_datum(),
                           api_upload=url_for("upload.upload"), inspection=inspection)


@bp.post("/api/uploads")
@role_required(*UPLOAD_ROLES)
def upload():
    """Ingest every ``file`` part; answer one result per file."""
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        raise InputError("upload: no file in field 'file'")
    options = _options(request.form, request.files.get("gpx"))
    viewer = current_viewer()
    results = []
    for storage in files:
        name = clean_name(storage.filename)
        res = ingest_upload(runtime(), storage.read(), name, uploaded_by=viewer.id, **options)
        results.append(_result_dict(res, name))
    return json_response({"results": results})


def _options(form, gpx_file) -> dict:
    track = None
    if gpx_file is not None and gpx_file.filename:
        track = parse_gpx(gpx_file.read(), clean_name(gpx_file.filename))
    tz_name = (form.get("camera_tz") or "").strip()
    try:
        camera_tz = zoneinfo.ZoneInfo(tz_name) if tz_name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(f"camera_tz={tz_name!r}: not a known time zone (e.g. Asia/Shanghai)") from None
    offset = form.get("time_offset")
    return {"inspection": (form.get("inspection") or "").strip() or None, "track": track,
            "time_offset": parse_time_offset(offset) if offset else parse_time_offset("0"),
            "camera_tz": camera_tz, "device": _device(form)}


def _device(form) -> tuple | None:
    fields = ("device_lat", "device_lon", "device_accuracy")
    raw = [(form.get(f) or "").strip() for f in fields]
    if not raw[0] and not raw[1]:
        return None
    try:
        lat, lon = float(raw[0]), float(raw[1])
        acc = float(raw[2]) if raw[2] else None
    except ValueError:
        raise InputError(f"device position: {fields[0]}/{fields[1]} must be numbers, got {raw[0]!r}, {raw[1]!r}") from None
    crs = "gcj02" if form.get("device_datum") == "gcj02" else "EPSG:4326"
    return (lat, lon, acc, crs)


def _result_dict(res, name: str) -> dict:
    return {"name": name, "status": res.status, "outcome": outcome(res.status, res.placed_by),
            "photo_id": res.photo_id, "sha256": res.sha256, "placed_by": res.placed_by,
            "error": res.error, "note": res.note,
            "url": url_for("photos.detail", photo_id=res.photo_id) if res.photo_id else None}


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """413 with a message saying what the limit is."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    msg = _("The upload is too large: at most %(mb)d MB per file.", mb=limit // (1024 * 1024))
    if wants_json():
        return jsonify(error=msg, type="RequestEntityTooLarge", limit_bytes=limit), 413
    return render_template("upload/too_large.html", message=msg), 413
