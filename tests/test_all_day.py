"""All-day events are kept as dates: an import keeps them so, the API says `all_day`, the feeds
write VALUE=DATE (never midnight-to-midnight times), pages say the day, and a day lasts 23 or 25
hours across a change of time for every reader as for the API."""
from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers.feed_readers import api_occurrences, window, with_icalendar, with_icaljs, with_vobject

PARIS = ZoneInfo("Europe/Paris")
FILE = Path(__file__).parent / "data" / "import_fidelity" / "all_day_events_across_changes_of_time.ics"
START, END = date(2027, 3, 1), date(2027, 12, 1)


@pytest.fixture
def headers(client, create_partner, create_quartier, create_place, token_for):
    create_partner("mission-locale-sud", name="Mission locale Sud-Isère")
    create_quartier()
    create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M")
    return token_for()


def imported(client, headers):
    response = client.post("/api/v1/imports", headers=headers, content_type="multipart/form-data",
                           data={"partner": "mission-locale-sud", "place": "bij-echirolles",
                                 "file": (io.BytesIO(FILE.read_bytes()), FILE.name)})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_imported_all_day_series_stays_dates_in_the_api_and_in_the_feed_for_every_reader(client, headers):
    from models import Event, db

    assert imported(client, headers)["summary"]["created"] == 2
    assert {e.all_day for e in db.session.scalars(sa.select(Event))} == {True}
    listed = client.get("/api/v1/occurrences", headers=headers,
                        query_string={"start": START.isoformat(), "end": END.isoformat()}).get_json()
    assert {o["all_day"] for o in listed} == {True}
    spring_sunday = next(o for o in listed if o["starts_at"].startswith("2027-03-28"))
    assert (spring_sunday["starts_at"], spring_sunday["ends_at"]) == ("2027-03-28T00:00:00+01:00",
                                                                      "2027-03-29T00:00:00+02:00")
    body = client.get("/feeds/all.ics").data
    assert b"DTSTART;VALUE=DATE:20270320\r\nDTEND;VALUE=DATE:20270321\r\n" in body
    assert b"UNTIL=20270411" in body and b"RECURRENCE-ID;VALUE=DATE:20270403" in body
    assert b"DTSTART;VALUE=DATE:20271030\r\nDTEND;VALUE=DATE:20271101\r\n" in body
    assert b"T000000" not in body.split(b"BEGIN:VEVENT", 1)[1], "no midnight times for a day"
    lo, hi = window(START, END, PARIS)
    by_api = api_occurrences(client, START, END, headers=headers)
    assert len(by_api) == 9
    assert with_icalendar(body, lo, hi, PARIS) == by_api
    assert with_vobject(body, lo, hi, PARIS) == by_api
    assert with_icaljs(body, lo, hi, PARIS) == by_api
    again = client.post("/api/v1/imports", headers=headers, content_type="multipart/form-data",
                        data={"partner": "mission-locale-sud", "place": "bij-echirolles",
                              "file": (io.BytesIO(FILE.read_bytes()), FILE.name)}).get_json()
    assert again["summary"]["unchanged"] == 2, again


def test_the_pages_say_the_day_not_midnight(client, headers):
    imported(client, headers)
    page = client.get("/lieux/bij-echirolles", query_string={"du": "2027-03-22"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "toute la journée" in text or "pendant 2 jours" in text
    assert "0 h – 0 h" not in text and "à 0 h" not in text


def test_the_api_writes_an_all_day_event_at_midnight_for_whole_days_only(client, headers):
    event = {"kind": "forum", "title": "Forum de printemps", "place": "bij-echirolles",
             "organisers": ["mission-locale-sud"], "start_date": "2027-03-27", "start_time": "00:00",
             "duration_minutes": 2 * 1440, "all_day": True}
    created = client.post("/api/v1/events", headers=headers, json=event)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["all_day"] is True
    body = client.get("/feeds/all.ics").data
    assert b"DTSTART;VALUE=DATE:20270327\r\nDTEND;VALUE=DATE:20270329\r\n" in body
    (occurrence,) = client.get("/api/v1/occurrences", headers=headers,
                               query_string={"start": "2027-03-27", "end": "2027-03-30"}).get_json()
    # Two days, one of 23 hours: 47 hours.
    ends = datetime.fromisoformat(occurrence["ends_at"])
    assert (ends - datetime.fromisoformat(occurrence["starts_at"])).total_seconds() == 47 * 3600
    refused = client.post("/api/v1/events", headers=headers, json={**event, "start_time": "14:00"})
    assert refused.status_code == 422
    assert "minuit" in refused.get_json()["message"] + str(refused.get_json()["errors"])
