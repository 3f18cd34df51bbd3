"""Writes that need the time model: they check against the rule before the models change.

The API and the pages call these for events; plain data writes go to `models` directly.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from models import db
from models import events as event_ops
from models.errors import InvalidInput, NotFound
from scheduler.recurrence import _epoch, gives_occurrence, rule_of
from scheduler.reminders import notify_occurrence_change


def _require_occurrence(event, recurrence_start: datetime) -> None:
    if recurrence_start.tzinfo is None:
        raise InvalidInput("Indiquez l'heure de l'occurrence avec son décalage (ISO 8601).",
                           {"recurrence_start": ["Heure sans décalage horaire."]})
    if not gives_occurrence(rule_of(event), _epoch(recurrence_start)):
        raise NotFound("Cet événement n'a pas d'occurrence à cette date et cette heure.")


def cancel_occurrence(actor, event, recurrence_start: datetime, reason: str = ""):
    _require_occurrence(event, recurrence_start)
    exception = event_ops.set_occurrence_exception(
        actor, event, recurrence_start, {"is_cancelled": True, "reason": reason}, "cancel_occurrence")
    notify_occurrence_change(event, recurrence_start)
    return exception


def move_occurrence(actor, event, recurrence_start: datetime, *, starts_at: datetime | None = None,
                    ends_at: datetime | None = None, place: str | None = None, room: str | None = None,
                    person_ids: list[int] | None = None, reason: str = ""):
    """Moves one occurrence in time, place, room or people; the others stay as the rule says."""
    _require_occurrence(event, recurrence_start)
    existing = event_ops.exception_for(event, recurrence_start)
    values: dict = {"is_cancelled": False, "reason": reason}
    start = starts_at or (existing.starts_at if existing and existing.starts_at else recurrence_start)
    if starts_at is not None:
        values["starts_at"] = starts_at
    if ends_at is not None:
        if ends_at <= start:
            raise InvalidInput("La fin est avant le début.", {"ends_at": ["La fin est avant le début."]})
        values["duration_minutes"] = int((ends_at - start) / timedelta(minutes=1))
    if place is not None:
        values["place"] = place
    if room is not None:
        values["room"] = room
    if person_ids is not None:
        values["person_ids"] = person_ids
    if len(values) == 2:
        raise InvalidInput("Indiquez ce qui change : horaire, lieu, salle ou personnes.")
    exception = event_ops.set_occurrence_exception(actor, event, recurrence_start, values, "move_occurrence")
    notify_occurrence_change(event, recurrence_start)
    return exception


def restore_occurrence(actor, event, recurrence_start: datetime) -> None:
    event_ops.restore_occurrence(actor, event, recurrence_start)


def update_event(actor, event, values: dict) -> dict:
    """Edits the series; exceptions to dates the new rule no longer gives are dropped (and kept
    in the history)."""
    changes = event_ops.update_event(actor, event, values)
    if changes.keys() & set(event_ops.TIMING_FIELDS):
        rule = rule_of(event)
        for exception in list(event.exceptions):
            if not gives_occurrence(rule, _epoch(exception.recurrence_start)):
                event.exceptions.remove(exception)
        db.session.flush()
    return changes
