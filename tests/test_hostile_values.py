"""Values a calendar should never hold, refused on the one write path with a French message and
nothing written, whichever door they come through (the API, the write service the pages and the
import call, an imported file); and the values that used to answer 500 (a lone surrogate, JSON
nested 100,000 deep, 100,000 people ids, a slug renamed onto another one)."""
import io
import json
import re
from datetime import time

import pytest
import schemathesis
import sqlalchemy as sa

from helpers.dates import quiet_monday
from models import AuditEntry, Event, Place, Quartier, db


@pytest.fixture
def ready(create_partner, create_quartier, create_place, token_for):
    quartier = create_quartier()
    create_partner("mission-locale-sud-isere")
    create_place("bij-echirolles", quartier=quartier.code)
    return token_for()


def event_body(**changes):
    body = {"kind": "permanence", "title": "Permanence au BIJ", "place": "bij-echirolles",
            "organisers": ["mission-locale-sud-isere"], "start_date": quiet_monday().isoformat(),
            "start_time": "14:00", "end_time": "17:00", "recurrence": {"frequency": "weekly", "weekdays": ["MO"]}}
    body.update(changes)
    return body


def refused(response, code, field=None, words=None):
    body = response.get_json()
    assert response.status_code == code, body
    assert set(body) == {"code", "status", "message", "errors"}
    if field:
        assert field in str(body["errors"]), body
    if words:
        assert words.lower() in str(body).lower(), body
    return body


def nothing_written():
    return db.session.scalar(sa.select(sa.func.count(Event.id))) == 0


HOSTILE_TEXTS = {
    "NUL in a title": ({"title": "Perma\x00nence"}, "title", "U+0000"),
    "bell in a title": ({"title": "Perma\x07nence"}, "title", "U+0007"),
    "escape sequence in a description": ({"description": "\x1b[31mrouge"}, "description", "U+001B"),
    "line feed in a title": ({"title": "Permanence\nBcc: tous"}, "title", "une ligne"),
    "carriage return in a title": ({"title": "Permanence\rX"}, "title", "une ligne"),
    "line separator in a room": ({"room": "Salle\u2028B"}, "room", "une ligne"),
    "right-to-left override in a title": ({"title": "Permanence \u202egpj.exe"}, "title", "U+202E"),
    "isolate in an employer": ({"employers": ["Boulangerie \u2066Martin"]}, "employers", "U+2066"),
    "bidi override in a tag": ({"audience": {"tags": ["jeunes\u202d"]}}, "tags", "U+202D"),
    "lone surrogate in a title": ({"title": "Permanence \ud800"}, "title", "demi-paire"),
    "lone surrogate in a reference": ({"place": "bij-\udfff"}, "place", "demi-paire"),
    "year 1": ({"start_date": "0001-01-01"}, "start_date", "Les dates vont de 1970 à 2199."),
    "year 9999": ({"start_date": "9999-12-31"}, "start_date", "Les dates vont de 1970 à 2199."),
    "a series until year 9999": ({"recurrence": {"frequency": "weekly", "until": "9999-12-31"}}, "until",
                                 "Les dates vont de 1970 à 2199."),
    "190,000 employers": ({"employers": ["E"] * 190_000}, "employers", "au plus 100"),
    "too many tags": ({"audience": {"tags": [f"t{n}" for n in range(101)]}}, "tags", "au plus 100"),
    "100,000 people": ({"people": list(range(1, 100_001))}, "people", "au plus 100"),
    "people ids beyond 32 bits": ({"people": [2**40, 10**30]}, "people", "Personne inconnue"),
}


@pytest.mark.parametrize("case", HOSTILE_TEXTS)
def test_a_hostile_value_is_refused_by_the_api_in_french_and_nothing_is_written(client, ready, case):
    changes, field, words = HOSTILE_TEXTS[case]
    audit_before = db.session.query(AuditEntry).count()
    # Sent as JSON text with \u escapes, as any client may: a lone surrogate is valid JSON text.
    response = client.post("/api/v1/events", headers=ready, content_type="application/json",
                           data=json.dumps(event_body(**changes), ensure_ascii=True))
    refused(response, 422, field, words)
    assert nothing_written()
    assert db.session.query(AuditEntry).count() == audit_before


def test_a_description_keeps_its_lines_and_a_right_to_left_mark_is_no_override(client, ready):
    body = event_body(description="Ligne 1\r\nLigne 2\n\tretrait", title="Permanence \u200fعربي\u200e")
    response = client.post("/api/v1/events", headers=ready, json=body)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("values, field", [
    ({"title": "Permanence\nsuite"}, "title"),
    ({"title": "\u202eénèmrep"}, "title"),
    ({"employers": ["x"] * 101}, "employers"),
    ({"start_date": quiet_monday().replace(year=2200)}, "start_date"),
])
def test_the_write_service_that_pages_and_imports_call_refuses_the_same(ready, values, field):
    from helpers.actors import SYSTEM
    from models.errors import InvalidInput
    from scheduler import writes

    start = quiet_monday()
    base = {"kind": "permanence", "title": "Permanence", "place": "bij-echirolles",
            "organisers": ["mission-locale-sud-isere"], "start_date": start,
            "start_time": time(14), "duration_minutes": 60}
    with pytest.raises(InvalidInput) as error:
        writes.create_event(SYSTEM, {**base, **values})
    assert field in error.value.errors
    db.session.rollback()
    assert nothing_written()


def test_an_occurrence_cannot_be_moved_out_of_the_calendar_nor_named_there(client, ready):
    created = client.post("/api/v1/events", headers=ready, json=event_body()).get_json()
    url = f"/api/v1/events/{created['id']}/occurrences"
    first = f"{quiet_monday().isoformat()}T14:00:00+01:00"
    refused(client.post(f"{url}/move", headers=ready,
                        json={"recurrence_start": first, "starts_at": "9999-12-31T10:00:00+01:00"}),
            422, "starts_at", "Les dates vont de 1970 à 2199.")
    refused(client.post(f"{url}/cancel", headers=ready, json={"recurrence_start": "9999-12-31T23:00:00-05:00"}),
            422, "recurrence_start", "Les dates vont de 1970 à 2199.")
    refused(client.post(f"{url}/cancel", headers=ready, json={"recurrence_start": first, "reason": "a\x00b"}),
            422, "reason")


def test_an_imported_title_with_a_bidi_override_is_refused_and_nothing_is_imported(client, ready):
    day = quiet_monday()
    ics = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//FR", "BEGIN:VEVENT", "UID:a@test",
                       "DTSTAMP:20261110T100000Z", "SUMMARY:Permanence \u202egpj.exe",
                       f"DTSTART;TZID=Europe/Paris:{day:%Y%m%d}T140000",
                       f"DTEND;TZID=Europe/Paris:{day:%Y%m%d}T160000", "END:VEVENT", "END:VCALENDAR", ""])
    response = client.post("/api/v1/imports", headers=ready, content_type="multipart/form-data",
                           data={"partner": "mission-locale-sud-isere", "place": "bij-echirolles",
                                 "file": (io.BytesIO(ics.encode()), "calendrier.ics")})
    refused(response, 422, None, "U+202E")
    assert nothing_written()


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "coordinator"])
def test_json_nested_100000_deep_is_refused_not_a_server_error(client, ready, with_token):
    deep = "[" * 100_000 + "]" * 100_000
    for url in ("/api/v1/events", "/api/v1/quartiers", "/api/v1/partners"):
        response = client.post(url, data=deep, content_type="application/json",
                               headers=ready if with_token else {})
        refused(response, 400, None, "trop imbriqué")
    deep_object = '{"a":' * 100_000 + "1" + "}" * 100_000
    refused(client.patch("/api/v1/places/bij-echirolles", data=deep_object, content_type="application/json",
                         headers=ready), 400, None, "trop imbriqué")
    # Brackets inside strings are text, not nesting.
    body = event_body(description="[" * 5000 + "{" * 5000)
    assert client.post("/api/v1/events", headers=ready, json=body).status_code == 201


def test_a_place_slug_or_a_quartier_code_renamed_onto_another_is_refused_in_french(client, ready, create_place,
                                                                                     create_quartier):
    create_place("pij-echirolles", quartier="QN03801M")
    create_quartier(code="QN03802M", name="Essarts")
    refused(client.patch("/api/v1/places/pij-echirolles", headers=ready, json={"slug": "bij-echirolles"}),
            422, "slug", "Un lieu porte déjà l'identifiant")
    refused(client.patch("/api/v1/quartiers/QN03802M", headers=ready, json={"code": "QN03801M"}),
            422, "code", "existe déjà")
    assert db.session.scalar(sa.select(sa.func.count()).where(Place.slug == "pij-echirolles")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(Quartier.code == "QN03802M")) == 1
    # Renaming onto itself is no clash.
    assert client.patch("/api/v1/places/pij-echirolles", headers=ready,
                        json={"slug": "pij-echirolles"}).status_code == 200


def test_a_partner_person_or_place_name_on_two_lines_is_refused(client, ready):
    refused(client.patch("/api/v1/partners/mission-locale-sud-isere", headers=ready,
                         json={"name": "Mission locale\r\nSud"}), 422, "name", "une ligne")
    refused(client.post("/api/v1/people", headers=ready,
                        json={"partner": "mission-locale-sud-isere", "name": "Camille \u202eM"}), 422, "name")
    refused(client.patch("/api/v1/places/bij-echirolles", headers=ready,
                         json={"rooms": ["Salle\nA"]}), 422, "rooms", "une ligne")


def test_reminder_settings_without_a_webhook_match_their_document(client, ready, app):
    """webhook_secret is null until a webhook is set: the document must say it may be."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema["/api/v1/partners/{slug}/reminder-settings"]["GET"]
    case = operation.Case(path_parameters={"slug": "mission-locale-sud-isere"}, headers=ready)
    response = case.call_and_validate()
    assert response.status_code == 200
    assert response.json()["webhook_secret"] is None


def _write_operations(app):
    """Every write operation of the document, its path parameters filled with rows that exist
    (an id is 1: the refusal must come before the row is even looked up)."""
    names = {"slug": "bij-echirolles", "code": "QN03801M"}
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete"):
                yield method, re.sub(r"\{(\w+)\}", lambda m: names.get(m.group(1), "1"), path)


def test_every_anonymous_write_is_refused_401_before_its_body_is_read(client, ready, app):
    """An invalid body from nobody gets 401, never the 422 that would list what a valid one needs."""
    operations = list(_write_operations(app))
    assert len(operations) >= 20
    for method, url in operations:
        for kwargs in ({"json": {"inconnu": "\x00", "title": 3}}, {"data": "pas du json",
                                                                    "content_type": "application/json"},
                       {"data": {"file": (io.BytesIO(b"x"), "x.ics")}, "content_type": "multipart/form-data"}):
            response = getattr(client, method)(url, **kwargs)
            body = response.get_json()
            assert response.status_code == 401, (method, url, kwargs, body)
            assert body["errors"] == {} and "Authentification requise" in body["message"]
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert nothing_written()
