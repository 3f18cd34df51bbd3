"""Changing a series from a date on (the split), ending it from a date, and the dry run that
says what a write would do and writes nothing: through scheduler.writes and the API."""
from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers.database import row_counts
from helpers.dates import paris_at, quiet_monday
from helpers.feed_readers import with_icalendar, with_icaljs
from models import AuditEntry, Event, db

PARIS = ZoneInfo("Europe/Paris")
WEEKS = 6


@pytest.fixture
def permanence(create_quartier, create_partner, create_place, create_event, token_for):
    """The mission locale's Monday permanence at the BIJ, six Mondays, 14 h – 17 h; its second
    Monday cancelled (training) and its fifth moved to 15 h."""
    from helpers.actors import SYSTEM
    from scheduler import writes

    create_quartier("QN03801M")
    ml = create_partner("mission-locale")
    create_partner("centre-social", type="centre_social")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M")
    event = create_event(bij, [ml], frequency="weekly", weekdays=[0], count=WEEKS, skip_public_holidays=False)
    writes.cancel_occurrence(SYSTEM, event, paris_at(quiet_monday() + timedelta(weeks=1), 14), "Formation")
    writes.move_occurrence(SYSTEM, event, paris_at(quiet_monday() + timedelta(weeks=4), 14),
                           starts_at=paris_at(quiet_monday() + timedelta(weeks=4), 15))
    db.session.commit()
    return {"event": event, "id": event.id, "uid": event.uid,
            "editor": token_for("conseillere@ml.example.fr", "editor", ml),
            "other": token_for("animatrice@cs.example.fr", "editor",
                               db.session.scalars(sa.select(type(ml)).where(type(ml).slug == "centre-social")).one())}


def monday(week: int) -> date:
    return quiet_monday() + timedelta(weeks=week)


def feed(client) -> bytes:
    response = client.get("/feeds/partners/mission-locale.ics")
    assert response.status_code == 200
    return response.data


def test_this_date_and_the_following_become_a_second_series_and_feeds_read_both_parts(client, permanence):
    response = client.post(f"/api/v1/events/{permanence['id']}/split", headers=permanence["editor"], json={
        "from_date": monday(3).isoformat(), "start_time": "09:00", "end_time": "12:00"})
    assert response.status_code == 201, response.get_json()
    second = response.get_json()
    assert second["uid"] != permanence["uid"] and second["start_date"] == monday(3).isoformat()
    assert second["start_time"] == "09:00" and second["recurrence"]["count"] == WEEKS - 3

    first = client.get(f"/api/v1/events/{permanence['id']}", headers=permanence["editor"]).get_json()
    assert first["uid"] == permanence["uid"]
    assert first["recurrence"]["until"] == (monday(3) - timedelta(days=1)).isoformat()

    # Each cancelled or moved date stayed on its side: the cancellation with the first, the move
    # to 15 h with the second, still at 15 h (what was moved stays moved when the series' time changes).
    db.session.expire_all()
    events = {e.id: e for e in db.session.scalars(sa.select(Event))}
    assert [x.is_cancelled for x in events[permanence["id"]].exceptions] == [True]
    assert [x.starts_at.astimezone(PARIS).time() for x in events[second["id"]].exceptions] == [time(15)]

    expected = {(int(paris_at(monday(w), 14).timestamp()), int(paris_at(monday(w), 17).timestamp()), w == 1)
                for w in range(3)}
    expected |= {(int(paris_at(monday(w), 9).timestamp()), int(paris_at(monday(w), 12).timestamp()), False)
                 for w in (3, 5)}
    expected.add((int(paris_at(monday(4), 15).timestamp()), int(paris_at(monday(4), 18).timestamp()), False))
    body = feed(client)
    start, end = paris_at(monday(0), 0), paris_at(monday(WEEKS + 2), 0)
    assert {o for o in with_icalendar(body, start, end)} == expected
    assert {o for o in with_icaljs(body, start, end)} == expected

    history = client.get(f"/api/v1/events/{second['id']}/history", headers=permanence["editor"]).get_json()
    assert history[0]["action"] == "split" and history[0]["changes"]["split_from"] == [None, permanence["id"]]
    history = client.get(f"/api/v1/events/{permanence['id']}/history", headers=permanence["editor"]).get_json()
    assert "split" in [h["action"] for h in history] and history[0]["action"] == "create"


def test_a_split_at_a_date_between_two_occurrences_starts_at_the_next_one(client, permanence):
    response = client.post(f"/api/v1/events/{permanence['id']}/split", headers=permanence["editor"], json={
        "from_date": (monday(2) + timedelta(days=2)).isoformat(), "room": None})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["start_date"] == monday(3).isoformat()


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"from_date": "2020-01-06"}, "from_date", "première date de la série"),
    ({"from_date": "2099-01-05"}, "from_date", "plus de date"),
    ({}, "from_date", "Champ obligatoire."),
    ({"from_date": "{monday3}", "recurrence": {"frequency": "weekly", "interval": 0}}, "interval", "entre 1 et 52"),
])
def test_a_bad_split_says_why_in_french_and_writes_nothing(client, permanence, body, field, message):
    body = {k: (v.format(monday3=monday(3).isoformat()) if isinstance(v, str) else v) for k, v in body.items()}
    before = row_counts()
    response = client.post(f"/api/v1/events/{permanence['id']}/split", headers=permanence["editor"], json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["json"]
    found = errors.get(field) or errors.get("recurrence", {}).get(field)
    assert found and message in found[0]
    assert row_counts() == before


def test_an_editor_of_another_partner_may_not_split_or_end_the_series(client, permanence):
    before = row_counts()
    for path, body in (("split", {"from_date": monday(3).isoformat(), "title": "À moi"}),
                       ("end", {"from_date": monday(3).isoformat()})):
        response = client.post(f"/api/v1/events/{permanence['id']}/{path}", headers=permanence["other"], json=body)
        assert response.status_code == 403
    assert row_counts() == before


def test_ending_the_series_from_a_date_takes_its_later_dates_and_their_moves_away(client, permanence):
    response = client.post(f"/api/v1/events/{permanence['id']}/end", headers=permanence["editor"],
                           json={"from_date": monday(4).isoformat()})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["recurrence"]["until"] == (monday(4) - timedelta(days=1)).isoformat()
    db.session.expire_all()
    event = db.session.get(Event, permanence["id"])
    assert [x.is_cancelled for x in event.exceptions] == [True]  # the move of the fifth Monday went with it
    start, end = paris_at(monday(0), 0), paris_at(monday(WEEKS + 2), 0)
    assert len(with_icaljs(feed(client), start, end)) == 4
    refused = client.post(f"/api/v1/events/{permanence['id']}/end", headers=permanence["editor"],
                          json={"from_date": monday(0).isoformat()})
    assert refused.status_code == 422 and "supprimez-la" in refused.get_json()["errors"]["json"]["from_date"][0]


def test_a_dry_run_says_what_a_new_series_would_give_and_writes_nothing(client, permanence):
    before = row_counts()
    audit = db.session.query(AuditEntry).count()
    # Christmas week: a Monday series over it names the public holiday or the school holidays.
    december = date(paris_at(quiet_monday(), 0).year, 12, 1)
    first = december + timedelta(days=(0 - december.weekday()) % 7)
    if first <= quiet_monday() + timedelta(weeks=WEEKS):
        first = date(first.year + 1, 12, 1)
        first += timedelta(days=(0 - first.weekday()) % 7)
    response = client.post("/api/v1/events?dry_run=1", headers=permanence["editor"], json={
        "kind": "permanence", "title": "Permanence du lundi", "place": "bij", "organisers": ["mission-locale"],
        "start_date": first.isoformat(), "start_time": "14:00", "end_time": "17:00",
        "recurrence": {"frequency": "weekly", "weekdays": ["MO"], "until": (first + timedelta(weeks=8)).isoformat()},
        "pause_school_holidays": True})
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert preview["phrase"].startswith("tous les lundis de 14 h à 17 h, du ")
    assert "hors vacances scolaires (zone A)" in preview["phrase"]
    assert preview["summary"].endswith(f"{preview['sessions']} séances")
    assert any("vacances de Noël" in s["label"] for s in preview["skipped"]), preview["skipped"]
    assert preview["occurrences"][0]["label"].endswith("14 h – 17 h")
    assert row_counts() == before and db.session.query(AuditEntry).count() == audit


def test_a_dry_run_lists_the_overlaps_the_write_would_open(client, permanence):
    before = row_counts()
    response = client.post("/api/v1/events?dry_run=1", headers=permanence["editor"], json={
        "kind": "atelier", "title": "Atelier CV", "place": "bij", "organisers": ["mission-locale"],
        "start_date": monday(2).isoformat(), "start_time": "15:00", "end_time": "16:00"})
    assert response.status_code == 200, response.get_json()
    overlaps = response.get_json()["overlaps"]
    assert [(o["kind"], o["other_event_id"]) for o in overlaps] == [("place", permanence["id"])]
    assert "Permanence mission locale" in overlaps[0]["description"]
    assert response.get_json()["sessions"] is None
    assert row_counts() == before

    split = client.post(f"/api/v1/events/{permanence['id']}/split?dry_run=1", headers=permanence["editor"],
                        json={"from_date": monday(3).isoformat(), "start_time": "10:00", "end_time": "11:00"})
    assert split.status_code == 200, split.get_json()
    assert split.get_json()["phrase"].startswith("tous les lundis de 10 h à 11 h")
    assert row_counts() == before


def test_the_dry_run_and_the_split_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert "dry_run" in [p["name"] for p in document["paths"]["/api/v1/events"]["post"]["parameters"]]
    assert "200" in document["paths"]["/api/v1/events"]["post"]["responses"]
    assert "post" in document["paths"]["/api/v1/events/{event_id}/split"]
    assert "post" in document["paths"]["/api/v1/events/{event_id}/end"]
