"""Charts of the reports as SVG, drawn by matplotlib on the server: the same file in the page,
the PDF and nowhere a script. Each chart has its table beside it in the page (screen readers,
exact figures); the chart is for the eye."""
from __future__ import annotations

import base64
import io

import matplotlib
from matplotlib.figure import Figure

from models.events import EVENT_KINDS
from models.partners import PARTNER_TYPES
from scheduler.french import WEEKDAY_NAMES
from scheduler.reports.coverage import Coverage, hours
from scheduler.reports.review import Review

# Text stays text (searchable in the PDF, sharp at any size); ids are stable, so two renders of
# the same figures are the same bytes.
matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "maillage", "font.size": 9,
                            "font.family": "DejaVu Sans"})
# Colours told apart by people with the common colour blindnesses (Okabe–Ito), then greys.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#7f7f7f", "#bfbfbf"]
MAX_BARS = 30


def svg_of(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def data_uri(svg: str) -> str:
    """For <img src>: the pages' security policy allows data: images, and an SVG shown as an
    image keeps its own styles."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def stacked_hours_chart(labels: list[str], series: dict[str, list[float]], title: str, unit: str = "heures") -> str:
    """Horizontal bars, one a label, stacked by series (hours, or `unit`)."""
    labels = labels[:MAX_BARS]
    figure = Figure(figsize=(7.5, 0.9 + 0.32 * max(1, len(labels))))
    axes = figure.subplots()
    left = [0.0] * len(labels)
    for index, (name, values) in enumerate(series.items()):
        values = values[:MAX_BARS]
        axes.barh(labels, values, left=left, label=name, color=PALETTE[index % len(PALETTE)])
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.invert_yaxis()  # the first label on top, as in the table
    axes.set_xlabel(unit)
    axes.set_title(title, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    if series:
        axes.legend(loc="lower right", fontsize=8, frameon=False)
    return svg_of(figure)


def quartier_hours_chart(report: Coverage) -> str:
    shown = sorted(report.quartiers, key=lambda q: -q.seconds)[:MAX_BARS]
    series = {PARTNER_TYPES[t]: [hours(q.by_partner_type.get(t, 0)) for q in shown] for t in report.partner_types}
    more = f" ({MAX_BARS} premiers)" if len(report.quartiers) > MAX_BARS else ""
    return stacked_hours_chart([f"{q.name} ({q.code})" for q in shown], series,
                               f"Heures de présence par quartier et type de partenaire{more}")


def kind_hours_chart(report: Coverage) -> str:
    totals = {k: hours(sum(q.by_kind.get(k, 0) for q in report.quartiers)) for k in report.kinds}
    return stacked_hours_chart([EVENT_KINDS[k] for k in totals], {"heures": list(totals.values())},
                               "Heures par type d'événement")


def heatmap_hours(report: Coverage) -> range:
    """The hours of the day the heat map shows: 8 h to 19 h at least, widened to any presence."""
    used = [h for h in range(24) if any(report.heatmap[d][h] for d in range(7))]
    return range(min([8, *used]), max([19, *used]) + 1)


def heatmap_chart(report: Coverage) -> str:
    shown = heatmap_hours(report)
    values = [[hours(report.heatmap[d][h]) for h in shown] for d in range(7)]
    figure = Figure(figsize=(7.5, 3.2))
    axes = figure.subplots()
    image = axes.imshow(values, cmap="Blues", aspect="auto", vmin=0)
    axes.set_yticks(range(7), [name.capitalize() for name in WEEKDAY_NAMES])
    axes.set_xticks(range(len(shown)), [f"{h} h" for h in shown])
    for d in range(7):
        for i, _ in enumerate(shown):
            if values[d][i] == 0:
                axes.text(i, d, "·", ha="center", va="center", color="#999999")
    axes.set_title("Heures de présence par jour et heure (heure locale) : où sont les creux ?", loc="left")
    figure.colorbar(image, ax=axes, label="heures")
    return svg_of(figure)


def review_sessions_chart(report: Review) -> str:
    shown = report.quartiers[:MAX_BARS]
    return stacked_hours_chart(
        [f"{q.name} ({q.code})" for q in shown],
        {"tenues": [q.tally.held for q in shown], "à venir": [q.tally.to_come for q in shown],
         "annulées": [q.tally.cancelled for q in shown]},
        "Séances par quartier", unit="séances")


def review_people_chart(report: Review) -> str:
    shown = report.quartiers[:MAX_BARS]
    return stacked_hours_chart([f"{q.name} ({q.code})" for q in shown],
                               {"personnes reçues": [q.tally.people for q in shown]},
                               "Personnes reçues par quartier (séances comptées)", unit="personnes")
