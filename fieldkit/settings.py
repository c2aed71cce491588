"""Typed settings, read once from ``FIELDKIT_*`` environment variables or passed explicitly.

Every setting is declared here with its default and help text; ``docs`` and the CLI read
:data:`SETTINGS_HELP` so nothing goes undocumented.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

ENV_PREFIX = "FIELDKIT_"


def default_data_dir() -> Path:
    """Where FieldKit keeps its database and evidence store when nothing else is said."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "fieldkit"


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """FieldKit's configuration. Construct with :meth:`from_env`."""

    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    database_url: str | None = None
    max_image_pixels: int = 250_000_000
    ingest_workers: int = 0  # 0 means one per CPU core
    preview_px: int = 1600
    thumb_px: int = 320
    secret_key: str | None = None
    basemap_url: str | None = None
    basemap_datum: str = "wgs84"
    procuratorate: str = "示例市人民检察院"
    doc_org: str = "示"
    font_dir: Path | None = None
    trusted_proxies: int = 0
    recurrence_months: int = 12
    recurrence_radius_m: int = 250

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL in use: ``database_url`` or SQLite inside ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'fieldkit.sqlite3'}"

    @property
    def evidence_dir(self) -> Path:
        """Root of the content-addressed evidence store."""
        return self.data_dir / "evidence"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from ``FIELDKIT_*`` variables, then apply explicit ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _coerce(field, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return cls(**values)


def _coerce(field: dataclasses.Field, raw: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("Path"):
            return Path(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{field.name.upper()}={raw!r}: not a valid {kind}") from exc
    return raw


SETTINGS_HELP: dict[str, str] = {
    "data_dir": "Directory for the SQLite database and the evidence store (FIELDKIT_DATA_DIR).",
    "database_url": "SQLAlchemy URL; postgresql+psycopg://... selects PostgreSQL + PostGIS.",
    "max_image_pixels": "Largest image (in pixels) decoded; bigger files are refused as bombs.",
    "ingest_workers": "Worker processes for photo ingest; 0 means one per CPU core.",
    "preview_px": "Long side of the preview derivative, in pixels.",
    "thumb_px": "Long side of the thumbnail derivative, in pixels.",
    "secret_key": "Flask secret key; generated per data directory when unset.",
    "basemap_url": "Optional XYZ tile URL or path to a local .mbtiles/.pmtiles file.",
    "basemap_datum": "Datum of the basemap tiles: wgs84 or gcj02 (overlays are shifted to match).",
    "procuratorate": "The procuratorate's full name, printed on the 检察建议书 it drafts.",
    "doc_org": "Organ mark that opens document numbers, e.g. 金 for 金检行公建〔2025〕3号.",
    "trusted_proxies": "Reverse proxies in front of the web app (1 behind nginx) whose X-Forwarded-For/-Proto "
                       "headers are trusted for the client address and scheme; 0 (default) trusts none.",
    "recurrence_months": "A new finding near a place whose case closed this many months ago or less is "
                         "flagged as a recurrence (反弹) and linked to that case.",
    "recurrence_radius_m": "How near (metres) a new finding must be to a closed case's findings to count as "
                           "a recurrence (反弹).",
    "font_dir": "Folder searched first for 仿宋/小标宋/楷体/黑体 TrueType files for the PDF (e.g. simfang.ttf).",
}
