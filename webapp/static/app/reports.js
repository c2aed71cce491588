/* FieldKit report page: start an export job with fetch, poll its progress, show the download link.
 * Everything from the server is shown with textContent, never innerHTML. Without JavaScript the
 * forms post normally and the page shows the job after a redirect. */
(function () {
  "use strict";

  var text = JSON.parse(document.getElementById("reports-config").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var box = document.getElementById("job");
  var bar = document.getElementById("job-progress");
  var label = document.getElementById("job-label");
  var stage = document.getElementById("job-stage");
  var error = document.getElementById("job-error");
  var link = document.getElementById("job-download");
  var buttons = document.querySelectorAll(".js-export-form button[type=submit]");
  var timer = null;

  function busy(on) {
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = on; });
  }

  function showError(message) {
    error.textContent = text.failed + " " + message;
    error.hidden = false;
    busy(false);
  }

  function show(job) {
    box.hidden = false;
    box.dataset.state = job.state;
    label.textContent = job.label || "";
    bar.value = job.fraction || 0;
    stage.textContent = job.stage || "";
    if (job.state === "done") {
      link.href = job.download_url;
      link.textContent = text.download.replace("{name}", job.filename);
      link.hidden = false;
      busy(false);
    } else if (job.state === "error") {
      showError(job.error || "");
    }
  }

  function poll(url) {
    clearTimeout(timer);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
      })
      .then(function (r) {
        if (!r.ok) { showError(r.body.error || ""); return; }
        show(r.body);
        if (r.body.state === "queued" || r.body.state === "running") {
          timer = setTimeout(function () { poll(url); }, 600);
        }
      })
      .catch(function () {
        stage.textContent = text.lost;
        timer = setTimeout(function () { poll(url); }, 2000);
      });
  }

  function start(event) {
    event.preventDefault();
    var form = event.currentTarget;
    clearTimeout(timer);
    box.hidden = false;
    box.dataset.state = "starting";
    error.hidden = true;
    link.hidden = true;
    link.removeAttribute("href");
    bar.value = 0;
    stage.textContent = text.starting;
    busy(true);
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf }
    })
      .then(function (resp) {
        return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
      })
      .then(function (r) {
        if (!r.ok) { box.dataset.state = "error"; stage.textContent = ""; showError(r.body.error || ""); return; }
        show(r.body);
        poll(r.body.status_url);
      })
      .catch(function () { showError(text.lost); });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".js-export-form"), function (form) {
    form.addEventListener("submit", start);
  });
  if (box.dataset.statusUrl) { poll(box.dataset.statusUrl); }
}());
