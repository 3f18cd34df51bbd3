"""The calendar as the API, the pages and the feeds read it: events and their occurrences in a
window, with the filters a partner or a young person uses."""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import Event, OccurrenceException, Partner, Person, Place, Quartier, db
from models.base import in_ids
from models.errors import InvalidInput, NotFound
from models.events import event_organisers, event_people
from scheduler.time.recurrence import (
    Occurrence,
    expand,
    expand_events,
    gc_paused,
    rule_of,
)
from scheduler.time.rules import OUT_OF_CALENDAR, in_calendar

MAX_WINDOW_DAYS = 400

@dataclass
class CalendarFilter:
    partner: str | None = None  # slug: organised or co-organised by it
    place: str | None = None  # slug
    quartier: str | None = None  # QPV code
    kind: str | None = None
    tag: str | None = None  # audience tag
    age: int | None = None  # events whose age band contains it
    include_private: bool = False  # partners-only events too (signed-in partners)
    include_cancelled_events: bool = True
    kinds: tuple[str, ...] = ()  # any of these kinds
    walk_in: bool = False  # only "sans rendez-vous"
    age_band: tuple[int, int] | None = None  # events whose age band meets it ("16–25 ans")
    event_id: int | None = None  # one event (its page's calendar link)
    place_ids: tuple[int, ...] | None = None  # any of these places (a search, "near me"); () matches none


def check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("Les dates de début et de fin doivent porter leur décalage horaire "
                           "(ISO 8601, par exemple 2026-03-30T00:00:00+02:00).")
    if not in_calendar(start) or not in_calendar(end):
        raise InvalidInput(OUT_OF_CALENDAR, {"start" if not in_calendar(start) else "end": [OUT_OF_CALENDAR]})
    if end <= start:
        raise InvalidInput("La fin de la période est avant son début.", {"end": ["Avant le début."]})
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidInput(f"La période demandée dépasse {MAX_WINDOW_DAYS} jours.",
                           {"end": [f"Au plus {MAX_WINDOW_DAYS} jours après le début."]})


def events_query(f: CalendarFilter) -> sa.Select:
    """Events matching the filter (without the time window)."""
    q = sa.select(Event)
    if not f.include_private:
        q = q.where(Event.visibility == "public")
    if not f.include_cancelled_events:
        q = q.where(Event.status != "cancelled")
    if f.kind:
        q = q.where(Event.kind == f.kind)
    if f.place:
        place_ids = sa.select(Place.id).where(Place.slug == f.place)
        # Occurrences moved here from elsewhere count too.
        q = q.where(sa.or_(Event.place_id.in_(place_ids), Event.id.in_(
            sa.select(OccurrenceException.event_id).where(OccurrenceException.place_id.in_(place_ids)))))
    if f.place_ids is not None:
        q = q.where(sa.or_(Event.place_id.in_(f.place_ids), Event.id.in_(
            sa.select(OccurrenceException.event_id).where(OccurrenceException.place_id.in_(f.place_ids)))))
    if f.quartier:
        q = q.where(Event.place_id.in_(
            sa.select(Place.id).join(Quartier, Place.quartier_id == Quartier.id).where(Quartier.code == f.quartier)))
    if f.partner:
        q = q.where(Event.id.in_(
            sa.select(event_organisers.c.event_id).join(Partner, Partner.id == event_organisers.c.partner_id)
            .where(Partner.slug == f.partner)))
    if f.event_id is not None:
        q = q.where(Event.id == f.event_id)
    if f.kinds:
        q = q.where(Event.kind.in_(f.kinds))
    if f.walk_in:
        q = q.where(Event.walk_in.is_(True))
    if f.age_band is not None:
        lo, hi = f.age_band
        q = q.where(sa.or_(Event.age_min.is_(None), Event.age_min <= hi),
                    sa.or_(Event.age_max.is_(None), Event.age_max >= lo))
    if f.age is not None:
        q = q.where(sa.or_(Event.age_min.is_(None), Event.age_min <= f.age),
                    sa.or_(Event.age_max.is_(None), Event.age_max >= f.age))
    return q


def _in_window(q: sa.Select, start: datetime, end: datetime) -> sa.Select:
    # A move can bring an occurrence in from outside the rule's range, before its first date or
    # after its last: keep series with exceptions on both sides.
    has_exceptions = Event.id.in_(sa.select(OccurrenceException.event_id))
    return q.where(
        sa.or_(Event.starts_at < end + timedelta(days=1), has_exceptions),
        sa.or_(Event.last_date.is_(None), Event.last_date >= (start - timedelta(days=8)).date(), has_exceptions),
    )


def event_ids_in_window(f: CalendarFilter, start: datetime, end: datetime) -> sa.Select:
    """The ids of the events that may have an occurrence in the window, as a subquery's select
    (reports read the organisers and kinds of exactly the series `rules_in_window` expands)."""
    return _in_window(events_query(f), start, end).with_only_columns(Event.id)


def _has_tag(tags, tag: str) -> bool:
    return any(t.casefold() == tag for t in tags or [])


def events_in_window(f: CalendarFilter, start: datetime, end: datetime) -> list[Event]:
    """Events that may have an occurrence in the window (a superset; expansion decides)."""
    q = _in_window(events_query(f), start, end).options(
        selectinload(Event.place).selectinload(Place.quartier),
        selectinload(Event.organisers),
        selectinload(Event.people),
        selectinload(Event.exceptions),
    )
    events = list(db.session.scalars(q))
    if f.tag:
        tag = f.tag.casefold()
        events = [e for e in events if _has_tag(e.audience_tags, tag)]
    return events


def _keep_in_place(f: CalendarFilter, occurrences: list[Occurrence]) -> list[Occurrence]:
    if f.place_ids is not None:
        occurrences = [o for o in occurrences if o.place_id in f.place_ids]
    if not f.place:
        return occurrences
    # A move to another place takes the occurrence out of its first place's calendar.
    place_ids = set(db.session.scalars(sa.select(Place.id).where(Place.slug == f.place)))
    return [o for o in occurrences if o.place_id in place_ids]


def occurrences_between(f: CalendarFilter, start: datetime, end: datetime) -> list[tuple[Occurrence, Event]]:
    """Occurrences in [start, end) of the events the filter selects, by start time. Cancelled
    occurrences stay in, flagged, so that every screen can show them as cancelled."""
    check_window(start, end)
    events = events_in_window(f, start, end)
    by_id = {e.id: e for e in events}
    occurrences = _keep_in_place(f, expand_events(events, start, end))
    return [(o, by_id[o.event_id]) for o in occurrences]


# A JSON list column with few distinct values ("[0]", "[1, 3]", "[\"jeunes\"]") across thousands of
# rows: read as text and decoded once per value, not row by row by the driver. The lists are
# shared: read-only.
decode_json_list = lru_cache(maxsize=4096)(json.loads)

_RULE_COLUMNS = (Event.id, Event.timezone, Event.start_date, Event.start_time, Event.duration_minutes,
                 Event.frequency, Event.interval, sa.cast(Event.weekdays, sa.Text).label("weekdays"),
                 Event.month_week, Event.until, Event.count,
                 *(sa.cast(c, sa.Text).label(c.key) for c in (Event.month_days, Event.months, Event.extra_dates)),
                 Event.skip_public_holidays, Event.holiday_region, Event.pause_school_holidays, Event.school_zone,
                 Event.place_id, Event.room, Event.status, Event.all_day)


def first_occurrences_between(f: CalendarFilter, start: datetime, end: datetime,
                              limit: int) -> tuple[list[tuple[Occurrence, Event]], int]:
    """The first `limit` occurrences of the window (as `occurrences_between` gives them) and how
    many there are in all, without loading every event: a page that shows a national window reads
    the series' timing as plain rows, expands them, and loads only the events it will show.
    People are left out (no public page names them)."""
    check_window(start, end)
    occurrences = _keep_in_place(f, expand(rules_in_window(f, start, end, people=False), start, end))
    # The same order as expand_events, without sorting what is not shown.
    shown = heapq.nsmallest(limit, occurrences, key=lambda o: (o.starts_at, o.event_id))
    return _with_events(shown), len(occurrences)


@dataclass(slots=True)
class EventFacts:
    """What a long list of occurrences says of their event, read as plain rows: loading
    thousands of Event objects would cost a second where these cost a few hundredths."""

    id: int
    title: str
    kind: str
    status: str
    visibility: str
    audience: dict
    walk_in: bool
    registration_url: str | None
    all_day: bool = False
    organisers: list[str] = field(default_factory=list)  # slugs, in the order of Event.organisers
    people: dict[int, str] = field(default_factory=dict)  # id -> name, when asked for


@dataclass(slots=True)
class PlaceFacts:
    slug: str
    name: str
    quartier: str | None  # its QPV code


def _with_facts(occurrences: list[Occurrence], people: bool) -> list[tuple[Occurrence, EventFacts, PlaceFacts]]:
    """Each occurrence with the facts of its event and of the place where it happens, read for
    these occurrences only (scheduler.time.keyset pages a national window this way)."""
    events = _event_facts({o.event_id for o in occurrences}, people)
    places = {row.id: PlaceFacts(row.slug, row.name, row.code) for row in db.session.execute(
        sa.select(Place.id, Place.slug, Place.name, Quartier.code).outerjoin(Quartier, Quartier.id == Place.quartier_id)
        .where(in_ids(Place.id, {o.place_id for o in occurrences})))} if occurrences else {}
    return [(o, events[o.event_id], places[o.place_id]) for o in occurrences]


def _event_facts(ids: set[int], people: bool) -> dict[int, EventFacts]:
    if not ids:
        return {}
    events = {r.id: EventFacts(r.id, r.title, r.kind, r.status, r.visibility,
                               {"age_min": r.age_min, "age_max": r.age_max, "tags": list(r.audience_tags or [])},
                               r.walk_in, r.registration_url, bool(r.all_day))
              for r in db.session.execute(sa.select(
                  Event.id, Event.title, Event.kind, Event.status, Event.visibility, Event.age_min, Event.age_max,
                  Event.audience_tags, Event.walk_in, Event.registration_url, Event.all_day)
                  .where(in_ids(Event.id, ids)))}
    for event_id, slug in db.session.execute(
            sa.select(event_organisers.c.event_id, Partner.slug)
            .join(Partner, Partner.id == event_organisers.c.partner_id)
            .where(in_ids(event_organisers.c.event_id, ids)).order_by(Partner.name, Partner.id)):
        events[event_id].organisers.append(slug)
    if people:
        for event_id, person_id, name in db.session.execute(
                sa.select(event_people.c.event_id, Person.id, Person.name)
                .join(Person, Person.id == event_people.c.person_id)
                .where(in_ids(event_people.c.event_id, ids))):
            events[event_id].people[person_id] = name
    return events


def _with_events(occurrences: list[Occurrence]) -> list[tuple[Occurrence, Event]]:
    """Each occurrence with its Event, loading only those events (place, quartier, organisers)."""
    wanted = {o.event_id for o in occurrences}
    events = {e.id: e for e in db.session.scalars(sa.select(Event).where(Event.id.in_(wanted)).options(
        selectinload(Event.place).selectinload(Place.quartier), selectinload(Event.organisers)))} if wanted else {}
    return [(o, events[o.event_id]) for o in occurrences]


def rules_in_window(f: CalendarFilter, start: datetime, end: datetime, people: bool = True,
                    where: sa.ColumnElement | None = None) -> list:
    """The rules (`SeriesRule`, exceptions included, people unless told not to) of the series
    that may have an occurrence in the window, read as plain rows: for queries over the whole
    national calendar (the reminders' due scan, the home page), where loading every Event object
    would cost seconds."""
    # Tens of thousands of rows and rules, no cycles among them: the cyclic collector's passes
    # over every live object would cost as much as reading them.
    with gc_paused():
        return _rules_in_window(f, start, end, people, where)


def _rules_in_window(f: CalendarFilter, start: datetime, end: datetime, people: bool,
                     where: sa.ColumnElement | None = None) -> list:
    selected = _in_window(events_query(f), start, end)
    if where is not None:
        selected = selected.where(where)
    # Core rows through the session's connection: the ORM's row processing and Row._asdict() cost
    # more than the rest for the ~20,000 series of a national week. Flushed first, as the session
    # would have.
    db.session.flush()
    connection = db.session.connection()
    # Tags are JSON: read and decoded only when asked for.
    result = connection.execute(selected.with_only_columns(*_RULE_COLUMNS, *([Event.audience_tags] if f.tag else [])))
    names = list(result.keys())
    rows = [dict(zip(names, r)) for r in result]
    if f.tag:
        tag = f.tag.casefold()
        rows = [r for r in rows if _has_tag(r["audience_tags"], tag)]
    # A narrowed selection (a page's slice of time) gives a few hundred rows: their ids, rather
    # than the selection's conditions evaluated again over every event for each query below.
    ids = [r["id"] for r in rows] if where is not None else selected.with_only_columns(Event.id).scalar_subquery()

    def of_ids(column):
        return in_ids(column, ids) if isinstance(ids, list) else column.in_(ids)

    people_of: dict[int, list] = {}
    if people:
        for event_id, person_id in db.session.execute(
                sa.select(event_people.c.event_id, event_people.c.person_id)
                .join(Person, Person.id == event_people.c.person_id).where(of_ids(event_people.c.event_id))
                .order_by(event_people.c.event_id, Person.name)):  # the order of Event.people
            people_of.setdefault(event_id, []).append(SimpleNamespace(id=person_id))
    exceptions: dict[int, list] = {}
    for x in db.session.execute(sa.select(OccurrenceException).where(of_ids(OccurrenceException.event_id))).scalars():
        exceptions.setdefault(x.event_id, []).append(x)
    for r in rows:
        for name in ("weekdays", "month_days", "months", "extra_dates"):
            r[name] = decode_json_list(r[name]) if r[name] is not None else None
        r["people"], r["exceptions"] = people_of.get(r["id"], ()), exceptions.get(r["id"], ())
    return [rule_of(SimpleNamespace(**r)) for r in rows]


def public_event(event_id: int) -> Event:
    """An event anyone may see; a partners-only event is as unknown as a missing one."""
    event = db.session.get(Event, event_id)
    if event is None or event.visibility != "public":
        raise NotFound(f"Événement inconnu : {event_id}.")
    return event


def next_occurrences(event: Event, start: datetime, limit: int = 10,
                     horizon_days: int = MAX_WINDOW_DAYS) -> list[Occurrence]:
    """The next occurrences of one event from `start` (cancelled ones included, flagged)."""
    return expand_events([event], start, start + timedelta(days=horizon_days))[:limit]
