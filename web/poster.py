"""The weekly poster: an A4 PDF of a place's or quartier's week, with a QR code to its page.

Black on white only, large type and words rather than colours (Annulé, Déplacé): it must read
the same printed on the office's black-and-white printer. The page is filled whatever the week
holds: few dates in portrait and large type, many in landscape and columns.
"""
from __future__ import annotations

from datetime import date, timedelta

import segno
from flask import render_template
from weasyprint import HTML

from scheduler.french import day_label

# From the largest type to the densest: (for at most this many dates, orientation, columns, base
# font size in pt). A week starts at the layout of its count and steps to denser ones until it
# holds on one page (titles and places vary in length).
LAYOUTS = (
    (3, "portrait", 1, 18),
    (6, "portrait", 1, 15),
    (10, "portrait", 1, 12.5),
    (16, "portrait", 1, 11),
    (26, "landscape", 2, 10.5),
    (40, "landscape", 3, 9.5),
    (60, "landscape", 3, 8),
    (10_000, "landscape", 4, 7.5),
)


def qr_svg_data_uri(url: str) -> str:
    # Error correction M survives a crease or a pinned corner; a wide quiet zone for phone readers.
    return segno.make(url, error="m", micro=False).svg_data_uri(scale=6, border=4, dark="#000", light="#fff")


def layouts_for(count: int) -> list[dict]:
    """The layouts to try for a week of `count` dates, the largest type first."""
    first = next(i for i, (most, *_) in enumerate(LAYOUTS) if count <= most)
    return [{"orientation": o, "columns": c, "font_pt": size} for _, o, c, size in LAYOUTS[first:]]


def render_poster(title: str, page_url: str, monday: date, days) -> bytes:
    count = sum(len(rows) for _, _, rows in days)
    qr = qr_svg_data_uri(page_url)
    week_label = f"Semaine du {day_label(monday)} au {day_label(monday + timedelta(days=6))} {monday.year}"
    document = None
    for layout in layouts_for(count):
        html = render_template("public/poster.html", title=title, page_url=page_url, days=days, qr=qr,
                               layout=layout, week_label=week_label)
        document = HTML(string=html, base_url=page_url).render()
        if len(document.pages) == 1:
            break
    assert document is not None
    return document.write_pdf()
