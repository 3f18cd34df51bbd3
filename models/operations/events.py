"""Looking events up. Their writes go through `scheduler.writes`, the one write path."""
from __future__ import annotations

from models.base import db
from models.errors import NotFound
from models.events import Event


def event_by_id(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(f"Événement inconnu : {event_id}.")
    return event
