"""events: an index on (timezone, start_time): a page of the occurrences API reads the series that
start in a slice of the day, zone by zone (scheduler.time.keyset)

Revision ID: d4e8a1c2b7f5
Revises: d8e2f4a6b1c3
Create Date: 2026-12-05 13:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4e8a1c2b7f5'
down_revision = 'd8e2f4a6b1c3'
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX: SQLite needs no table rebuild for it (no batch_alter_table).
    op.create_index('ix_events_timezone_start_time', 'events', ['timezone', 'start_time'], unique=False)


def downgrade():
    op.drop_index('ix_events_timezone_start_time', table_name='events')
