"""Models of procuratorial documents: per-year number sequences and 检察建议书 versions (migration 0003).

They register on the same :class:`~fieldkit.store.models.Base` metadata as the core models.
A :class:`SuggestionRecord` is editable while ``state == "draft"``; once issued it is frozen: the
migration installs triggers that refuse UPDATE and DELETE of an issued row, and
``doc_number`` is unique so a number can never be given twice. :class:`DbSequenceStore` is the
database side of :class:`fieldkit.documents.numbering.SequenceStore`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import ConflictError
from .models import Base, utcnow

SUGGESTION_STATES = ("draft", "issued")


class DocSequence(Base):
    """The last document-number sequence used for one numbering scheme in one year."""

    __tablename__ = "doc_sequences"
    __table_args__ = (UniqueConstraint("scheme_key", "year", name="uq_doc_sequences_key_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_key: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SuggestionRecord(Base):
    """One version of a case's 检察建议书: a draft, or an issued (numbered, frozen) document.

    ``content`` holds the :class:`~fieldkit.documents.SuggestionDocument` fields as JSON
    (see :mod:`fieldkit.documents.drafting`); ``doc_number`` is NULL until issued.
    """

    __tablename__ = "suggestion_records"
    __table_args__ = (
        UniqueConstraint("case_id", "version", name="uq_suggestion_records_case_version"),
        UniqueConstraint("doc_number", name="uq_suggestion_records_doc_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    doc_number: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    docx_sha256: Mapped[str | None] = mapped_column(String(64))


@dataclass(slots=True)
class DbSequenceStore:
    """:class:`~.numbering.SequenceStore` on ``doc_sequences``, inside the caller's write session.

    Sequences only go up: recording a sequence at or below the last one raises ConflictError.
    SQLite write sessions hold the database lock (BEGIN IMMEDIATE); PostgreSQL locks the row.
    """

    session: Session

    def last_used(self, key: str, year: int) -> int | None:
        """The last sequence used for ``key`` in ``year``, or ``None``."""
        return self.session.scalar(_sequence_query(key, year, DocSequence.last_seq))

    def record(self, key: str, year: int, seq: int) -> None:
        """Record ``seq`` as used for ``key`` in ``year``; refuse one already used."""
        row = self.session.scalar(_sequence_query(key, year, DocSequence))
        if row is None:
            self.session.add(DocSequence(scheme_key=key, year=year, last_seq=seq, updated_at=utcnow()))
        else:
            done = self.session.execute(
                update(DocSequence)
                .where(DocSequence.id == row.id, DocSequence.last_seq < seq)
                .values(last_seq=seq, updated_at=utcnow())
                .execution_options(synchronize_session="fetch")
            )
            if done.rowcount != 1:
                raise ConflictError(
                    f"document number sequence {seq} of {year} for {key!r} is already used "
                    f"(last used: {row.last_seq})"
                )
        self.session.flush()


def _sequence_query(key: str, year: int, what):
    return select(what).where(DocSequence.scheme_key == key, DocSequence.year == year).with_for_update()
