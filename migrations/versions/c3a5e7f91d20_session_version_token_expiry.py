"""users.session_version (a session cookie carries it: signing out, a new password or a
deactivation end every older cookie) and api_tokens.expires_at (tokens that stop working; the
tokens already issued get a year from this upgrade)

Revision ID: c3a5e7f91d20
Revises: b20a77e4d1c5
Create Date: 2026-12-05 08:00:00
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'c3a5e7f91d20'
down_revision = 'b20a77e4d1c5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('api_tokens', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('expires_at', models.base.UTCDateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + timedelta(days=365)))
    with op.batch_alter_table('api_tokens', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('expires_at', existing_type=models.base.UTCDateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('session_version')
