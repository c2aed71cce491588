"""The ledger (台账): an XLSX workbook of findings and cases for the case file.

Two sheets, 问题台账 and 案件台账, with Chinese headers, a frozen header row, an auto-filter,
real dates (date cells with a number format, Beijing time for instants), states and other codes
as Chinese labels, and every text cell neutralised against formula injection.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..cases.workflow import CASE_FIELDS, CaseFacts, State, pending_deadlines
from ..errors import StorageError
from ..labels import (
    CASE_STATES_ZH,
    DEADLINES_ZH,
    FINDING_STATES_ZH,
    SERVICE_METHODS_ZH,
    SEVERITIES_ZH,
    URGENCIES_ZH,
    to_beijing,
    zh,
)
from .safety import neutralise_cell
from .scope import ExportScope, finding_cases, scope_cases, scope_findings, taxonomy

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    """One ledger column: Chinese header, width in characters, number format for dates."""

    header: str
    width: float
    number_format: str | None = None


FINDING_COLUMNS = (
    Column("问题编号", 9), Column("问题类别", 24), Column("领域", 12), Column("严重程度", 9),
    Column("紧急程度", 9), Column("整改状态", 9), Column("问题描述", 40), Column("地点", 24),
    Column("发现时间（北京时间）", 18, DATETIME_FORMAT), Column("要素编号", 14), Column("要素名称", 20),
    Column("桩号", 12), Column("经度", 12), Column("纬度", 12), Column("照片数", 8), Column("所属案件", 12),
    Column("记录时间（北京时间）", 18, DATETIME_FORMAT),
)
CASE_COLUMNS = (
    Column("案件编号", 9), Column("案件名称", 32), Column("责任单位", 24), Column("领域", 12),
    Column("问题性质", 16), Column("案件状态", 16), Column("紧急", 6), Column("问题数", 8),
    Column("立案日期", 12, DATE_FORMAT), Column("立案决定书送达期限", 14, DATE_FORMAT),
    Column("检察建议书送达期限", 14, DATE_FORMAT), Column("检察建议书送达日期", 14, DATE_FORMAT),
    Column("送达方式", 10), Column("书面回复期限", 14, DATE_FORMAT), Column("首次回复日期", 14, DATE_FORMAT),
    Column("整改期限", 14, DATE_FORMAT), Column("审查起诉期限", 14, DATE_FORMAT),
    Column("最近到期事项", 20), Column("最近到期日", 12, DATE_FORMAT), Column("结案日期", 12, DATE_FORMAT),
)
FINDINGS_SHEET, CASES_SHEET = "问题台账", "案件台账"
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def write_ledger(rt, scope: ExportScope, path: str | Path) -> dict[str, int]:
    """Write the ledger of the scope's findings and their cases to ``path`` (XLSX).

    Returns the row counts ``{"findings": n, "cases": m}``.
    """
    findings = scope_findings(rt, scope)
    ids = [f.id for f in findings]
    cases = scope_cases(rt, scope, ids)
    in_cases = finding_cases(rt, ids)
    tax = taxonomy()
    wb = Workbook()
    ws = wb.active
    ws.title = FINDINGS_SHEET
    _fill(ws, FINDING_COLUMNS, (_finding_row(f, tax, in_cases.get(f.id, [])) for f in findings))
    _fill(wb.create_sheet(CASES_SHEET), CASE_COLUMNS, (_case_row(c, fids, tax) for c, fids in cases))
    wb.properties.title = f"台账（{scope.describe()}）"
    wb.properties.creator = "FieldKit"
    try:
        wb.save(str(path))
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the ledger ({exc.strerror or exc})") from exc
    return {"findings": len(findings), "cases": len(cases)}


def _fill(ws, columns: tuple[Column, ...], rows) -> None:
    ws.append([c.header for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    count = 0
    for row in rows:
        ws.append([neutralise_cell(v) for v in row])
        count += 1
    for index, col in enumerate(columns, start=1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = col.width
        if col.number_format:
            for (cell,) in ws.iter_rows(min_row=2, max_row=count + 1, min_col=index, max_col=index):
                cell.number_format = col.number_format
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"


def _category(tax, category_id: str):
    return tax.get(category_id) if category_id in tax else None


def _finding_row(f, tax, case_ids: list[int]) -> list[Any]:
    cat = _category(tax, f.category_id)
    domain = _domain_name(tax, f.domain)
    return [f.id, cat.name_zh if cat else f.category_id, domain, zh(SEVERITIES_ZH, f.severity),
            zh(URGENCIES_ZH, f.urgency), zh(FINDING_STATES_ZH, f.state), f.note, f.place,
            to_beijing(f.observed_at), f.feature_fid, f.feature_name, f.chainage_label,
            _round(f.lon), _round(f.lat), len(f.photo_ids), "、".join(map(str, case_ids)) or None,
            to_beijing(f.created_at)]


def _domain_name(tax, domain_id: str | None) -> str | None:
    if domain_id is None:
        return None
    names = {d.id: d.name_zh for d in tax.domains}
    return names.get(domain_id, domain_id)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _case_row(case, finding_ids: list[int], tax) -> list[Any]:
    facts = _facts(case, len(finding_ids))
    due = pending_deadlines(facts)
    nearest = min(due.items(), key=lambda kv: kv[1]) if due else (None, None)
    get: Callable[[str], Any] = lambda key: getattr(case, key)  # noqa: E731
    return [case.id, case.title, case.responsible_body, _domain_name(tax, case.domain), case.nature,
            zh(CASE_STATES_ZH, case.state), "是" if case.urgent else "否", len(finding_ids),
            get("filed_on"), get("filing_service_due"), get("service_due"), get("served_on"),
            zh(SERVICE_METHODS_ZH, case.service_method),
            get("reply_due"), get("first_reply_on"), get("rectification_due"), get("review_due"),
            zh(DEADLINES_ZH, nearest[0]), nearest[1], get("ended_on")]


def _facts(case, count: int) -> CaseFacts:
    values = {key: getattr(case, key) for key in CASE_FIELDS}
    values["state"] = State(case.state)
    values["resume_to"] = State(case.resume_to) if case.resume_to else None
    return CaseFacts(finding_count=count, **values)
