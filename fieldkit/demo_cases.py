"""Demo findings and cases: every workflow state, in all three domains, with issued 检察建议书.

:func:`load_demo_cases` records findings on the demo photos (by the demo inspectors), groups
them into cases against the responsible body of the joined feature (one category = one nature),
and moves each case through the workflow (by the demo reviewer) to its target state. Cases that
pass ``issue_suggestion`` with ``document=True`` get a drafted and issued 检察建议书 (DOCX and
PDF in ``<data dir>/documents/``). Everything goes through the library services, so every step
is audited and obeys the state machine.

All times are fixed (2025, 10:00 China time on each date), so two fresh demo databases hold the
same cases. Demo findings carry the note prefix :data:`MARKER`; when one exists the step does
nothing (idempotent). A photo named in the plan but not stored or not placed is skipped and
reported; a case left without findings is skipped too.

Look-backs (回头看, :mod:`fieldkit.demo_lookbacks`): a case with ``lookback`` set gets one. ``planned``
plans it 7 days after the reply deadline and leaves it due; a verdict (``rectified``,
``not_rectified``, ``partly``) makes it done 14 days after follow-up starts: a re-shot photo per
finding (drawn from the old one, EXIF GPS and bearing of the old spot) is ingested into the
look-back inspection, paired by the inspector, judged and concluded by the reviewer, so the
case is closed, referred to litigation review or stays in follow-up by the rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select

from .cases import apply, case_facts, open_case
from .demo_lookbacks import demo_lookback
from .documents.drafting import draft_suggestion, issue_suggestion_document
from .documents.numbering import NumberingScheme
from .findings.service import record_finding
from .store.models import Feature, Inspection, Layer, Photo, PhotoFeatureLink
from .store.models_cases import Finding

MARKER = "[演示]"
CHINA = dt.timezone(dt.timedelta(hours=8))
BODY_KEYS = ("body", "责任单位", "responsible_body")
ADDRESS_KEYS = ("地址", "address")


@dataclasses.dataclass(frozen=True, slots=True)
class DemoFinding:
    """One planned finding: a photo of an inspection (by file name), a category and a note."""

    photo: str
    category_id: str
    note: str


@dataclasses.dataclass(frozen=True, slots=True)
class DemoCase:
    """One planned case: its findings, the state to reach and whether to issue a document."""

    domain: str
    inspection: str
    inspector: str
    title: str
    target: str
    opened: dt.date
    findings: tuple[DemoFinding, ...]
    document: bool = False
    body: str | None = None  # overrides the joined feature's responsible body
    end_via: str = "follow_up"  # for terminated: terminate from "investigating" or "follow_up"
    note: str = ""
    lookback: str | None = None  # "planned", or the verdict of every finding at a done look-back


@dataclasses.dataclass(frozen=True, slots=True)
class Office:
    """The procuratorate issuing a domain's documents and its document-number organ mark."""

    name: str
    org: str


GW, FIT, RIV = "2025-05 金昌长城巡查", "2025-06 辽源健身器材巡查", "2025-06 辽源河道巡查"
D = dt.date
F = DemoFinding
OFFICES = {
    "great_wall": Office("金昌市人民检察院", "金"),
    "fitness": Office("辽源市人民检察院", "辽"),
    "rivers": Office("辽源市人民检察院", "辽"),
}
#: When the inspectors recorded each inspection's findings (China time).
RECORDED_AT = {GW: dt.datetime(2025, 5, 16, 9, 0, tzinfo=CHINA),
               FIT: dt.datetime(2025, 6, 11, 17, 0, tzinfo=CHINA),
               RIV: dt.datetime(2025, 6, 12, 17, 0, tzinfo=CHINA)}

DEMO_CASES: tuple[DemoCase, ...] = (
    DemoCase("great_wall", GW, "inspector", "永昌县明长城夯土墙体坍塌未采取保护措施案", "closed", D(2025, 5, 19), (
        F("夯土墙坍塌.jpg", "gw-structural-damage", "夯土墙体局部坍塌约3米，坍塌土体堆积于墙脚，未见支护"),
        F("IMG_0412.JPG", "gw-structural-damage", "墙体顶部开裂，裂缝宽约5厘米，延伸约2米"),
    ), document=True, lookback="rectified"),
    DemoCase("great_wall", GW, "inspector", "永昌县明长城墙体刻划涂污案", "litigation_review", D(2025, 5, 20), (
        F("IMG_20250513_104400.jpg", "gw-graffiti", "墙体表面有油漆涂写字迹多处"),
    ), document=True, lookback="not_rectified"),
    DemoCase("great_wall", GW, "inspector", "长城保护标志缺失案", "investigating", D(2025, 5, 21), (
        F("IMG_20250514_090600.jpg", "gw-sign-missing", "该段长城沿线未见保护标志"),
        F("IMG_20250514_095400.jpg", "gw-sign-missing", "原保护标志仅存基座，标志牌缺失"),
    )),
    DemoCase("great_wall", GW, "inspector", "车辆跨越长城墙体案", "clue", D(2025, 5, 22), (
        F("IMG_20250513_131100.jpg", "gw-vehicle-crossing", "墙体豁口处有明显车辙，疑有车辆长期穿行"),
    )),
    DemoCase("fitness", FIT, "inspector2", "龙山区室外健身器材锈蚀掉漆案", "awaiting_reply", D(2025, 6, 16), (
        F("健身器材锈蚀_龙山区.jpg", "ft-rust-peeling", "多件器材立柱锈蚀、漆面大面积脱落"),
        F("IMG_20250610_101536.jpg", "ft-rust-peeling", "扭腰器转盘锈蚀，边缘有锈渣"),
    ), document=True, lookback="planned"),
    DemoCase("fitness", FIT, "inspector2", "健身器材螺丝松动缺失案", "follow_up", D(2025, 6, 17), (
        F("IMG_20250610_110711.jpg", "ft-bolts-loose-missing", "漫步机连接处螺丝缺失两枚，踏板晃动"),
    ), lookback="partly"),
    DemoCase("fitness", FIT, "inspector2", "健身器材超过安全使用年限仍在使用案", "suspended", D(2025, 6, 18), (
        F("IMG_20250611_090504.jpg", "ft-beyond-service-life", "器材2016年安装，已超过安全使用年限仍开放使用"),
    ), note="责任单位正在统一招标更换器材，中止审查"),
    DemoCase("fitness", FIT, "inspector2", "健身器材无使用说明和警示标识案", "terminated", D(2025, 6, 19), (
        F("IMG_20250611_113749.jpg", "ft-no-instructions-warnings", "器材未张贴使用说明和警示标识"),
    ), end_via="investigating", note="调查期间管理单位已补设标识，公益损害消除，终结案件"),
    DemoCase("rivers", RIV, "inspector2", "东辽河河道管理范围内堆放垃圾案", "suggestion_issued", D(2025, 6, 16), (
        F("东辽河垃圾堆放.jpg", "rv-dumping-rubbish", "河岸滩地堆放生活垃圾约20立方米"),
        F("IMG_20250612_140806.jpg", "rv-dumping-rubbish", "岸坡散落塑料袋、泡沫等垃圾"),
    ), document=True),
    DemoCase("rivers", RIV, "inspector2", "东辽河违法设置排污口案", "filed", D(2025, 6, 17), (
        F("IMG_20250612_142137.jpg", "rv-sewage-outfall", "岸边有排水管直排浑浊污水，有异味"),
    ), body="辽源市生态环境主管部门"),
    DemoCase("rivers", RIV, "inspector2", "河道管理范围内倾倒建筑垃圾案", "terminated", D(2025, 6, 18), (
        F("IMG_20250612_143240.jpg", "rv-dumping-solid-waste", "河道管理范围内倾倒建筑垃圾、渣土"),
    ), note="行政机关已依法全面履职，建筑垃圾清运完毕，终结案件"),
)


@dataclasses.dataclass(slots=True)
class CasesLoad:
    """What :func:`load_demo_cases` did."""

    findings: int = 0
    cases: dict[str, int] = dataclasses.field(default_factory=dict)  # state -> cases created
    documents: list[str] = dataclasses.field(default_factory=list)  # issued document numbers
    lookbacks: dict[str, int] = dataclasses.field(default_factory=dict)  # outcome (or "planned") -> count
    skipped: list[str] = dataclasses.field(default_factory=list)
    already_loaded: bool = False

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        if self.already_loaded:
            return ["findings and cases: already loaded"]
        states = ", ".join(f"{k} {v}" for k, v in self.cases.items()) or "-"
        out = [f"findings: {self.findings} new; cases: {sum(self.cases.values())} new ({states})"]
        if self.documents:
            out.append("issued 检察建议书: " + ", ".join(self.documents))
        if self.lookbacks:
            out.append("回头看 look-backs: " + ", ".join(f"{k} {v}" for k, v in self.lookbacks.items()))
        return out + [f"  ! {s}" for s in self.skipped]


def step_cases(rt, ctx, summary) -> None:
    """Demo step: record the demo findings and cases (see :func:`load_demo_cases`)."""
    if ctx.photos_dir is None:
        return
    load = load_demo_cases(rt, summary.user_ids)
    if hasattr(summary, "cases"):
        summary.cases = load


def load_demo_cases(rt, user_ids: dict[str, int], plan: tuple[DemoCase, ...] = DEMO_CASES) -> CasesLoad:
    """Record the planned findings and cases unless demo findings exist already."""
    load = CasesLoad()
    with rt.db.session() as s:
        if s.scalar(select(Finding.id).where(Finding.note.startswith(MARKER)).limit(1)) is not None:
            load.already_loaded = True
            return load
    photos = _placed_photos(rt)
    seq = {name: 0 for name in RECORDED_AT}
    numbers = {org.org: NumberingScheme(org=org.org) for org in OFFICES.values()}
    for spec in plan:
        ids = []
        for item in spec.findings:
            photo_id = photos.get((spec.inspection, item.photo))
            if photo_id is None:
                load.skipped.append(f"{spec.inspection}/{item.photo}: not stored or not placed")
                continue
            at = RECORDED_AT[spec.inspection] + dt.timedelta(minutes=seq[spec.inspection])
            seq[spec.inspection] += 1
            ids.append(_record(rt, photo_id, item, user_ids[spec.inspector], at))
        if not ids:
            load.skipped.append(f"case {spec.title}: no findings")
            continue
        load.findings += len(ids)
        _run_case(rt, spec, ids, user_ids, numbers, load)
        load.cases[spec.target] = load.cases.get(spec.target, 0) + 1
    return load


def _placed_photos(rt) -> dict[tuple[str, str], int]:
    """(inspection name, original file name) → id of the placed photo."""
    with rt.db.session() as s:
        rows = s.execute(select(Inspection.name, Photo.original_name, Photo.id)
                         .join(Inspection, Inspection.id == Photo.inspection_id)
                         .where(Photo.lat.is_not(None), Photo.lon.is_not(None)).order_by(Photo.id))
        return {(name, original): pid for name, original, pid in rows}


def _record(rt, photo_id: int, item: DemoFinding, actor_id: int, at: dt.datetime) -> int:
    return record_finding(rt, photo_ids=[photo_id], category_id=item.category_id, actor_id=actor_id,
                          note=f"{MARKER}{item.note}", place=_address(rt, photo_id), at=_utc(at)).id


def _address(rt, photo_id: int) -> str | None:
    """The address property of the nearest feature linked to the photo, if it has one."""
    with rt.db.session() as s:
        rows = s.scalars(select(Feature).join(PhotoFeatureLink, PhotoFeatureLink.feature_id == Feature.id)
                         .where(PhotoFeatureLink.photo_id == photo_id).order_by(PhotoFeatureLink.distance_m))
        for feature in rows:
            props = feature.properties or {}
            address = next((props[k] for k in ADDRESS_KEYS if props.get(k)), None)
            if address:
                return str(address)
    return None


def _feature_props(rt, feature_id: int | None) -> dict[str, Any]:
    if feature_id is None:
        return {}
    with rt.db.session() as s:
        feature = s.get(Feature, feature_id)
        return dict(feature.properties or {}) if feature is not None else {}


def _body(rt, spec: DemoCase, finding_id: int) -> str:
    """The case's responsible body: the plan's, else the joined feature's, else its layer's."""
    if spec.body:
        return spec.body
    with rt.db.session() as s:
        finding = s.get(Finding, finding_id)
        layer = s.get(Layer, finding.layer_id) if finding.layer_id else None
        feature_id = finding.feature_id
    props = _feature_props(rt, feature_id)
    body = next((props[k] for k in BODY_KEYS if props.get(k)), None)
    return body or (layer.responsible_body if layer and layer.responsible_body else "有关行政主管部门")


# --- moving a case through the workflow --------------------------------------------------------

MAIN_PATH = ("clue", "filed", "investigating", "suggestion_issued", "awaiting_reply", "follow_up")
ENDINGS = {"closed": "close", "litigation_review": "refer_to_litigation_review", "suspended": "suspend",
           "terminated": "terminate"}
CLOSING_NOTE = "经跟进调查，行政机关已依法全面履职，问题整改到位"
REVIEW_NOTE = "回复期满，行政机关未依法全面履职，公益仍处于受侵害状态"


def _run_case(rt, spec: DemoCase, finding_ids: list[int], user_ids: dict[str, int],
              schemes: dict[str, NumberingScheme], load: CasesLoad) -> None:
    """Open the case on ``spec.opened`` and apply the actions that bring it to ``spec.target``
    (through a look-back when ``spec.lookback`` is a verdict)."""
    reviewer = user_ids["reviewer"]
    case = open_case(rt, title=spec.title, responsible_body=_body(rt, spec, finding_ids[0]),
                     actor_id=reviewer, domain=spec.domain, nature=spec.findings[0].category_id,
                     finding_ids=finding_ids, at=_at(spec.opened))
    reach = spec.end_via if spec.target == "terminated" else (
        spec.target if spec.target in MAIN_PATH else "follow_up")
    upto = MAIN_PATH.index(reach)
    last = spec.opened

    def act(action: str, day: dt.date, **data: Any) -> None:
        nonlocal last
        apply(rt, case.id, action, reviewer, at=_at(day), **data)
        last = day

    d0 = spec.opened
    if upto >= 1:
        act("file", d0 + dt.timedelta(days=2), filed_on=d0 + dt.timedelta(days=2))
        act("serve_filing_decision", d0 + dt.timedelta(days=3), served_on=d0 + dt.timedelta(days=3))
    if upto >= 2:
        act("start_investigation", d0 + dt.timedelta(days=5))
    if upto >= 3:
        decided = d0 + dt.timedelta(days=15)
        if spec.document:
            load.documents.append(_issue_document(rt, case.id, spec, reviewer, decided, schemes))
        act("issue_suggestion", decided, decided_on=decided)
    if upto >= 4:
        served = d0 + dt.timedelta(days=17)
        act("record_service", served, served_on=served, method="written")
        act("record_filed_upward", served + dt.timedelta(days=3), filed_upward_on=served + dt.timedelta(days=3))
    if upto >= 5:
        reply_due = case_facts(rt, case.id).reply_due
        if spec.target in ("closed", "suspended"):
            act("record_reply", reply_due - dt.timedelta(days=10), received_on=reply_due - dt.timedelta(days=10))
        act("start_follow_up", reply_due + dt.timedelta(days=1))
    if spec.lookback:
        outcome = demo_lookback(rt, case.id, spec, finding_ids, user_ids, last)
        load.lookbacks[outcome] = load.lookbacks.get(outcome, 0) + 1
    elif spec.target in ENDINGS:
        _end(act, spec, last + dt.timedelta(days=14))


def _end(act, spec: DemoCase, day: dt.date) -> None:
    action = ENDINGS[spec.target]
    note = spec.note or (CLOSING_NOTE if spec.target == "closed" else REVIEW_NOTE)
    if action in ("close", "terminate"):
        act(action, day, ended_on=day, note=note)
    else:
        act(action, day, note=note)


def _issue_document(rt, case_id: int, spec: DemoCase, reviewer: int, day: dt.date,
                    schemes: dict[str, NumberingScheme]) -> str:
    """Draft the case's 检察建议书 the day before ``day`` and issue it on ``day``; its number."""
    office = OFFICES[spec.domain]
    record = draft_suggestion(rt, case_id, reviewer, procuratorate=office.name,
                              at=_at(day - dt.timedelta(days=1)), cc=(f"{office.name[:3]}人民政府",))
    issued, _docx, _pdf = issue_suggestion_document(rt, record.id, reviewer, schemes[office.org], at=_at(day),
                                                    out_dir=rt.settings.data_dir / "documents")
    return issued.doc_number


def _at(day: dt.date) -> dt.datetime:
    """10:00 China time on ``day``, as naive UTC (how the store keeps times)."""
    return _utc(dt.datetime.combine(day, dt.time(10, 0), tzinfo=CHINA))


def _utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)
