"""Series rendered as iCalendar text that Outlook, Google, Apple and Thunderbird accept.

The feeds serve it and the reminders attach it (`render_occurrence`). The rules of DESIGN.md
("Feeds that real calendars accept") are kept here, and only here:
- a series stays one VEVENT with RRULE; public holidays it skips and school holidays it pauses
  for are EXDATEs (up to the render's horizon); a moved or cancelled occurrence is an override
  with RECURRENCE-ID in the TZID of DTSTART;
- UID, SEQUENCE, DTSTAMP and LAST-MODIFIED come from the data, never from the clock, so that two
  renders of unchanged data are byte-identical (the feeds' ETag is a hash of the bytes);
- every TZID used gets a VTIMEZONE written with yearly RRULEs (Outlook mishandles RDATE lists);
  an event whose zone is UTC under any of its names (UTC, Etc/UTC, GMT, Etc/GMT…) has UTC values
  ending in Z instead, never `TZID=UTC` (`zone_form`);
- CRLF, folding at 75 octets without cutting a UTF-8 character, TEXT escaping.

Why text and not icalendar objects: a national feed holds thousands of series, and building
icalendar's objects costs several times the writing of the same lines (bench/feeds.py measures
both). Tests read every feed back with icalendar and with vobject.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from models import Place, db
from models.events import WEEKDAY_CODES
from scheduler.ical.ics_text import (
    escape_text,
    fold,
    instant_value,
    is_utc,
    local_of_epoch,
    local_of_ordinal,
    other_readings,
    recurrence_value,
    utc_stamp,
    vtimezone,
    zone_form,
)
from scheduler.time.recurrence import (
    DAY,
    EPOCH_ORD,
    rule_dates,
    rule_days,
    rule_of,
    skipped_holidays,
    zone_offsets,
)
from scheduler.time.rules import LAST_YEAR

PRODID = "-//Maillage//Calendrier partagé des partenaires de l'emploi//FR"
STATUS_CODES = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}


# --- events ---------------------------------------------------------------------------------

@dataclass
class RenderContext:
    """What the rendering of events needs beyond the events themselves."""

    base_url: str
    include_people: bool = False  # private feeds: the names of the people mobilised
    place_id: int | None = None  # a place's feed: occurrences moved elsewhere are left out
    horizon: date | None = None  # last day for which skipped holidays are written as EXDATE
    places: dict = field(default_factory=dict)  # id -> Place, for occurrences moved to another place
    people: dict = field(default_factory=dict)  # id -> Person, for occurrences with other people
    zones: set = field(default_factory=set)  # TZIDs used so far (filled while rendering)
    # A series in UTC is used: no X-WR-TIMEZONE then, which readers that apply it would put
    # the UTC values of, and repeat the series on its wall clock.
    utc_used: bool = False

    def required_horizon(self) -> date:
        if self.horizon is None:
            raise ValueError("the horizon of holiday EXDATEs must be given (it must not come from 'now')")
        return self.horizon


def default_horizon(today: date) -> date:
    """Holidays are written up to the end of the year after next: the text then changes once a
    year, not every day."""
    return date(today.year + 2, 12, 31)


def place_location(place, room: str | None) -> str:
    if place is None:
        return ""
    parts = [place.name]
    address = " ".join(p for p in (place.address, " ".join(x for x in (place.postcode, place.city) if x)) if p)
    if address:
        parts.append(address)
    text = ", ".join(parts)
    return f"{text} — salle {room}" if room else text


def event_description(event, ctx: RenderContext, person_ids) -> str:
    lines = []
    if event.description:
        lines.append(event.description.strip())
    lines.append(f"Type : {event.kind_label}")
    organisers = ", ".join(p.name for p in event.organisers)
    if organisers:
        lines.append(f"Organisé par : {organisers}")
    band = _age_band(event.age_min, event.age_max)
    tags = ", ".join(event.audience_tags or [])
    if band or tags:
        lines.append("Public : " + " ; ".join(x for x in (band, tags) if x))
    if event.walk_in:
        lines.append("Sans rendez-vous")
    if event.registration_url:
        lines.append(f"Inscription : {event.registration_url}")
    if ctx.include_people and person_ids:
        people = {p.id: p for p in event.people} | ctx.people
        names = ", ".join(people[i].name for i in person_ids if i in people)
        if names:
            lines.append(f"Intervenant·es : {names}")
    if event.visibility != "public":
        lines.append("Réservé aux partenaires")
    return "\n".join(lines)


def _age_band(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"{lo} à {hi} ans"
    if lo is not None:
        return f"{lo} ans et plus"
    if hi is not None:
        return f"jusqu'à {hi} ans"
    return ""


def _rrule(event, rule, first_ord: int) -> str:
    freq = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY"}[rule.frequency]
    parts = [f"FREQ={freq}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.frequency == "weekly":
        parts.append("BYDAY=" + ",".join(WEEKDAY_CODES[d] for d in rule.weekdays))
        parts.append("WKST=MO")  # our weeks start on Monday: it matters with INTERVAL > 1
    elif rule.frequency in ("monthly", "yearly"):
        start = date.fromordinal(rule.start_ord)
        if rule.frequency == "yearly":
            parts.append("BYMONTH=" + ",".join(str(m) for m in rule.months or (start.month,)))
        if rule.month_week is not None:
            parts.append("BYDAY=" + ",".join(f"{rule.month_week}{WEEKDAY_CODES[d]}" for d in rule.weekdays))
        else:  # days of the month; written even when they are the start's, as every reader then agrees
            parts.append("BYMONTHDAY=" + ",".join(str(d) for d in rule.month_days or (start.day,)))
    until_ord = rule.until_ord
    if rule.count is not None and rule.extra_ords:
        # ical.js counts RDATEs in COUNT (RFC 5545 bounds the rule only): the count's last date as UNTIL.
        counted = rule_days(replace(rule, extra_ords=()), rule.start_ord, date(LAST_YEAR, 12, 31).toordinal())
        until_ord = min(until_ord or counted[-1], counted[-1])
    elif rule.count is not None:
        # Our COUNT starts at the series' start; DTSTART is its first date, so they agree.
        parts.append(f"COUNT={rule.count}")
    if until_ord is not None and rule.all_day:
        parts.append(f"UNTIL={_day_value(until_ord)}")  # a date, as DTSTART is (RFC 5545)
    elif until_ord is not None:
        # UNTIL in UTC (RFC 5545: DTSTART has a TZID or is UTC itself): the last second of the local day.
        end_local = (until_ord - EPOCH_ORD + 1) * DAY - 1
        zone = ZoneInfo(rule.timezone)
        naive = datetime(1970, 1, 1) + timedelta(seconds=end_local)
        parts.append("UNTIL=" + utc_stamp(naive.replace(tzinfo=zone)))
    return "RRULE:" + ";".join(parts)


def _rdates(rule, zone: ZoneInfo, tzid: str) -> list[str]:
    """The dates added to the rule (RDATE) at its time, in the form of DTSTART, or in UTC where a
    change of time makes that time ambiguous or skips it (as recurrence_value writes them)."""
    at, _z = zone_form(tzid)
    local, in_utc = [], []
    # Without RRULE, ical.js leaves DTSTART out of the set: it is written among the dates too.
    for d in ((rule.start_ord,) if rule.frequency == "once" else ()) + tuple(rule.extra_ords):
        value = recurrence_value(_first_instant(rule, d), rule, zone, tzid)
        if value.startswith(at):
            local.append(value[len(at):])
        else:
            in_utc.append(value[1:])
    return ([f"RDATE{at}" + ",".join(local)] if local else []) + (["RDATE:" + ",".join(in_utc)] if in_utc else [])


def _common(event, stamp: str, created: str, sequence: int) -> list[str]:
    return [f"UID:{event.uid}", f"DTSTAMP:{stamp}", f"CREATED:{created}", f"LAST-MODIFIED:{stamp}",
            f"SEQUENCE:{sequence}"]


def _body(event, ctx: RenderContext, place, room, person_ids, status: str) -> list[str]:
    lines = [f"SUMMARY:{escape_text(event.title)}"]
    location = place_location(place, room)
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    lines.append(f"DESCRIPTION:{escape_text(event_description(event, ctx, person_ids))}")
    lines.append(f"CATEGORIES:{escape_text(event.kind_label)}")
    lines.append(f"URL:{ctx.base_url}/evenements/{event.id}")
    lines.append(f"STATUS:{status}")
    lines.append("CLASS:PUBLIC" if event.visibility == "public" else "CLASS:PRIVATE")
    return lines


def _day_value(day_ord: int) -> str:
    return date.fromordinal(day_ord).strftime("%Y%m%d")


def _all_day_lines(event, ctx: RenderContext) -> list[str]:
    """An all-day event as dates (VALUE=DATE), never midnight-to-midnight times: calendars show
    it as a day, and its days last 23 or 25 hours across a change of time as the API says."""
    rule = rule_of(event)
    zone = ZoneInfo(event.timezone)
    first_ord = next(rule_dates(rule, rule.start_ord, rule.start_ord + 800), None)
    if first_ord is None:
        return []
    span = rule.duration // DAY
    stamp, created = utc_stamp(event.updated_at), utc_stamp(event.created_at)
    status = STATUS_CODES.get(event.status, "CONFIRMED")
    sequence = event.sequence or 0
    people_ids = tuple(p.id for p in event.people)
    lines = ["BEGIN:VEVENT", *_common(event, stamp, created, sequence),
             f"DTSTART;VALUE=DATE:{_day_value(first_ord)}", f"DTEND;VALUE=DATE:{_day_value(first_ord + span)}"]
    if rule.extra_ords:
        also = (rule.start_ord,) if rule.frequency == "once" else ()
        lines.append("RDATE;VALUE=DATE:" + ",".join(_day_value(d) for d in also + tuple(rule.extra_ords)))
    if rule.frequency != "once" or rule.extra_ords:
        if rule.frequency != "once":
            lines.append(_rrule(event, rule, first_ord))
        horizon = ctx.required_horizon().toordinal()
        last = rule.until_ord if rule.until_ord is not None else horizon
        days = skipped_holidays(rule, first_ord, min(last, horizon))
        if days:
            lines.append("EXDATE;VALUE=DATE:" + ",".join(_day_value(d) for d in days))
    lines += [*_body(event, ctx, event.place, event.room, people_ids, status), "END:VEVENT"]
    for exception in event.exceptions if rule.frequency != "once" or rule.extra_ords else []:
        rec = int(exception.recurrence_start.timestamp())
        spec = rule.exceptions[rec]
        starts = spec.starts_at if spec.starts_at is not None else rec
        duration = spec.duration if spec.duration is not None else rule.duration
        local, local_end = (datetime.fromtimestamp(t, zone) for t in (starts, starts + duration))
        if local.time() == local_end.time() == datetime.min.time():  # whole days (23 or 25 hours on some)
            when = [f"DTSTART;VALUE=DATE:{local:%Y%m%d}", f"DTEND;VALUE=DATE:{local_end:%Y%m%d}"]
        else:  # moved to hours of a day
            _use_zone(ctx, event.timezone)
            when = [f"DTSTART{instant_value(starts, zone, event.timezone)}",
                    f"DTEND{instant_value(starts + duration, zone, event.timezone)}"]
        place = ctx.places.get(spec.place_id, event.place) if spec.place_id is not None else event.place
        x_stamp = utc_stamp(max(exception.updated_at, event.updated_at))
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}", f"DTSTAMP:{x_stamp}", f"CREATED:{created}",
                  f"LAST-MODIFIED:{x_stamp}", f"SEQUENCE:{sequence}",
                  f"RECURRENCE-ID;VALUE=DATE:{_day_value(datetime.fromtimestamp(rec, zone).date().toordinal())}",
                  *when, *_body(event, ctx, place, spec.room if spec.room is not None else event.room,
                                spec.person_ids if spec.person_ids is not None else people_ids,
                                "CANCELLED" if spec.is_cancelled else status), "END:VEVENT"]
    return lines


def event_lines(event, ctx: RenderContext) -> list[str]:
    """The VEVENTs of one series (master, then overrides), as unfolded content lines."""
    if event.all_day and (ctx.place_id is None or ctx.place_id == event.place_id):
        return _all_day_lines(event, ctx)
    if event.frequency == "once" and not event.exceptions and not event.extra_dates \
            and (ctx.place_id is None or ctx.place_id == event.place_id):
        return _single_lines(event, ctx)
    rule = rule_of(event)
    tz = event.timezone
    zone = ZoneInfo(tz)
    first_ord = next(rule_dates(rule, rule.start_ord, rule.start_ord + 800), None)
    if first_ord is None:  # a rule that gives nothing (an until before the first weekday)
        return []
    _use_zone(ctx, tz)
    at, z = zone_form(tz)
    stamp, created = utc_stamp(event.updated_at), utc_stamp(event.created_at)
    status = STATUS_CODES.get(event.status, "CONFIRMED")
    sequence = event.sequence or 0
    people_ids = tuple(p.id for p in event.people)

    if ctx.place_id is not None and event.place_id != ctx.place_id:
        # In another place's feed: only its occurrences moved here, each as a single event.
        return _moved_here(event, ctx, rule, zone, stamp, created, status, sequence)

    if rule.frequency == "once" and rule.exceptions and not rule.extra_ords:
        # A single event moved or cancelled: the event itself carries the change (no RRULE to override).
        return _single_with_exception(event, ctx, rule, zone, stamp, created, status, sequence, people_ids)
    lines = ["BEGIN:VEVENT", *_common(event, stamp, created, sequence),
             f"DTSTART{at}{local_of_ordinal(first_ord, rule.start_seconds)}{z}",
             f"DTEND{at}{local_of_epoch(_first_instant(rule, first_ord) + rule.duration, zone)}{z}"]
    if rule.frequency != "once" or rule.extra_ords:
        if rule.frequency != "once":
            lines.append(_rrule(event, rule, first_ord))
        lines += _rdates(rule, zone, tz)
        exdates = []
        if rule.holiday_region is not None or rule.school_zone is not None:
            horizon = ctx.required_horizon()
            last = rule.until_ord if rule.until_ord is not None else horizon.toordinal()
            exdates = skipped_holidays(rule, first_ord, min(last, horizon.toordinal()))
        away = []
        if ctx.place_id is not None:  # moved to another place: not in this place's feed
            away = [rec for rec, x in rule.exceptions.items()
                    if not x.is_cancelled and x.place_id is not None and x.place_id != ctx.place_id]
        values = [local_of_ordinal(d, rule.start_seconds) for d in exdates]
        in_utc = [utc_stamp(datetime.fromtimestamp(other, UTC)) for other in other_readings(rule, zone)]
        for rec in away:
            value = recurrence_value(rec, rule, zone, tz)
            if value.startswith(at):
                values.append(value[len(at):].removesuffix(z))
            else:
                in_utc.append(value[1:])
        if values:
            lines.append(f"EXDATE{at}" + ",".join(v + z for v in sorted(values)))
        if in_utc:
            lines.append("EXDATE:" + ",".join(sorted(in_utc)))
    lines += _body(event, ctx, event.place, event.room, people_ids, status)
    lines.append("END:VEVENT")

    if rule.frequency == "once" and not rule.extra_ords:
        return lines
    for exception in event.exceptions:
        rec = int(exception.recurrence_start.timestamp())
        spec = rule.exceptions[rec]
        if ctx.place_id is not None and not spec.is_cancelled and spec.place_id not in (None, ctx.place_id):
            continue
        starts = spec.starts_at if spec.starts_at is not None else rec
        duration = spec.duration if spec.duration is not None else rule.duration
        place = ctx.places.get(spec.place_id, event.place) if spec.place_id is not None else event.place
        room = spec.room if spec.room is not None else event.room
        people = spec.person_ids if spec.person_ids is not None else people_ids
        x_status = "CANCELLED" if spec.is_cancelled else status
        x_stamp = utc_stamp(max(exception.updated_at, event.updated_at))
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}", f"DTSTAMP:{x_stamp}", f"CREATED:{created}",
                  f"LAST-MODIFIED:{x_stamp}", f"SEQUENCE:{sequence}",
                  f"RECURRENCE-ID{recurrence_value(rec, rule, zone, tz)}",
                  f"DTSTART{instant_value(starts, zone, tz)}",
                  f"DTEND{instant_value(starts + duration, zone, tz)}",
                  *_body(event, ctx, place, room, people, x_status)]
        if spec.is_cancelled and exception.reason:
            lines.append(f"COMMENT:{escape_text('Annulé : ' + exception.reason)}")
        lines.append("END:VEVENT")
    return lines


def _single_lines(event, ctx: RenderContext) -> list[str]:
    """A single date as it stands (most events of a big feed): no rule to expand."""
    tz = event.timezone
    _use_zone(ctx, tz)
    at, z = zone_form(tz)
    t = event.start_time
    day, seconds = event.start_date.toordinal(), t.hour * 3600 + t.minute * 60 + t.second
    local = (day - EPOCH_ORD) * DAY + seconds
    offsets = zone_offsets(tz)
    end_local = local + event.duration_minutes * 60
    offset = offsets.offset(local)
    if offsets.offset(end_local) == offset:  # no change of offset in between: add on the wall clock
        end_day, end_seconds = divmod(end_local, DAY)
        end = local_of_ordinal(end_day + EPOCH_ORD, end_seconds)
    else:
        end = local_of_epoch(local - offset + event.duration_minutes * 60, ZoneInfo(tz))
    status = STATUS_CODES.get(event.status, "CONFIRMED")
    return ["BEGIN:VEVENT", *_common(event, utc_stamp(event.updated_at), utc_stamp(event.created_at),
                                     event.sequence or 0),
            f"DTSTART{at}{local_of_ordinal(day, seconds)}{z}", f"DTEND{at}{end}{z}",
            *_body(event, ctx, event.place, event.room, tuple(p.id for p in event.people), status), "END:VEVENT"]


def _single_with_exception(event, ctx, rule, zone, stamp, created, status, sequence, people_ids) -> list[str]:
    rec, spec = next(iter(rule.exceptions.items()))
    if ctx.place_id is not None and not spec.is_cancelled and spec.place_id not in (None, ctx.place_id):
        return []
    starts = spec.starts_at if spec.starts_at is not None else rec
    duration = spec.duration if spec.duration is not None else rule.duration
    place = ctx.places.get(spec.place_id, event.place) if spec.place_id is not None else event.place
    return ["BEGIN:VEVENT", *_common(event, stamp, created, sequence),
            f"DTSTART{instant_value(starts, zone, event.timezone)}",
            f"DTEND{instant_value(starts + duration, zone, event.timezone)}",
            *_body(event, ctx, place, spec.room if spec.room is not None else event.room,
                   spec.person_ids if spec.person_ids is not None else people_ids,
                   "CANCELLED" if spec.is_cancelled else status),
            "END:VEVENT"]


def _use_zone(ctx: RenderContext, tzid: str) -> None:
    if not is_utc(tzid):  # UTC values need no VTIMEZONE
        ctx.zones.add(tzid)
    else:
        ctx.utc_used = True


def _first_instant(rule, day_ord: int) -> int:
    local = (day_ord - EPOCH_ORD) * DAY + rule.start_seconds
    return local - zone_offsets(rule.timezone).offset(local)


def _moved_here(event, ctx, rule, zone, stamp, created, status, sequence) -> list[str]:
    lines = []
    for exception in event.exceptions:
        rec = int(exception.recurrence_start.timestamp())
        spec = rule.exceptions[rec]
        if spec.is_cancelled or spec.place_id != ctx.place_id:
            continue
        starts = spec.starts_at if spec.starts_at is not None else rec
        duration = spec.duration if spec.duration is not None else rule.duration
        people = spec.person_ids if spec.person_ids is not None else tuple(p.id for p in event.people)
        # Its own UID: without the series, a RECURRENCE-ID alone is not understood by clients.
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}-{utc_stamp(exception.recurrence_start)}",
                  f"DTSTAMP:{stamp}", f"CREATED:{created}", f"LAST-MODIFIED:{stamp}", f"SEQUENCE:{sequence}",
                  f"DTSTART{instant_value(starts, zone, event.timezone)}",
                  f"DTEND{instant_value(starts + duration, zone, event.timezone)}",
                  *_body(event, ctx, ctx.places.get(ctx.place_id, event.place),
                         spec.room if spec.room is not None else event.room, people, status),
                  "END:VEVENT"]
    return lines


# --- calendars ------------------------------------------------------------------------------

@dataclass
class CalendarHead:
    name: str
    timezone: str  # X-WR-TIMEZONE: what Google uses for floating times and display
    description: str = ""
    refresh_minutes: int = 60


class Fragment(NamedTuple):
    """One series as it stands in a calendar: its VEVENTs' bytes (folded, CRLF between lines,
    none after) and the zones they use. A feed keeps those of its last build, so that a write
    re-renders only the series it changed (scheduler/ical/feeds.py). A tuple of atoms: the cyclic
    collector stops tracking it, so tens of thousands kept cost no pause."""

    body: bytes
    zones: tuple[str, ...] = ()
    utc_used: bool = False


def render_fragment(event, ctx: RenderContext) -> Fragment:
    zones, utc_used = ctx.zones, ctx.utc_used
    ctx.zones, ctx.utc_used = set(), False
    try:
        lines = event_lines(event, ctx)
        fragment = Fragment(_fold_long(("\r\n".join(lines)).encode()) if lines else b"",
                            tuple(sorted(ctx.zones)), ctx.utc_used)
    finally:
        ctx.zones, ctx.utc_used = zones, utc_used
    return fragment


def render_calendar(events, head: CalendarHead, ctx: RenderContext, year: int | None = None) -> bytes:
    """A whole VCALENDAR (METHOD:PUBLISH) of the events, byte-identical for unchanged data."""
    return assemble_calendar([render_fragment(e, ctx) for e in sorted(events, key=lambda e: e.id)], head, ctx, year)


def assemble_calendar(fragments: list[Fragment], head: CalendarHead, ctx: RenderContext,
                      year: int | None = None) -> bytes:
    """The VCALENDAR of these series' fragments, in this order."""
    horizon = ctx.required_horizon()
    zones_used = set(ctx.zones)
    utc_used = ctx.utc_used
    for fragment in fragments:
        zones_used.update(fragment.zones)
        utc_used = utc_used or fragment.utc_used
    ttl = f"PT{head.refresh_minutes}M" if head.refresh_minutes % 60 else f"PT{head.refresh_minutes // 60}H"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"NAME:{escape_text(head.name)}", f"X-WR-CALNAME:{escape_text(head.name)}"]
    if not utc_used:
        lines.append(f"X-WR-TIMEZONE:{head.timezone}")
    if head.description:
        lines += [f"DESCRIPTION:{escape_text(head.description)}", f"X-WR-CALDESC:{escape_text(head.description)}"]
    lines += [f"REFRESH-INTERVAL;VALUE=DURATION:{ttl}", f"X-PUBLISHED-TTL:{ttl}"]
    # The zones' rules of the horizon's first year: the year the feed is mostly read for.
    zone_year = year or horizon.year - 2
    zones = "".join(vtimezone(tz, zone_year) for tz in sorted(zones_used | {head.timezone}) if not is_utc(tz))
    return b"".join(((("".join(fold(line) for line in lines) + zones).encode()),
                     b"\r\n".join(f.body for f in fragments if f.body), b"\r\nEND:VCALENDAR\r\n"))


def _fold_long(text: bytes) -> bytes:
    """Folding the thousands of lines of a big feed one by one costs more than writing them: the
    few lines longer than 75 octets are found in the bytes at once, and only they are folded."""
    return _LONG_LINE.sub(_fold_match, b"\n" + text)[1:]


# Starts with a literal: the engine jumps from line feed to line feed instead of trying every byte.
_LONG_LINE = re.compile(rb"\n([^\r\n]{76,})")


def _fold_match(match: re.Match) -> bytes:
    return b"\n" + fold(match.group(1).decode()).removesuffix("\r\n").encode()


def render_occurrence(event, occurrence, base_url: str, include_people: bool = True,
                      places: dict | None = None) -> bytes:
    """One occurrence as a calendar of its own, for a reminder's attachment: a single VEVENT whose
    UID is the series' and whose RECURRENCE-ID names the occurrence when the event recurs, so that
    a calendar that already subscribes to the feed updates that occurrence instead of adding one."""
    zone = ZoneInfo(event.timezone)
    ctx = RenderContext(base_url=base_url, include_people=include_people, places=places or {})
    stamp, created = utc_stamp(event.updated_at), utc_stamp(event.created_at)
    place = event.place
    if occurrence.place_id != event.place_id:  # moved elsewhere: say where
        place = ctx.places.get(occurrence.place_id) or db.session.get(Place, occurrence.place_id) or event.place
    status = "CANCELLED" if occurrence.is_cancelled else STATUS_CODES.get(event.status, "CONFIRMED")
    lines = ["BEGIN:VEVENT", *_common(event, stamp, created, event.sequence or 0)]
    if event.frequency != "once":
        rule = rule_of(event)
        lines.append(f"RECURRENCE-ID{recurrence_value(occurrence.recurrence_id, rule, zone, event.timezone)}")
    lines += [f"DTSTART{instant_value(occurrence.starts_at, zone, event.timezone)}",
              f"DTEND{instant_value(occurrence.ends_at, zone, event.timezone)}",
              *_body(event, ctx, place, occurrence.room, occurrence.person_ids, status), "END:VEVENT"]
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    year = datetime.fromtimestamp(occurrence.starts_at, UTC).year
    zones = "" if is_utc(event.timezone) else vtimezone(event.timezone, year)
    text = ("".join(fold(line) for line in head) + zones
            + "".join(fold(line) for line in lines) + "END:VCALENDAR\r\n")
    return text.encode()
