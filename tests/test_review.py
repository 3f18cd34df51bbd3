"""The review (bilan), with figures computed by hand: six past Mondays of a permanence, one
cancelled for a strike, one moved to the Tuesday, people counted at three of them; the counts stay
through the move and a change of the series' time."""
from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from pypdf import PdfReader

from helpers.actors import SYSTEM
from helpers.dates import paris_today
from models import db
from scheduler import writes
from scheduler.reports.attendance import record_attendance
from scheduler.reports.coverage import Territory, territory_quartiers
from scheduler.reports.review import review

PARIS = ZoneInfo("Europe/Paris")


def _monday(weeks_ago: int):
    today = paris_today()
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks_ago)


def _at(weeks_ago: int, hour: int = 14) -> datetime:
    return datetime.combine(_monday(weeks_ago), time(hour), PARIS)


@pytest.fixture
def history(create_partner, create_quartier, create_place, create_event):
    quartier = create_quartier("QP038014", "Villeneuve")
    create_quartier("QP038015", "Village Sud")
    ml = create_partner("mission-locale-sud-isere", "Mission locale Sud Isère")
    ft = create_partner("france-travail", "France Travail", type="france_travail")
    bij = create_place("bij-echirolles", quartier=quartier.code)
    event = create_event(bij, [ml, ft], title="Permanence emploi au BIJ", start_date=_monday(6), frequency="weekly",
                         weekdays=[0], skip_public_holidays=False)
    writes.cancel_occurrence(SYSTEM, event, _at(5), "Grève")
    writes.move_occurrence(SYSTEM, event, _at(4), starts_at=_at(4) + timedelta(days=1))
    for weeks_ago, people in ((6, 10), (4, 8), (3, 12)):
        record_attendance(SYSTEM, event, _at(weeks_ago), people)
    db.session.commit()
    return {"event": event, "quartier": quartier}


def _period():
    return _at(6, 0), datetime.combine(_monday(0), time(), PARIS)


def _review():
    return review(*_period(), Territory(territory_quartiers(["QP038014", "QP038015"]), national=False))


def test_sessions_hours_and_people_of_the_period(history):
    report = _review()
    (series,) = report.series
    t = series.tally
    assert (t.planned, t.held, t.to_come, t.cancelled, t.moved) == (6, 5, 0, 1, 1)
    assert t.hours == 15 and t.reasons == {"Grève": 1}
    assert (t.people, t.counted, t.per_session) == (30, 3, 10.0)
    assert series.partners == ["France Travail", "Mission locale Sud Isère"]
    villeneuve, village = report.quartiers
    assert villeneuve.tally.people == 30 and village.tally.planned == 0
    assert report.total.held == 5


def test_people_received_stay_through_a_change_of_the_series_time(history):
    writes.update_event(SYSTEM, history["event"], {"start_time": time(15)})
    db.session.commit()
    t = _review().series[0].tally
    assert (t.held, t.cancelled, t.moved, t.people, t.counted) == (5, 1, 1, 30, 3)
    assert t.reasons == {"Grève": 1}


def test_the_page_the_pdf_and_the_workbook_give_the_same_figures(client, history, sign_in):
    sign_in(client)
    start, end = _period()
    query = f"?du={start.date()}&au={(end - timedelta(days=1)).date()}"
    html = client.get("/coordination/bilan" + query).get_data(as_text=True)
    assert "<strong>5</strong> séances tenues sur 6 prévues" in html and "<td>Grève</td>" in html
    pdf = client.get("/coordination/bilan.pdf" + query)
    assert pdf.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "5séances tenues sur 6 prévues" in text.replace(" séances", "séances") and "Grève" in text
    assert "Permanence emploi au BIJ" in text and "30" in text
    book = openpyxl.load_workbook(io.BytesIO(client.get("/coordination/bilan.xlsx" + query).data))
    actions = book["actions"]
    assert [c.value for c in actions[2]][:6] == ["Action", "Type", "Quartier", "Partenaires", "Séances prévues",
                                                 "Tenues"]
    row = [c.value for c in actions[3]]
    assert row[0] == "Permanence emploi au BIJ" and row[4:13] == [6, 5, 0, 1, 1, 15, 30, 3, 10]


def test_editors_have_no_review(client, history, sign_in, create_partner):
    sign_in(client, "ml@example.fr", role="editor", partner=create_partner("pimms", type="pimms"))
    assert client.get("/coordination/bilan").status_code == 403
    assert client.get("/coordination/bilan.pdf").status_code == 403
