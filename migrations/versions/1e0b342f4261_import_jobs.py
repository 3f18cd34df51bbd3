"""import jobs: the uploaded file kept in the database, its preview or import worked by the clock
process for big files, with its progress

Revision ID: 1e0b342f4261
Revises: 9c7d89140705
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = '1e0b342f4261'
down_revision = '9c7d89140705'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('place_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('visibility', sa.String(length=20), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.Column('step', sa.String(length=10), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('progress', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_import_jobs_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_import_jobs_partner_id_partners'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_import_jobs_place_id_places'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_jobs_state'), ['state'], unique=False)


def downgrade():
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_import_jobs_user_id'))
    op.drop_table('import_jobs')
