"""Demo findings and cases (:mod:`fieldkit.demo_cases`) on top of :func:`load_demo`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select

from fieldkit import audit, demo
from fieldkit.demo import load_demo
from fieldkit.demo_cases import DEMO_CASES, MARKER, step_cases
from fieldkit.findings.service import list_findings
from fieldkit.store.models import Feature
from fieldkit.store.models_cases import AuditEntry, Case, CaseEvent, CaseFinding, Finding
from fieldkit.store.models_documents import SuggestionRecord

STATES = {"clue", "filed", "investigating", "follow_up", "closed", "litigation_review", "suspended",
          "terminated"}
DOMAINS = {"great_wall", "fitness", "rivers"}
NUMBER = re.compile(r"^[金辽]检行公建〔2025〕[1-9]\d*号$")


def _counts(rt) -> dict:
    with rt.db.session() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Finding, Case, CaseFinding, CaseEvent, SuggestionRecord, AuditEntry)}


@pytest.fixture
def loaded(runtime, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_STEPS", [*demo.DEMO_STEPS, step_cases])
    summary = load_demo(runtime)
    return runtime, summary


def test_every_domain_has_findings_and_cases_in_every_state(loaded):
    rt, summary = loaded
    with rt.db.session() as s:
        cases = list(s.scalars(select(Case)))
        links = list(s.execute(select(CaseFinding.case_id, Finding.created_by_id, Finding.note, Feature.properties)
                               .join(Finding, Finding.id == CaseFinding.finding_id)
                               .join(Feature, Feature.id == Finding.feature_id)))
    assert {c.domain for c in cases} == DOMAINS
    for domain in DOMAINS:
        found = list_findings(rt, domain=domain)
        assert len(found) >= 3 and all(f.note.startswith(MARKER) and f.feature_id for f in found), domain
    states = {c.state for c in cases}
    assert STATES <= states and states & {"suggestion_issued", "awaiting_reply"}
    for domain in DOMAINS:
        assert len({c.state for c in cases if c.domain == domain}) >= 3, domain
    inspectors = {summary.user_ids["inspector"], summary.user_ids["inspector2"]}
    by_case = {c.id: c for c in cases}
    for case_id, author, note, props in links:
        assert author in inspectors and note.startswith(MARKER)
        body = props.get("body") or props.get("责任单位")
        if body and by_case[case_id].domain != "rivers":  # one body per case, the joined feature's
            assert by_case[case_id].responsible_body == body, by_case[case_id].title


def test_case_actions_are_the_reviewers_with_fixed_2025_times(loaded):
    rt, summary = loaded
    with rt.db.session() as s:
        events = list(s.scalars(select(CaseEvent)))
        cases = list(s.scalars(select(Case)))
    assert events and {e.actor_id for e in events} == {summary.user_ids["reviewer"]}
    assert all(e.at.year == 2025 for e in events)
    assert all(c.created_at.year == 2025 and c.created_by_id == summary.user_ids["reviewer"] for c in cases)
    closed = [c for c in cases if c.state == "closed"]
    assert closed and all(c.ended_on and c.first_reply_on for c in closed)
    review = [c for c in cases if c.state == "litigation_review"]
    assert review and all(c.review_due and c.review_due > c.rectification_due for c in review)
    suspended = [c for c in cases if c.state == "suspended"]
    assert suspended and all(c.resume_to == "follow_up" for c in suspended)


def test_issued_suggestions_have_numbers_and_files(loaded):
    rt, _ = loaded
    with rt.db.session() as s:
        records = list(s.scalars(select(SuggestionRecord).where(SuggestionRecord.state == "issued")))
        case_states = {cid: st for cid, st in s.execute(select(Case.id, Case.state))}
    numbers = [r.doc_number for r in records]
    assert any(n.startswith("金检行公建〔2025〕") for n in numbers)
    assert all(NUMBER.match(n) for n in numbers) and len(set(numbers)) == len(numbers)
    assert all(case_states[r.case_id] not in {"clue", "filed", "investigating"} for r in records)
    docs = rt.settings.data_dir / "documents"
    for r in records:
        stem = docs / f"suggestion-case{r.case_id}-v{r.version}"
        docx, pdf = Path(f"{stem}.docx"), Path(f"{stem}.pdf")
        assert docx.is_file() and pdf.read_bytes().startswith(b"%PDF")
        text = "\n".join(p.text for p in Document(str(docx)).paragraphs)
        assert r.doc_number in text and r.content["addressee"] in text


def test_audit_chain_intact_and_a_second_run_changes_nothing(loaded):
    rt, _ = loaded
    assert audit.verify(rt) == []
    before = _counts(rt)
    assert before["Finding"] >= sum(len(c.findings) for c in DEMO_CASES) - 2
    files = sorted((rt.settings.data_dir / "documents").iterdir())
    again = load_demo(rt)
    assert _counts(rt) == before
    assert sorted((rt.settings.data_dir / "documents").iterdir()) == files
    assert audit.verify(rt) == []
    cases = getattr(again, "cases", None)
    assert cases is None or cases.already_loaded
    step_cases(rt, demo.DemoContext(None, demo.demo_root() / "photos"), again)  # called directly
    assert _counts(rt) == before


def test_step_cases_direct_call_skips_without_photos(runtime):
    summary = load_demo(runtime, load_layers=False, load_photos=False)
    ctx = demo.DemoContext(None, None)
    step_cases(runtime, ctx, summary)
    assert _counts(runtime)["Finding"] == 0


def test_demo_has_lookbacks_done_and_due(loaded):
    import datetime as dt

    from fieldkit.lookback import due_lookbacks, finding_checks, list_lookbacks, list_pairs
    from fieldkit.store.models import Inspection, Photo

    rt, summary = loaded
    with rt.db.session() as s:
        states = dict(s.execute(select(Case.id, Case.state)).all())
        purposes = dict(s.execute(select(Inspection.id, Inspection.purpose)).all())
    lookbacks = list_lookbacks(rt)
    outcomes = {lb.outcome: lb for lb in lookbacks}
    assert set(outcomes) == {"closed", "litigation_review", "follow_up", None}
    for outcome, lb in outcomes.items():
        assert purposes[lb.inspection_id] == "lookback"
        if outcome is None:  # planned, not done: on the due list
            assert lb.done_on is None and states[lb.case_id] == "awaiting_reply"
            continue
        assert states[lb.case_id] == outcome and lb.done_on.year == 2025
        verdict = {"closed": "rectified", "litigation_review": "not_rectified", "follow_up": "partly"}[outcome]
        checks = finding_checks(rt, lb.id)
        assert checks and {c.status for c in checks} == {verdict}
        pairs = list_pairs(rt, lb.id)
        assert {p.finding_id for p in pairs if p.state == "confirmed"} == {c.finding_id for c in checks}
        with rt.db.session() as s:
            for p in pairs:  # the re-shot photo is placed by EXIF next to the finding's old spot
                photo = s.get(Photo, p.photo_id)
                assert photo.location_source == "exif" and photo.inspection_id == lb.inspection_id
                assert photo.uploaded_by_id in {summary.user_ids["inspector"], summary.user_ids["inspector2"]}
                assert p.score > 0.8 and p.components["distance_m"] < 5
    due = due_lookbacks(rt, today=dt.date(2025, 9, 12))
    assert {(i.case_id, i.basis, i.group) for i in due.items} == {
        (outcomes[None].case_id, "planned", "overdue"), (outcomes["follow_up"].case_id, "revisit", "later")}
    assert due_lookbacks(rt, today=dt.date(2025, 9, 12), team="辽源").items == due.items
    assert due_lookbacks(rt, today=dt.date(2025, 9, 12), team="金昌").items == ()
