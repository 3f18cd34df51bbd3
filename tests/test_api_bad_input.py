"""Every malformed request gets a 4xx, the JSON error shape, a French message, and changes nothing."""
import pytest

from models import AuditEntry, Event, db


@pytest.fixture
def ready(create_partner, create_quartier, create_place, token_for):
    quartier = create_quartier()
    create_partner("mission-locale-sud-isere")
    create_place("bij-echirolles", quartier=quartier.code)
    return token_for()


def event_body(**changes):
    body = {"kind": "permanence", "title": "Permanence au BIJ", "place": "bij-echirolles",
            "organisers": ["mission-locale-sud-isere"], "start_date": "2027-03-01", "start_time": "14:00",
            "end_time": "17:00", "recurrence": {"frequency": "weekly", "weekdays": ["MO"]}}
    body.update(changes)
    return body


def assert_refused(response, code, field=None):
    body = response.get_json()
    assert response.status_code == code, body
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == code and body["message"]
    if field:
        assert field in str(body["errors"]), body
    return body


BAD_EVENTS = {
    "end before start": (dict(end_time="13:00"), "end_time"),
    "series ending before it starts": (dict(recurrence={"frequency": "weekly", "until": "2027-02-01"}), "until"),
    "unknown time zone": (dict(timezone="Europe/Atlantis"), "timezone"),
    "rule more frequent than daily": (dict(recurrence={"frequency": "hourly"}), "frequency"),
    "unknown field": (dict(colour="red"), "colour"),
    "unknown partner": (dict(organisers=["mission-locale-inconnue"]), "organisers"),
    "unknown weekday": (dict(recurrence={"frequency": "weekly", "weekdays": ["XX"]}), "weekdays"),
    "monthly without a week": (dict(recurrence={"frequency": "monthly", "weekdays": ["TH"]}), "month_week"),
    "age band upside down": (dict(audience={"age_min": 25, "age_max": 16}), "age_max"),
    "no organiser": (dict(organisers=[]), "organisers"),
    "no end and no duration": (dict(end_time=None), None),
    "a time without its date": (dict(start_date="lundi"), "start_date"),
}


@pytest.mark.parametrize("case", BAD_EVENTS)
def test_a_bad_event_is_refused_with_a_french_message_and_nothing_is_written(client, ready, case):
    changes, field = BAD_EVENTS[case]
    body = event_body(**changes)
    body = {k: v for k, v in body.items() if v is not None}
    audit_before = db.session.query(AuditEntry).count()
    refused = assert_refused(client.post("/api/v1/events", headers=ready, json=body), 422, field)
    english = ("Missing data", "Unknown field", "Not a valid", "Must be one of", "Unprocessable", "Invalid")
    said = refused["message"] + str(refused["errors"])
    assert not any(phrase in said for phrase in english), refused  # people read French
    assert db.session.query(Event).count() == 0
    assert db.session.query(AuditEntry).count() == audit_before


def test_a_body_over_one_megabyte_is_refused_with_413(client, ready):
    body = event_body(description="x" * (1024 * 1024))
    assert_refused(client.post("/api/v1/events", headers=ready, json=body), 413)
    assert db.session.query(Event).count() == 0


def test_a_window_over_400_days_is_refused(client, ready):
    assert_refused(client.get("/api/v1/occurrences?start=2027-01-01&end=2028-03-01"), 422, "end")


def test_an_endless_series_is_only_ever_expanded_over_a_bounded_window(client, ready):
    assert client.post("/api/v1/events", headers=ready, json=event_body()).status_code == 201
    response = client.get("/api/v1/occurrences?start=2027-01-01&end=2028-02-04")  # 399 days
    assert response.status_code == 200 and len(response.get_json()) > 45
    assert_refused(client.get("/api/v1/occurrences?start=2027-01-01&end=2030-01-01"), 422)


@pytest.mark.parametrize("query", ["start=2027-03-10&end=2027-03-01", "start=demain", "start=2027-03-01T10:00:00",
                                   "age=-3", "kind=fete"])
def test_a_bad_occurrence_query_is_refused(client, ready, query):
    assert_refused(client.get(f"/api/v1/occurrences?{query}"), 422)


@pytest.mark.parametrize("query", ["start=9999-06-01&end=9999-12-31", "start=9999-12-31",
                                   "start=0001-01-01&end=0001-06-01",
                                   "start=0001-01-02T00:00:00Z&end=0001-06-01T00:00:00Z", "end=0001-01-01",
                                   "start=2199-12-31", "start=1969-12-01&end=1970-01-05"])
def test_a_window_at_the_ends_of_the_calendar_is_refused_in_french(client, ready, query):
    """Years 1 and 9999 overflowed Python's dates (a 500); Maillage's calendar spans 1970 to 2199."""
    body = assert_refused(client.get(f"/api/v1/occurrences?{query}"), 422)
    assert "Les dates vont de 1970 à 2199." in str(body)
    assert client.get("/api/v1/occurrences?start=2199-12-01&end=2199-12-31").status_code == 200


def test_a_bad_update_leaves_the_event_as_it_was(client, ready):
    created = client.post("/api/v1/events", headers=ready, json=event_body()).get_json()
    response = client.patch(f"/api/v1/events/{created['id']}", headers=ready,
                            json={"title": "Nouveau titre", "timezone": "Mars/Olympus"})
    assert_refused(response, 422, "timezone")
    db.session.expire_all()
    event = db.session.get(Event, created["id"])
    assert event.title == "Permanence au BIJ" and event.timezone == "Europe/Paris" and event.sequence == 0


def test_an_occurrence_the_rule_does_not_give_cannot_be_cancelled(client, ready):
    created = client.post("/api/v1/events", headers=ready, json=event_body()).get_json()
    response = client.post(f"/api/v1/events/{created['id']}/occurrences/cancel", headers=ready,
                           json={"recurrence_start": "2027-03-02T14:00:00+01:00"})  # a Tuesday
    assert_refused(response, 404)
    easter_monday = "2027-03-29T14:00:00+02:00"  # skipped by the holiday rule: no occurrence there
    response = client.post(f"/api/v1/events/{created['id']}/occurrences/cancel", headers=ready,
                           json={"recurrence_start": easter_monday})
    assert_refused(response, 404)


def test_unknown_things_are_404_in_the_json_shape(client, ready):
    for url in ("/api/v1/partners/inconnu", "/api/v1/places/inconnu", "/api/v1/quartiers/QP000000",
                "/api/v1/events/999999", "/api/v1/nulle-part"):
        assert_refused(client.get(url), 404)


def test_a_duplicate_slug_is_refused(client, ready):
    response = client.post("/api/v1/partners", headers=ready,
                           json={"slug": "mission-locale-sud-isere", "name": "Doublon", "type": "mission_locale"})
    assert_refused(response, 422, "slug")


def test_a_place_with_events_cannot_be_deleted(client, ready):
    client.post("/api/v1/events", headers=ready, json=event_body())
    assert_refused(client.delete("/api/v1/places/bij-echirolles", headers=ready), 409)
