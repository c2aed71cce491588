"""look-back checks: visits, photo pairs, verdicts and recurrences

Tables of fieldkit/store/models_lookback.py. Portable DDL only (no triggers), so the same
migration runs on SQLite and PostgreSQL; changes are audited by the library (fieldkit.audit).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lookbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('inspector_ids', sa.JSON(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lookbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lookbacks_case_id'), ['case_id'], unique=False)

    op.create_table('lookback_pairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lookback_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ),
    sa.ForeignKeyConstraint(['lookback_id'], ['lookbacks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lookback_id', 'finding_id', 'photo_id', name='uq_lookback_pairs')
    )
    with op.batch_alter_table('lookback_pairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lookback_pairs_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lookback_pairs_lookback_id'), ['lookback_id'], unique=False)

    op.create_table('lookback_verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lookback_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ),
    sa.ForeignKeyConstraint(['lookback_id'], ['lookbacks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lookback_id', 'finding_id', name='uq_lookback_verdicts')
    )
    with op.batch_alter_table('lookback_verdicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lookback_verdicts_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lookback_verdicts_lookback_id'), ['lookback_id'], unique=False)

    op.create_table('recurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('old_case_id', sa.Integer(), nullable=False),
    sa.Column('old_finding_id', sa.Integer(), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('old_closed_on', sa.Date(), nullable=False),
    sa.Column('flagged_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ),
    sa.ForeignKeyConstraint(['old_case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['old_finding_id'], ['findings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('finding_id', 'old_case_id', name='uq_recurrences')
    )
    with op.batch_alter_table('recurrences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurrences_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurrences_old_case_id'), ['old_case_id'], unique=False)


def downgrade() -> None:
    for table, columns in (
        ('recurrences', ('finding_id', 'old_case_id')),
        ('lookback_verdicts', ('finding_id', 'lookback_id')),
        ('lookback_pairs', ('finding_id', 'lookback_id')),
        ('lookbacks', ('case_id',)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
