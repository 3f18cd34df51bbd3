"""The world of the authorization matrices (tests/test_api_authorization*.py, tests/test_page_idor.py):
two quartiers, partners working in one, the other or none, their series and a conflict (the
`authorization_world` fixture, registered by conftest); a small calendar to import."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from helpers.actors import SYSTEM
from helpers.dates import paris_at, quiet_monday
from models import db

# The world's Monday series start on quiet_monday() (create_event's default): its second, third and
# fourth Mondays.


MONDAY = paris_at(quiet_monday() + timedelta(weeks=1), 14).isoformat()


CANCELLED_MONDAY = paris_at(quiet_monday() + timedelta(weeks=2), 14).isoformat()


FOURTH_MONDAY = paris_at(quiet_monday() + timedelta(weeks=3), 14).isoformat()


ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Maillage tests//FR\r
BEGIN:VEVENT\r
UID:atelier-importe@test\r
DTSTAMP:20261201T090000Z\r
DTSTART:20270302T090000Z\r
DTEND:20270302T103000Z\r
SUMMARY:Atelier importé\r
END:VEVENT\r
END:VCALENDAR\r
""".encode()


@pytest.fixture
def authorization_world(create_partner, create_quartier, create_place, create_event, token_for):
    """Villeneuve (Échirolles) and Maurepas (Rennes). The mission locale works in Villeneuve (its
    Monday permanence at the BIJ, one Monday cancelled, Karima booked); the centre social hosts a
    place in Maurepas; the PIMMS hosts a place in Villeneuve and nothing else; France Travail runs
    a Monday permanence at the BIJ (at the mission locale's time: a place conflict) and one in
    Maurepas, both with Hugo; a new association works nowhere yet."""
    from models.operations.partners import create_person
    from scheduler import writes as series
    from scheduler.conflicts.nightly import run_full_detection

    here = create_quartier("QP038014", "Villeneuve")
    elsewhere = create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    own = create_partner("mission-locale-sud-isere")
    other = create_partner("centre-social-maurepas", type="centre_social")
    pimms = create_partner("pimms-villeneuve", type="pimms")
    ft = create_partner("france-travail", type="france_travail")
    create_partner("association-nouvelle", type="association")
    bij = create_place("bij-echirolles", quartier=here.code)
    maurepas = create_place("centre-social-maurepas", quartier=elsewhere.code, postcode="35700",
                            host_partner=other.slug)
    create_place("pimms-villeneuve", quartier=here.code, host_partner=pimms.slug)
    karima = create_person(SYSTEM, {"partner": own.slug, "name": "Karima Benali"})
    hugo = create_person(SYSTEM, {"partner": ft.slug, "name": "Hugo Martin"})
    db.session.commit()
    event = create_event(bij, [own], frequency="weekly", weekdays=[0], people=[karima.id])
    create_event(bij, [ft], title="Permanence France Travail", frequency="weekly", weekdays=[0], people=[hugo.id])
    create_event(maurepas, [ft], title="Permanence à Maurepas", frequency="weekly", weekdays=[2], people=[hugo.id])
    series.cancel_occurrence(SYSTEM, event, datetime.fromisoformat(CANCELLED_MONDAY), "Formation")
    past = create_event(bij, [own], title="Atelier CV", kind="atelier", start_date=date.today() - timedelta(days=7),
                        start_time="10:00", duration_minutes=90)
    run_full_detection()
    db.session.commit()
    from models import ScheduleConflict

    conflict = db.session.scalars(db.select(ScheduleConflict).where(ScheduleConflict.kind == "place")).first()
    partners = {"editor_own": own, "editor_other": other}
    quartiers = {"coordinator_here": [here], "coordinator_elsewhere": [elsewhere]}

    def headers(actor: str) -> dict:
        if actor == "anonymous":
            return {}
        role = "editor" if actor.startswith("editor") else "coordinator"
        return token_for(f"{actor}@example.fr", role, partners.get(actor), quartiers.get(actor, ()))

    return {"headers": headers, "event_id": event.id, "own": own.slug, "quartier": here.code,
            "ids": {"event": event.id, "karima": karima.id, "hugo": hugo.id, "conflict": conflict.id,
                    "case": conflict.case_id, "past": past.id,
                    "past_occurrence": past.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")}}


@pytest.fixture
def world(authorization_world):
    """The matrices' name for `authorization_world` (both authorization test modules use it)."""
    return authorization_world


# Actors: nobody; an editor of the organising partner; an editor of another partner; the
# coordinator of the event's quartier; the coordinator of another quartier; a national
# coordinator (no quartier: the whole country).
ACTORS = ["anonymous", "editor_own", "editor_other", "coordinator_here", "coordinator_elsewhere",
          "coordinator_national"]
COORDINATORS = {"coordinator_here", "coordinator_elsewhere", "coordinator_national"}
OWN_EVENT = {"editor_own", "coordinator_here", "coordinator_national"}
HERE = {"coordinator_here", "coordinator_national"}


# The event form's page actions (web/events.py), signed in through the real sign-in form. Opening
# a form writes nothing; each POST carries the page's CSRF token.
def _form(world: dict, **changes) -> dict:
    return {"kind": "atelier", "title": "Atelier CV", "place": "bij-echirolles", "room": "",
            "organisers": ["mission-locale-sud-isere"], "visibility": "public", "start_date": "2027-03-02",
            "start_time": "10:00", "end_time": "11:30", "frequency": "once", "interval": "1", "ends": "never",
            "action": "save", **changes}


PAGES = {
    "open the new event form": ("GET", "/coordination/evenements/nouveau", None, {
        "editor_own", "editor_other", *COORDINATORS}),
    "create an event from the form": ("POST", "/coordination/evenements/nouveau", _form, OWN_EVENT),
    # The preview refuses what the write would refuse: an event of someone else's partner or place.
    "preview an event in the form": ("POST", "/coordination/evenements/apercu", _form, OWN_EVENT),
    "open the edit form": ("GET", "/coordination/evenements/{event}/modifier", None, OWN_EVENT),
    "edit the series from the form": ("POST", "/coordination/evenements/{event}/modifier", lambda world: _form(
        world, kind="permanence", title="Permanence du lundi", start_date=quiet_monday().isoformat(),
        start_time="14:00", end_time="17:00", frequency="weekly", weekdays=["0"], people=[str(world["ids"]["karima"])],
        scope="serie", skip_public_holidays="1"), OWN_EVENT),
    "preview an edit of the series": ("POST", "/coordination/evenements/apercu", lambda world: _form(
        world, event_id=str(world["event_id"]), scope="serie"), OWN_EVENT),
    "cancel a date from the page": ("POST", "/coordination/evenements/{event}/annuler", lambda world: {
        "action": "cancel", "occurrence": MONDAY[:10], "reason": "Formation"}, OWN_EVENT),
    # A place added from the form: an editor's is hosted by their partner; a coordinator's must
    # be in their territory.
    "add a place from the event form": ("POST", "/coordination/evenements/nouveau", lambda world: _form(
        world, action="add_place", new_place_name="Maison des habitants Anatole France", new_place_city="Grenoble",
        new_place_postcode="38100", new_place_quartier="QP038014"), {"editor_own", "editor_other", *HERE}),
    "duplicate an event": ("GET", "/coordination/evenements/{event}/dupliquer", None, {
        "editor_own", "editor_other", *COORDINATORS}),
    # People received (web/attendance.py): the list shows each one what they may count.
    "list the sessions to count": ("GET", "/coordination/personnes-recues", None, {
        "editor_own", "editor_other", *COORDINATORS}),
    "open the people received form": ("GET", "/coordination/personnes-recues/{past}/{past_occurrence}", None,
                                      OWN_EVENT),
    "record people received from the page": ("POST", "/coordination/personnes-recues/{past}/{past_occurrence}",
                                             lambda world: {"total": "7", "band_16_25": "5"}, OWN_EVENT),
}
