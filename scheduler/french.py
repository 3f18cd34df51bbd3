"""French for people: dates, times, age bands, as every page, mail and feed writes them.

One table of day and month names, one way to write a date ("mardi 1er décembre 2026") and a time
("14 h", "14 h 30"). Pages, messages and feeds import these; nothing else spells a date.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

WEEKDAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
               "octobre", "novembre", "décembre")


def day_label(day: date) -> str:
    """"mardi 1er décembre": a day within the coming months, year understood."""
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day}{'er' if day.day == 1 else ''} {MONTH_NAMES[day.month - 1]}"


def french_date(day: date) -> str:
    """"mardi 1er décembre 2026"."""
    return f"{day_label(day)} {day.year}"


def hour_label(moment: datetime | time) -> str:
    """"14 h", "14 h 30": the minutes only when there are some (pages, posters)."""
    return f"{moment.hour} h {moment.minute:02d}" if moment.minute else f"{moment.hour} h"


def french_time(moment: datetime | time) -> str:
    """"14 h 00": always with minutes (messages, where times line up)."""
    return f"{moment.hour} h {moment.minute:02d}"


def french_datetime(moment: datetime) -> str:
    return f"{french_date(moment.date())} à {french_time(moment)}"


MONTH_ABBREVIATIONS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
                       "nov.", "déc.")


def short_date(day: date) -> str:
    """"8 déc.": a date in a summary of many."""
    return f"{day.day}{'er' if day.day == 1 else ''} {MONTH_ABBREVIATIONS[day.month - 1]}"


def summarise_dates(moments: list[datetime]) -> str:
    """Many dates in a few words: "les mardis du 8 déc. au 30 mars, 17 dates" (all the same
    weekday), "du 8 déc. au 30 mars, 5 dates", "le mardi 8 décembre 2026 à 14 h 00"."""
    days = sorted({m.date() for m in moments})
    if not days:
        return "aucune date à venir"
    if len(days) == 1:
        return f"le {french_datetime(min(moments))}"
    first, last = days[0], days[-1]
    span = f"du {short_date(first)}{f' {first.year}' if first.year != last.year else ''} au {short_date(last)}"
    weekdays = {d.weekday() for d in days}
    on = f"les {WEEKDAY_NAMES[weekdays.pop()]}s " if len(weekdays) == 1 else ""
    return f"{on}{span}, {len(days)} dates"


def age_label(age_min: int | None, age_max: int | None) -> str | None:
    if age_min is not None and age_max is not None:
        return f"{age_min}–{age_max} ans"
    if age_min is not None:
        return f"dès {age_min} ans"
    if age_max is not None:
        return f"jusqu'à {age_max} ans"
    return None


# --- a series' rule in words ------------------------------------------------------------------

WEEKDAY_PLURALS = ("lundis", "mardis", "mercredis", "jeudis", "vendredis", "samedis", "dimanches")
MONTH_WEEK_NAMES = {1: "premier", 2: "deuxième", 3: "troisième", 4: "quatrième", -1: "dernier"}


def _and_list(words: list[str]) -> str:
    """"lundis", "lundis et jeudis", "lundis, mardis et jeudis"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} et {words[-1]}"


def _day_month(day: date, with_year: bool) -> str:
    text = f"{day.day}{'er' if day.day == 1 else ''} {MONTH_NAMES[day.month - 1]}"
    return f"{text} {day.year}" if with_year else text


def whole_days(duration_minutes: int) -> str:
    """How an all-day event's length is said: "toute la journée", "pendant 3 jours"."""
    days = round(duration_minutes / (24 * 60))  # a day of 23 or 25 hours is a day
    return "toute la journée" if days <= 1 else f"pendant {days} jours"


def _hours(start: time, duration_minutes: int, all_day: bool = False) -> str:
    """"de 14 h à 17 h"; a session of a day or more says when it starts and how long it lasts."""
    if all_day:
        return whole_days(duration_minutes)
    if duration_minutes >= 24 * 60:
        days = duration_minutes // (24 * 60)
        return f"à partir de {hour_label(start)}, pendant {days} jour{'s' if days > 1 else ''}"
    end_minutes = (start.hour * 60 + start.minute + duration_minutes) % (24 * 60)
    return f"de {hour_label(start)} à {hour_label(time(end_minutes // 60, end_minutes % 60))}"


def _how_often(event) -> str:
    interval = event.interval or 1
    weekdays = sorted(event.weekdays or [event.start_date.weekday()])
    if event.frequency == "daily":
        return "tous les jours" if interval == 1 else f"tous les {interval} jours"
    if event.frequency == "weekly":
        days = _and_list([WEEKDAY_PLURALS[d] for d in weekdays])
        if interval == 1:
            return f"tous les {days}"
        if interval == 2:
            return f"un {_and_list([WEEKDAY_NAMES[d] for d in weekdays])} sur deux"
        on_days = f"les {days}" if len(weekdays) > 1 else f"le {WEEKDAY_NAMES[weekdays[0]]}"
        return f"toutes les {interval} semaines, {on_days}"
    month_days = list(getattr(event, "month_days", None) or [])
    if event.frequency == "yearly":
        months = list(getattr(event, "months", None) or [event.start_date.month])
        of = _and_list([MONTH_NAMES[m - 1] for m in months])
        every = "chaque année" if interval == 1 else f"tous les {interval} ans"
        if event.month_week is not None:
            rank = MONTH_WEEK_NAMES.get(event.month_week, "premier")
            return f"{every}, le {rank} {_and_list([WEEKDAY_NAMES[d] for d in weekdays])} de {of}"
        return f"{every}, le {_month_days(month_days or [event.start_date.day])} {of}"
    every = "du mois" if interval == 1 else f"tous les {interval} mois"
    if month_days:
        return f"le {_month_days(month_days)} {every}"
    # monthly: the nth (or last) of the chosen weekdays
    rank = MONTH_WEEK_NAMES.get(event.month_week, "premier")
    days = _and_list([WEEKDAY_NAMES[d] for d in weekdays])
    return f"le {rank} {days} {every}"


def _month_days(days: list[int]) -> str:
    """"1er, 15 et dernier jour": days of the month as a person says them (-1 the last)."""
    said = [f"{d}{'er' if d == 1 else ''}" for d in sorted(d for d in days if d > 0)]
    said += ["dernier jour" if d == -1 else "avant-dernier jour" if d == -2 else f"{-d}e jour en partant de la fin"
             for d in sorted((d for d in days if d < 0), reverse=True)]
    return _and_list(said)


# From ten months on, an end date without its year could be read as before the start.
YEARS_SAID_FROM_DAYS = 300


def rule_phrase(event) -> str:
    """A series' rule as a person says it: "tous les lundis de 14 h à 17 h, du 7 décembre au
    29 mars, hors jours fériés". `event` is an Event, saved or not (the form's preview phrases
    what is being typed). Years are said only when the series spans most of a year or more
    ("du 7 décembre au 6 décembre" would read backwards), or for a single date."""
    hours = _hours(event.start_time, event.duration_minutes, bool(getattr(event, "all_day", False)))
    added = [date.fromisoformat(d) for d in getattr(event, "extra_dates", None) or []]
    also = f", et le {_and_list([_day_month(d, True) for d in added])}" if added else ""
    if event.frequency == "once":
        return f"le {french_date(event.start_date)} {hours}{also}"
    parts = [f"{_how_often(event)} {hours}"]
    until, count = event.until, event.count
    with_year = until is not None and (until - event.start_date).days >= YEARS_SAID_FROM_DAYS
    start = _day_month(event.start_date, with_year)
    if until is not None:
        parts.append(f"du {start} au {_day_month(until, with_year)}")
    else:
        parts.append(f"à partir du {start}")
    if count is not None:
        parts.append(f"{count} séance{'s' if count > 1 else ''} au plus" if until is not None
                     else f"{count} séance{'s' if count > 1 else ''}")
    if event.skip_public_holidays:
        parts.append("hors jours fériés")
    if event.pause_school_holidays:
        zone = getattr(event, "school_holidays_zone", None)
        parts.append(f"hors vacances scolaires (zone {zone})" if zone else "hors vacances scolaires")
    return ", ".join(parts) + also


def partners_only_title(kind_label: str, organisers: list[str]) -> str:
    """What someone outside the organising partners reads of a partners-only event: its title may
    hold a young person's first name ("Parrainage : rencontre avec Yanis"), so only its kind and
    its organisers."""
    by = f" — {', '.join(organisers)}" if organisers else ""
    return f"Réservé aux partenaires : {kind_label.lower()}{by}"


def title_for(event, reader_partner_id: int | None) -> str:
    """An event's title as a reader of that partner may read it (None: a coordinator, a subscriber,
    anyone of no organising partner): a partners-only event's title only for the people of the
    partners that organise it, in a feed, a message or its attachment; everyone else reads
    `partners_only_title` (stated in templates/partials/young_people_rule.html)."""
    if event.visibility == "public" or reader_partner_id in {p.id for p in event.organisers}:
        return event.title
    return partners_only_title(event.kind_label, [p.name for p in event.organisers])


PARTNERS_ONLY_DETAIL = "Le détail de ce rendez-vous n'est visible que des structures qui l'organisent."


def series_label(event) -> str:
    """A series' timing in a few words: "chaque lundi, 14 h – 17 h, du 14 déc. 2026 au 15 mars
    2027", "le lundi 14 décembre 2026, 14 h – 17 h" (an Event, or anything with its columns)."""
    start = datetime.combine(event.start_date, event.start_time)
    end = start + timedelta(minutes=event.duration_minutes)
    hours = f"{hour_label(start)} – {hour_label(end)}"
    if event.frequency == "once":
        return f"le {french_date(event.start_date)}, {hours}"
    every = {"daily": "jour", "weekly": "semaine", "monthly": "mois", "yearly": "année"}[event.frequency]
    if event.frequency == "weekly" and event.weekdays:
        what = "chaque " + " et ".join(WEEKDAY_NAMES[d] for d in sorted(event.weekdays))
    elif event.frequency == "monthly" and event.month_week:
        nth = {1: "premier", 2: "deuxième", 3: "troisième", 4: "quatrième", -1: "dernier"}[event.month_week]
        what = f"le {nth} {WEEKDAY_NAMES[event.start_date.weekday()]} du mois"
    else:
        what = f"chaque {every}"
    if (event.interval or 1) > 1:
        unit = {"mois": "mois", "année": "ans"}.get(every, every + "s")
        what += f" (tous les {event.interval} {unit})"
    span = f"à partir du {short_date(event.start_date)} {event.start_date.year}"
    last = event.until or getattr(event, "last_date", None)
    if last is not None:
        span = f"du {short_date(event.start_date)} {event.start_date.year} au {short_date(last)} {last.year}"
    elif event.count:
        span += f", {event.count} fois"
    return f"{what}, {hours}, {span}"
