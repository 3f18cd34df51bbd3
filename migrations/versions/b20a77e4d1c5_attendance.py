"""attendance: people received at an occurrence (counts only), keyed like the exceptions

Revision ID: b20a77e4d1c5
Revises: b19d4a11e7c2
Create Date: 2026-12-04 21:20:00
"""
from alembic import op
import sqlalchemy as sa

import models.base  # noqa: F401  (column types of ours that migrations name)


# revision identifiers, used by Alembic.
revision = 'b20a77e4d1c5'
down_revision = 'b19d4a11e7c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'attendances',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('recurrence_start', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('by_age_band', sa.JSON(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name='fk_attendances_event_id_events',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name='fk_attendances_recorded_by_id_users',
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_attendances'),
        sa.UniqueConstraint('event_id', 'recurrence_start', name='uq_attendances_event_id'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_attendances_event_id', 'attendances', ['event_id'])


def downgrade():
    op.drop_index('ix_attendances_event_id', table_name='attendances')
    op.drop_table('attendances')
