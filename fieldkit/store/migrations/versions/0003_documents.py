"""document number sequences and 检察建议书 versions

Tables of fieldkit/store/models_documents.py, plus triggers that freeze an issued
``suggestion_records`` row: UPDATE and DELETE of a row whose state is ``issued`` are refused by
the database itself.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('doc_sequences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_key', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scheme_key', 'year', name='uq_doc_sequences_key_year')
    )
    op.create_table('suggestion_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('doc_number', sa.String(length=100), nullable=True),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('docx_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'version', name='uq_suggestion_records_case_version'),
    sa.UniqueConstraint('doc_number', name='uq_suggestion_records_doc_number')
    )
    with op.batch_alter_table('suggestion_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_records_case_id'), ['case_id'], unique=False)
    _create_frozen_triggers()


def _create_frozen_triggers() -> None:
    """Refuse UPDATE and DELETE of issued suggestion records."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER suggestion_records_issued_no_{verb.lower()} BEFORE {verb} "
                "ON suggestion_records WHEN OLD.state = 'issued' "
                f"BEGIN SELECT RAISE(ABORT, 'suggestion_records: an issued document is frozen: "
                f"{verb} refused'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION fieldkit_issued_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF OLD.state = 'issued' THEN "
            "RAISE EXCEPTION 'suggestion_records: an issued document is frozen: % refused', TG_OP; "
            "END IF; IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER suggestion_records_issued_frozen BEFORE UPDATE OR DELETE "
            "ON suggestion_records FOR EACH ROW EXECUTE FUNCTION fieldkit_issued_frozen()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS suggestion_records_issued_no_{verb}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS suggestion_records_issued_frozen ON suggestion_records")
        op.execute("DROP FUNCTION IF EXISTS fieldkit_issued_frozen()")
    with op.batch_alter_table('suggestion_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_records_case_id'))
    op.drop_table('suggestion_records')
    op.drop_table('doc_sequences')
