"""The database handle and the column types every aggregate shares."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, cast

import psycopg
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Stable constraint names so that Alembic migrations are the same on SQLite and PostgreSQL.
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)

# Every model of ours subclasses this one class. At run time it is Flask-SQLAlchemy's db.Model
# (Base plus its bind and table-name mixins, and db.Model.query); mypy cannot take a base class
# from an attribute, so to it a model is one of Base's, which types every column just as well.
if TYPE_CHECKING:

    class Model(Base):
        __abstract__ = True

else:
    Model = db.Model


@sa.event.listens_for(sa.Table, "after_parent_attach")
def _ids_never_come_back(table: sa.Table, metadata) -> None:
    """Every table of ours with an integer id gets SQLite's AUTOINCREMENT: without it SQLite
    hands the largest id out again once its row is deleted, and ids are written where no foreign
    key follows them (the audit history, deliveries, subscriptions, `sync:<id>` sources, the
    session cookie, URLs), so a new partner, event or user would inherit what pointed to the
    old one. PostgreSQL's sequences never go back; this makes SQLite behave the same."""
    if metadata is Base.metadata:
        table.dialect_kwargs["sqlite_autoincrement"] = True


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record) -> None:
    """SQLite ignores foreign keys, and so every ON DELETE CASCADE / SET NULL, unless each
    connection asks for them: deleting an event would leave its conflicts pointing at nothing.
    (Migrations turn them off while they copy tables: migrations/env.py.)"""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


class UTCDateTime(sa.types.TypeDecorator):
    """An instant: stored in UTC, always handed back timezone-aware.

    SQLite keeps no offset, so we normalise to UTC on the way in and tag it on the way out;
    PostgreSQL gets a real timestamptz.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is expected")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def secret_digest(token: str) -> str:
    """What is stored of a secret token (API token, private feed link, subscription link): they
    are 256 random bits, so a plain SHA-256 keeps them safe and lets us find the row."""
    return hashlib.sha256(token.encode()).hexdigest()


def rows_touched(result: sa.Result) -> int:
    """How many rows an UPDATE or DELETE run through the session changed. The session hands back
    a CursorResult for them, which its typing (the scoped session's) does not say."""
    assert isinstance(result, sa.CursorResult)
    return result.rowcount


def utcnow() -> datetime:
    return datetime.now(UTC)


def dialect_insert(
    session: sa.orm.Session | sa.orm.scoped_session | sa.Connection,
) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The `insert` of the database behind this session or connection: PostgreSQL's and SQLite's
    both have ON CONFLICT (upserts, inserts that skip what is there), the generic one has not."""
    dialect = session.dialect if isinstance(session, sa.Connection) else session.get_bind().dialect
    return postgresql.insert if dialect.name == "postgresql" else sqlite.insert


def in_ids(column: Any, ids: Iterable[int | None]) -> sa.ColumnElement[bool]:
    """`column IN ids` for hundreds of ids. On PostgreSQL one array parameter (`= ANY`): an IN
    list is a parameter per id, which psycopg splits and converts for every query (8 ms of the
    16 a page of 500 occurrences spent reading its events' facts); SQLite keeps the IN list."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(ids), type_=postgresql.ARRAY(column.type)))
    return column.in_(ids)


def next_ids(table: sa.Table, count: int) -> list[int]:
    """PostgreSQL: `count` ids drawn from the table's sequence in one query, for rows inserted
    in bulk. Given their ids, the ORM sends new objects as one prepared INSERT pipelined over
    them all (psycopg's executemany) instead of multi-row INSERT ... RETURNING statements, each
    tens of thousands of parameters long, which the driver spent seconds rewriting."""
    return list(db.session.connection().execute(sa.text(
        "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": table.name, "n": count}).scalars())


def insert_rows(table: sa.Table, rows: Iterable[dict], count: int | None = None) -> list[int]:
    """Inserts rows (all with the same keys, no id) in the session's transaction; returns their
    ids in order. For thousands of rows at once (the nightly detection's first run stores
    hundreds of thousands). PostgreSQL: ids drawn from the table's sequence, then one COPY, fed
    as `rows` are made: given `count` (how many `rows` gives), a generator is consumed while the
    server stores what it already has. A prepared INSERT per row cost 0.1 ms a row there."""
    if count is None:
        rows = list(rows)
        count = len(rows)
    if not count:
        return []
    if db.engine.dialect.name != "postgresql":
        ids: list[int] = []
        chunk: list[dict] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == 1000:
                ids += db.session.execute(table.insert().returning(table.c.id), chunk).scalars().all()
                chunk = []
        if chunk:
            ids += db.session.execute(table.insert().returning(table.c.id), chunk).scalars().all()
        return ids
    connection = db.session.connection()
    ids = next_ids(table, count)
    json_names = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
    raw = cast(psycopg.Connection, connection.connection.dbapi_connection)
    rows = iter(rows)
    first = next(rows)
    names = list(first)
    is_json = [n in json_names for n in names]
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} (id, {', '.join(names)}) FROM STDIN") as copy:
        for i, row in zip(ids, chain((first,), rows), strict=True):
            copy.write_row((i, *(json.dumps(row[n]) if j else row[n] for n, j in zip(names, is_json))))
    return ids


# SQLite has one writer at a time, and a big import holds that lock for its whole transaction:
# what a reader stores for the others (a feed's state, a page) is not worth waiting for it, when
# real writes wait the engine's 30 s (app.py).
SQLITE_CACHE_WRITE_WAIT_MS = 200


@contextmanager
def brief_sqlite_lock_wait():
    """Inside it, the session's SQLite connection waits SQLITE_CACHE_WRITE_WAIT_MS for the write
    lock instead of the engine's wait (then the write fails: the caller serves what it built
    without storing it). Set on the driver's connection, which a commit hands back to the pool,
    and set back there. No effect on PostgreSQL, whose readers and writers do not block each other."""
    connection = db.session.connection()
    sqlite = connection.connection.dbapi_connection if connection.dialect.name == "sqlite" else None
    if sqlite is None:
        yield
        return
    waits = sqlite.execute("PRAGMA busy_timeout").fetchone()[0]
    sqlite.execute(f"PRAGMA busy_timeout = {SQLITE_CACHE_WRITE_WAIT_MS}")
    try:
        yield
    finally:
        sqlite.execute(f"PRAGMA busy_timeout = {int(waits)}")


def read_without_transaction() -> None:
    """For requests that only read (feeds, public pages; a feed's state is one row, written by
    itself): on PostgreSQL their statements run in autocommit, which saves the BEGIN and ROLLBACK
    round trips of a transaction, half of what a feed poll sends. Each statement still sees every
    committed write, as in a READ COMMITTED transaction. SQLite's transactions cost no round trip."""
    # A session already in a transaction (a test's, around the request) keeps it.
    if db.session.get_bind().dialect.name == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def end_session(exception: BaseException | None = None) -> None:
    """Ends the request's session (registered by app.py, run before Flask-SQLAlchemy's own).
    When the database went away after the answer was made (a restart), the closing rollback
    fails: the answer stands, and the dead connection is dropped instead of turning it into a 500."""
    try:
        db.session.remove()
    except sa.exc.DBAPIError:
        # The scoped_session proxy has no invalidate(): ask the request's own Session.
        db.session.registry().invalidate()
        db.session.remove()
