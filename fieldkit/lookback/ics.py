"""The due look-backs as an iCalendar file (RFC 5545) a phone or desktop calendar imports.

One all-day ``VEVENT`` per due item (``DTSTART;VALUE=DATE`` and the next day as ``DTEND``),
``UID`` stable per case and due date (re-importing updates instead of duplicating), ``DTSTAMP``
in UTC. Lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character
(§3.1); TEXT values escape backslash, semicolon, comma and newline (§3.3.11).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..store.models import utcnow
from .due import DueItem

PRODID = "-//FieldKit//Look-back checks 回头看//ZH"
_GROUP_ZH = {"overdue": "已逾期", "this_week": "本周", "later": "以后"}
_BASIS_ZH = {
    "planned": "已计划的回头看",
    "revisit": "再次回头看",
    "reply_due": "书面回复期限届满",
    "rectification_due": "整改期限届满",
}


def escape_text(value: str) -> str:
    """A TEXT property value escaped per RFC 5545 §3.3.11."""
    out = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return out.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str, limit: int = 75) -> str:
    """``line`` folded into CRLF-joined chunks of at most ``limit`` octets (continuations start with a space)."""
    chunks: list[str] = []
    current, size, room = "", 0, limit
    for char in line:
        n = len(char.encode("utf-8"))
        if size + n > room:
            chunks.append(current)
            current, size, room = "", 0, limit - 1
        current += char
        size += n
    chunks.append(current)
    return "\r\n ".join(chunks)


def due_ics(
    items: Iterable[DueItem],
    *,
    stamp: dt.datetime | None = None,
    domain: str = "fieldkit.local",
    calendar_name: str = "回头看 Look-back checks",
) -> str:
    """The items as an iCalendar text (CRLF line ends); write it with ``newline=""`` or as bytes."""
    stamp = (stamp or utcnow()).replace(tzinfo=None, microsecond=0)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{escape_text(PRODID)}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(calendar_name)}",
    ]
    for item in items:
        lines += _event(item, stamp, domain)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _event(item: DueItem, stamp: dt.datetime, domain: str) -> list[str]:
    summary = f"回头看 Look-back: {item.title}（{item.responsible_body}）"
    description = "\n".join(
        [
            f"案件 Case {item.case_id}: {item.title}",
            f"责任单位 Body: {item.responsible_body}",
            f"依据 Basis: {_BASIS_ZH[item.basis]} ({item.basis})",
            f"状态 State: {item.state}; {_GROUP_ZH[item.group]} ({item.group})",
            f"问题数 Findings: {item.finding_count}",
        ]
        + ([f"书面回复期限 Reply due: {item.reply_due}"] if item.reply_due else [])
        + ([f"整改期限 Rectification due: {item.rectification_due}"] if item.rectification_due else [])
    )
    return [
        "BEGIN:VEVENT",
        f"UID:lookback-case-{item.case_id}-{item.due_on:%Y%m%d}@{domain}",
        f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
        f"DTSTART;VALUE=DATE:{item.due_on:%Y%m%d}",
        f"DTEND;VALUE=DATE:{item.due_on + dt.timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"CATEGORIES:{escape_text('回头看')},{escape_text(item.group)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]
