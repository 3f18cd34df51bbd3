"""The guards of a move: an occurrence is never moved into the past, nor onto a day that already
has an occurrence of its series; the API answers 422 in French, the pages say it, nothing is
written. A moved occurrence reads as moved on the public pages."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from conftest import paris_today, quiet_monday
from tests.conftest import csrf_token_in

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def weekly(app, create_quartier, create_partner, create_place, create_event):
    create_quartier("QN03801M")
    ml = create_partner("mission-locale")
    bij = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M")
    return create_event(bij, [ml], frequency="weekly", count=3, skip_public_holidays=False)


def _at(day, hour):
    return datetime.combine(day, time(hour), PARIS)


def _written(event_id):
    """What a refused move must not leave: an exception, or a line of the event's history."""
    from models import AuditEntry, OccurrenceException, db

    db.session.expire_all()
    exceptions = db.session.scalar(sa.select(sa.func.count()).select_from(OccurrenceException)
                                   .where(OccurrenceException.event_id == event_id))
    moves = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "move_occurrence"))
    return exceptions, moves


def _move(client, headers, event, day, hour, to_day, to_hour):
    return client.post(f"/api/v1/events/{event.id}/occurrences/move", headers=headers, json={
        "recurrence_start": _at(day, 14).isoformat(), "starts_at": _at(to_day, to_hour).isoformat(),
        "ends_at": _at(to_day, to_hour + 2).isoformat(), "reason": ""})


def test_the_api_refuses_a_move_into_the_past_in_french_and_writes_nothing(client, token_for, weekly):
    headers = token_for()
    yesterday = paris_today() - timedelta(days=1)
    response = _move(client, headers, weekly, quiet_monday(), 14, yesterday, 10)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert "dans le passé" in body["message"]
    assert "dans le passé" in body["errors"]["json"]["starts_at"][0]
    assert _written(weekly.id) == (0, 0)


def test_the_api_refuses_a_move_onto_a_day_of_the_same_series_and_takes_one_to_a_free_day(
        client, token_for, weekly):
    headers = token_for()
    monday = quiet_monday()
    response = _move(client, headers, weekly, monday, 14, monday + timedelta(weeks=1), 9)
    assert response.status_code == 422, response.get_json()
    assert "a déjà une occurrence le lundi" in response.get_json()["message"]
    assert _written(weekly.id) == (0, 0)
    # Its own day at other hours, and a day the series has free, are fine.
    assert _move(client, headers, weekly, monday, 14, monday, 9).status_code == 200
    assert _move(client, headers, weekly, monday + timedelta(weeks=1), 14,
                 monday + timedelta(weeks=1, days=1), 9).status_code == 200
    assert _written(weekly.id) == (2, 2)


def test_the_conflict_page_refuses_a_move_into_the_past_and_writes_nothing(
        client, sign_in, weekly, create_event, create_partner):
    from models import Place, ScheduleConflict, db
    from scheduler.conflicts.nightly import run_full_detection

    ft = create_partner("france-travail", type="france_travail")
    create_event(db.session.scalar(sa.select(Place)), [ft], title="Entretiens France Travail",
                 start_time="15:00", duration_minutes=60, frequency="weekly", count=3)
    run_full_detection()
    db.session.commit()
    conflict = db.session.scalar(sa.select(ScheduleConflict).order_by(ScheduleConflict.starts_at))
    sign_in(client)
    token = csrf_token_in(client.get(f"/coordination/chevauchements/{conflict.id}").get_data(as_text=True))
    side = "a" if conflict.a_event_id == weekly.id else "b"
    response = client.post(f"/coordination/chevauchements/{conflict.id}/deplacer", data={
        "csrf_token": token, "side": side, "day": (paris_today() - timedelta(days=3)).isoformat(),
        "start": "10:00", "end": "12:00", "reason": ""}, follow_redirects=True)
    assert "ne peut pas être déplacée dans le passé" in response.get_data(as_text=True)
    assert _written(weekly.id) == (0, 0)
    db.session.expire_all()
    assert db.session.get(ScheduleConflict, conflict.id).status == "open"


def test_a_moved_occurrence_reads_as_moved_on_the_public_pages(client, token_for, weekly):
    monday = quiet_monday()
    assert _move(client, token_for(), weekly, monday, 14, monday + timedelta(days=1), 9).status_code == 200
    week = f"?du={monday.isoformat()}"
    for url in (f"/evenements/{weekly.id}", "/lieux/bij" + week, "/quartiers/QN03801M" + week):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "Déplacé" in page.get_data(as_text=True), url
