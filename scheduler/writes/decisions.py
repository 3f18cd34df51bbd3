"""Resolving an overlap case by acting on one of its two series: cancel, move, change room, change
place, replace a person — on one date, on this date and the following ones, or on the whole
series. Each decision is the writes the API makes (`EventWrites`: cancel or move an occurrence,
split or end a series, update it), with their overlap check; the case's dates it ends are
recorded as resolved by this action, and the case with them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import utcnow
from models.actor import Actor
from models.conflicts import ConflictCase, ScheduleConflict
from models.errors import InvalidInput, NotFound
from models.events import Event
from models.operations.cases import dates_of
from scheduler.conflicts.check import Outcome
from scheduler.conflicts.detection import SERIES
from scheduler.writes import EventWrites, Resolution

SCOPES = {"date": "cette date", "following": "cette date et les suivantes", "series": "toute la série"}
ACTIONS = {"cancel": "annulée", "move": "déplacée", "room": "changée de salle", "place": "changée de lieu",
           "person": "avec une autre personne"}


@dataclass(frozen=True)
class Decision:
    """What to do, to which series of the case, on which of its dates.

    `conflict`: the date (one of the case's) for the scopes "date" and "following". The values
    the action needs: `starts_at`/`ends_at` (move one date), `start`/`end` (move a series: its
    hours), `room`, `place` (a slug, with an optional room), `replace`/`by` (person ids)."""

    event: Event
    scope: str
    action: str
    conflict: ScheduleConflict | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    start: time | None = None
    end: time | None = None
    room: str | None = None
    place: str | None = None
    replace: int | None = None
    by: int | None = None
    reason: str = ""


def recurrence_of(conflict: ScheduleConflict, event: Event) -> int:
    """The date (recurrence id) of `event` in this conflict; SERIES for a whole-series side."""
    return conflict.a_recurrence_id if conflict.a_event_id == event.id else conflict.b_recurrence_id


def live_dates(case: ConflictCase, now: datetime | None = None) -> list[ScheduleConflict]:
    """The case's dates still to decide or decided by acceptance, to come."""
    now = now or utcnow()
    return [c for c in dates_of(case) if c.status in ("open", "accepted") and c.ends_at > now]


def _check(case: ConflictCase, d: Decision) -> None:
    if d.event.id not in (case.a_event_id, case.b_event_id):
        raise NotFound("Cette série n'est pas l'une des deux séries de ce chevauchement.")
    if d.scope not in SCOPES:
        raise InvalidInput.on("scope", "Choisissez : cette date, cette date et les suivantes, ou toute la série.")
    if d.action not in ACTIONS:
        raise InvalidInput.on("action", "Action inconnue.")
    if d.scope != "series":
        if d.conflict is None or d.conflict.case_id != case.id:
            raise InvalidInput.on("conflict_id", "Choisissez une des dates de ce chevauchement.")
        if recurrence_of(d.conflict, d.event) == SERIES:
            raise InvalidInput.on("scope", "Ce chevauchement porte sur toute la série : agissez sur toute la série.")
    needs = {"room": d.room, "place": d.place, "person": d.replace is not None and d.by is not None,
             "move": (d.starts_at is not None) if d.scope == "date" else (d.start is not None and d.end is not None)}
    if d.action in needs and not needs[d.action]:
        raise InvalidInput.on(d.action, {"room": "Choisissez une salle.", "place": "Choisissez un lieu.",
                                         "person": "Choisissez la personne remplacée et celle qui la remplace.",
                                         "move": "Indiquez le jour et les heures, ou les nouvelles heures."}[d.action])


def _people_after(d: Decision, current: list[int]) -> list[int]:
    if d.replace not in current or d.by is None:
        raise InvalidInput.on("replace", "Cette personne n'est pas prévue à ces dates.")
    return [d.by if pid == d.replace else pid for pid in current if pid != d.by]


def _series_values(d: Decision) -> dict:
    if d.action == "move":
        assert d.start is not None and d.end is not None  # _check
        minutes = (datetime.combine(date.min, d.end) - datetime.combine(date.min, d.start)) // timedelta(minutes=1)
        if minutes <= 0:
            raise InvalidInput.on("end", "La fin est avant le début.")
        return {"start_time": d.start, "duration_minutes": minutes}
    if d.action == "room":
        return {"room": d.room}
    if d.action == "place":
        return {"place": d.place, "room": d.room or None}
    if d.action == "person":
        return {"people": _people_after(d, [p.id for p in d.event.people])}
    return {"status": "cancelled"}


def _on_one_date(writes: EventWrites, d: Decision) -> None:
    assert d.conflict is not None
    recurrence_start = datetime.fromtimestamp(recurrence_of(d.conflict, d.event), UTC)
    if d.action == "cancel":
        writes.cancel_occurrence(d.event, recurrence_start, d.reason)
        return
    move: dict = {}
    if d.action == "move":
        move = {"starts_at": d.starts_at, "ends_at": d.ends_at}
    elif d.action == "room":
        move = {"room": d.room}
    elif d.action == "place":
        move = {"place": d.place, "room": d.room or ""}
    else:
        side = "a" if d.conflict.a_event_id == d.event.id else "b"
        seen = (d.conflict.details or {}).get(side, {})
        current = seen.get("person_ids") or [p.id for p in d.event.people]
        move = {"person_ids": _people_after(d, list(current))}
    writes.move_occurrence(d.event, recurrence_start, reason=d.reason, **move)


def decide(actor: Actor, case: ConflictCase, d: Decision, now: datetime | None = None) -> Outcome:
    """Applies the decision and checks it; the case's dates it ends are resolved by it. Raises the
    write's refusal (nothing may be committed) as the API does."""
    _check(case, d)
    now = now or utcnow()
    live = live_dates(case, now)
    zone = ZoneInfo(d.event.timezone)
    if d.scope == "date":
        assert d.conflict is not None
        resolving = [d.conflict]
    elif d.scope == "following":
        assert d.conflict is not None
        resolving = [c for c in live if c.starts_at >= d.conflict.starts_at]
    else:
        resolving = live
    label = f"« {d.event.title} » {ACTIONS[d.action]} ({SCOPES[d.scope]})" + (f" : {d.reason}" if d.reason else ".")
    writes = EventWrites(actor, resolution=Resolution(label, frozenset(c.id for c in resolving)), now=now)
    if d.scope == "date":
        _on_one_date(writes, d)
    else:
        from_date = None
        if d.scope == "following":
            assert d.conflict is not None
            from_date = datetime.fromtimestamp(recurrence_of(d.conflict, d.event), zone).date()
        if from_date is None or from_date <= d.event.start_date:
            writes.update(d.event, _series_values(d))
        elif d.action == "cancel":
            writes.end_series(d.event, from_date)
        else:
            writes.split(d.event, from_date, _series_values(d))
    outcomes = writes.finish()
    return outcomes.get(d.event.id, Outcome())
