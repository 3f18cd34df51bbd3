"""conflict cases: one kind of overlap between two series, grouping its per-date conflicts;
notices recorded per case

Revision ID: e5a1c0d7b913
Revises: c4d2e7f1a830
Create Date: 2026-12-04 20:50:00

Existing conflicts join their case at the next detection (the nightly run, or
`flask conflicts detect`), which attaches every conflict of the horizon.
"""
from alembic import op
import sqlalchemy as sa

import models.base  # noqa: F401  (column types of ours that migrations name)


# revision identifiers, used by Alembic.
revision = 'e5a1c0d7b913'
down_revision = 'c4d2e7f1a830'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'conflict_cases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('severity', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('a_event_id', sa.Integer(), nullable=False),
        sa.Column('b_event_id', sa.Integer(), nullable=False),
        sa.Column('open_count', sa.Integer(), nullable=False),
        sa.Column('accepted_count', sa.Integer(), nullable=False),
        sa.Column('ended_count', sa.Integer(), nullable=False),
        sa.Column('first_starts_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_ends_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('next_starts_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('accepted_versions', sa.String(length=40), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('opened_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['a_event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['b_event_id'], ['events.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'a_event_id', 'b_event_id', name='uq_conflict_cases_identity'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_conflict_cases_a_event_id', 'conflict_cases', ['a_event_id'])
    op.create_index('ix_conflict_cases_b_event_id', 'conflict_cases', ['b_event_id'])
    op.create_index('ix_conflict_cases_status_next', 'conflict_cases', ['status', 'next_starts_at'])
    with op.batch_alter_table('conflicts', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch.create_index('ix_conflicts_case_id', ['case_id'])
        batch.create_foreign_key('fk_conflicts_case_id', 'conflict_cases', ['case_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('conflict_notices', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch.alter_column('conflict_id', existing_type=sa.Integer(), nullable=True)
        batch.create_index('ix_conflict_notices_case_id', ['case_id'])
        batch.create_foreign_key('fk_conflict_notices_case_id', 'conflict_cases', ['case_id'], ['id'],
                                 ondelete='CASCADE')


def downgrade():
    op.execute("DELETE FROM conflict_notices WHERE conflict_id IS NULL")
    with op.batch_alter_table('conflict_notices', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_constraint('fk_conflict_notices_case_id', type_='foreignkey')
        batch.drop_index('ix_conflict_notices_case_id')
        batch.alter_column('conflict_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('case_id')
    with op.batch_alter_table('conflicts', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_constraint('fk_conflicts_case_id', type_='foreignkey')
        batch.drop_index('ix_conflicts_case_id')
        batch.drop_column('case_id')
    op.drop_index('ix_conflict_cases_status_next', 'conflict_cases')
    op.drop_index('ix_conflict_cases_b_event_id', 'conflict_cases')
    op.drop_index('ix_conflict_cases_a_event_id', 'conflict_cases')
    op.drop_table('conflict_cases')
