"""Issue 18, item 8, in the messages (sent for real to aiosmtpd): the title of a partners-only
event may name a young person ("Parrainage : rencontre avec Yanis"); only the people of the
partners that organise it read it, in a message's subject, text and attached .ics. The place's
contact (another partner), the coordination and the other side of a conflict read "Réservé aux
partenaires : autre — Centre social", with the date, the time and the place."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from conftest import SYSTEM, a_weekday_after
from test_reminders import mailbox, paris, run, text_of  # noqa: F401  (mailbox: a fixture, a real SMTP server)

YOUNG_NAME = "Yanis"
MASKED = "Réservé aux partenaires : autre — Centre social"


@pytest.fixture
def bij(create_partner, create_place, create_quartier):
    """The BIJ hosts the place; the centre social organises a partners-only mentoring meeting there."""
    from models import db
    from models.operations.users import get_or_create_user

    quartier = create_quartier()
    host = create_partner("bij", "BIJ d'Échirolles", contact_email="equipe@bij.example.fr")
    social = create_partner("centre-social", "Centre social", contact_email="accueil@cs.example.fr")
    place = create_place("bij-echirolles", name="BIJ d'Échirolles", quartier=quartier.code, host_partner="bij",
                         contact_email="accueil@bij.example.fr")
    get_or_create_user("coordo@example.fr", "coordinator")
    db.session.commit()
    return {"host": host, "social": social, "place": place}


def mentoring(create_event, bij, start_date, **values):
    return create_event(bij["place"], [bij["social"]], title=f"Parrainage : rencontre avec {YOUNG_NAME}",
                        kind="other", visibility="partners", start_date=start_date, start_time="14:00",
                        description=f"{YOUNG_NAME}, 19 ans, chambre 12", **values)


def everything_of(message) -> str:
    """Subject, text, HTML and attachments: wherever a title could be."""
    parts = [message["Subject"]]
    for part in message.walk():
        if not part.is_multipart():
            content = part.get_content()
            parts.append(content.decode() if isinstance(content, bytes) else content)
    return "\n".join(parts)


def to(mailbox, address: str) -> list:  # noqa: F811
    return [m for m in mailbox.messages if m["To"] == address]


def test_the_place_contact_reads_the_weekly_programme_without_the_name(app, mailbox, bij, create_event):  # noqa: F811
    mentoring(create_event, bij, date(2027, 1, 18), frequency="once")
    create_event(bij["place"], [bij["host"]], title="Permanence du BIJ", start_date=date(2027, 1, 19),
                 start_time="14:00", frequency="once")
    run("2027-01-15T09:00:00Z")  # Friday 10:00 in Paris: next week's programme
    [programme] = to(mailbox, "accueil@bij.example.fr")
    text = text_of(programme)
    assert f"- lundi 18 janvier 2027, 14 h 00–17 h 00 : {MASKED} (Centre social)" in text
    assert "Permanence du BIJ (BIJ d'Échirolles)" in text  # its own event, in full
    assert YOUNG_NAME not in everything_of(programme)


def test_a_conflict_names_the_young_person_only_to_the_organiser(app, mailbox, bij, create_event):  # noqa: F811
    from models import db
    from scheduler.conflicts.nightly import run_full_detection

    day = a_weekday_after(9, 3)
    mentoring(create_event, bij, day, frequency="once")
    create_event(bij["place"], [bij["host"]], title="Permanence du BIJ", start_date=day, start_time="14:00",
                 frequency="once")
    run_full_detection()  # the same place at the same time: both partners and the coordination are told
    db.session.commit()
    run(datetime.now(UTC))
    organiser, host, coordination = (to(mailbox, a) for a in (
        "accueil@cs.example.fr", "equipe@bij.example.fr", "coordo@example.fr"))
    assert organiser and host and coordination
    assert f"rencontre avec {YOUNG_NAME}" in text_of(organiser[0])
    for message in (*host, *coordination):
        assert YOUNG_NAME not in everything_of(message) and MASKED in text_of(message)
        assert "Permanence du BIJ" in text_of(message)
    mailbox.messages.clear()
    run(paris(day - timedelta(days=2), 8))  # the coordination's morning digest
    [digest] = to(mailbox, "coordo@example.fr")
    assert YOUNG_NAME not in everything_of(digest) and MASKED in text_of(digest)


def test_a_cancelled_date_and_a_changed_series_tell_the_place_without_the_name(
        app, mailbox, bij, create_event):  # noqa: F811
    from models import db
    from scheduler.writes import cancel_occurrence, update_event

    first = a_weekday_after(9, 1, weeks=2)
    event = mentoring(create_event, bij, first, frequency="weekly", count=3, skip_public_holidays=False)
    cancel_occurrence(SYSTEM, event, paris(first, 14), reason="Absence")
    db.session.commit()
    run(datetime.now(UTC))
    [organiser] = to(mailbox, "accueil@cs.example.fr")
    [place] = to(mailbox, "accueil@bij.example.fr")
    assert organiser["Subject"].startswith(f"Annulé : Parrainage : rencontre avec {YOUNG_NAME}, ")
    assert place["Subject"].startswith(f"Annulé : {MASKED}, ")
    assert YOUNG_NAME not in everything_of(place) and "19 ans" not in everything_of(place)
    assert "evenement.ics" in str([p.get_filename() for p in place.iter_attachments()])

    mailbox.messages.clear()
    update_event(SYSTEM, event, {"start_time": time(15)})
    db.session.commit()
    run(datetime.now(UTC) + timedelta(minutes=1))
    [organiser] = to(mailbox, "accueil@cs.example.fr")
    [place] = to(mailbox, "accueil@bij.example.fr")
    assert f"« Parrainage : rencontre avec {YOUNG_NAME} » (autre) change" in text_of(organiser)
    assert f"« {MASKED} » (autre) change" in text_of(place)
    assert YOUNG_NAME not in everything_of(place) and "19 ans" not in everything_of(place)


def test_the_rule_for_messages_is_stated_on_the_personal_data_page(client):
    html = client.get("/donnees-personnelles").get_data(as_text=True)
    assert "messages que Maillage envoie" in html and "Réservé aux partenaires" in html


def test_a_write_that_meets_another_partners_mentoring_is_told_its_kind_not_its_title(
        client, bij, create_event, token_for):
    """The same rule where a write is answered: the refusal (409) and the dry run's overlaps name
    another partner's partners-only event by its kind; its organisers' people read its title."""
    from models import db

    day = a_weekday_after(9, 3)
    mentoring(create_event, bij, day, frequency="once")
    bij["place"].refuses_hard_conflicts = True
    db.session.commit()
    payload = {"kind": "permanence", "title": "Permanence du BIJ", "place": "bij-echirolles", "organisers": ["bij"],
               "start_date": day.isoformat(), "start_time": "14:00", "end_time": "16:00"}
    host = token_for("animateur@bij.example.fr", "editor", bij["host"])
    preview = client.post("/api/v1/events?dry_run=1", headers=host, json=payload)
    refused = client.post("/api/v1/events", headers=host, json=payload)
    assert preview.status_code == 200 and refused.status_code == 409
    for answer in (preview, refused):
        text = answer.get_data(as_text=True)
        assert YOUNG_NAME not in text and "Réservé aux partenaires : autre — Centre social" in text

    own = token_for("animatrice@cs.example.fr", "editor", bij["social"])
    preview = client.post("/api/v1/events?dry_run=1", headers=own, json={
        **payload, "organisers": ["centre-social"], "title": "Atelier du centre social"})
    assert preview.status_code == 200, preview.get_json()
    assert f"rencontre avec {YOUNG_NAME}" in preview.get_data(as_text=True)


def test_the_api_lists_another_partners_mentoring_by_its_kind(client, bij, create_event, token_for):
    day = a_weekday_after(9, 3)
    mentoring(create_event, bij, day, frequency="once")
    window = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}

    def titles(headers) -> list[str]:
        response = client.get("/api/v1/occurrences", headers=headers, query_string=window)
        assert response.status_code == 200
        return [o["title"] for o in response.get_json()]

    assert titles(token_for("animatrice@cs.example.fr", "editor", bij["social"])) == [
        f"Parrainage : rencontre avec {YOUNG_NAME}"]
    for reader in (token_for("animateur@bij.example.fr", "editor", bij["host"]), token_for("coordo@example.fr")):
        assert titles(reader) == [MASKED]
    assert titles({}) == []  # and without a token, partners-only events are not there at all


def test_the_coordination_week_shows_another_partners_mentoring_by_its_kind(app, sign_in, bij, create_event):
    from conftest import quiet_monday

    monday = quiet_monday()
    mentoring(create_event, bij, monday, frequency="once")
    week = f"/coordination/semaine?quartier={bij['place'].quartier.code}&du={monday}"

    def page_for(email, role, partner) -> str:
        client = app.test_client()  # each person in a browser of their own
        sign_in(client, email, role=role, partner=partner)
        return client.get(week).get_data(as_text=True)

    assert f"rencontre avec {YOUNG_NAME}" in page_for("animatrice@cs.example.fr", "editor", bij["social"])
    for email, role, partner in (("animateur@bij.example.fr", "editor", bij["host"]),
                                 ("coordo@example.fr", "coordinator", None)):
        html = page_for(email, role, partner)
        assert YOUNG_NAME not in html and "Réservé aux partenaires : autre — Centre social" in html, email
