"""From a stored case to an issued 检察建议书: draft, edit, number, export, freeze, audit."""

from __future__ import annotations

import datetime as dt
import hashlib

import docx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DatabaseError

import fieldkit.store.models_cases  # registers the tables on Base.metadata
import fieldkit.store.models_documents  # noqa: F401
from fieldkit import audit, cases
from fieldkit.documents import FactItem, NumberingScheme, deadline_text
from fieldkit.documents.drafting import (
    DbSequenceStore,
    case_records,
    document_of_content,
    draft_suggestion,
    get_record,
    issue_suggestion_document,
    update_draft,
)
from fieldkit.errors import ConflictError, InputError, NotFoundError, StorageError
from fieldkit.findings import load_taxonomy
from fieldkit.store import Photo, User
from fieldkit.store.migrate import alembic_config, current, schema_diff, upgrade
from fieldkit.store.models_cases import AuditEntry, Finding, FindingPhoto
from fieldkit.store.models_documents import DocSequence
from tests.photo_factory import make_jpeg

PROC = "永昌县人民检察院"
BODY = "永昌县文化和旅游局"
SCHEME = NumberingScheme(org="金")
JUNE = dt.datetime(2025, 6, 3, 2, 0)  # 10:00 in China
TAX = load_taxonomy()


@pytest.fixture
def li(runtime):
    with runtime.db.session(write=True) as s:
        user = User(username="li", password_hash="x", role="inspector")
        s.add(user)
    return user.id


def add_photo(rt, taken: str, lon: float | None, lat: float | None, source: str) -> Photo:
    data = make_jpeg(480, 360, lat=lat, lon=lon, taken_at=taken.replace("-", ":", 2)[:19])
    sha, _ = rt.evidence.put(data)
    rt.evidence.put_derivative(sha, "preview", data)
    with rt.db.session(write=True) as s:
        photo = Photo(sha256=sha, original_name=f"{sha[:8]}.jpg", size_bytes=len(data), format="JPEG",
                      taken_at=taken, lat=lat, lon=lon, location_source=source)
        s.add(photo)
    return photo


def add_finding(rt, user: int, category: str, photos: list[Photo], **values) -> int:
    with rt.db.session(write=True) as s:
        finding = Finding(category_id=category, created_by_id=user, **values)
        s.add(finding)
        s.flush()
        s.add_all(FindingPhoto(finding_id=finding.id, photo_id=p.id, position=i) for i, p in enumerate(photos))
    return finding.id


@pytest.fixture
def wall_case(runtime, li):
    """A Great Wall case: earth taken from the wall (2 photos) and a missing sign (1 photo)."""
    p1 = add_photo(runtime, "2025-05-06T11:05:00+08:00", 101.968421, 38.247315, "exif")
    p2 = add_photo(runtime, "2025-05-06T10:24:00+08:00", 101.968500, 38.247400, "gpx")
    p3 = add_photo(runtime, "2025-05-06T11:40:00+08:00", 101.973002, 38.251876, "manual")
    f1 = add_finding(runtime, li, "gw-earth-brick-planting", [p1, p2], place="永昌县新城子镇马营沟村北侧",
                     lon=101.968421, lat=38.247315, feature_name="明长城永昌段", chainage_m=12300.4,
                     note="墙体被人为取土形成长约6米的豁口")
    f2 = add_finding(runtime, li, "gw-sign-missing", [p3], place="永昌县新城子镇马营沟村东侧",
                     feature_name="明长城永昌段", chainage_m=12850.0, note="现场未见长城保护标志")
    case = cases.open_case(runtime, title="明长城永昌段取土破坏", responsible_body=BODY, actor_id=li,
                           domain="great_wall", finding_ids=[f1, f2])
    return case, (p1, p2, p3)


def other_case(rt, user: int, urgent: bool = False):
    photo = add_photo(rt, "2025-05-20T09:00:00+08:00", 102.1, 38.5, "device")
    fid = add_finding(rt, user, "gw-graffiti", [photo], place="金川区某段长城", note="墙体涂污")
    return cases.open_case(rt, title="长城涂污", responsible_body="金昌市金川区文化和旅游局", actor_id=user,
                           urgent=urgent, finding_ids=[fid])


def sha_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upgrade_creates_tables_and_matches_the_models(db):
    head = ScriptDirectory.from_config(alembic_config(db.engine)).get_current_head()
    assert current(db.engine) == head and head >= "0003"  # later issues add migrations on top
    assert {"doc_sequences", "suggestion_records"} <= set(inspect(db.engine).get_table_names())
    assert schema_diff(db.engine) == []  # ignores PostGIS's own tables and PG-only indexes
    command.downgrade(alembic_config(db.engine), "0002")
    assert not {"doc_sequences", "suggestion_records"} & set(inspect(db.engine).get_table_names())
    upgrade(db.engine)
    assert current(db.engine) == head


def test_draft_has_every_field_from_the_case(runtime, li, wall_case):
    case, (p1, p2, p3) = wall_case
    record = draft_suggestion(runtime, case.id, li, procuratorate=PROC, at=JUNE)
    assert (record.version, record.state, record.doc_number) == (1, "draft", None)
    c = record.content
    assert (c["procuratorate"], c["addressee"], c["date"]) == (PROC, BODY, "2025-06-03")
    assert "明长城永昌段取土破坏" in c["case_source"]
    f1, f2 = c["facts"]
    assert (f1["chainage"], f2["chainage"]) == ("K12+300", "K12+850")
    assert f1["time"] == "2025-05-06T10:24:00"  # the earliest photo's camera time
    assert (f1["feature_name"], f1["place"], f1["lon"]) == ("明长城永昌段", "永昌县新城子镇马营沟村北侧", 101.968421)
    assert (f2["lon"], f2["lat"]) == (101.973002, 38.251876)  # from its photo
    assert "在长城上取土" in f1["description"] and "豁口" in f1["description"]
    assert f1["photo_refs"] == [f"P{p1.id}", f"P{p2.id}"] and f2["photo_refs"] == [f"P{p3.id}"]
    basis = c["legal_basis"]
    assert len(basis) == len(set(basis))
    for cited in ("《长城保护条例》第十八条第（一）项", "《长城保护条例》第四条", "《长城保护条例》第十三条",
                  "《中华人民共和国文物保护法》第二十六条", "《中华人民共和国行政诉讼法》第二十五条第四款"):
        assert cited in basis
    assert any(d.startswith("《长城保护条例》第十八条第（一）项规定：禁止在长城上取土") for d in c["duty_and_reasons"])
    recs = [" ".join(TAX.get(k).recommendation_zh.split()) for k in ("gw-earth-brick-planting", "gw-sign-missing")]
    assert [r.rstrip("。") for r in c["recommendations"]] == [r.rstrip("。") for r in recs]
    assert c["deadline"] == deadline_text(False) and "两个月" in c["deadline"]
    photos = {p["ref"]: p for p in c["photos"]}
    assert list(photos) == [f"P{p1.id}", f"P{p2.id}", f"P{p3.id}"]
    assert photos[f"P{p1.id}"]["image_path"] == str(runtime.evidence.preview_path(p1.sha256))
    assert photos[f"P{p2.id}"]["sha256"] == p2.sha256 and "GPS轨迹" in photos[f"P{p2.id}"]["placement"]
    assert photos[f"P{p3.id}"]["place"] == "永昌县新城子镇马营沟村东侧"
    document = document_of_content(c)
    assert "K12+300" in "".join(document.required_texts())
    with runtime.db.session() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert (last.entity, last.entity_id, last.action) == ("suggestion", str(record.id), "draft")
    with pytest.raises(ConflictError, match="already has draft suggestion"):
        draft_suggestion(runtime, case.id, li, procuratorate=PROC)


def test_basis_follows_the_date_and_urgency_sets_the_deadline(runtime, li, wall_case):
    case, _ = wall_case
    before = draft_suggestion(runtime, case.id, li, procuratorate=PROC, at=dt.datetime(2025, 2, 1))
    assert "《中华人民共和国文物保护法》第二十六条" not in before.content["legal_basis"]  # in force 2025-03-01
    urgent = other_case(runtime, li, urgent=True)
    record = draft_suggestion(runtime, urgent.id, li, procuratorate=PROC, addressee="金川区文体局", at=JUNE)
    assert record.content["addressee"] == "金川区文体局"
    assert record.content["deadline"] == deadline_text(True) and "十五日" in record.content["deadline"]
    with pytest.raises(NotFoundError, match="case 999"):
        draft_suggestion(runtime, 999, li, procuratorate=PROC)
    empty = cases.open_case(runtime, title="空案", responsible_body="某局", actor_id=li)
    with pytest.raises(ConflictError, match="no findings"):
        draft_suggestion(runtime, empty.id, li, procuratorate=PROC)


def test_edit_issue_freeze_and_new_version(runtime, li, wall_case, tmp_path):
    case, _ = wall_case
    draft = draft_suggestion(runtime, case.id, li, procuratorate=PROC, at=JUNE)
    fact = FactItem(time=dt.datetime(2025, 5, 6, 10, 24), place="马营沟村北侧", description="墙体取土",
                    chainage="K12+300", feature_name="明长城永昌段")
    edited = update_draft(runtime, draft.id, li, recommendations=["立即制止取土行为；", "补设保护标志。"],
                          facts=[fact], photos=[], cc=["永昌县人民政府"])
    assert edited.content["recommendations"] == ["立即制止取土行为；", "补设保护标志。"]
    assert edited.content["facts"][0]["chainage"] == "K12+300" and edited.content["cc"] == ["永昌县人民政府"]
    with pytest.raises(InputError, match="cannot edit doc_number"):
        update_draft(runtime, draft.id, li, doc_number="x")
    with pytest.raises(InputError, match="field 'recommendations'"):
        update_draft(runtime, draft.id, li, recommendations="一条")
    with pytest.raises(InputError, match="recommendations"):
        update_draft(runtime, draft.id, li, recommendations=[])
    record, docx_path, pdf_path = issue_suggestion_document(runtime, draft.id, li, SCHEME, at=JUNE,
                                                            out_dir=tmp_path / "out")
    assert (record.state, record.doc_number, record.issued_by_id) == ("issued", "金检行公建〔2025〕1号", li)
    assert record.content["doc_number"] == record.doc_number and record.issued_at == JUNE
    assert (sha_of(docx_path), sha_of(pdf_path)) == (record.docx_sha256, record.pdf_sha256)
    body = "".join(p.text for p in docx.Document(str(docx_path)).paragraphs)
    for required in ("金检行公建〔2025〕1号", "立即制止取土行为", BODY, "2025年6月3日", "K12+300"):
        assert required in body
    assert pdf_path.read_bytes().startswith(b"%PDF")
    with pytest.raises(ConflictError, match="frozen"):
        update_draft(runtime, draft.id, li, addressee="别的机关")
    with pytest.raises(ConflictError, match="frozen"):
        issue_suggestion_document(runtime, draft.id, li, SCHEME, out_dir=tmp_path / "again")
    with pytest.raises(DatabaseError, match="frozen"), runtime.db.session(write=True) as s:
        s.execute(text("UPDATE suggestion_records SET doc_number = 'x' WHERE id = :i"), {"i": draft.id})
    second = draft_suggestion(runtime, case.id, li, procuratorate=PROC, at=JUNE)
    assert (second.version, second.state) == (2, "draft")
    assert [r.version for r in case_records(runtime, case.id)] == [1, 2]
    with runtime.db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "suggestion")
                            .order_by(AuditEntry.seq)).all()
    assert actions == ["draft", "edit", "issue", "draft"]
    assert audit.verify(runtime) == []


def test_numbers_never_repeat_and_restart_each_year(runtime, li, wall_case, tmp_path):
    case, _ = wall_case
    a = draft_suggestion(runtime, case.id, li, procuratorate=PROC, at=JUNE)
    b = draft_suggestion(runtime, other_case(runtime, li).id, li, procuratorate=PROC, at=JUNE)
    with pytest.raises(StorageError, match="output folder"):  # a failed export consumes no number
        (tmp_path / "file").write_text("x")
        issue_suggestion_document(runtime, a.id, li, SCHEME, at=JUNE, out_dir=tmp_path / "file" / "sub")
    assert get_record(runtime, a.id).state == "draft"
    first, *_ = issue_suggestion_document(runtime, a.id, li, SCHEME, at=JUNE, out_dir=tmp_path)
    second, *_ = issue_suggestion_document(runtime, b.id, li, SCHEME, at=JUNE, out_dir=tmp_path)
    assert (first.doc_number, second.doc_number) == ("金检行公建〔2025〕1号", "金检行公建〔2025〕2号")
    c = draft_suggestion(runtime, case.id, li, procuratorate=PROC, at=JUNE)
    new_year = dt.datetime(2025, 12, 31, 17, 0)  # 2026-01-01 01:00 in China
    third, *_ = issue_suggestion_document(runtime, c.id, li, SCHEME, at=new_year, out_dir=tmp_path)
    assert third.doc_number == "金检行公建〔2026〕1号" and third.content["date"] == "2026-01-01"
    with runtime.db.session(write=True) as s:
        store = DbSequenceStore(s)
        assert (store.last_used(SCHEME.key, 2025), store.last_used(SCHEME.key, 2027)) == (2, None)
        with pytest.raises(ConflictError, match="sequence 2 of 2025 .* already used"):
            store.record(SCHEME.key, 2025, 2)
    with runtime.db.session() as s:
        rows = s.scalars(select(DocSequence).order_by(DocSequence.year)).all()
    assert [(r.year, r.last_seq) for r in rows] == [(2025, 2), (2026, 1)]
    assert audit.verify(runtime) == []
