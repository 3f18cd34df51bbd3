"""Reading a feed back the way calendars do, with three independent parsers.

icalendar + recurring-ical-events, vobject and its own rruleset, and ical.js run by node; each
gives the occurrences of a window as {(start epoch, end epoch, is_cancelled)}, the shape
`api_occurrences` gives for /api/v1/occurrences.
"""
from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import vobject

from helpers.api_pages import all_occurrences


def _epoch(value, date_zone=None) -> int:
    """Epoch seconds of a DATE-TIME; a DATE is its midnight on the wall clock of `date_zone` (the
    zone of the place of an all-day event, as the API gives it), refused without one."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise AssertionError(f"floating time in a feed: {value}")
        return int(value.timestamp())
    if date_zone is not None:
        return int(datetime.combine(value, time(), date_zone).timestamp())
    raise AssertionError(f"all-day value where a time was expected: {value!r}")


def with_icalendar(body: bytes, start: datetime, end: datetime, date_zone=None) -> set[tuple[int, int, bool]]:
    calendar = icalendar.Calendar.from_ical(body)
    found = set()
    # Read as RFC 5545 says. `recurring_ical_events.of()` would first apply the x-wr-timezone
    # package, which moves every UTC value into X-WR-TIMEZONE and so repeats a series written
    # at 08:00Z on the Paris wall clock (07:00Z in summer). X-WR-TIMEZONE is for floating times,
    # which our feeds never have (`_epoch` refuses them): without it, nothing else changes.
    for component in recurring_ical_events.CalendarQuery(calendar).between(start, end):
        status = str(component.get("STATUS", "CONFIRMED")).upper()
        found.add((_epoch(component["DTSTART"].dt, date_zone), _epoch(component["DTEND"].dt, date_zone),
                   status == "CANCELLED"))
    return found


def with_vobject(body: bytes, start: datetime, end: datetime, date_zone=None) -> set[tuple[int, int, bool]]:
    calendar = vobject.readOne(body.decode("utf-8"))
    lo, hi = start.timestamp(), end.timestamp()
    masters, overrides = {}, {}

    def epoch(value) -> int:
        if date_zone is not None and isinstance(value, datetime) and value.tzinfo is None:
            value = value.date()  # the rruleset of a DATE series gives naive midnights
        return _epoch(value, date_zone)

    for vevent in calendar.vevent_list:
        uid = vevent.uid.value
        if hasattr(vevent, "recurrence_id"):
            overrides.setdefault(uid, {})[epoch(vevent.recurrence_id.value)] = vevent
        else:
            masters[uid] = vevent
    found = set()

    def status_of(v) -> bool:
        return hasattr(v, "status") and v.status.value.upper() == "CANCELLED"

    for uid, master in masters.items():
        first, first_end = master.dtstart.value, master.dtend.value
        duration = epoch(first_end) - epoch(first)
        days = None if isinstance(first, datetime) else (first_end - first).days  # all day: whole days
        if hasattr(master, "rrule") or hasattr(master, "rdate"):  # a set of RDATEs alone is a series too
            starts = [epoch(d) for d in master.getrruleset(addRDate=True)]
        else:
            starts = [epoch(first)]
        moved = overrides.get(uid, {})
        for s in starts:
            if s in moved:
                v = moved[s]
                item = (epoch(v.dtstart.value), epoch(v.dtend.value), status_of(v) or status_of(master))
            elif days is not None:
                day = datetime.fromtimestamp(s, date_zone).date()
                item = (s, epoch(day + timedelta(days=days)), status_of(master))
            else:
                item = (s, s + duration, status_of(master))
            if item[1] > lo and item[0] < hi:
                found.add(item)
    return found


def api_occurrences(client, start: date, end: date, headers=None, **filters) -> set[tuple[int, int, bool]]:
    found = all_occurrences(client, headers=headers, start=start.isoformat(), end=end.isoformat(), **filters)
    return {(_epoch(datetime.fromisoformat(o["starts_at"])), _epoch(datetime.fromisoformat(o["ends_at"])),
             o["is_cancelled"]) for o in found}


def window(start: date, end: date, tz) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), tz), datetime.combine(end, time(), tz)


ICALJS_SCRIPT = Path(__file__).resolve().parent.parent / "vendor" / "occurrences.cjs"


def with_icaljs(body: bytes, start: datetime, end: datetime, floating_zone=None) -> set[tuple[int, int, bool]]:
    """The occurrences as ical.js (Thunderbird's reader, run by node) gives them; overrides are
    passed to their series explicitly with strictExceptions (tests/vendor/occurrences.cjs).
    Floating times and dates are on the wall clock of `floating_zone` (our feeds have none: an
    imported file may), and refused without one."""
    result = subprocess.run(["node", str(ICALJS_SCRIPT), str(int(start.timestamp())), str(int(end.timestamp()))],
                            input=body, capture_output=True, check=False, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"ical.js could not read the feed: {result.stderr.decode()[-2000:]}")

    def instant(epoch: int, floating: bool) -> int:
        if not floating:
            return int(epoch)
        if floating_zone is None:
            raise AssertionError("floating time or date where an instant was expected")
        wall = datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)
        return int(wall.replace(tzinfo=floating_zone).timestamp())

    return {(instant(s, fs), instant(e, fe), bool(c)) for s, e, c, fs, fe in json.loads(result.stdout)}


PARIS = ZoneInfo("Europe/Paris")


def read_by_all(client, headers=None, live_only: bool = False, start: date = date(2027, 1, 1),
                end: date = date(2028, 1, 1)) -> tuple[bytes, set]:
    """The feed, and the occurrences every parser and the API agree on (asserted); `live_only`:
    on those that take place (a reader may drop a cancelled occurrence rather than show it so); the
    occurrences from `start` to `end` (the year 2027: its changes of time)."""
    body = client.get("/feeds/all.ics").data
    lo, hi = window(start, end, PARIS)
    by_api = api_occurrences(client, start, end, headers=headers)

    def kept(found: set) -> set:
        return {o for o in found if not o[2]} if live_only else found

    assert kept(with_icalendar(body, lo, hi)) == kept(by_api)
    assert kept(with_vobject(body, lo, hi)) == kept(by_api)
    assert kept(with_icaljs(body, lo, hi)) == kept(by_api)
    return body, by_api

