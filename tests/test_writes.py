"""The one write path (scheduler.writes): the same change to an event, made through the API, a
coordination page, an import and a sync, records the same overlaps, the same conflict notices and
the same notices of the change — because all four go through it."""
from __future__ import annotations

import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from helpers.dates import quiet_monday
from helpers.pages import csrf_token_in

WEEKS = 4


def permanence_ics(start: str, end: str) -> bytes:
    """The mission locale's own calendar: its Monday permanence, four weeks from quiet_monday()."""
    day = quiet_monday().strftime("%Y%m%d")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//FR\r\nBEGIN:VEVENT\r\nUID:permanence-ml@test\r\n"
            f"DTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Paris:{day}T{start}00\r\n"
            f"DTEND;TZID=Europe/Paris:{day}T{end}00\r\nRRULE:FREQ=WEEKLY;COUNT={WEEKS}\r\n"
            "SUMMARY:Permanence mission locale\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


@pytest.fixture
def published():
    """The mission locale's calendar server (a sync source), on 127.0.0.1."""
    state = {"body": permanence_ics("0900", "1200"), "version": 1}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("ETag", f'"v{state["version"]}"')
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/ml.ics"
    yield state
    server.shutdown()


@pytest.fixture
def bij(app, create_quartier, create_partner, create_place, create_event, token_for):
    """The BIJ's Monday afternoons are the centre social's; the mission locale holds its mornings."""
    from models import db

    quartier = create_quartier("QN03801M")
    cs = create_partner("centre-social", type="centre_social", contact_email="accueil@cs.example.fr")
    ml = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    place = create_place("bij", name="BIJ d'Échirolles", quartier="QN03801M")
    create_event(place, [cs], title="Atelier CV", start_time="14:00", duration_minutes=180, frequency="weekly",
                 count=WEEKS)
    headers = token_for("conseillere@ml.example.fr", "editor", ml)
    token_for("coordo@example.fr", "coordinator", quartiers=[quartier])
    db.session.commit()
    return {"place": place, "ml": ml, "headers": headers}


def _permanence():
    from models import Event, db

    db.session.expire_all()
    return db.session.scalar(sa.select(Event).where(Event.title == "Permanence mission locale"))


def _what_was_recorded() -> dict:
    """The overlaps as stored, the conflict notices and the notices of the change, each written as
    what it says (no ids: each entry point writes its own rows)."""
    from models import ConflictNotice, Delivery, ScheduleConflict, db

    db.session.expire_all()
    conflicts = sorted((c.kind, c.status, c.starts_at.isoformat(), c.ends_at.isoformat())
                       for c in db.session.scalars(sa.select(ScheduleConflict)))
    notices = sorted((n.change, n.partner.slug if n.partner else n.user.email)
                     for n in db.session.scalars(sa.select(ConflictNotice)))
    told = sorted((d.kind, d.recipient) for d in db.session.scalars(sa.select(Delivery)))
    return {"conflicts": conflicts, "notices": notices, "told": told}


def _write_through(entry: str, bij, client, sign_in, published) -> None:
    """The mission locale's Monday permanence exists (made through `entry`), then moves to the
    afternoon (through `entry` again): onto the centre social's workshop."""
    from models import db
    from models.operations.feeds import create_sync_source
    from models.operations.users import get_or_create_user
    from scheduler.ical.sync import run_source

    if entry in ("api", "page"):
        created = client.post("/api/v1/events", headers=bij["headers"], json={
            "kind": "permanence", "title": "Permanence mission locale", "place": "bij",
            "organisers": ["mission-locale"], "start_date": quiet_monday().isoformat(), "start_time": "09:00",
            "end_time": "12:00", "recurrence": {"frequency": "weekly", "count": WEEKS}})
        assert created.status_code == 201, created.get_json()
    elif entry == "import":
        upload = client.post("/api/v1/imports", headers=bij["headers"], content_type="multipart/form-data",
                             data={"partner": "mission-locale", "place": "bij",
                                   "file": (io.BytesIO(permanence_ics("0900", "1200")), "ml.ics")})
        assert upload.status_code == 200, upload.get_json()
    else:
        user = get_or_create_user("conseillere@ml.example.fr", "editor", bij["ml"])
        source = create_sync_source(user, bij["ml"], bij["place"], published["url"], allow_private=True)
        db.session.commit()
        run_source(source.id)
        db.session.commit()
    assert _what_was_recorded()["conflicts"] == []  # mornings: nothing shared yet

    permanence = _permanence()
    if entry == "api":
        response = client.patch(f"/api/v1/events/{permanence.id}", headers=bij["headers"],
                                json={"start_time": "14:00", "end_time": "17:00"})
        assert response.status_code == 200, response.get_json()
        assert len(response.get_json()["conflicts"]) == WEEKS  # the answer says what the write opened
    elif entry == "page":
        sign_in(client, "coordo@example.fr")
        page = client.get(f"/coordination/evenements/{permanence.id}").get_data(as_text=True)
        response = client.post(f"/coordination/evenements/{permanence.id}", data={
            "csrf_token": csrf_token_in(page), "start": "14:00", "end": "17:00", "room": "", "status": "confirmed"})
        assert response.status_code == 302
        assert f"Chevauchements de cette série : {WEEKS}" in client.get(response.location).get_data(as_text=True)
    elif entry == "import":
        upload = client.post("/api/v1/imports", headers=bij["headers"], content_type="multipart/form-data",
                             data={"partner": "mission-locale", "place": "bij",
                                   "file": (io.BytesIO(permanence_ics("1400", "1700")), "ml.ics")})
        assert upload.status_code == 200, upload.get_json()
    else:
        published["body"], published["version"] = permanence_ics("1400", "1700"), 2
        from models import SyncSource

        run_source(db.session.scalar(sa.select(SyncSource.id)))
        db.session.commit()
    assert _permanence().start_time.hour == 14


@pytest.mark.parametrize("entry", ["api", "page", "import", "sync"])
def test_a_write_from_every_entry_point_records_its_overlaps_and_notices_the_same_way(
        entry, app, client, sign_in, bij, published, private_urls_allowed):
    from helpers.dates import paris_at

    _write_through(entry, bij, client, sign_in, published)
    recorded = _what_was_recorded()
    mondays = [quiet_monday() + timedelta(weeks=n) for n in range(WEEKS)]
    # One place overlap a Monday, 14 h to 17 h, open.
    assert recorded["conflicts"] == [
        ("place", "open", _utc_iso(paris_at(day, 14)), _utc_iso(paris_at(day, 17))) for day in mondays]
    # One case (one kind between the two series), told once to both partners and to the
    # territory's coordinator, however many dates.
    assert recorded["notices"] == [("opened", "centre-social"), ("opened", "coordo@example.fr"),
                                   ("opened", "mission-locale")]
    # The move of the permanence's coming dates is told once, to its organiser.
    assert recorded["told"] == [("event_changed", "accueil@ml.example.fr")]


def _utc_iso(moment) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).isoformat()
