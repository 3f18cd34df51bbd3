"""The test databases: PostgreSQL's admin URL, CI's strictness, a fresh database, row counts."""
from __future__ import annotations

import contextlib
import os
import uuid

import sqlalchemy as sa

IN_CI = os.environ.get("CI") == "true"


PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_base(url: str) -> str:
    return url.rsplit("/", 1)[0]


@contextlib.contextmanager
def fresh_database(kind: str, tmp_path):
    """The URL of a new, empty database of that kind ("sqlite" or "postgresql"), dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex}.sqlite3'}"
        return
    name = f"maillage_fresh_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{pg_base(PG_ADMIN_URL)}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()



def row_counts() -> dict[str, int]:
    """Every table's row count, in the app context of the test: a refused write or a dry run
    leaves each of them as it was."""
    from models import db

    return {t.name: db.session.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in db.metadata.sorted_tables}
