"""Reading an .ics (Outlook, Google, Thunderbird, another Maillage) into `PlannedEvent`s, or refusing
it whole with errors that name the line and the component.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import sqlalchemy as sa
from icalendar.cal import Component
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from models import Place, db
from models.events import EVENT_KINDS, WEEKDAY_CODES
from models.operations.territory import is_known_timezone
from models.operations.text import text_problem
from models.territory import school_zone_of
from scheduler.ical.planned import (
    _OUR_DESCRIPTION_LINES,
    MAX_EVENTS,
    ImportOptions,
    ImportRefused,
    LocatedError,
    PlannedEvent,
    PlannedException,
)
from scheduler.ical.render import default_horizon, is_utc
from scheduler.time.recurrence import (
    SeriesRule,
    gives_occurrence,
    holiday_region_of,
    rule_dates,
    rule_days,
    skipped_holidays,
)
from scheduler.time.rules import LAST_YEAR, MAX_COUNT, MAX_DURATION_MINUTES, local_to_utc, year_problem

# --- reading an .ics -----------------------------------------------------------------------------

@dataclass
class _Layout:
    """Where each top-level VEVENT starts in the file, and where each of its properties is."""

    vevents: list[int] = field(default_factory=list)
    properties: list[dict[str, int]] = field(default_factory=list)
    lines: list[list[tuple[int, str]]] = field(default_factory=list)  # each VEVENT's own content lines
    children: list[tuple[str, int, int]] = field(default_factory=list)  # top-level components: name, lines


_NAME = re.compile(r"^[A-Za-z0-9-]+(?=[;:])")


def decode_file_text(data: bytes) -> str:
    """The text of a file: UTF-8 (with or without its byte-order mark), UTF-16 as some Windows
    tools save it (with a BOM, or without one but with a zero byte beside each ASCII one), or
    cp1252 (old Outlook exports)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    elif data[:2] == b"B\x00":
        return data.decode("utf-16-le", errors="replace")
    elif data[:2] == b"\x00B":
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _layout(text: str) -> tuple[_Layout, list[LocatedError]]:
    """Checks the content lines and the BEGIN/END nesting, line by line, so that errors can
    name their line (icalendar's parser does not say where it stopped)."""
    layout, errors, stack = _Layout(), [], []
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and logical:
            logical[-1] = (logical[-1][0], logical[-1][1] + raw[1:])
        elif raw.strip():
            logical.append((number, raw))
    if not logical or logical[0][1].strip().upper() != "BEGIN:VCALENDAR":
        return layout, [LocatedError("le fichier ne commence pas par BEGIN:VCALENDAR : est-ce bien un "
                                     "fichier iCalendar (.ics) ?", 1)]
    for number, line in logical:
        match = _NAME.match(line)
        if match is None:
            errors.append(LocatedError(f"ligne illisible « {line[:60]} » (NOM:valeur attendu)", number))
            continue
        name = match.group(0).upper()
        if name in ("BEGIN", "END"):
            value = line.split(":", 1)[1].strip().upper() if ":" in line else ""
            if name == "BEGIN":
                stack.append((value, number))
                if value == "VEVENT" and len(stack) == 2:
                    layout.vevents.append(number)
                    layout.properties.append({})
                    layout.lines.append([])
            elif not stack or stack[-1][0] != value:
                if any(v == value for v, _ in stack):
                    while stack[-1][0] != value:  # what was opened inside and never closed
                        inner, begun = stack.pop()
                        errors.append(LocatedError(f"BEGIN:{inner} jamais fermé (END:{inner} manquant avant "
                                                   f"END:{value} ligne {number})", begun))
                    stack.pop()
                else:
                    opened = f"{stack[-1][0]} ouvert ligne {stack[-1][1]}" if stack else "rien n'est ouvert"
                    errors.append(LocatedError(f"END:{value} inattendu ({opened})", number))
            else:
                begun = stack.pop()[1]
                if len(stack) == 1:
                    layout.children.append((value, begun, number))
        elif len(stack) == 2 and stack[-1][0] == "VEVENT" and layout.properties:
            layout.properties[-1].setdefault(name, number)
            layout.lines[-1].append((number, line))
    for value, number in stack:
        errors.append(LocatedError(f"BEGIN:{value} jamais fermé (END:{value} manquant)", number))
    return layout, errors


def _locate_parse_error(text: str, layout: _Layout) -> LocatedError:
    """icalendar does not say where it stopped (and says it in English): parse each top-level
    component alone, then each of its lines, to name the line in French."""
    lines = text.splitlines()
    for name, begin, end in layout.children:
        chunk = "\r\n".join(["BEGIN:VCALENDAR", *lines[begin - 1:end], "END:VCALENDAR"])
        try:
            icalendar.Calendar.from_ical(chunk)
        except Exception:
            return _unreadable_line(lines, begin, end, name)
    return _unreadable_line(lines, 1, len(lines), "VCALENDAR")


def _unreadable_line(lines: list[str], begin: int, end: int, component: str) -> LocatedError:
    """The first line of [begin, end] whose value icalendar cannot read, alone in a calendar."""
    for number in range(begin + 1, end):
        line = lines[number - 1]
        match = _NAME.match(line)
        if match is None or match.group(0).upper() in ("BEGIN", "END") or line[:1] in (" ", "\t"):
            continue
        probe = "\r\n".join(["BEGIN:VCALENDAR", f"BEGIN:{component}", line, f"END:{component}", "END:VCALENDAR"])
        try:
            icalendar.Calendar.from_ical(probe)
        except Exception:
            return LocatedError(f"valeur illisible pour {match.group(0).upper()} : « {_shown(line)} »", number,
                                component)
    return LocatedError("composant illisible : une de ses valeurs ne suit pas le format iCalendar (RFC 5545)",
                        begin, component)


def _shown(value: str, limit: int = 60) -> str:
    """A value as a message quotes it: control characters named, long values cut."""
    value = "".join(f"U+{ord(c):04X}" if ord(c) < 32 or ord(c) == 127 else c for c in str(value))
    return value if len(value) <= limit else value[:limit] + "…"


def _zone_name(value: datetime, tzid: str | None, fallback: str | None) -> str | None:
    """The IANA zone of a DTSTART when icalendar knows it (Outlook's Windows names included);
    `fallback` for UTC and for a zone only the file defines (see `_plan_in_its_zone`)."""
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


def _instant(value, zone: ZoneInfo, at: time) -> datetime:
    """An aware UTC instant from a DATE, a floating or an aware DATE-TIME."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    return datetime.combine(value, at, tzinfo=zone).astimezone(UTC)


class _VeventError(Exception):
    """A VEVENT refused; `quote`: the message ends with its property's line as the file wrote it."""

    def __init__(self, message: str, prop: str | None = None, quote: bool = False):
        super().__init__(message)
        self.message, self.prop, self.quote = message, prop, quote


def _prop(component, name: str):
    value = component.get(name)
    if value is None:
        return None
    if isinstance(value, list) and name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
        raise _VeventError(f"{name} présent plusieurs fois dans le même événement", name)
    try:
        found = value.dt if hasattr(value, "dt") else value
    except Exception:  # a broken value (vBroken) raises on access
        raise _VeventError(f"{name} : valeur illisible", name, quote=True) from None
    _check_year(found, name)
    return found


def _check_year(value, name: str) -> None:
    if isinstance(value, date):
        problem = year_problem(value)
        if problem:
            raise _VeventError(f"{name} : {problem}", name)


def _raw(value) -> str:
    """The text of a value as the file wrote it (icalendar keeps it for the values it could not read)."""
    for attribute in ("to_ical", "ical_value"):
        try:
            found = getattr(value, attribute)
            found = found() if callable(found) else found
            return found.decode() if isinstance(found, bytes) else str(found)
        except Exception:  # the next way of reading it, or the type's own text
            continue
    return str(value)


def parse_ics(data: bytes, options: ImportOptions, progress=None) -> list[PlannedEvent]:
    """The events of every VCALENDAR of an .ics file, or ImportRefused with every error located."""
    text = decode_file_text(data)
    layout, errors = _layout(text)
    if errors:
        raise ImportRefused(errors)
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception:  # icalendar raises ValueError, and a few others on fuzzed input
        raise ImportRefused([_locate_parse_error(text, layout)]) from None
    if not calendars:
        raise ImportRefused([LocatedError("aucun calendrier (VCALENDAR) dans le fichier", 1)])
    places = places_by_name()
    # Each calendar's floating times are in its own X-WR-TIMEZONE (Google), else the place's.
    vevents = [(component, _calendar_zone(calendar, options.place.timezone))
               for calendar in calendars for component in calendar.subcomponents if component.name == "VEVENT"]
    if not vevents:
        raise ImportRefused([_no_event(calendars)])
    # Overrides (RECURRENCE-ID) belong to their series: only the events themselves count.
    if sum("RECURRENCE-ID" not in c for c, _ in vevents) > MAX_EVENTS:
        raise ImportRefused([LocatedError(f"plus de {MAX_EVENTS} événements : découpez le fichier")])
    masters: dict[str, PlannedEvent] = {}
    overrides: list[tuple[int, Component, str, str]] = []
    for index, (component, default_tz) in enumerate(vevents):
        if progress is not None:
            progress("parse", index, len(vevents))
        line = layout.vevents[index] if index < len(layout.vevents) else None
        uid = str(component.get("UID", "")).strip()
        label = f"VEVENT n° {index + 1}" + (f" (UID {_shown(uid)})" if uid else "")
        try:
            _check_readable(component, layout, index)
            _check_texts(component)
            if "RECURRENCE-ID" in component:
                overrides.append((index, component, uid, default_tz))
                continue
            planned = _plan_in_its_zone(component, uid, default_tz, options, places)
            planned.line, planned.component = line, label
            if planned.uid in masters:
                if uid:
                    raise _VeventError(f"UID déjà utilisé par le VEVENT de la ligne {masters[planned.uid].line}",
                                       "UID")
                # The same event twice without UID: both stay (each reader shows both), each with
                # a UID of its own that the next import of the same file finds again.
                planned.uid = _next_free(planned.uid, masters)
            masters[planned.uid] = planned
        except _VeventError as error:
            errors.append(_located(error, layout, index, line, label))
    for index, component, uid, default_tz in overrides:
        line = layout.vevents[index] if index < len(layout.vevents) else None
        label = f"VEVENT n° {index + 1} (UID {_shown(uid)}, occurrence modifiée)"
        try:
            master = masters.get(uid)
            if master is None:  # an occurrence without its series (Google: invited to one date)
                rid = _prop(component, "RECURRENCE-ID")
                single = _plan_in_its_zone(component, f"{uid}-{_stamp(rid)}", default_tz, options, places)
                single.line, single.component = line, label
                masters.setdefault(single.uid, single)
            else:
                _plan_override(master, component)
        except _VeventError as error:
            errors.append(_located(error, layout, index, line, label))
    if errors:
        raise ImportRefused(errors)
    return list(masters.values())


def _calendar_zone(calendar, fallback: str) -> str:
    """The zone of a calendar's floating times: its X-WR-TIMEZONE (Google), UTC included."""
    wr_tz = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if wr_tz and is_known_timezone(wr_tz):
        return wr_tz
    found = _zone_name(datetime(2000, 1, 1, tzinfo=UTC), wr_tz, fallback) if wr_tz else None
    return found or fallback


_WHAT_FILES_HOLD = {"VTODO": "tâche(s) (VTODO)", "VJOURNAL": "note(s) de journal (VJOURNAL)",
                    "VFREEBUSY": "plage(s) de disponibilité (VFREEBUSY)", "VAVAILABILITY": "disponibilité(s) "
                    "(VAVAILABILITY)", "VTIMEZONE": "fuseau(x) horaire(s) (VTIMEZONE)"}


def _no_event(calendars) -> LocatedError:
    """A file without a VEVENT: say what it holds instead, so that its author knows what to export."""
    held: dict[str, int] = {}
    for calendar in calendars:
        for component in calendar.subcomponents:
            held[component.name] = held.get(component.name, 0) + 1
    if not held:
        what = "il est vide (aucun composant)"
    else:
        what = "il contient " + ", ".join(f"{count} {_WHAT_FILES_HOLD.get(name, f'composant(s) {name}')}"
                                          for name, count in held.items())
    return LocatedError(f"aucun évènement (VEVENT) à importer : {what}", 1, "VCALENDAR")


def _next_free(uid: str, taken) -> str:
    n = 2
    while f"{uid}-{n}" in taken:
        n += 1
    return f"{uid}-{n}"


def _check_readable(component, layout: _Layout, index: int) -> None:
    """Values icalendar skipped (it keeps them as errors, in English): refused, named in French."""
    for name, _message in getattr(component, "errors", []):
        if name:
            raise _VeventError(f"{name} : valeur illisible", name, quote=True)
        lines = layout.lines[index] if index < len(layout.lines) else []
        for number, line in lines:
            probe = "\r\n".join(["BEGIN:VCALENDAR", "BEGIN:VEVENT", line, "END:VEVENT", "END:VCALENDAR"])
            try:
                if not icalendar.Calendar.from_ical(probe).subcomponents[0].errors:
                    continue
            except Exception:  # this is the line
                pass
            raise _VeventError(f"ligne illisible « {_shown(line)} » (NOM;PARAMÈTRE=valeur:valeur attendu)",
                               _LINE + str(number))
        raise _VeventError("une ligne de l'événement ne suit pas le format iCalendar (RFC 5545)")


_LINE = "#line "  # a _VeventError's prop that is a line number rather than a property name
# The texts Maillage keeps of an event: refused when they hold what no one types and what breaks
# readers or databases (NUL, other control characters, bidirectional overrides). A UID is one
# line; the line breaks of a SUMMARY or a LOCATION become spaces (`_one_line`).
_TEXTS = {"UID": True, "SUMMARY": False, "LOCATION": False, "CATEGORIES": False, "DESCRIPTION": False}


def _check_texts(component) -> None:
    for name, one_line in _TEXTS.items():
        values = component.get(name)
        for value in values if isinstance(values, list) else [values] if values is not None else []:
            for item in getattr(value, "cats", [value]):
                problem = text_problem(str(item), one_line=one_line)
                if problem:
                    raise _VeventError(f"{name} : {problem}", name)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _located(error: _VeventError, layout: _Layout, index: int, line: int | None, label: str) -> LocatedError:
    """A VEVENT's error at the line of the property it names (else the VEVENT's), quoting it if asked."""
    props = layout.properties[index] if index < len(layout.properties) else {}
    where = line
    if error.prop and error.prop.startswith(_LINE):
        where = int(error.prop[len(_LINE):])
    elif error.prop:
        where = props.get(error.prop, line)
    message = error.message
    if error.quote and where is not None and where != line:
        text = dict(layout.lines[index]).get(where, "") if index < len(layout.lines) else ""
        message += f" « {_shown(text)} »"
    return LocatedError(message, where, label)


def _stamp(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if value.tzinfo else value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


def places_by_name() -> dict[str, Place]:
    return {p.name.casefold(): p for p in db.session.scalars(sa.select(Place))}


def _place_of(location: str, places: dict[str, Place], default: Place) -> Place:
    """The known place a LOCATION names (our feeds write "Name, address — salle X")."""
    text = location.casefold().strip()
    best = None
    for name, place in places.items():
        if text.startswith(name) and (best is None or len(name) > len(best.name)):
            best = place
    return best or default


def _kind_of(component, default: str) -> str:
    categories = component.get("CATEGORIES")
    names = []
    for item in categories if isinstance(categories, list) else [categories] if categories is not None else []:
        names += [str(c) for c in getattr(item, "cats", [item])]
    labels = {label.casefold(): kind for kind, label in EVENT_KINDS.items()}
    for name in names:
        kind = labels.get(name.casefold().strip()) or (name.strip() if name.strip() in EVENT_KINDS else None)
        if kind:
            return kind
    return default


def _clean_description(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and (lines[-1].startswith(_OUR_DESCRIPTION_LINES) or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()[:10000]


# How far a series without end is followed to compare the instants it gives in two zones.
_COMPARED_DAYS = 3660


def _plan_in_its_zone(component, uid: str, default_tz: str, options: ImportOptions, places) -> PlannedEvent:
    """A VEVENT planned on the wall clock of its own zone when it is an IANA one; a series written
    in UTC or in a zone only the file defines (its VTIMEZONE) goes to the place's zone only when
    every instant stays the same, else stays in UTC, else is refused: no occurrence moves."""
    start = _prop(component, "DTSTART")
    if not isinstance(start, datetime) or start.tzinfo is None:
        return _plan_vevent(component, uid, default_tz, options, places)
    tzid = component["DTSTART"].params.get("TZID")
    known = _zone_name(start, tzid, None)
    if known is not None:
        return _plan_vevent(component, uid, known, options, places)
    own = start.tzinfo
    own_key = getattr(own, "key", None)
    written_in_utc = not tzid or (own_key is not None and is_utc(own_key))
    if written_in_utc:
        truth = _plan_vevent(component, uid, "UTC", options, places)
        candidates: list[tuple[str, tzinfo | None]] = [(default_tz, None)]
    else:  # the file's own zone: its wall clock, expanded with its own rules, is the truth
        truth = _plan_vevent(component, uid, default_tz, options, places, wall_zone=own)
        candidates = [(default_tz, own), (default_tz, None), ("UTC", None)]
    if truth.values["frequency"] == "once":  # one instant: the place's clock names it as well
        return _plan_vevent(component, uid, default_tz, options, places)
    instants = _series_instants(truth.values, own)
    for tz, wall_zone in candidates:
        try:
            planned = _plan_vevent(component, uid, tz, options, places, wall_zone=wall_zone)
        except _VeventError:
            continue
        if _series_instants(planned.values, ZoneInfo(tz)) == instants:
            if written_in_utc:
                planned.notes.append(f"série écrite en UTC, mise à l'heure de {tz} : mêmes instants")
            elif tz != default_tz:
                planned.notes.append(f"fuseau « {tzid} » du fichier sans changement d'heure : série gardée en UTC, "
                                     "mêmes instants")
            return planned
    if written_in_utc:
        truth.notes.append("série écrite en UTC : gardée en UTC pour garder ses instants (son heure locale "
                           "change d'une heure aux changements d'heure)")
        return truth
    raise _VeventError(f"fuseau horaire « {_shown(tzid)} » défini par le fichier, inconnu de Maillage, et dont les "
                       f"changements d'heure diffèrent de ceux de {default_tz} : exportez le calendrier avec un "
                       "fuseau IANA (exemple : Europe/Paris)", "DTSTART")


def _series_instants(values: dict, zone) -> list[int]:
    """The instants of a planned series' rule (before exceptions) with its wall clock in `zone`."""
    rule = _series_rule(values)
    last = rule.start_ord + _COMPARED_DAYS
    days = rule_days(rule, rule.start_ord, min(last, rule.until_ord or last))
    at = values["start_time"]
    return [int(datetime.combine(date.fromordinal(d), at, tzinfo=zone).timestamp()) for d in days]


def _plan_vevent(component, uid: str, tz: str, options: ImportOptions, places, wall_zone=None) -> PlannedEvent:
    """The VEVENT as a series on the wall clock of `tz` (or of `wall_zone`, a zone that the file
    defines, whose wall clock is kept as it is written)."""
    start = _prop(component, "DTSTART")
    if start is None:
        raise _VeventError("DTSTART manquant : l'événement n'a pas de date", "DTSTART")
    if not isinstance(start, (date, datetime)):
        raise _VeventError("DTSTART doit être une date ou une date et heure", "DTSTART")
    all_day = not isinstance(start, datetime)
    floating = not isinstance(start, datetime) or start.tzinfo is None
    zone = ZoneInfo(tz)
    begin = _instant(start, zone, time())
    local = begin.astimezone(wall_zone or zone)
    end = _prop(component, "DTEND")
    duration = _prop(component, "DURATION")
    if end is not None:
        if not isinstance(end, (date, datetime)) or isinstance(end, datetime) != (not all_day):
            raise _VeventError("DTEND n'est pas du même type que DTSTART (date ou date et heure)", "DTEND")
        minutes = (_instant(end, zone, time()) - begin) / timedelta(minutes=1)
        if all_day:  # days of the calendar, whatever their length in hours
            minutes = (end - start).days * 24 * 60
    elif isinstance(duration, timedelta) and all_day:
        minutes = max(duration.days, 0) * 24 * 60  # a DURATION of a date counts days (RFC 5545)
    elif isinstance(duration, timedelta):
        # Days of a DURATION are days of the calendar (RFC 5545): 23 or 25 hours across a change of time.
        nominal = datetime.combine(local.date() + timedelta(days=duration.days), local.time().replace(tzinfo=None))
        ends = nominal.replace(tzinfo=wall_zone or zone) + timedelta(seconds=duration.seconds)
        minutes = (ends - begin) / timedelta(minutes=1)
    else:
        minutes = 24 * 60 if all_day else 0
    minutes = round(minutes)
    if minutes < 0:
        raise _VeventError("la fin (DTEND) est avant le début (DTSTART)", "DTEND")
    if minutes > MAX_DURATION_MINUTES:
        raise _VeventError("l'événement dure plus de 7 jours : Maillage ne gère pas de tels événements",
                           "DTEND" if end is not None else "DURATION")
    if "RDATE" in component:
        raise _VeventError("RDATE (liste de dates supplémentaires) n'est pas pris en charge : "
                           "exportez ces dates comme événements séparés", "RDATE")
    title = _one_line(component.get("SUMMARY", ""))[:200] or "Sans titre"
    location = _one_line(component.get("LOCATION", "") or "")
    place = _place_of(location, places, options.place) if location else options.place
    status = str(component.get("STATUS", "CONFIRMED")).upper()
    klass = str(component.get("CLASS", "PUBLIC")).upper()
    values = {
        "title": title,
        "description": _clean_description(str(component.get("DESCRIPTION", "") or "")),
        "kind": _kind_of(component, options.kind),
        "place": place,
        "visibility": "partners" if klass in ("PRIVATE", "CONFIDENTIAL") else options.visibility,
        "status": {"CANCELLED": "cancelled", "TENTATIVE": "tentative"}.get(status, "confirmed"),
        "timezone": tz,
        "all_day": all_day,
        "start_date": local.date(),
        "start_time": local.time().replace(tzinfo=None, microsecond=0),
        "duration_minutes": minutes,
        "frequency": "once", "interval": 1, "weekdays": [], "month_week": None, "until": None, "count": None,
        "skip_public_holidays": False,
        "pause_school_holidays": False,
        "holiday_region": place.department,
    }
    if not uid:
        # No UID (rare, some hand-written files): one from the content, so a re-import matches.
        uid = "import-" + hashlib.sha256(f"{title}|{begin.isoformat()}|{minutes}".encode()).hexdigest()[:24]
    planned = PlannedEvent(uid=uid[:255], values=values, all_day=all_day, floating=floating)
    rrules = component.get("RRULE")
    if rrules is not None:
        if isinstance(rrules, list):
            if len(rrules) > 1:
                raise _VeventError("plusieurs RRULE dans un même événement : non pris en charge", "RRULE")
            rrules = rrules[0]
        _apply_rrule(values, dict(rrules), wall_zone or zone, all_day)
        if isinstance(duration, timedelta) and duration.days and end is None and not all_day:
            _check_nominal_duration(values, duration, wall_zone or zone)
        _plan_exdates(planned, component)
    return planned


def _check_nominal_duration(values: dict, duration: timedelta, zone) -> None:
    """A DURATION in days lasts 23 or 25 hours across a change of time: one length for the whole
    series only when none of its occurrences crosses one."""
    lengths = set()
    at = values["start_time"]
    rule = _series_rule(values)
    last = rule.start_ord + _COMPARED_DAYS
    for day in rule_days(rule, rule.start_ord, min(last, rule.until_ord or last)):
        begins = datetime.combine(date.fromordinal(day), at, tzinfo=zone)
        ends = datetime.combine(date.fromordinal(day) + timedelta(days=duration.days), at, tzinfo=zone)
        lengths.add((ends - begins).total_seconds() + duration.seconds)
        if len(lengths) > 1:
            raise _VeventError("DURATION en jours d'une série dont des occurrences traversent un changement "
                               "d'heure : leur durée varierait (23 ou 25 h) ; donnez plutôt DTEND", "DURATION")


def _apply_rrule(values: dict, rule: dict, zone, all_day: bool = False) -> None:
    def one(name):
        items = rule.get(name) or []
        return items[0] if items else None

    freq = str(one("FREQ") or "").upper()
    if not freq:
        raise _VeventError("RRULE sans fréquence (FREQ manquant ou règle vide) : indiquez par exemple "
                           "FREQ=WEEKLY;BYDAY=MO", "RRULE")
    supported = {"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly"}
    if freq not in supported:
        raise _VeventError(f"répétition FREQ={freq} non prise en charge : Maillage gère les répétitions "
                           "quotidiennes, hebdomadaires et mensuelles (nième jour de la semaine)", "RRULE")
    unknown = set(rule) - {"FREQ", "INTERVAL", "BYDAY", "BYSETPOS", "UNTIL", "COUNT", "WKST"}
    if freq == "WEEKLY" and rule.get("BYMONTH") is None:
        unknown -= set()
    if unknown:
        raise _VeventError(f"répétition non prise en charge ({', '.join(sorted(unknown))}) : Maillage gère "
                           "« chaque semaine le lundi », « le 2e jeudi du mois »…, pas « le 15 du mois »", "RRULE")
    interval = int(one("INTERVAL") or 1)
    if not 1 <= interval <= 52:
        raise _VeventError("INTERVAL doit être compris entre 1 et 52", "RRULE")
    values["frequency"], values["interval"] = supported[freq], interval
    days, nths = [], set()
    for item in rule.get("BYDAY") or []:
        match = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", str(item).upper())
        if match is None:
            raise _VeventError(f"BYDAY invalide : {item}", "RRULE")
        days.append(WEEKDAY_CODES.index(match.group(2)))
        nths.add(int(match.group(1)) if match.group(1) else None)
    setpos = rule.get("BYSETPOS") or []
    start_weekday = values["start_date"].weekday()
    if freq == "DAILY":
        if days or setpos:
            raise _VeventError("une répétition quotidienne limitée à certains jours n'est pas prise en charge : "
                               "utilisez une répétition hebdomadaire", "RRULE")
    elif freq == "WEEKLY":
        if setpos or nths - {None}:
            raise _VeventError("BYSETPOS ou jour numéroté dans une répétition hebdomadaire : non pris en charge",
                               "RRULE")
        wkst = str(one("WKST") or "MO").upper()
        days = sorted(set(days or [start_weekday]))
        if wkst != "MO" and interval > 1 and len(days) > 1:
            raise _VeventError("semaines commençant un autre jour que le lundi (WKST) avec INTERVAL : "
                               "non pris en charge", "RRULE")
        values["weekdays"] = days
    else:  # MONTHLY: the nth (or last) weekday of the month
        nth = None
        if setpos:
            if len(setpos) != 1 or len(days) != 1 or nths != {None}:
                raise _VeventError("BYSETPOS n'est pris en charge qu'avec un seul jour (exemple : 2e jeudi)", "RRULE")
            nth = int(setpos[0])
        elif len(nths) == 1 and None not in nths:
            nth = nths.pop()
        if not days or nth not in (1, 2, 3, 4, -1):
            raise _VeventError("répétition mensuelle non prise en charge : Maillage gère le 1er à 4e ou le dernier "
                               "jour de la semaine du mois (exemple : BYDAY=2TH ou BYDAY=-1FR)", "RRULE")
        values["weekdays"], values["month_week"] = sorted(set(days)), nth
    count, until = one("COUNT"), one("UNTIL")
    if count is not None:
        if not 1 <= int(count) <= MAX_COUNT:
            raise _VeventError(f"COUNT doit être compris entre 1 et {MAX_COUNT}", "RRULE")
        values["count"] = int(count)
    if isinstance(until, date) and until.year > LAST_YEAR:
        until = None  # "until 9999": no end, as every reader takes it
    if until is not None:
        _check_year(until, "RRULE")
        values["until"] = _until_date(until, values["start_time"], zone, all_day)
        if values["until"] < values["start_date"]:
            raise _VeventError("UNTIL est avant le début de la série", "RRULE")
    # DTSTART must be the series' first date: otherwise RFC 5545 counts it as an extra occurrence.
    rule_ = _series_rule(values)
    first = next(rule_dates(rule_, rule_.start_ord, rule_.start_ord + 800), None)
    if first != rule_.start_ord:
        raise _VeventError("DTSTART ne tombe pas sur un jour de la règle de répétition (RRULE) : "
                           "la première date serait ambiguë", "DTSTART")


def _until_date(until, start_time: time, zone, all_day: bool) -> date:
    """The last local day an occurrence may start on: UNTIL is inclusive, as an instant (a date
    UNTIL of a timed series is its midnight, as readers take it: that day's occurrence is out)."""
    if not isinstance(until, datetime):
        return until if all_day or start_time == time() else until - timedelta(days=1)
    local = (until if until.tzinfo else until.replace(tzinfo=zone)).astimezone(zone)
    return local.date() if local.time().replace(tzinfo=None) >= start_time else local.date() - timedelta(days=1)


def _series_rule(values: dict, holiday_region: str | None = None, school_zone: str | None = None) -> SeriesRule:
    t = values["start_time"]
    return SeriesRule(
        event_id=0, timezone=values["timezone"], start_ord=values["start_date"].toordinal(),
        start_seconds=t.hour * 3600 + t.minute * 60 + t.second, duration=values["duration_minutes"] * 60,
        frequency=values["frequency"], interval=values["interval"], weekdays=tuple(values["weekdays"]),
        month_week=values["month_week"], until_ord=values["until"].toordinal() if values["until"] else None,
        count=values["count"], holiday_region=holiday_region, school_zone=school_zone)


def _planned_rule(values: dict) -> SeriesRule:
    """The rule of planned values, with the holidays they skip and the school holidays they pause for."""
    region = holiday_region_of(values["holiday_region"]) if values["skip_public_holidays"] else None
    zone = school_zone_of(values["holiday_region"]) if values.get("pause_school_holidays") else None
    return _series_rule(values, region, zone)


def _exdate_instants(component, zone: ZoneInfo, at: time, floating: bool = False) -> set[datetime]:
    """The instants EXDATE names; on a floating series, what its values say on the wall clock
    (a UTC EXDATE of a floating series names the occurrence of the same written time, as readers
    take it)."""
    found = set()
    exdates = component.get("EXDATE")
    for item in exdates if isinstance(exdates, list) else [exdates] if exdates is not None else []:
        try:
            values = [v.dt for v in item.dts]
        except Exception:
            raise _VeventError("EXDATE : valeur illisible", "EXDATE", quote=True) from None
        for value in values:
            if isinstance(value, (date, datetime)):
                _check_year(value, "EXDATE")
                if floating and isinstance(value, datetime):
                    value = value.replace(tzinfo=None)
                found.add(_instant(value, zone, at))
    return found


def _plan_exdates(planned: PlannedEvent, component) -> None:
    """EXDATEs become cancelled occurrences; when they cover exactly the days that holidays take
    out of the rule (the public holidays it meets, the school holidays of its place's zone), the
    series skips them or pauses for them instead (what Maillage's own feeds mean by them)."""
    values = planned.values
    zone = ZoneInfo(values["timezone"])
    excluded = _exdate_instants(component, zone, values["start_time"], planned.floating)
    given = {e for e in excluded if gives_occurrence(_series_rule(values), int(e.timestamp()))}
    # The span our feeds write holidays over (scheduler.ical.default_horizon).
    horizon = default_horizon(date.today()).toordinal()

    def taken_out(rule: SeriesRule) -> set[datetime]:
        last = min(rule.until_ord or horizon, horizon)
        return {local_to_utc(date.fromordinal(d), values["start_time"], values["timezone"])
                for d in skipped_holidays(rule, rule.start_ord, last)}

    holidays = taken_out(_series_rule(values, holiday_region=holiday_region_of(values["holiday_region"])))
    school_zone = school_zone_of(values["holiday_region"])
    school = taken_out(_series_rule(values, school_zone=school_zone)) if school_zone else set()
    skipped = set()
    if holidays and holidays <= given:
        values["skip_public_holidays"] = True
        skipped |= holidays
    if school and school <= given:
        values["pause_school_holidays"] = True
        skipped |= school
    planned.exceptions = [PlannedException(instant, True) for instant in sorted(given - skipped)]


def _plan_override(master: PlannedEvent, component) -> None:
    values = master.values
    if values["frequency"] == "once":
        raise _VeventError("RECURRENCE-ID pour un événement qui ne se répète pas", "RECURRENCE-ID")
    zone = ZoneInfo(values["timezone"])
    rid = _prop(component, "RECURRENCE-ID")
    if not isinstance(rid, (date, datetime)):
        raise _VeventError("RECURRENCE-ID invalide", "RECURRENCE-ID")
    if master.all_day and isinstance(rid, datetime):
        # Outlook names a date of an all-day series by its midnight, in its own zone or in UTC:
        # the date it writes is the one meant.
        rid = rid.date()
    elif master.floating and isinstance(rid, datetime):
        rid = rid.replace(tzinfo=None)  # a floating series' date named in UTC: its written time
    recurrence = _instant(rid, zone, values["start_time"])
    if not gives_occurrence(_planned_rule(values), int(recurrence.timestamp())):
        raise _VeventError(f"RECURRENCE-ID {recurrence.astimezone(zone):%d/%m/%Y %H:%M} n'est pas une date de la "
                           "série", "RECURRENCE-ID")
    master.exceptions = [x for x in master.exceptions if x.recurrence_start != recurrence]
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        master.exceptions.append(PlannedException(recurrence, True))
        return
    start = _prop(component, "DTSTART")
    if not isinstance(start, (date, datetime)):
        raise _VeventError("DTSTART manquant ou invalide dans l'occurrence modifiée", "DTSTART")
    # A date moves the occurrence to that whole day (midnight to midnight), as readers show it.
    whole_day = not isinstance(start, datetime)
    at = time() if whole_day else values["start_time"]
    begin = _instant(start, zone, at)
    end = _prop(component, "DTEND")
    duration = _prop(component, "DURATION")
    if isinstance(end, (date, datetime)):
        minutes = round((_instant(end, zone, at) - begin) / timedelta(minutes=1))
    elif isinstance(duration, timedelta):
        minutes = round(duration / timedelta(minutes=1))
    elif whole_day:
        minutes = round((_instant(start + timedelta(days=1), zone, at) - begin) / timedelta(minutes=1))
    else:
        minutes = values["duration_minutes"]
    if not 0 <= minutes <= MAX_DURATION_MINUTES:
        raise _VeventError("durée de l'occurrence modifiée invalide (fin avant le début, ou plus de 7 jours)", "DTEND")
    if begin == recurrence and minutes == values["duration_minutes"]:
        return  # an override that changes nothing Maillage keeps (a title, an alarm)
    master.exceptions.append(PlannedException(recurrence, False, begin, minutes))
    master.exceptions.sort(key=lambda x: x.recurrence_start)


