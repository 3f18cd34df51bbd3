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
                 "weekdays", "month_week", "until", "count", "skip_public_holidays", "holiday_region",
                 "pause_school_holidays", "school_zone")

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
                       "pas être plus fréquente que quotidienne (once, daily, weekly, monthly).")
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
    if e.frequency in ("weekly", "monthly") and not e.weekdays:
        e.weekdays = [e.start_date.weekday()]
    e.weekdays = sorted(set(e.weekdays or []))
    if e.frequency == "monthly":
        if e.month_week not in (1, 2, 3, 4, -1):
            raise InvalidInput.on("month_week", "Pour une série mensuelle, indiquez la semaine du mois : 1 à 4, "
                           "ou -1 pour la dernière.")
    elif e.month_week is not None:
        raise InvalidInput.on("month_week", "La semaine du mois ne vaut que pour une série mensuelle.")
    if e.until is not None and e.until < e.start_date:
        raise InvalidInput.on("until", "La date de fin est avant la date de début.")
    if e.count is not None and not 1 <= e.count <= MAX_COUNT:
        raise InvalidInput.on("count", f"Le nombre d'occurrences doit être compris entre 1 et {MAX_COUNT}.")
    check_school_holidays(e)
    if e.frequency == "once":
        # A single date is set on purpose: neither a public holiday nor a school holiday takes it
        # away (a forum on 8 May is on 8 May); only series skip them.
        e.interval, e.weekdays, e.until, e.count = 1, [], None, None
        e.skip_public_holidays, e.pause_school_holidays = False, False
    e.starts_at = local_to_utc(e.start_date, e.start_time, e.timezone)
    e.last_date = last_possible_date(e)


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
    if e.frequency == "once":
        return e.start_date
    bounds = []
    if e.until is not None:
        bounds.append(e.until)
    if e.count is not None:
        days_per_step = {"daily": 1, "weekly": 7, "monthly": 31}[e.frequency]
        per_step = 1 if e.frequency == "daily" else max(1, len(e.weekdays))
        steps = -(-e.count // per_step) + 1
        bounds.append(e.start_date + timedelta(days=steps * days_per_step * e.interval))
    return min(bounds) if bounds else None

