"""What one side of an overlap case could become, for the case's page to offer: the other rooms of
its place (and which are free at the case's dates), the people of the same partner free then,
and the nearest free slots of one of its dates.

"Free" means what the detection means by a hard overlap (`place_clash`, `staff_clash`, travel
margins included), computed here on the few series that share the place or the people, so that
a page asks it in a few milliseconds even on the national calendar (bench/conflicts.py measures
the slot search). The write that applies a choice is checked again by `scheduler.writes`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import db, utcnow
from models.events import Event, OccurrenceException, event_people
from models.partners import Person
from scheduler.conflicts.check import person_limits
from scheduler.conflicts.detection import DetectionContext, place_clash, staff_clash
from scheduler.time.recurrence import Occurrence, expand, rule_of

# When the place has no series to learn its hours from.
DEFAULT_HOURS = (time(9), time(18))
DEFAULT_DAYS = frozenset(range(5))
SLOT_STEP = timedelta(minutes=30)
SLOT_DAYS = 7  # nearby days looked at, on each side of the date
SLOTS = 3
DAY_SECONDS = 86400


@dataclass(frozen=True)
class Choice:
    """A room, a place or a person the side could take, and the dates where it is not free."""

    value: str | int
    label: str
    busy_on: tuple[datetime, ...] = ()

    @property
    def is_free(self) -> bool:
        return not self.busy_on


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # wall clock of the side's series
    ends_at: datetime


def _window(occurrences: list[Occurrence], margin: timedelta = timedelta(days=1)) -> tuple[datetime, datetime]:
    start = datetime.fromtimestamp(min(o.starts_at for o in occurrences), ZoneInfo("UTC"))
    end = datetime.fromtimestamp(max(o.ends_at for o in occurrences), ZoneInfo("UTC"))
    return start - margin, end + margin


def _neighbours(place_ids: set[int], person_ids: set[int], start: datetime, end: datetime) -> list[Occurrence]:
    """The occurrences in [start, end) of every series at these places or with these people, those
    moved there included."""
    reach = start - timedelta(days=8)  # an occurrence begun this long before may still run (as below)
    # A series comes here by a changed occurrence only through an exception dated in the window
    # (where the occurrence was, or where it went) that names one of these places or people: the
    # window's few exceptions are read and their people compared here (JSON is not searched by
    # value everywhere, and an exception keeping the series' people holds a JSON null, which SQL
    # does not tell from a list). Not every exception naming people: at national scale those are
    # a hundred series to load and expand for a question about two weeks.
    in_window = sa.or_(sa.and_(OccurrenceException.starts_at >= reach, OccurrenceException.starts_at < end),
                       sa.and_(OccurrenceException.recurrence_start >= reach,
                               OccurrenceException.recurrence_start < end))
    moved_in = {event_id for event_id, place_id, people in db.session.execute(
        sa.select(OccurrenceException.event_id, OccurrenceException.place_id, OccurrenceException.person_ids)
        .where(in_window)) if place_id in place_ids or not person_ids.isdisjoint(people or ())}
    # One set of ids (a union, each part by its index), not an OR of the three: PostgreSQL reads
    # an OR of IN (subquery) by scanning every series (16 ms at national scale, 0.5 ms this way).
    touching = sa.union(sa.select(Event.id).where(Event.place_id.in_(place_ids)),
                        sa.select(event_people.c.event_id).where(event_people.c.person_id.in_(person_ids)),
                        sa.select(Event.id).where(Event.id.in_(moved_in)))
    events = db.session.scalars(
        sa.select(Event).where(Event.id.in_(touching), Event.status != "cancelled",
                               sa.or_(Event.starts_at < end + timedelta(days=1), Event.id.in_(moved_in)),
                               sa.or_(Event.last_date.is_(None), Event.last_date >= reach.date(),
                                      Event.id.in_(moved_in)))
        .options(selectinload(Event.people), selectinload(Event.exceptions))).all()
    return [o for o in expand([rule_of(e) for e in events], start, end) if not o.is_cancelled]


def _context(person_ids: set[int]) -> DetectionContext:
    people: list[Person] = list(db.session.scalars(sa.select(Person).where(Person.id.in_(person_ids))))
    margins, _ = person_limits(people)
    return DetectionContext(travel_margin=margins)


def _hard_clash(candidate: Occurrence, others: list[Occurrence], ctx: DetectionContext) -> Occurrence | None:
    for other in others:
        if (other.event_id, other.recurrence_id) == (candidate.event_id, candidate.recurrence_id):
            continue
        if place_clash(candidate, other) or staff_clash(candidate, other, ctx):
            return other
    return None


def occurrences_of(event: Event, recurrence_ids: list[int]) -> list[Occurrence]:
    """The side's occurrences at these dates (recurrence ids), as they now stand."""
    wanted = set(recurrence_ids)
    if not wanted:
        return []
    lo = datetime.fromtimestamp(min(wanted), ZoneInfo("UTC")) - timedelta(days=8)
    hi = datetime.fromtimestamp(max(wanted), ZoneInfo("UTC")) + timedelta(days=8)
    return [o for o in expand([rule_of(event)], lo, hi) if o.recurrence_id in wanted and not o.is_cancelled]


def _busy_dates(candidates: list[Occurrence], others: list[Occurrence], ctx: DetectionContext,
                zone: ZoneInfo) -> tuple[datetime, ...]:
    return tuple(datetime.fromtimestamp(c.starts_at, zone) for c in candidates if _hard_clash(c, others, ctx))


def room_choices(event: Event, occurrences: list[Occurrence]) -> list[Choice]:
    """The other rooms of the side's place, each with the dates where it is taken."""
    place = event.place
    if place is None or not place.rooms or not occurrences:
        return []
    start, end = _window(occurrences)
    others = _neighbours({place.id}, set(), start, end)
    ctx, zone = DetectionContext(), ZoneInfo(event.timezone)
    current = {o.room for o in occurrences}
    return [Choice(room, room, _busy_dates([replace(o, room=room, person_ids=()) for o in occurrences],
                                           others, ctx, zone))
            for room in place.rooms if room not in current]


def person_choices(event: Event, occurrences: list[Occurrence], person: Person) -> list[Choice]:
    """The other people of `person`'s partner, each with the dates where they are taken."""
    if not occurrences:
        return []
    colleagues = list(db.session.scalars(sa.select(Person).where(
        Person.partner_id == person.partner_id, Person.id != person.id).order_by(Person.name)))
    if not colleagues:
        return []
    start, end = _window(occurrences)
    ids = {p.id for p in colleagues}
    others = _neighbours(set(), ids, start, end)
    ctx, zone = _context(ids), ZoneInfo(event.timezone)
    choices = []
    for p in colleagues:
        taken = [replace(o, person_ids=(p.id,)) for o in occurrences]
        mine = [x for x in others if p.id in x.person_ids]  # the colleague's own bookings
        choices.append(Choice(p.id, p.name, _busy_dates(taken, mine, ctx, zone)))
    return choices


def usual_hours(place_id: int | None) -> tuple[time, time, frozenset[int]]:
    """When the place is used: from the earliest start to the latest end of its series, on the
    weekdays they take (0 = Monday); office hours on weekdays when it has none."""
    if place_id is None:
        return (*DEFAULT_HOURS, DEFAULT_DAYS)
    rows = db.session.execute(sa.select(Event.start_time, Event.duration_minutes, Event.weekdays, Event.start_date)
                              .where(Event.place_id == place_id, Event.status != "cancelled",
                                     Event.all_day.is_(False))).all()
    if not rows:
        return (*DEFAULT_HOURS, DEFAULT_DAYS)
    opening = min(start for start, *_ in rows)
    closing = max(min(start.hour * 60 + start.minute + duration, 24 * 60 - 1) for start, duration, *_ in rows)
    days = frozenset(d for *_, weekdays, first in rows for d in (weekdays or [first.weekday()]))
    return opening, time(closing // 60, closing % 60), days


def _days_nearest(day: date) -> list[date]:
    """The day itself, then the nearest days on either side (the same week first)."""
    order = [day]
    for n in range(1, SLOT_DAYS + 1):
        order += [day - timedelta(days=n), day + timedelta(days=n)]
    return order


def free_slots(event: Event, occurrence: Occurrence, keep_clear_of: Sequence[Occurrence] = (),
               limit: int = SLOTS, now: datetime | None = None) -> list[Slot]:
    """The `limit` nearest slots where this occurrence could go with its duration, place, room and
    people, opening no hard overlap, within its place's usual hours and days: on its own day first
    (one slot a day, the nearest to its hour), then the nearest days (a day with another
    occurrence of the series is left out: a move there is refused). `keep_clear_of`: occurrences
    it must not meet at all (the other side of the case)."""
    zone = ZoneInfo(event.timezone)
    now = now or utcnow()
    length = occurrence.ends_at - occurrence.starts_at
    day = occurrence.start.date()
    start = datetime.combine(day - timedelta(days=SLOT_DAYS), time(), zone)
    end = datetime.combine(day + timedelta(days=SLOT_DAYS + 1), time(), zone)
    others = _neighbours({occurrence.place_id} if occurrence.place_id else set(), set(occurrence.person_ids),
                         start - timedelta(days=1), end + timedelta(days=1))
    own_days = {o.start.date() for o in expand([rule_of(event)], start, end)
                if not o.is_cancelled and o.recurrence_id != occurrence.recurrence_id}
    ctx = _context(set(occurrence.person_ids))
    opening, closing, open_days = usual_hours(occurrence.place_id)
    by_day: list[list[Slot]] = []  # each day's free slots, nearest to its hour first
    for candidate_day in _days_nearest(day):
        if candidate_day in own_days or candidate_day.weekday() not in open_days | {day.weekday()}:
            continue
        first = datetime.combine(candidate_day, opening, zone)
        last_start = datetime.combine(candidate_day, closing, zone) - timedelta(seconds=length)
        starts = []
        at = first
        while at <= last_start:
            starts.append(at)
            at += SLOT_STEP
        # Nearest to the hour it has (on its own day as on the others).
        hour = datetime.combine(candidate_day, occurrence.start.time(), zone).timestamp()
        starts.sort(key=lambda s: abs(s.timestamp() - hour))
        # Only what may meet this day (travel margins are minutes): the place's and people's
        # other days are most of `others`.
        day_lo, day_hi = first.timestamp() - DAY_SECONDS, last_start.timestamp() + length + DAY_SECONDS
        near = [o for o in others if o.starts_at < day_hi and o.ends_at > day_lo]
        free: list[Slot] = []
        for s in starts:
            begin = int(s.timestamp())
            if begin == occurrence.starts_at or s < now:
                continue
            candidate = replace(occurrence, starts_at=begin, ends_at=begin + length)
            if any(candidate.starts_at < o.ends_at and o.starts_at < candidate.ends_at for o in keep_clear_of):
                continue
            if _hard_clash(candidate, near, ctx) is None:
                free.append(Slot(s, s + timedelta(seconds=length)))
                if len(free) == limit:
                    break
        by_day.append(free)
        if sum(1 for f in by_day if f) >= limit:
            break
    # One slot a day first (three days to choose from rather than three hours of one), then the
    # next hours of the nearest days when the place opens on few days.
    found: list[Slot] = []
    for rank in range(limit):
        found += [f[rank] for f in by_day if len(f) > rank]
    return found[:limit]
