"""RECURRENCE-ID;RANGE=THISANDFUTURE: an occurrence moved "with all the following ones" (RFC 5545
3.2.13) is a split of the series, as Maillage's own split does it (scheduler.writes): the series
ends before that date and a second one, keyed by the file's UID and that date, takes the rest with
the override's time, length, title and place. Every reader (recurring-ical-events, ical.js)
shifts the later occurrences by the override's shift on the wall clock; when Maillage's rule
cannot give exactly those dates (a monthly "2nd Thursday" moved by a day, holidays skipped on
other days), the file is refused at the override's line rather than imported differently.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from scheduler.ical.ics_rules import COMPARED_DAYS, series_rule
from scheduler.ical.ics_values import VeventError, stamp
from scheduler.ical.ics_vevent import override_timing, plan_in_its_zone, recurrence_of
from scheduler.ical.planned import ImportOptions, PlannedEvent, PlannedException
from scheduler.time.recurrence import rule_days
from scheduler.time.rules import local_to_utc

# What an override says of the series that follows it; the rule itself stays the series'.
_TAKEN_FROM_OVERRIDE = ("title", "description", "kind", "place", "visibility", "status", "holiday_region")


def is_this_and_future(component) -> bool:
    rid = component.get("RECURRENCE-ID")
    params = getattr(rid, "params", {})
    return str(params.get("RANGE", "")).upper() == "THISANDFUTURE"


def split_this_and_future(master: PlannedEvent, component, default_tz: str, options: ImportOptions,
                          places) -> PlannedEvent | None:
    """Ends `master` before the override's date and returns the series that follows it (None when
    the override names the series' first date: `master` itself then takes the new timing)."""
    values = master.values
    zone = ZoneInfo(values["timezone"])
    recurrence = recurrence_of(master, component)
    begin, minutes, whole_day = override_timing(values, component)
    if whole_day != master.all_day:
        raise VeventError("RANGE=THISANDFUTURE qui change une série à heure fixe en journées entières (ou "
                          "l'inverse) : non pris en charge", "DTSTART")
    rid_day = recurrence.astimezone(zone).date()
    local = begin.astimezone(zone)
    shift = (local.date() - rid_day).days
    if shift and (values["skip_public_holidays"] or values.get("pause_school_holidays")):
        raise VeventError("RANGE=THISANDFUTURE qui déplace les dates d'une série sans jours fériés ou vacances "
                          "scolaires : non pris en charge", "RECURRENCE-ID")
    original = series_rule(values)
    # COUNT counts the rule's dates, not those added to it (RDATE).
    before = len(rule_days(series_rule(dict(values, extra_dates=None)), original.start_ord, rid_day.toordinal() - 1))
    after = _dates_from(original, rid_day.toordinal())
    added = [date.fromisoformat(d) for d in values.get("extra_dates") or []]
    following = dict(values)
    following.update(start_date=local.date(), start_time=local.time().replace(tzinfo=None, microsecond=0),
                     duration_minutes=minutes,
                     weekdays=sorted({(w + shift) % 7 for w in values["weekdays"]}),
                     month_days=sorted({d + shift if d > 0 else d for d in values["month_days"]})
                     if values.get("month_days") else None,
                     extra_dates=[(d + timedelta(days=shift)).isoformat() for d in added if d >= rid_day] or None,
                     until=values["until"] + timedelta(days=shift) if values["until"] else None,
                     count=values["count"] - before if values["count"] else None)
    described = plan_in_its_zone(component, master.uid, default_tz, options, places).values
    following.update({name: described[name] for name in _TAKEN_FROM_OVERRIDE})
    if _dates_from(series_rule(following), local.date().toordinal()) != [d + shift for d in after]:
        raise VeventError("RANGE=THISANDFUTURE : les dates suivantes, décalées comme l'occurrence "
                          f"({'+' if shift >= 0 else ''}{shift} jour(s)), ne suivent plus la règle de la série : "
                          "exportez plutôt deux séries", "RECURRENCE-ID")
    zone_name = values["timezone"]

    def rekeyed(x: PlannedException) -> PlannedException:
        day = x.recurrence_start.astimezone(zone).date() + timedelta(days=shift)
        return replace(x, recurrence_start=local_to_utc(day, following["start_time"], zone_name))

    later = [rekeyed(x) for x in master.exceptions if x.recurrence_start > recurrence]
    note = (f"suite de la série modifiée à partir du {rid_day:%d/%m/%Y} (RANGE=THISANDFUTURE) : "
            "une seconde série")
    if before == 0:  # the first date: the whole series takes the override's timing
        master.values, master.exceptions = following, later
        return None
    values["until"] = rid_day - timedelta(days=1) if values["until"] is None else min(
        values["until"], rid_day - timedelta(days=1))
    if values["count"]:
        values["count"] = before
    values["extra_dates"] = [d.isoformat() for d in added if d < rid_day] or None
    master.exceptions = [x for x in master.exceptions if x.recurrence_start < recurrence]
    return PlannedEvent(uid=f"{master.uid}-{stamp(recurrence)}"[:255], values=following, exceptions=later,
                        all_day=master.all_day, floating=master.floating, notes=[note])


def _dates_from(rule, first: int) -> list[int]:
    """The rule's days from `first`, as far as the instants of two zones are compared."""
    last = first + COMPARED_DAYS
    return rule_days(rule, first, min(last, rule.until_ord or last))
