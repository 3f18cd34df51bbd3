"""a wider time model: monthly or yearly rules on days of the month (-1 for the last), yearly
rules on given months, and dates added to a rule (iCal RDATE) at the series' time

Revision ID: c21e7f3a9b10
Revises: c3a5e7f91d20
Create Date: 2026-12-05 08:00:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c21e7f3a9b10'
down_revision = 'c3a5e7f91d20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.add_column(sa.Column('month_days', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('months', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('extra_dates', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('events', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_column('extra_dates')
        batch.drop_column('months')
        batch.drop_column('month_days')
