"""An RRULE as Maillage's wall-clock rule: what it can hold, refused with a French message otherwise;
the rule of planned values and the instants it gives (to compare two zones' readings)."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from models.events import WEEKDAY_CODES
from models.territory import school_zone_of
from scheduler.ical.ics_values import VeventError, check_year
from scheduler.time.recurrence import (
    SeriesRule,
    holiday_region_of,
    rule_dates,
    rule_days,
)
from scheduler.time.rules import LAST_YEAR, MAX_COUNT

# How far a series without end is followed to compare the instants it gives in two zones.
COMPARED_DAYS = 3660


def series_instants(values: dict, zone) -> list[int]:
    """The instants of a planned series' rule (before exceptions) with its wall clock in `zone`."""
    rule = series_rule(values)
    last = rule.start_ord + COMPARED_DAYS
    days = rule_days(rule, rule.start_ord, min(last, rule.until_ord or last))
    at = values["start_time"]
    return [int(datetime.combine(date.fromordinal(d), at, tzinfo=zone).timestamp()) for d in days]


def check_nominal_duration(values: dict, duration: timedelta, zone) -> None:
    """A DURATION in days lasts 23 or 25 hours across a change of time: one length for the whole
    series only when none of its occurrences crosses one."""
    lengths = set()
    at = values["start_time"]
    rule = series_rule(values)
    last = rule.start_ord + COMPARED_DAYS
    for day in rule_days(rule, rule.start_ord, min(last, rule.until_ord or last)):
        begins = datetime.combine(date.fromordinal(day), at, tzinfo=zone)
        ends = datetime.combine(date.fromordinal(day) + timedelta(days=duration.days), at, tzinfo=zone)
        lengths.add((ends - begins).total_seconds() + duration.seconds)
        if len(lengths) > 1:
            raise VeventError("DURATION en jours d'une série dont des occurrences traversent un changement "
                               "d'heure : leur durée varierait (23 ou 25 h) ; donnez plutôt DTEND", "DURATION")


def apply_rrule(values: dict, rule: dict, zone, all_day: bool = False) -> None:
    def one(name):
        items = rule.get(name) or []
        return items[0] if items else None

    freq = str(one("FREQ") or "").upper()
    if not freq:
        raise VeventError("RRULE sans fréquence (FREQ manquant ou règle vide) : indiquez par exemple "
                           "FREQ=WEEKLY;BYDAY=MO", "RRULE")
    supported = {"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "YEARLY": "yearly"}
    if freq not in supported:
        raise VeventError(f"répétition FREQ={freq} non prise en charge : Maillage gère les répétitions "
                          "quotidiennes, hebdomadaires, mensuelles et annuelles", "RRULE")
    unknown = set(rule) - {"FREQ", "INTERVAL", "BYDAY", "BYSETPOS", "BYMONTHDAY", "BYMONTH", "UNTIL", "COUNT", "WKST"}
    if unknown:
        raise VeventError(f"répétition non prise en charge ({', '.join(sorted(unknown))}) : Maillage gère "
                          "« chaque semaine le lundi », « le 2e jeudi du mois », « le 15 du mois », "
                          "« chaque année le 3 mars »…", "RRULE")
    interval = int(one("INTERVAL") or 1)
    if not 1 <= interval <= 52:
        raise VeventError("INTERVAL doit être compris entre 1 et 52", "RRULE")
    values["frequency"], values["interval"] = supported[freq], interval
    days, nths = [], set()
    for item in rule.get("BYDAY") or []:
        match = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", str(item).upper())
        if match is None:
            raise VeventError(f"BYDAY invalide : {item}", "RRULE")
        days.append(WEEKDAY_CODES.index(match.group(2)))
        nths.add(int(match.group(1)) if match.group(1) else None)
    setpos = rule.get("BYSETPOS") or []
    month_days = [int(d) for d in rule.get("BYMONTHDAY") or []]
    months = [int(m) for m in rule.get("BYMONTH") or []]
    if any(not (1 <= d <= 31 or -31 <= d <= -1) for d in month_days) or any(not 1 <= m <= 12 for m in months):
        raise VeventError("BYMONTHDAY (1 à 31, -1 à -31) ou BYMONTH (1 à 12) invalide", "RRULE")
    if months and freq != "YEARLY":
        raise VeventError("BYMONTH dans une répétition qui n'est pas annuelle : non pris en charge", "RRULE")
    if month_days and (freq not in ("MONTHLY", "YEARLY") or days or setpos):
        raise VeventError("BYMONTHDAY avec BYDAY ou BYSETPOS, ou dans une répétition ni mensuelle ni annuelle : "
                          "non pris en charge", "RRULE")
    start_weekday = values["start_date"].weekday()
    if freq == "DAILY" and (days or setpos):
        # Every day, on some weekdays: the weekly rule of those days, when it steps one day at a time.
        if setpos or nths - {None} or interval != 1:
            raise VeventError("une répétition quotidienne limitée à certains jours, avec INTERVAL ou BYSETPOS : "
                              "non prise en charge ; utilisez une répétition hebdomadaire", "RRULE")
        values["frequency"], freq = "weekly", "WEEKLY"
    if freq == "WEEKLY":
        if setpos or nths - {None}:
            raise VeventError("BYSETPOS ou jour numéroté dans une répétition hebdomadaire : non pris en charge",
                              "RRULE")
        wkst = str(one("WKST") or "MO").upper()
        days = sorted(set(days or [start_weekday]))
        if wkst != "MO" and interval > 1 and len(days) > 1:
            raise VeventError("semaines commençant un autre jour que le lundi (WKST) avec INTERVAL : "
                              "non pris en charge", "RRULE")
        values["weekdays"] = days
    elif freq in ("MONTHLY", "YEARLY"):
        if freq == "YEARLY":
            if (days or month_days) and not months:
                raise VeventError("répétition annuelle sur des jours sans BYMONTH (jours de toute l'année) : "
                                  "non prise en charge ; indiquez le mois (BYMONTH)", "RRULE")
            values["months"] = sorted(set(months)) or None
        if month_days:
            values["month_days"] = sorted(set(month_days))
        elif days:
            # The nth (or last) weekday of the month.
            nth = None
            if setpos:
                if len(setpos) != 1 or len(days) != 1 or nths != {None}:
                    raise VeventError("BYSETPOS n'est pris en charge qu'avec un seul jour (exemple : 2e jeudi)",
                                      "RRULE")
                nth = int(setpos[0])
            elif len(nths) == 1 and None not in nths:
                nth = nths.pop()
            if nth not in (1, 2, 3, 4, -1):
                raise VeventError("répétition sur un jour de la semaine non prise en charge : Maillage gère le 1er à "
                                  "4e ou le dernier jour de la semaine du mois (exemple : BYDAY=2TH ou BYDAY=-1FR)",
                                  "RRULE")
            values["weekdays"], values["month_week"] = sorted(set(days)), nth
        elif setpos:
            raise VeventError("BYSETPOS sans BYDAY : non pris en charge", "RRULE")
        elif freq == "MONTHLY":
            values["month_days"] = [values["start_date"].day]  # the start's day of each month
    count, until = one("COUNT"), one("UNTIL")
    if count is not None:
        if not 1 <= int(count) <= MAX_COUNT:
            raise VeventError(f"COUNT doit être compris entre 1 et {MAX_COUNT}", "RRULE")
        values["count"] = int(count)
    if isinstance(until, date) and until.year > LAST_YEAR:
        until = None  # "until 9999": no end, as every reader takes it
    if until is not None:
        check_year(until, "RRULE")
        values["until"] = _until_date(until, values["start_time"], zone, all_day)
        if values["until"] < values["start_date"]:
            raise VeventError("UNTIL est avant le début de la série", "RRULE")
    # DTSTART must be the series' first date: otherwise RFC 5545 counts it as an extra occurrence.
    rule_ = series_rule(values)
    first = next(rule_dates(rule_, rule_.start_ord, rule_.start_ord + 3000), None)
    if first != rule_.start_ord:
        raise VeventError("DTSTART ne tombe pas sur un jour de la règle de répétition (RRULE) : "
                           "la première date serait ambiguë", "DTSTART")


def _until_date(until, start_time: time, zone, all_day: bool) -> date:
    """The last local day an occurrence may start on: UNTIL is inclusive, as an instant (a date
    UNTIL of a timed series is its midnight, as readers take it: that day's occurrence is out)."""
    if not isinstance(until, datetime):
        return until if all_day or start_time == time() else until - timedelta(days=1)
    local = (until if until.tzinfo else until.replace(tzinfo=zone)).astimezone(zone)
    return local.date() if local.time().replace(tzinfo=None) >= start_time else local.date() - timedelta(days=1)


def series_rule(values: dict, holiday_region: str | None = None, school_zone: str | None = None) -> SeriesRule:
    t = values["start_time"]
    return SeriesRule(
        event_id=0, timezone=values["timezone"], start_ord=values["start_date"].toordinal(),
        start_seconds=t.hour * 3600 + t.minute * 60 + t.second, duration=values["duration_minutes"] * 60,
        frequency=values["frequency"], interval=values["interval"], weekdays=tuple(values["weekdays"]),
        month_week=values["month_week"], month_days=tuple(values.get("month_days") or ()),
        months=tuple(values.get("months") or ()),
        extra_ords=tuple(date.fromisoformat(d).toordinal() for d in values.get("extra_dates") or ()),
        until_ord=values["until"].toordinal() if values["until"] else None,
        count=values["count"], holiday_region=holiday_region, school_zone=school_zone)


def planned_rule(values: dict) -> SeriesRule:
    """The rule of planned values, with the holidays they skip and the school holidays they pause for."""
    region = holiday_region_of(values["holiday_region"]) if values["skip_public_holidays"] else None
    zone = school_zone_of(values["holiday_region"]) if values.get("pause_school_holidays") else None
    return series_rule(values, region, zone)


