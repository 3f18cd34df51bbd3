"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the one at 127.0.0.1:5432 (trust auth); each run gets a database of its own, so
parallel runs never meet. Under CI=true a PostgreSQL that cannot be reached fails the run, and so
does any skipped test: a skip in CI is a failure hidden.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from datetime import time

import pytest
import sqlalchemy as sa

from helpers.actors import SYSTEM

# Fixtures several modules use, defined with their helpers and registered here for every test.
from helpers.authorization import authorization_world, world  # noqa: F401
from helpers.conflicts import add_person, overlap_area  # noqa: F401
from helpers.database import IN_CI, PG_ADMIN_URL, pg_base
from helpers.dates import quiet_monday
from helpers.pages import csrf_token_in
from helpers.reminders import mailbox, reminder_territory  # noqa: F401
from helpers.sync import published  # noqa: F401

BACKENDS = ["sqlite", "postgresql"]
# The development SECRET_KEY serves the tests and the processes they start, never production
# (settings.py production_problems).
os.environ.setdefault("MAILLAGE_ENV", "test")
# No thread writing feeds and pages while a test deletes every row, nor in the processes tests
# start: the rebuilds after writes are tested with it on (tests/test_rebuild.py).
os.environ.setdefault("REBUILD_AFTER_WRITES", "0")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    name = f"maillage_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    # Pre-ping: tests/test_faults.py restarts PostgreSQL, which kills this engine's pooled connection.
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true and was not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    yield f"{pg_base(PG_ADMIN_URL)}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_app(database_url):
    """An app on a database built by the migrations (not create_all): they are tested too."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True,
                      "SECRET_KEY": "test", "BASE_URL": "http://maillage.test", "WTF_CSRF_ENABLED": True,
                      # One app serves the whole run: rate limits are tested on apps of their own.
                      "RATELIMITS": {}})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        from models import db

        db.engine.dispose()


@pytest.fixture
def app(migrated_app):
    from models import db
    from models.version_watch import forget_everywhere_in_this_process

    with migrated_app.app_context():
        yield migrated_app
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        # Emptied behind the ORM's back, no version raised: what this process remembers goes too.
        forget_everywhere_in_this_process()


@pytest.fixture
def sqlite_file_app(tmp_path):
    """An app of its own on a migrated SQLite file, in its app context, and `hold_write_lock()`:
    another connection holding the file's write lock, as a big import's transaction does until
    its commit (tests of SQLite's locks, which PostgreSQL does not have)."""
    import sqlite3

    from flask_migrate import upgrade

    from app import create_app
    from models import db

    path = tmp_path / "maillage.sqlite3"
    own = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "test", "RATELIMITS": {},
                      "BASE_URL": "http://maillage.test"})

    @contextlib.contextmanager
    def hold_write_lock():
        writer = sqlite3.connect(path)
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            writer.rollback()
            writer.close()

    with own.app_context():
        upgrade()
        yield own, hold_write_lock
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def private_urls_allowed(app):
    """ALLOW_PRIVATE_URLS for a test whose calendar or webhook server listens on 127.0.0.1
    (Maillage refuses such addresses otherwise: models/urls.py)."""
    previous = app.config["ALLOW_PRIVATE_URLS"]
    app.config["ALLOW_PRIVATE_URLS"] = True
    yield True
    app.config["ALLOW_PRIVATE_URLS"] = previous


@pytest.fixture
def backend(database_url) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


# --- small builders ---------------------------------------------------------------------------


@pytest.fixture
def create_partner(app):
    from models import db
    from models.operations.partners import create_partner as op

    def build(slug="mission-locale", name=None, type="mission_locale", **values):
        partner = op(SYSTEM, {"slug": slug, "name": name or slug.replace("-", " ").title(), "type": type, **values})
        db.session.commit()
        return partner

    return build


@pytest.fixture
def create_quartier(app):
    from models import db
    from models.operations.territory import create_quartier as op

    def build(code="QN03801M", name="Villeneuve", communes=("Échirolles",), department="38"):
        quartier = op(SYSTEM, {"code": code, "name": name, "communes": list(communes), "department": department})
        db.session.commit()
        return quartier

    return build


@pytest.fixture
def create_place(app):
    from models import db
    from models.operations.territory import create_place as op

    def build(slug="bij-echirolles", name=None, quartier=None, **values):
        values.setdefault("postcode", "38130")
        place = op(SYSTEM, {"slug": slug, "name": name or slug.replace("-", " ").title(),
                            **({"quartier": quartier} if quartier else {}), **values})
        db.session.commit()
        return place

    return build


@pytest.fixture
def create_event(app):
    """create_event(place, organisers, start_date=..., start_time='14:00', frequency='weekly', ...);
    start_date is quiet_monday() unless given. Set-up data: the rows of the one write path, whose
    overlap check and notices are left out (never finished), as a bulk load would leave them;
    tests of what a write checks and tells make their writes through the API or scheduler.writes."""
    from models import db
    from scheduler.writes import EventWrites

    def build(place, organisers, title="Permanence mission locale", kind="permanence", start_date=None,
              start_time="14:00", duration_minutes=180, **values):
        h, m = map(int, start_time.split(":"))
        event = EventWrites(SYSTEM).create({
            "title": title, "kind": kind, "place": place.slug,
            "organisers": [p.slug for p in organisers],
            "start_date": start_date or quiet_monday(), "start_time": time(h, m),
            "duration_minutes": duration_minutes, **values,
        })
        db.session.commit()
        return event

    return build


@pytest.fixture
def token_for(app):
    """token_for(email, role, partner=None, quartiers=()) -> 'Bearer …' header dict."""
    from models import db
    from models.operations.users import create_api_token, get_or_create_user

    def build(email="coordo@example.fr", role="coordinator", partner=None, quartiers=()):
        user = get_or_create_user(email, role, partner)
        for q in quartiers:
            if q not in user.quartiers:
                user.quartiers.append(q)
        token = create_api_token(user)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return build


# --- a real server and a real browser --------------------------------------------------------

@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free local port, in a thread, for the browser."""
    from werkzeug.serving import make_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def webhook_receiver():
    """A partner's own system: an HTTP server on 127.0.0.1 that records each POST as (headers,
    body) in `.received` and answers the statuses of `.answers` in turn (204 once used up)."""
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from types import SimpleNamespace

    state = SimpleNamespace(received=[], answers=[])

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            self.send_response(state.answers.pop(0) if state.answers else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.port = server.server_port
    state.url = f"http://127.0.0.1:{server.server_port}/maillage"
    yield state
    server.shutdown()
    thread.join(5)


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; never a browser Playwright downloads."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make system-deps` (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def clock_process(app, database_url, tmp_path):
    """start() -> a real clock (`python -m scheduler`, the Procfile's `clock:`) on the test's
    database, logging to tmp_path/clock.log; stopped after the test, before its tables are emptied."""
    import subprocess
    import sys
    from pathlib import Path

    started = []

    def start():
        env = {**os.environ, "DATABASE_URL": database_url, "SMTP_URL": "smtp://127.0.0.1:9",
               "BASE_URL": "http://maillage.test", "CLOCK_HEARTBEAT_SECONDS": "0.3"}
        log = (tmp_path / "clock.log").open("a")
        process = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=Path(__file__).resolve().parent.parent,
                                   env=env, stdout=subprocess.DEVNULL, stderr=log)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(20)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        reporter.write_line("CI=true: skipped tests count as failures (a skip in CI hides a failure).", red=True)
        session.exitstatus = 1


# --- the pages' sign-in (web/auth.py) ----------------------------------------------------------


@pytest.fixture
def sign_in(app):
    """sign_in(client, email, role='coordinator', partner=None, quartiers=()) -> the user, signed in
    through the real form (password set, CSRF token read from the page)."""
    from models import db
    from models.operations.users import get_or_create_user

    def build(client, email="coordo@example.fr", role="coordinator", partner=None, quartiers=(),
              password="un mot de passe solide"):
        user = get_or_create_user(email, role, partner)
        for q in quartiers:
            if q not in user.quartiers:
                user.quartiers.append(q)
        user.set_password(password)
        db.session.commit()
        token = csrf_token_in(client.get("/coordination/connexion").get_data(as_text=True))
        response = client.post("/coordination/connexion", data={
            "email": email, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return build
