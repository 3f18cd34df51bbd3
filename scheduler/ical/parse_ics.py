"""Reading an .ics (Outlook, Google, Thunderbird, another Maillage) into `PlannedEvent`s, or refusing
it whole with errors that name the line and the component.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import icalendar
import sqlalchemy as sa
from icalendar.cal import Component

from models import Place, db
from models.operations.territory import is_known_timezone
from models.operations.text import text_problem
from scheduler.ical.ics_split import is_this_and_future, split_this_and_future
from scheduler.ical.ics_values import VeventError, prop, shown, stamp, zone_name
from scheduler.ical.ics_vevent import plan_in_its_zone, plan_override
from scheduler.ical.planned import (
    MAX_EVENTS,
    ImportOptions,
    ImportRefused,
    LocatedError,
    PlannedEvent,
)

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
            return LocatedError(f"valeur illisible pour {match.group(0).upper()} : « {shown(line)} »", number,
                                component)
    return LocatedError("composant illisible : une de ses valeurs ne suit pas le format iCalendar (RFC 5545)",
                        begin, component)


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
        label = f"VEVENT n° {index + 1}" + (f" (UID {shown(uid)})" if uid else "")
        try:
            _check_readable(component, layout, index)
            _check_texts(component)
            if "RECURRENCE-ID" in component:
                overrides.append((index, component, uid, default_tz))
                continue
            planned = plan_in_its_zone(component, uid, default_tz, options, places)
            planned.line, planned.component = line, label
            if planned.uid in masters:
                if uid:
                    raise VeventError(f"UID déjà utilisé par le VEVENT de la ligne {masters[planned.uid].line}",
                                       "UID")
                # The same event twice without UID: both stay (each reader shows both), each with
                # a UID of its own that the next import of the same file finds again.
                planned.uid = _next_free(planned.uid, masters)
            masters[planned.uid] = planned
        except VeventError as error:
            errors.append(_located(error, layout, index, line, label))
    # Occurrences moved with all the following ones split their series: after the others, which
    # name the series' dates as it was written.
    overrides.sort(key=lambda item: is_this_and_future(item[1]))
    split: set[str] = set()
    for index, component, uid, default_tz in overrides:
        line = layout.vevents[index] if index < len(layout.vevents) else None
        label = f"VEVENT n° {index + 1} (UID {shown(uid)}, occurrence modifiée)"
        try:
            master = masters.get(uid)
            if master is None:  # an occurrence without its series (Google: invited to one date)
                rid = prop(component, "RECURRENCE-ID")
                single = plan_in_its_zone(component, f"{uid}-{stamp(rid)}", default_tz, options, places)
                single.line, single.component = line, label
                masters.setdefault(single.uid, single)
            elif is_this_and_future(component):
                if uid in split:
                    raise VeventError("plusieurs RANGE=THISANDFUTURE pour une même série : non pris en charge ; "
                                      "exportez-la en plusieurs séries", "RECURRENCE-ID")
                split.add(uid)
                following = split_this_and_future(master, component, default_tz, options, places)
                if following is not None:
                    following.line, following.component = line, label
                    masters[following.uid] = following
            else:
                plan_override(master, component)
        except VeventError as error:
            errors.append(_located(error, layout, index, line, label))
    if errors:
        raise ImportRefused(errors)
    return list(masters.values())


def _calendar_zone(calendar, fallback: str) -> str:
    """The zone of a calendar's floating times: its X-WR-TIMEZONE (Google), UTC included."""
    wr_tz = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if wr_tz and is_known_timezone(wr_tz):
        return wr_tz
    found = zone_name(datetime(2000, 1, 1, tzinfo=UTC), wr_tz, fallback) if wr_tz else None
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
            raise VeventError(f"{name} : valeur illisible", name, quote=True)
        lines = layout.lines[index] if index < len(layout.lines) else []
        for number, line in lines:
            probe = "\r\n".join(["BEGIN:VCALENDAR", "BEGIN:VEVENT", line, "END:VEVENT", "END:VCALENDAR"])
            try:
                if not icalendar.Calendar.from_ical(probe).subcomponents[0].errors:
                    continue
            except Exception:  # this is the line
                pass
            raise VeventError(f"ligne illisible « {shown(line)} » (NOM;PARAMÈTRE=valeur:valeur attendu)",
                               _LINE + str(number))
        raise VeventError("une ligne de l'événement ne suit pas le format iCalendar (RFC 5545)")


_LINE = "#line "  # a VeventError's prop that is a line number rather than a property name
# The texts Maillage keeps of an event: refused when they hold what no one types and what breaks
# readers or databases (NUL, other control characters, bidirectional overrides). A UID is one
# line; the line breaks of a SUMMARY or a LOCATION become spaces (`one_line`).
_TEXTS = {"UID": True, "SUMMARY": False, "LOCATION": False, "CATEGORIES": False, "DESCRIPTION": False}


def _check_texts(component) -> None:
    for name, one_line in _TEXTS.items():
        values = component.get(name)
        for value in values if isinstance(values, list) else [values] if values is not None else []:
            for item in getattr(value, "cats", [value]):
                problem = text_problem(str(item), one_line=one_line)
                if problem:
                    raise VeventError(f"{name} : {problem}", name)


def _located(error: VeventError, layout: _Layout, index: int, line: int | None, label: str) -> LocatedError:
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
        message += f" « {shown(text)} »"
    return LocatedError(message, where, label)


def places_by_name() -> dict[str, Place]:
    return {p.name.casefold(): p for p in db.session.scalars(sa.select(Place))}


