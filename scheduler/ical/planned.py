"""What an import plans before it writes: Maillage's wall-clock series and their exceptions, read
from a file, and the errors that refuse a file whole, each located.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models import Partner, Place
from models.errors import InvalidInput

MAX_EVENTS = 5000
# Lines our own feeds append to a description: dropped on the way back in, so that importing a
# Maillage feed does not grow descriptions at every round.
_OUR_DESCRIPTION_LINES = ("Type : ", "Organisé par : ", "Public : ", "Sans rendez-vous", "Inscription : ",
                          "Intervenant·es : ", "Réservé aux partenaires")


@dataclass
class ImportOptions:
    """What the file does not say: who imports, for which partner, where by default."""

    partner: Partner  # organiser of what is created
    place: Place  # where events go when LOCATION names no known place
    kind: str = "permanence"
    visibility: str = "public"
    source: str = "import"  # Event.source: "import", or "sync:<id>" for a synced calendar


@dataclass
class LocatedError:
    message: str
    line: int | None = None
    component: str = ""

    def __str__(self) -> str:
        where = ", ".join(x for x in (f"ligne {self.line}" if self.line else "", self.component) if x)
        return f"{where} : {self.message}" if where else self.message


class ImportRefused(InvalidInput):
    """The file is refused whole; `located` lists every error found, each with its place."""

    def __init__(self, located: list[LocatedError]):
        self.located = located
        first = str(located[0]) if located else ""
        more = f" (et {len(located) - 1} autre(s) erreur(s))" if len(located) > 1 else ""
        super().__init__(f"Fichier refusé, rien n'a été importé. {first}{more}",
                         {"file": [str(e) for e in located[:50]]})


@dataclass
class PlannedException:
    recurrence_start: datetime  # UTC
    is_cancelled: bool
    starts_at: datetime | None = None
    duration_minutes: int | None = None


@dataclass
class PlannedEvent:
    uid: str
    values: dict  # Event fields, place as a Place
    exceptions: list[PlannedException] = field(default_factory=list)
    all_day: bool = False  # DTSTART was a date
    floating: bool = False  # DTSTART had no zone (a date, or a time on the wall clock of whoever reads it)
    notes: list[str] = field(default_factory=list)  # what the preview tells (a zone kept or changed)
    line: int | None = None
    component: str = ""

    @property
    def title(self) -> str:
        return self.values["title"]


