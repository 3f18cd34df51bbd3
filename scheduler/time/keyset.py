"""The occurrences of a window a page at a time, in keyset order: (start instant, event id,
recurrence id), a total order in which an occurrence keeps its place whatever is written to other
events. A page is "the first `limit` occurrences after this key", so a reader walking the pages
gets every occurrence of the events nobody changed exactly once, even when writes happen between
two pages.

Why not expand the window and cut: a national week is 21,000 series and 25,000 occurrences, about
half a second to read and expand, for 500 returned. Here a page reads only the series that may
start an occurrence in a slice of time after its key, slice after slice (each twice as long as the
last) until it holds more than `limit`: the series' local start time, weekday (weekly rules) or
date (single events) are columns, so the database picks the few hundred that can fall in the
slice. The expansion then decides, exactly as everywhere else.

A slice's series are named (ids) before their rules are read: an empty slice (the night) costs
one look-up, and a slice where more series may start than one and a half times what the page
still needs is narrowed, down to its first start instant, whose series come by event id a chunk
at a time (9:00 on a Monday: 1,300 series, where a page of 500 needs about 600). Before this, the
first page of the national week doubled its slices from the quiet night into the busy morning
and read 2,700 series for 500 occurrences.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import Event, OccurrenceException, db
from models.base import in_ids
from scheduler.time.calendar import (
    CalendarFilter,
    EventFacts,
    PlaceFacts,
    _keep_in_place,
    _with_facts,
    check_window,
    event_ids_in_window,
    rules_in_window,
)
from scheduler.time.recurrence import DAY, Occurrence, epoch, expand
from scheduler.time.rules import in_calendar

Key = tuple[int, int, int]  # (starts_at, event_id, recurrence_id): epoch seconds, id, epoch seconds

# Occurrences that start before the window and still run at its start belong to its first page.
# Series longer than this are always read for that page; shorter ones only if they start within
# this much before the window.
LONG_SECONDS = 6 * 3600
FIRST_SLICE_SECONDS = 900
# Below these, one more round of queries (5-10 ms) costs more than reading a few more series (0.05
# ms each): the series a slice may hold before it is cut, and a chunk of an instant's series.
MIN_BUDGET, MIN_CHUNK = 200, 100
# A slice is twice as long as the last; one that holds too many series, a quarter as long (the
# busy hours are reached from the quiet ones in few steps).
GROWTH, NARROWING = 2, 4
# A slice wider than this is not narrowed by local day and time (it would list too many days).
MAX_NARROWED_DAYS = 7

BAD_CURSOR = "Curseur invalide : reprenez le lien « next » de la réponse précédente (en-tête Link)."


def key_of(o: Occurrence) -> Key:
    return (o.starts_at, o.event_id, o.recurrence_id)


def encode_cursor(key: Key) -> str:
    """Opaque to clients: they pass it back as it is."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    """The key a cursor carries; ValueError (with a French message) when it is not one we wrote."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(BAD_CURSOR) from None
    if not (isinstance(raw, list) and len(raw) == 3 and all(type(v) is int for v in raw)):
        raise ValueError(BAD_CURSOR)
    starts_at, event_id, recurrence_id = raw
    try:
        instants_ok = all(in_calendar(datetime.fromtimestamp(t, UTC)) for t in (starts_at, recurrence_id))
    except (OverflowError, OSError, ValueError):
        instants_ok = False
    if not instants_ok or not 0 < event_id < 2**63:
        raise ValueError(BAD_CURSOR)
    return starts_at, event_id, recurrence_id


def occurrences_page(f: CalendarFilter, start: datetime, end: datetime, limit: int, after: Key | None = None,
                     people: bool = False) -> tuple[list[tuple[Occurrence, EventFacts, PlaceFacts]], bool]:
    """The first `limit` occurrences of [start, end) (as `occurrences_between` gives them) whose key
    follows `after`, in key order, with the facts of their event and place; and whether more
    follow.

    What has been read is always every occurrence up to a key (a prefix of the order): the
    occurrences running in from before the window, then slices of time, then, where one start
    instant holds more series than the page needs (9:00 on a Monday: 1,300), that instant's series
    by event id, a chunk at a time."""
    check_window(start, end)
    lo, hi = epoch(start), epoch(end)
    found: list[Occurrence] = []
    zones = _zones()
    # The occurrences moved into the window (a few dozen in a national week): read once for
    # every slice of the page.
    moved = [(epoch(at), event_id) for at, event_id in db.session.execute(
        sa.select(OccurrenceException.starts_at, OccurrenceException.event_id)
        .where(OccurrenceException.starts_at >= start, OccurrenceException.starts_at < end)) if at is not None]

    candidates = event_ids_in_window(f, start, end)  # built once: a page asks it for each slice

    def read(s: int, t: int, where: sa.ColumnElement, carry: bool = False) -> None:
        """The occurrences of the events `where` names that start in [s, t) (`carry`: those
        that start before the window and run into it)."""
        rules = rules_in_window(f, start, end, people=people, where=where)
        occurrences = _keep_in_place(f, expand(rules, _instant(max(lo, s)), _instant(t)))
        found.extend(o for o in occurrences if (o.starts_at < lo if carry else o.starts_at >= s)
                     and (after is None or key_of(o) > after))

    def read_instant(x: int, from_id: int) -> bool:
        """The occurrences starting at the instant `x` of the events from `from_id`, by event id,
        until the page is full; whether the instant was read to its end."""
        may_start = _may_start_between(zones, x, x + 1, moved=moved)
        while len(found) <= limit:
            need = limit + 1 - len(found)
            # A few series of the chunk give nothing that day (holidays, every other week, ended).
            chunk = max(MIN_CHUNK, need + need // 4 + 1)
            ids = list(db.session.scalars(candidates.where(may_start, Event.id >= from_id)
                                          .order_by(Event.id).limit(chunk)))
            if ids:
                read(x, x + 1, in_ids(Event.id, ids))
            if len(ids) < chunk:
                return True
            from_id = ids[-1] + 1
        return False

    if after is None or after[0] < lo:
        read(lo - LONG_SECONDS, lo + 1, _may_start_between(zones, lo - LONG_SECONDS, lo, carry=True), carry=True)
        s = lo
    elif read_instant(after[0], after[1]):
        s = after[0] + 1
    else:
        s = hi
    step, narrowed = FIRST_SLICE_SECONDS, False
    while s < hi and len(found) <= limit:
        # Nights and quiet hours: straight to the next local start time any series has (a slice
        # just narrowed starts at one already).
        if not narrowed:
            s = max(s, min(hi, _next_start(zones, s)))
            if s >= hi:
                break
        t = min(hi, s + step)
        may_start = _may_start_between(zones, s, t, moved=moved)
        # A slice that grew from the quiet hours into the busy morning would read thousands of
        # series for a page of 500: when more than one and a half times what the page still
        # needs may start in it (their ids read first), a narrower one, down to its first instant
        # (`s` is one), read a chunk at a time.
        budget = max(MIN_BUDGET, 3 * (limit + 1 - len(found)) // 2)
        ids = list(db.session.scalars(candidates.where(may_start).limit(budget + 1)))
        narrowed = len(ids) > budget
        if not narrowed:
            if ids:  # the night's slices mostly hold none: no rules to ask for
                read(s, t, in_ids(Event.id, ids))  # by primary key: the slice's conditions are tested once
            s, step = t, step * GROWTH
        elif step > FIRST_SLICE_SECONDS:
            step = max(FIRST_SLICE_SECONDS, step // NARROWING)
        elif read_instant(s, 0):
            s, narrowed = s + 1, False
        else:
            break
    found.sort(key=key_of)
    return _with_facts(found[:limit], people), len(found) > limit


def _next_start(zones: list[str], s: int) -> int:
    """The earliest instant at or after `s` at which some series' start time or a moved occurrence
    falls, on the local day of `s` in each zone (or that day's end): a lower bound of the next
    occurrence's start (index-only look-ups, asked in one query: a page asks this for each slice)."""
    walls = []
    for zone in zones:
        pad = _offset_changes(zone, s // 3600 * 3600, s // 3600 * 3600 + 3600)
        walls.append((zone, pad, datetime.fromtimestamp(s - pad, ZoneInfo(zone))))
    firsts = db.session.execute(sa.select(
        sa.select(sa.func.min(OccurrenceException.starts_at)).where(OccurrenceException.starts_at >= _instant(s))
        .scalar_subquery(),
        *(sa.select(sa.func.min(Event.start_time)).where(
            Event.timezone == zone, Event.start_time >= wall.time().replace(microsecond=0)).scalar_subquery()
          for zone, _, wall in walls))).one()
    found = [int(firsts[0].timestamp())] if firsts[0] is not None else []
    for (zone, pad, wall), first in zip(walls, firsts[1:], strict=True):
        day = wall.date() + timedelta(days=1) if first is None else wall.date()
        found.append(int(datetime.combine(day, first or time(), ZoneInfo(zone)).timestamp()) - pad)
    return min(found) if found else s


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _zones() -> list[str]:
    """The zones of the series, from the index on (timezone, start_time): one look-up per zone
    (a loose index scan) rather than a DISTINCT over every series, which PostgreSQL answers by
    reading them all (6 ms at national scale, for each page)."""
    e = Event.__table__.alias("e")
    zones = sa.select(sa.func.min(Event.timezone).label("zone")).cte("zones", recursive=True)
    zones = zones.union_all(sa.select(sa.select(sa.func.min(e.c.timezone)).where(e.c.timezone > zones.c.zone)
                                      .scalar_subquery()).where(zones.c.zone.is_not(None)))
    return list(db.session.scalars(sa.select(zones.c.zone).where(zones.c.zone.is_not(None))))


@lru_cache(maxsize=512)
def _offset_changes(zone: str, lo: int, hi: int) -> int:
    """How far the zone's offset moves within a day around [lo, hi) (a change of time: 3600)."""
    z = ZoneInfo(zone)
    offsets = [datetime.fromtimestamp(t, z).utcoffset() or timedelta() for t in
               range(lo - DAY, hi + DAY + 1, 3 * 3600)]
    return int((max(offsets) - min(offsets)).total_seconds())


def _may_start_between(zones: list[str], lo: int, hi: int, carry: bool = False,
                       moved: list[tuple[int, int]] | None = None) -> sa.ColumnElement:
    """A condition on events: those that may have an occurrence starting in [lo, hi) (a superset).
    A series starts its occurrences at its local start time, on its weekdays (weekly) or its date
    (single), in its zone; moved occurrences start where their exception says (`moved`: (start,
    event id) of those moved into the page's window, read once; else asked here); with `carry`,
    the long series and occurrences (those that may run into the window from before it) too.

    Each part can use the index on (timezone, start_time) or the primary key: the few events
    that the other parts name are read first, as ids, so that the database reads a few hundred
    rows by index rather than testing every event."""
    long = LONG_SECONDS // 60
    in_slice = sa.and_(OccurrenceException.starts_at >= _instant(lo), OccurrenceException.starts_at < _instant(hi))
    named: sa.Select | sa.CompoundSelect = sa.select(OccurrenceException.event_id).where(in_slice)
    if carry:
        named = sa.union(
            sa.select(OccurrenceException.event_id).where(sa.or_(in_slice,
                                                                 OccurrenceException.duration_minutes > long)),
            sa.select(Event.id).where(Event.duration_minutes > long))
    ids = sorted({event_id for at, event_id in moved if lo <= at < hi}) if moved is not None and not carry \
        else list(db.session.scalars(named))
    clauses: list[sa.ColumnElement] = [Event.id.in_(ids)] if ids else []
    for zone in zones:
        clauses.append(sa.and_(Event.timezone == zone, _local_clause(zone, lo, hi)))
    return sa.or_(sa.false(), *clauses)


def _local_clause(zone: str, lo: int, hi: int) -> sa.ColumnElement:
    z = ZoneInfo(zone)
    # Around a change of time a local start time can be an hour off the wall clock of its instant
    # (a time the change skips takes the offset before it): widen by the change.
    pad = timedelta(seconds=_offset_changes(zone, lo // 3600 * 3600, -(-hi // 3600) * 3600))
    lo_wall = datetime.fromtimestamp(lo, z).replace(tzinfo=None) - pad
    hi_wall = datetime.fromtimestamp(hi, z).replace(tzinfo=None) + pad
    if (hi_wall.date() - lo_wall.date()).days >= MAX_NARROWED_DAYS:
        return sa.true()
    days = []
    day = lo_wall.date()
    while day <= hi_wall.date():
        # The start time first: it rules out most series before the costlier tests of the day.
        conditions = []
        if day == lo_wall.date() and lo_wall.time() != time():
            conditions.append(Event.start_time >= lo_wall.time())
        if day == hi_wall.date():
            conditions.append(Event.start_time < hi_wall.time() if pad.total_seconds() == 0
                              else Event.start_time <= hi_wall.time())
        days.append(sa.and_(*conditions, _on_day(day)))
        day += timedelta(days=1)
    return sa.or_(*days)


_WEEKDAYS = sa.cast(Event.weekdays, sa.Text)
_EXTRA_DATES = sa.cast(Event.extra_dates, sa.Text)
_MONTH_DAYS = sa.cast(Event.month_days, sa.Text)


@lru_cache(maxsize=64)
def _on_day(day) -> sa.ColumnElement:
    """Series that may give an occurrence on this local day. Weekdays are a JSON list of digits
    0–6: its text holds the digit of the day exactly when the list holds the day (portable across
    SQLite and PostgreSQL, unlike their JSON operators). Weekly rules, and monthly ones on a
    weekday of the month, fall on their weekdays; single events on their date; dates added to a
    rule can fall any day."""
    no_extra_dates = sa.or_(Event.extra_dates.is_(None), _EXTRA_DATES.in_(("null", "[]")))
    by_weekday = sa.and_(Event.frequency.in_(("weekly", "monthly")), _WEEKDAYS != "[]",
                         sa.or_(Event.month_days.is_(None), _MONTH_DAYS.in_(("null", "[]"))))
    return sa.not_(sa.and_(no_extra_dates, sa.or_(
        sa.and_(by_weekday, sa.not_(_WEEKDAYS.contains(str(day.weekday())))),
        sa.and_(Event.frequency == "once", Event.start_date != day))))
