"""From a stored case to a 检察建议书: draft, edit, number, issue (DOCX + PDF), all audited.

:func:`draft_suggestion` builds the document content from the case, its findings, their photos
and the taxonomy, and stores it as version N+1 of the case's :class:`SuggestionRecord` in state
``draft``. :func:`update_draft` edits a draft. :func:`issue_suggestion_document` takes the next
number from :class:`DbSequenceStore` in the same write session (so numbers never repeat and a
failed export consumes none), exports DOCX and PDF, records their SHA-256 and freezes the record
(the database refuses UPDATE/DELETE of an issued row, migration 0003). A correction is a new
draft, version N+1, with a new number.

Dates: ``at`` is UTC (naive values are taken as UTC, as everywhere in the store); the document
date and the numbering year are the calendar day in China Standard Time (UTC+8).

Drafting choices (editable afterwards, see BRIEF §6): legal-basis entries marked
``verified: false`` in the taxonomy are left out of the draft and listed in the audit entry;
the objection period defaults to :data:`DEFAULT_OBJECTION_DAYS`; the rectification deadline is
:func:`~.suggestion.deadline_text` of the case's ``urgent`` flag (2 months, or 15 days).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import ConflictError, InputError, NotFoundError, StorageError
from ..findings.taxonomy import Category, Taxonomy, load_taxonomy
from ..geo.measure import format_chainage
from ..store.lookup import check_actor, get_or_raise
from ..store.models import Photo, utcnow
from ..store.models_cases import Case, CaseFinding, Finding, FindingPhoto
from ..store.models_documents import DbSequenceStore, SuggestionRecord
from .docx_ import export_docx
from .numbering import NumberingScheme, allocate_number
from .pdf_ import export_pdf
from .suggestion import TITLE, FactItem, PhotoAnnexItem, SuggestionDocument, deadline_text, objection_text

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
DEFAULT_OBJECTION_DAYS = 5
DRAFT_NUMBER = "（待编号）"
DEFAULT_REPLY_METHOD = "请将整改落实情况及相关证明材料书面回复本院。"
# The procedural basis of every pre-litigation recommendation (BRIEF §2 item 4: 行政诉讼法 art. 25
# ¶4 and J21).
PROCEDURAL_BASIS = (
    "《中华人民共和国行政诉讼法》第二十五条第四款",
    "《最高人民法院、最高人民检察院关于检察公益诉讼案件适用法律若干问题的解释》第二十一条",
)
PLACEMENT_ZH = {
    "exif": "照片EXIF GPS定位（WGS-84）",
    "gpx": "GPS轨迹按拍摄时间插值定位",
    "device": "拍摄设备定位",
    "manual": "人工在地图上标定",
    "none": "无定位信息",
}
TEXT_FIELDS = ("procuratorate", "title", "addressee", "case_source", "deadline", "objection_terms",
               "reply_method", "other_matters")
LIST_FIELDS = ("duty_and_reasons", "legal_basis", "recommendations", "cc")
EDITABLE_FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "facts", "photos")
__all__ = ["DbSequenceStore", "case_records", "document_of_content", "draft_suggestion", "get_record",
           "issue_suggestion_document", "update_draft"]


# -- public services ---------------------------------------------------------------------------


def draft_suggestion(
    rt,
    case_id: int,
    actor_id: int,
    *,
    procuratorate: str,
    addressee: str | None = None,
    taxonomy: Taxonomy | None = None,
    at: dt.datetime | None = None,
    objection_days: int = DEFAULT_OBJECTION_DAYS,
    reply_method: str = DEFAULT_REPLY_METHOD,
    cc: Iterable[str] = (),
) -> SuggestionRecord:
    """Draft the case's 检察建议书 from its findings and store it as version N+1 (state draft).

    Refuses (ConflictError) while the case already has an unissued draft: edit that one.
    """
    if not isinstance(procuratorate, str) or not procuratorate.strip():
        raise InputError("draft suggestion: procuratorate must be non-empty text")
    taxonomy = taxonomy or load_taxonomy()
    at = _utc_naive(at)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        case = get_or_raise(s, Case, case_id, "case")
        _refuse_open_draft(s, case)
        content, unverified = _build_content(
            s, rt.evidence, case, taxonomy, _local_day(at),
            procuratorate=procuratorate.strip(), addressee=addressee,
            objection_days=objection_days, reply_method=reply_method, cc=tuple(cc),
        )
        document_of_content(content)  # validate now, not at issue time
        version = (s.scalar(select(func.max(SuggestionRecord.version))
                            .where(SuggestionRecord.case_id == case.id)) or 0) + 1
        record = SuggestionRecord(case_id=case.id, version=version, state="draft", content=content,
                                  created_by_id=actor_id, created_at=at, updated_at=at)
        s.add(record)
        s.flush()
        audit.append(s, actor_id, "suggestion", record.id, "draft",
                     {"case_id": case.id, "version": version, "content_sha256": _content_hash(content),
                      "unverified_basis_left_out": unverified}, at=at)
    return record


def update_draft(rt, record_id: int, actor_id: int, at: dt.datetime | None = None,
                 **fields: Any) -> SuggestionRecord:
    """Change fields of a draft (see :data:`EDITABLE_FIELDS`); issued records raise ConflictError."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise InputError(f"suggestion {record_id}: cannot edit {', '.join(unknown)}; "
                         f"editable: {', '.join(EDITABLE_FIELDS)}")
    at = _utc_naive(at)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        record = _draft(s, record_id, "edit")
        changes = {k: _normalise(record_id, k, v) for k, v in fields.items()}
        changes = {k: v for k, v in changes.items() if record.content.get(k) != v}
        if not changes:
            return record
        content = {**record.content, **changes}
        document_of_content(content)
        record.content, record.updated_at = content, at
        audit.append(s, actor_id, "suggestion", record.id, "edit",
                     {"changes": changes, "content_sha256": _content_hash(content)}, at=at)
    return record


def issue_suggestion_document(
    rt, record_id: int, actor_id: int, scheme: NumberingScheme, *, at: dt.datetime | None = None,
    out_dir: str | Path,
) -> tuple[SuggestionRecord, Path, Path]:
    """Number the draft, export DOCX and PDF into ``out_dir``, record their SHA-256, freeze it.

    Everything happens in one write session: a failed export leaves the draft and the number
    sequence unchanged.
    """
    at = _utc_naive(at)
    day = _local_day(at)
    out = Path(out_dir)
    with rt.db.session(write=True) as s:
        check_actor(s, actor_id)
        record = _draft(s, record_id, "issue")
        number = allocate_number(scheme, day.year, DbSequenceStore(s))
        content = {**record.content, "doc_number": number.text, "date": day.isoformat()}
        document = document_of_content(content)
        _make_dir(out)
        stem = f"suggestion-case{record.case_id}-v{record.version}"
        docx_path = export_docx(document, out / f"{stem}.docx")
        pdf_path = export_pdf(document, out / f"{stem}.pdf", font_dir=rt.settings.font_dir)
        record.content, record.doc_number, record.state = content, number.text, "issued"
        record.issued_at, record.issued_by_id, record.updated_at = at, actor_id, at
        record.docx_sha256, record.pdf_sha256 = _file_hash(docx_path), _file_hash(pdf_path)
        s.flush()
        audit.append(s, actor_id, "suggestion", record.id, "issue",
                     {"case_id": record.case_id, "version": record.version, "doc_number": number.text,
                      "content_sha256": _content_hash(content), "docx_sha256": record.docx_sha256,
                      "pdf_sha256": record.pdf_sha256}, at=at)
    return record, docx_path, pdf_path


def get_record(rt, record_id: int) -> SuggestionRecord:
    """The suggestion record with ``record_id``; NotFoundError if there is none."""
    with rt.db.session() as s:
        return _load(s, record_id)


def case_records(rt, case_id: int) -> list[SuggestionRecord]:
    """Every version of the case's suggestion, oldest first."""
    with rt.db.session() as s:
        return list(s.scalars(select(SuggestionRecord).where(SuggestionRecord.case_id == case_id)
                              .order_by(SuggestionRecord.version)))


def document_of_content(content: dict[str, Any]) -> SuggestionDocument:
    """The :class:`SuggestionDocument` of stored content (a draft shows :data:`DRAFT_NUMBER`)."""
    try:
        values = {k: content[k] for k in TEXT_FIELDS}
        values.update({k: tuple(content[k]) for k in LIST_FIELDS})
        facts = tuple(_fact_from_json(f) for f in content["facts"])
        photos = tuple(_photo_from_json(p) for p in content["photos"])
        day = dt.date.fromisoformat(content["date"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"检察建议书 content is malformed: {exc!r}") from exc
    return SuggestionDocument(doc_number=content.get("doc_number") or DRAFT_NUMBER, facts=facts,
                              photos=photos, date=day, **values)


# -- building the content ---------------------------------------------------------------------


def _build_content(s: Session, evidence, case: Case, taxonomy: Taxonomy, day: dt.date, *,
                   procuratorate: str, addressee: str | None, objection_days: int, reply_method: str,
                   cc: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    findings = list(s.scalars(select(Finding).join(CaseFinding, CaseFinding.finding_id == Finding.id)
                              .where(CaseFinding.case_id == case.id).order_by(Finding.id)))
    if not findings:
        raise ConflictError(f"case {case.id} ({case.title}): no findings to draft a suggestion from")
    facts: list[FactItem] = []
    photos: dict[str, PhotoAnnexItem] = {}
    categories: list[Category] = []
    for finding in findings:
        category = _category(taxonomy, finding)
        categories.append(category)
        shots = _photos(s, finding.id)
        place = _place(finding)
        for photo in shots:
            photos.setdefault(_ref(photo), _annex_item(evidence, photo, place))
        facts.append(_fact(finding, category, shots, place))
    addressee = (addressee or case.responsible_body).strip()
    duty, basis, unverified = _duty_and_basis(categories, day)
    content = {
        "procuratorate": procuratorate, "title": TITLE, "addressee": addressee,
        "case_source": _case_source(case), "facts": [_fact_json(f) for f in facts],
        "duty_and_reasons": duty, "legal_basis": basis,
        "recommendations": _unique(_sentence(c.recommendation_zh) for c in categories),
        "deadline": deadline_text(bool(case.urgent)), "objection_terms": objection_text(objection_days),
        "reply_method": reply_method, "other_matters": "", "cc": list(cc),
        "photos": [_photo_json(p) for p in photos.values()], "doc_number": None,
        "date": day.isoformat(),
    }
    return content, unverified


def _category(taxonomy: Taxonomy, finding: Finding) -> Category:
    try:
        return taxonomy.get(finding.category_id)
    except NotFoundError as exc:
        raise NotFoundError(f"finding {finding.id}: {exc}") from None


def _photos(s: Session, finding_id: int) -> list[Photo]:
    return list(s.scalars(select(Photo).join(FindingPhoto, FindingPhoto.photo_id == Photo.id)
                          .where(FindingPhoto.finding_id == finding_id)
                          .order_by(FindingPhoto.position, Photo.id)))


def _place(finding: Finding) -> str:
    return (finding.place or "").strip() or (finding.feature_name or "").strip() or "现场"


def _fact(finding: Finding, category: Category, shots: list[Photo], place: str) -> FactItem:
    times = [t for t in (_photo_time(p) for p in shots) if t is not None]
    when = min(times) if times else finding.observed_at
    if when is None:
        raise InputError(f"finding {finding.id}: no time (its photos have no taken_at and it has no "
                         "observed_at)")
    located = next((p for p in shots if p.lon is not None and p.lat is not None), None)
    lon, lat = (finding.lon, finding.lat) if finding.lon is not None else (
        (located.lon, located.lat) if located else (None, None))
    note = (finding.note or "").strip().rstrip("。")
    return FactItem(
        time=when, place=place, lon=lon, lat=lat, feature_name=(finding.feature_name or "").strip(),
        chainage=format_chainage(finding.chainage_m) if finding.chainage_m is not None else "",
        description=f"存在{category.name_zh}问题" + (f"：{note}" if note else ""),
        photo_refs=tuple(_ref(p) for p in shots),
    )


def _annex_item(evidence, photo: Photo, place: str) -> PhotoAnnexItem:
    return PhotoAnnexItem(
        ref=_ref(photo), image_path=evidence.preview_path(photo.sha256), taken_at=_photo_time(photo),
        place=place, placement=PLACEMENT_ZH.get(photo.location_source, photo.location_source),
        sha256=photo.sha256, lon=photo.lon, lat=photo.lat,
    )


def _ref(photo: Photo) -> str:
    return f"P{photo.id}"


def _photo_time(photo: Photo) -> dt.datetime | None:
    """The camera's local time (as it said it), else the UTC time shown in China time."""
    if photo.taken_at:
        try:
            return dt.datetime.fromisoformat(photo.taken_at).replace(tzinfo=None)
        except ValueError:
            pass
    if photo.taken_at_utc is not None:
        return photo.taken_at_utc.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).replace(tzinfo=None)
    return None


def _duty_and_basis(categories: list[Category], day: dt.date) -> tuple[list[str], list[str], list[str]]:
    duty, basis, unverified = [], [], []
    for category in dict.fromkeys(categories):
        for entry in category.basis_on(day):
            citation = entry.citation()
            if not entry.verified:
                unverified.append(citation)
            elif citation not in basis:
                basis.append(citation)
                if entry.note:
                    duty.append(f"{citation}规定：{_sentence(entry.note)}")
    names = "".join(f"“{n}”" for n in _unique(c.name_zh for c in categories))
    duty.append(f"你单位依法负有监督管理职责，对上述{names}问题未依法履行职责，"
                "致使国家利益和社会公共利益受到侵害。")
    return duty, basis + [b for b in PROCEDURAL_BASIS if b not in basis], _unique(unverified)


def _case_source(case: Case) -> str:
    filed = f"，于{case.filed_on.year}年{case.filed_on.month}月{case.filed_on.day}日依法立案调查" \
        if case.filed_on else "，依法开展调查"
    return f"本院在履行公益诉讼检察职责中发现“{case.title}”案件线索{filed}。现查明："


# -- JSON form of the content -------------------------------------------------------------------


def _fact_json(fact: FactItem) -> dict[str, Any]:
    out = asdict(fact)
    out["time"], out["photo_refs"] = fact.time.isoformat(), list(fact.photo_refs)
    return out


def _fact_from_json(raw: dict[str, Any]) -> FactItem:
    values = dict(raw)
    values["time"] = dt.datetime.fromisoformat(values["time"])
    values["photo_refs"] = tuple(values.get("photo_refs", ()))
    return FactItem(**values)


def _photo_json(photo: PhotoAnnexItem) -> dict[str, Any]:
    out = asdict(photo)
    out["image_path"] = str(photo.image_path)
    out["taken_at"] = photo.taken_at.isoformat() if photo.taken_at else None
    return out


def _photo_from_json(raw: dict[str, Any]) -> PhotoAnnexItem:
    values = dict(raw)
    values["image_path"] = Path(values["image_path"])
    values["taken_at"] = dt.datetime.fromisoformat(values["taken_at"]) if values.get("taken_at") else None
    return PhotoAnnexItem(**values)


def _normalise(record_id: int, key: str, value: Any) -> Any:
    where = f"suggestion {record_id}: field '{key}'"
    try:
        if key in TEXT_FIELDS:
            if not isinstance(value, str):
                raise TypeError("expected text")
            return value.strip()
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError("expected a list")
        if key in LIST_FIELDS:
            if not all(isinstance(v, str) for v in value):
                raise TypeError("expected a list of text")
            return [v.strip() for v in value]
        if key == "facts":
            return [_fact_json(v if isinstance(v, FactItem) else _fact_from_json(v)) for v in value]
        return [_photo_json(v if isinstance(v, PhotoAnnexItem) else _photo_from_json(v)) for v in value]
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"{where}: {exc}") from exc


# -- helpers --------------------------------------------------------------------------------------


def _load(s: Session, record_id: int) -> SuggestionRecord:
    return get_or_raise(s, SuggestionRecord, record_id, "suggestion")


def _draft(s: Session, record_id: int, what: str) -> SuggestionRecord:
    record = _load(s, record_id)
    if record.state != "draft":
        raise ConflictError(
            f"suggestion {record_id} (case {record.case_id} version {record.version}): cannot {what} it, "
            f"it was issued as {record.doc_number} and is frozen; draft a new version instead"
        )
    return record


def _refuse_open_draft(s: Session, case: Case) -> None:
    open_draft = s.scalar(select(SuggestionRecord).where(SuggestionRecord.case_id == case.id,
                                                         SuggestionRecord.state == "draft"))
    if open_draft is not None:
        raise ConflictError(f"case {case.id} ({case.title}) already has draft suggestion {open_draft.id} "
                            f"(version {open_draft.version}): edit or issue it first")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith(("。", "；", "！")) else text + "。"


def _utc_naive(at: dt.datetime | None) -> dt.datetime:
    at = at or utcnow()
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at


def _local_day(at_utc: dt.datetime) -> dt.date:
    return at_utc.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).date()


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the output folder {out}: {exc}") from exc


def _content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(audit.canonical_json(content).encode("utf-8")).hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
