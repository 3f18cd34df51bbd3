"""The one write path of events: every write to an event or to one of its occurrences (create,
update, cancel, move, restore, delete) goes through here, from the API, the pages, the import and
the sync alike. Each write

1. changes the rows (`scheduler.writes.rows`, private to this package: rights, references and the
   wall-clock rule checked, the change audited), keeping a series' cancelled and moved
   occurrences with their dates when its rule changes;
2. checks the overlaps it opens or ends (`scheduler.conflicts.check`, the incremental check), and
   refuses the write (`HardConflictsRefused`, the caller rolls back) when a hard overlap is
   refused: under `strict`, or at a place that refuses them;
3. records the notices the people concerned get (the clock sends them within a minute).

Several writes by one actor form an `EventWrites`: each write changes its rows at once; its
`finish()` checks every event written once and tells each person once (an import of a file
writes hundreds of events and exceptions, then checks and tells). The functions at the end are
the single writes, each an `EventWrites` of one. Nothing here commits: the caller (view, CLI
command, job) commits once, or rolls everything back.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import db, utcnow
from models.actor import Actor
from models.conflicts import ScheduleConflict
from models.errors import InvalidInput, NotFound
from models.events import Event, OccurrenceException
from models.operations.conflicts import cases_of_event, delete_conflicts_of
from scheduler.conflicts.check import (
    Outcome,
    check_event,
    check_new_events,
    check_write,
    person_ids_of,
    refuse_too_many,
)
from scheduler.french import french_date
from scheduler.notifications.notices import (
    EventBefore,
    notify_event_change,
    notify_occurrence_change,
    record_conflict_notices,
)
from scheduler.reports.attendance import attendance_keys, carry_attendance, hand_over_attendance
from scheduler.time.recurrence import carried_over, epoch, expand, gives_occurrence, rule_days, rule_of
from scheduler.time.rules import OUT_OF_CALENDAR, TIMING_FIELDS, in_calendar
from scheduler.writes import rows

NewEvent = rows.NewEvent  # what `EventWrites.check_new` gives and `create_many` stores


@dataclass(frozen=True)
class Resolution:
    """A write made to resolve conflicts (from a conflict's page): the conflicts it ends are
    recorded as resolved by this action, not as closed by themselves."""

    action: str  # what was done, in French, as the conflict's history will say it
    conflict_ids: frozenset[int]


@dataclass
class Written:
    """What a write did: the event (None once deleted), the exception it set, the changes it
    recorded, and the overlaps as they now stand (those of the occurrence, for a write to one)."""

    event: Event | None
    exception: OccurrenceException | None = None
    changes: dict = field(default_factory=dict)
    outcome: Outcome = field(default_factory=Outcome)

    @property
    def conflicts(self) -> list[ScheduleConflict]:
        return self.outcome.current


@dataclass
class _Touched:
    """An event as it was when the batch first wrote to it, and what the batch did to it."""

    event: Event
    before: EventBefore | None  # None: created by this batch (nobody expected it yet)
    person_ids: set[int]  # whom it booked before (their capacity is checked again)
    whole: bool = False  # the event itself changed, not only some occurrences
    occurrences: dict[datetime, str] = field(default_factory=dict)  # recurrence start -> action


def _require_occurrence(event: Event, recurrence_start: datetime) -> None:
    if recurrence_start.tzinfo is None:
        raise InvalidInput("Indiquez l'heure de l'occurrence avec son décalage (ISO 8601).",
                           {"recurrence_start": ["Heure sans décalage horaire."]})
    if not in_calendar(recurrence_start):
        raise InvalidInput.on("recurrence_start", OUT_OF_CALENDAR)
    if not gives_occurrence(rule_of(event), epoch(recurrence_start)):
        raise NotFound("Cet événement n'a pas d'occurrence à cette date et cette heure.")


def _next_rule_date(event: Event, from_date: date, none_left: str = "La série n'a plus de date à partir de ce "
                    "jour.") -> date:
    """The series' first date on or after `from_date` (holidays included: a date of its rule)."""
    if from_date <= event.start_date:
        return event.start_date
    # A count becomes a last day in rule_days; nothing recurs less often than every 52 weeks or
    # months, so a few years past the date find its next one.
    dates = rule_days(rule_of(event), from_date.toordinal(), from_date.toordinal() + 52 * 31)
    if not dates:
        raise InvalidInput.on("from_date", none_left)
    return date.fromordinal(dates[0])


class EventWrites:
    """Writes to events by one actor, checked and told once at `finish()`.

    `strict`: every hard overlap refuses the writes (otherwise only those at places that refuse
    them). Writes that would open more than CONFLICT_MAX_OPENED overlaps in all are refused
    (TooManyConflicts), unless a coordinator says `strict=False` explicitly (None: not said).
    `refuse`: False leaves the rule to the caller, which reads `finish()`'s outcomes (the
    import locates each refusal in its file). `tell_whole_events`: a pre-existing event is told
    once as a whole, whatever was written to it (the import and the sync: a file says what the
    event now is), instead of one notice per occurrence cancelled or moved. `new_in_bulk`: the
    events this batch creates (and that book nobody) are checked together and their overlaps
    recorded in bulk (`check_new_events`, outcomes in `Outcome.opened`): an import's series."""

    def __init__(self, actor: Actor, *, strict: bool | None = None, refuse: bool = True,
                 tell_whole_events: bool = False, resolution: Resolution | None = None, now: datetime | None = None,
                 new_in_bulk: bool = False):
        self.actor = actor
        self.strict = bool(strict)
        # Only a coordinator who says so opens more overlaps than the cap (a flood of notices).
        self.uncapped = strict is False and bool(getattr(actor, "is_coordinator", False))
        self.refuse = refuse
        self.tell_whole_events = tell_whole_events
        self.new_in_bulk = new_in_bulk
        self.resolution = resolution
        self.now = now
        self._touched: dict[int, _Touched] = {}
        self._references = rows.References()  # places and partners read once for the batch

    # --- the writes --------------------------------------------------------------------------

    def _touch(self, event: Event, created: bool = False) -> _Touched:
        if event.id not in self._touched:
            self._touched[event.id] = _Touched(event, None if created else EventBefore.of(event),
                                               set() if created else person_ids_of(event), whole=created)
        return self._touched[event.id]

    def create(self, values: dict) -> Event:
        return self.create_many([self.check_new(values)])[0]

    def check_new(self, values: dict) -> rows.NewEvent:
        """A new event checked as `create` checks it (rights, references, the wall-clock rule:
        the errors name this one), not stored: `create_many` stores a list of them. Each is
        checked against what is stored, not against the others of the list."""
        return rows.new_event(self.actor, values, self._references)

    def read_ahead(self, places: Iterable[str] = (), partners: Iterable[str] = ()) -> None:
        """Reads at once the places and partners (by slug) that the coming writes name."""
        self._references.read_ahead(places, partners)

    def create_many(self, new: list[rows.NewEvent]) -> list[Event]:
        """Stores events checked by `check_new` as `create` stores one, in one flush: an import's
        thousands of events. Their history lines, overlaps and notices are those of as many
        `create`s (the overlaps at `finish()`)."""
        events = rows.insert_events(self.actor, new)
        for event in events:
            self._touch(event, created=True)
        return events

    def update(self, event: Event, values: dict) -> dict:
        """Edits the whole series; returns the changes recorded ({} when nothing changed). When its
        rule changes, each cancelled or moved occurrence follows its date to the new rule
        (`carried_over`); one whose date the new rule no longer gives is removed (the audit
        record and the notice say which)."""
        touched = self._touch(event)
        old_rule = rule_of(event)

        def exceptions_after(changed: Event) -> dict:
            keys = carried_over(old_rule, rule_of(changed), [epoch(x.recurrence_start) for x in changed.exceptions])
            return {x: None if (key := keys[epoch(x.recurrence_start)]) is None
                    else datetime.fromtimestamp(key, UTC) for x in changed.exceptions}

        changes = rows.change_event(self.actor, event, values, exceptions_after, self._references)
        if changes.keys() & set(TIMING_FIELDS):
            # People received stay with their occurrence, as its cancellation or move does.
            new_rule = rule_of(event)
            carry_attendance(event, carried_over(old_rule, new_rule, attendance_keys(event)))
        if changes:
            touched.whole = True
            if "exceptions_removed" in changes and touched.before is not None:
                touched.before.removed += changes["exceptions_removed"][0]
        return changes

    def cancel_occurrence(self, event: Event, recurrence_start: datetime, reason: str = "") -> OccurrenceException:
        _require_occurrence(event, recurrence_start)
        return self.set_exception(event, recurrence_start, {"is_cancelled": True, "reason": reason},
                                  "cancel_occurrence")

    def move_occurrence(self, event: Event, recurrence_start: datetime, *, starts_at: datetime | None = None,
                        ends_at: datetime | None = None, place: str | None = None, room: str | None = None,
                        person_ids: list[int] | None = None, reason: str = "") -> OccurrenceException:
        """Moves one occurrence in time, place, room or people; the others stay as the rule says."""
        _require_occurrence(event, recurrence_start)
        existing = rows.exception_for(event, recurrence_start)
        values: dict = {"is_cancelled": False, "reason": reason}
        start = starts_at or (existing.starts_at if existing and existing.starts_at else recurrence_start)
        if starts_at is not None:
            values["starts_at"] = starts_at
        if ends_at is not None:
            if ends_at <= start:
                raise InvalidInput.on("ends_at", "La fin est avant le début.")
            values["duration_minutes"] = int((ends_at - start) / timedelta(minutes=1))
        for name, value in (("place", place), ("room", room), ("person_ids", person_ids)):
            if value is not None:
                values[name] = value
        if len(values) == 2:
            raise InvalidInput("Indiquez ce qui change : horaire, lieu, salle ou personnes.")
        if starts_at is not None:
            self._check_new_date(event, recurrence_start, starts_at, existing)
        return self.set_exception(event, recurrence_start, values, "move_occurrence")

    def _check_new_date(self, event: Event, recurrence_start: datetime, starts_at: datetime,
                        existing: OccurrenceException | None) -> None:
        """A move goes to a day the series has free, and an occurrence still to come stays to come:
        moved into the past it would vanish from every list without anyone being told (one already
        past may be set to the day it really took place: its attendance follows it). Two
        occurrences of one series on one day read as a mistake (a move onto its own day only
        changes its hours)."""
        if not in_calendar(starts_at):  # before the day's expansion below, which cannot reach year 9999
            raise InvalidInput.on("starts_at", OUT_OF_CALENDAR)
        now = self.now or utcnow()
        current = existing.starts_at if existing is not None and existing.starts_at is not None else recurrence_start
        if starts_at < now <= current:
            raise InvalidInput.on("starts_at", "Une occurrence ne peut pas être déplacée dans le passé : "
                                               "choisissez une date à venir.")
        zone = ZoneInfo(event.timezone)
        day = starts_at.astimezone(zone).date()
        start = datetime.combine(day, time(), zone)
        same_day = [o for o in expand([rule_of(event)], start, start + timedelta(days=1))
                    if not o.is_cancelled and o.recurrence_id != epoch(recurrence_start)
                    and o.start.date() == day]
        if same_day:
            raise InvalidInput.on("starts_at", f"« {event.title} » a déjà une occurrence le {french_date(day)} : "
                                               "choisissez un autre jour.")

    def set_exception(self, event: Event, recurrence_start: datetime, values: dict, action: str) -> OccurrenceException:
        """One occurrence as `values` say (cancelled, or its start, duration, place, room,
        people): what cancel and move write, and what an import writes as its file says."""
        touched = self._touch(event)
        exception = rows.set_exception(self.actor, event, recurrence_start, values, action)
        touched.occurrences[recurrence_start] = action
        return exception

    def restore_occurrence(self, event: Event, recurrence_start: datetime) -> None:
        """Undoes a cancellation or a move: the occurrence follows the series again."""
        touched = self._touch(event)
        rows.drop_exception(self.actor, event, recurrence_start)
        touched.occurrences[recurrence_start] = "restore_occurrence"

    def split(self, event: Event, from_date: date, values: dict) -> Event:
        """"This date and the following ones": the series ends the day before its first date on
        or after `from_date` (its UID kept, with that UNTIL), and a new series (a new UID) starts
        there with `values` applied. Cancelled and moved occurrences stay on their side; both
        histories say where the split came from. Returns the new series."""
        self.actor.require(self.actor.can_edit_event(event))
        if not event.is_recurring:
            raise InvalidInput.on("from_date", "Un événement daté n'a qu'une date : modifiez-le en entier.")
        rule = rule_of(event)
        first = _next_rule_date(event, from_date)
        if first <= event.start_date:
            raise InvalidInput.on("from_date", "C'est la première date de la série : modifiez toute la série.")
        # COUNT counts the rule's dates from the start, holidays included: the second part gets
        # what the first has not used.
        remaining = None if event.count is None else \
            event.count - len(rule_days(rule, rule.start_ord, first.toordinal() - 1))
        self._touch(event)
        second = rows.split_off(self.actor, event, first, remaining)
        hand_over_attendance(event, second, first)
        self._touch(second, created=True)
        # UNTIL and COUNT may not share an RRULE (RFC 5545): the first part ends before its count.
        self.update(event, {"until": first - timedelta(days=1), "count": None})
        if values:
            self.update(second, values)
        return second

    def end_series(self, event: Event, from_date: date) -> dict:
        """"End the series from this date": no occurrence on or after `from_date` (their
        cancellations and moves go with them, as the audit record says)."""
        if not event.is_recurring:
            raise InvalidInput.on("from_date", "Un événement daté n'a qu'une date : annulez-le ou supprimez-le.")
        if from_date <= event.start_date:
            raise InvalidInput.on("from_date", "La série commence ce jour-là : annulez-la ou supprimez-la plutôt.")
        _next_rule_date(event, from_date, "La série est déjà finie à cette date.")
        # Its count ends after that date: UNTIL alone bounds it now (they may not share an RRULE).
        return self.update(event, {"until": from_date - timedelta(days=1), "count": None})

    def delete(self, event: Event) -> None:
        """Deletes an event. First what must outlive its rows: its conflicts close through their
        lifecycle (history, notices to the partners and coordinators, turned into deliveries now
        that carry what they say), and whoever expected its coming occurrences is told; then its
        conflict records go with it."""
        self.actor.require(self.actor.can_edit_event(event))
        now = self.now or utcnow()
        touched = self._touched.pop(event.id, None)
        before = touched.before if touched is not None and touched.before is not None else EventBefore.of(event)
        check_event(event, self.actor, now=now, deleting=True)
        record_conflict_notices(now, list(db.session.scalars(cases_of_event(event.id))),
                                note=f"« {event.title} » a été retiré du calendrier.")
        if touched is None or touched.before is not None:  # an event created by this batch was expected by nobody
            notify_event_change(before, None, now)
        delete_conflicts_of(event.id)
        rows.remove_event(self.actor, event)

    # --- once the writes are made ----------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        """The events written and still there, in the order of their first write."""
        return [t.event for t in self._touched.values()]

    def finish(self, progress: Callable[[str, int, int], None] | None = None) -> dict[int, Outcome]:
        """Checks the overlaps of every event written (each once, where the writes touched it) and
        records the notices; returns each event's outcome. Raises HardConflictsRefused (nothing
        may be committed) when a hard overlap is refused, unless `refuse` is off."""
        outcomes: dict[int, Outcome] = {}
        touched_all = list(self._touched.values())
        if self.new_in_bulk and not self.refuse:
            # First: the others' checks then find these new records as stored, not as new.
            new = [t.event for t in touched_all if t.before is None and not person_ids_of(t.event)]
            if new:
                if progress is not None:
                    progress("overlaps", 0, len(touched_all))
                opened = check_new_events(new, self.actor, self.now)
                outcomes.update((e.id, Outcome(opened=opened.get(e.id, []))) for e in new)
        for index, touched in enumerate(touched_all):
            if touched.event.id in outcomes:
                continue
            if progress is not None:
                progress("overlaps", index, len(touched_all))
            outcomes[touched.event.id] = self._check(touched)
        if self.refuse and not self.uncapped:
            refuse_too_many(sum(len(o.created) for o in outcomes.values()))
        for touched in touched_all:
            self._tell(touched)
        self._touched.clear()
        return outcomes

    def _check(self, touched: _Touched) -> Outcome:
        scope: dict = {"previous_person_ids": touched.person_ids, "now": self.now}
        if not touched.whole:
            scope["recurrence_ids"] = {epoch(start) for start in touched.occurrences}
        if self.resolution is not None:
            scope.update(resolved_by_action=self.resolution.action, resolving_ids=self.resolution.conflict_ids)
        if self.refuse:
            return check_write(touched.event, self.actor, strict=self.strict, **scope)
        return check_event(touched.event, self.actor, **scope)

    def _tell(self, touched: _Touched) -> None:
        if touched.before is None:
            return  # created now: nobody expected it yet (its overlaps are told by the check)
        if touched.whole or (self.tell_whole_events and touched.occurrences):
            notify_event_change(touched.before, touched.event, self.now)
            return
        for recurrence_start, action in touched.occurrences.items():
            if action != "restore_occurrence":  # a date back as planned: nobody was told otherwise
                notify_occurrence_change(touched.event, recurrence_start, self.now)


# --- single writes: each an EventWrites of one ----------------------------------------------------

def _one(actor: Actor, strict: bool | None, resolution: Resolution | None, now: datetime | None = None) -> EventWrites:
    return EventWrites(actor, strict=strict, resolution=resolution, now=now)


def create_event(actor: Actor, values: dict, *, strict: bool | None = None) -> Written:
    writes = _one(actor, strict, None)
    event = writes.create(values)
    return Written(event, outcome=writes.finish()[event.id])


def update_event(actor: Actor, event: Event, values: dict, *, strict: bool | None = None,
                 resolution: Resolution | None = None) -> Written:
    """Edits the whole series (see `EventWrites.update`)."""
    writes = _one(actor, strict, resolution)
    changes = writes.update(event, values)
    outcomes = writes.finish()
    return Written(event, changes=changes, outcome=outcomes.get(event.id, Outcome()))


def cancel_occurrence(actor: Actor, event: Event, recurrence_start: datetime, reason: str = "", *,
                      strict: bool | None = None, resolution: Resolution | None = None) -> Written:
    writes = _one(actor, strict, resolution)
    exception = writes.cancel_occurrence(event, recurrence_start, reason)
    return Written(event, exception, outcome=writes.finish()[event.id])


def move_occurrence(actor: Actor, event: Event, recurrence_start: datetime, *, strict: bool | None = None,
                    resolution: Resolution | None = None, **move) -> Written:
    """Moves one occurrence (see `EventWrites.move_occurrence` for what may move)."""
    writes = _one(actor, strict, resolution)
    exception = writes.move_occurrence(event, recurrence_start, **move)
    return Written(event, exception, outcome=writes.finish()[event.id])


def restore_occurrence(actor: Actor, event: Event, recurrence_start: datetime, *,
                       strict: bool | None = None) -> Written:
    writes = _one(actor, strict, None)
    writes.restore_occurrence(event, recurrence_start)
    return Written(event, outcome=writes.finish()[event.id])


def split_event(actor: Actor, event: Event, from_date: date, values: dict, *, strict: bool | None = None) -> Written:
    """"This date and the following ones" (see `EventWrites.split`): the new series, with its
    overlaps (the first part's are checked too)."""
    writes = _one(actor, strict, None)
    second = writes.split(event, from_date, values)
    return Written(second, outcome=writes.finish()[second.id])


def end_series(actor: Actor, event: Event, from_date: date, *, strict: bool | None = None) -> Written:
    writes = _one(actor, strict, None)
    changes = writes.end_series(event, from_date)
    return Written(event, changes=changes, outcome=writes.finish().get(event.id, Outcome()))


def delete_event(actor: Actor, event: Event, now: datetime | None = None) -> None:
    _one(actor, False, None, now).delete(event)


def delete_events(actor: Actor, events: Iterable[Event]) -> None:
    writes = _one(actor, False, None)
    for event in events:
        writes.delete(event)
