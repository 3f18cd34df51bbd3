"""Keep and restore: the whole calendar as one JSON document, and back into an empty database.

Tables come from the metadata (`sorted_tables`, parents before children), not from a hand-made
list, so a table added by a later feature is kept without anyone remembering to add it here.
Rows keep their ids, so references, audit history and feed ETags survive the trip unchanged;
hashed secrets (passwords, API and feed tokens) are kept as hashes, which is all we ever store.
"""
from __future__ import annotations

import base64
import importlib
import pkgutil
import sqlite3
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

import models
from models.base import db
from models.errors import InvalidInput

FORMAT = "maillage-export"
FORMAT_VERSION = 1


def _load_every_model() -> None:
    """Import every module of `models`, so that the metadata knows every table."""
    for module in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"models.{module.name}")


def _tables() -> list[sa.Table]:
    _load_every_model()
    return list(db.metadata.sorted_tables)


def _python_type(column: sa.Column):
    kind = column.type
    if isinstance(kind, sa.types.TypeDecorator):  # UTCDateTime says `object`; its impl knows better
        kind = kind.impl_instance
    try:
        return kind.python_type
    except NotImplementedError:
        return None


def _to_json(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return value


def _from_json(column: sa.Column, value: Any) -> Any:
    if value is None:
        return None
    kind = _python_type(column)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is time:
        return time.fromisoformat(value)
    if kind is timedelta:
        return timedelta(seconds=value)
    if kind is Decimal:
        return Decimal(value)
    if kind is bytes:
        return base64.b64decode(value)
    return value


def schema_revision(connection) -> str | None:
    """The Alembic revision of the database (None if it was not built by the migrations)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def snapshot_connection() -> sa.Connection:
    """The session's connection, reading the whole database as it was at one moment, whatever
    is committed meanwhile: otherwise, table after table, an export taken while the service runs
    holds rows whose parents were written after their table was read (an `event_organisers` row
    without its event), and the import stops on the foreign key. PostgreSQL: a REPEATABLE READ,
    read-only transaction (one snapshot, taken at the first read; writers are not held back).
    SQLite: one read transaction (the driver opens none for reads, so each SELECT would be a
    moment of its own); in its rollback-journal mode, writers wait for the export to end (up to
    the engine's 30 s), as they wait for any long transaction. The caller ends it (rollback).
    Within a transaction the session already has (a test's), that transaction is read."""
    if db.session.get_bind().dialect.name == "postgresql":
        if db.session().in_transaction():
            return db.session.connection()
        return db.session.connection(execution_options={"isolation_level": "REPEATABLE READ",
                                                        "postgresql_readonly": True})
    connection = db.session.connection()
    driver = connection.connection.dbapi_connection
    if isinstance(driver, sqlite3.Connection) and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN")
    return connection


def export_calendar() -> dict:
    """Every row of every table, ordered by primary key, in one snapshot (`snapshot_connection`):
    two exports of the same data are equal, and an export taken during writes restores."""
    connection = snapshot_connection()
    tables = {}
    for table in _tables():
        columns = [c.name for c in table.columns]
        order = list(table.primary_key.columns) or list(table.columns)
        rows = connection.execute(sa.select(*table.columns).order_by(*order))
        tables[table.name] = {"columns": columns, "rows": [[_to_json(v) for v in row] for row in rows]}
    return {"format": FORMAT, "version": FORMAT_VERSION, "schema_revision": schema_revision(connection),
            "tables": tables}


def _check_document(data: Any, tables: list[sa.Table], revision: str | None) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput("Ce fichier n'est pas un export de Maillage.")
    if data.get("version") != FORMAT_VERSION:
        raise InvalidInput(f"Version d'export non prise en charge : {data.get('version')!r} "
                           f"(celle-ci lit la version {FORMAT_VERSION}).")
    if data.get("schema_revision") != revision:
        raise InvalidInput(f"L'export vient d'une base au schéma « {data.get('schema_revision')} » et celle-ci est "
                           f"au schéma « {revision} » : mettez les deux au même niveau (flask db upgrade).")
    known = {t.name: t for t in tables}
    content = data.get("tables")
    if not isinstance(content, dict):
        raise InvalidInput("Export incomplet : la liste des tables manque.")
    unknown, missing = sorted(set(content) - set(known)), sorted(set(known) - set(content))
    if unknown or missing:
        raise InvalidInput("L'export ne correspond pas aux tables de cette base"
                           + (f" ; inconnues : {', '.join(unknown)}" if unknown else "")
                           + (f" ; absentes : {', '.join(missing)}" if missing else "") + ".")
    for name, part in content.items():
        expected = [c.name for c in known[name].columns]
        if not isinstance(part, dict) or part.get("columns") != expected or not isinstance(part.get("rows"), list):
            raise InvalidInput(f"Table « {name} » : colonnes ou lignes différentes de celles de cette base.")
        if any(not isinstance(row, list) or len(row) != len(expected) for row in part["rows"]):
            raise InvalidInput(f"Table « {name} » : une ligne n'a pas le bon nombre de valeurs.")


def _seeded(table: sa.Table) -> bool:
    """Tables whose rows `flask db upgrade` writes itself (marked in their model): a new database
    already has them, and the import replaces them."""
    return bool(table.info.get("seeded_by_migrations"))


def _refuse_non_empty(connection, tables: list[sa.Table]) -> None:
    for table in tables:
        if _seeded(table):
            continue
        count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        if count:
            raise InvalidInput(f"La base n'est pas vide (table « {table.name} » : {count} ligne(s)). "
                               "L'import se fait dans une base neuve : créez-la, lancez `flask db upgrade`, "
                               "puis importez.")


def _restart_sequences(connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: ids were given explicitly, so move each sequence past the largest one."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (column.autoincrement == "auto" and _python_type(column) is int
                                                and len(table.primary_key.columns) == 1):
                connection.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false) "
                    f"WHERE pg_get_serial_sequence(:table, :column) IS NOT NULL"),
                    {"table": table.name, "column": column.name})


def import_calendar(data: Any) -> dict[str, int]:
    """Restores an export into an empty database; the caller commits (all or nothing).
    Returns the number of rows per table."""
    connection = db.session.connection()
    tables = _tables()
    _check_document(data, tables, schema_revision(connection))
    _refuse_non_empty(connection, tables)
    counts = {}
    for table in tables:  # parents first
        part = data["tables"][table.name]
        columns = [table.columns[name] for name in part["columns"]]
        rows = [{c.key: _from_json(c, v) for c, v in zip(columns, row)} for row in part["rows"]]
        if _seeded(table):
            connection.execute(table.delete())
        if rows:
            connection.execute(table.insert(), rows)
        counts[table.name] = len(rows)
    _restart_sequences(connection, tables)
    return counts
