"""Who sees and acts on a conflict, the lists a user may read, and a conflict's lifecycle
(status, history, notices). Detection (what is true now) lives in `scheduler.conflicts`."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from models.actor import Actor
from models.audit import AuditEntry
from models.base import db, insert_rows, utcnow
from models.conflicts import ConflictCase, ConflictNotice, ScheduleConflict
from models.errors import NotFound
from models.events import Event, event_organisers
from models.operations.audit import record
from models.partners import Partner
from models.territory import Place, Quartier
from models.users import User

# --- who sees and acts on a conflict ---------------------------------------------------------

def _partner_ids(conflict: ScheduleConflict | ConflictCase) -> set[int]:
    return {p.id for e in conflict.events for p in e.organisers}


def can_see_conflict(user, conflict: ScheduleConflict) -> bool:
    """Coordinators: either side in their territory. Editors: their partner organises a side."""
    if user.is_coordinator:
        return any(e.place is not None and user.covers_place(e.place) for e in conflict.events)
    return user.partner_id is not None and user.partner_id in _partner_ids(conflict)


def can_act_on_conflict(user, conflict: ScheduleConflict) -> bool:
    return can_see_conflict(user, conflict)


def conflicts_query(user, status: str | None = None, kind: str | None = None, quartier: str | None = None,
                    partner: str | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> sa.Select:
    """The conflicts this user may see, filtered; hard first, then by date."""
    ea, eb = aliased(Event), aliased(Event)
    pa, pb = aliased(Place), aliased(Place)
    q = (sa.select(ScheduleConflict)
         .join(ea, ScheduleConflict.a_event_id == ea.id).join(eb, ScheduleConflict.b_event_id == eb.id)
         .join(pa, ea.place_id == pa.id).join(pb, eb.place_id == pb.id))
    if user.is_coordinator:
        territory = user.territory_quartier_ids
        if territory:
            # A place in no quartier is national (User.covers_place): either series in the territory.
            q = q.where(sa.or_(pa.quartier_id.in_(territory), pb.quartier_id.in_(territory)))
    else:
        q = q.where(_organised_by(user.partner_id or -1))
    if status:
        q = q.where(ScheduleConflict.status == status)
    if kind:
        q = q.where(ScheduleConflict.kind == kind)
    if quartier:
        ids = sa.select(Quartier.id).where(Quartier.code == quartier).scalar_subquery()
        q = q.where(sa.or_(pa.quartier_id == ids, pb.quartier_id == ids))
    if partner:
        ids = sa.select(Partner.id).where(Partner.slug == partner).scalar_subquery()
        q = q.where(_organised_by(ids))
    if start is not None:
        q = q.where(ScheduleConflict.ends_at > start)
    if end is not None:
        q = q.where(ScheduleConflict.starts_at < end)
    severity_order = sa.case((ScheduleConflict.severity == "hard", 0), else_=1)
    return q.order_by(severity_order, ScheduleConflict.starts_at, ScheduleConflict.id)


def _organised_by(partner_id):
    organised = sa.select(event_organisers.c.event_id).where(event_organisers.c.partner_id == partner_id)
    return sa.or_(ScheduleConflict.a_event_id.in_(organised), ScheduleConflict.b_event_id.in_(organised))


def with_sides_loaded(conflicts: list[ScheduleConflict]) -> list[ScheduleConflict]:
    """The conflicts with both sides' events, organisers and places loaded in a few queries: a
    write answers with all the conflicts it touched, and its commit has expired every one of
    them (one query each, then each event's, otherwise)."""
    if not conflicts:
        return conflicts
    # Read without loading the expired row; every conflict here is in the database, so has one.
    ids = [identity[0] for c in conflicts if (identity := sa.inspect(c).identity)]
    sides = [selectinload(side).options(selectinload(Event.organisers),
                                               selectinload(Event.place))
             for side in (ScheduleConflict.a_event, ScheduleConflict.b_event)]
    db.session.scalars(sa.select(ScheduleConflict).where(ScheduleConflict.id.in_(ids))
                       .options(*sides, selectinload(ScheduleConflict.decided_by))
                       .execution_options(populate_existing=True)).all()
    return conflicts


def conflict_for(user, conflict_id: int) -> ScheduleConflict:
    conflict = db.session.get(ScheduleConflict, conflict_id)
    if conflict is None or not can_see_conflict(user, conflict):
        raise NotFound(f"Chevauchement inconnu : {conflict_id}.")
    return conflict


# --- lifecycle ------------------------------------------------------------------------------

def _coordinators_of(conflict: ScheduleConflict | ConflictCase, coordinators=None) -> list:
    if coordinators is None:
        coordinators = list(db.session.scalars(sa.select(User).where(
            User.role == "coordinator", User.is_active_account.is_(True))))
    return _covering(coordinators, [e.place for e in conflict.events])


def _covering(coordinators: list, places: list) -> list:
    return [u for u in coordinators if any(p is not None and u.covers_place(p) for p in places)]


def add_notices(case: ConflictCase, change: str, coordinators=None) -> None:
    """Who must be told of a change of a case: the organising partners of both series and the
    coordinators of their places. One notice per case and recipient, however many dates."""
    for partner_id in sorted(_partner_ids(case)):
        db.session.add(ConflictNotice(case_id=case.id, change=change, partner_id=partner_id))
    for user in _coordinators_of(case, coordinators):
        db.session.add(ConflictNotice(case_id=case.id, change=change, user_id=user.id))


def add_notices_in_bulk(changes: list[tuple[int, int, int, str]], coordinators: Callable[[], list]) -> None:
    """`add_notices` for many cases not loaded as objects, the same rows inserted in bulk
    (`insert_rows`): `changes` are (case id, a event id, b event id, change); `coordinators()` is called only if
    there is a notice to record. Organisers and places are read in a few queries."""
    if not changes:
        return
    event_ids = sorted({i for _, a, b, _ in changes for i in (a, b)})
    organisers: dict[int, set[int]] = {}
    place_of: dict[int, int] = {}
    for i in range(0, len(event_ids), 5000):
        chunk = event_ids[i:i + 5000]
        o = event_organisers.c
        for event, partner in db.session.execute(sa.select(o.event_id, o.partner_id).where(o.event_id.in_(chunk))):
            organisers.setdefault(event, set()).add(partner)
        for event, place in db.session.execute(sa.select(Event.id, Event.place_id).where(Event.id.in_(chunk))):
            place_of[event] = place
    users = coordinators()
    places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_(set(place_of.values())))
                                                  .options(selectinload(Place.quartier)))} if users else {}
    now = utcnow()
    rows = []
    for case_id, a, b, change in changes:
        series = (a,) if a == b else (a, b)
        for partner_id in sorted(set().union(*(organisers.get(e, ()) for e in series))):
            rows.append({"case_id": case_id, "change": change, "partner_id": partner_id, "user_id": None})
        for user in _covering(users, [places.get(place_of[e]) for e in series]) if users else ():
            rows.append({"case_id": case_id, "change": change, "partner_id": None, "user_id": user.id})
    insert_rows(cast(sa.Table, ConflictNotice.__table__), ({**r, "created_at": now, "conflict_id": None,
                                                            "sent_at": None} for r in rows), len(rows))


def set_status(actor: Actor | None, conflict: ScheduleConflict, status: str, action: str, reason: str = "") -> None:
    """Moves a conflict (one date of a case) along its lifecycle, with its history; the notices
    are the case's (`scheduler.conflicts.cases.refresh_cases`)."""
    before = conflict.status
    conflict.status = status
    conflict.updated_at = utcnow()
    if status in ("open",):
        conflict.closed_at = None
        conflict.accepted_signature = None
    elif status in ("resolved", "closed"):
        conflict.closed_at = utcnow()
    if status in ("accepted", "resolved"):
        conflict.decided_by_id = getattr(actor, "id", None)
        conflict.decided_at = utcnow()
        conflict.reason = reason
    record(actor, action, conflict, {"status": [before, status], **({"reason": [None, reason]} if reason else {})})


# Columns of a ScheduleConflict that `open_in_bulk` copies from the records it is given.
_OPENED_COLUMNS = ("kind", "severity", "case_id", "a_event_id", "a_recurrence_id", "b_event_id", "b_recurrence_id",
                   "subject", "starts_at", "ends_at", "details", "signature")


def open_in_bulk(actor: Actor | None, conflicts: list[ScheduleConflict]) -> list[ScheduleConflict]:
    """New dates (transient records, their case given) stored open with their history line, as
    `set_status` would, in two multi-row INSERTs: an import of parallel series opens thousands of
    them at once, and one unit-of-work insert per record cost 2 ms each. Returns the stored
    records (in the session), in the order given."""
    if not conflicts:
        return []
    now = utcnow()
    rows = [{**{name: getattr(c, name) for name in _OPENED_COLUMNS}, "status": "open", "opened_at": now,
             "updated_at": now, "reason": ""} for c in conflicts]
    stored = list(db.session.scalars(
        sa.insert(ScheduleConflict).returning(ScheduleConflict, sort_by_parameter_order=True), rows))
    db.session.execute(sa.insert(AuditEntry), [
        {"user_id": getattr(actor, "id", None), "action": "open", "entity_type": ScheduleConflict.__tablename__,
         "entity_id": c.id, "changes": {"status": ["open", "open"]}} for c in stored])
    return stored


def close_in_bulk(actor: Actor | None, conflicts: list[ScheduleConflict]) -> None:
    """Dates no longer true, closed as `set_status` closes one, their history lines written in one
    multi-row INSERT: deleting a series with thousands of overlaps closes them all at once."""
    if not conflicts:
        return
    now = utcnow()
    before = [c.status for c in conflicts]
    for c in conflicts:
        c.status, c.updated_at, c.closed_at = "closed", now, now
    db.session.execute(sa.insert(AuditEntry), [
        {"user_id": getattr(actor, "id", None), "action": "close", "entity_type": ScheduleConflict.__tablename__,
         "entity_id": c.id, "changes": {"status": [status, "closed"]}}
        for c, status in zip(conflicts, before, strict=True)])


def conflicts_of_event(event_id: int) -> sa.Select:
    return sa.select(ScheduleConflict.id).where(sa.or_(ScheduleConflict.a_event_id == event_id,
                                                       ScheduleConflict.b_event_id == event_id))


def cases_of_event(event_id: int) -> sa.Select:
    return sa.select(ConflictCase.id).where(sa.or_(ConflictCase.a_event_id == event_id,
                                                   ConflictCase.b_event_id == event_id))


def delete_conflicts_of(event_id: int) -> None:
    """Deletes the records of an event's conflicts and cases and their notices, as the event is
    deleted: the foreign keys would cascade where they are enforced, and must not leave rows
    pointing at nothing where they are not. Their history stays in the audit log."""
    ids = list(db.session.scalars(conflicts_of_event(event_id)))
    case_ids = list(db.session.scalars(cases_of_event(event_id)))
    if ids:
        db.session.execute(sa.delete(ConflictNotice).where(ConflictNotice.conflict_id.in_(ids))
                           .execution_options(synchronize_session="fetch"))
        db.session.execute(sa.delete(ScheduleConflict).where(ScheduleConflict.id.in_(ids))
                           .execution_options(synchronize_session="fetch"))
    if case_ids:
        db.session.execute(sa.delete(ConflictNotice).where(ConflictNotice.case_id.in_(case_ids))
                           .execution_options(synchronize_session="fetch"))
        db.session.execute(sa.update(ScheduleConflict).where(ScheduleConflict.case_id.in_(case_ids))
                           .values(case_id=None).execution_options(synchronize_session="fetch"))
        db.session.execute(sa.delete(ConflictCase).where(ConflictCase.id.in_(case_ids))
                           .execution_options(synchronize_session="fetch"))
