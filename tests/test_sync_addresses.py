"""Addresses of other servers (synced calendars, webhooks) are read strictly when saved, the way
the HTTP client will read them; and one source that fails, for any reason, is recorded as failed
on that source while every other one is synced, through "Synchroniser maintenant" and through
the clock's feeds-sync job alike."""
from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers.actors import SYSTEM
from helpers.pages import csrf_token_in

DATA = Path(__file__).parent / "data"
POISONED = "http://127.0.0.1:5103\\@evil.example/"

MALFORMED = {
    "backslash before an @ (parsers disagree on the host)": POISONED,
    "user and password": "https://calendrier.example.fr@192.168.1.10/cal.ics",
    "space": "https://calendrier.example.fr/mon agenda.ics",
    "tab": "https://calendrier.example.fr/\tcal.ics",
    "line feed (header injection)": "https://calendrier.example.fr/cal.ics\r\nX-Injected: 1",
    "NUL": "https://calendrier.example.fr/\x00cal.ics",
    "port that is no number": "http://calendrier.example.fr:80a/cal.ics",
    "port out of range": "http://calendrier.example.fr:70000/cal.ics",
    "port zero": "http://calendrier.example.fr:0/cal.ics",
    "empty port": "http://calendrier.example.fr:/cal.ics",
    "no host": "http:///cal.ics",
    "underscore in the host": "https://calen_drier.example.fr/cal.ics",
    "short IPv4": "http://127.1/cal.ics",
    "IPv4 as one number": "http://2130706433/cal.ics",
    "octal IPv4": "http://0177.0.0.1/cal.ics",
    "broken percent escape": "https://calendrier.example.fr/%zzcal.ics",
    "accented letter": "https://calendrier.example.fr/café.ics",
    "ftp": "ftp://calendrier.example.fr/cal.ics",
    "file": "file:///etc/passwd",
    "too long": "https://calendrier.example.fr/" + "a" * 1000,
}


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_an_address_the_http_client_would_read_otherwise_is_refused_when_saved(app, create_partner, create_place,
                                                                              url):
    from models import PartnerReminderSettings, SyncSource, db
    from models.errors import InvalidInput
    from models.operations.deliveries import set_reminder_settings
    from models.operations.feeds import create_sync_source

    partner, place = create_partner("mission-locale-sud"), create_place("bij-echirolles")
    for allow_private in (False, True):  # refused as malformed, whatever the rule on private addresses
        with pytest.raises(InvalidInput) as refused:
            create_sync_source(SYSTEM, partner, place, url, allow_private=allow_private)
        assert refused.value.message.startswith("Adresse invalide :") and "url" in refused.value.errors
        with pytest.raises(InvalidInput) as refused:
            set_reminder_settings(SYSTEM, partner, {"webhook_url": url}, allow_private=allow_private)
        assert "webhook_url" in refused.value.errors
    db.session.rollback()
    assert db.session.query(SyncSource).count() == 0
    assert db.session.query(PartnerReminderSettings).count() == 0


@pytest.mark.parametrize("given, kept", [
    ("webcal://Calendrier.Example.FR/cal.ics", "https://calendrier.example.fr/cal.ics"),
    ("HTTPS://calendrier.example.fr:443/cal.ics#semaine", "https://calendrier.example.fr/cal.ics"),
    ("http://calendrier.example.fr:8080", "http://calendrier.example.fr:8080/"),
    ("https://calendrier.example.fr/caf%C3%A9.ics?jeton=a1&vue=mois",
     "https://calendrier.example.fr/caf%C3%A9.ics?jeton=a1&vue=mois"),
    ("http://[2001:db8::1]:8080/cal.ics", "http://[2001:db8::1]:8080/cal.ics"),
])
def test_an_address_is_kept_as_it_will_be_requested(app, create_partner, create_place, given, kept):
    from models.operations.feeds import create_sync_source

    partner, place = create_partner("mission-locale-sud"), create_place("bij-echirolles")
    assert create_sync_source(SYSTEM, partner, place, given, allow_private=True).url == kept


def test_the_sync_page_refuses_the_poisoned_address_in_french(client, sign_in, create_partner, create_place):
    from models import SyncSource, db

    ml = create_partner("mission-locale-sud")
    create_place("bij-echirolles")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = client.get("/coordination/synchronisation").get_data(as_text=True)
    response = client.post("/coordination/synchronisation", follow_redirects=True, data={
        "csrf_token": csrf_token_in(page), "action": "create", "url": POISONED, "partner": "mission-locale-sud",
        "place": "bij-echirolles", "kind": "permanence", "interval_minutes": "60"})
    assert response.status_code == 200
    assert "Adresse invalide : caractère « \\ » interdit" in response.get_data(as_text=True)
    assert db.session.query(SyncSource).count() == 0


# --- one poisoned source between two good ones ----------------------------------------------------

@pytest.fixture
def two_calendars(private_urls_allowed):
    """Another server on 127.0.0.1 publishing two calendars with their own UIDs: /a.ics and /b.ics."""
    body = (DATA / "thunderbird.ics").read_bytes()
    bodies = {"/a.ics": body, "/b.ics": body.replace(b"UID:", b"UID:b-").replace(b"Club Ambition", b"Club B")}
    asked = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            data = bodies.get(self.path)
            self.send_response(200 if data else 404)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    thread.join(5)


@pytest.fixture
def three_sources(app, two_calendars, create_partner, create_place):
    """Sources 1 and 3 are good; source 2, between them, has the poisoned address, saved before the
    strict check existed (written straight into its table, as an old database holds it)."""
    from models import SyncSource, db
    from models.operations.feeds import create_sync_source

    base, _ = two_calendars
    ml = create_partner("mission-locale-sud")
    bij = create_place("bij-echirolles", name="BIJ d'Échirolles")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve")
    first = create_sync_source(SYSTEM, ml, bij, f"{base}/a.ics", allow_private=True)
    poisoned = SyncSource(partner=ml, place=bij, url=POISONED, kind="permanence", visibility="public",
                          interval_minutes=60)
    db.session.add(poisoned)
    db.session.flush()
    third = create_sync_source(SYSTEM, ml, bij, f"{base}/b.ics", allow_private=True)
    db.session.commit()
    assert first.id < poisoned.id < third.id
    return first.id, poisoned.id, third.id


def _sources(ids):
    from models import SyncSource, db

    db.session.expire_all()
    return [db.session.get(SyncSource, i) for i in ids]


def _assert_two_synced_and_one_failed(ids, asked):
    from models import Event, db

    first, poisoned, third = _sources(ids)
    assert (first.last_status, third.last_status) == ("ok", "ok"), (first.last_message, third.last_message)
    assert first.last_counts["created"] == 2 and third.last_counts["created"] == 2
    assert poisoned.last_status == "error" and poisoned.last_run_at is not None
    assert "InvalidURL" in poisoned.last_message or "port" in poisoned.last_message, poisoned.last_message
    assert sorted(asked) == ["/a.ics", "/b.ics"]
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 4


def test_the_clock_job_syncs_the_sources_after_a_poisoned_one_and_records_its_failure(app, three_sources,
                                                                                      two_calendars):
    from scheduler.clock import build_scheduler

    feeds_sync = build_scheduler(app).get_job("feeds-sync")
    feeds_sync.func()  # the clock's own wrapper: app context, commit, errors logged
    _assert_two_synced_and_one_failed(three_sources, two_calendars[1])
    # Every run, not only the first: the job keeps going past it.
    feeds_sync.func()


def test_synchroniser_maintenant_on_each_source_records_each_result_and_answers_no_500(client, sign_in,
                                                                                      three_sources, two_calendars):
    sign_in(client, "coordo@example.fr")
    page = client.get("/coordination/synchronisation").get_data(as_text=True)
    for source_id in three_sources:
        response = client.post("/coordination/synchronisation", data={
            "csrf_token": csrf_token_in(page), "action": "run", "source_id": str(source_id)})
        assert response.status_code == 302
        page = client.get("/coordination/synchronisation").get_data(as_text=True)
    _assert_two_synced_and_one_failed(three_sources, two_calendars[1])
    # The page shows the failure on its source.
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape("5103\\@evil.example") + r".*?</tr>", page, re.S)
    assert row and '<td class="sync-error">Erreur : ' in row.group(0), page


def test_a_webhook_saved_with_the_poisoned_address_fails_alone(app, create_partner, create_place, create_event,
                                                               private_urls_allowed):
    from models import Delivery, PartnerReminderSettings, db
    from scheduler.notifications.sending import run_due

    partner = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    place = create_place("bij-echirolles")
    db.session.add(PartnerReminderSettings(partner_id=partner.id, offsets=[], webhook_url=POISONED,
                                           webhook_secret="s"))
    db.session.commit()
    day = date.today() + timedelta(days=9)
    create_event(place, [partner], start_date=day, frequency="once")
    previous_smtp, app.config["SMTP_URL"] = app.config["SMTP_URL"], "smtp://127.0.0.1:9"
    try:
        run_due(datetime.combine(day - timedelta(days=2), time(9, 0), ZoneInfo("Europe/Paris")).astimezone(UTC))
    finally:
        app.config["SMTP_URL"] = previous_smtp
    hook = db.session.query(Delivery).filter_by(channel="webhook").one()
    assert hook.state == "failed" and "webhook" in hook.last_error
