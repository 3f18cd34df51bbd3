"""iCalendar text as Maillage writes it: TEXT escaping, folding at 75 octets, UTC stamps, values on
a zone's wall clock (or in UTC when a change of time makes them ambiguous or skips them), and the
VTIMEZONE of a zone written with yearly RRULEs (Outlook mishandles RDATE lists)."""
from __future__ import annotations

import calendar as calendar_lib
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from models.events import WEEKDAY_CODES
from scheduler.time.recurrence import (
    utc_offset,
)

# --- the text format -------------------------------------------------------------------------

def escape_text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newline escaped; CR dropped."""
    # Chained replace() runs in C; str.translate with a mapping to strings does not.
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\n").replace("\r", "").replace("\n", "\\n"))


def fold(line: str) -> str:
    """One content line folded at 75 octets, never inside a UTF-8 character, CRLF-terminated."""
    if len(line) <= 75 and line.isascii():  # most lines: no need to count octets
        return line + "\r\n"
    raw = line.encode()
    if len(raw) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # a continuation byte: step back
            end -= 1
        parts.append(raw[start:end].decode())
        start, limit = end, 74  # continuation lines start with a space, which counts
    return "\r\n ".join(parts) + "\r\n"


@lru_cache(maxsize=4096)  # many events share their stamps (bulk imports, a day's edits)
def utc_stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@lru_cache(maxsize=65536)  # a feed's events share their days and start times
def local_of_ordinal(day_ord: int, seconds: int) -> str:
    d = date.fromordinal(day_ord)
    return f"{d.year:04d}{d.month:02d}{d.day:02d}T{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"


def local_of_epoch(epoch: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, zone).strftime("%Y%m%dT%H%M%S")


@cache
def is_utc(tzid: str) -> bool:
    """A zone whose clock has always been UTC's (UTC, Etc/UTC, GMT, Etc/GMT, Zulu…): its wall
    clock is the UTC value. Tested on the zone's behaviour rather than on a list of its names, so
    that every alias counts; Africa/Abidjan and Europe/London, with their past or summer offsets, do not."""
    zone = ZoneInfo(tzid)
    return all(not datetime(year, month, 1, tzinfo=UTC).astimezone(zone).utcoffset()
               for year in range(1800, 2201) for month in (1, 4, 7, 10))


@cache
def zone_form(tzid: str) -> tuple[str, str]:
    """How a DATE-TIME of this zone is written: `NAME` + first + wall clock + second.
    (";TZID=Europe/Paris:", "") for a zone with a VTIMEZONE; (":", "Z") for UTC (DESIGN.md:
    UTC values end in Z, never TZID=UTC; many clients know no zone called UTC or GMT)."""
    return (":", "Z") if is_utc(tzid) else (f";TZID={tzid}:", "")


def _unclear(naive: datetime, zone: ZoneInfo) -> bool:
    """A wall-clock time that a change of time makes ambiguous (autumn) or skips (spring)."""
    return naive.replace(tzinfo=zone, fold=0).utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset()


def instant_value(epoch: int, zone: ZoneInfo, tzid: str) -> str:
    """`;TZID=…:wall clock` for an instant, or `:…Z` when its wall-clock time is ambiguous: readers
    take the first instance of an ambiguous time, which may not be this one (DESIGN.md)."""
    at, z = zone_form(tzid)
    local = datetime.fromtimestamp(epoch, zone)
    if not z and _unclear(local.replace(tzinfo=None), zone):
        return ":" + utc_stamp(local)
    return f"{at}{local:%Y%m%dT%H%M%S}{z}"


def recurrence_value(rec: int, rule, zone: ZoneInfo, tzid: str) -> str:
    """A RECURRENCE-ID (or EXDATE) in the form of DTSTART, or in UTC when the rule's wall-clock time
    is ambiguous or skipped that day: readers then expand the rule to an instant of their own
    choosing, and only the UTC value names the one the series gives."""
    at, z = zone_form(tzid)
    local = datetime.fromtimestamp(rec, zone)
    wall = datetime.combine(local.date(), datetime.min.time()) + timedelta(seconds=rule.start_seconds)
    if not z and (_unclear(wall, zone) or _unclear(local.replace(tzinfo=None), zone)):
        return ":" + utc_stamp(local)
    return f"{at}{local:%Y%m%dT%H%M%S}{z}"


def other_readings(rule, zone: ZoneInfo) -> list[int]:
    """For the exceptions of a series at a wall-clock time that the spring change skips, the other
    instant readers may give that date: RFC 5545 takes the offset before the change (what the
    series gives, and its RECURRENCE-ID in UTC names), vobject and ical.js the one after. Written
    as an EXDATE, their occurrence does not stay live beside the cancelled or moved one."""
    found = []
    for rec in rule.exceptions:
        local = datetime.fromtimestamp(rec, zone)
        wall = datetime.combine(local.date(), datetime.min.time()) + timedelta(seconds=rule.start_seconds)
        before, after = (int(wall.replace(tzinfo=zone, fold=f).timestamp()) for f in (0, 1))
        if before == rec and after != rec and utc_offset(wall.replace(tzinfo=zone, fold=0)) < \
                utc_offset(wall.replace(tzinfo=zone, fold=1)):
            found.append(after)
    return sorted(found)


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    text = f"{sign}{seconds // 3600:02d}{seconds // 60 % 60:02d}"
    return text + (f"{seconds % 60:02d}" if seconds % 60 else "")


# --- VTIMEZONE with yearly rules --------------------------------------------------------------

def _transitions(zone: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """The UTC instants in `year` at which the zone's offset changes: (instant, before, after)."""
    found = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    before = utc_offset(t.astimezone(zone))
    while t < end:
        nxt = t + timedelta(days=1)
        after = utc_offset(nxt.astimezone(zone))
        if after != before:
            lo, hi = t, nxt  # bisect to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if utc_offset(mid.astimezone(zone)) == before:
                    lo = mid
                else:
                    hi = mid
            found.append((hi.replace(second=0, microsecond=0), before, after))
            before = after
        t = nxt
    return found


@cache
def vtimezone(tzid: str, year: int) -> str:
    """A VTIMEZONE for the zone's rules in force in `year`, as yearly RRULEs from 1970."""
    zone = ZoneInfo(tzid)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}", f"X-LIC-LOCATION:{tzid}"]
    transitions = _transitions(zone, year)
    if not transitions:
        probe = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
        offset = _offset(int(utc_offset(probe).total_seconds()))
        lines += ["BEGIN:STANDARD", f"TZOFFSETFROM:{offset}", f"TZOFFSETTO:{offset}",
                  f"TZNAME:{probe.tzname()}", "DTSTART:19700101T000000", "END:STANDARD"]
    for instant, before, after in transitions:
        wall = (instant + before).replace(tzinfo=None)  # the local time the change happens at
        length = calendar_lib.monthrange(wall.year, wall.month)[1]
        nth = -1 if wall.day + 7 > length else (wall.day - 1) // 7 + 1
        weekday = wall.weekday()
        # The first such day in 1970, so that DTSTART matches its own RRULE.
        first_1970 = _nth_weekday(1970, wall.month, weekday, nth)
        local_after = instant.astimezone(zone)
        kind = "DAYLIGHT" if local_after.dst() else "STANDARD"
        lines += [f"BEGIN:{kind}", f"TZOFFSETFROM:{_offset(int(before.total_seconds()))}",
                  f"TZOFFSETTO:{_offset(int(after.total_seconds()))}", f"TZNAME:{local_after.tzname()}",
                  f"DTSTART:{first_1970:%Y%m%d}T{wall:%H%M%S}",
                  f"RRULE:FREQ=YEARLY;BYMONTH={wall.month};BYDAY={nth}{WEEKDAY_CODES[weekday]}",
                  f"END:{kind}"]
    lines.append("END:VTIMEZONE")
    return "".join(fold(line) for line in lines)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth == -1:
        last = date(year, month, calendar_lib.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
