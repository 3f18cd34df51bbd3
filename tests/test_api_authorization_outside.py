"""The authorization matrix's two columns of issue 15 (tests/test_api_authorization.py holds the
w and the role × endpoint rows): for every write endpoint of the OpenAPI document, what a
territorial coordinator gets writing outside their territory, and what an editor gets naming (or
acting for) a partner that is not theirs. Each is refused (403, or 404 for what they may not see)
and changes nothing (docs/security.md)."""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, time, timedelta

import pytest

from helpers.authorization import ICS, PAGES
from helpers.dates import paris_at, quiet_monday
from helpers.pages import csrf_token_in
from models import AuditEntry, Event, db

MONDAY = paris_at(quiet_monday() + timedelta(weeks=1), 14).isoformat()
WEDNESDAY = paris_at(quiet_monday() + timedelta(weeks=1, days=2), 14).isoformat()
NEW = {"kind": "atelier", "title": "Atelier CV", "start_date": "2027-03-02", "start_time": "10:00",
       "duration_minutes": 90}


def _event(title: str) -> int:
    return db.session.scalars(db.select(Event.id).where(Event.title == title)).one()


def _own(w) -> int:
    return w["event_id"]


def _maurepas(w) -> int:
    return _event("Permanence à Maurepas")


def _ft_bij(w) -> int:
    return _event("Permanence France Travail")


Call = Callable[[dict], tuple[str, dict]]


def _json(url: str | Callable[[dict], str], body=None) -> Call:
    def build(w):
        return (url(w) if callable(url) else url.format(**w["ids"])), ({} if body is None else {"json": body})
    return build


def _on_event(which: Callable[[dict], int], tail: str = "", body=None) -> Call:
    return _json(lambda w: f"/api/v1/events/{which(w)}{tail}", body)


def _upload(url: str, partner: str, place: str) -> Call:
    return lambda w: (url, {"content_type": "multipart/form-data", "data": {
        "partner": partner, "place": place, "file": (io.BytesIO(ICS), "atelier.ics")}})


def _maurepas_job(w) -> tuple[str, dict]:
    """A preview of the centre social (Maurepas) ready to confirm, its editor's."""
    from models import Partner, Place, User
    from scheduler.ical.jobs import run_queued_jobs, submit

    w["headers"]("editor_other")
    user = db.session.scalars(db.select(User).where(User.email == "editor_other@example.fr")).one()
    job = submit(user, db.session.scalars(db.select(Partner).where(Partner.slug == "centre-social-maurepas")).one(),
                 db.session.scalars(db.select(Place).where(Place.slug == "centre-social-maurepas")).one(),
                 "atelier", "public", "atelier.ics", ICS)
    db.session.commit()
    run_queued_jobs()
    return f"/api/v1/import-jobs/{job.id}/confirm", {}


def _maurepas_conflict(kind: str) -> Call:
    """A place conflict in Maurepas alone: the centre social's workshop at France Travail's time."""
    def build(w):
        from helpers.actors import SYSTEM
        from models import ScheduleConflict
        from scheduler import writes
        from scheduler.conflicts.nightly import run_full_detection

        writes.create_event(SYSTEM, {"kind": "atelier", "title": "Atelier du centre social",
                                     "place": "centre-social-maurepas", "organisers": ["centre-social-maurepas"],
                                     "frequency": "weekly", "weekdays": [2], "start_date": quiet_monday(),
                                     "start_time": time(14), "duration_minutes": 180})
        run_full_detection()
        db.session.commit()
        maurepas = _maurepas(w)
        conflict = db.session.scalars(db.select(ScheduleConflict).where(sa_or_event(maurepas))).first()
        if kind == "case":
            return f"/api/v1/conflict-cases/{conflict.case_id}/accept", {"json": {"reason": "Deux salles."}}
        if kind == "resolve":
            return f"/api/v1/conflict-cases/{conflict.case_id}/resolve", {"json": {
                "event_id": maurepas, "scope": "series", "action": "move", "start": "18:00", "end": "19:00"}}
        return f"/api/v1/conflicts/{conflict.id}/accept", {"json": {"reason": "Deux salles."}}
    return build


def sa_or_event(event_id: int):
    from models import ScheduleConflict

    return (ScheduleConflict.a_event_id == event_id) | (ScheduleConflict.b_event_id == event_id)


def _past_maurepas_event() -> tuple[int, str]:
    """A workshop of the centre social in Maurepas last week: its id and its occurrence's id."""
    from helpers.actors import SYSTEM
    from scheduler import writes

    past = writes.create_event(SYSTEM, {"kind": "atelier", "title": "Atelier passé", "place": "centre-social-maurepas",
                                        "organisers": ["centre-social-maurepas"], "start_time": time(10),
                                        "start_date": date.today() - timedelta(days=7), "duration_minutes": 90}).event
    db.session.commit()
    return past.id, past.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _past_maurepas(w) -> tuple[str, dict]:
    event_id, occurrence = _past_maurepas_event()
    return f"/api/v1/events/{event_id}/occurrences/{occurrence}/attendance", {"json": {"total": 3}}


def _past_maurepas_page(w) -> str:
    return "/coordination/personnes-recues/{}/{}".format(*_past_maurepas_event())


# (method, path) -> (what coordinator_here, of Villeneuve, does outside it; what editor_own, of the
# mission locale, does naming or acting for another partner). None with a reason: nothing there
# belongs to a territory or a partner yet.
ELSEWHERE = "centre-social-maurepas"  # works in Maurepas only
NOT_COORGANISER = "pimms-villeneuve"  # works in Villeneuve, never organised with the mission locale
OUTSIDE: dict[tuple[str, str], tuple[Call | str, Call]] = {
    ("POST", "/api/v1/partners"): (
        "a new partner works nowhere yet: any coordinator may create one",
        _json("/api/v1/partners", {"slug": "pimms-nord", "name": "PIMMS Nord", "type": "pimms"})),
    ("PATCH", "/api/v1/partners/{slug}"): (
        _json("/api/v1/partners/france-travail", {"contact_email": "attaque@example.fr"}),
        _json("/api/v1/partners/france-travail", {"contact_email": "attaque@example.fr"})),
    ("DELETE", "/api/v1/partners/{slug}"): (
        _json(f"/api/v1/partners/{ELSEWHERE}"), _json("/api/v1/partners/france-travail")),
    ("POST", "/api/v1/people"): (
        _json("/api/v1/people", {"partner": "france-travail", "name": "Faux conseiller"}),
        _json("/api/v1/people", {"partner": "france-travail", "name": "Faux conseiller"})),
    ("PATCH", "/api/v1/people/{person_id}"): (
        _json("/api/v1/people/{hugo}", {"phone": "06 00 00 00 00"}),
        _json("/api/v1/people/{karima}", {"partner": "france-travail"})),
    ("DELETE", "/api/v1/people/{person_id}"): (_json("/api/v1/people/{hugo}"), _json("/api/v1/people/{hugo}")),
    ("POST", "/api/v1/quartiers"): (
        "a new quartier is nobody's territory yet: any coordinator may create one",
        _json("/api/v1/quartiers", {"code": "QP093037", "name": "Lamaze"})),
    ("PATCH", "/api/v1/quartiers/{code}"): (
        _json("/api/v1/quartiers/QP035005", {"name": "Maurepas-Gros Chêne"}),
        _json("/api/v1/quartiers/QP038014", {"name": "Villeneuve"})),
    ("DELETE", "/api/v1/quartiers/{code}"): (
        _json("/api/v1/quartiers/QP035005"), _json("/api/v1/quartiers/QP038014")),
    ("POST", "/api/v1/places"): (
        _json("/api/v1/places", {"slug": "annexe", "name": "Annexe sans quartier", "postcode": "38130"}),
        _json("/api/v1/places", {"slug": "local", "name": "Local", "quartier": "QP038014", "postcode": "38130",
                                 "host_partner": NOT_COORGANISER})),
    ("PATCH", "/api/v1/places/{slug}"): (
        _json(f"/api/v1/places/{ELSEWHERE}", {"rooms": ["Salle"]}),
        _json("/api/v1/places/pimms-villeneuve", {"rooms": ["Salle"]})),
    ("DELETE", "/api/v1/places/{slug}"): (
        _json(f"/api/v1/places/{ELSEWHERE}"), _json("/api/v1/places/bij-echirolles")),
    ("POST", "/api/v1/events"): (
        _json("/api/v1/events", {**NEW, "place": "bij-echirolles", "organisers": [ELSEWHERE]}),
        _json("/api/v1/events", {**NEW, "place": "bij-echirolles",
                                 "organisers": ["mission-locale-sud-isere", NOT_COORGANISER]})),
    ("POST", "/api/v1/events/{event_id}/split"): (
        _on_event(_own, "/split", {"from_date": (quiet_monday() + timedelta(weeks=3)).isoformat(),
                                   "organisers": ["mission-locale-sud-isere", ELSEWHERE]}),
        _on_event(_own, "/split", {"from_date": (quiet_monday() + timedelta(weeks=3)).isoformat(),
                                   "organisers": ["mission-locale-sud-isere", NOT_COORGANISER]})),
    ("POST", "/api/v1/events/{event_id}/end"): (
        _on_event(_maurepas, "/end", {"from_date": (quiet_monday() + timedelta(weeks=3)).isoformat()}),
        _on_event(_ft_bij, "/end", {"from_date": (quiet_monday() + timedelta(weeks=3)).isoformat()})),
    ("PATCH", "/api/v1/events/{event_id}"): (
        _on_event(_own, "", {"organisers": ["mission-locale-sud-isere", ELSEWHERE]}),
        _on_event(_own, "", {"organisers": ["mission-locale-sud-isere", NOT_COORGANISER]})),
    ("DELETE", "/api/v1/events/{event_id}"): (_on_event(_maurepas), _on_event(_ft_bij)),
    ("POST", "/api/v1/events/{event_id}/occurrences/cancel"): (
        _on_event(_maurepas, "/occurrences/cancel", {"recurrence_start": WEDNESDAY}),
        _on_event(_ft_bij, "/occurrences/cancel", {"recurrence_start": MONDAY})),
    ("POST", "/api/v1/events/{event_id}/occurrences/move"): (
        _on_event(_own, "/occurrences/move", {"recurrence_start": MONDAY, "place": ELSEWHERE}),
        _on_event(_ft_bij, "/occurrences/move", {"recurrence_start": MONDAY, "room": "Salle 2"})),
    ("POST", "/api/v1/events/{event_id}/occurrences/restore"): (
        _on_event(_maurepas, "/occurrences/restore", {"recurrence_start": WEDNESDAY}),
        _on_event(_ft_bij, "/occurrences/restore", {"recurrence_start": MONDAY})),
    ("POST", "/api/v1/imports/preview"): (
        _upload("/api/v1/imports/preview", ELSEWHERE, ELSEWHERE),
        _upload("/api/v1/imports/preview", "france-travail", "bij-echirolles")),
    ("POST", "/api/v1/imports"): (
        _upload("/api/v1/imports", ELSEWHERE, ELSEWHERE),
        _upload("/api/v1/imports", "france-travail", "bij-echirolles")),
    ("POST", "/api/v1/import-jobs"): (
        _upload("/api/v1/import-jobs", ELSEWHERE, ELSEWHERE),
        _upload("/api/v1/import-jobs", "france-travail", "bij-echirolles")),
    ("POST", "/api/v1/import-jobs/{job_id}/confirm"): (_maurepas_job, _maurepas_job),
    ("PUT", "/api/v1/partners/{slug}/reminder-settings"): (
        _json("/api/v1/partners/france-travail/reminder-settings", {"webhook_url": "https://evil.example/hook"}),
        _json("/api/v1/partners/france-travail/reminder-settings", {"webhook_url": "https://evil.example/hook"})),
    ("PUT", "/api/v1/events/{event_id}/occurrences/{recurrence_id}/attendance"): (_past_maurepas, _past_maurepas),
    ("POST", "/api/v1/conflicts/{conflict_id}/accept"): (
        _maurepas_conflict("conflict"), _maurepas_conflict("conflict")),
    ("POST", "/api/v1/conflict-cases/{case_id}/accept"): (_maurepas_conflict("case"), _maurepas_conflict("case")),
    ("POST", "/api/v1/conflict-cases/{case_id}/resolve"): (_maurepas_conflict("resolve"),
                                                           _maurepas_conflict("resolve")),
}
COLUMNS = {"coordinator_here writing outside": 0, "editor_own naming another partner": 1}
CASES = [(endpoint, column) for endpoint, calls in OUTSIDE.items() for column, i in COLUMNS.items()
         if not isinstance(calls[i], str)]


def test_the_two_columns_cover_every_write_endpoint_of_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    writes = {(method.upper(), path) for path, operations in document["paths"].items()
              for method in operations if method in ("post", "put", "patch", "delete")}
    assert writes == set(OUTSIDE)


@pytest.mark.parametrize(("endpoint", "column"), CASES, ids=[f"{e[0]} {e[1]} {c}" for e, c in CASES])
def test_writing_outside_or_for_another_partner_is_refused_and_changes_nothing(client, world, endpoint,
                                                                              column):
    call = OUTSIDE[endpoint][COLUMNS[column]]
    assert not isinstance(call, str)
    actor = column.split(" ")[0]
    world["actor"] = actor
    url, arguments = call(world)
    headers = world["headers"](actor)
    audit_before = db.session.query(AuditEntry).count()
    response = getattr(client, endpoint[0].lower())(url, headers=headers, **arguments)
    db.session.expire_all()
    # What one may not see is not found (a job, an overlap); the rest is forbidden.
    expected = 404 if endpoint[1].startswith(("/api/v1/import-jobs/", "/api/v1/conflict")) else 403
    assert response.status_code == expected, (response.status_code, response.get_json())
    assert db.session.query(AuditEntry).count() == audit_before, "a refused write changes nothing"


def test_a_coordinator_gives_the_consent_an_editor_then_builds_on(client, world):
    """The mission locale's editor may not name the PIMMS; the Villeneuve coordinator (who covers
    the PIMMS) adds it as co-organiser; from then on the editor may name it."""
    editor, coordinator = world["headers"]("editor_own"), world["headers"]("coordinator_here")
    body = {**NEW, "place": "bij-echirolles", "organisers": ["mission-locale-sud-isere", NOT_COORGANISER]}
    assert client.post("/api/v1/events", headers=editor, json=body).status_code == 403
    added = client.patch(f"/api/v1/events/{world['event_id']}", headers=coordinator,
                         json={"organisers": ["mission-locale-sud-isere", NOT_COORGANISER]})
    assert added.status_code == 200, added.get_json()
    created = client.post("/api/v1/events", headers=editor, json=body)
    assert created.status_code == 201, created.get_json()
    # France Travail works in Villeneuve too: its coordinator may name it there, not the centre social.
    assert client.post("/api/v1/events", headers=coordinator, json={
        **NEW, "place": "bij-echirolles", "organisers": ["france-travail"]}).status_code == 201
    assert client.post("/api/v1/events", headers=coordinator, json={
        **NEW, "place": "bij-echirolles", "organisers": [ELSEWHERE]}).status_code == 403


# The event form's page actions (tests/test_api_authorization.py's PAGES), the same two columns.
# A refused write from the form answers 403 with its French message and records nothing.
FORM = {"kind": "atelier", "title": "Atelier CV", "place": "bij-echirolles", "room": "",
        "organisers": ["mission-locale-sud-isere"], "visibility": "public", "start_date": "2027-03-02",
        "start_time": "10:00", "end_time": "11:30", "frequency": "once", "interval": "1", "ends": "never",
        "action": "save"}


def _page_form(**changes) -> Callable[[dict], dict]:
    def build(w):
        return {**FORM, **{k: (v(w) if callable(v) else v) for k, v in changes.items()}}
    return build


SERIES = {"kind": "permanence", "title": "Permanence du lundi", "start_date": quiet_monday().isoformat(),
          "start_time": "14:00", "end_time": "17:00", "frequency": "weekly", "weekdays": ["0"], "scope": "serie",
          "skip_public_holidays": "1"}
NAMING_ELSEWHERE = ["mission-locale-sud-isere", ELSEWHERE]
NAMING_PIMMS = ["mission-locale-sud-isere", NOT_COORGANISER]
PageCall = tuple[str, Callable[[dict], str], Callable[[dict], dict] | None]  # method, url, form
PAGE_OUTSIDE: dict[str, tuple[PageCall | str, PageCall | str]] = {
    "open the new event form": ("a blank form: nothing outside to ask for", "a blank form: nothing outside to ask for"),
    "create an event from the form": (
        ("POST", lambda w: "/coordination/evenements/nouveau", _page_form(place=ELSEWHERE, organisers=[ELSEWHERE])),
        ("POST", lambda w: "/coordination/evenements/nouveau", _page_form(organisers=NAMING_PIMMS))),
    "preview an event in the form": (
        ("POST", lambda w: "/coordination/evenements/apercu", _page_form(organisers=[ELSEWHERE])),
        ("POST", lambda w: "/coordination/evenements/apercu", _page_form(organisers=NAMING_PIMMS))),
    "open the edit form": (
        ("GET", lambda w: f"/coordination/evenements/{_maurepas(w)}/modifier", None),
        ("GET", lambda w: f"/coordination/evenements/{_ft_bij(w)}/modifier", None)),
    "edit the series from the form": (
        ("POST", lambda w: f"/coordination/evenements/{_own(w)}/modifier",
         _page_form(**SERIES, organisers=NAMING_ELSEWHERE)),
        ("POST", lambda w: f"/coordination/evenements/{_own(w)}/modifier",
         _page_form(**SERIES, organisers=NAMING_PIMMS))),
    "preview an edit of the series": (
        ("POST", lambda w: "/coordination/evenements/apercu",
         _page_form(event_id=lambda w: str(_own(w)), scope="serie", organisers=NAMING_ELSEWHERE)),
        ("POST", lambda w: "/coordination/evenements/apercu",
         _page_form(event_id=lambda w: str(_own(w)), scope="serie", organisers=NAMING_PIMMS))),
    "cancel a date from the page": (
        ("POST", lambda w: f"/coordination/evenements/{_maurepas(w)}/annuler",
         lambda w: {"action": "cancel", "occurrence": WEDNESDAY[:10], "reason": "Pris"}),
        ("POST", lambda w: f"/coordination/evenements/{_ft_bij(w)}/annuler",
         lambda w: {"action": "cancel", "occurrence": MONDAY[:10], "reason": "Pris"})),
    "add a place from the event form": (
        ("POST", lambda w: "/coordination/evenements/nouveau", _page_form(
            action="add_place", new_place_name="Local de Maurepas", new_place_city="Rennes",
            new_place_postcode="35700", new_place_quartier="QP035005")),
        "an editor's new place is hosted by their own partner: no other partner is named"),
    "duplicate an event": ("a read of an event every signed-in partner may read; the copy is the create row's",) * 2,
    "list the sessions to count": ("a list of what the user may count: nothing outside to ask for",) * 2,
    "open the people received form": (("GET", _past_maurepas_page, None), ("GET", _past_maurepas_page, None)),
    "record people received from the page": (
        ("POST", _past_maurepas_page, lambda w: {"total": "7"}),
        ("POST", _past_maurepas_page, lambda w: {"total": "7"})),
}
PAGE_CASES = [(action, column) for action, calls in PAGE_OUTSIDE.items() for column, i in COLUMNS.items()
              if not isinstance(calls[i], str)]


def test_the_page_columns_cover_every_page_action_of_the_matrix():
    assert set(PAGE_OUTSIDE) == set(PAGES)


@pytest.mark.parametrize(("action", "column"), PAGE_CASES, ids=[f"{a} {c}" for a, c in PAGE_CASES])
def test_a_page_action_outside_or_for_another_partner_is_refused_and_changes_nothing(
        client, world, sign_in, action, column):
    from models import Partner, Quartier

    call = PAGE_OUTSIDE[action][COLUMNS[column]]
    assert not isinstance(call, str)
    method, url_of, body = call
    actor = column.split(" ")[0]
    if actor == "editor_own":
        sign_in(client, "editor_own.page@example.fr", "editor",
                db.session.scalars(db.select(Partner).where(Partner.slug == "mission-locale-sud-isere")).one())
    else:
        sign_in(client, "coordinator_here.page@example.fr", "coordinator", None,
                list(db.session.scalars(db.select(Quartier).where(Quartier.code == "QP038014"))))
    url = url_of(world)
    token = csrf_token_in(client.get("/coordination/connexion").get_data(as_text=True))
    audit_before = db.session.query(AuditEntry).count()
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={**(body(world) if body else {}), "csrf_token": token})
    db.session.expire_all()
    assert response.status_code == 403, (response.status_code, response.get_data(as_text=True)[-2000:])
    assert db.session.query(AuditEntry).count() == audit_before, "a refused action changes nothing"
