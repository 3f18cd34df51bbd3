"""Calendars to import: the shared corpus of real-world files, small and big generated ones."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers.dates import next_working_monday

PARIS = ZoneInfo("Europe/Paris")


def corpus_dir() -> Path:
    """The shared corpus: ../shared/corpora from the repository root (CI), or /work/shared."""
    root = Path(__file__).resolve().parent.parent.parent
    for candidate in (root.parent / "shared" / "corpora", root.parent.parent / "shared" / "corpora",
                      Path("/work/shared/corpora")):
        if (candidate / "icalendar-tests").is_dir():
            return candidate / "icalendar-tests"
    pytest.fail("the shared corpus ../shared/corpora/icalendar-tests is missing")


def two_sessions_from_next_monday(uid_suffix: str = "") -> bytes:
    """A small .ics (Thunderbird's shape): a permanence at the BIJ next Monday at 14:00 and a
    workshop at the PIMMS the day after (the import, sync and feed page tests import it)."""
    monday = next_working_monday()
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN", "VERSION:2.0"]
    for n, (title, place, day, hours) in enumerate((("Permanence emploi", "BIJ d'Échirolles", monday, ("14", "16")),
                                                    ("Atelier CV", "PIMMS Villeneuve", monday + timedelta(days=1),
                                                     ("09", "11"))), start=1):
        lines += ["BEGIN:VEVENT", f"UID:seance-{n}{uid_suffix}@thunderbird", "DTSTAMP:20261110T100000Z",
                  f"SUMMARY:{title}", f"LOCATION:{place}",
                  f"DTSTART;TZID=Europe/Paris:{day:%Y%m%d}T{hours[0]}0000",
                  f"DTEND;TZID=Europe/Paris:{day:%Y%m%d}T{hours[1]}0000", "END:VEVENT"]
    return ("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n").encode()


def big_calendar(count: int, broken_at: int | None = None) -> bytes:
    """A calendar of `count` events in the shape of our own feeds, from next Monday: one in ten a
    weekly series of eight dates, the others single events spread over the year, at the BIJ and
    the PIMMS. `broken_at`: that VEVENT ends before it starts (the file must be refused whole)."""
    today = datetime.now(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Maillage//Calendrier partagé des partenaires de l'emploi//FR",
             "METHOD:PUBLISH", "X-WR-TIMEZONE:Europe/Paris"]
    for n in range(count):
        day = monday + timedelta(days=n % 300)
        hour = 8 + n % 9
        end = hour - 1 if n == broken_at else hour + 1
        lines += ["BEGIN:VEVENT", f"UID:grand-{n}@maillage.test", "DTSTAMP:20261201T090000Z",
                  f"DTSTART;TZID=Europe/Paris:{day:%Y%m%d}T{hour:02d}0000",
                  f"DTEND;TZID=Europe/Paris:{day:%Y%m%d}T{end:02d}0000",
                  *(["RRULE:FREQ=WEEKLY;COUNT=8;WKST=MO"] if n % 10 == 0 else []),
                  f"SUMMARY:Permanence n° {n}",
                  f"LOCATION:{'BIJ d' + chr(39) + 'Échirolles' if n % 2 else 'PIMMS Villeneuve'}",
                  "END:VEVENT"]
    return ("\r\n".join(lines + ["END:VCALENDAR"]) + "\r\n").encode()
