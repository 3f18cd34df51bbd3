"""Reading one value of a VEVENT: the error that refuses it (located by its property), its dates
checked against the years of the calendar, its zone, its instant, and how a message quotes it."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from models.operations.territory import is_known_timezone
from scheduler.ical.ics_text import is_utc
from scheduler.time.rules import year_problem


def shown(value: str, limit: int = 60) -> str:
    """A value as a message quotes it: control characters named, long values cut."""
    value = "".join(f"U+{ord(c):04X}" if ord(c) < 32 or ord(c) == 127 else c for c in str(value))
    return value if len(value) <= limit else value[:limit] + "…"


def zone_name(value: datetime, tzid: str | None, fallback: str | None) -> str | None:
    """The IANA zone of a DTSTART when icalendar knows it (Outlook's Windows names included);
    `fallback` for UTC and for a zone only the file defines (see `plan_in_its_zone`)."""
    key = getattr(value.tzinfo, "key", None)
    if key and key != "UTC" and is_known_timezone(key):
        return key
    if tzid:
        try:
            name = WINDOWS_TO_OLSON.get(tzid, tzid)
            if is_known_timezone(name) and not is_utc(name):
                ZoneInfo(name)
                return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return fallback


def to_instant(value, zone: ZoneInfo, at: time) -> datetime:
    """An aware UTC instant from a DATE, a floating or an aware DATE-TIME."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    return datetime.combine(value, at, tzinfo=zone).astimezone(UTC)


class VeventError(Exception):
    """A VEVENT refused; `quote`: the message ends with its property's line as the file wrote it."""

    def __init__(self, message: str, prop: str | None = None, quote: bool = False):
        super().__init__(message)
        self.message, self.prop, self.quote = message, prop, quote


def prop(component, name: str):
    value = component.get(name)
    if value is None:
        return None
    if isinstance(value, list) and name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
        raise VeventError(f"{name} présent plusieurs fois dans le même événement", name)
    try:
        found = value.dt if hasattr(value, "dt") else value
    except Exception:  # a broken value (vBroken) raises on access
        raise VeventError(f"{name} : valeur illisible", name, quote=True) from None
    check_year(found, name)
    return found


def check_year(value, name: str) -> None:
    if isinstance(value, date):
        problem = year_problem(value)
        if problem:
            raise VeventError(f"{name} : {problem}", name)



def one_line(text: str) -> str:
    return " ".join(str(text).split())


def stamp(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if value.tzinfo else value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


