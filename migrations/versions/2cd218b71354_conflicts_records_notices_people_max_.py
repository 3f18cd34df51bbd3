"""conflicts: records, notices, people max_concurrent

Revision ID: 2cd218b71354
Revises: 427bd92d951b
Create Date: 2026-11-25 18:42:45.601303

"""
from alembic import op
import sqlalchemy as sa

import models.base  # noqa: F401  (column types of ours that migrations name)


# revision identifiers, used by Alembic.
revision = '2cd218b71354'
down_revision = '427bd92d951b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('a_event_id', sa.Integer(), nullable=False),
    sa.Column('a_recurrence_id', sa.BigInteger(), nullable=False),
    sa.Column('b_event_id', sa.Integer(), nullable=False),
    sa.Column('b_recurrence_id', sa.BigInteger(), nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('starts_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('signature', sa.String(length=32), nullable=False),
    sa.Column('accepted_signature', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['a_event_id'], ['events.id'], name=op.f('fk_conflicts_a_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['b_event_id'], ['events.id'], name=op.f('fk_conflicts_b_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_conflicts_decided_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflicts')),
    sa.UniqueConstraint('kind', 'a_event_id', 'a_recurrence_id', 'b_event_id', 'b_recurrence_id', name='uq_conflicts_identity')
    )
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflicts_a_event_id'), ['a_event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflicts_b_event_id'), ['b_event_id'], unique=False)
        batch_op.create_index('ix_conflicts_status_starts_at', ['status', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflicts_subject'), ['subject'], unique=False)

    op.create_table('conflict_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conflict_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=20), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conflict_id'], ['conflicts.id'], name=op.f('fk_conflict_notices_conflict_id_conflicts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_conflict_notices_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_conflict_notices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflict_notices'))
    )
    with op.batch_alter_table('conflict_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflict_notices_conflict_id'), ['conflict_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_notices_sent_at'), ['sent_at'], unique=False)

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_concurrent', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('max_concurrent')

    with op.batch_alter_table('conflict_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflict_notices_sent_at'))
        batch_op.drop_index(batch_op.f('ix_conflict_notices_conflict_id'))

    op.drop_table('conflict_notices')
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflicts_subject'))
        batch_op.drop_index('ix_conflicts_status_starts_at')
        batch_op.drop_index(batch_op.f('ix_conflicts_b_event_id'))
        batch_op.drop_index(batch_op.f('ix_conflicts_a_event_id'))

    op.drop_table('conflicts')
