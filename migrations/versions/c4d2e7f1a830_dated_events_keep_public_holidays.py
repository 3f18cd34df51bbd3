"""dated events keep public holidays: a single event takes place on its date, holiday or not (only
series skip public holidays); every cached feed and page is rebuilt

Revision ID: c4d2e7f1a830
Revises: a3f1c8d2e905
Create Date: 2026-12-01 15:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d2e7f1a830'
down_revision = 'a3f1c8d2e905'
branch_labels = None
depends_on = None


def upgrade():
    # Until now a forum dated on 8 May had no occurrence unless its author turned the flag off.
    op.execute(sa.text("UPDATE events SET skip_public_holidays = :no WHERE frequency = 'once' AND skip_public_holidays")
               .bindparams(no=False))
    # Feeds and pages are cached under the versions of their scopes: what they show has changed.
    op.execute("UPDATE scope_versions SET version = version + 1")


def downgrade():
    pass  # which dated events had the flag on is not kept: they stay as they are
