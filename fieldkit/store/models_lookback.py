"""Models of look-back checks (回头看): visits, photo pairs, verdicts and recurrences (migration 0004).

They register on the same :class:`~fieldkit.store.models.Base` metadata as the core models.

- :class:`LookBack`: one planned or done visit for a case (planned date, done date, inspectors,
  the inspection whose photos were taken on it).
- :class:`LookBackPair`: a new photo proposed (``candidate``), ``confirmed`` or ``rejected`` as
  the re-shot of one finding, with its score 0..1 and the score's components.
- :class:`LookBackVerdict`: the office's decision per finding on a look-back.
- :class:`Recurrence`: a new finding recorded near a place whose case closed recently (反弹).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow

VERDICTS = ("rectified", "partly", "not_rectified", "worse", "no_access")
PAIR_STATES = ("candidate", "confirmed", "rejected")


class LookBack(Base):
    """One look-back visit of a case: planned, then done."""

    __tablename__ = "lookbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    planned_on: Mapped[dt.date] = mapped_column(Date)
    done_on: Mapped[dt.date | None] = mapped_column(Date)
    inspector_ids: Mapped[list[Any]] = mapped_column(JSON)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(30))  # set when concluded
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LookBackPair(Base):
    """A new photo paired with a finding on a look-back, with its score and components."""

    __tablename__ = "lookback_pairs"
    __table_args__ = (UniqueConstraint("lookback_id", "finding_id", "photo_id", name="uq_lookback_pairs"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lookback_id: Mapped[int] = mapped_column(ForeignKey("lookbacks.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"))
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="candidate")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LookBackVerdict(Base):
    """The decision on one finding at one look-back."""

    __tablename__ = "lookback_verdicts"
    __table_args__ = (UniqueConstraint("lookback_id", "finding_id", name="uq_lookback_verdicts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lookback_id: Mapped[int] = mapped_column(ForeignKey("lookbacks.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(20))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class Recurrence(Base):
    """A new finding near the place of a finding whose case closed recently (反弹)."""

    __tablename__ = "recurrences"
    __table_args__ = (UniqueConstraint("finding_id", "old_case_id", name="uq_recurrences"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    old_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    old_finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"))
    distance_m: Mapped[float] = mapped_column(Float)
    old_closed_on: Mapped[dt.date] = mapped_column(Date)
    flagged_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
