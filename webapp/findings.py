"""Findings: record one on a photo, list and filter them, one finding's page, GeoJSON for the map.

Who sees what: reviewers and admins see every finding; an inspector sees the findings recorded
by themselves or by users of their team (the same rule as photos), and records findings only on
photos they can see. Editing and closing (with a reason) an open finding: reviewers and admins
any, an inspector only the ones they recorded. Views parse the request, call
:mod:`fieldkit.findings.service`, render. The ``local_time`` filter shows stored UTC times to the
minute in Asia/Shanghai time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fieldkit import queries
from fieldkit.errors import InputError, NotFoundError
from fieldkit.findings.service import (
    FindingView,
    close_finding,
    findings_geojson,
    get_finding,
    list_findings,
    record_finding,
    update_finding,
)
from fieldkit.findings.taxonomy import SEVERITIES, Category, load_taxonomy
from fieldkit.lookback.recurrence import recurrences
from fieldkit.store.models import Layer, PhotoFeatureLink, User
from fieldkit.store.models_cases import FINDING_STATES, AuditEntry
from fieldkit.store.models_lookback import Recurrence

from .api import runtime
from .i18n import current_lang
from .security import current_viewer, role_required

bp = Blueprint("findings", __name__)
STAFF = ("reviewer", "admin")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FINDING_STATE_LABELS = {"open": _l("Open"), "closed": _l("Closed")}
SEVERITY_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High"), "critical": _l("Critical")}
URGENCY_LABELS = {"normal": _l("Normal"), "urgent": _l("Urgent")}
FINDING_ACTION_LABELS = {"record": _l("Recorded"), "edit": _l("Edited"), "close": _l("Closed"),
                         "flag_recurrence": _l("Flagged as a recurrence")}


@bp.app_template_filter("local_time")
def local_time(value) -> str:
    """A stored time (naive means UTC) as Asia/Shanghai local time to the minute; a date as a date."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def category_name(item) -> str:
    """The category name of a finding or category in the current language (Chinese first)."""
    zh, en = getattr(item, "name_zh", None), getattr(item, "name_en", None)
    if current_lang() == "en" and en:
        return en
    return zh or en or getattr(item, "category_id", None) or getattr(item, "id", "")


@bp.app_context_processor
def _labels() -> dict:
    return {"finding_state_labels": FINDING_STATE_LABELS, "severity_labels": SEVERITY_LABELS,
            "urgency_labels": URGENCY_LABELS, "category_name": category_name}


def taxonomy():
    """The taxonomy the app uses (the packaged files; cached by the service module)."""
    return load_taxonomy()


def visible_creators(viewer: User) -> set[int] | None:
    """User ids whose findings ``viewer`` may see; None means all (reviewers, admins)."""
    if viewer.role in ("reviewer", "admin"):
        return None
    with runtime().db.session() as s:
        team = set(s.scalars(select(User.id).where(User.team == viewer.team))) if viewer.team else set()
    return team | {viewer.id}


def visible(view: FindingView, creators: set[int] | None) -> bool:
    """Whether a finding recorded by ``view.created_by_id`` is within ``creators``."""
    return creators is None or view.created_by_id in creators


def load_visible(finding_id: int) -> FindingView:
    """The finding if the current viewer may see it; 404 otherwise (no existence leak)."""
    view = get_finding(runtime(), finding_id, taxonomy())
    if not visible(view, visible_creators(current_viewer())):
        raise NotFoundError(f"finding {finding_id}: not found")
    return view


def _categories_for_photo(photo_id: int) -> list[tuple[str, list[Category]]]:
    """Active categories grouped by domain (zh name), limited to the photo's joined layer kinds."""
    tax = taxonomy()
    with runtime().db.session() as s:
        kinds = set(s.scalars(select(Layer.kind).join(PhotoFeatureLink, PhotoFeatureLink.layer_id == Layer.id)
                              .where(PhotoFeatureLink.photo_id == photo_id)))
    cats = [c for c in tax.categories() if not kinds or kinds & set(c.layer_kinds)] or list(tax.categories())
    return [(d.name_zh, [c for c in cats if c.domain == d.id]) for d in tax.domains
            if any(c.domain == d.id for c in cats)]


@bp.route("/photos/<int:photo_id>/findings/new", methods=["GET", "POST"])
@role_required()
def new(photo_id: int):
    """GET: the form; POST: record the finding, flash the duplicate hints, go to its page."""
    photo, _uploader = queries.get_photo(runtime(), photo_id, current_viewer())
    if request.method == "GET":
        return render_template("findings/new.html", photo=photo, groups=_categories_for_photo(photo_id),
                               severities=SEVERITIES)
    form = request.form
    rec = record_finding(runtime(), photo_ids=[photo.id], category_id=form.get("category_id", ""),
                         actor_id=current_viewer().id, severity=form.get("severity") or None,
                         note=form.get("note", "").strip(), place=form.get("place", "").strip() or None)
    flash(_("Finding #%(id)s recorded.", id=rec.id), "info")
    for hint in rec.duplicates:
        flash(_("An open finding of the same category is within 250 m: #%(id)s (%(m)s m)",
                id=hint.finding_id, m=round(hint.distance_m)), "warning")
    for flag in recurrences(runtime(), finding_id=rec.id):
        flash(_("Recurrence: case #%(id)s (%(title)s) near this place closed on %(date)s, %(m)s m away.",
                id=flag.old_case_id, title=flag.old_case_title, date=flag.old_closed_on.isoformat(),
                m=round(flag.distance_m)), "warning")
    return redirect(url_for("findings.detail", finding_id=rec.id))


def parse_filters(args: Mapping[str, str]) -> dict:
    """List filters from the query string: category, domain, state, since, until (YYYY-MM-DD)."""
    out: dict = {}
    for key in ("category_id", "domain", "state"):
        if args.get(key):
            out[key] = args[key]
    if out.get("state") and out["state"] not in FINDING_STATES:
        raise InputError(f"state {out['state']!r}: must be one of {', '.join(FINDING_STATES)}")
    for key in ("since", "until"):
        if args.get(key):
            try:
                out[key] = dt.date.fromisoformat(args[key])
            except ValueError:
                raise InputError(f"{key} {args[key]!r}: not a date (YYYY-MM-DD)") from None
    return out


@bp.get("/findings")
@role_required()
def index():
    """Findings the viewer may see, filtered; reviewers get checkboxes to open a case."""
    filters = parse_filters(request.args)
    creators = visible_creators(current_viewer())
    rows = [v for v in list_findings(runtime(), taxonomy=taxonomy(), **filters) if visible(v, creators)]
    return render_template("findings/list.html", findings=rows, filters=request.args,
                           domains=taxonomy().domains, categories=taxonomy().categories(),
                           states=FINDING_STATES, flagged=flagged_ids({v.id for v in rows}))


def flagged_ids(finding_ids: set[int]) -> set[int]:
    """Which of ``finding_ids`` are flagged as a recurrence (反弹) of a closed case, in one query.

    Recurrence rows are few, so every flagged id is read and intersected here: no bound
    parameter per finding, whatever the length of the list."""
    if not finding_ids:
        return set()
    with runtime().db.session() as s:
        return finding_ids & set(s.scalars(select(Recurrence.finding_id).distinct()))


@bp.get("/findings/<int:finding_id>")
@role_required()
def detail(finding_id: int):
    """One finding: category, legal basis, note, feature and chainage, photos, history, and the
    closed cases it is flagged as a recurrence (反弹) of (linked for the roles that may open cases)."""
    view = load_visible(finding_id)
    tax = taxonomy()
    category = tax.get(view.category_id) if view.category_id in tax else None
    with runtime().db.session() as s:
        history = list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "finding",
                                                          AuditEntry.entity_id == str(finding_id))
                                 .order_by(AuditEntry.seq)))
        names = {u.id: u.display_name or u.username for u in s.scalars(select(User))}
    viewer = current_viewer()
    photos = [pid for pid in view.photo_ids if _can_see_photo(pid, viewer)]
    return render_template("findings/detail.html", f=view, category=category, history=history,
                           names=names, photos=photos, may_change=may_change(view, viewer),
                           groups=_all_categories(), severities=SEVERITIES,
                           action_labels=FINDING_ACTION_LABELS,
                           recurrences=recurrences(runtime(), finding_id=finding_id))


def may_change(view: FindingView, viewer: User) -> bool:
    """Reviewers and admins may edit or close any open finding; an inspector only the open ones
    they recorded themselves."""
    return view.state == "open" and (viewer.role in STAFF or view.created_by_id == viewer.id)


def _load_changeable(finding_id: int) -> FindingView:
    """The finding for an edit or close: 404 if invisible, 403 if it is another's (inspectors).

    The state is left to the service, which refuses closed findings with 409."""
    view = load_visible(finding_id)
    viewer = current_viewer()
    if viewer.role not in STAFF and view.created_by_id != viewer.id:
        abort(403)
    return view


def _all_categories() -> list[tuple[str, list[Category]]]:
    tax = taxonomy()
    return [(category_name(d), [c for c in tax.categories() if c.domain == d.id]) for d in tax.domains]


@bp.post("/findings/<int:finding_id>/edit")
@role_required()
def edit(finding_id: int):
    """Change the category, severity, place and note of an open finding."""
    _load_changeable(finding_id)
    form = request.form
    fields = {k: form[k].strip() for k in ("category_id", "severity", "note", "place") if k in form}
    if "category_id" in fields and fields["category_id"] not in taxonomy():
        raise InputError(f"finding {finding_id}: category {fields['category_id']!r} is not in the taxonomy")
    update_finding(runtime(), finding_id, current_viewer().id, taxonomy=taxonomy(), **fields)
    flash(_("Finding #%(id)s saved.", id=finding_id), "info")
    return redirect(url_for("findings.detail", finding_id=finding_id))


@bp.post("/findings/<int:finding_id>/close")
@role_required()
def close(finding_id: int):
    """Close an open finding; the reason is required and kept in the audit log."""
    _load_changeable(finding_id)
    reason = request.form.get("reason", "").strip()
    if not reason:
        raise InputError(f"finding {finding_id}: give a reason for closing it (field reason)")
    close_finding(runtime(), finding_id, current_viewer().id, reason=reason)
    flash(_("Finding #%(id)s closed.", id=finding_id), "info")
    return redirect(url_for("findings.detail", finding_id=finding_id))


def _can_see_photo(photo_id: int, viewer: User) -> bool:
    try:
        queries.get_photo(runtime(), photo_id, viewer)
    except NotFoundError:
        return False
    return True


@bp.get("/api/findings")
@role_required()
def api_list():
    """GeoJSON of the visible findings in ``bbox`` (min_lon,min_lat,max_lon,max_lat), same filters."""
    filters = parse_filters(request.args)
    bbox = queries.parse_bbox(request.args.get("bbox"))
    if bbox is not None:
        filters["bbox"] = (bbox.minx, bbox.miny, bbox.maxx, bbox.maxy)
    data = findings_geojson(runtime(), taxonomy=taxonomy(), **filters)
    creators = visible_creators(current_viewer())
    if creators is not None:
        allowed = {v.id for v in list_findings(runtime(), taxonomy=taxonomy(), **filters) if visible(v, creators)}
        data["features"] = [f for f in data["features"] if f["id"] in allowed]
    return data



def _query(name: str, desc: str, fmt: str | None = None) -> dict:
    schema = {"type": "string", **({"format": fmt} if fmt else {})}
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": schema}


#: The OpenAPI path item of ``/api/findings``, for ``webapp/openapi.py`` to merge into its paths.
OPENAPI_PATHS = {"/api/findings": {"get": {
    "summary": "Findings the caller may see, in bbox, as GeoJSON points",
    "security": [{"session": []}],
    "parameters": [_query("bbox", "minx,miny,maxx,maxy in lon/lat WGS84 degrees"),
                   _query("category_id", "One category id"), _query("domain", "One taxonomy domain"),
                   _query("state", "open or closed"), _query("since", "Observed on or after", "date"),
                   _query("until", "Observed on or before", "date")],
    "responses": {"200": {"description": "A FeatureCollection; properties: id, category_id, domain, name_zh, "
                                         "name_en, severity, urgency, state, note, place, feature_name, "
                                         "chainage, photo_ids, observed_at",
                          "content": {"application/geo+json": {"schema": {"type": "object"}}}},
                  "400": {"$ref": "#/components/responses/Error"},
                  "401": {"$ref": "#/components/responses/Error"}}}}}
