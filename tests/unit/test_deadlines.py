"""Deadline rules: calendar months with end-of-month clamping, day counts, holidays, config."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.cases.deadlines import DeadlineRules, add_months, days_left, legal_date
from fieldkit.errors import ConfigError

D = dt.date
dates = st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2025, 1, 31), 1, D(2025, 2, 28)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2025, 1, 31), 2, D(2025, 3, 31)),  # added to the start date, not chained via Feb 28
        (D(2024, 12, 31), 2, D(2025, 2, 28)),
        (D(2025, 11, 30), 3, D(2026, 2, 28)),
        (D(2025, 3, 15), 12, D(2026, 3, 15)),
        (D(2025, 3, 31), -1, D(2025, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


@given(dates, st.integers(min_value=0, max_value=36))
def test_add_months_lands_in_the_right_month_on_the_same_or_last_day(start, months):
    due = add_months(start, months)
    assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
    last = calendar.monthrange(due.year, due.month)[1]
    assert due.day == min(start.day, last)


def test_reply_due_from_the_brief_examples():
    rules = DeadlineRules()
    assert rules.reply_due(D(2025, 1, 31), urgent=False) == D(2025, 3, 31)
    assert rules.reply_due(D(2025, 1, 31), urgent=True) == D(2025, 2, 15)
    assert rules.reply_due(D(2024, 12, 31), urgent=False) == D(2025, 2, 28)


def test_default_day_counts():
    rules = DeadlineRules()
    assert rules.filing_service_due(D(2025, 6, 1)) == D(2025, 6, 8)
    assert rules.suggestion_service_due(D(2025, 6, 29)) == D(2025, 7, 2)
    assert rules.filed_upward_due(D(2025, 12, 29)) == D(2026, 1, 3)
    assert rules.rectification_due(D(2025, 1, 31), urgent=True) == D(2025, 3, 31)


def test_litigation_review_extensions_count_from_the_period_end():
    rules = DeadlineRules()
    assert rules.litigation_review_due(D(2025, 3, 31)) == D(2025, 4, 30)
    # one month plus one extension from 03-31 is 05-31, not 04-30 + 1 month = 05-30
    assert rules.litigation_review_due(D(2025, 3, 31), extensions=1) == D(2025, 5, 31)
    longer = DeadlineRules(litigation_extension_months=2)
    assert longer.litigation_review_due(D(2025, 3, 31), extensions=1) == D(2025, 6, 30)


@given(
    dates,
    st.booleans(),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=40),
)
def test_reply_due_follows_the_configured_rules(served, urgent, months, days):
    rules = DeadlineRules(reply_months=months, urgent_reply_days=days)
    due = rules.reply_due(served, urgent)
    if urgent:
        assert due - served == dt.timedelta(days=days)
    else:
        assert due == add_months(served, months)
        assert due > served


def test_configured_rules_change_results():
    served = D(2025, 1, 31)
    assert DeadlineRules(urgent_reply_days=10).reply_due(served, True) == D(2025, 2, 10)
    assert DeadlineRules(reply_months=3).reply_due(served, False) == D(2025, 4, 30)
    shortened = DeadlineRules(urgent_rectification_days=15)
    assert shortened.rectification_due(served, urgent=True) == D(2025, 2, 15)
    assert shortened.rectification_due(served, urgent=False) == D(2025, 3, 31)


def test_a_deadline_on_a_holiday_rolls_to_the_next_working_day():
    spring_festival = frozenset(D(2025, 2, d) for d in range(1, 5))  # Feb 1-4 off
    rules = DeadlineRules(holidays=spring_festival)
    assert rules.filed_upward_due(D(2025, 1, 28)) == D(2025, 2, 5)  # Feb 2 is a holiday
    assert rules.reply_due(D(2024, 12, 1), urgent=False) == D(2025, 2, 5)
    assert rules.filed_upward_due(D(2025, 1, 20)) == D(2025, 1, 25)  # not on a holiday


def test_from_mapping_parses_and_validates():
    rules = DeadlineRules.from_mapping({"urgent_reply_days": 10, "holidays": ["2025-10-01", D(2025, 10, 2)]})
    assert rules.urgent_reply_days == 10
    assert rules.holidays == {D(2025, 10, 1), D(2025, 10, 2)}
    with pytest.raises(ConfigError, match="unknown key.*reply_days"):
        DeadlineRules.from_mapping({"reply_days": 60})
    with pytest.raises(ConfigError, match="reply_months=-1"):
        DeadlineRules.from_mapping({"reply_months": -1}, source="office.yml")
    with pytest.raises(ConfigError, match="office.yml: holidays: '2025-13-01'"):
        DeadlineRules.from_mapping({"holidays": ["2025-13-01"]}, source="office.yml")
    with pytest.raises(ConfigError, match="filed_upward_days='5'"):
        DeadlineRules(filed_upward_days="5")
    with pytest.raises(ConfigError, match="urgent_reply_days=True"):
        DeadlineRules(urgent_reply_days=True)


def test_legal_dates_are_china_dates():
    assert legal_date(dt.datetime(2025, 1, 31, 15, 59)) == D(2025, 1, 31)
    assert legal_date(dt.datetime(2025, 1, 31, 16, 0)) == D(2025, 2, 1)  # midnight in Beijing
    aware = dt.datetime(2025, 1, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert legal_date(aware) == D(2025, 1, 31)


def test_days_left():
    assert days_left(D(2025, 3, 31), D(2025, 3, 31)) == 0
    assert days_left(D(2025, 3, 31), D(2025, 4, 2)) == -2
    assert days_left(D(2025, 3, 31), D(2025, 3, 1)) == 30
