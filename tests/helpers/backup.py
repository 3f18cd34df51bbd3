"""Keep and restore: a new migrated database with an app on it, the CLI run in that app."""
from __future__ import annotations

from contextlib import contextmanager

from app import create_app
from helpers.database import fresh_database
from models import db


@contextmanager
def new_database(backend, tmp_path):
    """A new, migrated, empty database of the same kind as the test's, and an app on it."""
    from flask_migrate import upgrade

    with fresh_database(backend, tmp_path) as url:
        other = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "test",
                            "BASE_URL": "http://maillage.test", "RATELIMITS": {}})
        with other.app_context():
            upgrade()
        try:
            yield other
        finally:
            with other.app_context():
                db.engine.dispose()


def run(app, *args):
    # Its own app context: the CLI would otherwise run in the test app's, on the test's database.
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output
