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

__all__ = [
    "Base",
    "Database",
    "Feature",
    "Inspection",
    "Layer",
    "Photo",
    "PhotoFeatureLink",
    "PhotoSubmission",
    "User",
]
