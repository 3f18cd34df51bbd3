"""Overlaps as records: the horizon, what detection reads from the database, the reconciliation of
what is true with what is stored, the full run and the incremental check after one write, and
the rule every writer obeys (hard conflicts refused).
"""
from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import joinedload, selectinload

from models import Event, OccurrenceException, Person, Place, db, utcnow
from models.actor import Actor
from models.conflicts import (
    CONFLICT_KINDS,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_TRAVEL_MARGIN_MINUTES,
    LIVE_STATUSES,
    ConflictCase,
    ScheduleConflict,
    severity_of,
)
from models.errors import Conflict as ConflictError
from models.errors import InvalidInput
from models.events import event_people
from models.operations.cases import attach_cases, recount, refresh_cases
from models.operations.conflicts import close_in_bulk, open_in_bulk, set_status
from scheduler.conflicts.detection import (
    DEFAULT_NON_COMPETING_KINDS,
    HORIZON_DAYS,
    SERIES,
    Audience,
    DetectionContext,
    Found,
    detect,
)
from scheduler.conflicts.recording import close_in_bulk_by_id, insert_new
from scheduler.french import title_for
from scheduler.time.recurrence import Occurrence, epoch, expand, rule_of

log = logging.getLogger("maillage.conflicts")
Recorded = TypeVar("Recorded", ScheduleConflict, "Opened")  # a stored date, as an ORM object or not

# --- from the database ------------------------------------------------------------------------

def horizon(now: datetime | None = None, days: int | None = None) -> tuple[datetime, datetime]:
    """From the start of today (UTC) to `days` ahead (default: twelve months)."""
    now = now or utcnow()
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=days or _setting("CONFLICT_HORIZON_DAYS", HORIZON_DAYS))


def _setting(name: str, default):
    return current_app.config.get(name, default) if has_app_context() else default


def non_competing_kinds() -> set[str]:
    return set(_setting("CONFLICT_NON_COMPETING_KINDS", DEFAULT_NON_COMPETING_KINDS))


def audience_of(event) -> Audience | None:
    """The public an event targets; None for an event open to all, which splits no targeted public."""
    if event.age_min is None and event.age_max is None and not event.audience_tags:
        return None
    return Audience(event.age_min, event.age_max, frozenset(t.casefold() for t in event.audience_tags or []))


def competing_audiences(events: Iterable[Event]) -> dict[int, Audience]:
    skip = non_competing_kinds()
    return {e.id: a for e in events if e.kind not in skip and (a := audience_of(e)) is not None}


def person_limits(people: Iterable) -> tuple[dict[int, int], dict[int, int]]:
    """Travel margins (seconds) and limits of series at once, of Person rows or models."""
    margins, limits = {}, {}
    for p in people:
        margins[p.id] = (p.travel_margin_minutes if p.travel_margin_minutes is not None
                         else DEFAULT_TRAVEL_MARGIN_MINUTES) * 60
        limit = p.max_concurrent if p.max_concurrent is not None else DEFAULT_MAX_CONCURRENT.get(p.role)
        if limit is not None:
            limits[p.id] = limit
    return margins, limits


def _context(events: Iterable[Event], person_ids: Iterable[int] | None = None) -> DetectionContext:
    q = sa.select(Person.id, Person.travel_margin_minutes, Person.max_concurrent, Person.role)
    if person_ids is not None:
        q = q.where(Person.id.in_(set(person_ids)))
    margins, limits = person_limits(db.session.execute(q))
    return DetectionContext(
        place_quartier={pid: qid for pid, qid in db.session.execute(
            sa.select(Place.id, Place.quartier_id).where(Place.quartier_id.is_not(None)))},
        audiences=competing_audiences(events),
        travel_margin=margins, max_concurrent=limits)


def load_events(where, start: datetime, end: datetime, in_bulk: bool = False) -> list[Event]:
    """Series that may have occurrences in [start, end), with what expansion needs. The whole
    calendar (`in_bulk`) loads in a few bulk queries; a handful of series (the incremental
    check) in one joined query: there, each round trip to the database is most of the cost."""
    # A series with exceptions may have an occurrence moved anywhere, before its first date too.
    q = sa.select(Event).where(where, sa.or_(
        sa.and_(Event.starts_at < end, sa.or_(
            Event.last_date.is_(None), Event.last_date >= (start - timedelta(days=8)).date())),
        Event.id.in_(sa.select(OccurrenceException.event_id))))
    if in_bulk:
        return list(db.session.scalars(q.options(selectinload(Event.people), selectinload(Event.exceptions))))
    q = q.options(joinedload(Event.people), joinedload(Event.exceptions))
    return list(db.session.scalars(q).unique())


@dataclass
class Outcome:
    """What a reconciliation changed."""

    created: list[ScheduleConflict] = field(default_factory=list)  # new, or true again
    # New dates recorded in bulk by `check_new_events` (an import's new series): no ORM object each.
    opened: list[Opened] = field(default_factory=list)
    still: list[ScheduleConflict] = field(default_factory=list)
    ended: list[ScheduleConflict] = field(default_factory=list)  # closed or resolved

    @property
    def current(self) -> list[ScheduleConflict]:
        """Hard ones first, then by date."""
        return sorted(self.created + self.still, key=lambda c: (not c.is_hard, c.starts_at, c.id))

    @property
    def summary(self) -> str:
        return (f"{len(self.created)} nouveau(x) ou rouvert(s), {len(self.still)} toujours vrai(s), "
                f"{len(self.ended)} clos.")


@dataclass(slots=True)
class Opened:
    """A date `check_new_events` recorded in bulk, as an import tells it (`describe_conflict`,
    `refused_conflicts`): the stored record's id and what a ScheduleConflict would say."""

    id: int
    kind: str
    subject: str
    starts_at: datetime
    a_event: Event
    b_event: Event
    a_recurrence_id: int
    b_recurrence_id: int
    details: dict

    @property
    def is_hard(self) -> bool:
        return severity_of(self.kind) == "hard"


def reconcile(found: dict[tuple, Found], existing: Iterable[ScheduleConflict], actor: Actor | None = None,
              resolved_by_action: str | None = None, resolving_ids: Set[int] = frozenset()) -> Outcome:
    """Makes the stored records say what `found` says, for the records in scope (`existing`)."""
    outcome = Outcome()
    by_identity = {c.identity: c for c in existing}
    new = []
    for identity, f in found.items():
        conflict = by_identity.pop(identity, None)
        if conflict is None:
            conflict = ScheduleConflict(
                kind=f.kind, severity=severity_of(f.kind), status="open", a_event_id=f.a[0],
                a_recurrence_id=f.a[1], b_event_id=f.b[0], b_recurrence_id=f.b[1])
            _refresh(conflict, f, f.signature)
            new.append(conflict)
            continue
        signature = f.signature
        if conflict.signature != signature:
            _refresh(conflict, f, signature)
            conflict.updated_at = utcnow()
        if ((conflict.status == "accepted" and conflict.accepted_signature != signature)
                or conflict.status in ("resolved", "closed")):
            set_status(actor, conflict, "open", "reopen")
            outcome.created.append(conflict)
        else:
            outcome.still.append(conflict)
    if new:
        attach_cases(new, utcnow())
        outcome.created.extend(open_in_bulk(actor, new))
    resolved, closed = [], []
    for conflict in by_identity.values():
        if conflict.status not in LIVE_STATUSES:
            continue
        if resolved_by_action and conflict.id in resolving_ids:
            set_status(actor, conflict, "resolved", "resolve", resolved_by_action)
            resolved.append(conflict)
        else:
            closed.append(conflict)
        outcome.ended.append(conflict)
    close_in_bulk(actor, closed)
    db.session.flush()
    refresh_cases([*outcome.created, *outcome.still, *outcome.ended], actor, resolved=resolved)
    return outcome


def _refresh(conflict: ScheduleConflict, f: Found, signature: str) -> None:
    conflict.subject = f.subject
    conflict.starts_at = datetime.fromtimestamp(f.starts_at, UTC)
    conflict.ends_at = datetime.fromtimestamp(f.ends_at, UTC)
    conflict.details = f.details
    conflict.signature = signature


def _in_horizon(q, start: datetime, end: datetime):
    return q.where(ScheduleConflict.ends_at > start, ScheduleConflict.starts_at < end)


def person_ids_of(event: Event) -> set[int]:
    """Everyone an event books, its series' people and those of its moved occurrences."""
    ids = {p.id for p in event.people}
    for x in event.exceptions:
        ids.update(x.person_ids or ())
    return ids


def check_event(event: Event, actor: Actor | None = None, now: datetime | None = None,
                previous_person_ids: Iterable[int] = (), recurrence_ids: Iterable[int] | None = None,
                resolved_by_action: str | None = None, resolving_ids: Set[int] = frozenset(),
                deleting: bool = False) -> Outcome:
    """After one write to `event` (flushed, not committed): its conflicts as they now stand.

    Only what the write touches is looked at: the event's places, people and (if it targets a
    public) quartier; with `recurrence_ids` (a write to some occurrences: cancel, move, restore)
    only those occurrences and the days around them, otherwise the days of its occurrences.
    `previous_person_ids`: who it booked before the write (their capacity is checked again).
    `deleting`: the event is about to be deleted; as it has no occurrence left, its conflicts
    close (and those of its people's capacity are checked again)."""
    start, end = horizon(now)
    if deleting and not person_ids_of(event) and not previous_person_ids:
        return _close_all_of(event, actor, start, end)
    own = [] if deleting else expand([rule_of(event)], start, end)
    touched = set(recurrence_ids) if recurrence_ids is not None else None
    own_live = [o for o in own if not o.is_cancelled]
    live = own_live if touched is None else [o for o in own_live if o.recurrence_id in touched]
    scope_people = person_ids_of(event) | set(previous_person_ids)
    margins, limits = person_limits(db.session.scalars(
        sa.select(Person).where(Person.id.in_(scope_people)))) if scope_people else ({}, {})
    limited = set(limits)

    # Who shares something with it: ids first (light queries), then only those series are loaded.
    place_ids = {o.place_id for o in live} | ({event.place_id} if live else set())
    sharing: set[int] = set()
    wide_ids: set[int] = set()
    if live:
        queries = [sa.select(Event.id).where(Event.place_id.in_(place_ids)),
                   sa.select(OccurrenceException.event_id).where(OccurrenceException.place_id.in_(place_ids))]
        if audience_of(event) is not None and event.kind not in non_competing_kinds():
            quartiers = sa.select(Place.quartier_id).where(Place.id.in_(place_ids), Place.quartier_id.is_not(None))
            queries.append(sa.select(Event.id).join(Place, Event.place_id == Place.id).where(
                Place.quartier_id.in_(quartiers)))
        sharing.update(db.session.scalars(sa.union(*queries)))
    if scope_people:
        for event_id, pid in db.session.execute(sa.select(event_people.c.event_id, event_people.c.person_id).where(
                event_people.c.person_id.in_(scope_people))):
            sharing.add(event_id)
            if pid in limited:
                wide_ids.add(event_id)
        # Occurrences booking other people than their series. An unset list is stored as JSON
        # null, which IS NOT NULL does not skip: compare its text form (SQLite and PostgreSQL).
        for event_id, people in db.session.execute(sa.select(
                OccurrenceException.event_id, OccurrenceException.person_ids).where(
                sa.func.coalesce(sa.cast(OccurrenceException.person_ids, sa.Text), "null") != "null")):
            booked = set(people or ()) & scope_people
            if booked:
                sharing.add(event_id)
                if booked & limited:  # its one occurrence is a span of its own, wherever it falls
                    wide_ids.add(event_id)
    sharing.discard(event.id)
    wide_ids.discard(event.id)

    # Capacity compares whole spans: the series of people with a limit over the horizon (the event
    # itself included); every other series only in the days around the touched occurrences.
    occurrences = list(live)
    loaded = {event.id: event}
    if limited & person_ids_of(event):
        occurrences += [o for o in own_live if touched is not None and o.recurrence_id not in touched]
    if wide_ids:
        wide = load_events(Event.id.in_(wide_ids), start, end)
        loaded.update((e.id, e) for e in wide)
        occurrences += expand([rule_of(e) for e in wide], start, end)
    narrow_ids = sharing - wide_ids
    windows = _windows(live, start, end)
    if narrow_ids and windows:
        # One load and one expansion over the span of all windows, not one per window: a monthly
        # series has a dozen windows, each a round trip that brought back the same series.
        lo, hi = windows[0][0], windows[-1][1]
        near = load_events(Event.id.in_(narrow_ids), lo, hi)
        loaded.update((e.id, e) for e in near)
        occurrences += _within(expand([rule_of(e) for e in near], lo, hi), windows)

    audiences = competing_audiences(loaded.values())
    # Quartiers matter only for the audience rule, and only if the event itself targets a public.
    place_quartier: dict[int | None, int | None] = dict(db.session.execute(sa.select(Place.id, Place.quartier_id).where(
        Place.id.in_({o.place_id for o in occurrences}), Place.quartier_id.is_not(None))).all()) \
        if event.id in audiences else {}
    ctx = DetectionContext(place_quartier=place_quartier, audiences=audiences, travel_margin=margins,
                           max_concurrent=limits)
    subjects = {f"person:{p}" for p in limited}

    def concerns(f: Found) -> bool:
        if f.kind == "capacity":
            return f.subject in subjects
        return any(side[0] == event.id and (touched is None or side[1] in touched) for side in (f.a, f.b))

    found = {k: f for k, f in detect(occurrences, ctx).items() if concerns(f)}
    if touched is None:
        scope = sa.or_(ScheduleConflict.a_event_id == event.id, ScheduleConflict.b_event_id == event.id)
    else:
        scope = sa.or_(sa.and_(ScheduleConflict.a_event_id == event.id, ScheduleConflict.a_recurrence_id.in_(touched)),
                       sa.and_(ScheduleConflict.b_event_id == event.id, ScheduleConflict.b_recurrence_id.in_(touched)))
    if scope_people:
        scope = sa.or_(scope, sa.and_(ScheduleConflict.kind == "capacity",
                                      ScheduleConflict.subject.in_([f"person:{p}" for p in scope_people])))
    existing = db.session.scalars(_in_horizon(sa.select(ScheduleConflict).where(scope), start, end))
    return reconcile(found, existing, actor, resolved_by_action, resolving_ids)


def _close_all_of(event: Event, actor: Actor | None, start: datetime, end: datetime) -> Outcome:
    """`check_event` of an event about to be deleted that books nobody: each of its live records
    in the horizon closes (history lines, its cases counted again and told), in bulk: a series
    with thousands of overlaps is deleted in well under a second. The Outcome lists nothing
    (the records go with the event)."""
    c = ScheduleConflict
    rows = db.session.execute(_in_horizon(sa.select(c.id, c.status, c.case_id).where(
        sa.or_(c.a_event_id == event.id, c.b_event_id == event.id), c.status.in_(LIVE_STATUSES)), start, end)).all()
    if not rows:
        return Outcome()
    db.session.flush()
    close_in_bulk_by_id(actor, [(i, status) for i, status, _ in rows])
    case_ids = sorted({case_id for *_, case_id in rows if case_id is not None})
    cases = {case.id: case for case in db.session.scalars(sa.select(ConflictCase).where(ConflictCase.id.in_(case_ids)))}
    recount(cases, utcnow(), actor=actor)
    return Outcome()


def check_new_events(events: list[Event], actor: Actor | None = None, now: datetime | None = None
                     ) -> dict[int, list[Opened]]:
    """After the writes that created `events` (flushed, not committed; none books a person, so
    they can clash only by place and audience): their overlaps found by one sweep over all of
    them and the series sharing their places and quartiers, as the nightly run finds them, and
    recorded in bulk (`insert_new`). One check per file instead of one per series: an import of
    parallel series found each pair once per series and stored each date as an ORM object.
    Each date goes to the first of `events` it involves. Their records cannot exist yet (new
    series), so nothing is reconciled; check these before any other write of the same batch."""
    start, end = horizon(now)
    new_ids = {e.id for e in events}
    live = [o for o in expand([rule_of(e) for e in events], start, end) if not o.is_cancelled]
    if not live:
        return {}
    loaded = {e.id: e for e in events}
    place_ids = {o.place_id for o in live} | {e.place_id for e in events}
    queries = [sa.select(Event.id).where(Event.place_id.in_(place_ids)),
               sa.select(OccurrenceException.event_id).where(OccurrenceException.place_id.in_(place_ids))]
    if competing_audiences(events):
        quartiers = sa.select(Place.quartier_id).where(Place.id.in_(place_ids), Place.quartier_id.is_not(None))
        queries.append(sa.select(Event.id).join(Place, Event.place_id == Place.id).where(
            Place.quartier_id.in_(quartiers)))
    sharing = sorted(set(db.session.scalars(sa.union(*queries))) - new_ids)
    occurrences = list(live)
    windows = _windows(live, start, end)
    lo, hi = windows[0][0], windows[-1][1]
    for i in range(0, len(sharing), 5000):  # ids per IN (...): PostgreSQL takes 65,535 parameters
        near = load_events(Event.id.in_(sharing[i:i + 5000]), lo, hi)
        loaded.update((e.id, e) for e in near)
        occurrences += _within(expand([rule_of(e) for e in near], lo, hi), windows)
    audiences = competing_audiences(loaded.values())
    place_quartier: dict[int | None, int | None] = dict(db.session.execute(sa.select(Place.id, Place.quartier_id).where(
        Place.id.in_({o.place_id for o in occurrences}), Place.quartier_id.is_not(None))).all()) \
        if audiences.keys() & new_ids else {}
    ctx = DetectionContext(place_quartier=place_quartier, audiences=audiences)
    found = [f for f in detect(occurrences, ctx, frozenset({"place", "audience"})).values()
             if f.x.event_id in new_ids or f.y.event_id in new_ids]
    order = {e.id: i for i, e in enumerate(events)}
    opened: dict[int, list[Opened]] = {}
    for f, conflict_id in zip(found, insert_new(found, actor), strict=True):
        owner = min((side for side in (f.x.event_id, f.y.event_id) if side in new_ids), key=order.__getitem__)
        opened.setdefault(owner, []).append(Opened(
            conflict_id, f.kind, f.subject, datetime.fromtimestamp(f.starts_at, UTC), loaded[f.x.event_id],
            loaded[f.y.event_id], f.x.recurrence_id, f.y.recurrence_id, f.details))
    return opened


def _windows(occurrences: list[Occurrence], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The days around the occurrences (a day on each side covers any travel margin), merged,
    in order."""
    spans = sorted((o.starts_at - 86400, o.ends_at + 86400) for o in occurrences)
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(max(start, datetime.fromtimestamp(lo, UTC)), min(end, datetime.fromtimestamp(hi, UTC)))
            for lo, hi in merged]


def _within(occurrences: list[Occurrence], windows: list[tuple[datetime, datetime]]) -> list[Occurrence]:
    """The occurrences that overlap one of the windows (merged and in order, as `_windows` gives)."""
    bounds = [(epoch(lo), epoch(hi)) for lo, hi in windows]
    starts = [lo for lo, _ in bounds]
    kept = []
    for o in occurrences:
        # The last window starting before the occurrence ends is the only one it can overlap.
        i = bisect_left(starts, o.ends_at) - 1
        if i >= 0 and o.starts_at < bounds[i][1]:
            kept.append(o)
    return kept


# --- the rule every writer obeys: refused hard conflicts ------------------------------------
# One rule for the API, the coordination pages, imports and sync: a write that creates a hard
# conflict (place, staff, capacity) is refused under strict mode, or when a place where either
# side happens refuses them (`Place.refuses_hard_conflicts`, a host that wants no double booking).

# What a write to a person or a place changes in its events' overlaps: a person's travel margin
# and how many they may follow at once (staff, capacity), the quartier of a place (audience).
PERSON_FIELDS_IN_DETECTION = ("travel_margin_minutes", "max_concurrent")
PLACE_FIELDS_IN_DETECTION = ("quartier_id",)


def detection_facts(obj, fields: tuple[str, ...]) -> dict:
    """The values of `fields` before a write, for `check_events_sharing`."""
    return {name: getattr(obj, name) for name in fields}


def check_events_sharing(obj, before: dict, actor: Actor | None = None) -> None:
    """After a write to a person or a place (flushed, not committed) that changed one of the
    facts read by `detection_facts`: each of its events checked as after a write to it. The
    write is kept whatever it creates (it moves no date); the conflicts and notices follow."""
    if all(getattr(obj, name) == value for name, value in before.items()):
        return
    if isinstance(obj, Person):
        events = db.session.scalars(sa.select(Event).join(event_people, event_people.c.event_id == Event.id)
                                    .where(event_people.c.person_id == obj.id).order_by(Event.id))
    else:
        events = db.session.scalars(sa.select(Event).where(Event.place_id == obj.id).order_by(Event.id))
    for event in list(events):
        check_event(event, actor)


class HardConflictsRefused(ConflictError):
    """The write would create hard conflicts where they are refused: the caller rolls back."""

    def __init__(self, conflicts: list[ScheduleConflict], refusing_places: list[Place], strict: bool,
                 reader_partner_id: int | None = None):
        self.conflicts = conflicts
        # Said to the writer: another partner's partners-only event by its kind, not its title.
        self.descriptions = [describe_conflict(c, reader_partner_id) for c in conflicts]
        if strict:
            why = "le mode strict les refuse"
        else:
            names = ", ".join(f"« {p.name} »" for p in refusing_places)
            count = len(refusing_places)
            why = f"{'le lieu' if count == 1 else 'les lieux'} {names} les refuse{'nt' if count > 1 else ''}"
        first = self.descriptions[0] if self.descriptions else ""
        more = f" (et {len(conflicts) - 1} autre(s))" if len(conflicts) > 1 else ""
        super().__init__(f"Refusé : cette modification crée {len(conflicts)} chevauchement(s) bloquant(s) "
                         f"(lieu, personne ou capacité) et {why} : {first}{more}. Rien n'a été enregistré.",
                         {"conflicts": self.descriptions})


def describe_conflict(conflict: ScheduleConflict | Opened, reader_partner_id: int | None = None) -> str:
    """One line in French: what clashes, which two events (each title as a reader of that
    partner may read it, `title_for`), when (wall clock of the first side)."""
    a, b = conflict.a_event, conflict.b_event
    when = conflict.starts_at.astimezone(ZoneInfo(a.timezone)).strftime("%d/%m/%Y à %H:%M")
    if conflict.a_recurrence_id == SERIES and conflict.b_recurrence_id == SERIES:
        when = "à partir du " + when.split(" à ")[0]
    else:
        when = "le " + when
    sides = f"« {title_for(a, reader_partner_id)} » et « {title_for(b, reader_partner_id)} »"
    return f"{CONFLICT_KINDS.get(conflict.kind, conflict.kind)} : {sides}, {when}"


def places_of(conflict: ScheduleConflict | Opened) -> set[int]:
    """Where the two sides happen (a moved occurrence: its new place), and the shared place."""
    details = conflict.details or {}
    ids = {details.get("place_id"), details.get("a", {}).get("place_id"), details.get("b", {}).get("place_id")}
    return ids - {None}


def refused_conflicts(conflicts: Iterable[Recorded], strict: bool = False) -> tuple[list[Recorded], list[Place]]:
    """The hard ones among `conflicts` (those a write created) that refuse it, and the places that
    refuse them (none under strict mode, which refuses every hard conflict)."""
    hard = [c for c in conflicts if c.is_hard]
    if strict or not hard:
        return hard, []
    refusing = {p.id: p for p in db.session.scalars(sa.select(Place).where(
        Place.id.in_(set().union(*(places_of(c) for c in hard))), Place.refuses_hard_conflicts.is_(True)))}
    return [c for c in hard if places_of(c) & refusing.keys()], sorted(refusing.values(), key=attrgetter("name"))


# How many overlaps one write may open (CONFLICT_MAX_OPENED in settings.py): each is a case to read
# and notices to send; past it, a series is more likely a mistake (or a flood) than a plan.
MAX_OPENED = 200


class TooManyConflicts(InvalidInput):
    """The write would open more overlaps than CONFLICT_MAX_OPENED: the caller rolls back."""


def refuse_too_many(opened: int) -> None:
    limit = _setting("CONFLICT_MAX_OPENED", MAX_OPENED)
    if opened > limit:
        raise TooManyConflicts(
            f"Refusé : cette modification ouvrirait {opened} chevauchements, au plus {limit} à la fois. "
            "Rien n'a été enregistré : raccourcissez la série ou choisissez un autre lieu ou horaire (une "
            "coordinatrice ou un coordinateur peut la forcer avec strict=false).",
            {"strict": [f"{opened} chevauchements ouverts, au plus {limit} sans strict=false (coordination)."]})


def check_write(event: Event, actor: Actor | None = None, strict: bool = False, **check) -> Outcome:
    """`check_event` after a write (flushed, not committed), then the rule above: raises
    HardConflictsRefused when the write creates a hard conflict that is refused. The caller
    rolls back (nothing is written) and says so."""
    outcome = check_event(event, actor, **check)
    refused, places = refused_conflicts(outcome.created, strict)
    if refused:
        raise HardConflictsRefused(refused, places, strict, actor.partner_id if actor is not None else None)
    return outcome
