"""Who may write what: the role × write endpoint matrix, over every write endpoint of the OpenAPI
document, and every write recorded."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from helpers.authorization import (
    ACTORS,
    CANCELLED_MONDAY,
    COORDINATORS,
    FOURTH_MONDAY,
    HERE,
    ICS,
    MONDAY,
    OWN_EVENT,
    PAGES,
)
from helpers.dates import paris_at, quiet_monday
from models import AuditEntry, Event, db


@dataclass
class Row:
    method: str
    path: str  # as /api/v1/openapi.json names it
    allowed: set[str]
    call: Callable[[dict], tuple[str, dict]]  # world -> (url, request arguments)
    refused: int = 403  # what a signed-in actor outside `allowed` gets
    recorded: bool = True  # a write leaves an audit entry (a preview writes nothing)


def _json(url: str, body=None) -> Callable[[dict], tuple[str, dict]]:
    """A call whose URL and JSON body may name things of the world: {event}, {karima}…"""
    def build(world):
        def fill(value):
            if isinstance(value, str):
                return value.format(**world["ids"])
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value
        return fill(url), ({} if body is None else {"json": fill(body)})
    return build


def _upload(url: str) -> Callable[[dict], tuple[str, dict]]:
    return lambda world: (url, {"content_type": "multipart/form-data", "data": {
        "partner": "mission-locale-sud-isere", "place": "bij-echirolles", "file": (io.BytesIO(ICS), "atelier.ics")}})


def _ready_import_job(world) -> tuple[str, dict]:
    """A preview ready to confirm, submitted by the actor when the actor may import for the
    mission locale (a job is its submitter's alone), else by the mission locale's editor."""
    from models import Partner, Place, User
    from scheduler.ical.jobs import run_queued_jobs, submit

    owner = world["actor"] if world["actor"] in OWN_EVENT else "editor_own"
    world["headers"](owner)  # the owner's account
    user = db.session.scalars(db.select(User).where(User.email == f"{owner}@example.fr")).one()
    job = submit(user, db.session.scalars(db.select(Partner).where(Partner.slug == "mission-locale-sud-isere")).one(),
                 db.session.scalars(db.select(Place).where(Place.slug == "bij-echirolles")).one(),
                 "atelier", "public", "atelier.ics", ICS)
    db.session.commit()
    run_queued_jobs()
    return f"/api/v1/import-jobs/{job.id}/confirm", {}


EVENT = "/api/v1/events/{event}"
MATRIX = {
    "create partner": Row("POST", "/api/v1/partners", COORDINATORS, _json(
        "/api/v1/partners", {"slug": "pimms-nord", "name": "PIMMS Nord", "type": "pimms"})),
    "update own partner": Row("PATCH", "/api/v1/partners/{slug}", OWN_EVENT, _json(
        "/api/v1/partners/mission-locale-sud-isere", {"contact_phone": "04 76 00 00 00"})),
    "update a partner of another territory": Row(
        "PATCH", "/api/v1/partners/{slug}", {"editor_other", "coordinator_elsewhere", "coordinator_national"},
        _json("/api/v1/partners/centre-social-maurepas", {"contact_phone": "02 99 00 00 00"})),
    "update a partner that works nowhere yet": Row("PATCH", "/api/v1/partners/{slug}", COORDINATORS, _json(
        "/api/v1/partners/association-nouvelle", {"website": "https://association.example.fr"})),
    "delete a partner that works only here": Row("DELETE", "/api/v1/partners/{slug}", HERE, _json(
        "/api/v1/partners/pimms-villeneuve")),
    "delete a partner that works here and elsewhere": Row("DELETE", "/api/v1/partners/{slug}", {
        "coordinator_national"}, _json("/api/v1/partners/france-travail")),
    "create person": Row("POST", "/api/v1/people", OWN_EVENT, _json(
        "/api/v1/people", {"partner": "mission-locale-sud-isere", "name": "Awa Diallo"})),
    "update person": Row("PATCH", "/api/v1/people/{person_id}", OWN_EVENT, _json(
        "/api/v1/people/{karima}", {"phone": "06 00 00 00 00"})),
    "delete person": Row("DELETE", "/api/v1/people/{person_id}", OWN_EVENT, _json("/api/v1/people/{karima}")),
    "delete a person booked here and elsewhere": Row("DELETE", "/api/v1/people/{person_id}", {
        "coordinator_national"}, _json("/api/v1/people/{hugo}")),
    "create quartier": Row("POST", "/api/v1/quartiers", COORDINATORS, _json(
        "/api/v1/quartiers", {"code": "QP093037", "name": "Lamaze"})),
    "update quartier": Row("PATCH", "/api/v1/quartiers/{code}", HERE, _json(
        "/api/v1/quartiers/QP038014", {"name": "Villeneuve – Village 2"})),
    "delete quartier": Row("DELETE", "/api/v1/quartiers/{code}", HERE, _json("/api/v1/quartiers/QP038014")),
    "create place": Row("POST", "/api/v1/places", HERE, _json("/api/v1/places", {
        "slug": "pimms-echirolles", "name": "PIMMS", "quartier": "QP038014", "postcode": "38130"})),
    "update place": Row("PATCH", "/api/v1/places/{slug}", HERE, _json(
        "/api/v1/places/bij-echirolles", {"rooms": ["Accueil"]})),
    "delete place": Row("DELETE", "/api/v1/places/{slug}", HERE, _json("/api/v1/places/pimms-villeneuve")),
    "create event": Row("POST", "/api/v1/events", OWN_EVENT, _json("/api/v1/events", {
        "kind": "atelier", "title": "Atelier CV", "place": "bij-echirolles", "organisers": ["mission-locale-sud-isere"],
        "start_date": "2027-03-02", "start_time": "10:00", "duration_minutes": 90})),
    "preview a new event": Row("POST", "/api/v1/events", OWN_EVENT, _json("/api/v1/events?dry_run=1", {
        "kind": "atelier", "title": "Atelier CV", "place": "bij-echirolles", "organisers": ["mission-locale-sud-isere"],
        "start_date": "2027-03-02", "start_time": "10:00", "duration_minutes": 90}), recorded=False),
    "split a series": Row("POST", "/api/v1/events/{event_id}/split", OWN_EVENT, _json(
        EVENT + "/split", {"from_date": FOURTH_MONDAY[:10], "start_time": "09:00", "end_time": "12:00"})),
    "preview a split": Row("POST", "/api/v1/events/{event_id}/split", OWN_EVENT, _json(
        EVENT + "/split?dry_run=1", {"from_date": FOURTH_MONDAY[:10], "start_time": "09:00", "end_time": "12:00"}),
        recorded=False),
    "end a series": Row("POST", "/api/v1/events/{event_id}/end", OWN_EVENT, _json(
        EVENT + "/end", {"from_date": FOURTH_MONDAY[:10]})),
    "update event": Row("PATCH", "/api/v1/events/{event_id}", OWN_EVENT,
                        _json(EVENT, {"title": "Permanence du lundi"})),
    "delete event": Row("DELETE", "/api/v1/events/{event_id}", OWN_EVENT, _json(EVENT)),
    "cancel occurrence": Row("POST", "/api/v1/events/{event_id}/occurrences/cancel", OWN_EVENT, _json(
        EVENT + "/occurrences/cancel", {"recurrence_start": MONDAY})),
    "move occurrence": Row("POST", "/api/v1/events/{event_id}/occurrences/move", OWN_EVENT, _json(
        EVENT + "/occurrences/move", {"recurrence_start": MONDAY, "starts_at": paris_at(
            quiet_monday() + timedelta(weeks=1, days=1), 14).isoformat()})),
    "restore occurrence": Row("POST", "/api/v1/events/{event_id}/occurrences/restore", OWN_EVENT, _json(
        EVENT + "/occurrences/restore", {"recurrence_start": CANCELLED_MONDAY})),
    "preview an import": Row("POST", "/api/v1/imports/preview", OWN_EVENT, _upload("/api/v1/imports/preview"),
                             recorded=False),
    "import": Row("POST", "/api/v1/imports", OWN_EVENT, _upload("/api/v1/imports")),
    # The clock writes (and records) the import later: handing it over or confirming writes no event.
    "hand an import to the clock": Row("POST", "/api/v1/import-jobs", OWN_EVENT, _upload("/api/v1/import-jobs"),
                                       recorded=False),
    # Someone else's job is not found: its existence is not revealed.
    "confirm an import job": Row("POST", "/api/v1/import-jobs/{job_id}/confirm", OWN_EVENT, _ready_import_job,
                                 refused=404, recorded=False),
    "set reminders": Row("PUT", "/api/v1/partners/{slug}/reminder-settings", OWN_EVENT, _json(
        "/api/v1/partners/mission-locale-sud-isere/reminder-settings",
        {"offsets": [{"days_before": 1, "at": "09:00"}]})),
    # Counts are recorded after an occurrence: the mission locale's workshop of last week.
    "record people received": Row("PUT", "/api/v1/events/{event_id}/occurrences/{recurrence_id}/attendance",
                                  OWN_EVENT, _json("/api/v1/events/{past}/occurrences/{past_occurrence}/attendance",
                                                   {"total": 12, "by_age_band": {"16_25": 9}})),
    # A conflict outside one's partner and territory is not shown at all: 404, not 403.
    "accept conflict": Row("POST", "/api/v1/conflicts/{conflict_id}/accept", OWN_EVENT, _json(
        "/api/v1/conflicts/{conflict}/accept", {"reason": "Deux salles ce jour-là."}), refused=404),
    "accept conflict case": Row("POST", "/api/v1/conflict-cases/{case_id}/accept", OWN_EVENT, _json(
        "/api/v1/conflict-cases/{case}/accept", {"reason": "Deux salles tous les lundis."}), refused=404),
    # Resolving it acts on a series: the mission locale's, at 18 h from now on.
    "resolve conflict case": Row("POST", "/api/v1/conflict-cases/{case_id}/resolve", OWN_EVENT, _json(
        "/api/v1/conflict-cases/{case}/resolve", {"event_id": "{event}", "scope": "series", "action": "move",
                                                  "start": "18:00", "end": "19:00"}), refused=404),
}


def _call(client, endpoint: str, world: dict, headers: dict):
    row = MATRIX[endpoint]
    url, arguments = row.call(world)
    assert re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", row.path), url.split("?")[0]), (row.path, url)
    return getattr(client, row.method.lower())(url, headers=headers, **arguments)


def test_the_matrix_has_a_row_for_every_write_endpoint_of_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    writes = {(method.upper(), path) for path, operations in document["paths"].items()
              for method in operations if method in ("post", "put", "patch", "delete")}
    assert writes == {(row.method, row.path) for row in MATRIX.values()}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", MATRIX)
def test_each_write_endpoint_admits_exactly_the_actors_of_the_matrix(client, world, endpoint, actor):
    row = MATRIX[endpoint]
    headers = world["headers"](actor)
    world["actor"] = actor
    audit_before = db.session.query(AuditEntry).count()
    response = _call(client, endpoint, world, headers)
    db.session.expire_all()
    if actor in row.allowed:
        assert response.status_code in (200, 201, 202, 204), response.get_json()
        if row.recorded:
            assert db.session.query(AuditEntry).count() > audit_before, "a write must be recorded"
        return
    expected = 401 if actor == "anonymous" else row.refused
    assert response.status_code == expected, response.get_json()
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == expected
    assert db.session.query(AuditEntry).count() == audit_before, "a refused write changes nothing"


def test_a_partner_or_a_person_that_works_elsewhere_too_is_deleted_only_by_a_national_coordinator(client, world):
    from models import Partner, Person

    for url in (f"/api/v1/people/{world['ids']['hugo']}", "/api/v1/partners/france-travail"):
        refused = client.delete(url, headers=world["headers"]("coordinator_here"))
        assert refused.status_code == 403
        assert "hors de votre territoire" in refused.get_json()["message"]
        assert client.delete(url, headers=world["headers"]("coordinator_national")).status_code == 204
    assert db.session.query(Person).filter_by(name="Hugo Martin").count() == 0
    assert db.session.query(Partner).filter_by(slug="france-travail").count() == 0


def test_a_partner_whose_people_are_booked_elsewhere_works_elsewhere_too(client, world):
    from helpers.actors import SYSTEM
    from models import Event
    from models.operations.partners import create_person

    interpreter = create_person(SYSTEM, {"partner": "pimms-villeneuve", "name": "Nadia Haddad", "role": "interpreter"})
    maurepas = db.session.scalars(db.select(Event).where(Event.title == "Permanence à Maurepas")).one()
    maurepas.people.append(interpreter)
    db.session.commit()
    refused = client.delete("/api/v1/partners/pimms-villeneuve", headers=world["headers"]("coordinator_here"))
    assert refused.status_code == 403 and "intervenant·es" in refused.get_json()["message"]


def test_a_territorial_coordinator_edits_a_new_partner_and_then_only_while_it_works_in_their_territory(
        client, world):
    headers = world["headers"]("coordinator_elsewhere")
    url = "/api/v1/partners/association-nouvelle"
    assert client.patch(url, headers=headers, json={"contact_phone": "01 00 00 00 00"}).status_code == 200
    national = world["headers"]("coordinator_national")
    response = client.post("/api/v1/places", headers=national, json={
        "slug": "local-association", "name": "Local de l'association", "quartier": "QP038014",
        "postcode": "38130", "host_partner": "association-nouvelle"})
    assert response.status_code == 201, response.get_json()
    assert client.patch(url, headers=headers, json={"contact_phone": "01 11 11 11 11"}).status_code == 403
    assert client.patch(url, headers=world["headers"]("coordinator_here"),
                        json={"contact_phone": "04 00 00 00 00"}).status_code == 200


def test_an_editor_cannot_hand_an_event_over_to_another_partner(client, world):
    response = client.patch(f"/api/v1/events/{world['event_id']}", headers=world["headers"]("editor_own"),
                            json={"organisers": ["france-travail"]})
    assert response.status_code == 403
    assert [p.slug for p in db.session.get(Event, world["event_id"]).organisers] == [world["own"]]


def test_a_wrong_or_revoked_token_is_refused(client, world):
    from models.operations.users import revoke_api_token

    response = client.get("/api/v1/people", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    headers = world["headers"]("coordinator_here")
    assert client.get("/api/v1/people", headers=headers).status_code == 200
    revoke_api_token(headers["Authorization"].split()[1])
    db.session.commit()
    assert client.get("/api/v1/people", headers=headers).status_code == 401


def test_partners_only_events_need_a_token_to_be_read(client, world, create_place, create_event):
    from models import Partner

    own = db.session.query(Partner).filter_by(slug=world["own"]).one()
    place = create_place("centre-social-village-2", quartier=world["quartier"])
    private = create_event(place, [own], title="Tour de table des partenaires", kind="coordination",
                           visibility="partners", start_date=date(2027, 3, 4))
    window = "/api/v1/occurrences?start=2027-03-01&end=2027-03-08"
    assert "Tour de table des partenaires" not in [o["title"] for o in client.get(window).get_json()]
    assert client.get(f"/api/v1/events/{private.id}").status_code == 404
    # Signed in, another partner's people see the date, named by its kind and organisers (a young
    # person's first name may be in the title); the organiser's own people read the title.
    other = {o["event_id"]: o["title"] for o in client.get(window, headers=world["headers"]("editor_other")).get_json()}
    assert private.id in other and other[private.id] != "Tour de table des partenaires"
    assert own.name in other[private.id]
    mine = {o["event_id"]: o["title"] for o in client.get(window, headers=world["headers"]("editor_own")).get_json()}
    assert mine[private.id] == "Tour de table des partenaires"


def test_the_history_of_a_series_says_who_changed_what(client, world):
    headers = world["headers"]("editor_own")
    client.patch(f"/api/v1/events/{world['event_id']}", headers=headers, json={"title": "Permanence du lundi"})
    client.post(f"/api/v1/events/{world['event_id']}/occurrences/cancel", headers=headers,
                json={"recurrence_start": FOURTH_MONDAY, "reason": "Formation"})
    history = client.get(f"/api/v1/events/{world['event_id']}/history", headers=headers).get_json()
    assert [h["action"] for h in history] == ["create", "cancel_occurrence", "update", "cancel_occurrence"]
    assert history[2]["user"] == "editor_own@example.fr"
    assert history[2]["changes"]["title"] == ["Permanence mission locale", "Permanence du lundi"]
    assert history[3]["changes"]["reason"] == [None, "Formation"]
    assert history[3]["changes"]["is_cancelled"] == [None, True]


# Reads kept to some roles: coverage (and review) of a territory only for its coordinators.
READS = {
    "coverage of a quartier": ("/api/v1/coverage?quartier=QP038014&start=2027-03-01&end=2027-04-01", HERE),
    "coverage of one's territory": ("/api/v1/coverage?start=2027-03-01&end=2027-04-01", COORDINATORS),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("read", READS)
def test_each_restricted_read_admits_exactly_the_actors_of_its_row(client, world, read, actor):
    url, allowed = READS[read]
    response = client.get(url, headers=world["headers"](actor))
    expected = 200 if actor in allowed else 401 if actor == "anonymous" else 403
    assert response.status_code == expected, response.get_json()


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", PAGES)
def test_each_page_action_of_the_event_form_admits_exactly_the_actors_of_its_row(client, world, sign_in, action,
                                                                                  actor):
    from helpers.pages import csrf_token_in
    from models import Partner, Quartier

    method, path, body, allowed = PAGES[action]
    url = path.format(**world["ids"])
    if actor != "anonymous":
        partner = {"editor_own": world["own"], "editor_other": "centre-social-maurepas"}.get(actor)
        codes = {"coordinator_here": ["QP038014"], "coordinator_elsewhere": ["QP035005"]}.get(actor, [])
        sign_in(client, f"{actor}.page@example.fr", "editor" if actor.startswith("editor") else "coordinator",
                db.session.scalars(db.select(Partner).where(Partner.slug == partner)).one() if partner else None,
                list(db.session.scalars(db.select(Quartier).where(Quartier.code.in_(codes)))))
    token = csrf_token_in(client.get("/coordination/connexion").get_data(as_text=True))
    audit_before = db.session.query(AuditEntry).count()
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={**body(world), "csrf_token": token})
    db.session.expire_all()
    if actor == "anonymous":
        assert response.status_code in (302, 400) and db.session.query(AuditEntry).count() == audit_before
        return
    if actor in allowed:
        assert response.status_code in (200, 302), (response.status_code, response.get_data(as_text=True)[-3000:])
        writes = method == "POST" and "apercu" not in url
        assert (db.session.query(AuditEntry).count() > audit_before) == writes, "a write is recorded, a view is not"
        return
    assert response.status_code == 403, response.status_code
    assert db.session.query(AuditEntry).count() == audit_before, "a refused action changes nothing"
