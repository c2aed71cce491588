"""The iCalendar export: parsed back by a strict RFC 5545 reader written here."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.lookback.due import DueItem
from fieldkit.lookback.ics import due_ics, escape_text, fold

NAME = re.compile(r"^[A-Z][A-Z0-9-]*(;[A-Z-]+=[^;:]+)*$")


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            nxt = value[i + 1]
            assert nxt in "\\;,nN", f"bad escape \\{nxt}"
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_ics(text: str) -> list[dict[str, str]]:
    """Strict: CRLF only, every physical line <= 75 octets, unfolds, BEGIN/END nesting, required props."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    physical = text.split("\r\n")[:-1]
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR"
    props = dict(line.split(":", 1) for line in logical[1:-1] if not line.startswith(("BEGIN:", "END:")))
    assert props["VERSION"] == "2.0" and props["PRODID"]
    events, current = [], None
    for line in logical[1:-1]:
        name, value = line.split(":", 1)
        assert NAME.match(name), name
        if line == "BEGIN:VEVENT":
            assert current is None
            current = {}
        elif line == "END:VEVENT":
            for key in ("UID", "DTSTAMP", "DTSTART;VALUE=DATE"):
                assert key in current, key
            assert re.fullmatch(r"\d{8}T\d{6}Z", current["DTSTAMP"])
            assert re.fullmatch(r"\d{8}", current["DTSTART;VALUE=DATE"])
            dt.datetime.strptime(current["DTSTART;VALUE=DATE"], "%Y%m%d")
            events.append(current)
            current = None
        elif current is not None:
            if name in ("SUMMARY", "DESCRIPTION"):
                assert not re.search(r"(?<!\\)[;,]", value.replace("\\\\", "")), f"unescaped in {name}"
                value = unescape(value)
            current[name] = value
    assert current is None
    return events


def item(case_id: int, title: str, day: dt.date, group: str = "this_week") -> DueItem:
    return DueItem(case_id, title, "永昌县文化和旅游局", "awaiting_reply", day, "reply_due", 3, group, None,
                   day, day, 2, (1,), ("一组",))


def test_events_round_trip_with_chinese_and_special_characters():
    title = "明长城永昌段取土；墙体豁口, 长约6米\\北侧" + "很长的标题" * 10
    text = due_ics([item(7, title, dt.date(2025, 3, 10)), item(8, "涂污", dt.date(2025, 12, 31), "later")],
                   stamp=dt.datetime(2025, 3, 5, 1, 2, 3))
    first, second = parse_ics(text)
    assert first["SUMMARY"] == f"回头看 Look-back: {title}（永昌县文化和旅游局）"
    assert first["DTSTAMP"] == "20250305T010203Z"
    assert (first["DTSTART;VALUE=DATE"], first["DTEND;VALUE=DATE"]) == ("20250310", "20250311")
    assert (second["DTSTART;VALUE=DATE"], second["DTEND;VALUE=DATE"]) == ("20251231", "20260101")
    assert first["UID"] != second["UID"]
    assert "书面回复期限 Reply due: 2025-03-10" in first["DESCRIPTION"].split("\n")


def test_escape_text():
    assert escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=300))
def test_fold_never_exceeds_75_octets_and_unfolds_to_the_input(text):
    line = "DESCRIPTION:" + text
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert parts[0] + "".join(p[1:] for p in parts[1:]) == line


@pytest.mark.parametrize("bad", ["BEGIN:VCALENDAR\nEND:VCALENDAR\n", "BEGIN:VCALENDAR\r\n" + "X" * 80 + "\r\n"])
def test_the_strict_reader_refuses_bad_files(bad):
    with pytest.raises(AssertionError):
        parse_ics(bad)
