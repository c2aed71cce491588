"""Helpers shared by the look-back modules: loading rows, validating input, case findings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.lookup import get_or_raise
from ..store.models_cases import Case, CaseFinding, Finding
from ..store.models_lookback import LookBack

#: Case states in which a look-back can be planned and is due (R77).
LOOKBACK_STATES = ("awaiting_reply", "follow_up")


def case_label(case: Case) -> str:
    """How messages name a case: ``case 12 (title)``."""
    return f"case {case.id} ({case.title})"


def load_case(s: Session, case_id: int) -> Case:
    """The case, or NotFoundError."""
    return get_or_raise(s, Case, case_id, "case")


def load_lookback(s: Session, lookback_id: int) -> LookBack:
    """The look-back, or NotFoundError."""
    return get_or_raise(s, LookBack, lookback_id, "look-back")


def case_findings(s: Session, case_id: int) -> list[Finding]:
    """The findings of a case, by id."""
    return list(
        s.scalars(
            select(Finding)
            .join(CaseFinding, CaseFinding.finding_id == Finding.id)
            .where(CaseFinding.case_id == case_id)
            .order_by(Finding.id)
        )
    )
