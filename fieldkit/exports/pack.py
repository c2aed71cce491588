"""The meeting pack: a self-contained HTML map of a scope that opens from a USB stick.

``make_pack`` writes a zip with ``index.html``, ``thumbs/<sha256>.jpg`` and ``charts/<name>.png``
(open index.html after unzipping; file:// is enough, no server, no internet); ``write_pack_html``
writes one HTML file with the thumbnails and charts inlined as ``data:`` URIs. The charts
(findings by category, by responsible body, states, rectification over time) count the same
findings as the map (:mod:`fieldkit.exports.pack_charts`). Thumbnails are the store's upright,
metadata-free derivatives, so no EXIF (and no GPS beyond what the map shows) leaves in them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any, Callable

import shapely

from ..errors import StorageError
from ..labels import (
    FINDING_STATES_ZH,
    LAYER_KINDS_ZH,
    LOCATION_SOURCES_ZH,
    SEVERITIES_ZH,
    to_beijing,
    zh,
)
from .pack_charts import PackChart, pack_charts
from .pack_html import render_page
from .scope import (
    UNRESTRICTED,
    ExportScope,
    finding_cases,
    scope_features,
    scope_findings,
    scope_photos,
    taxonomy,
)

KIND_COLORS = {"great_wall": "#8e5b2b", "river": "#1c7ed6", "fitness_site": "#2b8a3e", "boundary": "#777777"}
SIMPLIFY_DEG = 0.00002  # about 2 m: invisible at meeting zoom levels, keeps the page small
Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True, slots=True)
class PackResult:
    """What a meeting pack holds."""

    path: Path
    features: int
    findings: int
    photos: int
    thumbs: int
    charts: int = 0


def pack_data(rt, scope: ExportScope, viewer: Any = UNRESTRICTED, *, title: str | None = None) -> dict[str, Any]:
    """The data the page draws: features (GeoJSON), findings and placed photos in the scope,
    plus every photo shown on a finding. Photos carry ``sha256``; ``thumb`` is filled in later."""
    tax = taxonomy()
    findings = [f for f in scope_findings(rt, scope) if f.lon is not None and f.lat is not None]
    photos = scope_photos(rt, scope, viewer)
    wanted = {pid for f in findings for pid in f.photo_ids} - {p.id for p in photos}
    if wanted:
        photos += scope_photos(rt, ExportScope(), viewer, ids=sorted(wanted))
    cases = finding_cases(rt, [f.id for f in findings])
    feats = scope_features(rt, scope, findings, [p.id for p in photos])
    return {
        "title": title or "巡查情况图（会议材料）",
        "subtitle": f"{scope.describe()}；生成于 {to_beijing(dt.datetime.now(dt.timezone.utc)):%Y-%m-%d %H:%M}",
        "features": {"type": "FeatureCollection", "features": [_feature(f, la) for f, la in feats]},
        "findings": [_finding(f, tax, cases.get(f.id, [])) for f in findings],
        "photos": [_photo(p) for p in photos],
    }


def _feature(f, layer) -> dict[str, Any]:
    geom = shapely.simplify(f.geom, SIMPLIFY_DEG, preserve_topology=True)
    return {"type": "Feature", "geometry": shapely.geometry.mapping(shapely.set_precision(geom, 1e-6)),
            "properties": {"fid": f.fid, "name": f.name, "kind_zh": zh(LAYER_KINDS_ZH, layer.kind),
                           "layer": layer.name, "color": KIND_COLORS.get(layer.kind, "#444444")}}


def _finding(f, tax, case_ids: list[int]) -> dict[str, Any]:
    cat = tax.get(f.category_id) if f.category_id in tax else None
    seen = to_beijing(f.observed_at)
    return {"id": f.id, "lon": f.lon, "lat": f.lat, "category_zh": cat.name_zh if cat else f.category_id,
            "state": f.state, "state_zh": zh(FINDING_STATES_ZH, f.state),
            "severity_zh": zh(SEVERITIES_ZH, f.severity), "note": f.note, "place": f.place,
            "feature": f.feature_name, "chainage": f.chainage_label,
            "observed": f"{seen:%Y-%m-%d %H:%M}" if seen else None,
            "cases": "、".join(map(str, case_ids)) or None, "photo_ids": list(f.photo_ids)}


def _photo(p) -> dict[str, Any]:
    taken = to_beijing(p.taken_at_utc)
    return {"id": p.id, "sha256": p.sha256, "lon": p.lon, "lat": p.lat, "name": p.original_name,
            "taken": f"{taken:%Y-%m-%d %H:%M}（北京时间）" if taken else p.taken_at,
            "source_zh": zh(LOCATION_SOURCES_ZH, p.location_source), "uploaded_by": p.uploaded_by,
            "inspection": p.inspection, "thumb": None}


def _thumbs(rt, data: dict, progress: Progress | None):
    """Yield ``(photo dict, thumbnail bytes)`` for photos whose thumbnail is in the store."""
    store = rt.evidence
    total = len(data["photos"])
    for done, photo in enumerate(data["photos"], start=1):
        path = store.thumb_path(photo["sha256"])
        if path.is_file():
            yield photo, path.read_bytes()
        if progress is not None:
            progress(done, total)


def make_pack(rt, scope: ExportScope, path: str | Path, viewer: Any = UNRESTRICTED, *,
              title: str | None = None, progress: Progress | None = None) -> PackResult:
    """Write the meeting pack zip (``index.html`` + ``thumbs/`` + ``charts/``); ``progress(done,
    total)`` is called per photo. Slow parts: the four charts, one thumbnail read per photo."""
    data = pack_data(rt, scope, viewer, title=title)
    charts = _charts(rt, scope, data)
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    thumbs = 0
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for photo, blob in _thumbs(rt, data, progress):
                name = f"thumbs/{photo['sha256']}.jpg"
                zf.writestr(zipfile.ZipInfo(name, (2000, 1, 1, 0, 0, 0)), blob, zipfile.ZIP_STORED)
                photo["thumb"] = name
                thumbs += 1
            for chart in charts:
                name = f"charts/{chart.name}.png"
                zf.writestr(zipfile.ZipInfo(name, (2000, 1, 1, 0, 0, 0)), chart.png, zipfile.ZIP_STORED)
            links = [(f"charts/{c.name}.png", c) for c in charts]
            zf.writestr("index.html", render_page(data, data["title"], links))
        tmp.replace(path)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the meeting pack ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return _result(path, data, thumbs, charts)


def write_pack_html(rt, scope: ExportScope, path: str | Path, viewer: Any = UNRESTRICTED, *,
                    title: str | None = None, progress: Progress | None = None) -> PackResult:
    """Write the meeting pack as one HTML file, thumbnails and charts inlined as ``data:`` URIs."""
    data = pack_data(rt, scope, viewer, title=title)
    charts = _charts(rt, scope, data)
    thumbs = 0
    for photo, blob in _thumbs(rt, data, progress):
        photo["thumb"] = _data_uri("image/jpeg", blob)
        thumbs += 1
    path = Path(path)
    try:
        inline = [(_data_uri("image/png", c.png), c) for c in charts]
        path.write_text(render_page(data, data["title"], inline), encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the meeting pack ({exc})") from exc
    return _result(path, data, thumbs, charts)


def _charts(rt, scope: ExportScope, data: dict) -> list[PackChart]:
    """The pack's charts, drawn from exactly the findings ``data`` shows on the map."""
    return pack_charts(rt, scope, [f["id"] for f in data["findings"]])


def _data_uri(mime: str, blob: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(blob).decode("ascii")


def _result(path: Path, data: dict, thumbs: int, charts: list[PackChart]) -> PackResult:
    return PackResult(path, len(data["features"]["features"]), len(data["findings"]), len(data["photos"]), thumbs,
                      len(charts))
