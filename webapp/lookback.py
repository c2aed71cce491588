"""Look-backs (回头看) in the web app: plan one from a case, pair the new photos with the findings,
compare before/after, give verdicts, conclude (the case moves on), download the 回头看记录.

Who may do what (:mod:`webapp.security` conventions: role checks by decorator, object checks by
404 so nothing leaks): planning starts from the case page, so reviewers and admins plan. A
look-back's page, pairing (suggest, confirm, reject, pair by hand), verdicts and the record are
open to reviewers, admins and the inspectors of the look-back's team (an inspector listed on the
look-back, or in the same team as one listed). Concluding a look-back moves the case through its
workflow, a procuratorial decision like every other case action: reviewers and admins only.
Views parse the request, call :mod:`fieldkit.lookback`, render.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fieldkit import cases as cases_lib
from fieldkit import lookback as lb_lib
from fieldkit.cases.deadlines import legal_date
from fieldkit.errors import InputError, NotFoundError
from fieldkit.findings.service import get_finding
from fieldkit.lookback.common import LOOKBACK_STATES
from fieldkit.store.models import Photo, User, utcnow

from .api import MIME, attachment, runtime
from .cases import CASE_STATE_LABELS
from .findings import taxonomy
from .security import current_viewer, role_required

bp = Blueprint("lookback", __name__)
STAFF = ("reviewer", "admin")
VERDICT_LABELS = {
    "rectified": _l("Rectified"), "partly": _l("Partly rectified"), "not_rectified": _l("Not rectified"),
    "worse": _l("Worse"), "no_access": _l("Could not access"),
}
STATUS_LABELS = {"not_checked": _l("Not checked"), "paired": _l("Paired, no verdict yet"), **VERDICT_LABELS}
PAIR_STATE_LABELS = {"candidate": _l("Candidate"), "confirmed": _l("Confirmed"), "rejected": _l("Rejected")}
OUTCOME_LABELS = {
    "closed": _l("All rectified: the case will be closed"),
    "litigation_review": _l("Not rectified after the deadline: the case goes to litigation review"),
    "follow_up": _l("The case stays in follow-up"),
}
DONE_LABELS = {
    "closed": _l("All rectified: the case was closed"),
    "litigation_review": _l("Not rectified after the deadline: the case went to litigation review"),
    "follow_up": _l("The case stayed in follow-up"),
}


def may_work(view: lb_lib.LookBackView) -> bool:
    """Reviewers and admins; an inspector listed on the look-back or in a listed inspector's team."""
    viewer = current_viewer()
    if viewer.role in STAFF:
        return True
    if viewer.id in view.inspector_ids:
        return True
    if not viewer.team or not view.inspector_ids:
        return False
    with runtime().db.session() as s:
        teams = set(s.scalars(select(User.team).where(User.id.in_(view.inspector_ids))))
    return viewer.team in teams


def load(lookback_id: int) -> lb_lib.LookBackView:
    """The look-back if the viewer may work on it; 404 otherwise (no existence leak)."""
    view = lb_lib.get_lookback(runtime(), lookback_id)
    if not may_work(view):
        raise NotFoundError(f"look-back {lookback_id}: not found")
    return view


def _back(lookback_id: int, anchor: str | None = None):
    return redirect(url_for("lookback.detail", lookback_id=lookback_id, _anchor=anchor))


@bp.app_context_processor
def _panel() -> dict:
    return {"lookback_panel": case_panel, "lookback_outcome_labels": DONE_LABELS}


def case_panel(case) -> dict:
    """What the case page's look-back block shows: the case's look-backs and the plan form's choices."""
    rt = runtime()
    today = legal_date(utcnow())
    with rt.db.session() as s:
        inspectors = [(u.id, u.display_name or u.username, u.team) for u in
                      s.scalars(select(User).where(User.role == "inspector", User.active.is_(True))
                                .order_by(User.team, User.username))]
    return {"lookbacks": lb_lib.list_lookbacks(rt, case.id), "can_plan": case.state in LOOKBACK_STATES,
            "inspectors": inspectors, "today": today.isoformat(),
            "default_inspection": f"回头看-案件{case.id}-{today.isoformat()}"}


@bp.post("/cases/<int:case_id>/lookbacks")
@role_required(*STAFF)
def plan(case_id: int):
    """Plan a look-back of the case (date, inspectors, inspection for the new photos)."""
    form = request.form
    planned = form.get("planned_on", "").strip()
    if not planned:
        raise InputError(f"look-back of case {case_id}: planned_on (the date) is required")
    view = lb_lib.plan_lookback(runtime(), case_id, planned_on=planned, actor_id=current_viewer().id,
                                inspector_ids=form.getlist("inspector_id", type=int),
                                inspection=form.get("inspection", "").strip() or None,
                                note=form.get("note"))
    flash(_("Look-back #%(id)s planned for %(day)s.", id=view.id, day=view.planned_on.isoformat()), "info")
    return _back(view.id)


@bp.get("/lookbacks/<int:lookback_id>")
@role_required()
def detail(lookback_id: int):
    """The look-back: findings with status, candidate pairs, before/after, verdicts, conclusion."""
    view = load(lookback_id)
    rt = runtime()
    case = cases_lib.get_case(rt, view.case_id)
    checks = lb_lib.finding_checks(rt, lookback_id)
    pairs = lb_lib.list_pairs(rt, lookback_id)
    findings = {c.finding_id: get_finding(rt, c.finding_id, taxonomy()) for c in checks}
    return render_template(
        "lookback/detail.html", lb=view, case=case, checks=checks, findings=findings,
        pairs_of={c.finding_id: [p for p in pairs if p.finding_id == c.finding_id] for c in checks},
        photos=_inspection_photos(view), names=_names(), preview=_preview(view, case, checks),
        today=legal_date(utcnow()).isoformat(), may_conclude=current_viewer().role in STAFF,
        verdict_labels=VERDICT_LABELS, status_labels=STATUS_LABELS, pair_state_labels=PAIR_STATE_LABELS,
        outcome_labels=OUTCOME_LABELS, done_labels=DONE_LABELS, state_labels=CASE_STATE_LABELS,
    )


def _inspection_photos(view: lb_lib.LookBackView) -> list[Photo]:
    """The photos ingested into the look-back's inspection (the choices for pairing by hand)."""
    if view.inspection_id is None:
        return []
    with runtime().db.session() as s:
        return list(s.scalars(select(Photo).where(Photo.inspection_id == view.inspection_id).order_by(Photo.id)))


def _names() -> dict[int, str]:
    with runtime().db.session() as s:
        return {u.id: u.display_name or u.username for u in s.scalars(select(User))}


def _preview(view: lb_lib.LookBackView, case, checks) -> dict | None:
    """What concluding today would do: ``{outcome, note, follow_up_first}``; None once concluded."""
    if view.outcome is not None or case.state not in LOOKBACK_STATES:
        return None
    if not checks:
        return {"outcome": None, "note": _("The case has no open findings to decide on."), "follow_up_first": False}
    outcome, note = lb_lib.decide(checks, legal_date(utcnow()), case.rectification_due or case.reply_due)
    return {"outcome": outcome, "note": note, "follow_up_first": case.state == "awaiting_reply"}


@bp.post("/lookbacks/<int:lookback_id>/suggest")
@role_required()
def suggest(lookback_id: int):
    """Propose pairs from the photos of the look-back's inspection."""
    load(lookback_id)
    pairs = lb_lib.suggest_pairs(runtime(), lookback_id, current_viewer().id)
    flash(_("%(n)s candidate pair(s) proposed.", n=sum(p.state == "candidate" for p in pairs)), "info")
    return _back(lookback_id, "pairs")


def _pair_of(lookback_id: int, pair_id: int) -> None:
    if pair_id not in {p.id for p in lb_lib.list_pairs(runtime(), lookback_id)}:
        raise NotFoundError(f"look-back {lookback_id}: pair {pair_id} not found")


@bp.post("/lookbacks/<int:lookback_id>/pairs/<int:pair_id>/confirm")
@role_required()
def confirm(lookback_id: int, pair_id: int):
    """Confirm a candidate: its photo is the finding's new photo."""
    load(lookback_id)
    _pair_of(lookback_id, pair_id)
    pair = lb_lib.confirm_pair(runtime(), pair_id, current_viewer().id)
    flash(_("Photo P%(p)s confirmed for finding #%(f)s.", p=pair.photo_id, f=pair.finding_id), "info")
    return _back(lookback_id, f"finding-{pair.finding_id}")


@bp.post("/lookbacks/<int:lookback_id>/pairs/<int:pair_id>/reject")
@role_required()
def reject(lookback_id: int, pair_id: int):
    """Reject a pair (it stays listed as rejected)."""
    load(lookback_id)
    _pair_of(lookback_id, pair_id)
    pair = lb_lib.reject_pair(runtime(), pair_id, current_viewer().id)
    flash(_("Photo P%(p)s rejected for finding #%(f)s.", p=pair.photo_id, f=pair.finding_id), "info")
    return _back(lookback_id, f"finding-{pair.finding_id}")


@bp.post("/lookbacks/<int:lookback_id>/pairs")
@role_required()
def pair(lookback_id: int):
    """Pair a finding with a photo of the look-back's inspection by hand (confirmed at once)."""
    view = load(lookback_id)
    finding_id = request.form.get("finding_id", type=int)
    photo_id = request.form.get("photo_id", type=int)
    if finding_id is None or photo_id is None:
        raise InputError(f"look-back {lookback_id}: pair by hand needs finding_id and photo_id (numbers)")
    if photo_id not in {p.id for p in _inspection_photos(view)}:
        raise InputError(f"look-back {lookback_id}: photo {photo_id} is not in the look-back's inspection "
                         f"{view.inspection_name or '(none)'}")
    made = lb_lib.pair_manually(runtime(), lookback_id, finding_id, photo_id, current_viewer().id)
    flash(_("Photo P%(p)s confirmed for finding #%(f)s.", p=made.photo_id, f=made.finding_id), "info")
    return _back(lookback_id, f"finding-{finding_id}")


@bp.post("/lookbacks/<int:lookback_id>/findings/<int:finding_id>/verdict")
@role_required()
def verdict(lookback_id: int, finding_id: int):
    """Give (or change) the verdict on one finding."""
    load(lookback_id)
    check = lb_lib.record_verdict(runtime(), lookback_id, finding_id, request.form.get("verdict", ""),
                                  current_viewer().id, note=request.form.get("note"))
    flash(_("Finding #%(f)s: %(v)s.", f=finding_id, v=STATUS_LABELS.get(check.status, check.status)), "info")
    return _back(lookback_id, f"finding-{finding_id}")


@bp.post("/lookbacks/<int:lookback_id>/conclude")
@role_required(*STAFF)
def conclude(lookback_id: int):
    """Mark the look-back done and move the case on by the rules."""
    load(lookback_id)
    done = request.form.get("done_on", "").strip() or None
    result = lb_lib.conclude_lookback(runtime(), lookback_id, current_viewer().id, done_on=done)
    flash(_("Look-back concluded: %(outcome)s.", outcome=DONE_LABELS.get(result.outcome, result.outcome)), "info")
    return _back(lookback_id, "conclusion")


def _record_file(lookback_id: int, ext: str):
    view = load(lookback_id)
    rec = lb_lib.lookback_record(runtime(), view.case_id, lookback_id, taxonomy=taxonomy())
    writer = lb_lib.export_record_docx if ext == "docx" else lb_lib.export_record_pdf
    with tempfile.TemporaryDirectory(prefix="fk-lookback-") as tmp:
        path = writer(rec, Path(tmp) / f"record.{ext}")
        data = path.read_bytes()
    name = f"回头看记录-案件{view.case_id}-{lookback_id}.{ext}"
    return attachment(data, MIME[ext], name)


@bp.get("/lookbacks/<int:lookback_id>/record.docx")
@role_required()
def record_docx(lookback_id: int):
    """The 回头看记录 as DOCX (an attachment)."""
    return _record_file(lookback_id, "docx")


@bp.get("/lookbacks/<int:lookback_id>/record.pdf")
@role_required()
def record_pdf(lookback_id: int):
    """The 回头看记录 as PDF (an attachment)."""
    return _record_file(lookback_id, "pdf")
