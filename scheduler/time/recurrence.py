"""Recurrence expansion: the one function that turns series into occurrences.

Everything in Maillage that needs occurrences (the API, overlap detection, reminders, pages,
feeds' checks) calls `expand` or `expand_events`. A series is a wall-clock rule in its place's
time zone; each occurrence keeps its local time across DST and gets its own UTC instant.

Why not dateutil.rrule per series: at national scale (30,000 series, 1.5 million occurrences a
year) its per-occurrence datetime objects and zoneinfo conversions dominate. Here dates are day
ordinals, times are epoch seconds, and the UTC offset of a local time is computed once per zone
and local instant. The tests check this generator against dateutil.rrule as an oracle.
"""
from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from models.events import school_holidays_zone_of
from scheduler.time.holidays import (
    days_off,
    days_off_in_year,
    holiday_names,
    holiday_ordinals,
    holiday_region_of,
    school_holiday_names,
    school_holiday_ordinals,
)
from scheduler.time.months import by_month

EPOCH_ORD = date(1970, 1, 1).toordinal()
DAY = 86400


@dataclass(slots=True)
class Occurrence:
    """One occurrence, after exceptions. Instants are UTC epoch seconds."""

    event_id: int
    recurrence_id: int  # the instant the rule gives it: its identity, even once moved
    starts_at: int
    ends_at: int
    place_id: int | None
    room: str | None
    person_ids: tuple[int, ...]
    timezone: str
    is_cancelled: bool = False
    is_moved: bool = False

    @property
    def start(self) -> datetime:
        """Start as an aware datetime on the wall clock of its place."""
        return datetime.fromtimestamp(self.starts_at, ZoneInfo(self.timezone))

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.ends_at, ZoneInfo(self.timezone))

    @property
    def recurrence_start(self) -> datetime:
        return datetime.fromtimestamp(self.recurrence_id, UTC)


@dataclass(slots=True)
class ExceptionSpec:
    is_cancelled: bool
    starts_at: int | None = None
    duration: int | None = None
    place_id: int | None = None
    room: str | None = None
    person_ids: tuple[int, ...] | None = None


@dataclass(slots=True)
class SeriesRule:
    """What expansion needs of a series, free of the ORM (benchmarks build these directly)."""

    event_id: int
    timezone: str
    start_ord: int  # local start date, as date.toordinal()
    start_seconds: int  # local start time, seconds after midnight
    duration: int  # seconds
    frequency: str = "once"  # once, daily, weekly, monthly, yearly
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    month_week: int | None = None
    month_days: tuple[int, ...] = ()  # monthly or yearly on these days of the month (-1: the last)
    months: tuple[int, ...] = ()  # yearly on these months (1..12); () = the start's month
    extra_ords: tuple[int, ...] = ()  # dates added to the rule's (iCal RDATE), at the same time
    until_ord: int | None = None
    count: int | None = None
    holiday_region: str | None = "metropole"  # None: public holidays are not skipped
    school_zone: str | None = None  # "A", "B" or "C": paused during its school holidays; None: not paused
    all_day: bool = False  # days from midnight to midnight on the wall clock (duration: whole days)
    place_id: int | None = None
    room: str | None = None
    person_ids: tuple[int, ...] = ()
    is_cancelled: bool = False
    exceptions: dict[int, ExceptionSpec] = field(default_factory=dict)


# --- time zones and holidays ---------------------------------------------------------------

def utc_offset(aware: datetime) -> timedelta:
    """The offset from UTC of a datetime that has its zone (a ZoneInfo always gives one)."""
    offset = aware.utcoffset()
    if offset is None:
        raise ValueError(f"{aware!r} has no UTC offset")
    return offset


class _ZoneOffsets:
    """UTC offset of local instants in one zone, memoised: a national calendar has few distinct
    (day, time) pairs per zone, so each is computed by zoneinfo once."""

    __slots__ = ("cache", "zone")

    def __init__(self, name: str):
        self.zone = ZoneInfo(name)
        self.cache: dict[int, int] = {}

    def offset(self, local_seconds: int) -> int:
        off = self.cache.get(local_seconds)
        if off is None:
            naive = datetime(1970, 1, 1) + timedelta(seconds=local_seconds)
            # fold=0: an ambiguous time is its first instance, a skipped one takes the offset
            # in force before the change (RFC 5545, 3.3.5).
            off = int(utc_offset(naive.replace(tzinfo=self.zone)).total_seconds())
            self.cache[local_seconds] = off
        return off

    def utc_starts(self, days: list[int], seconds: int) -> list[int]:
        """UTC epoch seconds of the wall-clock time `seconds` after midnight on each local day."""
        cache = self.cache
        local = [(d - EPOCH_ORD) * DAY + seconds for d in days]
        for missing in [t for t in local if t not in cache]:
            self.offset(missing)
        return [t - cache[t] for t in local]


@cache
def zone_offsets(name: str) -> _ZoneOffsets:
    return _ZoneOffsets(name)


def day_off_reason(rule: SeriesRule, ordinal: int) -> str | None:
    """Why the rule leaves a day out, in French ("Noël", "vacances de Noël"); None if it does not."""
    day = date.fromordinal(ordinal)
    if rule.holiday_region is not None and ordinal in holiday_ordinals(rule.holiday_region, day.year):
        return holiday_names(rule.holiday_region, day.year).get(day, "jour férié")
    if rule.school_zone is not None and ordinal in school_holiday_ordinals(rule.school_zone, day.year):
        name = school_holiday_names(rule.school_zone, day.year).get(day, "vacances scolaires")
        return name[0].lower() + name[1:] if name.startswith("Vacances") else name
    return None


def is_day_off(rule: SeriesRule, ordinal: int) -> bool:
    """Does the rule leave this day out: a public holiday it skips, a school holiday it pauses for?"""
    if rule.holiday_region is None and rule.school_zone is None:
        return False
    return ordinal in days_off_in_year(rule.holiday_region, rule.school_zone, date.fromordinal(ordinal).year)


# --- the rule ------------------------------------------------------------------------------

def rule_dates(rule: SeriesRule, lo_ord: int, hi_ord: int) -> Iterator[int]:
    """Local day ordinals the rule gives within [lo_ord, hi_ord], in order, before holidays and
    exceptions. COUNT counts from the series' start, holidays included (as RRULE + EXDATE does)."""
    return iter(rule_days(rule, lo_ord, hi_ord))


def rule_days(rule: SeriesRule, lo_ord: int, hi_ord: int) -> list[int]:
    """rule_dates as a list: the rule's days, and the dates added to it (RDATE: outside COUNT and
    UNTIL, which bound the rule only, as RFC 5545 has them)."""
    days = _rule_only(rule, lo_ord, hi_ord)
    if rule.extra_ords:
        extra = [d for d in rule.extra_ords if max(lo_ord, rule.start_ord) <= d <= hi_ord]
        if extra:
            return sorted(set(days).union(extra))
    return days


def _rule_only(rule: SeriesRule, lo_ord: int, hi_ord: int) -> list[int]:
    """Daily and weekly rules are arithmetic progressions of days, built with range() in C rather
    than one Python step per occurrence; a count becomes a last day."""
    start = rule.start_ord
    if rule.until_ord is not None and rule.until_ord < hi_ord:
        hi_ord = rule.until_ord
    lo_ord = max(lo_ord, start)
    if hi_ord < lo_ord:
        return []
    freq = rule.frequency
    if freq == "once":
        return [start] if lo_ord <= start <= hi_ord else []
    if freq == "daily":
        step = rule.interval
        if rule.count is not None:
            hi_ord = min(hi_ord, start + (rule.count - 1) * step)
        first = start + -(-(lo_ord - start) // step) * step
        return list(range(first, hi_ord + 1, step))
    if freq == "weekly":
        return _weekly(rule, lo_ord, hi_ord)
    if freq in ("monthly", "yearly"):
        assert freq == "yearly" or rule.month_week is not None or rule.month_days, \
            "a monthly rule names its week or its days (scheduler.time.rules checks it)"
        return by_month(start, rule.interval, freq == "yearly", rule.months, rule.count,
                        rule.weekdays or (date.fromordinal(start).weekday(),), rule.month_week, rule.month_days,
                        lo_ord, hi_ord)
    raise ValueError(f"unknown frequency {freq!r}")


def _weekly(rule: SeriesRule, lo_ord: int, hi_ord: int) -> list[int]:
    start = rule.start_ord
    days = sorted(set(rule.weekdays)) if rule.weekdays else [(start - 1) % 7]  # ordinal 1 is a Monday
    anchor = start - (start - 1) % 7  # the Monday of the first week
    period = 7 * rule.interval
    if rule.count is not None:
        # The count-th day, counting week by week from the first week's days on or after start.
        nth = rule.count - 1 + sum(1 for w in days if anchor + w < start)
        hi_ord = min(hi_ord, anchor + nth // len(days) * period + days[nth % len(days)])
    base = anchor + max(0, (lo_ord - anchor) // period) * period  # the week of lo_ord (or before)
    found: list[int] = []
    for w in days:
        first = base + w if base + w >= lo_ord else base + w + period
        found.extend(range(first, hi_ord + 1, period))
    if len(days) > 1:
        found.sort()
    return found


# --- expansion -----------------------------------------------------------------------------

def epoch(instant: datetime) -> int:
    """An aware datetime as UTC epoch seconds, the unit of the time model."""
    if instant.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    return int(instant.timestamp())


def expand(rules: Iterable[SeriesRule], start: datetime, end: datetime, limit: int | None = None) -> list[Occurrence]:
    """Occurrences of the series that overlap [start, end), after holidays and exceptions,
    cancelled ones included (flagged). Not sorted: callers that need an order sort what they keep.
    With a `limit`, it stops as soon as it holds more than that many (a caller that refuses
    larger answers need not expand the rest).

    Why it is fast (1.5 million occurrences at national scale): each series is a few list
    comprehensions over day ordinals and epoch seconds; zoneinfo is asked once per zone and local
    instant; only series with exceptions take the slower path; the cyclic garbage collector
    pauses meanwhile (see gc_paused)."""
    lo, hi = epoch(start), epoch(end)
    out: list[Occurrence] = []
    with gc_paused():
        for rule in rules:
            _expand_one(rule, lo, hi, out)
            if limit is not None and len(out) > limit:
                break
    return out


@contextmanager
def gc_paused():
    """Creating a million occurrences would set off the cyclic collector hundreds of times, each
    full pass walking every live object (two thirds of expand's time at national scale). The
    objects made here hold no cycles, so there is nothing for it to find until we are done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _expand_one(rule: SeriesRule, lo: int, hi: int, out: list[Occurrence]) -> None:
    duration = rule.duration
    # Local days that can hold an occurrence overlapping the window (±14 h of offsets).
    lo_ord = (lo - duration - DAY) // DAY + EPOCH_ORD
    hi_ord = (hi + DAY) // DAY + EPOCH_ORD
    days = rule_days(rule, lo_ord, hi_ord)
    if days and (rule.holiday_region is not None or rule.school_zone is not None):
        skip = days_off(rule.holiday_region, rule.school_zone, lo_ord, hi_ord)
        days = [d for d in days if d not in skip]
    starts = zone_offsets(rule.timezone).utc_starts(days, rule.start_seconds)
    if rule.all_day:
        # Whole days of the wall clock: 23 or 25 hours across a change of time, not the duration.
        span = duration // DAY
        ends = zone_offsets(rule.timezone).utc_starts([d + span for d in days], 0)
        out.extend(_with_exceptions(rule, starts, lo, hi, dict(zip(starts, ends, strict=True))))
        return
    if rule.exceptions:
        out.extend(_with_exceptions(rule, starts, lo, hi))
        return
    earliest = lo - duration  # an occurrence starting after it ends after lo
    ev, place, room, people, tz, cancelled = (rule.event_id, rule.place_id, rule.room,
                                               rule.person_ids, rule.timezone, rule.is_cancelled)
    out.extend([Occurrence(ev, s, s, s + duration, place, room, people, tz, cancelled)
                for s in starts if earliest < s < hi])


def _with_exceptions(rule: SeriesRule, starts: list[int], lo: int, hi: int,
                     ends: dict[int, int] | None = None) -> list[Occurrence]:
    """The occurrences of one series with cancelled or moved ones, in and out of the window;
    `ends`: the end of each start when it is not start + duration (all-day series)."""
    out = []
    exceptions = rule.exceptions
    for rec in starts:
        spec = exceptions.get(rec)
        end = ends[rec] if ends is not None else rec + rule.duration
        occ = (_apply_exception(rule, rec, spec, end - rec) if spec is not None else
               Occurrence(rule.event_id, rec, rec, end, rule.place_id, rule.room,
                          rule.person_ids, rule.timezone, rule.is_cancelled))
        if occ.ends_at > lo and occ.starts_at < hi:
            out.append(occ)
    # Occurrences moved into the window from a date outside it.
    given = set(starts)
    for rec, spec in exceptions.items():
        if rec in given or spec.is_cancelled or spec.starts_at is None:
            continue
        occ = _apply_exception(rule, rec, spec)
        if occ.ends_at > lo and occ.starts_at < hi and gives_occurrence(rule, rec):
            out.append(occ)
    return out


def _apply_exception(rule: SeriesRule, rec: int, spec: ExceptionSpec, length: int | None = None) -> Occurrence:
    """`length`: the occurrence's own length when the rule gives it (an all-day one on a day of
    23 or 25 hours), else its duration."""
    natural = rule.duration if length is None else length
    starts = spec.starts_at if spec.starts_at is not None else rec
    duration = spec.duration if spec.duration is not None else natural
    moved = not spec.is_cancelled and (
        starts != rec or duration != natural
        or (spec.place_id is not None and spec.place_id != rule.place_id)
        or (spec.room is not None and spec.room != rule.room)
        or (spec.person_ids is not None and tuple(spec.person_ids) != rule.person_ids))
    return Occurrence(
        rule.event_id, rec, starts, starts + duration,
        spec.place_id if spec.place_id is not None else rule.place_id,
        spec.room if spec.room is not None else rule.room,
        tuple(spec.person_ids) if spec.person_ids is not None else rule.person_ids,
        rule.timezone, rule.is_cancelled or spec.is_cancelled, moved,
    )


def gives_occurrence(rule: SeriesRule, recurrence_id: int) -> bool:
    """Does the rule give an occurrence at this instant (a holiday it skips or a school holiday it
    pauses for does not count)?"""
    return occurrence_on(rule, local_day(rule, recurrence_id)) == recurrence_id


def local_day(rule: SeriesRule, instant: int) -> int:
    """The day ordinal of an instant on the rule's wall clock."""
    return datetime.fromtimestamp(instant, zone_offsets(rule.timezone).zone).toordinal()


def occurrence_on(rule: SeriesRule, day_ord: int) -> int | None:
    """The instant (its recurrence id) of the occurrence the rule gives on a local day; None when
    it gives none that day (not one of its dates, or a holiday it skips or pauses for)."""
    if next(rule_dates(rule, day_ord, day_ord), None) is None or is_day_off(rule, day_ord):
        return None
    local = (day_ord - EPOCH_ORD) * DAY + rule.start_seconds
    return local - zone_offsets(rule.timezone).offset(local)


def carried_over(old: SeriesRule, new: SeriesRule, recurrence_ids: Iterable[int]) -> dict[int, int | None]:
    """Where the exceptions of a series go when its rule changes: each to the occurrence the new
    rule gives on the same local date (an occurrence is a date of the series to the people who
    plan around it: "the Monday of the vote"), re-keyed to the instant the new rule gives it, its
    wall-clock time kept across DST; None when the new rule has no occurrence that date.

    Two exceptions never land on one occurrence: one the old rule really gave wins over a stray
    one (a key no longer of its rule) of the same date, which is dropped."""
    ordered = sorted(recurrence_ids, key=lambda rec: (not gives_occurrence(old, rec), rec))
    taken: set[int] = set()
    found: dict[int, int | None] = {}
    for rec in ordered:
        target = occurrence_on(new, local_day(old, rec))
        if target in taken:
            target = None
        if target is not None:
            taken.add(target)
        found[rec] = target
    return found


def skipped_holidays(rule: SeriesRule, lo_ord: int, hi_ord: int) -> list[int]:
    """The rule's dates in [lo_ord, hi_ord] that holidays take out: the public holidays it skips
    and the school holidays it pauses for (the feeds write them as EXDATE)."""
    if rule.holiday_region is None and rule.school_zone is None:
        return []
    # A dozen public holidays and a few months of school holidays a year: ask the rule about each
    # of them rather than walk all its dates (the feeds call this for every series they write).
    lo_year, hi_year = date.fromordinal(max(lo_ord, 1)).year, date.fromordinal(hi_ord).year
    weekdays = set(rule.weekdays) if rule.frequency in ("weekly", "monthly") and rule.weekdays \
        and not rule.month_days and not rule.extra_ords else None
    days = sorted(d for year in range(lo_year, hi_year + 1)
                  for d in days_off_in_year(rule.holiday_region, rule.school_zone, year)
                  if lo_ord <= d <= hi_ord and (weekdays is None or (d - 1) % 7 in weekdays))
    if rule.frequency == "weekly" and rule.weekdays and rule.interval == 1 and rule.count is None \
            and not rule.extra_ords:
        # Every such weekday from the start to the end is a date of the rule: nothing to ask.
        until = rule.until_ord if rule.until_ord is not None else hi_ord
        return [d for d in days if rule.start_ord <= d <= until]
    if len(days) > 24:  # school holidays: one walk of the rule costs less than a question a day
        given = set(rule_days(rule, lo_ord, hi_ord))
        return [d for d in days if d in given]
    return [d for d in days if next(rule_dates(rule, d, d), None) is not None]


# --- from the ORM --------------------------------------------------------------------------

def rule_of(event) -> SeriesRule:
    """The SeriesRule of an Event model (its exceptions must be loaded or loadable)."""
    exceptions = {
        epoch(x.recurrence_start): ExceptionSpec(
            x.is_cancelled,
            epoch(x.starts_at) if x.starts_at is not None else None,
            x.duration_minutes * 60 if x.duration_minutes is not None else None,
            x.place_id, x.room,
            tuple(x.person_ids) if x.person_ids is not None else None,
        )
        for x in event.exceptions
    }
    t = event.start_time
    return SeriesRule(
        event_id=event.id,
        timezone=event.timezone,
        start_ord=event.start_date.toordinal(),
        start_seconds=t.hour * 3600 + t.minute * 60 + t.second,
        duration=event.duration_minutes * 60,
        frequency=event.frequency,
        interval=event.interval or 1,
        weekdays=tuple(event.weekdays or ()),
        month_week=event.month_week,
        month_days=tuple(event.month_days or ()),
        months=tuple(event.months or ()),
        extra_ords=tuple(date.fromisoformat(d).toordinal() for d in event.extra_dates or ()),
        until_ord=event.until.toordinal() if event.until else None,
        count=event.count,
        holiday_region=holiday_region_of(event.holiday_region) if event.skip_public_holidays else None,
        school_zone=school_zone_of_series(event),
        all_day=bool(event.all_day),
        place_id=event.place_id,
        room=event.room,
        person_ids=tuple(p.id for p in event.people),
        is_cancelled=event.status == "cancelled",
        exceptions=exceptions,
    )


def school_zone_of_series(event) -> str | None:
    """The zone whose school holidays pause the series, None when it does not pause (an Event, or a
    row with its columns)."""
    return school_holidays_zone_of(event) if event.pause_school_holidays else None


def expand_events(events: Iterable, start: datetime, end: datetime) -> list[Occurrence]:
    """Expand Event models; results sorted by start, then event."""
    occurrences = expand([rule_of(e) for e in events], start, end)
    occurrences.sort(key=lambda o: (o.starts_at, o.event_id))
    return occurrences
