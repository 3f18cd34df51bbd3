"""Writes that need the time model: they check against the rule before the models change, keep
the exceptions of a series with their dates when its rule changes, and record the notices the
people concerned get (the clock sends them within a minute).

The API, the pages, imports and syncs call these for events; plain data writes go to `models`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from models import db, utcnow
from models import events as event_ops
from models.conflicts import conflicts_of_event, delete_conflicts_of
from models.errors import InvalidInput, NotFound
from scheduler.conflicts.check import check_event
from scheduler.notifications.notices import (
    EventBefore,
    notify_event_change,
    notify_occurrence_change,
    record_conflict_notices,
)
from scheduler.time.recurrence import carried_over, epoch, gives_occurrence, rule_of


def _require_occurrence(event, recurrence_start: datetime) -> None:
    if recurrence_start.tzinfo is None:
        raise InvalidInput("Indiquez l'heure de l'occurrence avec son décalage (ISO 8601).",
                           {"recurrence_start": ["Heure sans décalage horaire."]})
    if not gives_occurrence(rule_of(event), epoch(recurrence_start)):
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


def update_event(actor, event, values: dict, before: EventBefore | None = None) -> dict:
    """Edits the whole series. When its rule changes, each cancelled or moved occurrence follows
    its date to the new rule (`scheduler.time.recurrence.carried_over`); one whose date the new rule
    no longer gives is removed, which the audit record of the write says. Whoever is concerned
    by what changes in the coming weeks gets one notice, unless the caller took `before` itself
    (an import changes exceptions too, then tells once)."""
    told_by_caller = before is not None
    before = before or EventBefore.of(event)
    old_rule = rule_of(event)

    def exceptions_after(changed) -> dict:
        keys = carried_over(old_rule, rule_of(changed), [epoch(x.recurrence_start) for x in changed.exceptions])
        return {x: None if (key := keys[epoch(x.recurrence_start)]) is None
                else datetime.fromtimestamp(key, timezone.utc) for x in changed.exceptions}

    changes = event_ops.update_event(actor, event, values, exceptions_after)
    if "exceptions_removed" in changes:
        before.removed += changes["exceptions_removed"][0]
    if changes and not told_by_caller:
        notify_event_change(before, event)
    return changes


def delete_event(actor, event, now: datetime | None = None) -> None:
    """Deletes an event. First what must outlive its rows: its conflicts close through their
    lifecycle (history, notices to the partners and coordinators, turned into deliveries now
    that carry what they say), and whoever expected its coming occurrences is told; then its
    conflict records go with it."""
    actor.require(actor.can_edit_event(event))
    now = now or utcnow()
    before = EventBefore.of(event)
    check_event(event, actor, now=now, deleting=True)
    record_conflict_notices(now, list(db.session.scalars(conflicts_of_event(event.id))),
                            note=f"« {event.title} » a été retiré du calendrier.")
    notify_event_change(before, None, now)
    delete_conflicts_of(event.id)
    event_ops.delete_event(actor, event)
