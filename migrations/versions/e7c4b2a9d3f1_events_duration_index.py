"""events: an index on duration_minutes: the first page of the occurrences API reads the long
series (they may run into its window from before it) by it, where it scanned every series (7 ms
at national scale, for none)

Revision ID: e7c4b2a9d3f1
Revises: d4e8a1c2b7f5
Create Date: 2026-12-05 18:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e7c4b2a9d3f1'
down_revision = 'd4e8a1c2b7f5'
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX: SQLite needs no table rebuild for it (no batch_alter_table).
    op.create_index('ix_events_duration_minutes', 'events', ['duration_minutes'], unique=False)


def downgrade():
    op.drop_index('ix_events_duration_minutes', table_name='events')
