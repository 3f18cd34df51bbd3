"""The event form of /coordination/evenements: partners enter and keep their own permanences in
the browser. Create with a preview (a dry run: nothing written), edit the whole series, one date or
this date and the following ones, cancel, end, delete, duplicate; rights, French messages next to
the field, CSRF, the audit log under the person's name."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from helpers.database import row_counts
from helpers.dates import paris_at, paris_today, quiet_monday
from helpers.pages import csrf_token_in
from models import AuditEntry, Event, db


def christmas_monday() -> date:
    """A Monday of the Christmas school holidays (zone A) after the quiet weeks of the tests."""
    year = quiet_monday().year
    while True:
        day = date(year, 12, 28)
        day -= timedelta(days=day.weekday())  # the Monday of the week of 28 December
        if day > quiet_monday() + timedelta(weeks=6):
            return day
        year += 1


@pytest.fixture
def territory(app, create_quartier, create_partner, create_place, create_event):
    """Villeneuve: the BIJ (rooms Accueil and Salle 2), hosted by the centre social; France
    Travail's Monday permanence there, 14 h – 17 h in the Accueil room, from four weeks before
    Christmas; a PIJ elsewhere, in Maurepas. The mission locale and the centre social ran a forum
    together last year: the mission locale's editors may name the centre social as co-organiser
    (docs/security.md)."""
    quartier = create_quartier("QN03801M", "Villeneuve")
    create_quartier("QN03501M", "Maurepas", ("Rennes",), "35")
    ml = create_partner("mission-locale")
    cs = create_partner("centre-social", type="centre_social")
    ft = create_partner("france-travail", type="france_travail")
    create_partner("pij-rennes", type="pij_bij")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M", host_partner=cs.slug,
                       rooms=["Accueil", "Salle 2"], city="Échirolles")
    create_place("pij-maurepas", name="PIJ de Maurepas", quartier="QN03501M", postcode="35700", city="Rennes",
                 host_partner="pij-rennes")
    start = christmas_monday() - timedelta(weeks=4)
    create_event(bij, [ft], title="Permanence France Travail", frequency="weekly", weekdays=[0],
                 start_date=start, room="Accueil", count=12)
    create_event(bij, [ml, cs], title="Forum de l'emploi", kind="forum", frequency="once",
                 start_date=start - timedelta(days=400), room="Salle 2")
    return {"quartier": quartier, "ml": ml, "cs": cs, "start": start}


def form(**changes) -> dict:
    values = {"kind": "permanence", "title": "Permanence mission locale", "description": "", "place": "bij",
              "room": "Accueil", "organisers": ["mission-locale", "centre-social"], "age_min": "16",
              "age_max": "25", "tags": "sans diplôme", "walk_in": "1", "registration_url": "",
              "visibility": "public", "start_date": "", "start_time": "14:00", "end_time": "17:00",
              "frequency": "weekly", "interval": "1", "weekdays": ["0"], "month_week": "", "ends": "until",
              "until": "", "count": "", "skip_public_holidays": "1", "pause_school_holidays": "1",
              "school_zone": "", "lieu_q": ""}
    return values | changes


def signed_in(client, sign_in, email, partner):
    sign_in(client, email, role="editor", partner=partner)
    return csrf_token_in(client.get("/coordination/evenements/nouveau").get_data(as_text=True))


def error_next_to(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-erreur">([^<]*)</p>', html)
    assert found, f"no error next to {field}"
    assert f'aria-describedby="{field}-erreur"' in html or re.search(
        rf'aria-describedby="[^"]*{field}-erreur', html), "the field is not described by its error"
    return found.group(1)


def test_an_editor_previews_then_creates_a_co_organised_weekly_permanence(client, sign_in, territory):
    token = signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    start = territory["start"]
    data = form(csrf_token=token, start_date=start.isoformat(), until=(start + timedelta(weeks=8)).isoformat())
    before = row_counts()
    preview = client.post("/coordination/evenements/nouveau", data=data | {"action": "preview"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "Tous les lundis de 14 h à 17 h, du " in html and "hors vacances scolaires (zone A)" in html
    assert "vacances de Noël" in html
    assert "Lieu ou salle occupé deux fois" in html and "Permanence France Travail" in html
    assert row_counts() == before, "a preview writes nothing"

    live = client.post("/coordination/evenements/apercu", data=data)
    assert live.status_code == 200 and "vacances de Noël" in live.get_data(as_text=True)
    assert "<html" not in live.get_data(as_text=True), "htmx gets the preview alone"
    assert row_counts() == before

    saved = client.post("/coordination/evenements/nouveau", data=data | {"action": "save"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    event = db.session.scalars(sa.select(Event).where(Event.title == "Permanence mission locale")).one()
    assert [p.slug for p in event.organisers] == ["centre-social", "mission-locale"]
    assert (event.age_min, event.age_max, event.audience_tags, event.walk_in) == (16, 25, ["sans diplôme"], True)
    assert event.pause_school_holidays and event.room == "Accueil"
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.entity_id == event.id,
                                                           AuditEntry.entity_type == "events",
                                                           AuditEntry.action == "create")).one()
    assert entry.user.email == "conseillere@ml.example.fr"
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Évènement créé" in page


def test_a_co_organiser_edits_the_event_and_an_editor_of_another_partner_gets_403(client, sign_in, territory,
                                                                                    create_event, app):
    bij = db.session.scalars(sa.select(type(territory["quartier"]).places.property.mapper.class_)
                             .where(sa.text("slug = 'bij'"))).one()
    event = create_event(bij, [territory["ml"], territory["cs"]], frequency="weekly", weekdays=[2], count=4)
    token = signed_in(client, sign_in, "animatrice@cs.example.fr", territory["cs"])
    page = client.get(f"/coordination/evenements/{event.id}/modifier")
    assert page.status_code == 200 and 'value="Permanence mission locale"' in page.get_data(as_text=True)
    data = form(csrf_token=token, title="Permanence du mercredi", weekdays=["2"], room="Salle 2",
                start_date=event.start_date.isoformat(), ends="count", count="4", scope="serie", action="save")
    response = client.post(f"/coordination/evenements/{event.id}/modifier", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Event, event.id).title == "Permanence du mercredi"

    other = app.test_client()
    token = signed_in(other, sign_in, "pij@pij.example.fr",
                      db.session.scalars(sa.select(type(territory["ml"])).where(sa.text("slug = 'pij-rennes'"))).one())
    before = row_counts()
    assert other.get(f"/coordination/evenements/{event.id}/modifier").status_code == 403
    assert other.post(f"/coordination/evenements/{event.id}/modifier",
                      data=data | {"csrf_token": token, "title": "À nous"}).status_code == 403
    assert other.post(f"/coordination/evenements/{event.id}/annuler",
                      data={"csrf_token": token, "action": "delete"}).status_code == 403
    assert row_counts() == before


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"until": "{before}"}, "until", "La date de fin est avant la date de début."),
    ({"weekdays": []}, "weekdays", "Choisissez au moins un jour de la semaine."),
    ({"interval": "0"}, "interval", "Valeur entre 1 et 52 attendue."),
    ({"end_time": "13:00"}, "end_time", "La fin est avant le début."),
    ({"title": ""}, "title", "Entre 2 et 200 caractères."),
    ({"room": "Cave"}, "room", "Salle inconnue dans ce lieu : « Cave »."),
    ({"start_date": "demain"}, "start_date", "Date attendue (AAAA-MM-JJ)."),
])
def test_a_bad_rule_gets_a_french_message_next_to_its_field_and_writes_nothing(client, sign_in, territory,
                                                                              changes, field, message):
    token = signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    start = territory["start"]
    changes = {k: (v.format(before=(start - timedelta(days=7)).isoformat()) if isinstance(v, str) else v)
               for k, v in changes.items()}
    data = form(csrf_token=token, start_date=start.isoformat(), until=(start + timedelta(weeks=8)).isoformat())
    before = row_counts()
    for action in ("save", "preview"):
        response = client.post("/coordination/evenements/nouveau", data=data | changes | {"action": action})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert error_next_to(html, field) == message.replace("'", "&#39;")
        assert "Rien n'est enregistré" in html
    assert row_counts() == before


def test_the_api_gives_the_same_message_for_a_weekly_rule_of_no_day(client, territory, token_for):
    headers = token_for("conseillere@ml.example.fr", "editor", territory["ml"])
    response = client.post("/api/v1/events?dry_run=1", headers=headers, json={
        "kind": "permanence", "title": "Permanence", "place": "bij", "organisers": ["mission-locale"],
        "start_date": territory["start"].isoformat(), "start_time": "14:00", "end_time": "17:00",
        "recurrence": {"frequency": "weekly", "weekdays": []}})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["recurrence"]["weekdays"] == [
        "Choisissez au moins un jour de la semaine."]


def test_every_form_needs_its_csrf_token(client, sign_in, territory):
    signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    before = row_counts()
    data = form(start_date=territory["start"].isoformat(), ends="never", action="save")
    assert client.post("/coordination/evenements/nouveau", data=data).status_code == 400
    assert client.post("/coordination/evenements/apercu", data=data).status_code == 400
    assert row_counts() == before


def test_this_date_and_the_following_one_date_and_cancelling_from_the_form(client, sign_in, territory, create_event):
    from models import Place

    bij = db.session.scalars(sa.select(Place).where(Place.slug == "bij")).one()
    monday = quiet_monday()
    event = create_event(bij, [territory["ml"]], frequency="weekly", weekdays=[0], count=6, room="Salle 2",
                         start_time="09:00", duration_minutes=120, skip_public_holidays=False)
    token = signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    edit = client.get(f"/coordination/evenements/{event.id}/modifier?portee=suivantes&date="
                      f"{(monday + timedelta(weeks=3)).isoformat()}").get_data(as_text=True)
    assert 'value="suivantes" checked' in edit
    data = form(csrf_token=token, start_date=monday.isoformat(), organisers=["mission-locale"], room="Salle 2",
                start_time="10:00", end_time="12:00", ends="count", count="6", pause_school_holidays="",
                skip_public_holidays="", action="save")
    # One date: the second Monday at 11 h.
    response = client.post(f"/coordination/evenements/{event.id}/modifier", data=data | {
        "scope": "date", "occurrence": (monday + timedelta(weeks=1)).isoformat(), "start_time": "11:00",
        "end_time": "12:00"})
    assert response.status_code == 302, response.get_data(as_text=True)
    # This date and the following: from the fourth Monday, 10 h – 12 h.
    response = client.post(f"/coordination/evenements/{event.id}/modifier", data=data | {
        "scope": "suivantes", "occurrence": (monday + timedelta(weeks=3)).isoformat()})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    first, second = db.session.scalars(sa.select(Event).where(Event.title == "Permanence mission locale")
                                       .order_by(Event.id)).all()
    assert first.until == monday + timedelta(weeks=3, days=-1) and first.start_time.hour == 9
    assert second.start_date == monday + timedelta(weeks=3) and second.start_time.hour == 10
    assert second.count == 3 and second.uid != first.uid
    assert [x.starts_at.astimezone(paris_at(monday, 0).tzinfo).hour for x in first.exceptions] == [11]

    # Cancel a date of the second with a reason for the public; then end it; then delete the first.
    day = monday + timedelta(weeks=4)
    assert client.post(f"/coordination/evenements/{second.id}/annuler", data={
        "csrf_token": token, "action": "cancel", "occurrence": day.isoformat(),
        "reason": "Formation de l'équipe"}).status_code == 302
    db.session.expire_all()
    assert [(x.is_cancelled, x.reason) for x in db.session.get(Event, second.id).exceptions] == [
        (True, "Formation de l'équipe")]
    assert client.post(f"/coordination/evenements/{second.id}/annuler", data={
        "csrf_token": token, "action": "end", "occurrence": (monday + timedelta(weeks=5)).isoformat()}
    ).status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, second.id).until == monday + timedelta(weeks=5, days=-1)
    refused = client.post(f"/coordination/evenements/{second.id}/annuler", data={
        "csrf_token": token, "action": "cancel", "occurrence": (monday + timedelta(days=1)).isoformat()})
    assert refused.status_code == 422 and "pas de séance" in refused.get_data(as_text=True)
    assert client.post(f"/coordination/evenements/{first.id}/annuler", data={
        "csrf_token": token, "action": "delete"}).status_code == 302
    assert db.session.get(Event, first.id) is None


def test_duplicating_opens_the_copy_in_the_form_and_writes_nothing(client, sign_in, territory, create_event):
    from models import Place

    bij = db.session.scalars(sa.select(Place).where(Place.slug == "bij")).one()
    event = create_event(bij, [territory["cs"]], title="Atelier CV", kind="atelier", frequency="weekly",
                         weekdays=[3], count=3)
    signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    before = row_counts()
    page = client.get(f"/coordination/evenements/{event.id}/dupliquer")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "copie de « Atelier CV »" in html
    assert 'value="Atelier CV"' in html and 'action="/coordination/evenements/nouveau"' in html
    assert re.search(r'value="mission-locale" checked', html), "the editor's own partner organises the copy"
    assert row_counts() == before


def test_the_series_page_lists_its_dates_each_with_the_three_choices(client, sign_in, territory, create_event):
    from models import Place

    bij = db.session.scalars(sa.select(Place).where(Place.slug == "bij")).one()
    event = create_event(bij, [territory["ml"]], title="Atelier CV", kind="atelier", frequency="weekly",
                         weekdays=[3], start_date=paris_today() + timedelta(days=1), count=3)
    signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    html = client.get(f"/coordination/evenements/{event.id}").get_data(as_text=True)
    assert "Tous les jeudis de 14 h à 17 h" in html
    days = re.findall(rf'/coordination/evenements/{event.id}/annuler\?date=(\d{{4}}-\d\d-\d\d)', html)
    assert len(days) == 3 and all(date.fromisoformat(d).weekday() == 3 for d in days)
    second = days[1]
    for link, scope in ((f"modifier?portee=date&amp;date={second}", "date"),
                        (f"modifier?portee=suivantes&amp;date={second}", "suivantes")):
        assert f"/coordination/evenements/{event.id}/{link}" in html
        form_page = client.get(f"/coordination/evenements/{event.id}/{link.replace('&amp;', '&')}")
        chosen = form_page.get_data(as_text=True)
        assert f'value="{scope}" checked' in chosen and f'<option value="{second}" selected>' in chosen
    cancel = client.get(f"/coordination/evenements/{event.id}/annuler?date={second}").get_data(as_text=True)
    assert f'<option value="{second}" selected>' in cancel


def test_the_place_search_finds_by_name_commune_or_quartier(client, sign_in, territory):
    signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    for text, expected, absent in (("maurepas", "PIJ de Maurepas", "BIJ d&#39;Échirolles"),
                                   ("Villeneuve", "BIJ d&#39;Échirolles", "PIJ de Maurepas"),
                                   ("rennes", "PIJ de Maurepas", "BIJ d&#39;Échirolles")):
        html = client.get(f"/coordination/evenements/nouveau?lieu_q={text}").get_data(as_text=True)
        select = html[html.index('id="champ-place"'):html.index("</select>", html.index('id="champ-place"'))]
        assert expected in select and absent not in select, text


def test_an_editor_adds_a_place_from_the_form_which_keeps_what_was_typed_and_chooses_it(client, sign_in,
                                                                                      territory):
    from models import Place

    token = signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    typed = form(csrf_token=token, place="", room="", title="Atelier CV du jeudi", action="add_place",
                 new_place_name="Maison des habitants Anatole France", new_place_address="2 rue Anatole France",
                 new_place_postcode="3813", new_place_city="Échirolles", new_place_quartier="QN03801M",
                 new_place_rooms="Salle polyvalente, Bureau 1")
    before = row_counts()
    refused = client.post("/coordination/evenements/nouveau", data=typed)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert error_next_to(html, "new_place_postcode") == "Code postal à 5 chiffres."
    assert "<details class=\"new-place\" open>" in html and 'value="Atelier CV du jeudi"' in html
    assert row_counts() == before, "nothing written while anything is wrong"

    added = client.post("/coordination/evenements/nouveau", data=typed | {"new_place_postcode": "38130"})
    assert added.status_code == 200
    html = added.get_data(as_text=True)
    place = db.session.scalars(sa.select(Place).where(Place.name == "Maison des habitants Anatole France")).one()
    assert (place.slug, place.host_partner.slug, place.quartier.code, place.department, place.rooms) == (
        "maison-des-habitants-anatole-france", "mission-locale", "QN03801M", "38", ["Salle polyvalente", "Bureau 1"])
    assert "Lieu « Maison des habitants Anatole France » ajouté" in html
    assert f'<option value="{place.slug}" selected>' in html, "the new place is chosen"
    assert 'value="Atelier CV du jeudi"' in html and '<option value="Salle polyvalente">' in html
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.entity_type == "places",
                                                           AuditEntry.entity_id == place.id)).one()
    assert entry.user.email == "conseillere@ml.example.fr" and entry.action == "create"

    again = client.post("/coordination/evenements/nouveau", data=typed | {"new_place_postcode": "38130"})
    assert again.status_code == 200, "the same name again gets an identifier of its own"
    assert db.session.scalars(sa.select(Place.slug).where(Place.name == "Maison des habitants Anatole France")
                              .order_by(Place.id)).all() == [place.slug, place.slug + "-echirolles"]

    data = form(csrf_token=token, place=place.slug, room="Bureau 1", start_date=territory["start"].isoformat(),
                until=(territory["start"] + timedelta(weeks=4)).isoformat(), action="save")
    assert client.post("/coordination/evenements/nouveau", data=data).status_code == 302


def test_an_editor_s_dashboard_opens_on_the_coming_weeks_of_their_partner(client, sign_in, territory, create_event):
    from models import Place

    bij = db.session.scalars(sa.select(Place).where(Place.slug == "bij")).one()
    tomorrow = paris_today() + timedelta(days=1)
    create_event(bij, [territory["ml"], territory["cs"]], title="Permanence co-animée", frequency="weekly",
                 weekdays=[tomorrow.weekday()], count=2, start_date=tomorrow)
    create_event(bij, [territory["cs"]], title="Atelier du centre social", start_date=tomorrow, start_time="09:00",
                 duration_minutes=60)
    signed_in(client, sign_in, "conseillere@ml.example.fr", territory["ml"])
    html = client.get("/coordination/").get_data(as_text=True)
    calendar = html[html.index('id="mon-calendrier"'):html.index("</section>", html.index('id="mon-calendrier"'))]
    assert "Nouvel évènement" in calendar and 'href="/coordination/evenements/nouveau"' in calendar
    assert "Permanence co-animée" in calendar, "a co-organised event is in each organiser's calendar"
    assert "Atelier du centre social" not in calendar
    assert "14 h – 17 h" in calendar and "14:00" not in calendar, "hours written as on every other page"
    assert "Permanence France Travail" not in calendar, "another partner's event is not in my calendar"


def test_a_coordinator_sees_what_partners_changed_since_their_last_visit(client, sign_in, territory, app):
    from models import User
    from models.operations.users import SEEN_EVERY, VISIT_GAP

    editor = app.test_client()
    token = signed_in(editor, sign_in, "conseillere@ml.example.fr", territory["ml"])
    start = territory["start"]
    assert editor.post("/coordination/evenements/nouveau", data=form(
        csrf_token=token, title="Atelier CV du mardi", kind="atelier", weekdays=["1"], room="Salle 2",
        start_date=start.isoformat(), until=(start + timedelta(weeks=3)).isoformat(),
        action="save")).status_code == 302

    sign_in(client, "coordo@example.fr", quartiers=[territory["quartier"]])
    html = client.get("/coordination/").get_data(as_text=True)
    assert "Atelier CV du mardi" in html and "créé par" in html

    # A visit later, after a long gap: what was changed before the previous visit ended is not new.
    coordinator = db.session.scalars(sa.select(User).where(User.email == "coordo@example.fr")).one()
    coordinator.last_seen_at -= VISIT_GAP + SEEN_EVERY
    for entry in db.session.scalars(sa.select(AuditEntry)):
        entry.at -= VISIT_GAP + SEEN_EVERY + timedelta(hours=1)
    db.session.commit()
    html = client.get("/coordination/").get_data(as_text=True)
    assert "Atelier CV du mardi" not in html
    assert "Aucun évènement créé ou modifié par les partenaires depuis." in html
