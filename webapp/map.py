"""The map page: a folium/Leaflet map in a sandboxed frame, fed by the JSON API by viewport.

``/map`` is a normal page (strict CSP) with the filter form and the datum notice; the map itself
is ``/map/frame`` (folium writes inline scripts, so that route alone allows ``'unsafe-inline'``
scripts) shown in an ``<iframe sandbox>``. An optional local MBTiles or PMTiles basemap is served from
``/tiles/<z>/<x>/<y>``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from fieldkit import basemap, queries
from fieldkit.geo import chinese
from fieldkit.store.models import LAYER_KINDS

from .api import display_datum, runtime
from .folium_offline import offline_map
from .security import csp, current_viewer, role_required

bp = Blueprint("map", __name__)
FRAME_SANDBOX = "allow-scripts allow-same-origin allow-popups allow-top-navigation-by-user-activation"
SENTINEL = 987654321  # stands for a photo id in URL templates handed to JavaScript


def kind_labels() -> dict[str, str]:
    """Translated names of the layer kinds, in legend order."""
    return {"great_wall": _("Great Wall"), "river": _("Rivers"), "fitness_site": _("Fitness sites"),
            "boundary": _("Boundaries")}


def source_labels() -> dict[str, str]:
    """Translated names of how a photo was placed."""
    return {"exif": _("Photo GPS (EXIF)"), "gpx": _("GPX track"), "device": _("Phone position at upload"),
            "manual": _("Pin dropped by hand"), "none": _("Not placed")}


def datum_label() -> str:
    """What the page says about the coordinates it shows."""
    return _("Coordinates: GCJ-02 (basemap)") if display_datum() == "gcj02" else _("Coordinates: WGS84")


@bp.get("/map")
@role_required()
def page():
    """The map page: filters, legend note, datum, and the map frame."""
    choices = queries.filter_choices(runtime(), current_viewer())
    frame_url = url_for("map.frame", **request.args.to_dict(flat=False))
    return render_template("map/page.html", choices=choices, kinds=kind_labels(), frame_url=frame_url,
                           sandbox=FRAME_SANDBOX, datum_label=datum_label(), args=request.args,
                           selected_kinds=request.args.getlist("kind") or list(LAYER_KINDS))


@bp.get("/map/frame")
@role_required()
@csp(script_src="'self' 'unsafe-inline'")
def frame():
    """The folium map itself (inline scripts allowed here only)."""
    html = offline_map(lambda path: url_for("static", filename=path), _frame_config(),
                       fullscreen_titles=(_("Full screen"), _("Exit full screen")))
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}


def _frame_config() -> dict:
    datum = display_datum()
    ext = queries.data_extent(runtime(), current_viewer())
    bounds = None
    if ext is not None:
        (x0, x1), (y0, y1) = chinese_shift([ext.minx, ext.maxx], [ext.miny, ext.maxy], datum)
        bounds = [[y0, x0], [y1, x1]]
    args = request.args
    photo_url = url_for("photos.detail", photo_id=SENTINEL)
    return {
        "bounds": bounds, "datum": datum, "labelZoom": 11,
        "api": {"features": url_for("api.features"), "photos": url_for("api.photos"),
                "photo": url_for("api.photo", photo_id=SENTINEL), "page": photo_url,
                "thumb": url_for("photos.thumb", photo_id=SENTINEL), "sentinel": str(SENTINEL)},
        "filters": {"kind": [k for k in args.getlist("kind") if k in LAYER_KINDS] or list(LAYER_KINDS),
                    "inspection": args.get("inspection", ""), "inspector": args.get("inspector", ""),
                    "from": args.get("from", ""), "to": args.get("to", "")},
        "basemap": _basemap_config(),
        "findings": _findings_config(),
        "i18n": {"kinds": kind_labels(), "sources": source_labels(), "photos": _("Photos"),
                 "legend": _("Legend"), "basemap": _("Basemap"), "taken": _("Taken"),
                 "placed": _("Placed by"), "nearest": _("Nearest"), "camera": _("Camera"),
                 "open": _("Open photo page"), "loading": _("Loading…"), "zoomIn": _("Zoom in to see"),
                 "failed": _("Could not load"), "none": _("none within tolerance"), "m": _("m")},
    }


def _findings_config() -> dict | None:
    """The findings overlay: API and page URLs, domain names, labels (None without the blueprint)."""
    if "findings" not in current_app.blueprints:
        return None
    from .findings import taxonomy

    english = str(get_locale() or "").startswith("en")
    return {
        "api": url_for("findings.api_list"), "page": url_for("findings.detail", finding_id=SENTINEL),
        "english": english,
        "domains": [{"id": d.id, "name": d.name_en if english else d.name_zh} for d in taxonomy().domains],
        "i18n": {"title": _("Findings"), "severity": _("Severity"), "state": _("State"),
                 "feature": _("Feature"), "open": _("Open finding page"), "closed": _("Closed findings"),
                 "states": {"open": _("Finding open"), "closed": _("Finding closed")},
                 "severities": {"low": _("low"), "medium": _("medium"), "high": _("high"),
                                "critical": _("critical")}},
    }


def chinese_shift(lons, lats, datum: str):
    """Shift lon/lat lists WGS84 → GCJ-02 when the map shows GCJ-02."""
    if datum != "gcj02":
        return lons, lats
    x, y = chinese.wgs84_to_gcj02(lons, lats)
    return [float(v) for v in x], [float(v) for v in y]


def _basemap_config() -> dict | None:
    url = runtime().settings.basemap_url
    if not url:
        return None
    if "://" not in url:
        url = url_for("map.tile", z=0, x=0, y=0).replace("/0/0/0", "/{z}/{x}/{y}")
    return {"url": url, "attribution": _("Basemap")}


@bp.get("/tiles/<int:z>/<int:x>/<int:y>")
@role_required()
def tile(z: int, x: int, y: int):
    """A raster tile (XYZ) from the configured local ``.mbtiles`` or ``.pmtiles`` file.

    No such tile, no local basemap, or an unreadable file → 404 (the last logged as a warning)."""
    path = runtime().settings.basemap_url
    if not basemap.is_local(path) or not basemap.in_range(z, x, y) or not Path(path).is_file():
        abort(404)
    try:
        data = basemap.cached_tiles(path).get(z, x, y)
    except basemap.BasemapError as exc:
        current_app.logger.warning("%s", exc)
        abort(404)
    if data is None:
        abort(404)
    return data, 200, {"Content-Type": basemap.mime(data), "Cache-Control": "private, max-age=86400"}
