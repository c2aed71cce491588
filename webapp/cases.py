"""Cases: the list, opening one from findings, the case page (timeline, deadlines, actions), editing
its details and findings while the workflow allows (before the suggestion is issued) and the
检察建议书 (draft, edit every draft field, issue, download DOCX/PDF). States and actions are shown
by their translated names, times to the minute in Asia/Shanghai time.

Only reviewers and admins work on cases (inspectors record findings; the case file holds
procuratorial decisions). The procuratorate's name and the organ mark of document numbers come
from the settings ``procuratorate`` and ``doc_org`` (``FIELDKIT_PROCURATORATE``, ``FIELDKIT_DOC_ORG``;
app config keys of the same names override them). Issued documents are written
under ``<data_dir>/documents`` and served as attachments only after their SHA-256 matches the record.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from fieldkit import cases as cases_lib
from fieldkit.cases.deadlines import days_left, legal_date
from fieldkit.cases.workflow import DATE_FIELDS, RULES, SERVICE_METHODS, parse_action
from fieldkit.documents.drafting import (
    LIST_FIELDS,
    TEXT_FIELDS,
    case_records,
    draft_suggestion,
    get_record,
    issue_suggestion_document,
    update_draft,
)
from fieldkit.documents.numbering import NumberingScheme
from fieldkit.errors import ConflictError, InputError, NotFoundError, StorageError
from fieldkit.findings.service import get_finding, list_findings
from fieldkit.labels import CASE_STATES_ZH
from fieldkit.lookback.recurrence import recurrences
from fieldkit.store.models import Layer, User, utcnow
from fieldkit.store.models_cases import Case

from .api import MIME, attachment, runtime
from .findings import taxonomy
from .i18n import code_labels
from .security import current_viewer, role_required

bp = Blueprint("cases", __name__, url_prefix="/cases")
STAFF = ("reviewer", "admin")
DEADLINE_NAMES = {
    "filing_service_due": _l("Serve the filing decision"),
    "service_due": _l("Serve the suggestion"),
    "filed_upward_due": _l("File the suggestion upward"),
    "reply_due": _l("Written reply due"),
    "rectification_due": _l("Rectification due"),
    "review_due": _l("Litigation review due"),
}
ACTION_LABELS = {
    "file": _l("File the case"), "decline_filing": _l("Decline filing"),
    "serve_filing_decision": _l("Serve the filing decision"), "start_investigation": _l("Start investigation"),
    "issue_suggestion": _l("Decide to issue the suggestion"), "record_service": _l("Record service"),
    "record_filed_upward": _l("Record filing upward"), "record_reply": _l("Record a reply"),
    "start_follow_up": _l("Start follow-up"), "suspend": _l("Suspend"), "resume": _l("Resume"),
    "close": _l("Close (rectified)"), "transfer": _l("Transfer"),
    "refer_to_litigation_review": _l("Refer to litigation review"),
    "extend_litigation_review": _l("Extend litigation review"), "sue": _l("Sue"), "terminate": _l("Terminate"),
}
CASE_STATE_LABELS = code_labels(CASE_STATES_ZH, {
    "clue": "Clue", "not_filed": "Not filed", "filed": "Filed", "investigating": "Investigating",
    "suggestion_issued": "Suggestion issued", "awaiting_reply": "Awaiting reply",
    "follow_up": "Follow-up", "suspended": "Suspended", "litigation_review": "Litigation review",
    "sued": "Sued", "closed": "Closed", "terminated": "Terminated", "transferred": "Transferred",
})
DRAFT_LABELS = {
    "procuratorate": _l("Procuratorate"), "title": _l("Document title"), "addressee": _l("Addressee"),
    "case_source": _l("Case source"), "duty_and_reasons": _l("Duty and reasons (one paragraph per line)"),
    "legal_basis": _l("Legal basis (one citation per line)"),
    "recommendations": _l("Recommendations (one per line)"), "deadline": _l("Deadline and reply"),
    "objection_terms": _l("Objection terms"), "reply_method": _l("How to reply"),
    "other_matters": _l("Other matters"), "cc": _l("Copies to (one per line)"),
}
FIELD_LABELS = {
    "filed_on": _l("Filing date"), "served_on": _l("Service date"), "decided_on": _l("Decision date"),
    "filed_upward_on": _l("Date filed upward"), "received_on": _l("Reply received on"),
    "ended_on": _l("End date"), "sued_on": _l("Date sued"), "rectification_due": _l("Rectification deadline"),
    "method": _l("Service method"), "approved_by_higher": _l("Approved by the higher procuratorate"),
}


def deadlines_of(case_id: int) -> list[dict]:
    """Pending deadlines of a case with days left (negative: overdue), soonest first."""
    today = legal_date(utcnow())
    due = cases_lib.pending_deadlines(cases_lib.case_facts(runtime(), case_id))
    rows = [{"name": DEADLINE_NAMES.get(k, k), "due": d, "days": days_left(d, today)} for k, d in due.items()]
    return sorted(rows, key=lambda r: r["due"])


def _names() -> dict[int, str]:
    with runtime().db.session() as s:
        return {u.id: u.display_name or u.username for u in s.scalars(select(User))}


@bp.get("")
@role_required(*STAFF)
def index():
    """Every case, newest first, with state, body and pending deadlines."""
    with runtime().db.session() as s:
        rows = list(s.scalars(select(Case).order_by(Case.id.desc())))
    return render_template("cases/list.html", cases=[(c, deadlines_of(c.id)) for c in rows],
                           action_labels=ACTION_LABELS, state_labels=CASE_STATE_LABELS)


@bp.post("/new")
@role_required(*STAFF)
def new():
    """Open a case from the selected findings; title and body default from the first finding."""
    ids = request.form.getlist("finding_id", type=int)
    if not ids:
        raise InputError("open a case: select at least one finding (finding_id)")
    first = get_finding(runtime(), ids[0], taxonomy())
    category = taxonomy().get(first.category_id)
    body = request.form.get("responsible_body", "").strip() or _layer_body(first.layer_id) \
        or category.responsible_body
    where = first.feature_name or first.place or ""
    title = request.form.get("title", "").strip() or f"{category.name_zh}{f'（{where}）' if where else ''}"
    case = cases_lib.open_case(runtime(), title=title, responsible_body=body, actor_id=current_viewer().id,
                               domain=category.domain, nature=category.id, urgent=category.urgent,
                               finding_ids=ids)
    flash(_("Case #%(id)s opened.", id=case.id), "info")
    return redirect(url_for("cases.detail", case_id=case.id))


def _layer_body(layer_id: int | None) -> str | None:
    if layer_id is None:
        return None
    with runtime().db.session() as s:
        layer = s.get(Layer, layer_id)
        return layer.responsible_body if layer else None


@bp.get("/<int:case_id>")
@role_required(*STAFF)
def detail(case_id: int):
    """The case: findings, timeline, pending deadlines, allowed actions, the suggestion versions and
    the later findings flagged as recurrences (反弹) of it."""
    rt = runtime()
    case = cases_lib.get_case(rt, case_id)
    facts = cases_lib.case_facts(rt, case_id)
    ids = cases_lib.case_finding_ids(rt, case_id)
    editable = cases_lib.is_editable(case)
    actions = [(a, RULES[a]) for a in cases_lib.allowed_actions(facts)]
    return render_template("cases/detail.html", case=case, facts=facts, events=cases_lib.case_events(rt, case_id),
                           deadlines=deadlines_of(case_id), actions=actions, names=_names(),
                           findings=[get_finding(rt, i, taxonomy()) for i in ids], records=case_records(rt, case_id),
                           date_fields=DATE_FIELDS, methods=SERVICE_METHODS, editable=editable,
                           candidates=_candidates() if editable else [], categories=taxonomy().categories(),
                           action_labels=ACTION_LABELS, field_labels=FIELD_LABELS, state_labels=CASE_STATE_LABELS,
                           draft_labels=DRAFT_LABELS, later_recurrences=later_recurrences(case_id),
                           text_fields=TEXT_FIELDS, list_fields=LIST_FIELDS)


def later_recurrences(case_id: int) -> list[tuple]:
    """(recurrence, finding view) of each new finding flagged as a recurrence (反弹) of this case."""
    rt = runtime()
    return [(r, get_finding(rt, r.finding_id, taxonomy())) for r in recurrences(rt, old_case_id=case_id)]


def _candidates():
    """Open findings not yet in any case, which may be added to an editable case."""
    taken = set(cases_lib.case_finding_ids(runtime()))
    return [f for f in list_findings(runtime(), taxonomy=taxonomy(), state="open") if f.id not in taken]


def _require_editable(case_id: int) -> Case:
    case = cases_lib.get_case(runtime(), case_id)
    if not cases_lib.is_editable(case):
        raise ConflictError(_("Case #%(id)s is now “%(state)s”: its details and findings can change only before "
                              "the suggestion is issued (clue, filed, investigating).",
                              id=case.id, state=CASE_STATE_LABELS.get(case.state, case.state)))
    return case


@bp.post("/<int:case_id>/edit")
@role_required(*STAFF)
def edit_details(case_id: int):
    """Change the title, responsible body, nature (category; sets the domain) and urgency."""
    _require_editable(case_id)
    form = request.form
    fields = {k: form[k] for k in ("title", "responsible_body") if k in form}
    nature = form.get("nature", "").strip()
    if nature:
        if nature not in taxonomy():
            raise InputError(f"case {case_id}: nature {nature!r} is not a category of the taxonomy")
        fields.update(nature=nature, domain=taxonomy().get(nature).domain)
    fields["urgent"] = form.get("urgent") == "1"
    cases_lib.edit_case(runtime(), case_id, current_viewer().id, **fields)
    flash(_("Case details saved."), "info")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<int:case_id>/findings")
@role_required(*STAFF)
def add_findings(case_id: int):
    """Attach the selected findings (``finding_id``) to a case that has no suggestion yet."""
    _require_editable(case_id)
    ids = request.form.getlist("finding_id", type=int)
    if not ids:
        raise InputError(f"case {case_id}: select at least one finding to add (finding_id)")
    cases_lib.add_findings(runtime(), case_id, ids, current_viewer().id)
    flash(_("%(n)s finding(s) added.", n=len(ids)), "info")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<int:case_id>/findings/<int:finding_id>/remove")
@role_required(*STAFF)
def remove_finding(case_id: int, finding_id: int):
    """Detach one finding from a case that has no suggestion yet."""
    _require_editable(case_id)
    cases_lib.remove_findings(runtime(), case_id, [finding_id], current_viewer().id)
    flash(_("Finding #%(id)s removed from the case.", id=finding_id), "info")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<int:case_id>/actions/<action>")
@role_required(*STAFF)
def act(case_id: int, action: str):
    """Apply a workflow action with its data fields; a refused action is a 409 with the reason."""
    rule = RULES[parse_action(action)]
    data = {}
    for field in rule.fields + ("note",):
        if field == "approved_by_higher":
            data[field] = request.form.get(field) == "1"
        elif request.form.get(field, "").strip():
            data[field] = request.form[field].strip()
    cases_lib.apply(runtime(), case_id, action, current_viewer().id, **data)
    flash(_("Done: %(action)s.", action=ACTION_LABELS.get(action, action)), "info")
    return redirect(url_for("cases.detail", case_id=case_id))


def _record(case_id: int, record_id: int):
    record = get_record(runtime(), record_id)
    if record.case_id != case_id:
        raise NotFoundError(f"suggestion {record_id}: not found in case {case_id}")
    return record


@bp.post("/<int:case_id>/draft")
@role_required(*STAFF)
def draft(case_id: int):
    """Draft the case's 检察建议书 (a new version) from its findings."""
    procuratorate = current_app.config.get("FIELDKIT_PROCURATORATE") or runtime().settings.procuratorate
    record = draft_suggestion(runtime(), case_id, current_viewer().id, procuratorate=procuratorate,
                              taxonomy=taxonomy())
    flash(_("Draft version %(v)s created.", v=record.version), "info")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor="suggestion"))


@bp.post("/<int:case_id>/suggestions/<int:record_id>")
@role_required(*STAFF)
def edit(case_id: int, record_id: int):
    """Edit a draft: every field the form sends (text, lists one item per line, facts, photo places).

    Fields absent from the form keep their value; an issued version is refused (409)."""
    record = _record(case_id, record_id)
    if record.state != "draft":
        raise ConflictError(_("Version %(v)s was issued as %(number)s and is frozen; draft a new version to "
                              "correct it.", v=record.version, number=record.doc_number))
    update_draft(runtime(), record_id, current_viewer().id, **draft_changes(request.form, record.content))
    flash(_("Draft saved."), "info")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor="suggestion"))


def draft_changes(form, content: dict) -> dict:
    """The draft fields a form sets: text fields as given, list fields one item per non-empty line,
    and each fact's place and description (``fact-N-place``, ``fact-N-description``) and each annex
    photo's place (``photo-N-place``), N counted from 0 in the draft's order."""
    changes: dict = {k: form[k] for k in TEXT_FIELDS if k in form}
    changes.update({k: [x.strip() for x in form[k].splitlines() if x.strip()] for k in LIST_FIELDS if k in form})
    for key, keys in (("facts", ("place", "description")), ("photos", ("place",))):
        items = [dict(item) for item in content.get(key, [])]
        prefix = key[:-1]
        for n, item in enumerate(items):
            for name in keys:
                if f"{prefix}-{n}-{name}" in form:
                    item[name] = form[f"{prefix}-{n}-{name}"].strip()
        if items != content.get(key, []):
            changes[key] = items
    return changes


def documents_dir() -> Path:
    """Where issued DOCX/PDF files are kept."""
    return runtime().settings.data_dir / "documents"


@bp.post("/<int:case_id>/suggestions/<int:record_id>/issue")
@role_required(*STAFF)
def issue(case_id: int, record_id: int):
    """Number the draft, export DOCX and PDF, freeze it."""
    _record(case_id, record_id)
    scheme = NumberingScheme(org=current_app.config.get("FIELDKIT_DOC_ORG") or runtime().settings.doc_org)
    record, _docx, _pdf = issue_suggestion_document(runtime(), record_id, current_viewer().id, scheme,
                                                    out_dir=documents_dir())
    flash(_("Issued as %(number)s.", number=record.doc_number), "info")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor="suggestion"))


def _download(case_id: int, record_id: int, ext: str):
    record = _record(case_id, record_id)
    if record.state != "issued":
        raise NotFoundError(f"suggestion {record_id}: not issued yet, no {ext.upper()} to download")
    path = documents_dir() / f"suggestion-case{record.case_id}-v{record.version}.{ext}"
    expected = record.docx_sha256 if ext == "docx" else record.pdf_sha256
    if not path.is_file():
        raise NotFoundError(f"suggestion {record_id}: the {ext.upper()} file is missing from {path.parent}")
    data = path.read_bytes()  # small; hashed and sent from memory, so the file is never half-served
    if hashlib.sha256(data).hexdigest() != expected:
        raise StorageError(f"{path.name}: SHA-256 differs from the one recorded at issue; not served")
    return attachment(data, MIME[ext], f"{record.doc_number}.{ext}")


@bp.get("/<int:case_id>/suggestions/<int:record_id>.docx")
@role_required(*STAFF)
def download_docx(case_id: int, record_id: int):
    """The issued DOCX, as an attachment."""
    return _download(case_id, record_id, "docx")


@bp.get("/<int:case_id>/suggestions/<int:record_id>.pdf")
@role_required(*STAFF)
def download_pdf(case_id: int, record_id: int):
    """The issued PDF, as an attachment."""
    return _download(case_id, record_id, "pdf")
