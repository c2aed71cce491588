"""The report page: choose a scope and an output, follow the export's progress, download it.

Outputs: the 巡查报告 (DOCX, PDF), the offline meeting pack (zip), the 台账 (XLSX), GIS files
(GeoJSON, GeoPackage, KML, CSV) and, per case, the evidence bundle. Every output runs as a
background job (:mod:`webapp.jobs`): ``POST /reports`` starts it, ``GET /reports/jobs/<id>``
returns its progress as JSON (polled by ``static/app/reports.js``), and
``GET /reports/jobs/<id>/download`` serves the file with its Chinese name (RFC 5987
``filename*``). A job is visible only to the user who started it (404 for anyone else).

Who: reviewers and admins only, like the case pages. Reports, ledgers and packs show every
finding in scope with its case and case state, and the library filters findings by scope, not
by viewer; an inspector may see only their own team's findings (:mod:`webapp.findings`), so
the page is closed to inspectors rather than leaking other teams' findings and case states.
Photos still pass through the viewer rule: the logged-in user is the ``viewer`` of every export.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fieldkit import cases as cases_lib
from fieldkit import users as users_lib
from fieldkit.errors import FieldkitError, InputError, NotFoundError
from fieldkit.exports import ExportScope, make_bundle, make_pack, parse_scope, write_gis, write_ledger
from fieldkit.queries import BBox
from fieldkit.reports import ReportScope, build_report
from fieldkit.store import Feature, Inspection, Layer, User
from fieldkit.store.models import LAYER_KINDS
from fieldkit.store.models_cases import Case

from .api import MIME, attachment, json_response, runtime
from .jobs import registry
from .security import current_viewer, recent_login_required, role_required

bp = Blueprint("reports", __name__, url_prefix="/reports")
STAFF = ("reviewer", "admin")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
#: output key → (label, file extension, Chinese name used in the download file name)
OUTPUTS = {
    "report_pdf": (_l("Inspection report (PDF)"), "pdf", "巡查报告"),
    "report_docx": (_l("Inspection report (DOCX)"), "docx", "巡查报告"),
    "pack": (_l("Meeting pack (offline HTML map, zip)"), "zip", "会商材料包"),
    "ledger": (_l("Ledger (XLSX)"), "xlsx", "台账"),
    "gis_geojson": (_l("GIS: GeoJSON"), "geojson", "GIS导出"),
    "gis_gpkg": (_l("GIS: GeoPackage"), "gpkg", "GIS导出"),
    "gis_kml": (_l("GIS: KML"), "kml", "GIS导出"),
    "gis_csv": (_l("GIS: CSV"), "csv", "GIS导出"),
}
BUNDLE = "bundle"
GIS_LAYERS = {"findings": _l("Findings"), "photos": _l("Photos")}
MAX_BOUNDARIES = 500
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]+')


@bp.get("")
@role_required(*STAFF)
def index():
    """The form: scope (inspection, kinds, dates, bbox, boundary) and output; a case's bundle."""
    job = None
    if request.args.get("job"):
        job = registry().get(request.args["job"], current_viewer().id)
    return render_template("reports/index.html", outputs=OUTPUTS, inspections=_inspections(),
                           boundaries=_boundaries(), cases=_cases(), kinds=LAYER_KINDS, gis_layers=GIS_LAYERS,
                           case_id=request.args.get("case", type=int), job=job)


def _inspections() -> list[str]:
    with runtime().db.session() as s:
        return list(s.scalars(select(Inspection.name).order_by(Inspection.created_at.desc(), Inspection.id.desc())))


def _boundaries() -> list[tuple[int, str]]:
    """(feature id, "layer · name") of boundary-layer polygons, for the boundary select."""
    with runtime().db.session() as s:
        rows = s.execute(select(Feature.id, Feature.name, Feature.fid, Layer.name)
                         .join(Layer, Feature.layer_id == Layer.id).where(Layer.kind == "boundary")
                         .order_by(Layer.name, Feature.name, Feature.id).limit(MAX_BOUNDARIES)).all()
    return [(fid, f"{layer} · {name or code}") for fid, name, code, layer in rows]


def _cases() -> list[tuple[int, str]]:
    with runtime().db.session() as s:
        return [(c.id, c.title) for c in s.scalars(select(Case).order_by(Case.id.desc()))]


def wants_json_reply() -> bool:
    """Whether the client (the page's script) asked for JSON rather than a page."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


@bp.post("")
@role_required(*STAFF)
@recent_login_required
def start():
    """Start an export job; JSON ``{id, status_url, download_url, ...}`` (202) for scripts,
    otherwise a redirect to the page showing the job. A bad field → 400 naming the field."""
    try:
        job = _start_job(request.form)
    except FieldkitError as exc:
        if wants_json_reply():
            return json_response({"error": str(exc), "type": type(exc).__name__}, status=exc.http_status)
        raise
    if wants_json_reply():
        return json_response({**job.as_json(), **_urls(job.id)}, status=202)
    return redirect(url_for("reports.index", job=job.id, _anchor="job"))


def _urls(job_id: str) -> dict:
    return {"status_url": url_for("reports.status", job_id=job_id),
            "download_url": url_for("reports.download", job_id=job_id)}


def _start_job(form):
    output = form.get("output", "").strip()
    user_id = current_viewer().id
    if output == BUNDLE:
        case_id = _case_id(form.get("case_id"))
        label, filename, mime = str(_l("Evidence bundle")), f"证据包-案件{case_id}.zip", MIME["zip"]
        work = _bundle_work(case_id, user_id)
    elif output in OUTPUTS:
        label, ext, zh_name = OUTPUTS[output]
        rscope = ReportScope.from_args(_scope_args(form))
        _check_exists(rscope)
        escope = _export_scope(form, rscope)
        layer = form.get("layer", "findings")
        if output.startswith("gis_") and layer not in GIS_LAYERS:
            raise InputError(f"layer={layer!r}: use one of {', '.join(GIS_LAYERS)}")
        filename = download_name(zh_name, rscope, ext)
        label, mime = str(label), MIME[ext]
        work = _scope_work(output, rscope, escope, layer, user_id)
    else:
        raise InputError(f"output={output!r}: choose one of {', '.join([*OUTPUTS, BUNDLE])}")
    return registry().start(current_app._get_current_object(), user_id, work, label=label, filename=filename,
                            mimetype=mime)


def _scope_args(form) -> dict:
    args = {k: form.get(k, "") for k in ("inspection", "bbox", "boundary", "from", "to", "title")}
    args["kind"] = ",".join(k for k in form.getlist("kind") if k.strip())
    return args


def _case_id(raw: str | None) -> int:
    raw = (raw or "").strip()
    if not raw.isdigit():
        raise InputError(f"case_id={raw!r}: choose a case (a case number)")
    case_id = int(raw)
    cases_lib.get_case(runtime(), case_id)  # NotFoundError (404) when there is none
    return case_id


def _check_exists(scope: ReportScope) -> None:
    """The scope's inspection and boundary feature must exist (400 naming the field)."""
    with runtime().db.session() as s:
        if scope.inspection and s.scalar(select(Inspection.id).where(Inspection.name == scope.inspection)) is None:
            raise InputError(f"inspection={scope.inspection!r}: no inspection of that name")
        if scope.boundary_feature is not None and s.get(Feature, scope.boundary_feature) is None:
            raise InputError(f"boundary={scope.boundary_feature}: no such feature")


def _export_scope(form, rscope: ReportScope) -> ExportScope:
    """The exports' scope; a boundary (reports only) narrows the exports to its bounding box."""
    escope = parse_scope({k: v for k, v in _scope_args(form).items() if k in ("inspection", "kind", "from", "to",
                                                                             "bbox")})
    if rscope.boundary_feature is None or escope.bbox is not None:
        return escope
    with runtime().db.session() as s:
        f = s.get(Feature, rscope.boundary_feature)
        box = BBox(f.minx, f.miny, f.maxx, f.maxy)
    return ExportScope(escope.inspection, escope.kinds, escope.date_from, escope.date_to, box)


def download_name(what: str, scope: ReportScope, ext: str) -> str:
    """``巡查报告-春季巡查-20250601.pdf``: what, the inspection (or 全部), today in China, safe characters."""
    today = dt.datetime.now(LOCAL_TZ).strftime("%Y%m%d")
    who = _UNSAFE_NAME.sub("_", scope.inspection or "全部").strip(" ._")[:60] or "全部"
    return f"{what}-{who}-{today}.{ext}"


def _viewer(user_id: int) -> User:
    """The job's user, reloaded in the job's thread (an account disabled meanwhile gets nothing)."""
    user = users_lib.get_user(runtime(), user_id)
    if user is None or not user.active:
        raise NotFoundError(f"user {user_id}: no longer active; export cancelled")
    return user


def _scope_work(output: str, rscope: ReportScope, escope: ExportScope, layer: str, user_id: int):
    def work(job_dir: Path, progress) -> Path:
        rt, viewer = runtime(), _viewer(user_id)
        ext = OUTPUTS[output][1]
        out = job_dir / f"export.{ext}"
        if output.startswith("report_"):
            build_report(rt, rscope, ext, out, viewer=viewer, progress=progress)
        elif output == "pack":
            progress("收集地图数据", 0.05)
            make_pack(rt, escope, out, viewer, title=rscope.title,
                      progress=lambda done, total: progress("打包照片缩略图", 0.1 + 0.85 * done / max(total, 1)))
        elif output == "ledger":
            progress("写入台账", 0.2)
            write_ledger(rt, escope, out)
        else:
            progress("写入GIS文件", 0.2)
            write_gis(rt, escope, out, ext, layer=layer, viewer=viewer)
        return out

    return work


def _bundle_work(case_id: int, user_id: int):
    def work(job_dir: Path, progress) -> Path:
        rt, viewer = runtime(), _viewer(user_id)
        out = job_dir / "bundle.zip"
        progress("整理证据清单", 0.05)
        make_bundle(rt, case_id, out, viewer, created_by=viewer.username,
                    progress=lambda done, total: progress("复制原始照片", 0.05 + 0.9 * done / max(total, 1)))
        return out

    return work


def _own_job(job_id: str):
    return registry().get(job_id, current_viewer().id)


@bp.get("/jobs/<job_id>")
@role_required(*STAFF)
def status(job_id: str):
    """The job's state, stage text and fraction as JSON; 404 unless the caller started it."""
    job = _own_job(job_id)
    if job is None:
        return json_response({"error": f"job {job_id}: not found", "type": "NotFoundError"}, status=404)
    return json_response({**job.as_json(), **_urls(job.id)})


@bp.get("/jobs/<job_id>/download")
@role_required(*STAFF)
def download(job_id: str):
    """The finished job's file as an attachment with its (Chinese) name."""
    job = _own_job(job_id)
    if job is None or job.state != "done" or job.result is None or not job.result.is_file():
        raise NotFoundError(f"job {job_id}: no finished export to download")
    return attachment(job.result, job.mimetype, job.filename, max_age=0)
