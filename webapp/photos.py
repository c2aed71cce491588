"""Photo pages: the list, one photo (preview, metadata, nearest features), images, the original.

Every route checks the viewer may see the photo (404 otherwise). Previews and thumbnails come
from the evidence store's derivatives; the original goes out only as an attachment with
``nosniff`` and ``CSP: sandbox`` so a hostile file can never render as a page.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, send_file
from sqlalchemy import func, select

from fieldkit import queries
from fieldkit.store import Photo

from .api import attachment, runtime
from .map import source_labels
from .security import csp, current_viewer, recent_login_required, role_required

bp = Blueprint("photos", __name__, url_prefix="/photos")
PAGE_SIZE = 50


@bp.get("")
@role_required()
def index():
    """Visible photos, newest first, paginated."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    where = queries.visibility_clause(current_viewer())
    with runtime().db.session() as s:
        total = s.scalar(select(func.count(Photo.id)).where(where)) or 0
        rows = s.scalars(select(Photo).where(where).order_by(Photo.id.desc())
                         .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return render_template("photos/list.html", photos=rows, total=total, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), sources=source_labels())


@bp.get("/<int:photo_id>")
@role_required()
def detail(photo_id: int):
    """One photo: preview, metadata, location source, nearest features, SHA-256, download."""
    d = queries.photo_detail(runtime(), photo_id, current_viewer())
    return render_template("photos/detail.html", p=d, sources=source_labels())


def _derivative(photo_id: int, kind: str):
    photo, _uploader = queries.get_photo(runtime(), photo_id, current_viewer())
    store = runtime().evidence
    path = store.preview_path(photo.sha256) if kind == "preview" else store.thumb_path(photo.sha256)
    if not path.is_file():
        abort(404)
    resp = send_file(path, mimetype="image/jpeg", max_age=86400, conditional=True)
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


@bp.get("/<int:photo_id>/preview")
@role_required()
def preview(photo_id: int):
    """The ~1600 px upright JPEG preview."""
    return _derivative(photo_id, "preview")


@bp.get("/<int:photo_id>/thumb")
@role_required()
def thumb(photo_id: int):
    """The ~320 px thumbnail (used in map popups)."""
    return _derivative(photo_id, "thumb")


@bp.get("/<int:photo_id>/original")
@role_required()
@recent_login_required
@csp(sandbox="", default_src="'none'")
def original(photo_id: int):
    """The untouched original, as an attachment, to those allowed to download it."""
    photo, uploader = queries.get_photo(runtime(), photo_id, current_viewer())
    if not queries.can_download_original(current_viewer(), photo, uploader):
        abort(403)
    path = runtime().evidence.path(photo.sha256)
    if not path.is_file():
        abort(404)
    resp = attachment(path, "application/octet-stream", photo.original_name or f"{photo.sha256}.bin",
                      conditional=True)
    resp.headers["X-Original-SHA256"] = photo.sha256
    return resp
