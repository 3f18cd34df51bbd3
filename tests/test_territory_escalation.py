"""Issue 15, items 1–3: a coordinator of one territory writes only what is in it, whatever the path
to it (docs/security.md). Each test replays a reproduction of the review, which passed before."""
from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import paris_at, quiet_monday
from models import AuditEntry, Event, Partner, Person, db


@pytest.fixture
def country(create_quartier, create_partner, create_place, create_event, token_for):
    """Maurepas (Rennes) and Pissevin (Nîmes). The FJT of Rennes is in Maurepas; France Travail
    Nîmes works only in Pissevin, and runs a workshop at a place in no quartier (a town hall
    annex). The Rennes coordinator's territory is Maurepas alone."""
    create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    create_quartier("QP030003", "Pissevin", ("Nîmes",), "30")
    create_partner("fjt-rennes", type="fjt")
    nimes = create_partner("france-travail-nimes", type="france_travail", contact_email="contact@ft-nimes.example.fr")
    create_place("fjt-rennes", quartier="QP035005", postcode="35700", host_partner="fjt-rennes")
    pissevin = create_place("agence-pissevin", quartier="QP030003", postcode="30900", host_partner=nimes.slug)
    annex = create_place("annexe-mairie", postcode="30900")
    create_event(pissevin, [nimes], title="Permanence Pissevin")
    loose = create_event(annex, [nimes], title="Atelier à l'annexe", frequency="weekly", weekdays=[0])
    db.session.commit()
    from models import Quartier

    rennes = db.session.scalars(db.select(Quartier).where(Quartier.code == "QP035005")).all()
    return {"rennes": token_for("coordo-rennes@example.fr", "coordinator", None, rennes),
            "national": token_for("coordo-national@example.fr", "coordinator"), "annex_event": loose.id}


def _audit_count() -> int:
    return db.session.query(AuditEntry).count()


def test_a_territorial_coordinator_cannot_name_a_partner_of_another_territory_as_organiser(client, country):
    before = _audit_count()
    response = client.post("/api/v1/events", headers=country["rennes"], json={
        "kind": "atelier", "title": "Appât", "place": "fjt-rennes", "organisers": ["france-travail-nimes"],
        "visibility": "partners", "start_date": (quiet_monday() + timedelta(weeks=1)).isoformat(),
        "start_time": "10:00", "duration_minutes": 60})
    assert response.status_code == 403, response.get_json()
    body = response.get_json()
    assert "France Travail Nimes" in body["message"] and body["errors"]["json"]["organisers"]
    assert _audit_count() == before
    assert db.session.query(Event).filter_by(title="Appât").count() == 0


def test_a_bait_event_gives_a_territorial_coordinator_no_hold_on_the_partner(client, country):
    """Even with an event of the partner in Maurepas (a national coordinator put it there), the
    partner also works in Pissevin: its contacts, reminders, webhook and people stay out of reach."""
    bait = client.post("/api/v1/events", headers=country["national"], json={
        "kind": "atelier", "title": "Atelier commun", "place": "fjt-rennes", "organisers": ["france-travail-nimes"],
        "start_date": (quiet_monday() + timedelta(weeks=1)).isoformat(), "start_time": "10:00",
        "duration_minutes": 60})
    assert bait.status_code == 201, bait.get_json()
    rennes, url = country["rennes"], "/api/v1/partners/france-travail-nimes"
    before = _audit_count()
    patched = client.patch(url, headers=rennes, json={"contact_email": "attacker@evil.example"})
    assert patched.status_code == 403 and "hors de votre territoire" in patched.get_json()["message"]
    settings = client.get(url + "/reminder-settings", headers=rennes)
    assert settings.status_code == 403 and "webhook_secret" not in settings.get_json()
    assert client.put(url + "/reminder-settings", headers=rennes,
                      json={"webhook_url": "https://evil.example/hook"}).status_code == 403
    assert client.post("/api/v1/people", headers=rennes,
                       json={"partner": "france-travail-nimes", "name": "Faux conseiller"}).status_code == 403
    db.session.expire_all()
    assert _audit_count() == before
    partner = db.session.scalars(db.select(Partner).where(Partner.slug == "france-travail-nimes")).one()
    assert partner.contact_email == "contact@ft-nimes.example.fr"
    assert db.session.query(Person).filter_by(name="Faux conseiller").count() == 0
    # The national coordinator still may.
    assert client.patch(url, headers=country["national"], json={"contact_phone": "04 66 00 00 00"}).status_code == 200


def test_a_place_in_no_quartier_belongs_to_national_coordinators(client, country):
    rennes, event_id = country["rennes"], country["annex_event"]
    url = f"/api/v1/events/{event_id}"
    monday = paris_at(quiet_monday() + timedelta(weeks=1), 14).isoformat()
    before = _audit_count()
    cancelled = client.post(url + "/occurrences/cancel", headers=rennes, json={"recurrence_start": monday})
    assert cancelled.status_code == 403
    assert client.patch(url, headers=rennes, json={"title": "Pris"}).status_code == 403
    assert client.delete(url, headers=rennes).status_code == 403
    assert client.patch("/api/v1/places/annexe-mairie", headers=rennes, json={"rooms": ["Salle"]}).status_code == 403
    db.session.expire_all()
    assert _audit_count() == before and db.session.get(Event, event_id).title == "Atelier à l'annexe"
    assert client.patch(url, headers=country["national"], json={"title": "Atelier de l'annexe"}).status_code == 200


def test_a_partner_working_at_a_place_in_no_quartier_is_edited_by_a_national_coordinator_only(
        client, country, create_partner, create_event):
    from models import Place

    local = create_partner("asso-maurepas", type="association")
    fjt = db.session.scalars(db.select(Place).where(Place.slug == "fjt-rennes")).one()
    create_event(fjt, [local], title="Atelier Maurepas")
    url = "/api/v1/partners/asso-maurepas"
    assert client.patch(url, headers=country["rennes"], json={"contact_phone": "02 99 00 00 00"}).status_code == 200
    annex = db.session.scalars(db.select(Place).where(Place.slug == "annexe-mairie")).one()
    create_event(annex, [local], title="Atelier à l'annexe aussi")
    assert client.patch(url, headers=country["rennes"], json={"contact_phone": "02 99 11 11 11"}).status_code == 403


def test_a_place_names_as_host_only_a_partner_the_writer_may_name(client, country):
    refused = client.post("/api/v1/places", headers=country["rennes"], json={
        "slug": "local-maurepas", "name": "Local", "quartier": "QP035005", "postcode": "35700",
        "host_partner": "france-travail-nimes"})
    assert refused.status_code == 403, refused.get_json()
    accepted = client.post("/api/v1/places", headers=country["rennes"], json={
        "slug": "local-maurepas", "name": "Local", "quartier": "QP035005", "postcode": "35700",
        "host_partner": "fjt-rennes"})
    assert accepted.status_code == 201, accepted.get_json()



def test_booking_another_territory_s_adviser_is_naming_their_partner(client, country):
    adviser = client.post("/api/v1/people", headers=country["national"],
                          json={"partner": "france-travail-nimes", "name": "Conseillère de Nîmes"})
    assert adviser.status_code == 201, adviser.get_json()
    body = {"kind": "atelier", "title": "Atelier avec appât", "place": "fjt-rennes", "organisers": ["fjt-rennes"],
            "start_date": (quiet_monday() + timedelta(weeks=1)).isoformat(), "start_time": "10:00",
            "duration_minutes": 60}
    before = _audit_count()
    refused = client.post("/api/v1/events", headers=country["rennes"],
                          json={**body, "people": [adviser.get_json()["id"]]})
    assert refused.status_code == 403 and "Conseillère de Nîmes" in refused.get_json()["message"]
    assert _audit_count() == before
    created = client.post("/api/v1/events", headers=country["rennes"], json=body)
    assert created.status_code == 201, created.get_json()
    patched = client.patch(f"/api/v1/events/{created.get_json()['id']}", headers=country["rennes"],
                           json={"people": [adviser.get_json()["id"]]})
    assert patched.status_code == 403
