"""OpenAPI 3.1 description of the JSON API (served at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from fieldkit.store.models import LAYER_KINDS, LOCATION_SOURCES


def _q(name: str, desc: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": schema or {"type": "string"}}


BBOX = _q("bbox", "Viewport minx,miny,maxx,maxy in lon/lat degrees (in the display datum).",
          {"type": "string", "pattern": r"^-?[\d.]+,-?[\d.]+,-?[\d.]+,-?[\d.]+$"})
DATUM = _q("datum", "Coordinates in and out: wgs84 or gcj02 (default: the basemap's).",
           {"type": "string", "enum": ["wgs84", "gcj02"]})
ERRORS = {
    "400": {"$ref": "#/components/responses/Error"},
    "401": {"$ref": "#/components/responses/Error"},
}
POINT = {"type": "object", "required": ["type", "coordinates"],
         "properties": {"type": {"const": "Point"},
                        "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2}}}


def _fc(props: dict) -> dict:
    return {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"const": "FeatureCollection"},
        "properties": {"type": "object"},
        "features": {"type": "array", "items": {"type": "object", "properties": {
            "type": {"const": "Feature"}, "id": {"type": "integer"},
            "geometry": {"type": "object"}, "properties": props}}}}}


PHOTO_POINT_PROPS = {"type": "object", "properties": {
    "id": {"type": "integer"}, "t": {"type": ["string", "null"]},
    "src": {"type": "string", "enum": list(LOCATION_SOURCES)},
    "cluster": {"type": "boolean"}, "count": {"type": "integer"}}}
FEATURE_PROPS = {"type": "object", "properties": {
    "id": {"type": "integer"}, "fid": {"type": "string"}, "name": {"type": ["string", "null"]},
    "kind": {"type": "string", "enum": list(LAYER_KINDS)}, "layer": {"type": "string"},
    "layer_name": {"type": "string"}}}
NEAREST = {"type": "object", "properties": {
    "layer": {"type": "string"}, "layer_name": {"type": "string"}, "kind": {"type": "string"},
    "feature_id": {"type": "integer"}, "fid": {"type": "string"}, "name": {"type": ["string", "null"]},
    "distance_m": {"type": "number"}, "chainage_m": {"type": ["number", "null"]},
    "chainage": {"type": ["string", "null"], "examples": ["K12+300"]}, "by_bearing": {"type": "boolean"}}}
NULLABLE_STR = {"type": ["string", "null"]}
PHOTO = {"type": "object", "required": ["id", "sha256", "location_source"], "properties": {
    "id": {"type": "integer"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "original_name": {"type": "string"}, "size_bytes": {"type": "integer"},
    "format": NULLABLE_STR, "width": {"type": ["integer", "null"]}, "height": {"type": ["integer", "null"]},
    "make": NULLABLE_STR, "model": NULLABLE_STR, "taken_at": NULLABLE_STR, "taken_at_utc": NULLABLE_STR,
    "lon": {"type": ["number", "null"]}, "lat": {"type": ["number", "null"]},
    "alt": {"type": ["number", "null"]}, "bearing": {"type": ["number", "null"]},
    "location_source": {"type": "string", "enum": list(LOCATION_SOURCES)}, "location_note": NULLABLE_STR,
    "datum": {"type": "string"}, "inspection": {"type": ["object", "null"]}, "uploaded_by": NULLABLE_STR,
    "ingested_at": NULLABLE_STR, "nearest": {"type": "array", "items": NEAREST},
    "submissions": {"type": "array", "items": {"type": "object"}},
    "can_download": {"type": "boolean"}, "can_place": {"type": "boolean"}}}
UPLOAD_RESULT = {"type": "object", "properties": {
    "name": {"type": "string"}, "status": {"type": "string", "enum": ["ingested", "duplicate", "failed"]},
    "outcome": {"type": "string", "enum": ["placed", "duplicate", "unplaced", "failed"]},
    "photo_id": {"type": ["integer", "null"]}, "sha256": NULLABLE_STR, "placed_by": NULLABLE_STR,
    "error": NULLABLE_STR, "url": NULLABLE_STR}}


def _get(summary: str, params: list, schema: dict, media: str = "application/json") -> dict:
    return {"get": {"summary": summary, "parameters": params, "security": [{"session": []}],
                    "responses": {"200": {"description": "OK", "content": {media: {"schema": schema}}},
                                  **ERRORS}}}


def _paths() -> dict[str, Any]:
    geo = "application/geo+json"
    photo_id = {"name": "photo_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    place_body = {"type": "object", "required": ["lat", "lon"], "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "datum": {"type": "string", "enum": ["wgs84", "gcj02"]}}}
    place_op = {"summary": "Place an unplaced photo by hand (recorded as manual)", "parameters": [photo_id],
                "security": [{"session": [], "csrf": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": place_body}}},
                "responses": {"200": {"description": "The placed photo",
                                      "content": {"application/json": {"schema": PHOTO}}},
                              **ERRORS, "403": {"$ref": "#/components/responses/Error"},
                              "404": {"$ref": "#/components/responses/Error"},
                              "409": {"$ref": "#/components/responses/Error"}}}
    upload_body = {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"}},
        "gpx": {"type": "string", "contentMediaType": "application/gpx+xml"},
        "device_lat": {"type": "number"}, "device_lon": {"type": "number"},
        "device_accuracy": {"type": "number"}, "inspection": {"type": "string"},
        "time_offset": {"type": "string"}, "camera_tz": {"type": "string"}}}
    paths = {
        "/api/layers": _get("All layers", [], {"type": "object", "properties": {
            "layers": {"type": "array", "items": {"type": "object"}}}}),
        "/api/features": _get("Layer features whose bounding box meets bbox", [
            BBOX, _q("kind", "Comma-separated kinds: " + ", ".join(LAYER_KINDS)),
            _q("layer", "One layer, by slug or id"), DATUM], _fc(FEATURE_PROPS), geo),
        "/api/photos": _get("Placed photos the caller may see, in bbox; grid clusters when very many", [
            BBOX, _q("inspection", "Inspection id", {"type": "integer"}),
            _q("inspector", "Uploader username or id"),
            _q("from", "Taken on or after (UTC date)", {"type": "string", "format": "date"}),
            _q("to", "Taken on or before (UTC date)", {"type": "string", "format": "date"}), DATUM],
            _fc(PHOTO_POINT_PROPS), geo),
        "/api/photos/{photo_id}": _get("One photo (404 when absent or not visible)", [photo_id, DATUM], PHOTO),
        "/api/photos/{photo_id}/location": {"post": place_op, "patch": place_op},
        "/api/uploads": {"post": {
            "summary": "Upload photos (one or more files), optionally with a GPX track and device position",
            "security": [{"session": [], "csrf": []}],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": upload_body}}},
            "responses": {"200": {"description": "One result per file", "content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "results": {"type": "array", "items": UPLOAD_RESULT}}}}}},
                **ERRORS, "403": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"}}}},
    }
    from .findings import OPENAPI_PATHS as findings_paths

    return {**paths, **findings_paths}


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "FieldKit API", "version": "1",
                 "description": "Layers, features and evidence photos for public-interest field inspections. "
                                "Coordinates are lon/lat WGS84 unless datum=gcj02."},
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"}},
            "responses": {"Error": {"description": "An error with its reason", "content": {
                "application/json": {"schema": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "type": {"type": "string"}}}}}}},
        },
    }
