from datetime import date

import pytest


def test_the_openapi_document_lists_the_occurrences_endpoint(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/occurrences" in doc["paths"]


def test_a_coordinator_creates_a_weekly_series_and_reads_its_occurrences(client, create_partner, create_place,
                                                                         token_for):
    ml = create_partner("mission-locale-sud")
    create_place("bij-echirolles")
    headers = token_for()
    response = client.post("/api/v1/events", headers=headers, json={
        "kind": "permanence", "title": "Permanence au BIJ", "place": "bij-echirolles",
        "organisers": [ml.slug], "start_date": "2027-03-01", "start_time": "14:00", "end_time": "17:00",
        "recurrence": {"frequency": "weekly", "weekdays": ["MO"], "count": 6},
    })
    assert response.status_code == 201, response.get_json()
    occurrences = client.get("/api/v1/occurrences?start=2027-03-01&end=2027-05-01").get_json()
    starts = [o["starts_at"] for o in occurrences]
    # Easter Monday 2027-03-29 is skipped; the series still counts it (RRULE + EXDATE semantics).
    assert starts == ["2027-03-01T14:00:00+01:00", "2027-03-08T14:00:00+01:00", "2027-03-15T14:00:00+01:00",
                      "2027-03-22T14:00:00+01:00", "2027-04-05T14:00:00+02:00"]
    assert date.fromisoformat(starts[0][:10]).weekday() == 0


def test_overlap_and_notice_settings_come_from_the_environment_and_bad_ones_stop_the_start(monkeypatch):
    from settings import from_environ as _settings

    monkeypatch.setenv("CONFLICT_NON_COMPETING_KINDS", "coordination, atelier")
    monkeypatch.setenv("CONFLICT_HORIZON_DAYS", "180")
    monkeypatch.setenv("NOTICE_HORIZON_DAYS", "30")
    settings = _settings("/tmp")
    assert settings["CONFLICT_NON_COMPETING_KINDS"] == ("coordination", "atelier")
    assert (settings["CONFLICT_HORIZON_DAYS"], settings["NOTICE_HORIZON_DAYS"]) == (180, 30)
    monkeypatch.setenv("CONFLICT_NON_COMPETING_KINDS", "reunion")
    with pytest.raises(SystemExit, match="reunion"):
        _settings("/tmp")
    monkeypatch.setenv("CONFLICT_NON_COMPETING_KINDS", "")
    monkeypatch.setenv("NOTICE_HORIZON_DAYS", "0")
    with pytest.raises(SystemExit, match="NOTICE_HORIZON_DAYS"):
        _settings("/tmp")
