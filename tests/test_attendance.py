"""People received: counts recorded after an occurrence, kept with it through moves, rule changes
and splits, refused on bad input with nothing written."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from conftest import SYSTEM, paris_today
from models import Attendance, AuditEntry, Event, db
from scheduler import writes
from scheduler.reports.attendance import record_attendance

PARIS = ZoneInfo("Europe/Paris")


def _past_monday(weeks_ago: int) -> date:
    today = paris_today()
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks_ago)


def _z(day: date, hour: int = 14) -> str:
    return datetime.combine(day, time(hour), PARIS).astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def series(create_partner, create_quartier, create_place, create_event):
    """A Monday permanence of the mission locale at the BIJ, 14 h–17 h, begun six weeks ago."""
    quartier = create_quartier("QP038014", "Villeneuve")
    ml = create_partner("mission-locale-sud-isere")
    create_partner("france-travail", type="france_travail")
    bij = create_place("bij-echirolles", quartier=quartier.code)
    create_place("pimms-villeneuve", quartier=quartier.code)
    event = create_event(bij, [ml], start_date=_past_monday(6), frequency="weekly", weekdays=[0],
                         skip_public_holidays=False)
    return {"event": event, "ml": ml, "quartier": quartier}


def _counts(event_id: int) -> dict[str, int]:
    return {a.recurrence_start.astimezone(UTC).isoformat().replace("+00:00", "Z"): a.total
            for a in db.session.scalars(sa.select(Attendance).where(Attendance.event_id == event_id))}


def test_an_organiser_records_people_received_by_the_api(client, series, token_for):
    event = series["event"]
    headers = token_for("ml@example.fr", "editor", series["ml"])
    url = f"/api/v1/events/{event.id}/occurrences/{_z(_past_monday(6))}/attendance"
    response = client.put(url, headers=headers, json={"total": 14, "by_age_band": {"16_25": 11, "26_29": 2}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 14 and response.get_json()["by_age_band"] == {"16_25": 11, "26_29": 2}
    assert client.put(url, headers=headers, json={"total": 15}).get_json()["by_age_band"] is None  # set again
    assert _counts(event.id) == {_z(_past_monday(6)): 15}
    history = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "record_attendance")
                                  .order_by(AuditEntry.id)).all()
    assert [h.changes["total"] for h in history] == [[None, 14], [14, 15]]


@pytest.mark.parametrize(("when", "body", "field"), [
    ("future", {"total": 3}, None),
    ("past", {"total": -1}, "total"),
    ("past", {"total": 5, "by_age_band": {"16_25": 6}}, "by_age_band"),
    ("past", {"total": 5, "by_age_band": {"seniors": 1}}, "by_age_band"),
    ("past", {"total": 5, "names": ["Awa"]}, "names"),  # counts only, never names
])
def test_bad_counts_are_refused_and_nothing_is_written(client, series, token_for, when, body, field):
    event = series["event"]
    day = _past_monday(2) if when == "past" else _past_monday(-2)
    response = client.put(f"/api/v1/events/{event.id}/occurrences/{_z(day)}/attendance",
                          headers=token_for("ml@example.fr", "editor", series["ml"]), json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert field is None or field in errors.get("json", {}), errors
    assert _counts(event.id) == {}


def test_no_count_for_a_cancelled_occurrence_or_one_the_rule_does_not_give(client, series, token_for):
    event = series["event"]
    writes.cancel_occurrence(SYSTEM, event, datetime.combine(_past_monday(3), time(14), PARIS), "Grève")
    db.session.commit()
    headers = token_for("ml@example.fr", "editor", series["ml"])
    cancelled = client.put(f"/api/v1/events/{event.id}/occurrences/{_z(_past_monday(3))}/attendance",
                           headers=headers, json={"total": 2})
    assert cancelled.status_code == 422 and "annulée" in cancelled.get_json()["message"]
    tuesday = client.put(f"/api/v1/events/{event.id}/occurrences/{_z(_past_monday(3) + timedelta(days=1))}"
                         "/attendance", headers=headers, json={"total": 2})
    assert tuesday.status_code == 404
    assert client.put(f"/api/v1/events/{event.id}/occurrences/hier/attendance", headers=headers,
                      json={"total": 2}).status_code == 404


def test_counts_follow_their_occurrence_through_a_move_and_a_rule_change(series):
    event = series["event"]
    first, second = _past_monday(6), _past_monday(5)
    record_attendance(SYSTEM, event, datetime.combine(first, time(14), PARIS), 10)
    record_attendance(SYSTEM, event, datetime.combine(second, time(14), PARIS), 8)
    # Moved to the Tuesday, 10 h: the same occurrence, the same count.
    writes.move_occurrence(SYSTEM, event, datetime.combine(second, time(14), PARIS),
                           starts_at=datetime.combine(second + timedelta(days=1), time(10), PARIS),
                           ends_at=datetime.combine(second + timedelta(days=1), time(12), PARIS))
    db.session.commit()
    assert _counts(event.id) == {_z(first): 10, _z(second): 8}
    # The whole series now at 15 h: each count re-keyed to its date's new instant.
    writes.update_event(SYSTEM, event, {"start_time": time(15)})
    db.session.commit()
    assert _counts(event.id) == {_z(first, 15): 10, _z(second, 15): 8}
    assert sum(_counts(event.id).values()) == 18
    # A rule without those Mondays: the counts stay (people were received), under their old keys.
    writes.update_event(SYSTEM, event, {"weekdays": [1]})
    db.session.commit()
    assert sum(_counts(event.id).values()) == 18


def test_a_split_hands_the_counts_of_its_dates_to_the_second_series(series):
    event = series["event"]
    for weeks_ago, total in ((6, 4), (5, 6), (4, 9)):
        record_attendance(SYSTEM, event, datetime.combine(_past_monday(weeks_ago), time(14), PARIS), total)
    written = writes.split_event(SYSTEM, event, _past_monday(5), {"start_time": time(9)})
    db.session.commit()
    second = written.event
    assert second.id != event.id and isinstance(db.session.get(Event, second.id), Event)
    assert _counts(event.id) == {_z(_past_monday(6)): 4}
    assert _counts(second.id) == {_z(_past_monday(5), 9): 6, _z(_past_monday(4), 9): 9}
