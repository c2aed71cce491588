/* FieldKit map: layers and photos from the JSON API by viewport.
 *
 * Safety rule: nothing from the data (names, EXIF text, file names) is ever given to innerHTML
 * or to a Leaflet API that takes an HTML string. Tooltips, popups and icons receive DOM
 * elements whose text is set with textContent.
 */
(function () {
  "use strict";

  var STYLES = {
    great_wall: { color: "#8b1a1a", weight: 5, opacity: 0.95 },
    river: { color: "#1f6fd1", weight: 3, opacity: 0.9 },
    boundary: { color: "#666666", weight: 2, dashArray: "6 5", fill: true, fillColor: "#999999", fillOpacity: 0.04 },
    fitness_site: { radius: 7, color: "#1d6b29", weight: 2, fillColor: "#2e9b3e", fillOpacity: 0.9 }
  };
  var SOURCE_COLOURS = { exif: "#c2410c", gpx: "#7c3aed", device: "#0e7490", manual: "#be185d", none: "#666" };
  var ORDER = ["boundary", "river", "great_wall", "fitness_site"];
  var FINDING_COLOURS = { great_wall: "#b91c1c", rivers: "#1d4ed8", fitness: "#15803d" };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function withId(template, sentinel, id) {
    return template.replace(sentinel, encodeURIComponent(String(id)));
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== "" && v !== null && v !== undefined) {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
      }
    });
    return parts.join("&");
  }

  function bboxOf(map) {
    var b = map.getBounds().pad(0.1);
    var r = function (v) { return Math.round(v * 1e6) / 1e6; };
    return [r(Math.max(b.getWest(), -180)), r(Math.max(b.getSouth(), -90)),
            r(Math.min(b.getEast(), 180)), r(Math.min(b.getNorth(), 90))].join(",");
  }

  function fetchJSON(url, signal) {
    return fetch(url, { credentials: "same-origin", signal: signal, headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      });
  }

  function legendControl(cfg) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = el("div", "fk-legend leaflet-bar");
      box.appendChild(el("strong", null, cfg.i18n.legend));
      ORDER.concat(["photos"]).forEach(function (kind) {
        var row = el("div", "fk-legend-row");
        row.appendChild(el("span", "fk-swatch fk-swatch-" + kind));
        row.appendChild(el("span", null, kind === "photos" ? cfg.i18n.photos : cfg.i18n.kinds[kind]));
        box.appendChild(row);
      });
      if (cfg.findings) {
        cfg.findings.domains.forEach(function (d) {
          var r = el("div", "fk-legend-row fk-legend-finding");
          var sw = el("span", "fk-swatch fk-swatch-finding");
          sw.style.background = findingColour(d.id);
          r.appendChild(sw);
          r.appendChild(el("span", null, cfg.findings.i18n.title + " · " + d.name));
          box.appendChild(r);
        });
        var closed = el("div", "fk-legend-row fk-legend-finding");
        closed.appendChild(el("span", "fk-swatch fk-swatch-finding fk-swatch-finding-closed"));
        closed.appendChild(el("span", null, cfg.findings.i18n.closed));
        box.appendChild(closed);
      }
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  function FieldkitMap(map, cfg) {
    this.map = map;
    this.cfg = cfg;
    if (map.getMaxZoom() === Infinity) { map.setMaxZoom(19); }  // folium sets none without tiles
    if (map.getMinZoom() === 0) { map.setMinZoom(2); }
    this.kindGroups = {};
    this.controller = null;
    this.photoCount = 0;
    this.markers = {};
    var self = this;
    var overlays = {};
    ORDER.forEach(function (kind) {
      self.kindGroups[kind] = L.featureGroup();
      if (cfg.filters.kind.indexOf(kind) >= 0) { self.kindGroups[kind].addTo(map); }
      overlays[cfg.i18n.kinds[kind]] = self.kindGroups[kind];
    });
    this.cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50 });
    this.serverClusters = L.layerGroup();
    this.photos = L.layerGroup([this.cluster, this.serverClusters]).addTo(map);
    overlays[cfg.i18n.photos] = this.photos;
    this.findingCount = 0;
    if (cfg.findings) {
      this.findings = L.featureGroup().addTo(map);
      overlays[cfg.findings.i18n.title] = this.findings;
    }
    var bases = {};
    if (cfg.basemap) {
      bases[cfg.i18n.basemap] = L.tileLayer(cfg.basemap.url, { maxZoom: 19, attribution: cfg.basemap.attribution }).addTo(map);
    } else {
      map.getContainer().classList.add("fk-nobasemap");
    }
    this.layerControl = L.control.layers(bases, overlays, { collapsed: window.innerWidth < 700 }).addTo(map);
    this.legend = legendControl(cfg).addTo(map);
    map.attributionControl.setPrefix(false);
    if (cfg.bounds) { map.fitBounds(cfg.bounds, { maxZoom: 15, animate: false }); }
    map.on("moveend", function () { self.load(); });
    this.load();
  }

  FieldkitMap.prototype.load = function () {
    var self = this;
    var cfg = this.cfg;
    if (this.controller) { this.controller.abort(); }
    this.controller = new AbortController();
    var bbox = bboxOf(this.map);
    var f = cfg.filters;
    var featuresUrl = cfg.api.features + "?" + query({ bbox: bbox, kind: f.kind.join(",") });
    var photosUrl = cfg.api.photos + "?" + query({ bbox: bbox, inspection: f.inspection, inspector: f.inspector, from: f.from, to: f.to });
    document.body.removeAttribute("data-markers-drawn");
    var jobs = [];
    if (f.kind.length) {
      jobs.push(fetchJSON(featuresUrl, this.controller.signal).then(function (fc) { self.drawFeatures(fc); }));
    }
    jobs.push(fetchJSON(photosUrl, this.controller.signal).then(function (fc) { self.drawPhotos(fc); }));
    if (cfg.findings && this.findings) {
      jobs.push(this.loadFindings(bbox, this.controller.signal));
    }
    Promise.all(jobs).then(function () {
      document.body.setAttribute("data-markers-drawn", String(self.photoCount));
    }).catch(function (err) {
      if (err.name !== "AbortError") { document.body.setAttribute("data-load-error", String(err.message)); }
    });
  };

  FieldkitMap.prototype.loadFindings = function (bbox, signal) {
    // Findings are a separate permission: a 401/403 hides the overlay quietly, the rest still draws.
    var self = this;
    var url = this.cfg.findings.api + "?" + query({ bbox: bbox });
    return fetch(url, { credentials: "same-origin", signal: signal, headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (resp.status === 401 || resp.status === 403) { self.hideFindings(); return null; }
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      })
      .then(function (fc) {
        if (fc) { self.drawFindings(fc); }
      });
  };

  FieldkitMap.prototype.hideFindings = function () {
    if (!this.findings) { return; }
    this.layerControl.removeLayer(this.findings);
    this.map.removeLayer(this.findings);
    this.findings = null;
    var rows = this.legend.getContainer().querySelectorAll(".fk-legend-finding");
    Array.prototype.forEach.call(rows, function (r) { r.parentNode.removeChild(r); });
    document.body.setAttribute("data-findings-hidden", "1");
  };

  FieldkitMap.prototype.drawFindings = function (fc) {
    var self = this;
    var shift = this.cfg.datum === "gcj02";
    this.findings.clearLayers();
    this.findingCount = 0;
    fc.features.forEach(function (feature) {
      if (!feature.geometry) { return; }
      var c = feature.geometry.coordinates;
      var ll = shift ? wgs84ToGcj02(c[0], c[1]) : [c[0], c[1]];
      var p = feature.properties;
      var open = p.state !== "closed";
      var colour = findingColour(p.domain);
      var marker = L.circleMarker(L.latLng(ll[1], ll[0]), {
        radius: 9, weight: 3, color: open ? "#111" : "#777", opacity: 0.9,
        fill: open, fillColor: colour, fillOpacity: open ? 0.85 : 0, dashArray: open ? null : "3 3",
        className: "fk-finding fk-finding-" + (open ? "open" : "closed")
      });
      marker.findingId = feature.id;
      marker.bindPopup(function () { return findingPopup(feature, self.cfg); }, { maxWidth: 300, minWidth: 200 });
      self.findings.addLayer(marker);
      self.findingCount += 1;
    });
    this.findings.bringToFront();
    document.body.setAttribute("data-findings-drawn", String(this.findingCount));
  };

  function findingColour(domain) {
    return FINDING_COLOURS[domain] || "#9333ea";
  }

  function findingPopup(feature, cfg) {
    var fcfg = cfg.findings;
    var p = feature.properties;
    var box = el("div", "fk-popup fk-finding-popup");
    var name = (fcfg.english ? p.name_en : p.name_zh) || p.name_zh || p.category_id;
    box.appendChild(el("div", "fk-popup-title", "#" + feature.id + " " + name));
    row(box, fcfg.i18n.severity, fcfg.i18n.severities[p.severity] || p.severity);
    row(box, fcfg.i18n.state, fcfg.i18n.states[p.state] || p.state);
    var where = [p.feature_name, p.chainage].filter(Boolean).join(" ");
    row(box, fcfg.i18n.feature, where || "—");
    var link = el("a", "fk-popup-link", fcfg.i18n.open);
    link.href = withId(fcfg.page, cfg.api.sentinel, feature.id);
    link.target = "_top";
    box.appendChild(link);
    return box;
  }

  // WGS84 → GCJ-02 (the published approximation; the API serves findings in WGS84).
  function wgs84ToGcj02(lon, lat) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) { return [lon, lat]; }
    var a = 6378245.0, ee = 0.00669342162296594323, PI = Math.PI;
    var x = lon - 105.0, y = lat - 35.0;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) +
      (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0 +
      (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0 +
      (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) +
      (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0 +
      (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0 +
      (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radLat = lat / 180.0 * PI;
    var magic = 1 - ee * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((a * (1 - ee)) / (magic * sqrtMagic) * PI);
    dLon = (dLon * 180.0) / (a / sqrtMagic * Math.cos(radLat) * PI);
    return [lon + dLon, lat + dLat];
  }

  FieldkitMap.prototype.drawFeatures = function (fc) {
    var self = this;
    var zoom = this.map.getZoom();
    var permanent = zoom >= this.cfg.labelZoom || fc.features.length <= 40;
    ORDER.forEach(function (kind) { self.kindGroups[kind].clearLayers(); });
    fc.features.forEach(function (feature) {
      var kind = feature.properties.kind;
      var group = self.kindGroups[kind];
      if (!group) { return; }
      var layer = L.geoJSON(feature, {
        style: function () { return STYLES[kind]; },
        pointToLayer: function (_f, latlng) { return L.circleMarker(latlng, STYLES.fitness_site); }
      });
      var name = feature.properties.name || feature.properties.fid;
      if (name) {
        var label = el("span", "fk-label-text", name);
        layer.bindTooltip(label, { permanent: permanent, direction: "center", className: "fk-label fk-label-" + kind, opacity: 0.9 });
      }
      group.addLayer(layer);
    });
  };

  FieldkitMap.prototype.drawPhotos = function (fc) {
    // Markers are kept by photo id across reloads, so an open popup survives the pan it causes.
    var self = this;
    var keep = {};
    var added = [];
    this.serverClusters.clearLayers();
    this.photoCount = 0;
    fc.features.forEach(function (feature) {
      var c = feature.geometry.coordinates;
      var latlng = L.latLng(c[1], c[0]);
      var p = feature.properties;
      if (p.cluster) {
        self.serverClusters.addLayer(self.serverCluster(latlng, p.count));
        self.photoCount += p.count;
        return;
      }
      self.photoCount += 1;
      keep[p.id] = true;
      if (self.markers[p.id]) { return; }
      var marker = L.circleMarker(latlng, { radius: 7, weight: 2, color: "#fff", fillOpacity: 0.95,
                                            fillColor: SOURCE_COLOURS[p.src] || "#c2410c" });
      marker.photoId = p.id;
      marker.on("click", function () { self.openPhoto(marker); });
      self.markers[p.id] = marker;
      added.push(marker);
    });
    var gone = [];
    Object.keys(this.markers).forEach(function (id) {
      if (!keep[id]) { gone.push(self.markers[id]); delete self.markers[id]; }
    });
    if (gone.length) { this.cluster.removeLayers(gone); }
    if (added.length) { this.cluster.addLayers(added); }
  };

  FieldkitMap.prototype.serverCluster = function (latlng, count) {
    var size = count < 100 ? 34 : count < 1000 ? 40 : 48;
    var html = el("div", null);
    html.appendChild(el("span", null, count));
    var icon = L.divIcon({ html: html, className: "marker-cluster marker-cluster-" + (count < 100 ? "small" : count < 1000 ? "medium" : "large"),
                           iconSize: L.point(size, size) });
    var map = this.map;
    return L.marker(latlng, { icon: icon, title: String(count) }).on("click", function () {
      map.setView(latlng, Math.min(map.getZoom() + 3, map.getMaxZoom() || 18));
    });
  };

  FieldkitMap.prototype.openPhoto = function (marker) {
    var cfg = this.cfg;
    var box = el("div", "fk-popup", cfg.i18n.loading);
    marker.bindPopup(box, { maxWidth: 300, minWidth: 220 }).openPopup();
    fetchJSON(withId(cfg.api.photo, cfg.api.sentinel, marker.photoId))
      .then(function (d) { fillPopup(box, d, cfg); marker.getPopup().update(); })
      .catch(function () { box.textContent = cfg.i18n.failed; });
  };

  function row(box, label, value) {
    var p = el("div", "fk-popup-row");
    p.appendChild(el("span", "fk-popup-key", label + ": "));
    p.appendChild(el("span", null, value));
    box.appendChild(p);
  }

  function fillPopup(box, d, cfg) {
    box.textContent = "";
    var link = el("a", "fk-popup-thumb");
    link.href = withId(cfg.api.page, cfg.api.sentinel, d.id);
    link.target = "_top";
    var img = el("img");
    img.src = withId(cfg.api.thumb, cfg.api.sentinel, d.id);
    img.alt = d.original_name || "";
    img.loading = "lazy";
    link.appendChild(img);
    box.appendChild(link);
    box.appendChild(el("div", "fk-popup-title", d.original_name));
    row(box, cfg.i18n.taken, d.taken_at || d.taken_at_utc || "—");
    row(box, cfg.i18n.placed, cfg.i18n.sources[d.location_source] || d.location_source);
    var camera = [d.make, d.model].filter(Boolean).join(" ");
    if (camera) { row(box, cfg.i18n.camera, camera); }
    if (d.nearest && d.nearest.length) {
      d.nearest.slice(0, 2).forEach(function (n) {
        var text = (n.name || n.fid) + " (" + n.layer_name + ") " + Math.round(n.distance_m) + " " + cfg.i18n.m +
          (n.chainage ? ", " + n.chainage : "");
        row(box, cfg.i18n.nearest, text);
      });
    } else {
      row(box, cfg.i18n.nearest, cfg.i18n.none);
    }
    var open = el("a", "fk-popup-link", cfg.i18n.open);
    open.href = link.href;
    open.target = "_top";
    box.appendChild(open);
  }

  window.fieldkitMap = function (map, cfg) {
    var fk = new FieldkitMap(map, cfg);
    window.fieldkit = fk;
    return fk;
  };
})();
