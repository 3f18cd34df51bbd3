"""A case's page and the dashboard's case cards: dates, both series whole, contacts as mailto:/tel:,
the people concerned, a whole case accepted in one action with the filters back, the signed link
of a digest, a capacity case with every series of the person."""
import re

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_token_in

WEEKS = 5


@pytest.fixture
def case(create_quartier, create_partner, create_place, create_event):
    from models import ConflictCase, db
    from models.operations.partners import create_person
    from scheduler.conflicts.nightly import run_full_detection
    from tests.conftest import SYSTEM

    create_quartier("QN03801M")
    ml = create_partner("mission-locale", contact_email="accueil@ml.example.fr", contact_phone="04 76 00 00 01")
    cs = create_partner("centre-social", type="centre_social", contact_email="accueil@cs.example.fr",
                        contact_phone="04 76 00 00 02")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M", contact_email="bij@example.fr",
                       address="1 place de la Convention")
    nadia = create_person(SYSTEM, {"partner": "mission-locale", "name": "Nadia Haddad", "email": "nadia@ml.example.fr",
                                   "phone": "06 00 00 00 03"})
    db.session.commit()
    create_event(bij, [ml], frequency="weekly", count=WEEKS, skip_public_holidays=False, people=[nadia.id])
    create_event(bij, [cs], title="Atelier CV", kind="atelier", frequency="weekly", count=WEEKS,
                 skip_public_holidays=False)
    run_full_detection()
    db.session.commit()
    return db.session.scalar(sa.select(ConflictCase))


def test_the_dashboard_shows_one_card_per_case_with_its_dates_in_a_few_words(client, sign_in, case):
    sign_in(client)
    page = client.get("/coordination/").get_data(as_text=True)
    assert page.count('class="conflict hard"') == 1
    assert "Les lundis du " in page and f", {WEEKS} dates" in page
    assert f"{WEEKS} ouvertes" in page and "Atelier CV" in page and "Permanence mission locale" in page


def test_a_case_page_lists_its_dates_both_series_contacts_and_people(client, sign_in, case):
    sign_in(client)
    response = client.get(f"/coordination/cas/{case.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert len(re.findall(r'<tr class="status-open', page)) == WEEKS
    assert "chaque lundi, 14 h – 17 h" in page and "Atelier CV" in page
    for link in ('href="mailto:accueil@ml.example.fr"', 'href="tel:0476000001"', 'href="mailto:accueil@cs.example.fr"',
                 'href="tel:0476000002"', 'href="mailto:bij@example.fr"', 'href="mailto:nadia@ml.example.fr"',
                 'href="tel:0600000003"'):
        assert link in page, link
    assert "Nadia Haddad" in page and "1 place de la Convention" in page


def test_a_whole_case_is_accepted_in_one_action_and_the_filters_come_back(client, sign_in, case):
    from models import ScheduleConflict, db

    sign_in(client)
    filters = "statut=open&type=place&quartier=QN03801M"
    page = client.get(f"/coordination/cas/{case.id}?{filters}").get_data(as_text=True)
    assert 'name="type" value="place"' in page  # the forms carry the filters
    response = client.post(f"/coordination/cas/{case.id}/accepter", data={
        "csrf_token": csrf_token_in(page), "reason": "Deux salles distinctes.",
        "statut": "open", "type": "place", "quartier": "QN03801M"})
    assert response.status_code == 302
    assert response.location.endswith(f"/coordination/?{filters}")
    db.session.expire_all()
    assert {c.status for c in db.session.scalars(sa.select(ScheduleConflict))} == {"accepted"}
    # A refusal (no reason) comes back to the case with its filters too, and writes nothing.
    refused = client.post(f"/coordination/cas/{case.id}/accepter", data={
        "csrf_token": csrf_token_in(page), "reason": "", "type": "place"})
    assert refused.location.endswith(f"/coordination/cas/{case.id}?type=place")


def test_the_signed_link_of_a_digest_opens_the_case_read_only_for_its_recipient(app, client, case):
    from models.operations.cases import case_link_token

    token = case_link_token(case.id, "accueil@cs.example.fr", app.config["SECRET_KEY"])
    response = client.get(f"/coordination/cas/{case.id}?jeton={token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Atelier CV" in page and "<form method=\"post\" action=\"/coordination/cas/" not in page
    # Another case's token, or a forged one, opens nothing.
    assert client.get(f"/coordination/cas/{case.id + 1}?jeton={token}").status_code == 404
    forged = client.get(f"/coordination/cas/{case.id}?jeton={token[:-2]}xx")
    assert forged.status_code == 302 and "/coordination/connexion" in forged.location


def test_an_editor_of_another_partner_does_not_find_the_case(client, sign_in, case, create_partner):
    sign_in(client, "autre@example.fr", role="editor", partner=create_partner("autre"))
    assert client.get(f"/coordination/cas/{case.id}").status_code == 404


def test_a_capacity_case_shows_every_series_of_the_person(client, sign_in, create_quartier, create_partner,
                                                          create_place, create_event):
    from models import ConflictCase, db
    from models.operations.partners import create_person
    from scheduler.conflicts.nightly import run_full_detection
    from tests.conftest import SYSTEM

    create_quartier("QN03801M")
    fjt = create_partner("fjt", type="fjt")
    place = create_place("fjt", quartier="QN03801M")
    sponsor = create_person(SYSTEM, {"partner": "fjt", "name": "Jean-Pierre Le Gall", "role": "sponsor"})
    db.session.commit()
    for n in range(4):
        create_event(place, [fjt], title=f"Parrainage {n + 1}", start_time=f"{9 + 2 * n}:00", duration_minutes=60,
                     frequency="weekly", count=4, people=[sponsor.id])
    run_full_detection()
    db.session.commit()
    [case] = db.session.scalars(sa.select(ConflictCase).where(ConflictCase.kind == "capacity")).all()
    sign_in(client)
    page = client.get(f"/coordination/cas/{case.id}").get_data(as_text=True)
    for n in range(4):
        assert f"Parrainage {n + 1}" in page
    assert "suivrait 4 jeunes" in page
