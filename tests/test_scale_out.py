"""The scale-out layout run, not only told (docs/operations.md): two web processes (the Procfile's
`web:`), two senders (`sender:`) and two clocks (`clock:`) on one PostgreSQL, rate limits counted
in Redis, SEPARATE_SENDERS=1. A busy minute — 300 reminders due at the same minute of today's
wall clock — arrives at the SMTP server (aiosmtpd) once each while feed polls go on through both
web processes; every poll is answered; one clock is active, the other waits."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from helpers.database import fresh_database
from helpers.processes import free_port, procfile_web_command, stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
PEOPLE = 300


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    from scheduler.notifications.mailbox import Mailbox

    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def test_two_web_two_senders_two_clocks_deliver_a_busy_minute_once_and_answer_every_poll(tmp_path, smtp):
    from models import Person

    # The reminder minute: two minutes ahead (time to start everything), "the day before at that
    # time" of forums tomorrow.
    due = (datetime.now(PARIS) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    with fresh_database("postgresql", tmp_path) as url:
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "scale-out-" + "k" * 32, "BASE_URL": "http://maillage.test",
               "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "SEPARATE_SENDERS": "1",
               "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379", "RATELIMIT_FEEDS": "100000 per minute",
               "CLOCK_HEARTBEAT_SECONDS": "0.5", "CLOCK_LOCK_TTL_SECONDS": "3", "PYTHONPATH": str(ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        flask = [str(Path(sys.executable).with_name("flask")), "--app", "app"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        token = subprocess.run([*flask, "tokens", "create", "coordo@example.fr", "--role", "coordinator"], cwd=ROOT,
                               env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        processes: list[subprocess.Popen] = []
        logs: dict[str, list[Path]] = {"web": [], "clock": [], "sender": []}

        def start(kind: str, command: list[str]) -> None:
            log = tmp_path / f"{kind}-{len(logs[kind])}.log"
            logs[kind].append(log)
            with open(log, "w") as out:
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                  start_new_session=True))

        try:
            webs = []
            for _ in range(2):
                port = free_port()
                start("web", procfile_web_command(port))
                webs.append(f"http://127.0.0.1:{port}")
            for _ in range(2):
                start("clock", [sys.executable, "-m", "scheduler"])
                start("sender", [sys.executable, "-m", "scheduler", "send"])
            for web in webs:
                wait_for(lambda web=web: _healthy(web), 90, f"{web} did not start")

            # The calendar, written through the API of both processes: 300 advisers on three forums.
            for path, body in (("/api/v1/quartiers", {"code": "QN03801M", "name": "Villeneuve", "department": "38"}),
                               ("/api/v1/partners", {"slug": "france-travail", "name": "France Travail",
                                                     "type": "france_travail"})):
                assert requests.post(f"{webs[0]}{path}", json=body, headers=headers).status_code == 201
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                partner_id = conn.execute(sa.text("SELECT id FROM partners WHERE slug = 'france-travail'")).scalar()
                conn.execute(Person.__table__.insert(), [  # type: ignore[attr-defined]
                    {"partner_id": partner_id, "name": f"Conseiller {i}", "email": f"c{i:04d}@ft.example.fr"}
                    for i in range(PEOPLE)])
                people = list(conn.execute(sa.text("SELECT id FROM people ORDER BY id")).scalars())
            settings = requests.put(f"{webs[1]}/api/v1/partners/france-travail/reminder-settings", headers=headers,
                                    json={"offsets": [{"days_before": 1, "at": due.strftime("%H:%M")}]})
            assert settings.status_code == 200, settings.text
            starts = due + timedelta(days=1)
            for n in range(3):
                web = webs[n % 2]
                place = requests.post(f"{web}/api/v1/places", headers=headers, json={
                    "slug": f"salle-{n}", "name": f"Salle {n}", "quartier": "QN03801M", "postcode": "38130"})
                assert place.status_code == 201, place.text
                event = requests.post(f"{web}/api/v1/events", headers=headers, json={
                    "kind": "forum", "title": f"Forum emploi {n}", "place": f"salle-{n}",
                    "organisers": ["france-travail"], "start_date": starts.date().isoformat(),
                    "start_time": starts.strftime("%H:%M"), "duration_minutes": 60,
                    "people": people[n * 100:(n + 1) * 100]})
                assert event.status_code == 201, event.text

            # Feed polls through both processes until the minute's mail has arrived.
            answers: Counter = Counter()
            stop = threading.Event()

            def poll() -> None:
                etags: dict[str, str] = {}
                while not stop.is_set():
                    for web in webs:
                        try:
                            response = requests.get(f"{web}/feeds/all.ics", timeout=30,
                                                    headers={"If-None-Match": etags.get(web, "")})
                            answers[response.status_code] += 1
                            etags[web] = response.headers.get("ETag", "")
                        except requests.RequestException as error:
                            answers[type(error).__name__] += 1
            pollers = [threading.Thread(target=poll) for _ in range(2)]
            for thread in pollers:
                thread.start()
            try:
                seconds_to_due = (due - datetime.now(PARIS)).total_seconds()
                wait_for(lambda: len(smtp) >= PEOPLE, seconds_to_due + 120,
                         f"{len(smtp)} of {PEOPLE} reminders arrived")
                time.sleep(3)  # anything sent twice would arrive by now
            finally:
                stop.set()
                for thread in pollers:
                    thread.join(60)

            recipients = Counter(to for _, tos in smtp.envelopes for to in tos)
            assert len(smtp) == PEOPLE and set(recipients.values()) == {1}
            assert sorted(recipients) == [f"c{i:04d}@ft.example.fr" for i in range(PEOPLE)]
            assert answers[304] > 0 and set(answers) <= {200, 304}, answers
            with engine.connect() as conn:
                recorded = conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE kind = 'reminder'")).scalar()
            assert recorded == PEOPLE
            engine.dispose()
            # The clocks' lock held: one active, one waiting, and the senders shared the mail.
            clock_logs = [log.read_text() for log in logs["clock"]]
            assert sorted("active" if ": active" in text else "standby" if "en attente" in text else text
                          for text in clock_logs) == ["active", "standby"], clock_logs
        finally:
            stop_process_groups(processes, wait=20)
        sent = [text for log in logs["sender"] if "envoyé(s)" in (text := log.read_text())]
        assert len(sent) == 2, "both senders stopped on SIGTERM and said what they sent"


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False
