"""a series can pause during the school holidays of its zone (the place's, or one given)

Revision ID: 9c7d89140705
Revises: 5e0c2a7d9b41
Create Date: 2026-12-01 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c7d89140705'
down_revision = '5e0c2a7d9b41'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events') as batch:
        # Existing series keep running through the school holidays, as they did.
        batch.add_column(sa.Column('pause_school_holidays', sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.add_column(sa.Column('school_zone', sa.String(length=1), nullable=True))


def downgrade():
    with op.batch_alter_table('events') as batch:
        batch.drop_column('school_zone')
        batch.drop_column('pause_school_holidays')
