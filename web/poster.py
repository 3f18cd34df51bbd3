"""The weekly poster: an A4 PDF of a place's or quartier's week, with a QR code to its page.

Black on white only, large type and words rather than colours (Annulé, Déplacé): it must read
the same printed on the office's black-and-white printer.
"""
from __future__ import annotations

from datetime import date, timedelta

import segno
from flask import render_template
from weasyprint import HTML

from scheduler.french import day_label


def qr_svg_data_uri(url: str) -> str:
    # Error correction M survives a crease or a pinned corner; a wide quiet zone for phone readers.
    return segno.make(url, error="m", micro=False).svg_data_uri(scale=6, border=4, dark="#000", light="#fff")


def render_poster(title: str, page_url: str, monday: date, days) -> bytes:
    html = render_template(
        "public/poster.html", title=title, page_url=page_url, days=days, qr=qr_svg_data_uri(page_url),
        week_label=f"Semaine du {day_label(monday)} au {day_label(monday + timedelta(days=6))} {monday.year}")
    return HTML(string=html, base_url=page_url).write_pdf()
