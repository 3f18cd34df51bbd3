"""users.last_seen_at: when a person last used the coordination pages (a coordinator's "changed by
partners since your last visit")

Revision ID: 7b3e9d2c4a51
Revises: e5a1c0d7b913
Create Date: 2026-12-04 21:10:00

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = '7b3e9d2c4a51'
down_revision = 'e5a1c0d7b913'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('last_seen_at')
