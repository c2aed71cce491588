"""The meeting pack's single HTML page: vendored Leaflet inlined, data as inline JSON, no network.

Safety: the data goes into a ``<script type="application/json">`` element with ``<``, ``>``,
``&`` and U+2028/2029 escaped, so no value can close the element; the page's script builds
every popup, tooltip and list entry with ``textContent`` (never ``innerHTML`` of data); a
Content-Security-Policy forbids every network request (``connect-src 'none'``, images only
from ``data:`` and files beside the page). Below the map a "统计图表" section shows the charts as
plain ``<img>`` elements (``charts/*.png`` beside the page, or ``data:`` URIs), their alt text and
captions HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .pack_charts import PackChart

LEAFLET_DIR = "leaflet-1.9.4"
_MARKER_RE = re.compile(r"%%([A-Z_]+)%%")
_CSS_URL_RE = re.compile(r"url\((images/[A-Za-z0-9_.-]+\.png)\)")
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: file: 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'")


def vendor_dir() -> Path:
    """``webapp/static/vendor`` found on disk (the package is located, never imported)."""
    spec = importlib.util.find_spec("webapp")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for base in locations:
        candidate = Path(base) / "static" / "vendor"
        if (candidate / LEAFLET_DIR / "leaflet.js").is_file():
            return candidate
    raise ConfigError(f"vendored Leaflet not found (webapp/static/vendor/{LEAFLET_DIR}); "
                      "the meeting pack needs the webapp package's static files")


def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and its CSS with the CSS's images inlined as ``data:`` URIs."""
    base = vendor_dir() / LEAFLET_DIR
    js = (base / "leaflet.js").read_text("utf-8")
    css = (base / "leaflet.css").read_text("utf-8")

    def inline(match: re.Match) -> str:
        data = base64.b64encode((base / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = _CSS_URL_RE.sub(inline, css)
    return js.replace("</", "<\\/"), css.replace("</", "<\\/")


def json_for_script(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: nothing in it can end the element or a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text


def charts_section(charts: Sequence[tuple[str, PackChart]]) -> str:
    """The "统计图表" section: one ``<figure>`` per ``(image URL, chart)``; empty without charts."""
    if not charts:
        return ""
    figures = "\n".join(
        f'<figure class="fk-chart" data-chart="{html.escape(c.name)}">'
        f'<img src="{html.escape(src)}" alt="{html.escape(c.alt)}" loading="eager">'
        f"<figcaption>{html.escape(c.title)}：{html.escape(c.caption)}</figcaption></figure>"
        for src, c in charts)
    return ('<section id="fk-charts" aria-labelledby="fk-charts-title">'
            f'<h2 id="fk-charts-title">统计图表</h2><div class="fk-chart-grid">\n{figures}\n</div></section>')


def render_page(data: dict[str, Any], title: str, charts: Sequence[tuple[str, PackChart]] = ()) -> str:
    """The complete HTML page for ``data`` (see :func:`fieldkit.exports.pack.pack_data`) with
    ``charts`` as ``(image URL, chart)`` pairs shown below the map."""
    js, css = leaflet_assets()
    parts = {"TITLE": html.escape(title), "CSP": html.escape(CSP), "CHARTS": charts_section(charts),
             "LEAFLET_CSS": css, "LEAFLET_JS": js, "DATA": json_for_script(data), "APP_JS": APP_JS}
    # one pass over the template: text put in (a title, the data) is never searched for markers
    return _MARKER_RE.sub(lambda m: parts[m.group(1)], PAGE)


PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="%%CSP%%">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%%TITLE%%</title>
<style>%%LEAFLET_CSS%%</style>
<style>
html, body { margin: 0; font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
header { padding: 6px 12px; background: #1f3b5a; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
header p { margin: 2px 0 0; font-size: 13px; opacity: .85; }
#map { height: calc(100vh - 56px); min-height: 360px; background: #f4f1ea; }
#fk-charts { padding: 8px 12px 16px; }
#fk-charts h2 { font-size: 17px; margin: 4px 0 8px; }
.fk-chart-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
.fk-chart { margin: 0; border: 1px solid #ddd; padding: 6px; background: #fff; }
.fk-chart img { display: block; width: 100%; height: auto; }
.fk-chart figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.fk-legend { background: #fff; padding: 6px 8px; font-size: 13px; line-height: 1.6; border-radius: 4px; }
.fk-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 4px; vertical-align: middle; }
.fk-popup h3 { font-size: 15px; margin: 0 0 4px; }
.fk-popup dl { margin: 0; font-size: 13px; display: grid; grid-template-columns: auto 1fr; gap: 1px 8px; }
.fk-popup dt { color: #555; }
.fk-popup dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
.fk-thumbs img { max-width: 150px; max-height: 110px; margin: 4px 4px 0 0; border: 1px solid #ccc; }
</style>
</head>
<body>
<header><h1 id="fk-title"></h1><p id="fk-scope"></p></header>
<div id="map" role="application" aria-label="地图"></div>
%%CHARTS%%
<script type="application/json" id="fk-data">%%DATA%%</script>
<script>%%LEAFLET_JS%%</script>
<script>%%APP_JS%%</script>
</body>
</html>
"""

APP_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fk-data").textContent);
  document.getElementById("fk-title").textContent = data.title;
  document.getElementById("fk-scope").textContent = data.subtitle;
  var map = L.map("map", { preferCanvas: false, attributionControl: false });
  map.setView([35, 105], 4);  // a view first: vector markers get their elements when added
  L.control.scale({ imperial: false }).addTo(map);
  var photosById = {};
  data.photos.forEach(function (p) { photosById[p.id] = p; });

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function popup(title, rows, photoIds) {
    var box = el("div", null, "fk-popup");
    box.appendChild(el("h3", title));
    var dl = el("dl");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") { return; }
      dl.appendChild(el("dt", r[0]));
      dl.appendChild(el("dd", r[1]));
    });
    box.appendChild(dl);
    var thumbs = el("div", null, "fk-thumbs");
    (photoIds || []).forEach(function (id) {
      var p = photosById[id];
      if (!p || !p.thumb) { return; }
      var img = el("img");
      img.src = p.thumb;
      img.alt = p.name;
      img.title = p.name;
      thumbs.appendChild(img);
    });
    box.appendChild(thumbs);
    return box;
  }

  var bounds = L.latLngBounds([]);
  var features = L.geoJSON(data.features, {
    style: function (f) { return { color: f.properties.color, weight: 3, opacity: 0.8, fillOpacity: 0.15 }; },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindTooltip(el("span", p.name || p.fid));
      layer.bindPopup(popup(p.name || p.fid, [["编号", p.fid], ["类型", p.kind_zh], ["图层", p.layer]]));
    }
  }).addTo(map);
  if (data.features.features.length) { bounds.extend(features.getBounds()); }

  var photoCount = 0;
  data.photos.forEach(function (p) {
    if (p.lat === null || p.lon === null) { return; }
    var m = L.circleMarker([p.lat, p.lon], { radius: 5, color: "#1f6fb2", fillColor: "#4a9be0", fillOpacity: 0.9, weight: 1 });
    m.bindTooltip(el("span", p.name));
    m.bindPopup(popup(p.name, [["拍摄时间", p.taken], ["定位方式", p.source_zh], ["上传人", p.uploaded_by],
                               ["巡查", p.inspection], ["SHA-256", p.sha256]], [p.id]), { maxWidth: 360 });
    m.addTo(map);
    bounds.extend(m.getLatLng());
    photoCount += 1;
  });

  var findingCount = 0;
  data.findings.forEach(function (f) {
    var m = L.circleMarker([f.lat, f.lon], { radius: 9, color: "#8b0000", fillColor: f.state === "closed" ? "#6aa84f" : "#d9342b", fillOpacity: 0.9, weight: 2 });
    m.bindTooltip(el("span", f.category_zh + " #" + f.id));
    m.bindPopup(popup(f.category_zh + " #" + f.id, [["状态", f.state_zh], ["严重程度", f.severity_zh],
      ["问题描述", f.note], ["地点", f.place], ["要素", f.feature], ["桩号", f.chainage],
      ["发现时间", f.observed], ["所属案件", f.cases]], f.photo_ids), { maxWidth: 360 });
    m.addTo(map);
    m.getElement().setAttribute("data-finding-id", String(f.id));
    bounds.extend(m.getLatLng());
    findingCount += 1;
  });

  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var box = el("div", null, "fk-legend");
    [["#d9342b", "问题（未整改）"], ["#6aa84f", "问题（已整改）"], ["#4a9be0", "照片"]].forEach(function (row) {
      var line = el("div");
      var sw = el("span", null, "fk-swatch");
      sw.style.background = row[0];
      line.appendChild(sw);
      line.appendChild(document.createTextNode(row[1]));
      box.appendChild(line);
    });
    box.appendChild(el("div", "北 ↑"));
    return box;
  };
  legend.addTo(map);
  if (bounds.isValid()) { map.fitBounds(bounds.pad(0.1), { maxZoom: 17 }); }
  document.body.setAttribute("data-features-drawn", String(data.features.features.length));
  document.body.setAttribute("data-findings-drawn", String(findingCount));
  document.body.setAttribute("data-markers-drawn", String(photoCount));
})();
"""
