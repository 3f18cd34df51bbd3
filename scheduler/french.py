"""French for people: dates, times, age bands, as every page, mail and feed writes them.

One table of day and month names, one way to write a date ("mardi 1er décembre 2026") and a time
("14 h", "14 h 30"). Pages, messages and feeds import these; nothing else spells a date.
"""
from __future__ import annotations

from datetime import date, datetime, time

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
