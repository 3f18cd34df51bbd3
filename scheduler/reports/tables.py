"""The reports as tables: what the pages show beside each chart, and what CSV and XLSX carry.
One table, three renderings: the page, the CSV, the workbook say the same figures."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

from openpyxl import Workbook
from openpyxl.styles import Font

from models.events import EVENT_KINDS
from models.partners import PARTNER_TYPES
from scheduler.french import WEEKDAY_NAMES, french_date
from scheduler.reports.coverage import Coverage, hours
from scheduler.reports.review import Review, Tally


@dataclass
class Table:
    key: str  # the sheet's and the file's name
    title: str  # French, as a caption
    headers: list[str]
    rows: list[list]


def coverage_tables(report: Coverage) -> list[Table]:
    types, kinds = report.partner_types, report.kinds
    by_type = Table("quartiers", "Heures de présence par quartier et type de partenaire",
                    ["Quartier", "Code", "Département", "Séances", "Heures", *(PARTNER_TYPES[t] for t in types)],
                    [[q.name, q.code, q.department or "", q.sessions, q.hours,
                      *(hours(q.by_partner_type.get(t, 0)) for t in types)] for q in report.quartiers])
    by_kind = Table("types-evenements", "Heures par quartier et type d'événement",
                    ["Quartier", "Code", *(EVENT_KINDS[k] for k in kinds)],
                    [[q.name, q.code, *(hours(q.by_kind.get(k, 0)) for k in kinds)] for q in report.quartiers])
    white = Table("zones-blanches", "Zones blanches : quartiers sans aucune présence d'un type de partenaire",
                  ["Quartier", "Code", "Type de partenaire absent"],
                  [[q.name, q.code, PARTNER_TYPES[t]] for q, t in report.white_zones])
    heat = Table("jours-heures", "Heures de présence par jour de la semaine et heure de la journée",
                 ["Jour", *(f"{h} h" for h in range(24))],
                 [[WEEKDAY_NAMES[d].capitalize(), *(hours(s) for s in report.heatmap[d])] for d in range(7)])
    return [by_type, by_kind, white, heat]


def period_label(report) -> str:
    """"du lundi 1er février 2027 au dimanche 28 février 2027": the end is exclusive."""
    last = (report.end - timedelta(microseconds=1)).date()
    return f"du {french_date(report.start.date())} au {french_date(last)}"


def _french_number(value):
    # French spreadsheets read "3,5"; a dot would turn hours into dates or text.
    return str(value).replace(".", ",") if isinstance(value, float) else value


def to_csv(table: Table) -> bytes:
    """`;`-separated, decimal commas, UTF-8 with a BOM: what a French spreadsheet opens as is."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows([[_french_number(v) for v in row] for row in table.rows])
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(tables: list[Table], heading: str) -> bytes:
    """One sheet a table, its title and the period on the first line, numbers as numbers."""
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.key[:31])
        sheet.append([f"{table.title} — {heading}"])
        sheet["A1"].font = Font(bold=True)
        sheet.append(table.headers)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
        sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TALLY_HEADERS = ["Séances prévues", "Tenues", "À venir", "Annulées", "Déplacées", "Heures tenues",
                 "Personnes reçues", "Séances comptées", "Personnes par séance", "Chevauchements"]


def _tally_cells(t: Tally) -> list:
    return [t.planned, t.held, t.to_come, t.cancelled, t.moved, t.hours, t.people, t.counted,
            t.per_session if t.per_session is not None else "", sum(t.overlaps.values())]


def review_tables(report: Review) -> list[Table]:
    actions = Table("actions", "Par action : séances, heures, personnes reçues",
                    ["Action", "Type", "Quartier", "Partenaires", *TALLY_HEADERS],
                    [[s.title, EVENT_KINDS.get(s.kind, s.kind), s.quartier, ", ".join(s.partners),
                      *_tally_cells(s.tally)] for s in report.series])
    quartiers = Table("quartiers", "Par quartier", ["Quartier", "Code", "Partenaires", *TALLY_HEADERS],
                      [[q.name, q.code, len(q.partners), *_tally_cells(q.tally)] for q in report.quartiers]
                      + [["Total", "", len({p for q in report.quartiers for p in q.partners}),
                          *_tally_cells(report.total)]])
    cancellations = Table("annulations", "Séances annulées et leurs motifs", ["Action", "Motif", "Séances"],
                          [[s.title, why, n] for s in report.series for why, n in sorted(s.tally.reasons.items())])
    overlaps = Table("chevauchements", "Chevauchements des dates de la période, et ce qu'ils sont devenus",
                     ["Quartier", "Code", "État", "Nombre"],
                     [[q.name, q.code, status, n] for q in report.quartiers
                      for status, n in sorted(q.tally.overlaps.items())])
    return [actions, quartiers, cancellations, overlaps]
