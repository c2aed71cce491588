"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 05:32:27.626306
"""
import sqlalchemy as sa
from alembic import op

import fieldkit.store.geometry

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


#: GIST indexes on PostgreSQL only (SQLite uses the bbox columns instead): the geometry columns,
#: and features as geography for the in-database join's ST_DWithin and KNN ``<->`` (fieldkit/join/pg.py).
GIST_INDEXES = {
    "ix_features_geom_gist": ("features", "geom"),
    "ix_features_geog_gist": ("features", "(geom::geography)"),
    "ix_photos_geom_gist": ("photos", "geom"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")  # needs a superuser, or a DBA beforehand
    op.create_table('layers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=True),
    sa.Column('source_format', sa.String(length=40), nullable=True),
    sa.Column('source_crs', sa.String(length=200), nullable=True),
    sa.Column('source_encoding', sa.String(length=40), nullable=True),
    sa.Column('id_field', sa.String(length=100), nullable=True),
    sa.Column('name_field', sa.String(length=100), nullable=True),
    sa.Column('tolerance_m', sa.Float(), nullable=False),
    sa.Column('responsible_body', sa.String(length=200), nullable=True),
    sa.Column('attribution', sa.Text(), nullable=True),
    sa.Column('licence', sa.String(length=200), nullable=True),
    sa.Column('feature_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    with op.batch_alter_table('layers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_layers_kind'), ['kind'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('features',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('layer_id', sa.Integer(), nullable=False),
    sa.Column('fid', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('geom_type', sa.String(length=30), nullable=False),
    sa.Column('geom', fieldkit.store.geometry.Geometry(), nullable=False),
    sa.Column('minx', sa.Float(), nullable=False),
    sa.Column('miny', sa.Float(), nullable=False),
    sa.Column('maxx', sa.Float(), nullable=False),
    sa.Column('maxy', sa.Float(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['layer_id'], ['layers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('features', schema=None) as batch_op:
        batch_op.create_index('ix_features_bbox', ['minx', 'maxx', 'miny', 'maxy'], unique=False)
        batch_op.create_index('ix_features_layer_fid', ['layer_id', 'fid'], unique=False)

    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('original_name', sa.String(length=300), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('orientation', sa.Integer(), nullable=True),
    sa.Column('make', sa.String(length=200), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('taken_at', sa.String(length=40), nullable=True),
    sa.Column('taken_at_utc', sa.DateTime(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('alt', sa.Float(), nullable=True),
    sa.Column('bearing', sa.Float(), nullable=True),
    sa.Column('location_source', sa.String(length=20), nullable=False),
    sa.Column('location_note', sa.Text(), nullable=True),
    sa.Column('geom', fieldkit.store.geometry.Geometry(), nullable=True),
    sa.Column('metadata_json', sa.JSON(), nullable=True),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photos_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index('ix_photos_lonlat', ['lon', 'lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_photos_taken_at_utc'), ['taken_at_utc'], unique=False)
        batch_op.create_index(batch_op.f('ix_photos_uploaded_by_id'), ['uploaded_by_id'], unique=False)

    op.create_table('photo_feature_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('layer_id', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.Integer(), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('chainage_m', sa.Float(), nullable=True),
    sa.Column('by_bearing', sa.Boolean(), nullable=False),
    sa.Column('layer_version', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['feature_id'], ['features.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['layer_id'], ['layers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('photo_id', 'layer_id')
    )
    with op.batch_alter_table('photo_feature_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_feature_links_feature_id'), ['feature_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_feature_links_layer_id'), ['layer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_feature_links_photo_id'), ['photo_id'], unique=False)

    op.create_table('photo_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('original_name', sa.String(length=300), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], ),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('photo_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_submissions_photo_id'), ['photo_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_submissions_sha256'), ['sha256'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for name, (table, column) in GIST_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} USING GIST ({column})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in GIST_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table('photo_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_submissions_sha256'))
        batch_op.drop_index(batch_op.f('ix_photo_submissions_photo_id'))

    op.drop_table('photo_submissions')
    with op.batch_alter_table('photo_feature_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_feature_links_photo_id'))
        batch_op.drop_index(batch_op.f('ix_photo_feature_links_layer_id'))
        batch_op.drop_index(batch_op.f('ix_photo_feature_links_feature_id'))

    op.drop_table('photo_feature_links')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photos_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_photos_taken_at_utc'))
        batch_op.drop_index('ix_photos_lonlat')
        batch_op.drop_index(batch_op.f('ix_photos_inspection_id'))

    op.drop_table('photos')
    op.drop_table('inspections')
    with op.batch_alter_table('features', schema=None) as batch_op:
        batch_op.drop_index('ix_features_layer_fid')
        batch_op.drop_index('ix_features_bbox')

    op.drop_table('features')
    op.drop_table('users')
    with op.batch_alter_table('layers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_layers_kind'))

    op.drop_table('layers')
