"""SQLAlchemy 2 models. Geometries are WGS84 (EPSG:4326).

Schema changes go through Alembic migrations in ``fieldkit/store/migrations``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .geometry import Geometry

LAYER_KINDS = ("great_wall", "river", "fitness_site", "boundary")
LOCATION_SOURCES = ("exif", "gpx", "device", "manual", "none")


def utcnow() -> dt.datetime:
    """Naive UTC now, the form every timestamp column stores."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of every FieldKit table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Layer(Base):
    """A GIS layer: Great Wall segments, rivers, fitness sites or boundaries."""

    __tablename__ = "layers"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    source_file: Mapped[str | None] = mapped_column(Text)
    source_format: Mapped[str | None] = mapped_column(String(40))
    source_crs: Mapped[str | None] = mapped_column(String(200))
    source_encoding: Mapped[str | None] = mapped_column(String(40))
    id_field: Mapped[str | None] = mapped_column(String(100))
    name_field: Mapped[str | None] = mapped_column(String(100))
    tolerance_m: Mapped[float] = mapped_column(Float, default=100.0)
    responsible_body: Mapped[str | None] = mapped_column(String(200))
    attribution: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(String(200))
    feature_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    features: Mapped[list["Feature"]] = relationship(
        back_populates="layer", cascade="all, delete-orphan", passive_deletes=True
    )


class Feature(Base):
    """One feature of a layer, with its WGS84 geometry and bounding box."""

    __tablename__ = "features"
    __table_args__ = (
        # One index serves per-layer scans and per-layer bounding-box queries; imports write a
        # layer's features in its order, so it grows by appending (migration 0005).
        Index("ix_features_bbox", "layer_id", "minx", "maxx", "miny", "maxy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("layers.id", ondelete="CASCADE"))
    fid: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    geom_type: Mapped[str] = mapped_column(String(30))
    geom = mapped_column(Geometry, nullable=False)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    length_m: Mapped[float | None] = mapped_column(Float)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flags: Mapped[list[Any] | None] = mapped_column(JSON)

    layer: Mapped[Layer] = relationship(back_populates="features")

    @classmethod
    def from_geometry(cls, layer_id: int, fid: str, name: str | None, geom, **fields: Any) -> "Feature":
        """A feature whose ``geom_type`` and bounding box are derived from the WGS84 ``geom``."""
        minx, miny, maxx, maxy = geom.bounds
        return cls(layer_id=layer_id, fid=fid, name=name, geom_type=geom.geom_type, geom=geom,
                   minx=minx, miny=miny, maxx=maxx, maxy=maxy, **fields)


class User(Base):
    """Someone who logs in: inspector, reviewer or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20), default="inspector")
    team: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Inspection(Base):
    """A field trip (巡查): a named batch of photos."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(String(20), default="inspection")  # or "lookback"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Photo(Base):
    """A photo kept as evidence: the original is in the store under its SHA-256."""

    __tablename__ = "photos"
    __table_args__ = (Index("ix_photos_lonlat", "lon", "lat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(20))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    orientation: Mapped[int | None] = mapped_column(Integer)
    make: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    taken_at: Mapped[str | None] = mapped_column(String(40))  # ISO 8601 as the camera said it
    taken_at_utc: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    alt: Mapped[float | None] = mapped_column(Float)
    bearing: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str] = mapped_column(String(20), default="none")
    location_note: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry, nullable=True)
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    inspection: Mapped[Inspection | None] = relationship()
    links: Mapped[list["PhotoFeatureLink"]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )


class PhotoSubmission(Base):
    """Custody record: every time a photo's bytes arrived, by whom, under which name."""

    __tablename__ = "photo_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(20))  # "ingested" | "resubmitted"
    original_name: Mapped[str] = mapped_column(String(300))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PhotoFeatureLink(Base):
    """Result of the join: the nearest feature of one layer to one photo."""

    __tablename__ = "photo_feature_links"
    __table_args__ = (UniqueConstraint("photo_id", "layer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("layers.id", ondelete="CASCADE"), index=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), index=True)
    distance_m: Mapped[float] = mapped_column(Float)
    chainage_m: Mapped[float | None] = mapped_column(Float)
    by_bearing: Mapped[bool] = mapped_column(Boolean, default=False)
    layer_version: Mapped[int] = mapped_column(Integer)
    joined_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="links")
    feature: Mapped[Feature] = relationship()
    layer: Mapped[Layer] = relationship()
