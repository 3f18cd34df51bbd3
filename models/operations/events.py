"""Looking events up. Their writes go through `scheduler.writes`, the one write path."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.errors import NotFound
from models.events import Event
from models.territory import Place
from models.users import User


def event_by_id(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(f"Événement inconnu : {event_id}.")
    return event


@dataclass(frozen=True)
class ChangedEvent:
    """An event partners created or changed since some moment: what a coordinator catches up on."""

    event: Event
    at: datetime  # its latest change
    created: bool  # created in that time (else changed)
    by: list[str]  # who, by name or address


def changed_by_partners_since(actor, since: datetime, limit: int = 30) -> list[ChangedEvent]:
    """Events of the coordinator's territory (all for a national one) that partners' editors
    created or changed after `since`, latest first (deleted ones are gone from the calendar)."""
    query = (sa.select(AuditEntry, Event).join(User, User.id == AuditEntry.user_id)
             .join(Event, Event.id == AuditEntry.entity_id).join(Place, Place.id == Event.place_id)
             .where(AuditEntry.entity_type == "events", AuditEntry.at > since, User.role == "editor")
             .order_by(AuditEntry.at.desc()).limit(limit * 20))
    if actor.territory_quartier_ids:
        query = query.where(Place.quartier_id.in_(actor.territory_quartier_ids))
    found: dict[int, ChangedEvent] = {}
    for entry, event in db.session.execute(query):
        who = entry.user.name or entry.user.email
        seen = found.get(event.id)
        if seen is None:
            found[event.id] = ChangedEvent(event, entry.at, entry.action in ("create", "split"), [who])
        elif who not in seen.by:
            seen.by.append(who)
        if entry.action in ("create", "split") and seen is not None:
            found[event.id] = ChangedEvent(event, seen.at, True, seen.by)
    return list(found.values())[:limit]
