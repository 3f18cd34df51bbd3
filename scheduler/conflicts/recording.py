"""Overlaps recorded in bulk, without one ORM object per date: the nightly run
(`scheduler.conflicts.nightly`) and an import's check of the series it creates
(`scheduler.conflicts.check.check_new_events`) both find thousands at once; one unit-of-work insert per record,
its history line and its case cost about 2 ms each.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import Event, db, utcnow
from models.actor import Actor
from models.audit import AuditEntry
from models.conflicts import ConflictCase, ScheduleConflict, severity_of
from models.operations.cases import recount, refresh_cases
from scheduler.conflicts.detection import Found

LOOKUP_CHUNK = 1000  # identities per lookup (5 parameters each), rows per insert


def case_identity(f: Found) -> tuple[str, int, int]:
    """As ScheduleConflict.case_identity: a capacity overlap is the case of the series too many."""
    if f.kind == "capacity":
        excess = f.info.get("excess_event_id") or f.b[0]
        return (f.kind, excess, excess)
    return (f.kind, f.a[0], f.b[0])


def insert_new(new: list[Found], actor: Actor | None) -> list[int]:
    """New conflicts in bulk: their cases (found or created as `refresh_cases` would), the rows,
    their history line ("open", as `set_status` writes it), then the cases counted again."""
    now = utcnow()
    cases = cases_for({case_identity(f) for f in new}, now)
    rows = [{"kind": f.kind, "severity": severity_of(f.kind), "status": "open", "case_id": cases[case_identity(f)],
             "a_event_id": f.a[0], "a_recurrence_id": f.a[1], "b_event_id": f.b[0], "b_recurrence_id": f.b[1],
             "subject": f.subject, "starts_at": datetime.fromtimestamp(f.starts_at, UTC),
             "ends_at": datetime.fromtimestamp(f.ends_at, UTC), "details": f.details, "signature": f.signature,
             "accepted_signature": None, "reason": "", "opened_at": now, "closed_at": None, "updated_at": now}
            for f in new]
    ids = insert_rows(cast(sa.Table, ScheduleConflict.__table__), rows)
    user_id = getattr(actor, "id", None)
    insert_rows(cast(sa.Table, AuditEntry.__table__), [
        {"at": now, "user_id": user_id, "action": "open", "entity_type": "conflicts", "entity_id": i,
         "changes": {"status": ["open", "open"]}} for i in ids])
    # Who is told of a case that opens: its series' organisers and places, loaded with the cases.
    sides = [selectinload(side).options(selectinload(Event.organisers), selectinload(Event.place))
             for side in (ConflictCase.a_event, ConflictCase.b_event)]
    touched = {case.id: case for case in db.session.scalars(
        sa.select(ConflictCase).where(ConflictCase.id.in_(set(cases.values()))).options(*sides))}
    # A case accepted whole accepts its new dates: the rule of refresh_cases, on those few.
    accepted = [i for i, case in touched.items() if case.accepted_versions is not None]
    if accepted:
        refresh_cases(db.session.scalars(sa.select(ScheduleConflict).where(
            ScheduleConflict.id.in_(ids), ScheduleConflict.case_id.in_(accepted))), actor)
    recount({i: case for i, case in touched.items() if i not in accepted}, now, actor=actor)
    return ids


def insert_rows(table: sa.Table, rows: list[dict]) -> list[int]:
    """Inserts the rows; returns their ids in order. On PostgreSQL the ids are drawn from the
    table's sequence first and the rows go in one prepared statement sent many times (psycopg's
    pipeline): a multi-row VALUES of thousands of parameters costs more to build and parse
    client-side than the database takes to store it."""
    if not rows:
        return []
    if db.engine.dialect.name != "postgresql":
        ids: list[int] = []
        for i in range(0, len(rows), LOOKUP_CHUNK):
            ids += db.session.execute(table.insert().returning(table.c.id), rows[i:i + LOOKUP_CHUNK]).scalars().all()
        return ids
    connection = db.session.connection()
    ids = list(connection.execute(sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                                          "FROM generate_series(1, :n)"), {"t": table.name, "n": len(rows)}).scalars())
    names = ["id", *rows[0]]
    json_columns = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
    values = ", ".join("%s::json" if n in json_columns else "%s" for n in names)
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({values})"
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(statement, [
            (i, *(json.dumps(r[n]) if n in json_columns else r[n] for n in names[1:])) for i, r in zip(ids, rows)])
    finally:
        cursor.close()
    return ids


def cases_for(identities: set[tuple[str, int, int]], now: datetime) -> dict[tuple, int]:
    """case identity -> case id, creating the missing cases."""
    found: dict[tuple, int] = {}
    event_ids = sorted({i[1] for i in identities})
    for i in range(0, len(event_ids), LOOKUP_CHUNK):
        for case_id, kind, a, b in db.session.execute(
                sa.select(ConflictCase.id, ConflictCase.kind, ConflictCase.a_event_id, ConflictCase.b_event_id)
                .where(ConflictCase.a_event_id.in_(event_ids[i:i + LOOKUP_CHUNK]))):
            if (kind, a, b) in identities:
                found[(kind, a, b)] = case_id
    missing = sorted(identities - found.keys())
    ids = insert_rows(cast(sa.Table, ConflictCase.__table__), [
        {"kind": k, "severity": severity_of(k), "status": "new", "a_event_id": a, "b_event_id": b, "open_count": 0,
         "accepted_count": 0, "ended_count": 0, "reason": "", "opened_at": now, "updated_at": now}
        for k, a, b in missing])
    found.update(zip(missing, ids))
    return found


def close_in_bulk_by_id(actor: Actor | None, rows: list[tuple[int, str]]) -> None:
    """Live records closed as `set_status` closes one, given as (id, status) and not loaded:
    deleting a series with thousands of overlaps closes them with a few UPDATEs and its history
    lines in one bulk insert, without one ORM object each."""
    now = utcnow()
    ids = [i for i, _ in rows]
    for start in range(0, len(ids), 5000):  # ids per IN (...): PostgreSQL takes 65,535 parameters
        db.session.execute(sa.update(ScheduleConflict).where(ScheduleConflict.id.in_(ids[start:start + 5000]))
                           .values(status="closed", updated_at=now, closed_at=now)
                           .execution_options(synchronize_session=False))
    user_id = getattr(actor, "id", None)
    insert_rows(cast(sa.Table, AuditEntry.__table__), [
        {"at": now, "user_id": user_id, "action": "close", "entity_type": "conflicts", "entity_id": i,
         "changes": {"status": [status, "closed"]}} for i, status in rows])
