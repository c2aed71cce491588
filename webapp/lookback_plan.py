"""Look-back planning pages (回头看): the due list with its .ics, trip plans (GPX, KML, printable
list) and the scorecards per responsible body for review meetings.

Who sees what (the conventions of :mod:`webapp.findings` and :mod:`webapp.cases`): everyone logged
in opens the due list and plans trips, but an inspector only ever sees the look-backs of their own
team (of themselves when they have no team) — asking for another team is a 403, planning a trip
for a case not on their list a 404; reviewers and admins see all and filter freely. Scorecards aggregate case files, which only reviewers and admins
read, so they are for those roles only. Rows link to ``/cases/<id>`` and a planned look-back to
``/lookbacks/<id>`` when the viewer's role may open them.

The trip start is a ``lon,lat`` field; left empty it is the centre of the chosen sites (there is
no office-location setting). Charts are PNG images drawn server-side with matplotlib (Agg) and
the CJK font of :mod:`fieldkit.reports.plotting`.
"""

from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, abort, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fieldkit.cases.deadlines import legal_date
from fieldkit.cases.workflow import as_date
from fieldkit.errors import InputError, NotFoundError
from fieldkit.lookback import DueList, due_ics, due_lookbacks, gpx_bytes, kml_bytes, plan_trip, scorecards
from fieldkit.lookback.common import LOOKBACK_STATES
from fieldkit.reports.plotting import PALETTE, font, new_figure, png_bytes
from fieldkit.store.models import User, utcnow
from fieldkit.store.models_cases import Case, CaseFinding, Finding

from .api import attachment, runtime
from .cases import CASE_STATE_LABELS
from .security import current_viewer, role_required

bp = Blueprint("lookback_plan", __name__, url_prefix="/lookbacks")
STAFF = ("reviewer", "admin")
GROUPS = (("overdue", _l("Overdue")), ("this_week", _l("This week")), ("later", _l("Later")))
BASIS_LABELS = {
    "planned": _l("Planned look-back"), "revisit": _l("Revisit after the last look-back"),
    "reply_due": _l("Written reply due"), "rectification_due": _l("Rectification due"),
}
CHARTS = ("rates", "days")
ICS_TYPE = "text/calendar"  # Flask adds "; charset=utf-8" to text types
GPX_TYPE = "application/gpx+xml"
KML_TYPE = "application/vnd.google-earth.kml+xml"
MAX_CASES = 200


# --- due list ----------------------------------------------------------------------------------

def due_filters(args) -> dict:
    """The due-list filters of a query string, narrowed by the viewer's role (module docstring)."""
    viewer = current_viewer()
    raw = args.get("inspector", "").strip()
    if raw and not raw.isdigit():
        raise InputError(_("inspector: %(value)s is not a user id", value=raw))
    inspector = int(raw) if raw else None
    if inspector is not None and inspector not in _people():
        raise InputError(_("inspector: no user with id %(id)s", id=inspector))
    team = args.get("team", "").strip() or None
    body = args.get("body", "").strip() or None
    if viewer.role not in STAFF:
        if team is not None and team != viewer.team:
            abort(403, _("Inspectors see the look-backs of their own team only."))
        team = viewer.team
        if team is None:
            inspector = viewer.id
    return {"inspector_id": inspector, "team": team, "responsible_body": body}


def _due(filters: dict) -> DueList:
    return due_lookbacks(runtime(), today=legal_date(utcnow()), **filters)


def _people() -> dict[int, User]:
    with runtime().db.session() as s:
        return {u.id: u for u in s.scalars(select(User).order_by(User.id))}


def _query(filters: dict) -> dict:
    """The filters as URL query arguments (for the .ics link and the filter form)."""
    names = {"inspector_id": "inspector", "team": "team", "responsible_body": "body"}
    return {names[k]: v for k, v in filters.items() if v is not None}


@bp.get("/due")
@role_required()
def due():
    """Look-backs due: overdue, this week, later; filters; pick cases for a trip."""
    filters = due_filters(request.args)
    people = _people()
    with runtime().db.session() as s:
        bodies = sorted(set(s.scalars(select(Case.responsible_body).where(Case.state.in_(LOOKBACK_STATES)))))
    staff = current_viewer().role in STAFF
    return render_template(
        "lookback_plan/due.html", due=_due(filters), groups=GROUPS, filters=filters, query=_query(filters),
        people=people, inspectors=[u for u in people.values() if u.role == "inspector"],
        teams=sorted({u.team for u in people.values() if u.team}), bodies=bodies, staff=staff,
        basis_labels=BASIS_LABELS, state_labels=CASE_STATE_LABELS)


@bp.get("/due.ics")
@role_required()
def due_calendar():
    """The due list (same filters) as an iCalendar attachment."""
    data = due_ics(_due(due_filters(request.args)).items, domain=request.host.split(":")[0] or "fieldkit.local")
    name = f"回头看-{legal_date(utcnow()):%Y%m%d}.ics"
    return attachment(data.encode("utf-8"), ICS_TYPE, name)




# --- trip plan ---------------------------------------------------------------------------------

def trip_request(values) -> dict:
    """Parse a trip request (form or query string): case ids, start, start name, round trip."""
    raw = values.getlist("case_id")
    bad = [v for v in raw if not v.strip().isdigit()]
    if bad:
        raise InputError(_("case_id: %(value)s is not a case number", value=bad[0]))
    ids = list(dict.fromkeys(int(v) for v in raw))
    if not ids:
        raise InputError(_("Trip plan: choose at least one case from the due list."))
    if len(ids) > MAX_CASES:
        raise InputError(_("Trip plan: at most %(n)s cases at a time.", n=MAX_CASES))
    _check_may_plan(ids)
    text = values.get("start", "").strip()
    start = parse_lonlat(text) if text else _centre(ids)
    name = values.get("start_name", "").strip()[:100] or (_("Office") if text else _("Centre of the sites"))
    return {"case_ids": ids, "start": start, "start_name": name,
            "return_to_start": values.get("return_to_start") == "1"}


def parse_lonlat(text: str) -> tuple[float, float]:
    """``"lon,lat"`` (decimal degrees, WGS84) as a tuple; InputError naming the field otherwise."""
    parts = [p.strip() for p in text.replace("，", ",").split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise InputError(_("start: %(value)s is not “longitude,latitude” in decimal degrees", value=text)) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(_("start: %(value)s is outside the WGS84 range", value=text))
    return lon, lat


def _check_may_plan(ids: list[int]) -> None:
    """Inspectors plan trips only for cases on their own (team's) due list; others are not found
    for them (404, as photos they may not see)."""
    if current_viewer().role in STAFF:
        return
    visible = {i.case_id for i in _due(due_filters({})).items}
    hidden = [str(i) for i in ids if i not in visible]
    if hidden:
        raise NotFoundError(_("case %(ids)s: not on your due list (inspectors plan trips only for the "
                              "look-backs of their own team)", ids=", ".join(hidden)))


def _centre(ids: list[int]) -> tuple[float, float]:
    """Mean position of the open, placed findings of the cases (the default start)."""
    with runtime().db.session() as s:
        rows = s.execute(select(Finding.lon, Finding.lat).join(CaseFinding, CaseFinding.finding_id == Finding.id)
                         .where(CaseFinding.case_id.in_(ids), Finding.state == "open",
                                Finding.lon.is_not(None), Finding.lat.is_not(None))).all()
    if not rows:
        raise InputError(_("Trip plan: the chosen cases have no open finding with a position; give a start."))
    return sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows)


@bp.post("/trip")
@role_required()
def trip():
    """The planned trip: ordered stops with distances, old photos to re-shoot, downloads, print."""
    req = trip_request(request.form)
    plan = plan_trip(runtime(), req["case_ids"], req["start"], start_name=req["start_name"],
                     return_to_start=req["return_to_start"])
    query = {"case_id": req["case_ids"], "start": f"{plan.start[0]:.6f},{plan.start[1]:.6f}",
             "start_name": plan.start_name, "return_to_start": "1" if plan.return_to_start else ""}
    return render_template("lookback_plan/trip.html", plan=plan, query=query, today=legal_date(utcnow()))


@bp.get("/trip.gpx")
@role_required()
def trip_gpx():
    """The trip (same parameters as the plan page, in the query string) as GPX 1.1."""
    return _trip_file(gpx_bytes, GPX_TYPE, "gpx")


@bp.get("/trip.kml")
@role_required()
def trip_kml():
    """The trip as KML 2.2."""
    return _trip_file(kml_bytes, KML_TYPE, "kml")


def _trip_file(render, mimetype: str, ext: str):
    req = trip_request(request.args)
    plan = plan_trip(runtime(), req["case_ids"], req["start"], start_name=req["start_name"],
                     return_to_start=req["return_to_start"])
    return attachment(render(plan), mimetype, f"回头看路线-{legal_date(utcnow()):%Y%m%d}.{ext}")


# --- scorecards --------------------------------------------------------------------------------

def period(args) -> tuple[dt.date | None, dt.date | None]:
    """``since`` / ``until`` of a query string (YYYY-MM-DD, optional); InputError when wrong."""
    since = as_date(args["since"], "since") if args.get("since", "").strip() else None
    until = as_date(args["until"], "until") if args.get("until", "").strip() else None
    if since and until and since > until:
        raise InputError(_("since (%(since)s) is after until (%(until)s)", since=since, until=until))
    return since, until


def _rows(args):
    since, until = period(args)
    return since, until, scorecards(runtime(), since=since, until=until, today=legal_date(utcnow()))


@bp.get("/scorecards")
@role_required(*STAFF)
def scorecard_page():
    """Per responsible body: suggestions, replies on time, rectified at first look-back, days, 反弹."""
    since, until, rows = _rows(request.args)
    query = {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v}
    charts = [url_for(".scorecard_chart", kind=k, **query) for k in CHARTS] if rows else []
    return render_template("lookback_plan/scorecards.html", rows=rows, since=since, until=until, charts=charts)


@bp.get("/scorecards/<kind>.png")
@role_required(*STAFF)
def scorecard_chart(kind: str):
    """A chart of the scorecards as PNG: ``rates`` (on-time replies, rectified at first look-back,
    per cent) or ``days`` (median days to rectification)."""
    if kind not in CHARTS:
        raise InputError(_("chart %(kind)s: must be one of %(kinds)s", kind=kind, kinds=", ".join(CHARTS)))
    _since, _until, rows = _rows(request.args)
    data = _chart(kind, rows)
    resp = send_file(io.BytesIO(data), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _chart(kind: str, rows) -> bytes:
    """Horizontal bars per body (one figure; an empty note when there are no rows)."""
    fig = new_figure(1400, 260 + 90 * max(len(rows), 1), dpi=150)
    ax = fig.add_axes((0.32, 0.12, 0.64, 0.78))
    bodies = [r.responsible_body for r in rows]
    ys = list(range(len(rows)))
    if kind == "rates":
        series = ((_("Replies on time (%)"), [r.reply_on_time_rate for r in rows]),
                  (_("Rectified at the first look-back (%)"), [r.rectified_first_rate for r in rows]))
        ax.set_xlim(0, 100)
    else:
        series = ((_("Median days to rectification"), [r.median_days_to_rectification for r in rows]),)
    height = 0.8 / len(series)
    for k, (label, values) in enumerate(series):
        scale = 100 if kind == "rates" else 1
        ax.barh([y + k * height for y in ys], [(v or 0) * scale for v in values], height=height,
                color=PALETTE[k + 1], label=label)
    ax.set_yticks([y + height * (len(series) - 1) / 2 for y in ys], bodies, fontproperties=font(9))
    ax.invert_yaxis()
    ax.legend(prop=font(8), loc="lower right")
    ax.set_title(_("Scorecards per responsible body"), fontproperties=font(10))
    for label in ax.get_xticklabels():
        label.set_fontproperties(font(8))
    return png_bytes(fig)
