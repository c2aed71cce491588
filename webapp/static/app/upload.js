/* FieldKit upload page: one XHR per file (progress bars), results per file, pin drop.
 * Everything from files or the server is shown with textContent, never innerHTML. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("upload-config").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var form = document.getElementById("upload-form");
  var list = document.getElementById("results");
  var positionStatus = document.getElementById("position-status");
  var pin = { map: null, marker: null, photoId: null, item: null, features: null };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function withId(template, id) { return template.replace(cfg.sentinel, encodeURIComponent(String(id))); }

  function getPosition() {
    if (!document.getElementById("use-position").checked) { return Promise.resolve(null); }
    if (!navigator.geolocation) { positionStatus.textContent = cfg.i18n.noPosition; return Promise.resolve(null); }
    positionStatus.textContent = cfg.i18n.locating;
    return new Promise(function (resolve) {
      navigator.geolocation.getCurrentPosition(function (pos) {
        positionStatus.textContent = cfg.i18n.located.replace("{m}", String(Math.round(pos.coords.accuracy)));
        resolve(pos.coords);
      }, function () {
        positionStatus.textContent = cfg.i18n.noPosition;
        resolve(null);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  function resultItem(file) {
    var li = el("li", "fk-result");
    li.appendChild(el("strong", "fk-result-name", file.name));
    var bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    li.appendChild(bar);
    var status = el("span", "fk-result-status", cfg.i18n.uploading);
    li.appendChild(status);
    list.appendChild(li);
    return { li: li, bar: bar, status: status };
  }

  function sendOne(file, coords, item) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("file", file, file.name);
      var gpx = document.getElementById("gpx").files[0];
      if (gpx) { data.append("gpx", gpx, gpx.name); }
      data.append("inspection", document.getElementById("inspection").value);
      if (coords) {
        data.append("device_lat", String(coords.latitude));
        data.append("device_lon", String(coords.longitude));
        data.append("device_accuracy", String(coords.accuracy));
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", cfg.upload);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { item.bar.value = Math.round(100 * e.loaded / e.total); }
        if (e.loaded === e.total) { item.status.textContent = cfg.i18n.processing; }
      };
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status === 200 && body && body.results && body.results.length) {
          showResult(item, body.results[0]);
        } else {
          showFailure(item, (body && body.error) || ("HTTP " + xhr.status));
        }
        resolve();
      };
      xhr.onerror = function () { showFailure(item, "network error"); resolve(); };
      xhr.send(data);
    });
  }

  function showFailure(item, reason) {
    item.bar.value = 100;
    item.li.className = "fk-result fk-status-failed";
    item.li.setAttribute("data-outcome", "failed");
    item.status.textContent = cfg.i18n.failed + ": " + reason;
  }

  function showResult(item, r) {
    item.bar.value = 100;
    item.li.className = "fk-result fk-status-" + r.outcome;
    item.li.setAttribute("data-outcome", r.outcome);
    if (r.photo_id) { item.li.setAttribute("data-photo-id", String(r.photo_id)); }
    var text = cfg.i18n[r.outcome] || r.outcome;
    if (r.outcome === "failed" && r.error) { text += ": " + r.error; }
    if (r.outcome === "placed" || r.outcome === "duplicate") {
      text += r.placed_by && cfg.i18n.by[r.placed_by] ? " — " + cfg.i18n.by[r.placed_by] : "";
    }
    item.status.textContent = text;
    if (r.note && r.outcome !== "placed") { item.li.appendChild(el("span", "fk-hint", r.note)); }
    if (r.url) {
      var a = el("a", "fk-result-link", cfg.i18n.open);
      a.href = r.url;
      item.li.appendChild(a);
    }
    if (r.outcome === "unplaced" || (r.outcome === "duplicate" && r.placed_by === "none")) {
      var b = el("button", "fk-pin-button", cfg.i18n.dropPin);
      b.type = "button";
      b.addEventListener("click", function () { openPin(r.photo_id, item, r.name); });
      item.li.appendChild(b);
    }
  }

  function drawFeatures(map) {
    var styles = { great_wall: { color: "#8b1a1a", weight: 5 }, river: { color: "#1f6fd1", weight: 3 },
                   boundary: { color: "#666", weight: 2, dashArray: "6 5", fillOpacity: 0.03 },
                   fitness_site: { radius: 6, color: "#1d6b29", fillColor: "#2e9b3e", fillOpacity: 0.9 } };
    fetch(cfg.features, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc || !fc.features.length) { return; }
        var layer = L.geoJSON(fc, {
          style: function (f) { return styles[f.properties.kind] || {}; },
          pointToLayer: function (_f, ll) { return L.circleMarker(ll, styles.fitness_site); },
          onEachFeature: function (f, lyr) {
            if (f.properties.name) { lyr.bindTooltip(el("span", null, f.properties.name), { sticky: true }); }
          }
        }).addTo(map);
        map.fitBounds(layer.getBounds(), { maxZoom: 15 });
      });
  }

  function openPin(photoId, item, name) {
    var panel = document.getElementById("pin-panel");
    panel.hidden = false;
    document.getElementById("pin-for").textContent = cfg.i18n.pinFor + " " + name;
    pin.photoId = photoId;
    pin.item = item;
    if (!pin.map) {
      pin.map = L.map("pin-map", { center: [36.0, 104.0], zoom: 4 });
      L.control.scale().addTo(pin.map);
      drawFeatures(pin.map);
      pin.map.on("click", function (e) {
        if (pin.marker) { pin.marker.setLatLng(e.latlng); } else { pin.marker = L.marker(e.latlng).addTo(pin.map); }
        document.getElementById("pin-save").disabled = false;
      });
    }
    pin.map.invalidateSize();
    panel.scrollIntoView();
  }

  function savePin() {
    if (!pin.marker || !pin.photoId) { return; }
    var ll = pin.marker.getLatLng();
    fetch(withId(cfg.location, pin.photoId), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify({ lat: ll.lat, lon: ll.lng, datum: cfg.datum })
    }).then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        var item = pin.item;
        if (res.ok) {
          item.li.className = "fk-result fk-status-placed";
          item.li.setAttribute("data-outcome", "placed");
          item.status.textContent = cfg.i18n.placed + " — " + cfg.i18n.pinSaved;
          var btn = item.li.querySelector(".fk-pin-button");
          if (btn) { btn.remove(); }
          document.getElementById("pin-panel").hidden = true;
        } else {
          item.status.textContent = cfg.i18n.failed + ": " + (res.body.error || "");
        }
      });
  }

  document.getElementById("pin-save").addEventListener("click", savePin);
  document.getElementById("pin-cancel").addEventListener("click", function () {
    document.getElementById("pin-panel").hidden = true;
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(document.getElementById("files").files);
    if (!files.length) { return; }
    var button = document.getElementById("upload-button");
    button.disabled = true;
    getPosition().then(function (coords) {
      var items = files.map(resultItem);
      var chain = Promise.resolve();
      files.forEach(function (file, i) { chain = chain.then(function () { return sendOne(file, coords, items[i]); }); });
      return chain;
    }).then(function () {
      button.disabled = false;
      form.setAttribute("data-done", "1");
    });
  });
})();
