"""What a valid wall-clock rule is: the checks every event write makes on its timing, the instant
a local time names, and a bound on a series' last day (kept for cheap window queries)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.errors import InvalidInput
from models.events import FREQUENCIES, Event
from models.operations.territory import check_timezone
from models.territory import SCHOOL_ZONE_CHOICES, is_overseas

TIMING_FIELDS = ("timezone", "all_day", "start_date", "start_time", "duration_minutes", "frequency", "interval",
                 "weekdays", "month_week", "month_days", "months", "extra_dates", "until", "count",
                 "skip_public_holidays", "holiday_region", "pause_school_holidays", "school_zone")

MAX_DURATION_MINUTES = 7 * 24 * 60

MAX_COUNT = 1000

# The years of the calendar, for what is written and what is read alike: epoch seconds before 1970
# are negative, and beyond a few lifetimes a date is a typo (00010101, 99991231) that would overflow
# the conversions to UTC and the margins taken around a window. An event dated outside could be
# written but never read.
FIRST_YEAR, LAST_YEAR = 1970, 2199
OUT_OF_CALENDAR = f"Les dates vont de {FIRST_YEAR} à {LAST_YEAR}."


def in_calendar(day: date | datetime) -> bool:
    """Whether a date (or datetime) is within the years of the calendar."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def year_problem(day: date) -> str | None:
    """Why a date is outside the supported years (None when it is not), in French, to be located
    (an import's line)."""
    if in_calendar(day):
        return None
    return f"date hors des années prises en charge ({FIRST_YEAR} à {LAST_YEAR}) : {day.isoformat()[:10]}"


def local_to_utc(day: date, at: time, tz_name: str) -> datetime:
    """The instant a wall-clock time names in a zone (a time skipped by DST takes the offset
    before the change, as RFC 5545 says)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz_name)).astimezone(UTC)


def check_timing(e: Event) -> None:
    """Checks the wall-clock rule of an event once its fields are set; fills what defaults."""
    check_timezone(e.timezone)
    for name in ("start_date", "until"):
        if (day := getattr(e, name)) is not None and not in_calendar(day):
            raise InvalidInput.on(name, OUT_OF_CALENDAR)
    if e.frequency not in FREQUENCIES:
        raise InvalidInput.on("frequency", f"Fréquence non prise en charge : « {e.frequency} ». Une série ne peut "
                       "pas être plus fréquente que quotidienne (once, daily, weekly, monthly, yearly).")
    # 0: an instant (RFC 5545: an event without end), as an imported file may have; the API and
    # the pages ask for an end after the start.
    if not 0 <= e.duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidInput.on("duration_minutes", "La fin doit être après le début, et la durée d'au plus 7 jours.")
    if e.all_day and (e.start_time != time() or e.duration_minutes % (24 * 60)):
        raise InvalidInput.on("all_day", "Un événement sur la journée entière commence à minuit et dure des jours "
                              "entiers (durée multiple de 1440 minutes).")
    if not 1 <= (e.interval or 1) <= 52:
        raise InvalidInput.on("interval", "L'intervalle doit être compris entre 1 et 52.")
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in e.weekdays or []):
        raise InvalidInput.on("weekdays", "Les jours de la semaine vont de 0 (lundi) à 6 (dimanche).")
    check_month_days(e)
    if e.frequency in ("weekly", "monthly") and not e.weekdays and not e.month_days:
        e.weekdays = [e.start_date.weekday()]
    e.weekdays = sorted(set(e.weekdays or []))
    if e.frequency == "monthly" and not e.month_days:
        if e.month_week not in (1, 2, 3, 4, -1):
            raise InvalidInput.on("month_week", "Pour une série mensuelle, indiquez la semaine du mois : 1 à 4, "
                           "ou -1 pour la dernière.")
    elif e.frequency == "yearly" and e.month_week is not None:
        if e.month_week not in (1, 2, 3, 4, -1) or not e.weekdays or e.month_days:
            raise InvalidInput.on("month_week", "Pour une série annuelle sur un jour de la semaine, indiquez la "
                                  "semaine du mois (1 à 4, ou -1) et le jour, sans jours du mois.")
    elif e.month_week is not None:
        raise InvalidInput.on("month_week", "La semaine du mois ne vaut que pour une série mensuelle ou annuelle, "
                              "sans jours du mois.")
    check_extra_dates(e)
    if e.until is not None and e.until < e.start_date:
        raise InvalidInput.on("until", "La date de fin est avant la date de début.")
    if e.count is not None and not 1 <= e.count <= MAX_COUNT:
        raise InvalidInput.on("count", f"Le nombre d'occurrences doit être compris entre 1 et {MAX_COUNT}.")
    check_school_holidays(e)
    if e.frequency == "once":
        # A single date is set on purpose: neither a public holiday nor a school holiday takes it
        # away (a forum on 8 May is on 8 May); only series skip them.
        e.interval, e.weekdays, e.until, e.count, e.month_days, e.months = 1, [], None, None, None, None
        e.skip_public_holidays, e.pause_school_holidays = False, False
    e.starts_at = local_to_utc(e.start_date, e.start_time, e.timezone)
    e.last_date = last_possible_date(e)


def check_month_days(e: Event) -> None:
    """Days of the month (1 to 31, -1 to -31 from its end) for monthly and yearly rules; months
    (1 to 12) for yearly ones only."""
    if e.month_days and e.frequency not in ("monthly", "yearly"):
        raise InvalidInput.on("month_days", "Les jours du mois ne valent que pour une série mensuelle ou annuelle.")
    if any(not isinstance(d, int) or isinstance(d, bool) or not (1 <= d <= 31 or -31 <= d <= -1)
           for d in e.month_days or []):
        raise InvalidInput.on("month_days", "Les jours du mois vont de 1 à 31, ou de -1 (le dernier) à -31.")
    if e.months and e.frequency != "yearly":
        raise InvalidInput.on("months", "Les mois ne valent que pour une série annuelle.")
    if any(not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 12 for m in e.months or []):
        raise InvalidInput.on("months", "Les mois vont de 1 (janvier) à 12 (décembre).")
    e.month_days = sorted(set(e.month_days)) if e.month_days else None
    e.months = sorted(set(e.months)) if e.months else None


def check_extra_dates(e: Event) -> None:
    """Dates added to the rule (RDATE): ISO dates from the start on, within the calendar's years."""
    found = set()
    for value in e.extra_dates or []:
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput.on("extra_dates", f"Date ajoutée illisible : « {str(value)[:20]} » (AAAA-MM-JJ).") \
                from None
        if not in_calendar(day) or day < e.start_date:
            raise InvalidInput.on("extra_dates", "Une date ajoutée doit suivre la date de début. " + OUT_OF_CALENDAR)
        found.add(day)
    if len(found) > MAX_COUNT:
        raise InvalidInput.on("extra_dates", f"Au plus {MAX_COUNT} dates ajoutées.")
    e.extra_dates = [d.isoformat() for d in sorted(found)] or None


def check_school_holidays(e: Event) -> None:
    """A series that pauses during school holidays needs a zone: its place's, or one given."""
    if e.school_zone is not None and e.school_zone not in SCHOOL_ZONE_CHOICES:
        raise InvalidInput.on("school_zone", f"Zone de vacances scolaires inconnue : « {e.school_zone} » (A, B ou C).")
    if e.school_zone is not None and is_overseas(e.holiday_region):
        raise InvalidInput.on("school_zone", "Les zones A, B et C sont celles de la métropole : un lieu "
                              "d'outre-mer suit le calendrier scolaire de son académie, que Maillage ne connaît pas.")
    if e.pause_school_holidays and e.frequency != "once" and e.school_holidays_zone is None:
        if is_overseas(e.holiday_region):
            raise InvalidInput.on("pause_school_holidays", "Maillage ne connaît pas les vacances scolaires des "
                                  "académies d'outre-mer : cette série ne peut pas s'interrompre pendant les vacances "
                                  "scolaires.")
        raise InvalidInput.on("school_zone", "Le département du lieu ne donne pas de zone de vacances scolaires "
                              "(Corse, département inconnu) : indiquez la zone, A, B ou C.")


def last_possible_date(e: Event) -> date | None:
    """A day no occurrence starts after (a bound, exact enough for window queries)."""
    added = max((date.fromisoformat(d) for d in e.extra_dates or []), default=e.start_date)
    if e.frequency == "once":
        return added
    bounds = []
    if e.until is not None:
        bounds.append(e.until)
    if e.count is not None:
        days_per_step = {"daily": 1, "weekly": 7, "monthly": 31, "yearly": 366}[e.frequency]
        per_step = 1 if e.frequency in ("daily", "yearly") else max(1, len(e.weekdays or e.month_days or []))
        steps = -(-e.count // per_step) + 1
        if e.frequency in ("monthly", "yearly"):
            # A month may give none (the 31st), a year too (29 February: 8 years from 2096 to 2104).
            steps = (e.count + 1) * (2 if e.frequency == "monthly" else 8)
        bounds.append(e.start_date + timedelta(days=steps * days_per_step * e.interval))
    return max(min(bounds), added) if bounds else None
