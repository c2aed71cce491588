"""Chinese labels of the codes the database stores (states, severities, sources, deadlines, layer kinds).

Exports, the 巡查报告 and its charts show these, never the codes: one table per code, so the
ledger and the report name a state alike. Unknown codes fall back to the code
itself, so a new state shows up (untranslated) instead of disappearing.
"""

from __future__ import annotations

import datetime as dt

CASE_STATES_ZH = {
    "clue": "线索",
    "not_filed": "不予立案",
    "filed": "已立案",
    "investigating": "调查中",
    "suggestion_issued": "已制发检察建议",
    "awaiting_reply": "等待回复/整改中",
    "follow_up": "跟进调查",
    "suspended": "中止审查",
    "litigation_review": "审查起诉",
    "sued": "已起诉",
    "closed": "已结案（整改到位）",
    "terminated": "终结",
    "transferred": "移送",
}
FINDING_STATES_ZH = {"open": "未整改", "closed": "已整改"}
SEVERITIES_ZH = {"low": "轻微", "medium": "一般", "high": "较重", "critical": "严重"}
URGENCIES_ZH = {"normal": "一般", "urgent": "紧急"}
LOCATION_SOURCES_ZH = {
    "exif": "照片EXIF定位",
    "gpx": "GPX轨迹匹配",
    "device": "设备定位",
    "manual": "人工标注",
    "none": "未定位",
}
LAYER_KINDS_ZH = {"great_wall": "长城", "river": "河流", "fitness_site": "健身器材场所", "boundary": "行政区划"}
DEADLINES_ZH = {
    "filing_service_due": "立案决定书送达期限",
    "service_due": "检察建议书送达期限",
    "filed_upward_due": "上级院备案期限",
    "reply_due": "书面回复期限",
    "rectification_due": "整改期限",
    "review_due": "审查起诉期限",
}
SERVICE_METHODS_ZH = {"written": "书面送达", "announced": "宣告送达", "left": "留置送达"}
#: Beijing time: the ledger and the meeting pack show local times, the database keeps UTC.
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def zh(table: dict[str, str], code: str | None) -> str | None:
    """The Chinese label of ``code`` in ``table`` (the code itself when unknown, None for None)."""
    if code is None:
        return None
    return table.get(code, code)


def to_beijing(value: dt.datetime | None) -> dt.datetime | None:
    """A naive-UTC (or aware) datetime as naive Beijing time, for spreadsheets that have no zones."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(CST).replace(tzinfo=None)
