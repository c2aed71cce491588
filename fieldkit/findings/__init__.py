"""Findings on field-inspection evidence: the category taxonomy (data files) and its loader."""

from .taxonomy import (
    Category,
    Domain,
    LegalBasis,
    Taxonomy,
    check_taxonomy,
    load_taxonomy,
)

__all__ = ["Category", "Domain", "LegalBasis", "Taxonomy", "check_taxonomy", "load_taxonomy"]
