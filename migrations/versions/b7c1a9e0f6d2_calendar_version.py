"""calendar version: one counter raised by every write the public pages depend on

Revision ID: b7c1a9e0f6d2
Revises: f27461c39754
Create Date: 2026-11-25 18:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c1a9e0f6d2'
down_revision = 'f27461c39754'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'calendar_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'version': 0}])


def downgrade():
    op.drop_table('calendar_version')
