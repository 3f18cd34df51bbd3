"""conflict cases: an index in the order of the lists (status, severity, next date), so that the first
page of a national coordinator's open cases is read from it rather than sorted from every open case

Revision ID: d8e2f4a6b1c3
Revises: c21e7f3a9b10
Create Date: 2026-12-05 12:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd8e2f4a6b1c3'
down_revision = 'c21e7f3a9b10'
branch_labels = None
depends_on = None


def upgrade():
    # An index alone: no table rebuild on SQLite (op.create_index, not batch_alter_table).
    op.create_index('ix_conflict_cases_listing', 'conflict_cases',
                    ['status', 'severity', 'next_starts_at', 'first_starts_at', 'id'])


def downgrade():
    op.drop_index('ix_conflict_cases_listing', 'conflict_cases')
