"""Reading a CSV of permanences (the template partners fill in a spreadsheet) into `PlannedEvent`s.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date, datetime, time, timedelta

from models.events import EVENT_KINDS
from scheduler.french import WEEKDAY_NAMES as WEEKDAYS
from scheduler.ical.parse_ics import _decode, _places_by_name, parse_ics
from scheduler.ical.planned import (
    ImportOptions,
    ImportRefused,
    LocatedError,
    PlannedEvent,
)

# --- reading a CSV of permanences ---------------------------------------------------------------

CSV_COLUMNS = ["Identifiant", "Titre", "Type", "Lieu", "Date de début", "Heure de début", "Heure de fin",
               "Fréquence", "Jours", "Semaine du mois", "Date de fin", "Public", "Âge minimum", "Âge maximum",
               "Description"]
CSV_FREQUENCIES = {"une fois": "once", "unique": "once", "ponctuel": "once", "tous les jours": "daily",
                   "quotidienne": "daily", "chaque semaine": "weekly", "hebdomadaire": "weekly",
                   "toutes les deux semaines": "weekly:2", "tous les 15 jours": "weekly:2",
                   "chaque mois": "monthly", "mensuelle": "monthly"}
CSV_EXAMPLE = ["", "Permanence mission locale", "Permanence", "BIJ d'Échirolles", "04/01/2027", "14h00", "17h00",
               "chaque semaine", "lundi", "", "28/06/2027", "sans diplôme", "16", "25", "Sans rendez-vous"]


def csv_template() -> bytes:
    """The CSV people download, fill in with a spreadsheet and send back (UTF-8 with BOM and
    semicolons, as French Excel reads and writes them)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(CSV_EXAMPLE)
    return ("\ufeff" + out.getvalue()).encode()


def _french_date(text: str) -> date:
    text = text.strip()
    for pattern in ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"date « {text} » illisible (JJ/MM/AAAA attendu, exemple : 04/01/2027)")


def _french_time(text: str) -> time:
    match = re.fullmatch(r"(\d{1,2})\s*(?:[h:H.]\s*(\d{2})?)?", text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2) or 0) > 59:
        raise ValueError(f"heure « {text} » illisible (exemple : 14h00 ou 14:00)")
    return time(int(match.group(1)), int(match.group(2) or 0))


def parse_csv(data: bytes, options: ImportOptions, progress=None) -> list[PlannedEvent]:
    """Permanences from the CSV template; errors name the line and the column."""
    text = _decode(data)
    dialect = ";" if text.split("\n", 1)[0].count(";") >= text.split("\n", 1)[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=dialect)
    rows = list(reader)
    if not rows:
        raise ImportRefused([LocatedError("fichier vide", 1)])
    header = [h.strip() for h in rows[0]]
    required = ["Titre", "Date de début", "Heure de début", "Heure de fin"]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportRefused([LocatedError("colonne(s) manquante(s) : " + ", ".join(missing)
                                          + " (téléchargez le modèle)", 1)])
    places = _places_by_name()
    kinds = {label.casefold(): kind for kind, label in EVENT_KINDS.items()} | {k: k for k in EVENT_KINDS}
    planned: list[PlannedEvent] = []
    errors: list[LocatedError] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if progress is not None:
            progress("parse", number - 2, len(rows) - 1)
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        column = ""
        try:
            column = "Titre"
            title = cells["Titre"][:200]
            if not title:
                raise ValueError("titre vide")
            column = "Date de début"
            start_date = _french_date(cells["Date de début"])
            column = "Heure de début"
            start_time = _french_time(cells["Heure de début"])
            column = "Heure de fin"
            end_time = _french_time(cells["Heure de fin"])
            minutes = (datetime.combine(start_date, end_time) - datetime.combine(start_date, start_time)) \
                / timedelta(minutes=1)
            if minutes <= 0:
                raise ValueError("l'heure de fin est avant l'heure de début")
            column = "Lieu"
            place = options.place
            if cells.get("Lieu"):
                named = places.get(cells["Lieu"].casefold())
                if named is None:
                    raise ValueError(f"lieu inconnu « {cells['Lieu']} » (nom exact d'un lieu de Maillage)")
                place = named
            column = "Type"
            kind = options.kind
            if cells.get("Type"):
                kind_named = kinds.get(cells["Type"].casefold())
                if kind_named is None:
                    raise ValueError(f"type inconnu « {cells['Type']} » ({', '.join(EVENT_KINDS.values())})")
                kind = kind_named
            column = "Fréquence"
            frequency = CSV_FREQUENCIES.get((cells.get("Fréquence") or "une fois").casefold())
            if frequency is None:
                raise ValueError(f"fréquence inconnue « {cells['Fréquence']} » ({', '.join(CSV_FREQUENCIES)})")
            frequency, _, interval = frequency.partition(":")
            column = "Jours"
            weekdays = []
            for word in re.split(r"[,;/ ]+(?:et\s+)?", cells.get("Jours", "").casefold()):
                if word:
                    if word not in WEEKDAYS:
                        raise ValueError(f"jour inconnu « {word} » (lundi … dimanche)")
                    weekdays.append(WEEKDAYS.index(word))
            column = "Semaine du mois"
            month_week = None
            if frequency == "monthly":
                word = (cells.get("Semaine du mois") or "").casefold().strip()
                month_week = {"1": 1, "2": 2, "3": 3, "4": 4, "premier": 1, "première": 1, "deuxième": 2,
                              "troisième": 3, "quatrième": 4, "dernier": -1, "dernière": -1, "-1": -1}.get(word)
                if month_week is None:
                    raise ValueError("pour une fréquence mensuelle, indiquez la semaine du mois : 1 à 4 ou « dernier »")
            column = "Date de fin"
            until = _french_date(cells["Date de fin"]) if cells.get("Date de fin") else None
            column = "Âge minimum"
            age_min = int(cells["Âge minimum"]) if cells.get("Âge minimum") else None
            column = "Âge maximum"
            age_max = int(cells["Âge maximum"]) if cells.get("Âge maximum") else None
        except (ValueError, KeyError) as error:
            message = str(error) if not isinstance(error, KeyError) else "colonne absente"
            if message.startswith("invalid literal"):
                message = "nombre entier attendu"
            errors.append(LocatedError(message, number, f"colonne « {column} »"))
            continue
        values = {
            "title": title, "description": cells.get("Description", "")[:10000], "kind": kind, "place": place,
            "visibility": options.visibility, "status": "confirmed", "timezone": place.timezone,
            "start_date": start_date, "start_time": start_time, "duration_minutes": int(minutes),
            "frequency": frequency, "interval": int(interval or 1),
            "weekdays": sorted(set(weekdays or ([start_date.weekday()] if frequency in ("weekly", "monthly") else []))),
            "month_week": month_week, "until": until if frequency != "once" else None, "count": None,
            "skip_public_holidays": frequency != "once", "holiday_region": place.department,
            "age_min": age_min, "age_max": age_max,
            "audience_tags": [t.strip() for t in re.split(r"[,;]", cells.get("Public", "")) if t.strip()],
        }
        uid = cells.get("Identifiant") or "csv-" + hashlib.sha256(
            f"{title}|{place.id}|{start_date}|{start_time}".encode()).hexdigest()[:24]
        if uid in seen:
            errors.append(LocatedError(f"même permanence que la ligne {seen[uid]} (même titre, lieu, date et heure)",
                                       number))
            continue
        seen[uid] = number
        if until is not None and until < start_date:
            errors.append(LocatedError("la date de fin est avant la date de début", number, "colonne « Date de fin »"))
            continue
        planned.append(PlannedEvent(uid=uid, values=values, line=number, component=f"ligne {number}"))
    if errors:
        raise ImportRefused(errors)
    return planned


def is_csv(filename: str, data: bytes) -> bool:
    name = (filename or "").lower()
    head = data[:200].lstrip(b"\xef\xbb\xbf \r\n\t").upper()
    return name.endswith(".csv") or (not name.endswith((".ics", ".ical", ".ifb")) and not head.startswith(b"BEGIN:"))


def parse_file(filename: str, data: bytes, options: ImportOptions, progress=None) -> list[PlannedEvent]:
    if is_csv(filename, data):
        return parse_csv(data, options, progress)
    return parse_ics(data, options, progress)


