"""Who may write what: the role × write endpoint matrix, and every write recorded."""
import pytest

from models import AuditEntry, Event, db

# Actors: nobody; an editor of the organising partner; an editor of another partner;
# the coordinator of the event's quartier; the coordinator of another quartier.
ACTORS = ["anonymous", "editor_own", "editor_other", "coordinator_here", "coordinator_elsewhere"]

# endpoint -> the actors allowed (the others get 401 when anonymous, 403 otherwise)
MATRIX = {
    "create partner": {"coordinator_here", "coordinator_elsewhere"},
    "update own partner": {"editor_own", "coordinator_here", "coordinator_elsewhere"},
    "delete partner": {"coordinator_here", "coordinator_elsewhere"},
    "create person": {"editor_own", "coordinator_here", "coordinator_elsewhere"},
    "create quartier": {"coordinator_here", "coordinator_elsewhere"},
    "update quartier": {"coordinator_here"},
    "create place": {"coordinator_here"},
    "update place": {"coordinator_here"},
    "create event": {"editor_own", "coordinator_here"},
    "update event": {"editor_own", "coordinator_here"},
    "delete event": {"editor_own", "coordinator_here"},
    "cancel occurrence": {"editor_own", "coordinator_here"},
    "move occurrence": {"editor_own", "coordinator_here"},
}


@pytest.fixture
def world(create_partner, create_quartier, create_place, create_event, token_for):
    here = create_quartier("QP038014", "Villeneuve")
    elsewhere = create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    own = create_partner("mission-locale-sud-isere")
    other = create_partner("centre-social-maurepas", type="centre_social")
    place = create_place("bij-echirolles", quartier=here.code)
    event = create_event(place, [own], frequency="weekly", weekdays=[0])
    headers = {
        "anonymous": {},
        "editor_own": token_for("ml@example.fr", "editor", own),
        "editor_other": token_for("cs@example.fr", "editor", other),
        "coordinator_here": token_for("coordo38@example.fr", "coordinator", quartiers=[here]),
        "coordinator_elsewhere": token_for("coordo35@example.fr", "coordinator", quartiers=[elsewhere]),
    }
    return {"headers": headers, "event_id": event.id, "own": own.slug, "quartier": here.code}


def _call(client, endpoint, world, headers):
    event = f"/api/v1/events/{world['event_id']}"
    monday = "2027-03-08T14:00:00+01:00"
    calls = {
        "create partner": ("post", "/api/v1/partners", {"slug": "pimms-nord", "name": "PIMMS Nord", "type": "pimms"}),
        "update own partner": ("patch", f"/api/v1/partners/{world['own']}", {"contact_phone": "04 76 00 00 00"}),
        "delete partner": ("delete", "/api/v1/partners/centre-social-maurepas", None),
        "create person": ("post", "/api/v1/people", {"partner": world["own"], "name": "Karima Benali"}),
        "create quartier": ("post", "/api/v1/quartiers", {"code": "QP093037", "name": "Lamaze"}),
        "update quartier": ("patch", f"/api/v1/quartiers/{world['quartier']}", {"name": "Villeneuve – Village 2"}),
        "create place": ("post", "/api/v1/places", {"slug": "pimms-echirolles", "name": "PIMMS",
                                                     "quartier": world["quartier"], "postcode": "38130"}),
        "update place": ("patch", "/api/v1/places/bij-echirolles", {"rooms": ["Accueil"]}),
        "create event": ("post", "/api/v1/events", {
            "kind": "atelier", "title": "Atelier CV", "place": "bij-echirolles", "organisers": [world["own"]],
            "start_date": "2027-03-02", "start_time": "10:00", "duration_minutes": 90}),
        "update event": ("patch", event, {"title": "Permanence du lundi"}),
        "delete event": ("delete", event, None),
        "cancel occurrence": ("post", f"{event}/occurrences/cancel", {"recurrence_start": monday}),
        "move occurrence": ("post", f"{event}/occurrences/move", {
            "recurrence_start": monday, "starts_at": "2027-03-09T14:00:00+01:00"}),
    }
    method, url, body = calls[endpoint]
    return getattr(client, method)(url, headers=headers, json=body)


@pytest.mark.parametrize("endpoint", MATRIX)
def test_each_write_endpoint_admits_exactly_the_roles_of_the_matrix(client, world, endpoint):
    for actor in ACTORS:
        audit_before = db.session.query(AuditEntry).count()
        response = _call(client, endpoint, world, world["headers"][actor])
        db.session.expire_all()
        if actor in MATRIX[endpoint]:
            assert response.status_code in (200, 201, 204), (actor, response.get_json())
            assert db.session.query(AuditEntry).count() > audit_before, "a write must be recorded"
            return  # the write happened: the next actors would meet a changed world
        expected = 401 if actor == "anonymous" else 403
        assert response.status_code == expected, (actor, response.get_json())
        body = response.get_json()
        assert set(body) == {"code", "status", "message", "errors"} and body["code"] == expected
        assert db.session.query(AuditEntry).count() == audit_before, "a refused write changes nothing"
    pytest.fail("no actor was allowed")


def test_every_allowed_actor_of_the_matrix_can_write(client, world, app):
    """The loop above stops at the first allowed actor; here each allowed actor writes once more."""
    for endpoint, allowed in MATRIX.items():
        if endpoint in ("delete partner", "delete event", "create partner", "create quartier", "create place",
                        "create person"):
            continue  # one-shot writes, covered above
        for actor in allowed:
            response = _call(client, endpoint, world, world["headers"][actor])
            assert response.status_code in (200, 201, 204), (endpoint, actor, response.get_json())


def test_an_editor_cannot_hand_an_event_over_to_another_partner(client, world, create_partner):
    create_partner("france-travail", type="france_travail")
    response = client.patch(f"/api/v1/events/{world['event_id']}", headers=world["headers"]["editor_own"],
                            json={"organisers": ["france-travail"]})
    assert response.status_code == 403
    assert [p.slug for p in db.session.get(Event, world["event_id"]).organisers] == [world["own"]]


def test_a_wrong_or_revoked_token_is_refused(client, world):
    from models.users import revoke_api_token

    response = client.get("/api/v1/people", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    token = world["headers"]["coordinator_here"]["Authorization"].split()[1]
    assert client.get("/api/v1/people", headers=world["headers"]["coordinator_here"]).status_code == 200
    revoke_api_token(token)
    db.session.commit()
    assert client.get("/api/v1/people", headers=world["headers"]["coordinator_here"]).status_code == 401


def test_partners_only_events_need_a_token_to_be_read(client, world, create_place, create_event):
    from models import Partner

    own = db.session.query(Partner).filter_by(slug=world["own"]).one()
    place = create_place("centre-social-village-2", quartier=world["quartier"])
    private = create_event(place, [own], title="Tour de table des partenaires", kind="coordination",
                           visibility="partners", start_date=__import__("datetime").date(2027, 3, 4))
    window = "/api/v1/occurrences?start=2027-03-01&end=2027-03-08"
    assert "Tour de table des partenaires" not in [o["title"] for o in client.get(window).get_json()]
    assert client.get(f"/api/v1/events/{private.id}").status_code == 404
    signed = client.get(window, headers=world["headers"]["editor_other"]).get_json()
    assert "Tour de table des partenaires" in [o["title"] for o in signed]


def test_the_history_of_a_series_says_who_changed_what(client, world):
    headers = world["headers"]["editor_own"]
    client.patch(f"/api/v1/events/{world['event_id']}", headers=headers, json={"title": "Permanence du lundi"})
    client.post(f"/api/v1/events/{world['event_id']}/occurrences/cancel", headers=headers,
                json={"recurrence_start": "2027-03-15T14:00:00+01:00", "reason": "Formation"})
    history = client.get(f"/api/v1/events/{world['event_id']}/history", headers=headers).get_json()
    assert [h["action"] for h in history] == ["create", "update", "cancel_occurrence"]
    assert history[1]["user"] == "ml@example.fr"
    assert history[1]["changes"]["title"] == ["Permanence mission locale", "Permanence du lundi"]
    assert history[2]["changes"]["reason"] == [None, "Formation"]
    assert history[2]["changes"]["is_cancelled"] == [None, True]
