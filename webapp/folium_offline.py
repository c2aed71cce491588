"""folium, made offline: the map page's Leaflet map composed with folium, every asset vendored.

Stock folium pulls Leaflet, jQuery, Bootstrap, Font Awesome and awesome-markers from CDNs
(unreliable or blocked in mainland China, absent on an offline laptop). Here the map and each
plugin get ``default_js``/``default_css`` pointing at ``/static/vendor/...`` and the assets the
page does not use are dropped. Data never goes into folium's inline script: the page's own
``static/app/map.js`` fetches it from the JSON API and builds popups with DOM text nodes.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import folium
from branca.element import MacroElement
from folium.plugins import Fullscreen
from folium.template import Template
from markupsafe import Markup

VENDOR = {
    "leaflet": "vendor/leaflet-1.9.4",
    "markercluster": "vendor/leaflet.markercluster-1.5.3",
    "fullscreen": "vendor/leaflet.fullscreen-3.0.2",
}
UrlFor = Callable[[str], str]


def htmlsafe_json(obj: Any) -> Markup:
    """JSON safe to put inside a ``<script>``: ``<``, ``>``, ``&`` and ``'`` are \\u-escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, rep)
    return Markup(text)


class FieldkitOverlay(MacroElement):
    """Hands the folium map to ``fieldkitMap(map, config)`` from ``static/app/map.js``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            fieldkitMap({{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any], js: list, css: list) -> None:
        super().__init__()
        self._name = "FieldkitOverlay"
        self.config_json = htmlsafe_json(config)
        self.default_js = js
        self.default_css = css

    def render(self, **kwargs):  # noqa: D102
        figure = self.get_root()
        for name, url in self.default_js:
            figure.header.add_child(folium.JavascriptLink(url), name=name)
        for name, url in self.default_css:
            figure.header.add_child(folium.CssLink(url), name=name)
        super().render(**kwargs)


def offline_map(static: UrlFor, config: dict[str, Any], *, fullscreen_titles: tuple[str, str]) -> str:
    """The complete HTML of the map frame: folium map, scale bar, fullscreen, FieldKit overlay.

    ``static(path)`` turns a path under ``webapp/static`` into a URL (``url_for('static', ...)``).
    ``config`` goes to ``map.js`` as JSON (bounds, API URLs, filters, translated labels).
    """
    m = folium.Map(location=config.get("center", [35.0, 105.0]), zoom_start=config.get("zoom", 5),
                   tiles=None, control_scale=True, prefer_canvas=True, attribution_control=True)
    m.default_js = [("leaflet", static(f"{VENDOR['leaflet']}/leaflet.js"))]
    m.default_css = [("leaflet_css", static(f"{VENDOR['leaflet']}/leaflet.css"))]
    fs = Fullscreen(position="topleft", title=fullscreen_titles[0], title_cancel=fullscreen_titles[1])
    fs.default_js = [("Control.Fullscreen.js", static(f"{VENDOR['fullscreen']}/Control.FullScreen.js"))]
    fs.default_css = [("Control.FullScreen.css", static(f"{VENDOR['fullscreen']}/Control.FullScreen.css"))]
    fs.add_to(m)
    js = [("markercluster_js", static(f"{VENDOR['markercluster']}/leaflet.markercluster.js")),
          ("fieldkit_map_js", static("app/map.js"))]
    css = [("markercluster_css", static(f"{VENDOR['markercluster']}/MarkerCluster.css")),
           ("markercluster_default_css", static(f"{VENDOR['markercluster']}/MarkerCluster.Default.css")),
           ("fieldkit_map_css", static("app/map.css"))]
    FieldkitOverlay(config, js, css).add_to(m)
    return m.get_root().render()
