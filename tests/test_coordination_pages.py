"""The coordinators' pages: the open list, a conflict side by side, accepting, cancelling or moving
one side, the week view, editing a series; editors only see their own partner's conflicts."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import quiet_monday
from scheduler.french import french_date
from tests.conftest import csrf_token_in


@pytest.fixture
def clash(app, create_quartier, create_partner, create_place, create_event):
    """A room booked twice on a Monday ahead (quiet_monday(), create_event's default), detected."""
    from models import db
    from scheduler.conflicts.nightly import run_full_detection

    create_quartier("QN03801M")
    ml, ft = create_partner("mission-locale"), create_partner("france-travail", type="france_travail")
    create_partner("centre-social", type="centre_social")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M")
    a = create_event(bij, [ml], title="Permanence mission locale")
    b = create_event(bij, [ft], title="Entretiens France Travail", start_time="15:00", duration_minutes=60,
                     frequency="weekly", count=2)
    run_full_detection()
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
    assert "1 cas ouverts, dont 1 bloquants" in page.replace("<strong>", "").replace("</strong>", "")
    for text in ("Permanence mission locale", "Entretiens France Travail", "BIJ d&#39;Échirolles",
                 f"Le {french_date(quiet_monday())} à 14 h 00", "Mission Locale", "est réservé deux fois"):
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
    assert "Aucun cas de chevauchement ouvert ici." in response.get_data(as_text=True)
    accepted = client.get("/coordination/?statut=accepted").get_data(as_text=True)
    assert "Deux bureaux ce jour-là." in accepted


def test_cancelling_one_side_from_the_conflict_resolves_it(client, sign_in, clash):
    from models.operations.audit import history

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
        "csrf_token": token, "side": side, "day": quiet_monday().isoformat(), "start": "17:00", "end": "18:00",
        "reason": ""})
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
    monday = quiet_monday()
    page = client.get(f"/coordination/semaine?quartier=QN03801M&du={monday}").get_data(as_text=True)
    assert page.count('class="in-conflict"') == 2  # the place's column, at 14 h and at 15 h
    assert page.count('class="occ clash"') == 2
    assert f'/coordination/cas/{clash["conflict"].case_id}' in page
    later = client.get(f"/coordination/semaine?quartier=QN03801M&du={monday + timedelta(weeks=1)}").get_data(
        as_text=True)
    assert "Entretiens France Travail" in later and 'class="in-conflict"' not in later


def test_the_week_grid_shows_the_whole_territory_by_default_by_place_or_person_and_keeps_its_filters(
        client, sign_in, clash, create_quartier, create_place, create_event):
    from models import db
    from models.operations.partners import create_person
    from tests.conftest import SYSTEM

    create_quartier("QN03802M", name="Essarts")
    other = create_place("mjc", name="MJC Desnos", quartier="QN03802M")
    nadia = create_person(SYSTEM, {"partner": "mission-locale", "name": "Nadia Haddad"})
    db.session.commit()
    create_event(other, [clash["ml"]], title="Atelier numérique", start_time="09:00", people=[nadia.id])
    sign_in(client)
    monday = quiet_monday()
    page = client.get(f"/coordination/semaine?du={monday}").get_data(as_text=True)
    # Both quartiers, a column per place, the overlap linked to its case, in its hour's row.
    assert '<th scope="col">BIJ d&#39;Échirolles</th>' in page and '<th scope="col">MJC Desnos</th>' in page
    assert "Atelier numérique" in page and "Permanence mission locale" in page
    by_person = client.get(f"/coordination/semaine?du={monday}&vue=personnes").get_data(as_text=True)
    assert '<th scope="col">Nadia Haddad</th>' in by_person and '<th scope="col">Sans personne nommée</th>' in by_person
    assert '<th scope="col">MJC Desnos</th>' not in by_person
    # The week's links keep the filters.
    narrowed = client.get(f"/coordination/semaine?du={monday}&vue=personnes&quartier=QN03802M").get_data(
        as_text=True)
    nxt = (monday + timedelta(weeks=1)).isoformat()
    assert f'href="/coordination/semaine?du={nxt}&amp;quartier=QN03802M&amp;vue=personnes"' in narrowed
    assert "Permanence mission locale" not in narrowed


def test_editing_the_series_time_from_its_page_closes_the_conflict(client, sign_in, clash):
    sign_in(client)
    url = f"/coordination/evenements/{clash['b'].id}"
    token = csrf_token_in(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "start": "09:00", "end": "10:00", "room": "",
                                      "status": "confirmed"}, follow_redirects=True)
    assert "Chevauchements de cette série : 0" in response.get_data(as_text=True)
    assert _status(clash["conflict"].id) == "closed"


def test_a_series_is_set_to_pause_during_the_school_holidays_from_its_page(client, sign_in, clash, create_place,
                                                                          create_event):
    from models import Event, db

    sign_in(client)
    url = f"/coordination/evenements/{clash['b'].id}"
    page = client.get(url).get_data(as_text=True)
    assert "Interrompre la série pendant les vacances scolaires" in page and "celle du lieu (zone A)" in page
    form = {"csrf_token": csrf_token_in(page), "start": "15:00", "end": "16:00", "room": "", "status": "confirmed"}

    def saved(**values):
        body = client.post(url, data={**form, **values}, follow_redirects=True).get_data(as_text=True)
        db.session.expire_all()
        event = db.session.get(Event, clash["b"].id)
        return body, (event.pause_school_holidays, event.school_zone)

    body, state = saved(pause_school_holidays="1", school_zone="")
    assert "Série enregistrée" in body and state == (True, None)
    assert saved(pause_school_holidays="1", school_zone="C")[1] == (True, "C")
    assert saved(school_zone="")[1] == (False, None)
    # A place in no zone (Corsica) needs one; an overseas place has no such setting.
    ajaccio = create_place("bij-ajaccio", name="BIJ d'Ajaccio", postcode="20000")
    corsica = create_event(ajaccio, [clash["ml"]], frequency="weekly", count=4)
    corsica_url = f"/coordination/evenements/{corsica.id}"
    body = client.post(corsica_url, data={**form, "pause_school_holidays": "1", "school_zone": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "indiquez la zone" in body and not db.session.get(Event, corsica.id).pause_school_holidays
    case = create_place("case-chaudron", name="Case du Chaudron", postcode="97490")
    reunion = create_event(case, [clash["ml"]], frequency="weekly", count=4)
    page = client.get(f"/coordination/evenements/{reunion.id}").get_data(as_text=True)
    assert "académies d'outre-mer" in page and 'name="pause_school_holidays"' not in page


# --- a place that refuses hard conflicts (the rule of every write: scheduler.conflicts.check_write) --

@pytest.fixture
def refusing_bij(app, create_quartier, create_partner, create_place, create_event):
    """The BIJ refuses double bookings. Its Monday permanence and an interview slot already clash
    (entered before it refused them); on Tuesdays a workshop from 10:00 to 12:00 and a slot at 8:00."""
    from models import ScheduleConflict, db
    from scheduler.conflicts.nightly import run_full_detection

    monday = quiet_monday()  # two weeks of Mondays and Tuesdays with no holiday
    create_quartier("QN03801M")
    ml, ft = create_partner("mission-locale"), create_partner("france-travail", type="france_travail")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M")
    create_event(bij, [ml], title="Permanence mission locale", start_date=monday, frequency="weekly", count=2)
    interviews = create_event(bij, [ft], title="Entretiens France Travail", start_date=monday, start_time="15:00",
                              duration_minutes=60, frequency="weekly", count=1)
    create_event(bij, [ml], title="Atelier CV", kind="atelier", start_date=monday + timedelta(days=1),
                 start_time="10:00", duration_minutes=120, frequency="weekly", count=2)
    early = create_event(bij, [ft], title="Accueil France Travail", start_date=monday + timedelta(days=1),
                         start_time="08:00", duration_minutes=60, frequency="weekly", count=2)
    run_full_detection()
    bij.refuses_hard_conflicts = True
    db.session.commit()
    (conflict,) = db.session.scalars(sa.select(ScheduleConflict))
    return dict(monday=monday, interviews=interviews, early=early, conflict=conflict)


def test_a_series_edit_that_double_books_a_place_that_refuses_it_is_refused_in_french(client, sign_in,
                                                                                         refusing_bij):
    from models import Event, ScheduleConflict, db

    sign_in(client)
    url = f"/coordination/evenements/{refusing_bij['early'].id}"
    token = csrf_token_in(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "start": "09:30", "end": "10:30", "room": "",
                                      "status": "confirmed"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Refusé : cette modification crée 2 chevauchement(s) bloquant(s)" in page
    assert "le lieu « BIJ d&#39;Échirolles » les refuse" in page and "Rien n&#39;a été enregistré." in page
    assert "« Atelier CV »" in page
    db.session.expire_all()
    assert db.session.get(Event, refusing_bij["early"].id).start_time.hour == 8
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleConflict)) == 1


def test_moving_a_side_from_the_conflict_page_into_a_refused_double_booking_is_refused(client, sign_in,
                                                                                        refusing_bij):
    from models import OccurrenceException, db

    sign_in(client)
    cid = refusing_bij["conflict"].id
    token = csrf_token_in(client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True))
    side = "b" if refusing_bij["conflict"].b_event_id == refusing_bij["interviews"].id else "a"
    tuesday = (refusing_bij["monday"] + timedelta(days=1)).isoformat()
    response = client.post(f"/coordination/chevauchements/{cid}/deplacer", follow_redirects=True, data={
        "csrf_token": token, "side": side, "day": tuesday, "start": "11:00",
        "end": "12:00", "reason": ""})
    page = response.get_data(as_text=True)
    assert "Refusé : cette modification crée 1 chevauchement(s) bloquant(s)" in page and "« Atelier CV »" in page
    assert _status(cid) == "open"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OccurrenceException)) == 0
    # Moving it to a free time still resolves the conflict.
    response = client.post(f"/coordination/chevauchements/{cid}/deplacer", data={
        "csrf_token": token, "side": side, "day": tuesday, "start": "13:00",
        "end": "14:00", "reason": ""})
    assert _status(cid) == "resolved"


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


def test_editing_a_series_from_the_conflict_page_resolves_it_and_every_week_of_that_pair(client, sign_in, clash):
    from models import ScheduleConflict, db
    from models.operations.audit import history

    sign_in(client)
    cid = clash["conflict"].id
    pair = set(db.session.scalars(sa.select(ScheduleConflict.id)))
    conflict_page = client.get(f"/coordination/chevauchements/{cid}").get_data(as_text=True)
    url = f"/coordination/evenements/{clash['b'].id}?chevauchement={cid}"
    assert url in conflict_page  # the conflict page links to its series with itself named
    series_page = client.get(url).get_data(as_text=True)
    assert f'name="chevauchement" value="{cid}"' in series_page
    response = client.post(url, data={"csrf_token": csrf_token_in(series_page), "chevauchement": str(cid),
                                      "start": "09:00", "end": "10:00", "room": "", "status": "confirmed"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/coordination/")
    db.session.expire_all()
    assert {db.session.get(ScheduleConflict, i).status for i in pair} == {"resolved"}
    (entry,) = [e for e in history("conflicts", cid) if e.action == "resolve"]
    assert "série « Entretiens France Travail » modifiée" in entry.changes["reason"][1]
    assert entry.user.email == "coordo@example.fr"


def test_a_conflict_named_on_a_series_page_that_is_not_its_own_resolves_nothing(client, sign_in, clash,
                                                                                 create_event):
    from models import Place, db

    sign_in(client)
    bij = db.session.scalar(sa.select(Place).where(Place.slug == "bij"))
    elsewhere = create_event(bij, [clash["ml"]], title="Atelier CV", start_time="18:00", duration_minutes=60)
    url = f"/coordination/evenements/{elsewhere.id}?chevauchement={clash['conflict'].id}"
    page = client.get(url).get_data(as_text=True)
    assert 'name="chevauchement"' not in page
    client.post(url, data={"csrf_token": csrf_token_in(page), "chevauchement": str(clash["conflict"].id),
                           "start": "19:00", "end": "20:00", "room": "", "status": "confirmed"})
    assert _status(clash["conflict"].id) == "open"
    unknown = client.get(f"/coordination/evenements/{elsewhere.id}?chevauchement=999999")
    assert unknown.status_code == 200 and 'name="chevauchement"' not in unknown.get_data(as_text=True)
