"""The coordinators' pages: the open list, a conflict side by side, accepting, cancelling or moving
one side, the week view, editing a series; editors only see their own partner's conflicts."""
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_token_in


@pytest.fixture
def clash(app, create_quartier, create_partner, create_place, create_event):
    """A room booked twice on Monday 1 March 2027, detected."""
    from models import db
    from scheduler.conflicts import run_full_detection

    create_quartier("QN03801M")
    ml, ft = create_partner("mission-locale"), create_partner("france-travail", type="france_travail")
    create_partner("centre-social", type="centre_social")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M")
    a = create_event(bij, [ml], title="Permanence mission locale")
    b = create_event(bij, [ft], title="Entretiens France Travail", start_time="15:00", duration_minutes=60,
                     frequency="weekly", count=2)
    run_full_detection(datetime(2026, 12, 1, tzinfo=timezone.utc))
    db.session.commit()
    from models import ScheduleConflict

    conflict = db.session.scalar(sa.select(ScheduleConflict))
    return dict(a=a, b=b, ml=ml, ft=ft, conflict=conflict)


def _status(conflict_id):
    from models import ScheduleConflict, db

    db.session.expire_all()
    return db.session.get(ScheduleConflict, conflict_id).status


def test_the_open_list_shows_both_sides_with_what_who_where_when_and_for_whom(client, sign_in, clash):
    sign_in(client)
    page = client.get("/coordination/").get_data(as_text=True)
    assert "1 ouverts, dont 1 bloquants" in page.replace("<strong>", "").replace("</strong>", "")
    for text in ("Permanence mission locale", "Entretiens France Travail", "BIJ d&#39;Échirolles",
                 "lundi 1er mars 2027, 15 h – 16 h", "Mission Locale", "tout public", "est réservé deux fois"):
        assert text in page, text


def test_accepting_with_a_reason_takes_the_conflict_out_of_the_open_list(client, sign_in, clash):
    sign_in(client)
    cid = clash["conflict"].id
    page = client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True)
    token = csrf_token_in(page)
    empty = client.post(f"/coordination/chevauchements/{cid}/accepter", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 302 and _status(cid) == "open"
    assert "Indiquez pourquoi" in client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True)
    response = client.post(f"/coordination/chevauchements/{cid}/accepter",
                           data={"csrf_token": token, "reason": "Deux bureaux ce jour-là."}, follow_redirects=True)
    assert response.status_code == 200 and _status(cid) == "accepted"
    assert "Aucun chevauchement ouvert ici." in response.get_data(as_text=True)
    accepted = client.get("/coordination/?statut=accepted").get_data(as_text=True)
    assert "Deux bureaux ce jour-là." in accepted


def test_cancelling_one_side_from_the_conflict_resolves_it(client, sign_in, clash):
    from models.audit import history

    sign_in(client)
    cid = clash["conflict"].id
    token = csrf_token_in(client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True))
    side = "b" if clash["conflict"].b_event_id == clash["b"].id else "a"
    response = client.post(f"/coordination/chevauchements/{cid}/annuler",
                           data={"csrf_token": token, "side": side, "reason": "Formation interne"})
    assert response.status_code == 302
    assert _status(cid) == "resolved"
    (entry,) = [e for e in history("conflicts", cid) if e.action == "resolve"]
    assert "annulée" in entry.changes["reason"][1] and entry.user.email == "coordo@example.fr"


def test_moving_one_side_away_resolves_it_and_a_date_that_is_not_one_is_refused(client, sign_in, clash):
    from models import ScheduleConflict, db

    sign_in(client)
    cid = clash["conflict"].id
    token = csrf_token_in(client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True))
    side = "b" if clash["conflict"].b_event_id == clash["b"].id else "a"
    response = client.post(f"/coordination/chevauchements/{cid}/deplacer", data={
        "csrf_token": token, "side": side, "day": "2027-03-01", "start": "17:00", "end": "18:00", "reason": ""})
    assert response.status_code == 302
    assert _status(cid) == "resolved"
    bad = client.post(f"/coordination/chevauchements/{cid}/deplacer", data={
        "csrf_token": token, "side": side, "day": "lundi", "start": "17:00", "end": "18:00"})
    assert bad.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleConflict)) == 1


def test_an_editor_of_another_partner_neither_sees_nor_accepts_the_conflict(client, sign_in, clash):
    from models import Partner, db

    outsider = db.session.scalar(sa.select(Partner).where(Partner.slug == "centre-social"))
    sign_in(client, "cs@example.fr", role="editor", partner=outsider)
    cid = clash["conflict"].id
    assert client.get(f"/coordination/chevauchements/{cid}").status_code == 404
    token = csrf_token_in(client.get("/coordination/").get_data(as_text=True))
    assert "Permanence mission locale" not in client.get("/coordination/").get_data(as_text=True)
    refused = client.post(f"/coordination/chevauchements/{cid}/accepter", data={"csrf_token": token, "reason": "Non."})
    assert refused.status_code == 404 and _status(cid) == "open"


def test_an_editor_of_a_partner_involved_accepts_it(client, sign_in, clash):
    sign_in(client, "ml@example.fr", role="editor", partner=clash["ml"])
    cid = clash["conflict"].id
    token = csrf_token_in(client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True))
    client.post(f"/coordination/chevauchements/{cid}/accepter", data={"csrf_token": token, "reason": "Vu avec FT."})
    assert _status(cid) == "accepted"


def test_the_week_view_marks_the_occurrences_in_conflict(client, sign_in, clash):
    sign_in(client)
    page = client.get("/coordination/semaine?quartier=QN03801M&du=2027-03-01").get_data(as_text=True)
    assert page.count('class="in-conflict"') == 2
    assert f'/coordination/chevauchements/{clash["conflict"].id}' in page
    later = client.get("/coordination/semaine?quartier=QN03801M&du=2027-03-08").get_data(as_text=True)
    assert "Entretiens France Travail" in later and 'class="in-conflict"' not in later


def test_editing_the_series_time_from_its_page_closes_the_conflict(client, sign_in, clash):
    sign_in(client)
    url = f"/coordination/evenements/{clash['b'].id}"
    token = csrf_token_in(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "start": "09:00", "end": "10:00", "room": "",
                                      "status": "confirmed"}, follow_redirects=True)
    assert "Chevauchements de cette série : 0" in response.get_data(as_text=True)
    assert _status(clash["conflict"].id) == "closed"


@pytest.mark.parametrize("url, status, text", [
    ("/coordination/semaine?du=9999-12-30", 400, "Les dates vont de 1970 à 2199."),
    ("/coordination/semaine?du=0001-01-01", 400, "Les dates vont de 1970 à 2199."),
    ("/coordination/?page=99999999999999999999", 404, "Cette page n&#39;existe pas : la liste compte 1 page(s)."),
    ("/coordination/?page=2", 404, "la liste compte 1 page(s)"),
    ("/coordination/chevauchements/999999", 404, "Cette page n&#39;existe pas."),
])
def test_an_address_out_of_range_gets_a_french_page_not_a_server_error(client, sign_in, clash, url, status, text):
    sign_in(client)
    response = client.get(url)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert text in page and '<html lang="fr">' in page
    assert client.get("/coordination/?page=1").status_code == 200
