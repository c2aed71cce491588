"""features: one index, (layer_id, minx, maxx, miny, maxy), instead of two

The layer id leads the bounding-box index, so the same index serves per-layer scans (joins,
deletes of a replaced layer) and per-layer bounding-box queries; the (layer_id, fid) index
went (nothing looks features up by fid). Imports write features in the index's order (west
to east within the layer), so the index grows by appending and never needs a rebuild.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('features', schema=None) as batch_op:
        batch_op.drop_index('ix_features_layer_fid')
        batch_op.drop_index('ix_features_bbox')
        batch_op.create_index('ix_features_bbox', ['layer_id', 'minx', 'maxx', 'miny', 'maxy'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('features', schema=None) as batch_op:
        batch_op.drop_index('ix_features_bbox')
        batch_op.create_index('ix_features_bbox', ['minx', 'maxx', 'miny', 'maxy'], unique=False)
        batch_op.create_index('ix_features_layer_fid', ['layer_id', 'fid'], unique=False)
