"""Bounded writes (issue 15, item 6): a write that would open more than CONFLICT_MAX_OPENED
overlaps is refused (422, French, nothing written) unless a coordinator says strict=false; the
notices of a write that opens many overlaps are one per case and recipient, never one per date."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from helpers.dates import quiet_monday
from models import Event, db
from models.conflicts import ConflictNotice, ScheduleConflict


@pytest.fixture
def crowded(app, monkeypatch, create_partner, create_quartier, create_place, create_event, token_for):
    """A weekly Monday permanence at the BIJ; a cap of 5 overlaps per write."""
    monkeypatch.setitem(app.config, "CONFLICT_MAX_OPENED", 5)
    quartier = create_quartier()
    ml = create_partner("mission-locale-sud-isere")
    ft = create_partner("france-travail", type="france_travail")
    bij = create_place("bij-echirolles", quartier=quartier.code)
    create_event(bij, [ml], frequency="weekly", weekdays=[0])
    return {"coordinator": token_for(), "editor": token_for("ft@example.fr", "editor", ft)}


def series(weeks: int) -> dict:
    start = quiet_monday()
    return {"kind": "permanence", "title": "Permanence France Travail", "place": "bij-echirolles",
            "organisers": ["france-travail"], "start_date": start.isoformat(), "start_time": "14:00",
            "end_time": "17:00", "recurrence": {"frequency": "weekly", "weekdays": ["MO"],
                                                "until": (start + timedelta(weeks=weeks - 1)).isoformat()}}


def events() -> int:
    return db.session.scalar(sa.select(sa.func.count(Event.id)))


@pytest.mark.parametrize("who, query", [("coordinator", ""), ("editor", ""), ("editor", "?strict=false")])
def test_a_write_opening_more_overlaps_than_the_cap_is_refused_in_french_and_nothing_is_written(
        client, crowded, who, query):
    response = client.post(f"/api/v1/events{query}", json=series(10), headers=crowded[who])
    body = response.get_json()
    assert response.status_code == 422, body
    assert "ouvrirait 10 chevauchements, au plus 5" in body["message"] and "strict" in body["errors"]["json"]
    assert events() == 1 and db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(ConflictNotice.id))) == 0


def test_a_write_within_the_cap_goes_through(client, crowded):
    response = client.post("/api/v1/events", json=series(5), headers=crowded["editor"])
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["conflicts"]) == 5


def test_a_coordinator_saying_strict_false_opens_them_and_notices_come_per_case_not_per_date(client, crowded):
    response = client.post("/api/v1/events?strict=false", json=series(10), headers=crowded["coordinator"])
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    opened = db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id)))
    assert opened == 10
    notices = list(db.session.scalars(sa.select(ConflictNotice)))
    assert notices, "the people concerned are told"
    assert len({n.case_id for n in notices}) == 1 and None not in {n.case_id for n in notices}
    per_recipient = [(n.partner_id, n.user_id, n.change) for n in notices]
    assert len(per_recipient) == len(set(per_recipient)) < opened, "one notice per recipient and case"


def test_the_cap_holds_on_an_update_too(client, crowded):
    created = client.post("/api/v1/events", json=series(2), headers=crowded["editor"])
    assert created.status_code == 201
    longer = {"recurrence": series(10)["recurrence"]}
    response = client.patch(f"/api/v1/events/{created.get_json()['id']}", json=longer, headers=crowded["editor"])
    assert response.status_code == 422 and "au plus 5" in response.get_json()["message"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id))) == 2
