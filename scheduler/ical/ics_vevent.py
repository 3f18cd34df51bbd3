"""One VEVENT as a planned series: its zone (kept when the instants would move), its timing, texts,
place and kind; its EXDATEs and the occurrences its overrides (RECURRENCE-ID) move or cancel."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from models import Place
from models.events import EVENT_KINDS
from models.territory import school_zone_of
from scheduler.ical.ics_rules import (
    apply_rrule,
    check_nominal_duration,
    planned_rule,
    series_instants,
    series_rule,
)
from scheduler.ical.ics_text import is_utc
from scheduler.ical.ics_values import VeventError, check_year, one_line, prop, shown, to_instant, zone_name
from scheduler.ical.planned import (
    _OUR_DESCRIPTION_LINES,
    ImportOptions,
    PlannedEvent,
    PlannedException,
)
from scheduler.ical.render import default_horizon
from scheduler.time.recurrence import (
    SeriesRule,
    gives_occurrence,
    holiday_region_of,
    skipped_holidays,
)
from scheduler.time.rules import MAX_COUNT, MAX_DURATION_MINUTES, local_to_utc


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


def plan_in_its_zone(component, uid: str, default_tz: str, options: ImportOptions, places) -> PlannedEvent:
    """A VEVENT planned on the wall clock of its own zone when it is an IANA one; a series written
    in UTC or in a zone only the file defines (its VTIMEZONE) goes to the place's zone only when
    every instant stays the same, else stays in UTC, else is refused: no occurrence moves."""
    start = prop(component, "DTSTART")
    if not isinstance(start, datetime) or start.tzinfo is None:
        return _plan_vevent(component, uid, default_tz, options, places)
    tzid = component["DTSTART"].params.get("TZID")
    known = zone_name(start, tzid, None)
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
    if truth.values["frequency"] == "once" and not truth.values["extra_dates"]:
        # One instant: the place's clock names it as well.
        return _plan_vevent(component, uid, default_tz, options, places)
    instants = series_instants(truth.values, own)
    for tz, wall_zone in candidates:
        try:
            planned = _plan_vevent(component, uid, tz, options, places, wall_zone=wall_zone)
        except VeventError:
            continue
        if series_instants(planned.values, ZoneInfo(tz)) == instants:
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
    raise VeventError(f"fuseau horaire « {shown(tzid)} » défini par le fichier, inconnu de Maillage, et dont les "
                       f"changements d'heure diffèrent de ceux de {default_tz} : exportez le calendrier avec un "
                       "fuseau IANA (exemple : Europe/Paris)", "DTSTART")


def _plan_vevent(component, uid: str, tz: str, options: ImportOptions, places, wall_zone=None) -> PlannedEvent:
    """The VEVENT as a series on the wall clock of `tz` (or of `wall_zone`, a zone that the file
    defines, whose wall clock is kept as it is written)."""
    start = prop(component, "DTSTART")
    if start is None:
        raise VeventError("DTSTART manquant : l'événement n'a pas de date", "DTSTART")
    if not isinstance(start, (date, datetime)):
        raise VeventError("DTSTART doit être une date ou une date et heure", "DTSTART")
    all_day = not isinstance(start, datetime)
    floating = not isinstance(start, datetime) or start.tzinfo is None
    zone = ZoneInfo(tz)
    begin = to_instant(start, zone, time())
    local = begin.astimezone(wall_zone or zone)
    end = prop(component, "DTEND")
    duration = prop(component, "DURATION")
    if end is not None:
        if not isinstance(end, (date, datetime)) or isinstance(end, datetime) != (not all_day):
            raise VeventError("DTEND n'est pas du même type que DTSTART (date ou date et heure)", "DTEND")
        minutes = (to_instant(end, zone, time()) - begin) / timedelta(minutes=1)
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
        raise VeventError("la fin (DTEND) est avant le début (DTSTART)", "DTEND")
    if minutes > MAX_DURATION_MINUTES:
        raise VeventError("l'événement dure plus de 7 jours : Maillage ne gère pas de tels événements",
                           "DTEND" if end is not None else "DURATION")
    title = one_line(component.get("SUMMARY", ""))[:200] or "Sans titre"
    location = one_line(component.get("LOCATION", "") or "")
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
        "month_days": None, "months": None, "extra_dates": None,
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
                raise VeventError("plusieurs RRULE dans un même événement : non pris en charge", "RRULE")
            rrules = rrules[0]
        apply_rrule(values, dict(rrules), wall_zone or zone, all_day)
    if "RDATE" in component:
        values["extra_dates"] = _extra_dates(component, values, zone, wall_zone or zone, all_day)
    if rrules is not None or values["extra_dates"]:
        if isinstance(duration, timedelta) and duration.days and end is None and not all_day:
            check_nominal_duration(values, duration, wall_zone or zone)
        _plan_exdates(planned, component)
    return planned


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
            raise VeventError("EXDATE : valeur illisible", "EXDATE", quote=True) from None
        for value in values:
            if isinstance(value, (date, datetime)):
                check_year(value, "EXDATE")
                if floating and isinstance(value, datetime):
                    value = value.replace(tzinfo=None)
                found.add(to_instant(value, zone, at))
    return found


def _plan_exdates(planned: PlannedEvent, component) -> None:
    """EXDATEs become cancelled occurrences; when they cover exactly the days that holidays take
    out of the rule (the public holidays it meets, the school holidays of its place's zone), the
    series skips them or pauses for them instead (what Maillage's own feeds mean by them)."""
    values = planned.values
    zone = ZoneInfo(values["timezone"])
    excluded = _exdate_instants(component, zone, values["start_time"], planned.floating)
    given = {e for e in excluded if gives_occurrence(series_rule(values), int(e.timestamp()))}
    # The span our feeds write holidays over (scheduler.ical.default_horizon).
    horizon = default_horizon(date.today()).toordinal()

    def taken_out(rule: SeriesRule) -> set[datetime]:
        last = min(rule.until_ord or horizon, horizon)
        return {local_to_utc(date.fromordinal(d), values["start_time"], values["timezone"])
                for d in skipped_holidays(rule, rule.start_ord, last)}

    holidays = taken_out(series_rule(values, holiday_region=holiday_region_of(values["holiday_region"])))
    school_zone = school_zone_of(values["holiday_region"])
    school = taken_out(series_rule(values, school_zone=school_zone)) if school_zone else set()
    skipped = set()
    if holidays and holidays <= given:
        values["skip_public_holidays"] = True
        skipped |= holidays
    if school and school <= given:
        values["pause_school_holidays"] = True
        skipped |= school
    planned.exceptions = [PlannedException(instant, True) for instant in sorted(given - skipped)]


def recurrence_of(master: PlannedEvent, component) -> datetime:
    """The UTC instant of the occurrence an override's RECURRENCE-ID names (one the series gives)."""
    values = master.values
    if values["frequency"] == "once" and not values["extra_dates"]:
        raise VeventError("RECURRENCE-ID pour un événement qui ne se répète pas", "RECURRENCE-ID")
    zone = ZoneInfo(values["timezone"])
    rid = prop(component, "RECURRENCE-ID")
    if not isinstance(rid, (date, datetime)):
        raise VeventError("RECURRENCE-ID invalide", "RECURRENCE-ID")
    if master.all_day and isinstance(rid, datetime):
        # Outlook names a date of an all-day series by its midnight, in its own zone or in UTC:
        # the date it writes is the one meant.
        rid = rid.date()
    elif master.floating and isinstance(rid, datetime):
        rid = rid.replace(tzinfo=None)  # a floating series' date named in UTC: its written time
    recurrence = to_instant(rid, zone, values["start_time"])
    if not gives_occurrence(planned_rule(values), int(recurrence.timestamp())):
        raise VeventError(f"RECURRENCE-ID {recurrence.astimezone(zone):%d/%m/%Y %H:%M} n'est pas une date de la "
                           "série", "RECURRENCE-ID")
    return recurrence


def override_timing(values: dict, component) -> tuple[datetime, int, bool]:
    """Where an override puts its occurrence: its start (UTC), its minutes, and whether it is a
    whole day (a date moves the occurrence to that whole day, midnight to midnight, as readers
    show it)."""
    zone = ZoneInfo(values["timezone"])
    start = prop(component, "DTSTART")
    if not isinstance(start, (date, datetime)):
        raise VeventError("DTSTART manquant ou invalide dans l'occurrence modifiée", "DTSTART")
    whole_day = not isinstance(start, datetime)
    at = time() if whole_day else values["start_time"]
    begin = to_instant(start, zone, at)
    end = prop(component, "DTEND")
    duration = prop(component, "DURATION")
    if isinstance(end, (date, datetime)):
        minutes = round((to_instant(end, zone, at) - begin) / timedelta(minutes=1))
    elif isinstance(duration, timedelta):
        minutes = round(duration / timedelta(minutes=1))
    elif whole_day:
        minutes = round((to_instant(start + timedelta(days=1), zone, at) - begin) / timedelta(minutes=1))
    else:
        minutes = values["duration_minutes"]
    if not 0 <= minutes <= MAX_DURATION_MINUTES:
        raise VeventError("durée de l'occurrence modifiée invalide (fin avant le début, ou plus de 7 jours)", "DTEND")
    return begin, minutes, whole_day


def plan_override(master: PlannedEvent, component) -> None:
    values = master.values
    recurrence = recurrence_of(master, component)
    master.exceptions = [x for x in master.exceptions if x.recurrence_start != recurrence]
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        master.exceptions.append(PlannedException(recurrence, True))
        return
    begin, minutes, _whole_day = override_timing(values, component)
    if begin == recurrence and minutes == values["duration_minutes"]:
        return  # an override that changes nothing Maillage keeps (a title, an alarm)
    master.exceptions.append(PlannedException(recurrence, False, begin, minutes))
    master.exceptions.sort(key=lambda x: x.recurrence_start)


def _extra_dates(component, values: dict, zone: ZoneInfo, wall_zone, all_day: bool) -> list[str]:
    """RDATE: dates added to the rule, at the series' own time on its wall clock (ISO dates)."""
    found = set()
    rdates = component.get("RDATE")
    for item in rdates if isinstance(rdates, list) else [rdates]:
        try:
            written = [v.dt for v in item.dts]
        except Exception:
            raise VeventError("RDATE : valeur illisible", "RDATE", quote=True) from None
        for value in written:
            if not isinstance(value, (date, datetime)):  # a PERIOD (start/end of its own)
                raise VeventError("RDATE en période (début/fin propres) : non pris en charge ; exportez ces dates "
                                  "comme événements séparés", "RDATE")
            check_year(value, "RDATE")
            if isinstance(value, datetime) == all_day:
                raise VeventError("RDATE n'est pas du même type que DTSTART (date ou date et heure)", "RDATE")
            day = value
            if isinstance(value, datetime):
                local = to_instant(value, zone, values["start_time"]).astimezone(wall_zone)
                day = local.date()
                if local.time().replace(tzinfo=None) != values["start_time"]:
                    raise VeventError(f"RDATE {local:%d/%m/%Y %H:%M} à une autre heure que la série "
                                      f"({values['start_time']:%H:%M}) : non pris en charge ; exportez cette date "
                                      "comme événement séparé", "RDATE")
            if day < values["start_date"]:
                raise VeventError("RDATE avant le début de la série (DTSTART) : non pris en charge", "RDATE")
            found.add(day)
    if len(found) > MAX_COUNT:
        raise VeventError(f"plus de {MAX_COUNT} dates RDATE : non pris en charge", "RDATE")
    return [d.isoformat() for d in sorted(found)]
