"""all-day events: an event kept as dates (its days run midnight to midnight on its place's wall
clock, 23 or 25 hours across a change of time), written VALUE=DATE in the feeds

Revision ID: b19d4a11e7c2
Revises: 7b3e9d2c4a51
Create Date: 2026-12-04 21:10:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b19d4a11e7c2'
down_revision = '7b3e9d2c4a51'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.add_column(sa.Column('all_day', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('events', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_column('all_day')
