"""Issue 15, item 3: coordination pages, lists and actions scoped by territory like the writes
(docs/security.md). A Rennes coordinator asking for what is Nîmes's gets 404 and changes nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import SYSTEM, csrf_token_in
from models import AuditEntry, Quartier, User, db, utcnow


@pytest.fixture
def country(app, create_quartier, create_partner, create_place, create_event):
    """Maurepas (Rennes) and Pissevin (Nîmes), a partner and a place each, an event each; a
    public subscriber to Pissevin and a pending delivery to them; each partner's synced calendar;
    the Nîmes editor's private link."""
    from models import Delivery, FeedToken, Subscription
    from models.operations.feeds import create_feed_token, create_sync_source
    from models.operations.users import get_or_create_user

    maurepas = create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    pissevin = create_quartier("QP030003", "Pissevin", ("Nîmes",), "30")
    fjt = create_partner("fjt-rennes", type="fjt")
    nimes = create_partner("france-travail-nimes", type="france_travail")
    fjt_place = create_place("fjt-rennes", quartier=maurepas.code, postcode="35700", host_partner=fjt.slug)
    agence = create_place("agence-pissevin", quartier=pissevin.code, postcode="30900", host_partner=nimes.slug)
    rennes_event = create_event(fjt_place, [fjt], title="Atelier Rennes")
    nimes_event = create_event(agence, [nimes], title="Permanence Pissevin")
    subscriber = Subscription(email="jeune.nimes@example.fr", target_type="quartier", target_id=pissevin.id,
                              link_seed="x" * 32)
    db.session.add(subscriber)
    db.session.flush()
    due = utcnow() + timedelta(days=1)
    db.session.add_all([
        Delivery(key="nimes-1", kind="reminder", recipient="jeune.nimes@example.fr", subscription_id=subscriber.id,
                 event_id=nimes_event.id, due_at=due, payload={}, state="pending"),
        Delivery(key="nimes-2", kind="weekly_programme", recipient="jeune.nimes@example.fr",
                 subscription_id=subscriber.id, due_at=due, payload={}, state="pending"),
        Delivery(key="rennes-1", kind="reminder", recipient="contact@fjt-rennes.example.fr", partner_id=fjt.id,
                 event_id=rennes_event.id, due_at=due, payload={}, state="pending")])
    sources = {p.slug: create_sync_source(SYSTEM, p, place, f"https://calendriers.example.fr/{p.slug}.ics")
               for p, place in ((fjt, fjt_place), (nimes, agence))}
    editor = get_or_create_user("conseiller@ft-nimes.example.fr", "editor", nimes)
    db.session.flush()
    link, _ = create_feed_token(SYSTEM, user=editor)
    db.session.commit()
    return {"maurepas": maurepas, "sources": {k: s.id for k, s in sources.items()}, "link": link.id,
            "FeedToken": FeedToken}


def _rennes(client, sign_in) -> str:
    maurepas = db.session.scalars(db.select(Quartier).where(Quartier.code == "QP035005")).one()
    sign_in(client, "coordo-rennes@example.fr", quartiers=[maurepas])
    return csrf_token_in(client.get("/coordination/liens-prives").get_data(as_text=True))


def test_deliveries_show_only_the_territory(client, sign_in, country):
    _rennes(client, sign_in)
    html = client.get("/coordination/envois/?etat=pending").get_data(as_text=True)
    assert "contact@fjt-rennes.example.fr" in html
    assert "jeune.nimes@example.fr" not in html and "Permanence Pissevin" not in html
    sign_in(client, "coordo-national@example.fr")
    html = client.get("/coordination/envois/?etat=pending").get_data(as_text=True)
    assert "jeune.nimes@example.fr" in html and "contact@fjt-rennes.example.fr" in html


def test_sync_sources_show_only_partners_of_the_territory(client, sign_in, country):
    _rennes(client, sign_in)
    html = client.get("/coordination/synchronisation").get_data(as_text=True)
    assert "calendriers.example.fr/fjt-rennes.ics" in html
    assert "france-travail-nimes.ics" not in html
    # What may be synced or imported: the territory's partners and places.
    for page in (html, client.get("/coordination/import").get_data(as_text=True)):
        assert 'value="fjt-rennes"' in page
        assert 'value="agence-pissevin"' not in page and 'value="france-travail-nimes"' not in page


@pytest.mark.parametrize("action", ["run", "delete"])
def test_another_territory_s_sync_source_is_not_found(client, sign_in, country, action):
    from models import SyncSource

    token = _rennes(client, sign_in)
    before = db.session.query(AuditEntry).count()
    response = client.post("/coordination/synchronisation", data={
        "csrf_token": token, "action": action, "source_id": str(country["sources"]["france-travail-nimes"])})
    assert response.status_code == 404
    db.session.expire_all()
    source = db.session.get(SyncSource, country["sources"]["france-travail-nimes"])
    assert source is not None and source.last_status is None
    assert db.session.query(AuditEntry).count() == before


@pytest.mark.parametrize("action", ["renew", "revoke"])
def test_another_user_s_private_link_is_not_found(client, sign_in, country, action):
    token = _rennes(client, sign_in)
    response = client.post("/coordination/liens-prives", data={
        "csrf_token": token, "action": action, "token_id": str(country["link"])})
    assert response.status_code == 404
    assert "/feeds/private/" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(country["FeedToken"], country["link"]).revoked_at is None
    assert db.session.query(country["FeedToken"]).count() == 1


def test_a_coordinator_covering_the_owner_may_renew_their_link(client, sign_in, country):
    sign_in(client, "coordo-national@example.fr")
    token = csrf_token_in(client.get("/coordination/liens-prives").get_data(as_text=True))
    response = client.post("/coordination/liens-prives", data={
        "csrf_token": token, "action": "renew", "token_id": str(country["link"])})
    assert response.status_code == 200 and "/feeds/private/" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(country["FeedToken"], country["link"]).revoked_at is not None
    assert db.session.query(User).filter_by(email="coordo-national@example.fr").one().quartiers == []


def test_another_territory_s_week_is_not_found(client, sign_in, country):
    _rennes(client, sign_in)
    assert client.get("/coordination/semaine?quartier=QP035005").status_code == 200
    assert client.get("/coordination/semaine?quartier=QP030003").status_code == 404
    assert client.get("/coordination/semaine?lieu=agence-pissevin").status_code == 404
    assert client.get("/coordination/semaine?lieu=fjt-rennes").status_code == 200


def test_overlaps_at_a_place_in_no_quartier_are_national(client, sign_in, country, create_place, create_event):
    from models import ConflictCase, Partner, ScheduleConflict
    from models.operations.cases import cases_query
    from models.operations.conflicts import conflicts_query
    from scheduler.conflicts.nightly import run_full_detection

    nimes = db.session.scalars(db.select(Partner).where(Partner.slug == "france-travail-nimes")).one()
    annex = create_place("annexe-mairie", postcode="30900")
    create_event(annex, [nimes], title="Atelier A")
    create_event(annex, [nimes], title="Atelier B")
    run_full_detection()
    db.session.commit()
    case = db.session.scalars(db.select(ConflictCase)).one()
    _rennes(client, sign_in)
    rennes = db.session.scalars(db.select(User).where(User.email == "coordo-rennes@example.fr")).one()
    assert db.session.scalars(conflicts_query(rennes)).all() == []
    assert db.session.scalars(cases_query(rennes)).all() == []
    assert client.get(f"/coordination/cas/{case.id}").status_code == 404
    conflict = db.session.scalars(db.select(ScheduleConflict)).first()
    assert client.get(f"/coordination/chevauchements/{conflict.id}").status_code == 404
    national = get_national()
    assert db.session.scalars(cases_query(national)).all() == [case]


def get_national() -> User:
    from models.operations.users import get_or_create_user

    user = get_or_create_user("coordo-national@example.fr", "coordinator", None)
    db.session.commit()
    return user
