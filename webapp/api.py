"""JSON / GeoJSON API: layers, features and photos by viewport, one photo, placing a photo.

Uploads are ``POST /api/uploads`` in :mod:`webapp.upload`; the OpenAPI description of all of
it is ``/api/openapi.json`` (:mod:`webapp.openapi`).
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
from flask import Blueprint, Response, current_app, request, send_file

from fieldkit import queries
from fieldkit.errors import InputError
from fieldkit.geo import chinese

from .security import current_viewer, role_required

bp = Blueprint("api", __name__, url_prefix="/api")


def runtime():
    """The library runtime of the running app."""
    return current_app.extensions["fieldkit"]


def display_datum() -> str:
    """Datum the overlays are drawn in: the basemap's when one is configured and it is GCJ-02."""
    settings = runtime().settings
    return "gcj02" if settings.basemap_url and settings.basemap_datum == "gcj02" else "wgs84"


def request_datum() -> str:
    """``?datum=`` if given (wgs84 / gcj02), else :func:`display_datum`."""
    return request.args.get("datum") or display_datum()


MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "kml": "application/vnd.google-earth.kml+xml",
    "csv": "text/csv; charset=utf-8",
}



def attachment(body: bytes | Path, mimetype: str, name: str, **options) -> Response:
    """A download saved as ``name`` (werkzeug adds ``filename*=UTF-8''…`` for Chinese names, RFC
    5987), never cached by shared caches; ``options`` go to ``send_file`` (e.g. ``conditional``)."""
    source = io.BytesIO(body) if isinstance(body, bytes) else body
    resp = send_file(source, mimetype=mimetype, as_attachment=True, download_name=name, **options)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def json_response(obj, mimetype: str = "application/json", status: int = 200) -> Response:
    """Serialise with orjson (fast for big collections); never cached by shared caches."""
    resp = Response(orjson.dumps(obj), status=status, mimetype=mimetype)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/layers")
@role_required()
def layers():
    """Every layer with kind, feature count and provenance."""
    return json_response({"layers": queries.layers_list(runtime())})


@bp.get("/features")
@role_required()
def features():
    """Features whose bbox meets ``bbox``, optionally of some ``kind``s or one ``layer``."""
    fc = queries.features_geojson(
        runtime(), queries.parse_bbox(request.args.get("bbox")), queries.parse_kinds(request.args.get("kind")),
        request.args.get("layer") or None, datum=request_datum(),
    )
    return json_response(fc, "application/geo+json")


@bp.get("/photos")
@role_required()
def photos():
    """Visible placed photos in ``bbox`` (grid clusters when there are very many)."""
    fc = queries.photos_geojson(
        runtime(), queries.parse_bbox(request.args.get("bbox")), queries.parse_photo_filters(request.args),
        current_viewer(), datum=request_datum(),
    )
    return json_response(fc, "application/geo+json")


@bp.get("/photos/<int:photo_id>")
@role_required()
def photo(photo_id: int):
    """One photo's metadata, placement and nearest features (404 when not visible)."""
    return json_response(queries.photo_detail(runtime(), photo_id, current_viewer(), datum=request_datum()))


@bp.route("/photos/<int:photo_id>/location", methods=["POST", "PATCH"])
@role_required("inspector", "admin")
def place(photo_id: int):
    """Place an unplaced photo by hand: JSON or form ``lat``, ``lon`` (and ``datum`` of the pin)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        raise InputError("location: expected a JSON object with lat and lon")
    lat, lon = _number(data, "lat"), _number(data, "lon")
    if (data.get("datum") or display_datum()) == "gcj02":
        lon, lat = (float(v) for v in chinese.gcj02_to_wgs84(lon, lat))
    detail = queries.place_photo(runtime(), photo_id, lat, lon, current_viewer())
    return json_response(detail)


def _number(data, name: str) -> float:
    raw = data.get(name)
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise InputError(f"location: field {name!r} must be a number, got {raw!r}") from None


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API (public: it holds no data)."""
    from .openapi import spec

    return json_response(spec())
