"""Persistence: SQLAlchemy models, the database handle and migrations."""

from .db import Database
from .models import (
    Base,
    Feature,
    Inspection,
    Layer,
    Photo,
    PhotoFeatureLink,
    PhotoSubmission,
    User,
)
from .models_auth import LoginAttempt
from .models_cases import AuditEntry, Case, CaseEvent, CaseFinding, Finding, FindingPhoto
from .models_documents import DbSequenceStore, DocSequence, SuggestionRecord
from .models_lookback import LookBack, LookBackPair, LookBackVerdict, Recurrence

__all__ = [
    "AuditEntry",
    "Base",
    "Case",
    "CaseEvent",
    "CaseFinding",
    "Finding",
    "FindingPhoto",
    "Database",
    "DbSequenceStore",
    "DocSequence",
    "Feature",
    "Inspection",
    "Layer",
    "LoginAttempt",
    "LookBack",
    "LookBackPair",
    "LookBackVerdict",
    "Photo",
    "PhotoFeatureLink",
    "PhotoSubmission",
    "Recurrence",
    "SuggestionRecord",
    "User",
]
