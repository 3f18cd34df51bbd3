"""People received, asked the next morning by a real message (aiosmtpd) whose one-click link opens a
small French form without an account, and noted from /coordination by those who organise."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from conftest import SYSTEM, csrf_token_in, paris_today
from models import Attendance, AuditEntry, Delivery, db
from models.operations.partners import create_person
from scheduler import writes
from scheduler.reports.attendance import record_attendance
from test_reminders import mailbox, run, text_of  # noqa: F401  (mailbox: the SMTP server fixture)

PARIS = ZoneInfo("Europe/Paris")


def _past_tuesday() -> date:
    """A Tuesday two to three weeks ago: past, so its count can be noted now."""
    today = paris_today()
    return today - timedelta(days=(today.weekday() - 1) % 7 + 14)


def _paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


@pytest.fixture
def held(create_partner, create_quartier, create_place, create_event):
    """A permanence of the mission locale at the BIJ, 14 h–17 h, a Tuesday weeks ago (once): Awa,
    its adviser, is named on it; the BIJ co-organises it (its contact address); an interpreter of
    another structure is named too. A partners' meeting the same afternoon asks nothing."""
    quartier = create_quartier("QP038014", "Villeneuve")
    ml = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    bij_partner = create_partner("bij-echirolles", name="BIJ d'Échirolles", type="pij_bij",
                                 contact_email="contact@bij.example.fr")
    interpreters = create_partner("interpretes", type="association", contact_email="contact@interpretes.example.fr")
    place = create_place("bij-echirolles", name="BIJ d'Échirolles", quartier=quartier.code)
    awa = create_person(SYSTEM, {"partner": ml.slug, "name": "Awa Diallo", "email": "awa@ml.example.fr"})
    nadia = create_person(SYSTEM, {"partner": interpreters.slug, "name": "Nadia Haddad",
                                   "email": "nadia@interpretes.example.fr"})
    db.session.commit()
    day = _past_tuesday()
    event = create_event(place, [ml, bij_partner], title="Permanence de la mission locale au BIJ",
                         start_date=day, frequency="once", people=[awa.id, nadia.id])
    create_event(place, [ml], title="Tour de table", kind="coordination", start_date=day, start_time="17:00",
                 duration_minutes=60, frequency="once")
    return {"event": event, "day": day, "ml": ml, "bij": bij_partner, "interpreters": interpreters}


def _link(message) -> str:
    match = re.search(r"https?://\S+/coordination/personnes-recues/\S+", text_of(message))
    assert match, text_of(message)
    return "/" + match.group(0).split("://", 1)[1].split("/", 1)[1]  # the path and query, for the test client


def test_the_next_morning_each_organiser_is_asked_once_and_answers_through_the_link(app, client, mailbox, held):  # noqa: F811
    day, event = held["day"], held["event"]
    run(_paris(day + timedelta(days=1), 9, 29))
    assert len(mailbox) == 0
    run(_paris(day + timedelta(days=1), 9, 30))
    # Awa for the mission locale, the BIJ's contact address; not the interpreter; not the meeting.
    assert sorted(m["To"] for m in mailbox.messages) == ["awa@ml.example.fr", "contact@bij.example.fr"]
    message = next(m for m in mailbox.messages if m["To"] == "awa@ml.example.fr")
    assert message["Subject"] == "Personnes reçues hier : Permanence de la mission locale au BIJ"
    text = text_of(message)
    assert ("Combien de personnes avez-vous reçues hier à « Permanence de la mission locale au BIJ » "
            "(BIJ d'Échirolles) ?") in text
    assert "de 14 h 00 à 17 h 00" in text
    run(_paris(day + timedelta(days=1), 9, 31))
    run(_paris(day + timedelta(days=1), 12, 0))
    assert len(mailbox) == 2, "asked once"
    assert {d.state for d in db.session.scalars(sa.select(Delivery).where(
        Delivery.kind == "attendance_request"))} == {"sent"}

    # One click, no account: the small form, in French.
    link = _link(message)
    page = client.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Combien de personnes avez-vous reçues ?" in html and "Par tranche d'âge (facultatif)" in html
    token = re.search(r'name="jeton" value="([^"]+)"', html).group(1)
    refused = client.post(link, data={"csrf_token": csrf_token_in(html), "jeton": token, "total": "12",
                                      "band_16_25": "13"})
    assert refused.status_code == 422 and "plus de personnes que le total" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attendance)) == 0, "nothing written"
    answered = client.post(link, data={"csrf_token": csrf_token_in(html), "jeton": token, "total": "12",
                                       "band_16_25": "9"})
    assert answered.status_code == 302
    follow = client.get(answered.headers["Location"]).get_data(as_text=True)
    assert "Merci : 12 personnes reçues notée(s)." in follow and 'value="12"' in follow
    [count] = db.session.scalars(sa.select(Attendance))
    assert (count.event_id, count.total, count.by_age_band, count.recorded_by_id) == (event.id, 12, {"16_25": 9}, None)
    assert count.recurrence_start == _paris(day, 14).astimezone(UTC)
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "record_attendance"))
    assert entry.changes["by_link_to"] == [None, "awa@ml.example.fr"] and entry.user_id is None


def test_no_question_once_counted_nor_for_a_cancelled_occurrence(app, mailbox, held, create_event):  # noqa: F811
    day, event = held["day"], held["event"]
    record_attendance(SYSTEM, event, _paris(day, 14), 5)
    other_day = day + timedelta(days=1)
    cancelled = create_event(event.place, [held["ml"]], title="Atelier CV", kind="atelier", start_date=other_day,
                             start_time="10:00", frequency="once", people=[])
    writes.cancel_occurrence(SYSTEM, cancelled, _paris(other_day, 10), "Grève")
    db.session.commit()
    run(_paris(day + timedelta(days=1), 9, 30))
    run(_paris(other_day + timedelta(days=1), 9, 30))
    assert len(mailbox) == 0
    states = {d.state for d in db.session.scalars(sa.select(Delivery).where(Delivery.kind == "attendance_request"))}
    assert states == {"skipped"}, states  # recorded, then not sent: already counted


def test_a_link_opens_only_its_occurrence_and_a_forged_one_nothing(app, client, mailbox, held, create_event):  # noqa: F811
    day, event = held["day"], held["event"]
    run(_paris(day + timedelta(days=1), 9, 30))
    link = _link(next(m for m in mailbox.messages if m["To"] == "contact@bij.example.fr"))
    assert client.get(link).status_code == 200
    assert client.get(link.replace("jeton=", "jeton=x")).status_code == 302  # no account: the sign-in page
    other = create_event(event.place, [held["ml"]], title="Atelier CV", kind="atelier", start_date=day,
                         start_time="10:00", frequency="once")
    elsewhere = link.replace(f"/personnes-recues/{event.id}/", f"/personnes-recues/{other.id}/").replace(
        "T12:00:00Z", "T08:00:00Z").replace("T13:00:00Z", "T09:00:00Z")
    assert client.get(elsewhere).status_code == 302
    # The BIJ no longer co-organises the series: its link no longer records.
    writes.update_event(SYSTEM, event, {"organisers": [held["ml"].slug]})
    db.session.commit()
    assert client.get(link).status_code == 403


def test_an_organiser_notes_from_the_coordination_pages(client, held, sign_in):
    day, event = held["day"], held["event"]
    sign_in(client, "awa.compte@ml.example.fr", "editor", held["ml"])
    listing = client.get("/coordination/personnes-recues").get_data(as_text=True)
    assert "Permanence de la mission locale au BIJ" in listing and "Tour de table" not in listing
    form_url = re.search(r'href="(/coordination/personnes-recues/\d+/[^"]+)"', listing).group(1)
    html = client.get(form_url).get_data(as_text=True)
    assert 'name="jeton"' not in html
    blank = client.post(form_url, data={"csrf_token": csrf_token_in(html), "total": ""})
    assert blank.status_code == 422 and "Indiquez le nombre de personnes reçues" in blank.get_data(as_text=True)
    assert client.post(form_url, data={"csrf_token": csrf_token_in(html), "total": "7"}).status_code == 302
    listing = client.get("/coordination/personnes-recues").get_data(as_text=True)
    assert re.search(r"<td>7 ·", listing), listing
    [count] = db.session.scalars(sa.select(Attendance).where(Attendance.event_id == event.id))
    assert count.total == 7 and count.recurrence_start == _paris(day, 14).astimezone(UTC)


def test_two_questions_to_one_address_in_one_run_are_one_message(app, mailbox, held, create_event):  # noqa: F811
    """What a run tells one address goes in one message: Awa held a workshop in the morning and the
    permanence in the afternoon; she gets both questions, each with its link, in one message."""
    day = held["day"]
    create_event(held["event"].place, [held["ml"]], title="Atelier CV", kind="atelier", start_date=day,
                 start_time="10:00", duration_minutes=90, frequency="once", people=[held["event"].people[0].id])
    run(_paris(day + timedelta(days=1), 9, 30))
    to_awa = [m for m in mailbox.messages if m["To"] == "awa@ml.example.fr"]
    assert len(to_awa) == 1, [m["Subject"] for m in to_awa]
    text = text_of(to_awa[0])
    assert "reçues hier à « Atelier CV »" in text and "reçues hier à « Permanence de la mission locale au BIJ »" in text
    assert len(set(re.findall(r"/coordination/personnes-recues/(\d+)/", text))) == 2
