"""Models of findings, cases, case events and the audit log (migration 0002).

They register on the same :class:`~fieldkit.store.models.Base` metadata as the core models.
``audit_entries`` and ``case_events`` are append-only: the migration installs triggers that
refuse UPDATE and DELETE on them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .models import Base, utcnow

FINDING_STATES = ("open", "closed")


class Finding(Base):
    """An observed problem of one taxonomy category, on one or more photos, at one place."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_category_state", "category_id", "state"),
        Index("ix_findings_lonlat", "lon", "lat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str | None] = mapped_column(String(20))
    urgency: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(Text)  # address-like text for documents
    observed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    layer_id: Mapped[int | None] = mapped_column(ForeignKey("layers.id", ondelete="SET NULL"))
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("features.id", ondelete="SET NULL"))
    # Snapshot of the joined feature: re-importing a layer replaces its features (feature_id
    # becomes NULL), but the finding must still say which segment/reach/site it was on.
    feature_fid: Mapped[str | None] = mapped_column(String(200))
    feature_name: Mapped[str | None] = mapped_column(String(500))
    chainage_m: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20), default="open")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    photo_links: Mapped[list[FindingPhoto]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class FindingPhoto(Base):
    """A photo that shows a finding (a photo may show several findings)."""

    __tablename__ = "finding_photos"

    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Case(Base):
    """A case against one responsible body for findings of one nature (R69).

    The workflow columns mirror :class:`fieldkit.cases.workflow.CaseFacts`.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    responsible_body: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str | None] = mapped_column(String(40))
    nature: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(30), default="clue", index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    resume_to: Mapped[str | None] = mapped_column(String(30))
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    filing_service_due: Mapped[dt.date | None] = mapped_column(Date)
    filing_served_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    service_due: Mapped[dt.date | None] = mapped_column(Date)
    served_on: Mapped[dt.date | None] = mapped_column(Date)
    service_method: Mapped[str | None] = mapped_column(String(20))
    filed_upward_due: Mapped[dt.date | None] = mapped_column(Date)
    filed_upward_on: Mapped[dt.date | None] = mapped_column(Date)
    reply_due: Mapped[dt.date | None] = mapped_column(Date)
    rectification_due: Mapped[dt.date | None] = mapped_column(Date)
    first_reply_on: Mapped[dt.date | None] = mapped_column(Date)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    review_due: Mapped[dt.date | None] = mapped_column(Date)
    review_extensions: Mapped[int] = mapped_column(Integer, default=0)
    sued_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    finding_links: Mapped[list[CaseFinding]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class CaseFinding(Base):
    """A finding that belongs to a case."""

    __tablename__ = "case_findings"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), primary_key=True, index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CaseEvent(Base):
    """One accepted workflow action on a case: who, when, from which state to which."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditEntry(Base):
    """One entry of the hash-chained, append-only audit log (see :mod:`fieldkit.audit`)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives accounts
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
