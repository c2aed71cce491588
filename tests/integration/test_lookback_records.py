"""Recurrence flags, scorecards on a known fixture, and the 回头看记录 DOCX/PDF."""

from __future__ import annotations

import dataclasses
import datetime as dt

import docx
import pypdf
import pytest

from fieldkit import audit
from fieldkit.findings.service import record_finding
from fieldkit.lookback import (
    conclude_lookback,
    export_record_docx,
    export_record_pdf,
    flag_recurrence,
    lookback_record,
    pair_manually,
    plan_lookback,
    record_verdict,
    recurrences,
    scorecards,
)
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from tests.integration.test_lookback_setup import T0, add_finding, add_photo, add_user, served_case

D = dt.date
A_BODY, B_BODY = "永昌县文化和旅游局", "金川区文化和旅游局"
SPOT = (101.9700, 38.2480)
M = 1 / 111_000  # about a metre of latitude


def look(rt, user, case_id, findings, verdicts, done_on, seed):
    """A look-back with a confirmed new photo and a verdict per finding, concluded on ``done_on``."""
    lb = plan_lookback(rt, case_id, planned_on=done_on, actor_id=user, inspector_ids=[user])
    for k, (fid, verdict) in enumerate(zip(findings, verdicts)):
        photo = add_photo(rt, SPOT[0], SPOT[1] - 5 * M, bearing=10.0, seed=seed + k,
                          taken=f"{done_on}T09:30:00+08:00")
        pair_manually(rt, lb.id, fid, photo, user)
        record_verdict(rt, lb.id, fid, verdict, user, note="现场复查")
    return conclude_lookback(rt, lb.id, user, done_on=done_on, at=T0 + dt.timedelta(days=60))


@pytest.fixture
def known(runtime):
    li = add_user(runtime, "li", display="李明")
    old = add_photo(runtime, *SPOT, bearing=10.0, seed=1, taken="2024-12-20T10:00:00+08:00")
    f1 = add_finding(runtime, li, [old], *SPOT, place="马营沟村北侧", chainage_m=1200.0)
    c1 = served_case(runtime, li, [f1], served_on=D(2025, 1, 10), reply_on=D(2025, 3, 1))
    f2 = add_finding(runtime, li, [], 101.9, 38.2, category="gw-graffiti")
    c2 = served_case(runtime, li, [f2], served_on=D(2025, 1, 20), reply_on=D(2025, 3, 25), title="涂污")
    f3 = add_finding(runtime, li, [], 101.8, 38.1, category="gw-graffiti")
    c3 = served_case(runtime, li, [f3], served_on=D(2025, 2, 1), title="涂污三")
    f4 = add_finding(runtime, li, [], 102.2, 38.5, category="gw-graffiti")
    c4 = served_case(runtime, li, [f4], served_on=D(2025, 4, 20), body=B_BODY, title="金川涂污")
    first = look(runtime, li, c1, [f1], ["rectified"], D(2025, 3, 12), 10)
    look(runtime, li, c2, [f2], ["partly"], D(2025, 3, 26), 20)
    look(runtime, li, c2, [f2], ["rectified"], D(2025, 4, 30), 30)
    assert first.outcome == "closed"
    return {"li": li, "cases": (c1, c2, c3, c4), "f1": f1, "old": old}


def test_scorecards_on_a_known_fixture(runtime, known):
    rows = {r.responsible_body: r for r in scorecards(runtime, today=D(2025, 5, 1))}
    assert list(rows) == [A_BODY, B_BODY]  # by body name
    a, b = rows[A_BODY], rows[B_BODY]
    assert (a.suggestions_issued, a.replies_due, a.replies_on_time) == (3, 3, 1)
    assert a.reply_on_time_rate == pytest.approx(1 / 3)
    assert (a.cases_looked_back, a.rectified_first_lookback, a.rectified_first_rate) == (2, 1, 0.5)
    assert (a.closed_rectified, a.median_days_to_rectification) == (2, 80.5)  # 61 and 100 days
    assert a.recurrences == 0
    assert (b.suggestions_issued, b.replies_due, b.reply_on_time_rate, b.cases_looked_back) == (1, 0, None, 0)
    assert (b.rectified_first_rate, b.median_days_to_rectification, b.recurrences) == (None, None, 0)
    # a recurrence near the closed case counts for its body; a date window narrows the cases
    new = add_finding(runtime, known["li"], [], SPOT[0], SPOT[1] + 50 * M, observed_at=dt.datetime(2025, 6, 1))
    flag_recurrence(runtime, new, known["li"])
    assert {r.responsible_body: r.recurrences for r in scorecards(runtime, today=D(2025, 6, 2))}[A_BODY] == 1
    window = scorecards(runtime, since=D(2025, 1, 15), until=D(2025, 3, 1), today=D(2025, 5, 1))
    assert [(r.responsible_body, r.suggestions_issued) for r in window] == [(A_BODY, 2)]


def test_recurrence_is_flagged_when_recording_a_finding_nearby(runtime, known):
    li, c1 = known["li"], known["cases"][0]
    near = add_photo(runtime, SPOT[0], SPOT[1] + 100 * M, seed=60)
    rec = record_finding(runtime, photo_ids=[near], category_id="gw-graffiti", actor_id=li,
                         observed_at=dt.datetime(2025, 9, 1))
    (flag,) = recurrences(runtime, finding_id=rec.id)
    assert (flag.old_case_id, flag.old_finding_id, flag.old_closed_on) == (c1, known["f1"], D(2025, 3, 12))
    assert flag.distance_m == pytest.approx(100, abs=1) and flag.responsible_body == A_BODY
    assert audit.verify(runtime) == []
    # too far (400 m), too late (13 months after closing) or another domain: not flagged
    far = add_photo(runtime, SPOT[0], SPOT[1] + 400 * M, seed=61)
    rec_far = record_finding(runtime, photo_ids=[far], category_id="gw-graffiti", actor_id=li,
                             observed_at=dt.datetime(2025, 9, 1))
    late = add_photo(runtime, SPOT[0], SPOT[1] + 10 * M, seed=62)
    rec_late = record_finding(runtime, photo_ids=[late], category_id="gw-graffiti", actor_id=li,
                              observed_at=dt.datetime(2026, 4, 13))
    other = add_photo(runtime, SPOT[0], SPOT[1] + 10 * M, seed=63)
    rec_other = record_finding(runtime, photo_ids=[other], category_id="ft-rust-peeling", actor_id=li,
                               observed_at=dt.datetime(2025, 9, 1))
    assert [recurrences(runtime, finding_id=r.id) for r in (rec_far, rec_late, rec_other)] == [[], [], []]
    # the distance and the window are configurable; flagging twice links once
    assert [f.old_case_id for f in flag_recurrence(runtime, rec_far.id, li, radius_m=500)] == [c1]
    assert [f.old_case_id for f in flag_recurrence(runtime, rec_late.id, li, months=14)] == [c1]
    assert flag_recurrence(runtime, rec_far.id, li, radius_m=500) == []
    assert len(recurrences(runtime, old_case_id=c1)) == 3


def test_lookback_record_docx_and_pdf(runtime, known, tmp_path):
    c1 = known["cases"][0]
    rec = lookback_record(runtime, c1)
    assert (rec.outcome, rec.done_on, rec.inspectors) == ("closed", D(2025, 3, 12), ("李明",))
    (item,) = rec.items
    assert (item.status, item.status_zh, item.place, item.chainage) == ("rectified", "已整改", "马营沟村北侧", "K1+200")
    assert [p.photo_id for p in item.before] == [known["old"]] and len(item.after) == 1
    assert all(p.image_path is not None and p.image_path.is_file() for p in item.before + item.after)

    word = docx.Document(str(export_record_docx(rec, tmp_path / "r.docx")))
    text = "\n".join(p.text for p in word.paragraphs)
    cells = "\n".join(c.text for t in word.tables for row in t.rows for c in row.cells)
    assert "回头看记录" in text and A_BODY in text and "认定：已整改（rectified），李明" in text
    assert "2025年3月12日" in text and "整改前" in cells and "整改后" in cells
    assert f"照片 P{known['old']} · 2024-12-20 10:00" in cells
    assert len(word.inline_shapes) == 2

    reader = pypdf.PdfReader(str(export_record_pdf(rec, tmp_path / "r.pdf")))
    pdf_text = "".join(page.extract_text() for page in reader.pages)
    for needle in ("回头看记录", "整改前", "整改后", "已整改", "马营沟村北侧", A_BODY):
        assert needle in pdf_text
    assert sum(len(page.images) for page in reader.pages) == 2


def test_recurrence_window_and_radius_come_from_the_settings(runtime, known):
    """FIELDKIT_RECURRENCE_RADIUS_M / _MONTHS reach record_finding's recurrence check."""
    li, c1 = known["li"], known["cases"][0]
    wide = Runtime(dataclasses.replace(runtime.settings, recurrence_radius_m=500, recurrence_months=14))
    try:
        far = add_photo(wide, SPOT[0], SPOT[1] + 400 * M, seed=71)
        rec_far = record_finding(wide, photo_ids=[far], category_id="gw-graffiti", actor_id=li,
                                 observed_at=dt.datetime(2026, 4, 13))  # 400 m away, 13 months later
        assert [f.old_case_id for f in recurrences(wide, finding_id=rec_far.id)] == [c1]
    finally:
        wide.db.dispose()
    assert Settings.from_env(env={"FIELDKIT_RECURRENCE_RADIUS_M": "80", "FIELDKIT_RECURRENCE_MONTHS": "6"},
                             data_dir=runtime.settings.data_dir).recurrence_radius_m == 80
