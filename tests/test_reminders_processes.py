"""Exactly once across processes: `flask reminders run-due` killed halfway, and two at once; the
same with sender processes (`python -m scheduler send`): four at once on PostgreSQL (they share
the rows with `FOR UPDATE SKIP LOCKED`), one on SQLite.

The runners are real processes on the test's database (SQLite file or PostgreSQL), sending to a
real SMTP server (aiosmtpd) in the test process; the count is taken at that server.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from test_reminders import mailbox  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
DUE = "2027-01-12T08:00:00+00:00"  # two days before at 9:00 in Paris


@pytest.fixture
def crowd(app, create_partner, create_place, create_event):
    """A job forum with `n` advisers on it: n reminders due at DUE. An event names at most
    MAX_NAMED people, so the forum's stands are several events at the same hour."""
    from models import Person, db
    from models.operations.partners import MAX_NAMED

    def build(n: int):
        partner = create_partner("france-travail", type="france_travail")
        place = create_place("maison-de-quartier")
        db.session.add_all(Person(partner_id=partner.id, name=f"Conseiller {i}", email=f"c{i:04d}@ft.example.fr")
                           for i in range(n))
        db.session.commit()
        people = list(db.session.scalars(db.select(Person.id).order_by(Person.id)))
        for stand, first in enumerate(range(0, n, MAX_NAMED), start=1):
            create_event(place, [partner], title=f"Forum emploi, stand {stand}", kind="forum",
                         start_date=date(2027, 1, 14), people=people[first:first + MAX_NAMED])
    return build


def runner(database_url: str, smtp_port: int, mode: str = "run-due") -> subprocess.Popen:
    """`flask reminders run-due --now DUE`, or a sender (`python -m scheduler send`) starting at DUE
    that stops once nothing is due."""
    env = {**os.environ, "DATABASE_URL": database_url, "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
           "BASE_URL": "http://maillage.test"}
    command = (["-m", "flask", "--app", "app", "reminders", "run-due", "--now", DUE] if mode == "run-due"
               else ["-m", "scheduler", "send", "--now", DUE, "--exit-when-idle"])
    return subprocess.Popen([sys.executable, *command],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(params=["run-due", "senders"])
def runners(request, backend):
    """(mode, how many at once): two `run-due`; or senders, four on PostgreSQL, one on SQLite."""
    if request.param == "run-due":
        return "run-due", 2
    return "senders", 4 if backend == "postgresql" else 1


def sent_count(out: str) -> int:
    return int(out.split(" envoyé(s)")[0].split()[-1])


def record_due():
    """What the clock's scan records at DUE (the senders only send)."""
    from datetime import datetime

    from models import db
    from scheduler.notifications.sending import scan

    scan(datetime.fromisoformat(DUE))
    db.session.commit()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return False


def test_a_runner_killed_in_the_middle_of_1000_reminders_then_restarted_delivers_exactly_1000(
        app, database_url, mailbox, crowd, runners):  # noqa: F811
    mode, many = runners
    crowd(1000)
    count = 1 if mode == "run-due" else many
    if mode == "senders":
        record_due()
    first = [runner(database_url, mailbox.port, mode) for _ in range(count)]
    assert wait_until(lambda: len(mailbox) >= 300, timeout=120), [r.poll() for r in first]
    for process in first:
        process.send_signal(signal.SIGKILL)
    for process in first:
        process.wait()
    time.sleep(0.2)  # let the server finish what it had already been handed
    delivered_before_restart = len(mailbox)
    assert 300 <= delivered_before_restart < 1000, "the kill came in the middle of sending"

    second = [runner(database_url, mailbox.port, mode) for _ in range(count)]
    outputs = [process.communicate(timeout=300) for process in second]
    assert [process.returncode for process in second] == [0] * count, [err for _, err in outputs]
    recipients = Counter(to for _, tos in mailbox.envelopes for to in tos)
    assert len(mailbox) == 1000
    assert len(recipients) == 1000 and set(recipients.values()) == {1}
    assert sum(sent_count(out) for out, _ in outputs) == 1000 - delivered_before_restart


def test_runners_at_once_deliver_each_message_once(app, database_url, mailbox, crowd, runners):  # noqa: F811
    from models import Delivery, db

    mode, many = runners
    crowd(300)
    record_due()  # recorded, so the runners race to send
    started = [runner(database_url, mailbox.port, mode) for _ in range(many)]
    outputs = [r.communicate(timeout=300) for r in started]
    assert [r.returncode for r in started] == [0] * many, [err for _, err in outputs]
    recipients = Counter(to for _, tos in mailbox.envelopes for to in tos)
    assert len(mailbox) == 300
    assert len(recipients) == 300 and set(recipients.values()) == {1}
    assert sum(sent_count(out) for out, _ in outputs) == 300
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(Delivery).where(Delivery.state == "sent")) == 300


def test_two_clock_processes_make_one_active_clock_and_the_standby_takes_over_when_it_is_killed(
        backend, tmp_path):
    # A database of its own: the clock that becomes active runs every job (imports queued by other
    # tests, the minute's reminders), which would touch the shared test database and make the
    # clocks slow to stop.
    from conftest import fresh_database

    with fresh_database(backend, tmp_path) as url:
        env = {**os.environ, "DATABASE_URL": url, "SMTP_URL": "smtp://127.0.0.1:9",
               "CLOCK_HEARTBEAT_SECONDS": "0.5", "CLOCK_LOCK_TTL_SECONDS": "2"}
        flask = [str(Path(sys.executable).with_name("flask")), "--app", "app"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        logs = [tmp_path / "clock-1.log", tmp_path / "clock-2.log"]
        clocks = [subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=log.open("w")) for log in logs]
        try:
            def states():
                return [("active" if ": active" in log.read_text() else
                         "standby" if "en attente" in log.read_text() else None) for log in logs]

            assert wait_until(lambda: None not in states(), timeout=60), [log.read_text() for log in logs]
            assert sorted(states()) == ["active", "standby"]
            active = states().index("active")
            clocks[active].send_signal(signal.SIGKILL)
            clocks[active].wait()
            standby_log = logs[1 - active]
            assert wait_until(lambda: ": active" in standby_log.read_text(), timeout=30), standby_log.read_text()
            survivor = clocks[1 - active]
            survivor.terminate()
            # SIGTERM stops a clock promptly and says so (it releases its lock on the way out).
            assert survivor.wait(15) == 0
            assert "horloge arrêtée" in standby_log.read_text()
        finally:
            for clock in clocks:
                if clock.poll() is None:
                    clock.kill()
                    clock.wait()
