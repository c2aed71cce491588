"""The ledger XLSX reopened with openpyxl: sheets, headers, freeze, filter, dates, labels, safety."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from fieldkit.errors import NotFoundError
from fieldkit.exports.ledger import CASE_COLUMNS, CASES_SHEET, FINDING_COLUMNS, FINDINGS_SHEET, write_ledger
from fieldkit.exports.scope import ExportScope, parse_scope
from tests.integration import test_exports_world as _world_module
from tests.integration.test_exports_world import CHINESE_NOTE, HOSTILE_NOTE, XSS_NOTE

shared_world = _world_module.shared_world  # the fixture, shared from the world module


@pytest.fixture
def world(shared_world):
    """The module's read-only export world."""
    return shared_world


def _rows(ws) -> list[dict]:
    header = [c.value for c in ws[1]]
    return [dict(zip(header, row)) for row in ws.iter_rows(min_row=2)]


def test_ledger_sheets_headers_freeze_filter_and_dates(world, tmp_path):
    out = tmp_path / "台账.xlsx"
    counts = write_ledger(world.rt, ExportScope(), out)
    assert counts == {"findings": 3, "cases": 2}
    wb = load_workbook(out)
    assert wb.sheetnames == [FINDINGS_SHEET, CASES_SHEET]
    for ws, columns, n in ((wb[FINDINGS_SHEET], FINDING_COLUMNS, 3), (wb[CASES_SHEET], CASE_COLUMNS, 2)):
        assert [c.value for c in ws[1]] == [c.header for c in columns]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(columns)).column_letter}{n + 1}"
        assert ws.max_row == n + 1
        assert ws.column_dimensions["B"].width >= 20
    findings = {r["问题编号"].value: r for r in _rows(wb[FINDINGS_SHEET])}
    hostile = findings[world.findings["hostile"]]
    seen = hostile["发现时间（北京时间）"]
    assert seen.is_date and isinstance(seen.value, dt.datetime)
    assert seen.value == dt.datetime(2025, 5, 6, 10, 30)  # camera time at +08:00, shown in Beijing time
    assert seen.number_format == "yyyy-mm-dd hh:mm"
    assert hostile["整改状态"].value == "未整改" and hostile["问题类别"].value != "gw-graffiti"
    assert hostile["所属案件"].value == str(world.case_id)
    cases = {r["案件编号"].value: r for r in _rows(wb[CASES_SHEET])}
    filed = cases[world.case_id]
    assert filed["案件状态"].value == "已立案"
    assert filed["立案日期"].is_date and filed["立案日期"].value.date() == dt.date(2025, 5, 10)
    assert filed["立案日期"].number_format == "yyyy-mm-dd"
    assert filed["立案决定书送达期限"].value.date() == dt.date(2025, 5, 17)  # 7 days (R70)
    assert filed["最近到期事项"].value == "立案决定书送达期限"
    assert cases[world.other_case_id]["案件状态"].value == "线索"


def test_ledger_neutralises_formulas_and_keeps_chinese(world, tmp_path):
    out = tmp_path / "ledger.xlsx"
    write_ledger(world.rt, ExportScope(), out)
    wb = load_workbook(out)
    findings = {r["问题编号"].value: r for r in _rows(wb[FINDINGS_SHEET])}
    note = findings[world.findings["hostile"]]["问题描述"]
    assert note.data_type == "s" and note.value == "'" + HOSTILE_NOTE
    assert findings[world.findings["xss"]]["问题描述"].value == XSS_NOTE  # harmless in a cell, kept as is
    assert findings[world.findings["river"]]["问题描述"].value == CHINESE_NOTE
    title = {r["案件编号"].value: r for r in _rows(wb[CASES_SHEET])}[world.other_case_id]["案件名称"]
    assert title.data_type == "s" and title.value == "'-妫水河垃圾案"
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)


def test_ledger_scope_filters_findings_and_cases(world, tmp_path):
    out = tmp_path / "river.xlsx"
    counts = write_ledger(world.rt, parse_scope({"kind": "river"}), out)
    assert counts == {"findings": 1, "cases": 1}
    wb = load_workbook(out)
    assert [r["问题编号"].value for r in _rows(wb[FINDINGS_SHEET])] == [world.findings["river"]]
    assert write_ledger(world.rt, parse_scope({"inspection": "春季巡查"}), out) == {"findings": 2, "cases": 1}
    assert write_ledger(world.rt, parse_scope({"from": "2025-06-01"}), out)["findings"] == 1
    with pytest.raises(NotFoundError, match="没有|not found"):
        write_ledger(world.rt, parse_scope({"inspection": "不存在的巡查"}), out)
