"""versions by scope (a write invalidates only the feeds and pages that show it); feed bodies kept
in the database, so that every web process shares one build

Revision ID: 5e0c2a7d9b41
Revises: 2cd218b71354
Create Date: 2026-12-01 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e0c2a7d9b41'
down_revision = '2cd218b71354'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scope_versions',
        sa.Column('scope', sa.String(length=200), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('scope', name=op.f('pk_scope_versions')),
    )
    op.drop_table('calendar_version')
    # Feed states stay (their Last-Modified must never go back); their old markers no longer
    # match, so each feed is rebuilt once.
    with op.batch_alter_table('feed_states') as batch:
        batch.add_column(sa.Column('body', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('feed_states') as batch:
        batch.drop_column('body')
    table = op.create_table(
        'calendar_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'version': 0}])
    op.drop_table('scope_versions')
