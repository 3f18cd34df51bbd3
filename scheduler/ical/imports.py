"""Import of a partner's own calendar: .ics exported by Outlook, Google or Thunderbird, or a CSV
of permanences. The clock's sync (`scheduler.ical.sync`) applies fetched calendars the same way.

Three steps, one pipeline:
1. parse the file into `PlannedEvent`s (Maillage's wall-clock series + exceptions), or refuse it
   whole with errors that name the line and the component;
2. `preview`: what would be created, changed, left unchanged, and the overlaps it would create;
3. `apply_plan`: all of it in the caller's transaction (the view or job commits once, or rolls
   everything back). Idempotent by UID: importing the same file again changes nothing.

Each step takes an optional `progress(phase, done, total)`, called as it goes ("parse", "write",
"overlaps"): a big file is worked by the clock (`scheduler.ical.jobs`), whose page shows it.

What Maillage cannot hold (yearly rules, "the 15th of each month", RDATE lists, events longer
than a week) is refused with a located error rather than imported approximately.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC

import sqlalchemy as sa

from models import Event, db
from models.actor import Actor
from models.conflicts import ScheduleConflict
from models.errors import InvalidInput
from scheduler.conflicts.check import Opened, Outcome, describe_conflict, refused_conflicts
from scheduler.ical.planned import (
    ImportOptions,
    ImportRefused,
    LocatedError,
    PlannedEvent,
)
from scheduler.writes import EventWrites, NewEvent, delete_events

# --- what an import changes ---------------------------------------------------------------------

COMPARED = ("title", "description", "kind", "place", "visibility", "status", "timezone", "all_day", "start_date",
            "start_time",
            "duration_minutes", "frequency", "interval", "weekdays", "month_week", "month_days", "months",
            "extra_dates", "until", "count",
            "skip_public_holidays", "pause_school_holidays", "holiday_region", "age_min", "age_max", "audience_tags")


def _exception_key(x, default_minutes: int) -> tuple:
    """An exception as the import sees it: cancelled, or moved to (start, duration)."""
    rec = x.recurrence_start.astimezone(UTC)
    if x.is_cancelled:
        return (rec, True, None, None)
    starts = x.starts_at.astimezone(UTC) if x.starts_at is not None else rec
    return (rec, False, starts, x.duration_minutes if x.duration_minutes is not None else default_minutes)


def differences(planned: PlannedEvent, event: Event) -> dict:
    """What importing `planned` would change in `event` ({} when nothing)."""
    changes = {}
    for name in COMPARED:
        if name not in planned.values:
            continue
        new, old = planned.values[name], getattr(event, name)
        if name == "place":
            new, old = new.id, event.place_id
        if name == "weekdays":
            new, old = sorted(new or []), sorted(old or [])
        if name in ("audience_tags", "month_days", "months", "extra_dates"):
            new, old = list(new or []), list(old or [])
        if new != old:
            changes[name] = [old, new]
    minutes = planned.values["duration_minutes"]
    wanted = sorted(_exception_key(x, minutes) for x in planned.exceptions)
    have = sorted(_exception_key(x, event.duration_minutes) for x in event.exceptions)
    if wanted != have:
        changes["exceptions"] = [len(have), len(wanted)]
    return changes


@dataclass
class Preview:
    created: list[PlannedEvent] = field(default_factory=list)
    changed: list[tuple[PlannedEvent, Event, dict]] = field(default_factory=list)
    unchanged: list[tuple[PlannedEvent, Event]] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)
    overlaps_checked: bool = False  # False: nothing would be written, no overlap to look for
    # Hard conflicts at places that refuse them: the import would be refused whole.
    refused: list[LocatedError] = field(default_factory=list)

    def summary(self) -> dict:
        return {"created": len(self.created), "changed": len(self.changed), "unchanged": len(self.unchanged),
                "overlaps": len(self.overlaps)}

    def as_dict(self) -> dict:
        """The preview as plain data, kept with an import job until its confirmation."""
        def item(planned: PlannedEvent, changes=()) -> dict:
            v = planned.values
            return {"uid": planned.uid, "title": planned.title, "place": v["place"].name,
                    "starts": f"{v['start_date']:%d/%m/%Y} {v['start_time']:%H:%M}",
                    "is_series": v["frequency"] != "once", "changes": list(changes), "notes": list(planned.notes)}

        return {"created": [item(p) for p in self.created], "changed": [item(p, c) for p, _, c in self.changed],
                "unchanged": [item(p) for p, _ in self.unchanged], "overlaps": self.overlaps,
                "overlaps_checked": self.overlaps_checked, "refused": [str(e) for e in self.refused],
                "summary": self.summary()}


def existing_events(plan: list[PlannedEvent]) -> dict[str, Event]:
    uids = [p.uid for p in plan]
    found: dict[str, Event] = {}
    for start in range(0, len(uids), 500):
        found |= {e.uid: e for e in db.session.scalars(sa.select(Event).where(Event.uid.in_(uids[start:start + 500])))}
    return found


def _check_rights(actor: Actor, plan, existing) -> None:
    errors = []
    for planned in plan:
        event = existing.get(planned.uid)
        if event is not None and not actor.can_edit_event(event):
            errors.append(LocatedError("cet UID est celui d'un événement que vous ne pouvez pas modifier "
                                       f"(« {event.title} »)", planned.line, planned.component))
        elif event is None and not actor.can_edit_place(planned.values["place"]) and actor.is_coordinator:
            errors.append(LocatedError(f"le lieu « {planned.values['place'].name} » n'est pas dans votre territoire",
                                       planned.line, planned.component))
    if errors:
        raise ImportRefused(errors)


def preview(actor: Actor, plan: list[PlannedEvent], options: ImportOptions, progress=None,
            dry_run: bool = True) -> Preview:
    """What `apply_plan` would do, and the overlaps it would create, without changing anything:
    the plan is applied, asked about, and the whole transaction rolled back (so call it with
    nothing else pending). `dry_run=False`: the import itself, as `apply_plan` (refused whole by
    a refused overlap, nothing rolled back: the caller commits), told as its preview, in one
    write instead of a dry run and then the same write again."""
    existing = existing_events(plan)
    _check_rights(actor, plan, existing)
    result = Preview()
    for planned in plan:
        event = existing.get(planned.uid)
        if event is None:
            result.created.append(planned)
        else:
            changes = differences(planned, event)
            if changes:
                result.changed.append((planned, event, changes))
            else:
                result.unchanged.append((planned, event))
    if (result.created or result.changed) and not dry_run:
        _touched, result.overlaps = _write(actor, plan, options, progress)
        result.overlaps_checked = True
        if refused := _refusals(plan, result.overlaps):
            raise ImportRefused(refused)
    elif result.created or result.changed:
        # A dry run: it also finds what only the writes check (rules, rooms, rights).
        try:
            _touched, result.overlaps = _write(actor, plan, options, progress)
            result.overlaps_checked = True
            result.refused = _refusals(plan, result.overlaps)
        finally:
            db.session.rollback()
    return result


def _overlaps(events: list[Event], outcomes: dict[int, Outcome], reader_partner_id: int | None) -> list[dict]:
    """The overlaps the written events opened, as {kind, subject, starts_at, title, uid,
    description, refused}, where `refused` says that the rule every write obeys
    (`refused_conflicts`: a hard conflict at a place that refuses them) refuses it."""
    found = []
    for event in events:
        outcome = outcomes[event.id]
        refused = {c.id for c in refused_conflicts(outcome.created)[0]} | \
            {c.id for c in refused_conflicts(outcome.opened)[0]}
        created: list[ScheduleConflict | Opened] = [*outcome.created, *outcome.opened]
        for conflict in created:
            found.append({"kind": conflict.kind, "subject": conflict.subject,
                          "starts_at": conflict.starts_at.isoformat(), "title": event.title, "uid": event.uid,
                          "description": describe_conflict(conflict, reader_partner_id),
                          "refused": conflict.id in refused})
    return found


def _refusals(plan: list[PlannedEvent], overlaps: list[dict] | None) -> list[LocatedError]:
    """The refused overlaps, each located at the VEVENT or line of the file that makes it."""
    by_uid = {p.uid: p for p in plan}
    errors = []
    for overlap in overlaps or []:
        if overlap["refused"]:
            planned = by_uid.get(overlap["uid"])
            errors.append(LocatedError(f"chevauchement bloquant dans un lieu qui les refuse : {overlap['description']}",
                                       planned.line if planned else None, planned.component if planned else ""))
    return errors


def apply_plan(actor: Actor, plan: list[PlannedEvent], options: ImportOptions, progress=None) -> list[Event]:
    """Creates or updates each planned event (idempotent by UID); returns those it touched.
    Adds and flushes only: the caller commits once, or rolls everything back. The overlaps of what
    changed are recorded as after any other write, and the rule every write obeys refuses the
    whole file (ImportRefused, each refusal located) when it refuses one of them."""
    touched, overlaps = _write(actor, plan, options, progress)
    refused = _refusals(plan, overlaps)
    if refused:
        raise ImportRefused(refused)
    return touched


def _write(actor: Actor, plan: list[PlannedEvent], options: ImportOptions, progress=None
           ) -> tuple[list[Event], list[dict]]:
    """The writes of a plan, through the one write path: the new events checked one by one and
    stored together (`EventWrites.create_many`: one flush for thousands), each pre-existing event
    that changes told once as a whole (its exceptions' changes included); returns the events
    touched, in the file's order, and the overlaps they opened."""
    existing = existing_events(plan)
    _check_rights(actor, plan, existing)
    writes = EventWrites(actor, refuse=False, tell_whole_events=True, new_in_bulk=True)
    values_of = {}
    for planned in plan:
        values = dict(planned.values)
        values["place"] = values["place"].slug
        values_of[planned.uid] = values
    writes.read_ahead({v["place"] for v in values_of.values()}, [options.partner.slug])
    written: dict[str, Event] = {}
    new: list[tuple[PlannedEvent, NewEvent]] = []
    for index, planned in enumerate(plan):
        if progress is not None:
            progress("write", index, len(plan))
        event = existing.get(planned.uid)
        values = values_of[planned.uid]
        with _located(planned):
            if event is None:
                new.append((planned, writes.check_new({**values, "uid": planned.uid, "source": options.source,
                                                       "organisers": [options.partner.slug]})))
                continue
            changes = differences(planned, event)
            if not changes:
                continue
            fields = {k: values[k] for k in changes if k != "exceptions"}
            if "place" in fields:
                # A new place brings its own zone and holidays unless told otherwise: the
                # file's zone is kept (an event written in Los Angeles stays there).
                fields |= {k: values[k] for k in ("timezone", "holiday_region")}
            if fields:
                writes.update(event, fields)
            _apply_exceptions(writes, event, planned)
        written[planned.uid] = event
    for (planned, _), event in zip(new, writes.create_many([checked for _, checked in new]), strict=True):
        with _located(planned):
            _apply_exceptions(writes, event, planned)
        written[planned.uid] = event
    touched = [written[p.uid] for p in plan if p.uid in written]
    outcomes = writes.finish(progress)
    return touched, _overlaps(touched, outcomes, actor.partner_id)


@contextmanager
def _located(planned: PlannedEvent):
    """A write refused for one planned event refuses the file, at that event's line."""
    try:
        yield
    except InvalidInput as error:
        raise ImportRefused([LocatedError(error.message, planned.line, planned.component)]) from None


def _apply_exceptions(writes: EventWrites, event: Event, planned: PlannedEvent) -> None:
    wanted = {x.recurrence_start: x for x in planned.exceptions}
    for exception in list(event.exceptions):
        start = exception.recurrence_start.astimezone(UTC)
        if start not in wanted:
            writes.restore_occurrence(event, exception.recurrence_start)
    have = {_exception_key(x, event.duration_minutes) for x in event.exceptions}
    for x in planned.exceptions:
        if _exception_key(x, event.duration_minutes) in have:
            continue
        if x.is_cancelled:
            values: dict[str, object] = {"is_cancelled": True, "starts_at": None, "duration_minutes": None}
            action = "cancel_occurrence"
        else:
            values = {"is_cancelled": False, "starts_at": x.starts_at, "duration_minutes": x.duration_minutes}
            action = "move_occurrence"
        writes.set_exception(event, x.recurrence_start, values, action)


def remove_missing(actor: Actor, source: str, kept_uids: set[str]) -> list[str]:
    """A synced calendar is the truth for what it brought: events it no longer has are deleted."""
    gone = [e for e in db.session.scalars(sa.select(Event).where(Event.source == source)) if e.uid not in kept_uids]
    titles = [e.title for e in gone]
    delete_events(actor, gone)
    return titles
