"""An event's page answers the next questions: when in plain French with weekday dates, where
and how to get there, whom to call, one date or the whole series in one's calendar, a way to
share, and schema.org data for search engines."""
from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from conftest import next_working_monday


@pytest.fixture
def event(create_quartier, create_place, create_partner, create_event):
    create_quartier("QP038014", "Villeneuve – Village 2", ("Échirolles",), "38")
    bij = create_place("bij-echirolles", "BIJ d'Échirolles", quartier="QP038014", address="1 place des Cinq-Fontaines",
                       postcode="38130", city="Échirolles", latitude=45.146, longitude=5.717)
    ml = create_partner("mission-locale-sud-isere", "Mission locale Sud-Isère", contact_phone="04 76 22 00 00",
                        contact_email="accueil@ml-sud-isere.example", website="https://ml-sud-isere.example/")
    bij_partner = create_partner("bij-echirolles", "BIJ d'Échirolles", type="pij_bij", website="javascript:alert(1)")
    return create_event(bij, [ml, bij_partner], title="Permanence de la mission locale au BIJ",
                        start_date=next_working_monday(), start_time="14:00", duration_minutes=180,
                        frequency="weekly", interval=1, weekdays=[0, 2], walk_in=True)


def test_the_page_says_when_in_words_with_weekdays_and_how_to_get_there(client, event):
    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    assert re.search(r"Tous les lundis et mercredis de 14 h à 17 h, à partir du \d", html), html[:3000]
    assert re.search(r'<span class="day">(Lundi|Mercredi) \d', html)
    assert "1 place des Cinq-Fontaines" in html and "38130 Échirolles" in html
    assert 'href="https://www.openstreetmap.org/directions?route=%3B45.146%2C5.717' in html
    assert 'href="geo:45.146,5.717?q=45.146,5.717(BIJ%20d%27%C3%89chirolles)"' in html


def test_the_organisers_can_be_called_written_to_and_visited(client, event):
    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    assert '<a href="tel:0476220000">Appeler le 04 76 22 00 00</a>' in html
    assert 'href="mailto:accueil@ml-sud-isere.example"' in html
    assert 'href="https://ml-sud-isere.example/"' in html
    assert "javascript:" not in html


def test_one_date_goes_to_a_calendar_as_that_occurrence_of_the_series(client, event):
    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    links = re.findall(rf'href="(/evenements/{event.id}/(\d{{8}}T\d{{6}}Z)\.ics)"', html)
    starts = re.findall(r'data-starts-at="([^"]+)"', html)
    assert len(links) == len(starts) == 10
    path, _key = links[1]
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    [vevent] = icalendar.Calendar.from_ical(response.data).walk("VEVENT")
    assert vevent["UID"] == event.uid
    assert vevent["RECURRENCE-ID"].dt == datetime.fromisoformat(starts[1])
    assert vevent.decoded("DTSTART") == datetime.fromisoformat(starts[1])
    assert vevent.decoded("DTEND") - vevent.decoded("DTSTART") == timedelta(hours=3)
    second = vobject.readOne(response.data.decode())  # a second, independent reader
    assert second.vevent.dtstart.value == datetime.fromisoformat(starts[1])
    assert client.get(f"/evenements/{event.id}/20990101T000000Z.ics").status_code == 404
    assert client.get(f"/evenements/{event.id}/demain.ics").status_code == 404
    # The series: its feed and the webcal link to subscribe.
    assert f'href="webcal://maillage.test/feeds/events/{event.id}.ics"' in html


def test_search_engines_read_each_coming_date_as_a_schema_org_event(client, event):
    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    starts = re.findall(r'data-starts-at="([^"]+)"', html)
    assert [d["startDate"] for d in data] == starts
    first = data[0]
    assert first["@type"] == "Event" and first["name"] == "Permanence de la mission locale au BIJ"
    assert first["location"]["address"]["postalCode"] == "38130"
    assert first["location"]["geo"] == {"@type": "GeoCoordinates", "latitude": 45.146, "longitude": 5.717}
    assert first["eventStatus"] == "https://schema.org/EventScheduled"
    assert [o["name"] for o in first["organizer"]] == ["BIJ d'Échirolles", "Mission locale Sud-Isère"] or \
        {o["name"] for o in first["organizer"]} == {"BIJ d'Échirolles", "Mission locale Sud-Isère"}
    assert datetime.fromisoformat(first["startDate"]).time() == time(14)


def test_the_page_gives_its_link_to_share(client, event):
    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    assert f'id="lien" type="text" readonly value="http://maillage.test/evenements/{event.id}"' in html
    assert 'id="partage" hidden' in html  # shown by the script where the phone can share


@pytest.mark.browser
def test_without_a_share_sheet_the_link_is_copied(browser, live_server, event):
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        page.goto(f"{live_server}/evenements/{event.id}")
        can_share = page.evaluate("'share' in navigator")
        assert page.locator("#partage").is_visible() == can_share
        page.click("#copier")
        page.wait_for_function("document.getElementById('partage-etat').textContent.includes('copié')")
        assert page.evaluate("navigator.clipboard.readText()") == f"http://maillage.test/evenements/{event.id}"
        from test_public_browser import serious_violations

        assert serious_violations(page) == []
    finally:
        context.close()


def test_the_json_ld_is_a_valid_schema_org_event_for_each_date_moved_and_cancelled_ones_too(
        client, event, create_place):
    """Validated against tests/data/schema_org_event.json (schema.org's Event as search engines
    read it); a date moved to a place without address nor coordinates still has its own place."""
    import jsonschema_rs

    from conftest import SYSTEM
    from models import db
    from scheduler.writes import cancel_occurrence, move_occurrence, update_event

    create_place("mjc-pont-de-claix", "MJC du Pont-de-Claix", postcode="38800", city="Le Pont-de-Claix")
    first, second = next_working_monday(), next_working_monday() + timedelta(days=2)
    zone = event.place.timezone
    starts = [datetime.combine(day, time(14), ZoneInfo(zone)) for day in (first, second)]
    cancel_occurrence(SYSTEM, event, starts[0], reason="Formation")
    move_occurrence(SYSTEM, event, starts[1], place="mjc-pont-de-claix")
    update_event(SYSTEM, event, {"title": "Permanence </script><script>alert(1)</script> au BIJ"})  # closes nothing
    db.session.commit()

    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = json.loads(block)
    schema = json.loads((Path(__file__).parent / "data" / "schema_org_event.json").read_text())
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    assert len(data) >= 3
    for item in data:
        assert [e.message for e in validator.iter_errors(item)] == [], item
        assert datetime.fromisoformat(item["endDate"]) > datetime.fromisoformat(item["startDate"])
        assert item["name"] == "Permanence </script><script>alert(1)</script> au BIJ"
    assert data[0]["eventStatus"] == "https://schema.org/EventCancelled"
    assert data[1]["eventStatus"] == "https://schema.org/EventRescheduled"
    assert data[1]["location"] == {"@type": "Place", "name": "MJC du Pont-de-Claix", "address": {
        "@type": "PostalAddress", "postalCode": "38800", "addressLocality": "Le Pont-de-Claix",
        "addressCountry": "FR"}}
    assert data[2]["location"]["address"]["streetAddress"] == "1 place des Cinq-Fontaines"
    # A value schema.org does not know is refused: the schema can fail.
    assert not validator.is_valid({**data[2], "eventStatus": "scheduled"})
    assert not validator.is_valid({**data[2], "startDate": "lundi 14 h"})


def test_a_date_moved_in_time_says_when_it_was_planned_first(client, event):
    from conftest import SYSTEM
    from models import db
    from scheduler.french import day_label
    from scheduler.writes import move_occurrence

    monday = next_working_monday()
    zone = ZoneInfo(event.place.timezone)
    move_occurrence(SYSTEM, event, datetime.combine(monday, time(14), zone),
                    starts_at=datetime.combine(monday + timedelta(days=1), time(10), zone))
    db.session.commit()
    html = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    moved = re.search(r'data-status="moved">(.*?)</li>', html, re.S).group(1)
    assert "Déplacé" in moved and f"(prévu d'abord le {day_label(monday)} à 14 h)" in moved
    assert day_label(monday + timedelta(days=1)).capitalize() in moved
