"""The runtime: settings plus the database they select, opened and migrated on first use.

The CLI, the web app and the tests all build one of these and pass it to library functions.
"""

from __future__ import annotations

import functools

from .settings import Settings
from .store import Database


class Runtime:
    """Settings and the resources they name (database, evidence store)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()

    @functools.cached_property
    def db(self) -> Database:
        """The database, upgraded to the newest schema."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database.from_settings(self.settings)
        db.upgrade()
        return db

    @functools.cached_property
    def evidence(self):
        """The content-addressed evidence store under ``settings.evidence_dir``."""
        from .photos.evidence import EvidenceStore

        return EvidenceStore(self.settings.evidence_dir)
