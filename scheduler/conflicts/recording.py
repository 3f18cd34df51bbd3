"""New conflicts recorded in bulk, as `reconcile` records them one by one: their cases (found or
created), the rows, their history line, the cases counted again and the notices of those that
open. For the nightly run (hundreds of thousands of dates on its first night) and any caller
that opens many dates at once: no object per date, a few statements per batch.
On PostgreSQL rows go in with COPY (`models.base.insert_rows`)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa

from models import db, utcnow
from models.actor import Actor
from models.audit import AuditEntry
from models.base import insert_rows
from models.conflicts import ConflictCase, ScheduleConflict, severity_of
from models.operations.cases import new_cases_in_bulk, recount_in_bulk, refresh_cases
from scheduler.conflicts.detection import Found

LOOKUP_CHUNK = 1000  # ids per IN (...)


def case_identity(f: Found) -> tuple[str, int, int]:
    """As ScheduleConflict.case_identity: a capacity overlap is the case of the series too many."""
    if f.kind == "capacity":
        excess = f.info.get("excess_event_id") or f.b[0]
        return (f.kind, excess, excess)
    return (f.kind, f.a[0], f.b[0])


def insert_new(new: Iterable[Found], actor: Actor | None) -> list[int]:
    """Stores these conflicts (none of them stored yet) open, with their history line ("open",
    as `set_status` writes it), in their cases; returns their ids in order. A case accepted whole
    accepts its new dates (the rule of `refresh_cases`, on those few); the others are counted
    again and told of as `recount` does, the new ones as they are created."""
    new = list(new)
    if not new:
        return []
    now = utcnow()
    dates: dict[tuple[str, int, int], list[tuple[datetime, datetime]]] = {}
    for f in new:
        dates.setdefault(case_identity(f), []).append(
            (datetime.fromtimestamp(f.starts_at, UTC), datetime.fromtimestamp(f.ends_at, UTC)))
    # Cases stored already are counted again once their new dates are in; the others go in
    # counted from these dates (a first nightly run creates tens of thousands).
    cases = _stored_cases(set(dates))
    stored = set(cases.values())
    missing = sorted(dates.keys() - cases.keys())
    cases.update(zip(missing, new_cases_in_bulk({i: dates[i] for i in missing}, now), strict=True))
    del dates
    severities = {kind: severity_of(kind) for kind in {f.kind for f in new}}
    # Made while the COPY runs: the server stores a row as the next one is made.
    rows = ({"kind": f.kind, "severity": severities[f.kind], "status": "open", "case_id": cases[case_identity(f)],
             "a_event_id": f.x.event_id, "a_recurrence_id": f.x.recurrence_id, "b_event_id": f.y.event_id,
             "b_recurrence_id": f.y.recurrence_id, "subject": f.subject,
             "starts_at": datetime.fromtimestamp(f.starts_at, UTC), "ends_at": datetime.fromtimestamp(f.ends_at, UTC),
             "details": f.details, "signature": f.signature, "accepted_signature": None, "reason": "",
             "opened_at": now, "closed_at": None, "updated_at": now} for f in new)
    ids = insert_rows(cast(sa.Table, ScheduleConflict.__table__), rows, len(new))
    user_id = getattr(actor, "id", None)
    insert_rows(cast(sa.Table, AuditEntry.__table__), (
        {"at": now, "user_id": user_id, "action": "open", "entity_type": "conflicts", "entity_id": i,
         "changes": {"status": ["open", "open"]}} for i in ids), len(ids))
    accepted: set[int] = set()
    for chunk in _chunks(stored):
        accepted.update(db.session.scalars(sa.select(ConflictCase.id).where(
            ConflictCase.id.in_(chunk), ConflictCase.accepted_versions.is_not(None))))
    if accepted:
        refresh_cases(db.session.scalars(sa.select(ScheduleConflict).where(
            ScheduleConflict.id.in_(ids), ScheduleConflict.case_id.in_(accepted))), actor)
    recount_in_bulk(stored - accepted, now)
    return ids


def cases_for(identities: set[tuple[str, int, int]], now: datetime) -> dict[tuple, int]:
    """case identity -> case id, creating the missing cases ("new": counting them opens them)."""
    found = _stored_cases(identities)
    missing = sorted(identities - found.keys())
    ids = insert_rows(cast(sa.Table, ConflictCase.__table__), [
        {"kind": k, "severity": severity_of(k), "status": "new", "a_event_id": a, "b_event_id": b, "open_count": 0,
         "accepted_count": 0, "ended_count": 0, "reason": "", "opened_at": now, "updated_at": now}
        for k, a, b in missing])
    found.update(zip(missing, ids, strict=True))
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


def _stored_cases(identities: set[tuple[str, int, int]]) -> dict[tuple, int]:
    """case identity -> case id, of those stored."""
    found: dict[tuple, int] = {}
    for chunk in _chunks({i[1] for i in identities}):
        for case_id, kind, a, b in db.session.execute(
                sa.select(ConflictCase.id, ConflictCase.kind, ConflictCase.a_event_id, ConflictCase.b_event_id)
                .where(ConflictCase.a_event_id.in_(chunk))):
            if (kind, a, b) in identities:
                found[(kind, a, b)] = case_id
    return found


def _chunks(ids: Iterable[int]):
    ordered = sorted(ids)
    for i in range(0, len(ordered), LOOKUP_CHUNK):
        yield ordered[i:i + LOOKUP_CHUNK]
