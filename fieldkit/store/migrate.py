"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at FieldKit's migrations, bound to ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # ConfigParser interpolates '%': a URL-encoded password or option (p%40ss) must be escaped.
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema of ``engine`` to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


#: Indexes migrations create on PostgreSQL only (GIST on geometry); the models do not declare them.
PG_ONLY_INDEXES = frozenset({"ix_features_geom_gist", "ix_features_geog_gist", "ix_photos_geom_gist"})


#: Tables extensions own (PostGIS's spatial_ref_sys); not FieldKit's to create or drop.
EXTENSION_TABLES = frozenset({"spatial_ref_sys"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic autogenerate filter: ignore PostGIS's own table and the PostgreSQL-only GIST indexes."""
    if type_ == "table":
        return name not in EXTENSION_TABLES
    return not (type_ == "index" and name in PG_ONLY_INDEXES)


def schema_diff(engine: Engine) -> list:
    """Differences between the live schema and the models (empty when migrations match them)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from . import models_cases, models_documents  # noqa: F401  (registers their tables)
    from .models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(ctx, Base.metadata)
