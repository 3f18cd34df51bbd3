"""Feed polls answered from what the process holds (issue 21, item 1): a conditional GET of a feed
whose versions did not move asks the database nothing; a write or a revocation made by this
process is seen by its next poll, and one made by another process as soon as its notice arrives
(PostgreSQL's NOTIFY, SQLite's file): well within a second, where without the notice the
process would go on answering from memory for TRUSTED_FOR (30 s) (models/version_watch.py)."""
from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from datetime import time as clock_time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from helpers.actors import SYSTEM
from helpers.database import fresh_database
from helpers.dates import quiet_monday
from helpers.processes import free_port, procfile_web_command, stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
FEED = "/feeds/partners/mission-locale-sud-isere.ics"
# SQLite: the memory is trusted once the file has been still for a filesystem tick (50 ms).
STILL = 0.2


@contextmanager
def counted(engine):
    """Statements sent and connections taken on this engine inside the block."""
    seen = {"queries": 0, "checkouts": 0}

    def query(*args):
        seen["queries"] += 1

    def checkout(*args):
        seen["checkouts"] += 1

    sa.event.listen(engine, "before_cursor_execute", query)
    sa.event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", query)
        sa.event.remove(engine.pool, "checkout", checkout)


def test_a_poll_of_a_feed_held_under_current_versions_is_a_304_without_any_database_query(
        client, create_partner, create_place, create_event):
    from models import db

    partner = create_partner("mission-locale-sud-isere")
    create_event(create_place("bij-echirolles"), [partner], title="Permanence au BIJ")
    first = client.get(FEED)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    time.sleep(STILL)
    # SQLite: the first answer wrote the feed's state, so the file moved and this process reads
    # the versions once more; PostgreSQL: its notices say only versions moved, so nothing is read.
    client.get(FEED, headers={"If-None-Match": etag})
    db.session.remove()  # the test's own session let go: only the request's counts
    with counted(db.engine) as seen:
        for _ in range(5):
            again = client.get(FEED, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.headers["ETag"] == etag
    assert seen == {"queries": 0, "checkouts": 0}


def test_this_processs_own_write_is_seen_by_its_next_poll(client, create_partner, create_place, create_event):
    from models import db
    from scheduler.writes import update_event

    partner = create_partner("mission-locale-sud-isere")
    event = create_event(create_place("bij-echirolles"), [partner], title="Permanence au BIJ")
    etag = client.get(FEED).headers["ETag"]
    time.sleep(STILL)
    assert client.get(FEED, headers={"If-None-Match": etag}).status_code == 304
    update_event(SYSTEM, event, {"title": "Permanence déplacée"})
    db.session.commit()
    after = client.get(FEED, headers={"If-None-Match": etag})
    assert after.status_code == 200 and "Permanence déplacée".encode() in after.data


def test_a_revoked_private_link_is_refused_though_its_polls_were_answered_from_memory(client, create_partner):
    from models import db
    from models.operations.feeds import create_feed_token, revoke_feed_token

    partner = create_partner("mission-locale-sud-isere")
    row, token = create_feed_token(SYSTEM, partner=partner)
    db.session.commit()
    path = f"/feeds/private/{token}.ics"
    etag = client.get(path).headers["ETag"]
    time.sleep(STILL)
    client.get(path, headers={"If-None-Match": etag})  # SQLite: the versions read again, as above
    db.session.remove()
    with counted(db.engine) as seen:
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert seen["queries"] == 0  # the link itself was checked from memory
    row = db.session.merge(row)
    revoke_feed_token(SYSTEM, row)
    db.session.commit()
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 404
    assert client.get(path).status_code == 404


def test_a_deactivated_owner_s_link_is_refused_though_its_polls_were_answered_from_memory(client):
    from models import db
    from models.operations.feeds import create_feed_token
    from models.operations.users import get_or_create_user

    user = get_or_create_user("coordo@example.fr", "coordinator", None)
    _row, token = create_feed_token(SYSTEM, user=user)
    db.session.commit()
    path = f"/feeds/private/{token}.ics"
    etag = client.get(path).headers["ETag"]
    time.sleep(STILL)
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    user = db.session.merge(user)
    user.is_active_account = False
    db.session.commit()
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 404


# --- another process: gunicorn as the Procfile runs it, the test process writing ----------------

@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    """(url, app): one gunicorn (the Procfile's line) on a fresh migrated database with a partner's
    weekly series, and an app of this process on the same database, in its context, to write."""
    from flask_migrate import upgrade

    from app import create_app
    from models import db
    from models.operations.partners import create_partner
    from models.operations.territory import create_place
    from scheduler.writes import EventWrites

    with fresh_database(request.param, tmp_path) as url:
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "polls", "BASE_URL": "http://maillage.test",
               "RATELIMIT_FEEDS": "100000 per minute", "PYTHONPATH": str(ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        writer = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "polls", "RATELIMITS": {},
                             "BASE_URL": "http://maillage.test"})
        with writer.app_context():
            upgrade()
            partner = create_partner(SYSTEM, {"slug": "mission-locale-sud-isere", "name": "Mission locale",
                                              "type": "mission_locale"})
            place = create_place(SYSTEM, {"slug": "bij-echirolles", "name": "BIJ", "postcode": "38130"})
            EventWrites(SYSTEM).create({"title": "Permanence au BIJ", "kind": "permanence", "place": place.slug,
                                        "organisers": [partner.slug], "start_date": quiet_monday(),
                                        "start_time": clock_time(14), "duration_minutes": 180})
            db.session.commit()
            port = free_port()
            log = tmp_path / "gunicorn.log"
            with open(log, "w") as out:
                process = subprocess.Popen(procfile_web_command(port), cwd=ROOT, env=env, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 60
                while True:
                    assert process.poll() is None, log.read_text()
                    try:
                        requests.get(f"{base}/healthz", timeout=5)
                        break
                    except requests.RequestException:
                        assert time.monotonic() < deadline, log.read_text()
                        time.sleep(0.2)
                yield base, writer
            finally:
                stop_process_groups([process], wait=10)
                db.session.remove()
                db.engine.dispose()


def _polled_from_memory(url: str) -> str:
    """The feed's ETag, after polls the server answered 304 (from its memory, the file still)."""
    etag = requests.get(url, timeout=30).headers["ETag"]
    time.sleep(STILL)
    for _ in range(3):
        assert requests.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 304
    return etag


# A notice is delivered by PostgreSQL after the commit, not before it returns: on a loaded
# machine, the poll sent right after the commit may come a few milliseconds before it.
SEEN_WITHIN = 1.0


def _first_changed_answer(url: str, etag: str, status: int) -> requests.Response:
    """Polls (If-None-Match) until the answer is `status`, for SEEN_WITHIN seconds at most."""
    deadline = time.monotonic() + SEEN_WITHIN
    while True:
        answer = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.005)


def test_a_write_in_another_process_is_seen_by_its_polls_at_once(server):
    from models import Event, db
    from scheduler.writes import update_event

    base, _ = server
    etag = _polled_from_memory(base + FEED)
    event = db.session.scalars(sa.select(Event)).one()
    update_event(SYSTEM, event, {"title": "Permanence déplacée"})
    db.session.commit()
    after = _first_changed_answer(base + FEED, etag, 200)
    assert after.status_code == 200 and "Permanence déplacée".encode() in after.content
    assert after.headers["ETag"] != etag


def test_a_link_revoked_in_another_process_is_refused_at_once(server):
    from models import Partner, db
    from models.operations.feeds import create_feed_token, revoke_feed_token

    base, _ = server
    partner = db.session.scalars(sa.select(Partner)).one()
    row, token = create_feed_token(SYSTEM, partner=partner)
    db.session.commit()
    url = f"{base}/feeds/private/{token}.ics"
    etag = _polled_from_memory(url)
    revoke_feed_token(SYSTEM, row)
    db.session.commit()
    assert _first_changed_answer(url, etag, 404).status_code == 404


def test_a_poll_answered_in_front_of_the_app_has_the_apps_headers_and_is_counted(
        client, create_partner, create_place, create_event):
    from flask import request_started

    from api.health import FEED_RESPONSES

    partner = create_partner("mission-locale-sud-isere")
    create_event(create_place("bij-echirolles"), [partner], title="Permanence au BIJ")
    etag = client.get(FEED).headers["ETag"]
    time.sleep(STILL)
    client.get(FEED, headers={"If-None-Match": etag})  # SQLite: the versions read again once
    seen = []

    def started(sender, **extra):
        seen.append(sender)

    request_started.connect(started)
    try:
        # A cookie: the app answers (its session hooks may have something to do).
        client.set_cookie("autre", "1")
        by_app = client.get(FEED, headers={"If-None-Match": etag})
        client.delete_cookie("autre")
        assert len(seen) == 1
        counted = FEED_RESPONSES.labels("not_modified")._value.get()
        in_front = client.get(FEED, headers={"If-None-Match": etag})
        assert len(seen) == 1  # Flask never saw it
    finally:
        request_started.disconnect(started)
    assert by_app.status_code == in_front.status_code == 304
    assert sorted(by_app.headers.items()) == sorted(in_front.headers.items())
    assert FEED_RESPONSES.labels("not_modified")._value.get() == counted + 1
