"""Sync of a calendar published elsewhere: a real HTTP server in a thread serves it, with ETag and
304 like a real one; the clock's job fetches, applies, and records the last result."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

DATA = Path(__file__).parent / "data"


@pytest.fixture
def source(app, published, create_partner, create_place):
    from models import db
    from models.operations.feeds import create_sync_source
    from models.operations.users import get_or_create_user

    ml = create_partner("mission-locale-sud")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve")
    bij = create_place("bij-echirolles", name="BIJ d'Échirolles")
    user = get_or_create_user("conseillere@example.fr", "editor", ml)
    row = create_sync_source(user, ml, bij, published.url, allow_private=True)
    db.session.commit()
    return row


def _titles():
    from models import Event, db

    return sorted(db.session.scalars(sa.select(Event.title)))


def test_the_clock_job_imports_a_published_calendar_then_asks_with_a_conditional_get(app, published, source):
    from models import db
    from scheduler.ical.sync import run_due_syncs, run_source

    assert run_due_syncs() == 1
    db.session.expire_all()
    assert source.last_status == "ok" and source.last_counts["created"] == 2
    assert _titles() == ["Club Ambition réussite", "Réunion d'information collective E2C"]
    assert "If-None-Match" not in published.requests[0]
    assert run_due_syncs() == 0, "not due again before its interval"
    run_source(source.id)
    assert published.requests[-1]["If-None-Match"] == '"v1"'
    assert published.requests[-1]["If-Modified-Since"] == "Wed, 25 Nov 2026 10:00:00 GMT"
    db.session.expire_all()
    assert source.last_status == "unchanged" and source.last_message.startswith("Calendrier inchangé")


def test_a_changed_calendar_updates_and_an_event_it_dropped_is_deleted(app, published, source):
    from models import Event, db
    from scheduler.ical.sync import run_source

    run_source(source.id)
    body = (DATA / "thunderbird.ics").read_bytes()
    start = body.index(b"BEGIN:VEVENT\r\nCREATED:20261105T100000Z\r\nLAST-MODIFIED:20261110T100000Z\r\n"
                       b"DTSTAMP:20261110T100000Z\r\nUID:8e2f")
    published.body = body[:start] + body[body.index(b"END:VEVENT\r\n", start) + len(b"END:VEVENT\r\n"):]
    published.body = published.body.replace(b"DTEND;TZID=Europe/Paris:20270114T200000",
                                            b"DTEND;TZID=Europe/Paris:20270114T203000")
    published.version = 2
    run_source(source.id)
    db.session.expire_all()
    assert source.last_status == "ok", source.last_message
    assert source.last_counts == {"created": 0, "changed": 1, "removed": 1, "unchanged": 0}
    assert _titles() == ["Club Ambition réussite"]
    club = db.session.scalar(sa.select(Event))
    assert club.duration_minutes == 150 and club.source == f"sync:{source.id}"


def test_a_broken_calendar_or_server_leaves_everything_and_shows_the_error(app, published, source):
    from models import db
    from scheduler.ical.sync import run_source

    run_source(source.id)
    published.body, published.version = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VCALENDAR\r\n", 2
    run_source(source.id)
    db.session.expire_all()
    assert source.last_status == "error" and "ligne 2" in source.last_message
    assert len(_titles()) == 2, "the last good state stays"
    published.status = 500
    run_source(source.id)
    db.session.expire_all()
    assert source.last_status == "error" and "500" in source.last_message
    assert len(_titles()) == 2


def test_a_calendar_that_double_books_a_place_that_refuses_it_is_not_applied_and_the_error_is_shown(
        app, published, source, create_partner, create_event):
    from helpers.dates import next_working_monday
    from helpers.imports import two_sessions_from_next_monday
    from models import ScheduleConflict, db
    from scheduler.ical.sync import run_source

    source.place.refuses_hard_conflicts = True  # the BIJ
    create_event(source.place, [create_partner("france-travail", type="france_travail")],
                 title="Entretiens France Travail", start_date=next_working_monday(),
                 start_time="15:00", duration_minutes=60, frequency="once", interval=1)
    published.body = two_sessions_from_next_monday()
    run_source(source.id)
    db.session.expire_all()
    assert source.last_status == "error"
    assert "chevauchement bloquant dans un lieu qui les refuse" in source.last_message
    assert "« Permanence emploi »" in source.last_message
    assert _titles() == ["Entretiens France Travail"], "nothing of the calendar, not even the workshop"
    assert db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id))) == 0


def test_the_clock_registers_the_sync_job(app):
    from scheduler.clock import build_scheduler

    scheduler = build_scheduler(app)
    assert "feeds-sync" in {job.id for job in scheduler.get_jobs()}


def test_a_sync_address_must_be_http_or_webcal(app, create_partner, create_place):
    from models.errors import InvalidInput
    from models.operations.feeds import create_sync_source
    from models.operations.users import get_or_create_user

    ml = create_partner("mission-locale-sud")
    place = create_place("bij-echirolles")
    user = get_or_create_user("c@example.fr", "editor", ml)
    with pytest.raises(InvalidInput):
        create_sync_source(user, ml, place, "file:///etc/passwd")
    assert create_sync_source(user, ml, place, "webcal://example.fr/cal.ics").url == "https://example.fr/cal.ics"
