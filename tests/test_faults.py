"""Faults, for real: PostgreSQL restarted under a write load, a read-only database, a full disk,
a database that cannot be reached. Each gets a clear answer (503 in the JSON error shape on the
API and feeds, a French page elsewhere), nothing half-written, service again once it is over.

These tests make databases of their own (never the shared `test` database's content). The
PostgreSQL restart disturbs everyone's connections for a second: it runs under CI=true, or when
MAILLAGE_RESTART_POSTGRESQL=1 asks for it, and is skipped otherwise (never under CI). The full and
read-only disks are tmpfs filesystems mounted by the test (root, as on CI and these machines).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.database import IN_CI, PG_ADMIN_URL
from helpers.dates import quiet_monday
from helpers.pages import csrf_token_in
from helpers.processes import free_port

RESTART_ALLOWED = IN_CI or os.environ.get("MAILLAGE_RESTART_POSTGRESQL") == "1"
PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]
PARTNER = {"slug": "mission-locale-sud-isere", "name": "Mission locale Sud Isère", "type": "mission_locale"}
PLACE = {"slug": "bij-echirolles", "name": "BIJ d'Échirolles", "postcode": "38130"}


# Four weeks ahead with no public holiday: the pages show a year around today.
FIRST = quiet_monday()


def _day(offset: int) -> str:
    return (FIRST + timedelta(days=offset)).isoformat()


def event_body(title: str, day: int = 1) -> dict:
    """Four Mondays from the `day`-th day from FIRST on (FIRST is the first)."""
    return {"kind": "permanence", "title": title, "place": PLACE["slug"], "organisers": [PARTNER["slug"]],
            "start_date": _day(day - 1), "start_time": "14:00", "end_time": "17:00",
            "recurrence": {"frequency": "weekly", "weekdays": ["MO"], "count": 4}}


# --- databases of our own ------------------------------------------------------------------------

@contextlib.contextmanager
def own_postgresql_database():
    name = f"maillage_faults_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    try:
        yield f"{PG_BASE}/{name}", name, admin
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A small filesystem of its own (a real one: the kernel says ENOSPC and EROFS, not us)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode:
        message = f"cannot mount a tmpfs (root needed): {done.stderr.strip()}"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def prepared_app(url: str):
    """An app on a migrated database holding a partner and a place; a coordinator's token."""
    from flask_migrate import upgrade

    from app import create_app
    from models import db
    from models.operations.users import create_api_token, get_or_create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "BASE_URL": "http://maillage.test"})
    with app.app_context():
        upgrade()
        token = create_api_token(get_or_create_user("coordo@example.fr", "coordinator"))
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    for path, body in (("/api/v1/partners", PARTNER), ("/api/v1/places", PLACE)):
        assert client.post(path, json=body, headers=headers).status_code == 201
    return app, headers


def row_counts(app) -> dict:
    """Every table's row count: a failed write must leave each of them as it was."""
    from models import db

    with app.app_context():
        counts = {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
                  for t in db.metadata.sorted_tables}
        db.session.remove()
        db.engine.dispose()
        return counts


def assert_unavailable(response, words: str):
    body = response.get_json()
    assert response.status_code == 503, (response.status_code, body)
    assert list(body) == ["code", "status", "message", "errors"], body
    assert body["code"] == 503 and words in body["message"], body
    assert response.headers["Retry-After"] == "5"


# --- read-only ---------------------------------------------------------------------------------

def test_a_read_only_postgresql_database_refuses_writes_with_a_clear_503_reads_go_on_and_nothing_is_half_written():
    with own_postgresql_database() as (url, name, admin):
        app, headers = prepared_app(url)
        client = app.test_client()
        assert client.post("/api/v1/events", json=event_body("Avant"), headers=headers).status_code == 201
        before = row_counts(app)
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            # What an operator's switch to read-only does to a running service: new sessions.
            assert_unavailable(client.post("/api/v1/events", json=event_body("Pendant"), headers=headers),
                               "lecture seule")
            assert_unavailable(client.patch("/api/v1/places/bij-echirolles", json={"name": "BIJ"}, headers=headers),
                               "lecture seule")
            # Reading still works: the API, the pages.
            occurrences = client.get(f"/api/v1/occurrences?start={_day(0)}&end={_day(31)}")
            assert occurrences.status_code == 200 and len(occurrences.get_json()) == 4
            page = client.get(f"/lieux/bij-echirolles?du={_day(0)}")
            assert page.status_code == 200 and "Avant" in page.get_data(as_text=True)
            # Today's page and a feed are stored for the other processes as they are built: the
            # database refuses that, they are served all the same.
            assert client.get("/lieux/bij-echirolles").status_code == 200
            feed = client.get("/feeds/places/bij-echirolles.ics")
            assert feed.status_code == 200 and b"SUMMARY:Avant" in feed.data, feed.data[:300]
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off'))
            with app.app_context():
                from models import db

                db.engine.dispose()
        assert row_counts(app) == before  # no event, no organiser, no audit entry, no half of anything
        assert client.post("/api/v1/events", json=event_body("Après"), headers=headers).status_code == 201
        with app.app_context():
            from models import db

            db.engine.dispose()


def test_a_sqlite_database_on_a_filesystem_turned_read_only_refuses_writes_with_a_clear_503(tmp_path):
    with tmpfs(tmp_path / "ro", "16m") as folder:
        url = f"sqlite:///{folder / 'maillage.sqlite3'}"
        app, headers = prepared_app(url)
        before = row_counts(app)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        client = app.test_client()
        assert_unavailable(client.post("/api/v1/events", json=event_body("Pendant"), headers=headers), "lecture seule")
        assert client.get("/api/v1/places").status_code == 200
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
        assert row_counts(app) == before
        assert client.post("/api/v1/events", json=event_body("Après"), headers=headers).status_code == 201


# --- full disk ---------------------------------------------------------------------------------

def fill(folder: Path) -> Path:
    """Writes a file until the filesystem says it is full (ENOSPC)."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as error:
            assert error.errno == 28, error  # ENOSPC, the real thing
    return filler


def test_a_full_disk_refuses_writes_with_a_clear_503_leaves_no_half_write_and_writes_again_once_freed(tmp_path):
    with tmpfs(tmp_path / "full", "16m") as folder:
        database = folder / "maillage.sqlite3"
        app, headers = prepared_app(f"sqlite:///{database}")
        client = app.test_client()
        assert client.post("/api/v1/events", json=event_body("Avant"), headers=headers).status_code == 201
        before = row_counts(app)
        filler = fill(folder)
        # A long description: the new rows need pages the database file does not have yet.
        big = {**event_body("Pendant"), "description": "Ateliers CV et entretiens. " * 330}
        response = client.post("/api/v1/events", json=big, headers=headers)
        assert_unavailable(response, "disque")
        assert "plein" in response.get_json()["message"]
        filler.unlink()
        assert row_counts(app) == before  # the event, its organisers, its audit entry: none of them
        with sa.create_engine(f"sqlite:///{database}").connect() as conn:
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        assert client.post("/api/v1/events", json=big, headers=headers).status_code == 201


# --- unreachable, or a plain bug -----------------------------------------------------------------


def test_an_unreachable_database_is_a_503_in_the_json_shape_on_the_api_and_feeds_and_a_french_page_elsewhere():
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"{PG_BASE}/nothing".replace("5432", str(free_port())),
                      "SECRET_KEY": "test", "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    client = app.test_client()
    assert_unavailable(client.get("/api/v1/partners"), "ne répond pas")
    assert_unavailable(client.get("/feeds/all.ics"), "ne répond pas")
    sign_in_form = client.get("/coordination/connexion")  # a form that reads nothing: still shown
    assert sign_in_form.status_code == 200
    sign_in = {"email": "coordo@example.fr", "password": "un mot de passe solide",
               "csrf_token": csrf_token_in(sign_in_form.get_data(as_text=True))}
    for path, page in (("/", client.get("/")), ("/lieux/bij-echirolles", client.get("/lieux/bij-echirolles")),
                       ("sign-in", client.post("/coordination/connexion", data=sign_in))):
        html = page.get_data(as_text=True)
        assert page.status_code == 503 and page.mimetype == "text/html", (path, page.status_code)
        assert '<html lang="fr">' in html and "Service momentanément indisponible" in html
        assert "ne répond pas" in html and page.headers["Retry-After"] == "5"


def test_a_database_error_that_is_a_bug_stays_a_500_and_is_not_passed_off_as_an_outage(tmp_path):
    """A database without its tables (migrations not run) is a deployment bug, not a busy server."""
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "SECRET_KEY": "test"})
    assert app.test_client().get("/api/v1/partners").status_code == 500


def test_a_connection_killed_after_the_answer_was_made_leaves_the_answer_standing():
    """The race of the restart test below, made certain: PostgreSQL ends the request's connection
    after its view has answered, so the closing rollback fails; the answer stands (not a 500) and
    the next request gets a live connection."""
    from app import create_app
    from models import db

    with own_postgresql_database() as (url, _name, admin):
        prepared_app(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"})

        @app.get("/test-killed-after-answer")
        def killed_after_answer():
            pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            return "réponse faite"

        client = app.test_client()
        answer = client.get("/test-killed-after-answer")
        assert answer.status_code == 200 and answer.get_data(as_text=True) == "réponse faite"
        again = client.get("/api/v1/partners")
        assert again.status_code == 200 and again.get_json()[0]["slug"] == PARTNER["slug"]
        with app.app_context():
            db.engine.dispose()


# --- PostgreSQL restarted under load -------------------------------------------------------------

def postgresql_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: float(v))
    return versions[-1], "main"


def pg_ctlcluster(action: str) -> None:
    version, cluster = postgresql_cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action],
                   check=True, timeout=120, capture_output=True)


def postgresql_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def call(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    """(status, JSON body) of one request, or (None, error) when no HTTP answer came."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            raw = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, json.loads(raw) if is_json else raw
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw
    except OSError as error:
        return None, error


@pytest.mark.restarts_postgresql
@pytest.mark.skipif(not RESTART_ALLOWED, reason="restarts the shared PostgreSQL: set MAILLAGE_RESTART_POSTGRESQL=1 "
                                                "(always run under CI=true)")
def test_postgresql_restarted_under_load_maillage_answers_again_within_5_seconds_and_loses_no_acknowledged_write(
        tmp_path):
    from helpers.processes import start_web
    from models import Event, db

    if shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"):
        pytest.fail("pg_ctlcluster and /etc/postgresql are needed to restart PostgreSQL")
    with own_postgresql_database() as (url, _name, _admin):
        app, headers = prepared_app(url)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-faults", "RATELIMIT_FEEDS": "100000 per minute",
               "RATELIMIT_OCCURRENCES": "100000 per minute"}  # one anonymous reader polls every 20 ms
        server = start_web(port, 2, env, tmp_path / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        log: list[tuple[float, str, int | None, object]] = []  # (time, what, status, body)
        acknowledged: dict[int, str] = {}
        stop = threading.Event()

        def writer(n: int):
            i = 0
            while not stop.is_set():
                i += 1
                title = f"Permanence {n}-{i}"
                # Every write lands on the same Mondays at one place: past CONFLICT_MAX_OPENED overlaps the
                # coordinator says so (strict=false), as this test is about the restart, not the overlaps.
                status, body = call("POST", f"{base}/api/v1/events?strict=false", event_body(title, 1 + i % 28),
                                    headers)
                log.append((time.monotonic(), "write", status, body))
                if status == 201:
                    acknowledged[body["id"]] = title
                time.sleep(0.02)

        def reader():
            while not stop.is_set():
                status, body = call("GET", f"{base}/api/v1/occurrences?start={_day(0)}&end={_day(7)}")
                log.append((time.monotonic(), "read", status, body))
                time.sleep(0.02)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)] + [threading.Thread(target=reader)]
        try:
            for t in threads:
                t.start()
            time.sleep(2)
            restarted_at = time.monotonic()
            try:
                pg_ctlcluster("restart")
            finally:
                if not postgresql_ready():  # never leave the shared server stopped
                    pg_ctlcluster("start")
            deadline = time.monotonic() + 30
            while not postgresql_ready() and time.monotonic() < deadline:
                time.sleep(0.1)
            back_at = time.monotonic()
            time.sleep(6)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            server.terminate()
            server.wait(30)

        during = [entry for entry in log if restarted_at <= entry[0] < back_at]
        after = [entry for entry in log if entry[0] >= back_at]
        firsts = {what: min((t for t, w, status, _ in after if w == what and status in (200, 201)), default=None)
                  for what in ("write", "read")}
        assert None not in firsts.values(), f"no answer after the restart: {after[-5:]}"
        assert max(firsts.values()) - back_at <= 5, firsts
        # Every answer was a success or the clear 503; gunicorn itself never stopped answering.
        for _, what, status, body in log:
            assert status in (200, 201, 503), (what, status, body)
            if status == 503:
                assert body["message"] and set(body) == {"code", "status", "message", "errors"}
        # Past the first answers, no failure at all.
        late = [e for e in after if e[0] > max(firsts.values())]
        assert late and all(status in (200, 201) for _, _, status, _ in late), late[:5]
        assert sum(1 for _, w, s, _ in log if w == "write" and s == 201 and _ is not None) > 20
        print(f"{len(during)} requests during the restart ({sum(1 for e in during if e[2] == 503)} answered 503), "
              f"back {max(firsts.values()) - back_at:.2f} s after PostgreSQL, {len(acknowledged)} acknowledged writes")

        with app.app_context():
            db.engine.dispose()  # its connections died with the restart
            stored = dict(db.session.execute(sa.select(Event.id, Event.title)).all())
            db.session.remove()
            db.engine.dispose()
        lost = {i: title for i, title in acknowledged.items() if stored.get(i) != title}
        assert not lost, f"acknowledged writes lost: {lost}"
