"""The recurrence oracle: a series' occurrences by dateutil.rrule and zoneinfo, one at a time,
holidays as EXDATEs. tests/test_recurrence.py checks `scheduler.time.recurrence.expand` against
it; bench/occurrences.py times it as its baseline."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekday

from scheduler.time.recurrence import Occurrence, SeriesRule

FREQUENCIES = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}


_holiday_calendars: dict[str, holidays.HolidayBase] = {}


def holiday_calendar(region: str) -> holidays.HolidayBase:
    """French public holidays of a region as `SeriesRule.holiday_region` names it."""
    if region not in _holiday_calendars:
        _holiday_calendars[region] = holidays.country_holidays(
            "FR", subdiv=None if region == "metropole" else region)
    return _holiday_calendars[region]


_school_holidays: dict[str, set[date]] = {}


_school_years: dict[str, set[int]] = {}


def school_holidays(zone: str, years: Iterable[int] = ()) -> set[date]:
    """The school holiday dates of a zone, from two years ago to five years ahead and in `years`,
    as the `holidays` package gives them (asked directly: this baseline shares nothing with
    Maillage's expansion). The years asked for matter: the tests' rules have fixed dates, which
    leave "two years ago" as the years go by."""
    this_year = date.today().year
    wanted = set(range(this_year - 2, this_year + 6)) | set(years)
    missing = wanted - _school_years.setdefault(zone, set())
    if missing:
        _school_holidays.setdefault(zone, set()).update(holidays.France(
            years=sorted(missing), subdiv=f"Zone {zone}", categories=(holidays.SCHOOL,)))
        _school_years[zone] |= missing
    return _school_holidays[zone]


def _excluded(r: SeriesRule, day: date) -> bool:
    """EXDATE: a public holiday the series skips, or a school holiday it pauses for."""
    return ((r.holiday_region is not None and day in holiday_calendar(r.holiday_region))
            or (r.school_zone is not None and day in school_holidays(r.school_zone, (day.year,))))


def _rrule(r: SeriesRule, dtstart: datetime):
    if r.frequency == "once":
        return [dtstart]
    byweekday = None
    if r.frequency == "weekly":
        byweekday = list(r.weekdays) or None
    elif r.frequency == "monthly":
        byweekday = [weekday(w)(r.month_week) for w in (r.weekdays or (dtstart.weekday(),))]
    return rrule(FREQUENCIES[r.frequency], dtstart=dtstart, interval=r.interval, byweekday=byweekday,
                 count=r.count)


def rrule_occurrences(r: SeriesRule, lo: datetime, hi: datetime) -> list[Occurrence]:
    """The rule's occurrences overlapping [lo, hi), by dateutil.rrule and zoneinfo, one at a time."""
    zone = ZoneInfo(r.timezone)
    lo_ts, hi_ts = lo.timestamp(), hi.timestamp()
    dtstart = datetime.combine(date.fromordinal(r.start_ord), time()) + timedelta(seconds=r.start_seconds)
    until = datetime.combine(date.fromordinal(r.until_ord), time(23, 59, 59)) if r.until_ord else None
    # Local wall-clock bounds wide enough for any offset and duration.
    after = lo.astimezone(UTC).replace(tzinfo=None) - timedelta(seconds=r.duration, days=1)
    before = hi.astimezone(UTC).replace(tzinfo=None) + timedelta(days=1)
    if until is not None and until < before:
        before = until
    public_holidays = holiday_calendar(r.holiday_region) if r.holiday_region else ()
    paused = school_holidays(r.school_zone, range(after.year, before.year + 1)) if r.school_zone else ()
    out: list[Occurrence] = []
    given: set[int] = set()
    for start in _rrule(r, dtstart):
        if start > before:
            break
        if start < after or (day := start.date()) in public_holidays or day in paused:  # EXDATE, COUNT counts them
            continue
        begins = int(start.replace(tzinfo=zone).timestamp())
        given.add(begins)
        occurrence = _with_exception(r, begins)
        if occurrence.ends_at > lo_ts and occurrence.starts_at < hi_ts:
            out.append(occurrence)
    # Occurrences moved into the window from a date outside it.
    for rec, spec in r.exceptions.items():
        if rec in given or spec.is_cancelled or spec.starts_at is None:
            continue
        occurrence = _with_exception(r, rec)
        if occurrence.ends_at > lo_ts and occurrence.starts_at < hi_ts and _gives(r, rec, zone, dtstart):
            out.append(occurrence)
    return out


def _gives(r: SeriesRule, rec: int, zone: ZoneInfo, dtstart: datetime) -> bool:
    local = datetime.fromtimestamp(rec, zone).replace(tzinfo=None)
    for start in _rrule(r, dtstart):
        if start > local + timedelta(hours=3) or (r.until_ord and start.date().toordinal() > r.until_ord):
            return False
        if int(start.replace(tzinfo=zone).timestamp()) == rec:
            return not _excluded(r, start.date())
    return False


def _with_exception(r: SeriesRule, rec: int) -> Occurrence:
    spec = r.exceptions.get(rec)
    if spec is None:
        return Occurrence(r.event_id, rec, rec, rec + r.duration, r.place_id, r.room, r.person_ids, r.timezone,
                          r.is_cancelled)
    starts = spec.starts_at if spec.starts_at is not None else rec
    duration = spec.duration if spec.duration is not None else r.duration
    place = spec.place_id if spec.place_id is not None else r.place_id
    room = spec.room if spec.room is not None else r.room
    people = tuple(spec.person_ids) if spec.person_ids is not None else r.person_ids
    moved = not spec.is_cancelled and (starts, duration, place, room, people) != (
        rec, r.duration, r.place_id, r.room, r.person_ids)
    return Occurrence(r.event_id, rec, starts, starts + duration, place, room, people, r.timezone,
                      r.is_cancelled or spec.is_cancelled, moved)
