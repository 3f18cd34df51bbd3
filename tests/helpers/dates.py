"""Dates taken from today, and French dates written out as the pages write them."""
from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

# The application reads the real clock: the conflicts' horizon (today to twelve months), the
# notices' (90 days), the feeds' window, the pages' "this week", the sessions' lifetime. A test's
# dates are therefore found from today, never written out, so that the suite passes on any date.
# Cached: every test of a run gets the same dates, even one that runs past midnight (import them
# `from helpers.dates`: `tests.helpers.dates` would be a second copy, with its own cache).

PARIS = ZoneInfo("Europe/Paris")


def paris_today() -> date:
    return datetime.now(PARIS).date()


def french_holidays(*years: int) -> holidays.HolidayBase:
    """The metropole's public holidays (the ones series skip by default)."""
    return holidays.France(years=years)


def _paris_offset(day: date) -> timedelta:
    return datetime.combine(day, time(12), PARIS).utcoffset()


@functools.cache
def quiet_monday(weeks: int = 4, after_days: int = 7) -> date:
    """The first Monday at least `after_days` ahead that starts `weeks` weeks with no public holiday
    and no change of time in Paris: a weekly series there runs unbroken, at one UTC offset."""
    monday = paris_today() + timedelta(days=after_days)
    monday += timedelta(days=-monday.weekday() % 7)
    while True:
        span = [monday + timedelta(days=n) for n in range(weeks * 7)]
        days_off = french_holidays(monday.year, span[-1].year)
        if not any(day in days_off for day in span) and _paris_offset(span[0]) == _paris_offset(span[-1]):
            return monday
        monday += timedelta(weeks=1)


@functools.cache
def next_dst_sunday(month: int, after_days: int = 14) -> date:
    """The Sunday Paris changes time in `month` (3: summer time starts, 10: it ends), the first one
    more than `after_days` ahead."""
    assert month in (3, 10)
    year = paris_today().year
    while True:
        last = date(year, month, 31)
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        if sunday > paris_today() + timedelta(days=after_days):
            assert _paris_offset(sunday - timedelta(days=1)) != _paris_offset(sunday + timedelta(days=1))
            return sunday
        year += 1


def next_march_dst_sunday(after_days: int = 14) -> date:
    return next_dst_sunday(3, after_days)


def next_october_dst_sunday(after_days: int = 14) -> date:
    return next_dst_sunday(10, after_days)


def a_weekday_after(days: int, weekday: int, weeks: int = 1) -> date:
    """The first `weekday` (0 is Monday) at least `days` days after today that starts `weeks` such
    weekdays in a row with no public holiday (a series skips those by default)."""
    day = paris_today() + timedelta(days=days)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    while any(d in french_holidays(d.year) for d in (day + timedelta(weeks=n) for n in range(weeks))):
        day += timedelta(weeks=1)
    return day


def next_monday() -> date:
    """The coming Monday in Paris (a week from today when today is Monday)."""
    today = paris_today()
    return today + timedelta(days=7 - today.weekday())


def next_working_monday() -> date:
    """Next Monday, or the first Monday after it that is no public holiday and neither is its
    Tuesday: a weekly series from there is not taken out on its first date (series skip holidays
    by default; a single dated event never does)."""
    monday = next_monday()
    while monday in french_holidays(monday.year) or monday + timedelta(days=1) in french_holidays(monday.year):
        monday += timedelta(weeks=1)
    return monday


FRENCH_DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
FRENCH_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                 "novembre", "décembre"]


def french_day(day: date) -> str:
    """A date as the pages write it, "lundi 1er mars 2027" (written here again, not taken from the
    application, so that a test of its wording can fail)."""
    first = "er" if day.day == 1 else ""
    return f"{FRENCH_DAYS[day.weekday()]} {day.day}{first} {FRENCH_MONTHS[day.month - 1]} {day.year}"


def paris_at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


def utc_z(moment: datetime) -> str:
    """An instant as the API writes it in UTC: 2027-03-01T13:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
