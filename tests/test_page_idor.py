"""Every id-bearing coordination route, asked by a user of territory A for B's ids (issue 15,
item 3): 404 or 403, and nothing changes (no audit entry, the row as it was). The actors: the
Rennes coordinator (Maurepas) and the Rennes FJT's editor; the ids: Nîmes's (Pissevin)."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from conftest import SYSTEM, csrf_token_in, paris_at, quiet_monday
from models import AuditEntry, Event, OccurrenceException, Partner, Quartier, ScheduleConflict, db

MONDAY = paris_at(quiet_monday() + timedelta(weeks=1), 14)


@pytest.fixture
def nimes(app, create_quartier, create_partner, create_place, create_event):
    """Maurepas and Pissevin. In Pissevin, France Travail Nîmes's Monday permanence and the
    centre social's workshop at the same time and place (a conflict and its case), a workshop of
    last week, and an import job of its editor waiting to be confirmed."""
    from models.operations.feeds import create_feed_token, create_sync_source
    from models.operations.users import get_or_create_user, issue_api_token
    from scheduler import writes
    from scheduler.conflicts.nightly import run_full_detection
    from scheduler.ical.jobs import run_queued_jobs, submit
    from test_api_authorization import ICS

    create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    create_quartier("QP030003", "Pissevin", ("Nîmes",), "30")
    fjt = create_partner("fjt-rennes", type="fjt")
    ft = create_partner("france-travail-nimes", type="france_travail")
    cs = create_partner("centre-social-pissevin", type="centre_social")
    create_place("fjt-rennes", quartier="QP035005", postcode="35700", host_partner=fjt.slug)
    agence = create_place("agence-pissevin", quartier="QP030003", postcode="30900", host_partner=ft.slug)
    weekly = create_event(agence, [ft], title="Permanence Pissevin", frequency="weekly", weekdays=[0])
    create_event(agence, [cs], title="Atelier Pissevin", frequency="weekly", weekdays=[0])
    past = writes.create_event(SYSTEM, {"kind": "atelier", "title": "Atelier passé", "place": agence.slug,
                                        "organisers": [ft.slug], "start_date": date.today() - timedelta(days=7),
                                        "start_time": time(10), "duration_minutes": 90}).event
    run_full_detection()
    editor = get_or_create_user("conseiller@ft-nimes.example.fr", "editor", ft)
    db.session.commit()
    _, api_token = issue_api_token(editor)
    link, _ = create_feed_token(SYSTEM, user=editor)
    source = create_sync_source(SYSTEM, ft, agence, "https://calendriers.example.fr/ft-nimes.ics")
    db.session.commit()
    job = submit(editor, ft, agence, "atelier", "public", "atelier.ics", ICS)
    db.session.commit()
    run_queued_jobs()
    conflict = db.session.scalars(db.select(ScheduleConflict)).first()
    db.session.commit()
    return {"event": weekly.id, "past": past.id, "past_rid": past.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "conflict": conflict.id, "case": conflict.case_id, "job": job.id, "fjt": fjt.id,
            "editor": editor.id, "api_token": api_token.id, "link": link.id, "source": source.id,
            "monday": MONDAY.strftime("%Y-%m-%d")}


# (method, route, form): every coordination route that takes an id in its path.
ROUTES = [
    ("GET", "/coordination/chevauchements/{conflict}", None),
    ("POST", "/coordination/chevauchements/{conflict}/accepter", {"reason": "Deux salles."}),
    ("POST", "/coordination/chevauchements/{conflict}/annuler", {"side": "a", "reason": "Formation"}),
    ("POST", "/coordination/chevauchements/{conflict}/deplacer", {"side": "a", "day": "{monday}", "start": "09:00",
                                                                  "end": "10:00"}),
    ("GET", "/coordination/cas/{case}", None),
    ("POST", "/coordination/cas/{case}/accepter", {"reason": "Deux salles."}),
    ("POST", "/coordination/cas/{case}/resoudre", {"action": "cancel_series", "event_id": "{event}"}),
    ("POST", "/coordination/evenements/{event}", {"start": "09:00", "end": "10:00"}),
    ("GET", "/coordination/evenements/{event}/modifier", None),
    ("POST", "/coordination/evenements/{event}/modifier", {"title": "Pris", "scope": "serie"}),
    ("GET", "/coordination/evenements/{event}/annuler", None),
    ("POST", "/coordination/evenements/{event}/annuler", {"action": "cancel", "occurrence": "{monday}",
                                                          "reason": "Pris"}),
    ("GET", "/coordination/personnes-recues/{past}/{past_rid}", None),
    ("POST", "/coordination/personnes-recues/{past}/{past_rid}", {"total": "12"}),
    ("GET", "/coordination/import/{job}", None),
    ("GET", "/coordination/import/{job}/etat", None),
    ("POST", "/coordination/import/{job}/confirmer", {}),
    # Ids in a form rather than the path.
    ("POST", "/coordination/comptes/", {"action": "deactivate", "user_id": "{editor}"}),
    ("POST", "/coordination/comptes/", {"action": "revoke", "token_id": "{api_token}"}),
    ("POST", "/coordination/liens-prives", {"action": "renew", "token_id": "{link}"}),
    ("POST", "/coordination/liens-prives", {"action": "revoke", "token_id": "{link}"}),
    ("POST", "/coordination/synchronisation", {"action": "run", "source_id": "{source}"}),
    ("POST", "/coordination/synchronisation", {"action": "delete", "source_id": "{source}"}),
]


def _sign_in(client, sign_in, who: str) -> str:
    if who == "coordinator":
        maurepas = db.session.scalars(db.select(Quartier).where(Quartier.code == "QP035005")).all()
        sign_in(client, "coordo-rennes@example.fr", quartiers=maurepas)
    else:
        fjt = db.session.scalars(db.select(Partner).where(Partner.slug == "fjt-rennes")).one()
        sign_in(client, "conseiller@fjt-rennes.example.fr", role="editor", partner=fjt)
    return csrf_token_in(client.get("/coordination/liens-prives").get_data(as_text=True))


def _state():
    """What a refused request must leave as it was."""
    from models import ApiToken, FeedToken, SyncSource, User

    event = db.session.scalars(db.select(Event).where(Event.title == "Permanence Pissevin")).one()
    editor = db.session.scalars(db.select(User).where(User.email == "conseiller@ft-nimes.example.fr")).one()
    return (editor.is_active_account, [t.revoked_at for t in db.session.scalars(db.select(ApiToken))],
            [t.revoked_at for t in db.session.scalars(db.select(FeedToken))],
            [(s.id, s.last_status) for s in db.session.scalars(db.select(SyncSource))],
            db.session.query(AuditEntry).count(), db.session.query(OccurrenceException).count(), event.title,
            event.start_time, event.sequence, [(c.id, c.status) for c in db.session.scalars(
                db.select(ScheduleConflict).order_by(ScheduleConflict.id))])


@pytest.mark.parametrize("who", ["coordinator", "editor"])
@pytest.mark.parametrize(("method", "route", "form"), ROUTES,
                         ids=[f"{m} {r} {' '.join((f or {}).values())}" for m, r, f in ROUTES])
def test_another_territory_s_ids_are_refused_and_nothing_changes(client, sign_in, nimes, who, method, route,
                                                                  form):
    token = _sign_in(client, sign_in, who)
    url = route.format(**nimes)
    before = _state()
    if method == "GET":
        response = client.get(url)
    else:
        data = {k: v.format(**nimes) for k, v in form.items()}
        response = client.post(url, data={**data, "csrf_token": token})
    assert response.status_code in (403, 404), (response.status_code, response.headers.get("Location"))
    db.session.expire_all()
    assert _state() == before
