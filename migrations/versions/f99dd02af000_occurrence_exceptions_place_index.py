"""occurrence exceptions: an index on place_id (the overlap check of every write looks them up by place)

Revision ID: f99dd02af000
Revises: ffe6340cfea5
Create Date: 2026-12-01 08:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f99dd02af000'
down_revision = 'ffe6340cfea5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('occurrence_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occurrence_exceptions_place_id'), ['place_id'], unique=False)


def downgrade():
    with op.batch_alter_table('occurrence_exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrence_exceptions_place_id'))
