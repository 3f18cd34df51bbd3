"""page states: public pages and posters built once and shared by every web process

Revision ID: a3f1c8d2e905
Revises: f99dd02af000
Create Date: 2026-12-01 15:10:00

"""
from alembic import op
import sqlalchemy as sa
import models.base


# revision identifiers, used by Alembic.
revision = 'a3f1c8d2e905'
down_revision = 'f99dd02af000'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_states',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('marker', sa.String(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('built_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_page_states'))
    )
    with op.batch_alter_table('page_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_states_built_at'), ['built_at'], unique=False)


def downgrade():
    with op.batch_alter_table('page_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_states_built_at'))
    op.drop_table('page_states')
