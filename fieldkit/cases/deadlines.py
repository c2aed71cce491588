"""Deadlines of an administrative public-interest case, computed from dates and configurable rules.

Defaults follow the domain brief (§1):

========================================  =========================================  ==========
Deadline                                  Default                                    Source
========================================  =========================================  ==========
serve the 立案决定书 on the organ          7 days after filing                        R70
serve the 检察建议书                       3 days after the decision to issue it      R76; G18
file the suggestion with the level above  5 days after service                       R75
written reply from the organ              2 months after receipt; 15 days if urgent  J21; G19
rectification period                      2 months after receipt (urgent: same,      R75(7); G19
                                          unless ``urgent_rectification_days``)
litigation review (审查起诉)               1 month after the rectification period     R47
                                          ends; +1 month per extension
========================================  =========================================  ==========

Counting follows the Civil Code (民法典) arts. 201-203: the first day is not counted, so
"within *n* days of D" ends on D + *n*; a period in months ends on the same day of the month
*n* months later or, when that month is shorter, on its last day (2025-01-31 + 1 month is
2025-02-28; + 2 months is 2025-03-31: months are always added to the start date, never chained).
When the last day falls on a date in ``holidays`` the period ends on the next day that is not
one. No holiday calendar ships with FieldKit (China's adjusted working weekends, 调休, make
weekends an unreliable proxy): an office that wants the roll-over supplies the dates.

Open questions in the brief (§6 Q2, Q3) are settings here: the urgent reply period
(``urgent_reply_days``), whether the rectification period is shortened in urgent cases
(``urgent_rectification_days``) and every day and month count.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

LEGAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
"""Legal dates are calendar dates in China Standard Time (UTC+8, no daylight saving)."""


def legal_date(at: dt.datetime) -> dt.date:
    """The calendar date in China of ``at`` (a naive ``at`` is UTC, as every stored timestamp)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(LEGAL_TZ).date()


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus ``months`` calendar months, clamped to the last day of a shorter month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(start.day, last))


def days_left(due: dt.date, today: dt.date) -> int:
    """Days from ``today`` to ``due``: 0 on the last day, negative once overdue."""
    return (due - today).days


_COUNT_FIELDS = (
    "filing_service_days",
    "suggestion_service_days",
    "filed_upward_days",
    "reply_months",
    "urgent_reply_days",
    "rectification_months",
    "litigation_review_months",
    "litigation_extension_months",
    "extensions_without_approval",
)


@dataclasses.dataclass(frozen=True, slots=True)
class DeadlineRules:
    """Day and month counts of the case deadlines (see the module docstring for sources)."""

    filing_service_days: int = 7
    suggestion_service_days: int = 3
    filed_upward_days: int = 5
    reply_months: int = 2
    urgent_reply_days: int = 15
    rectification_months: int = 2
    urgent_rectification_days: int | None = None
    litigation_review_months: int = 1
    litigation_extension_months: int = 1
    extensions_without_approval: int = 1
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        for name in _COUNT_FIELDS + ("urgent_rectification_days",):
            value = getattr(self, name)
            if value is None and name == "urgent_rectification_days":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"deadline rules: {name}={value!r}: must be a whole number >= 0")
        if not all(isinstance(d, dt.date) and not isinstance(d, dt.datetime) for d in self.holidays):
            raise ConfigError("deadline rules: holidays must be dates")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str = "deadline rules") -> DeadlineRules:
        """Rules from a mapping (e.g. parsed YAML); unknown keys and bad values raise ConfigError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = dict(mapping)
        if "holidays" in values:
            values["holidays"] = frozenset(_parse_holiday(v, source) for v in values["holidays"] or ())
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    def _roll(self, due: dt.date) -> dt.date:
        while due in self.holidays:
            due += dt.timedelta(days=1)
        return due

    def after_days(self, start: dt.date, days: int) -> dt.date:
        """Last day of a period of ``days`` days starting the day after ``start``."""
        return self._roll(start + dt.timedelta(days=days))

    def after_months(self, start: dt.date, months: int) -> dt.date:
        """Last day of a period of ``months`` calendar months from ``start``."""
        return self._roll(add_months(start, months))

    def filing_service_due(self, filed_on: dt.date) -> dt.date:
        """Last day to serve the 立案决定书 (R70)."""
        return self.after_days(filed_on, self.filing_service_days)

    def suggestion_service_due(self, decided_on: dt.date) -> dt.date:
        """Last day to serve the 检察建议书 after the decision to issue it (R76)."""
        return self.after_days(decided_on, self.suggestion_service_days)

    def filed_upward_due(self, served_on: dt.date) -> dt.date:
        """Last day to file the served suggestion with the procuratorate one level up (R75)."""
        return self.after_days(served_on, self.filed_upward_days)

    def reply_due(self, served_on: dt.date, urgent: bool) -> dt.date:
        """Last day of the organ's written reply: 2 months, or 15 days when urgent (J21; G19)."""
        if urgent:
            return self.after_days(served_on, self.urgent_reply_days)
        return self.after_months(served_on, self.reply_months)

    def rectification_due(self, served_on: dt.date, urgent: bool) -> dt.date:
        """End of the rectification period; shortened when urgent only if configured (§6 Q2)."""
        if urgent and self.urgent_rectification_days is not None:
            return self.after_days(served_on, self.urgent_rectification_days)
        return self.after_months(served_on, self.rectification_months)

    def litigation_review_due(self, period_end: dt.date, extensions: int = 0) -> dt.date:
        """Last day of the litigation review, from the end of the rectification period (R47)."""
        months = self.litigation_review_months + extensions * self.litigation_extension_months
        return self.after_months(period_end, months)


def _parse_holiday(value: Any, source: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{source}: holidays: {value!r} is not a date (YYYY-MM-DD)") from exc
