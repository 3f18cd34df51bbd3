"""Each migration runs in its own transaction, on SQLite as on PostgreSQL: one that fails halfway
leaves nothing of itself (not even its ADD COLUMN), the database stays at the last good revision,
and the fixed migration then runs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from app import create_app
from helpers.database import fresh_database
from models import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

BROKEN = '''"""a column, filled, then a statement that fails"""
import sqlalchemy as sa
from alembic import op

revision = "f00dfa11ed01"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("partners", sa.Column("nickname", sa.String(40)))
    op.execute("UPDATE partners SET nickname = slug")
{failing}

def downgrade():
    op.drop_column("partners", "nickname")
'''


def _write(path: Path, head: str, failing: bool) -> None:
    line = '    op.execute("INSERT INTO no_such_table VALUES (1)")\n' if failing else ""
    path.write_text(BROKEN.format(head=head, failing=line), encoding="utf-8")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_failed_migration_leaves_nothing_half_applied_and_the_fixed_one_then_runs(tmp_path, kind):
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(migrations)).get_current_head()
    broken = migrations / "versions" / "f00dfa11ed01_broken.py"
    _write(broken, head, failing=True)

    with fresh_database(kind, tmp_path) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "RATELIMITS": {}})
        with app.app_context():
            upgrade(directory=str(migrations), revision=head)
            db.session.execute(sa.text(
                "INSERT INTO partners (slug, name, type, is_spe, created_at, updated_at) "
                "VALUES ('mission-locale', 'Mission locale', 'mission_locale', false, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            db.session.commit()

            with pytest.raises(sa.exc.DBAPIError):
                upgrade(directory=str(migrations))
            db.session.remove()
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("partners")}
            assert "nickname" not in columns, "the failed migration's ADD COLUMN stayed"
            assert db.session.scalar(sa.text("SELECT version_num FROM alembic_version")) == head
            assert db.session.scalar(sa.text("SELECT count(*) FROM partners")) == 1
            db.session.remove()

            _write(broken, head, failing=False)
            upgrade(directory=str(migrations))
            assert db.session.scalar(sa.text("SELECT version_num FROM alembic_version")) == "f00dfa11ed01"
            assert db.session.scalar(sa.text("SELECT nickname FROM partners")) == "mission-locale"
            db.session.remove()
            db.engine.dispose()
