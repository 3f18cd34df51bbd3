"""Senders in the test's process (`scheduler.notifications.senders.run_sender`): with
SEPARATE_SENDERS the clock's tick only records, the sender sends, keeps one SMTP connection for
every message, and an SMTP server down then back loses nothing and sends nothing twice. The
senders as processes, four at once and killed with SIGKILL: tests/test_reminders_processes.py."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from test_reminders import SYSTEM, at, deliveries, mailbox, run, territory  # noqa: F401  (fixtures)


@pytest.fixture
def separate_senders(app):
    app.config["SEPARATE_SENDERS"] = True
    yield
    app.config["SEPARATE_SENDERS"] = False


def send(now: str) -> dict:
    from scheduler.notifications.senders import run_sender

    return dict(run_sender(threading.Event(), at(now), exit_when_idle=True))


def test_with_separate_senders_the_clock_records_and_the_sender_sends_on_one_connection(
        app, mailbox, territory, create_event, separate_senders):  # noqa: F811
    from models import db
    from models.operations.partners import create_person
    from scheduler.notifications.mail import SmtpSender

    others = [create_person(SYSTEM, {"partner": territory["partner"].slug, "name": f"Conseiller {i}",
                                     "email": f"c{i}@ml.example.fr"}).id for i in range(3)]
    db.session.commit()
    create_event(territory["place"], [territory["partner"]], start_date=date(2027, 1, 14),
                 people=[territory["adviser"].id, *others])
    counts = run("2027-01-12T08:00:00Z")
    assert (counts["recorded"], counts["sent"]) == (4, 0)
    assert len(mailbox) == 0 and {d.state for d in deliveries(kind="reminder")} == {"pending"}

    connections = []
    connect = SmtpSender._connect

    def counting(self):
        connections.append(1)
        return connect(self)

    SmtpSender._connect = counting  # type: ignore[method-assign]
    try:
        assert send("2027-01-12T08:00:00Z") == {"sent": 4}
    finally:
        SmtpSender._connect = connect  # type: ignore[method-assign]
    assert len(mailbox) == 4 and len(connections) == 1
    assert {d.state for d in deliveries(kind="reminder")} == {"sent"}
    assert send("2027-01-12T08:05:00Z") == {}, "nothing is sent twice"
    assert len(mailbox) == 4


def test_a_sender_with_the_smtp_server_down_then_back_loses_nothing(
        app, mailbox, territory, create_event, separate_senders):  # noqa: F811
    from aiosmtpd.controller import Controller

    create_event(territory["place"], [territory["partner"]], start_date=date(2027, 1, 14),
                 people=[territory["adviser"].id])
    run("2027-01-12T08:00:00Z")
    mailbox.controller.stop()
    assert send("2027-01-12T08:00:00Z") == {"failed": 1}
    [delivery] = deliveries(kind="reminder")
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    # A minute later (the sender's time runs on from the instant it was given).
    assert at("2027-01-12T08:01:00Z") <= delivery.next_attempt_at < at("2027-01-12T08:01:10Z")

    mailbox.controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    mailbox.controller.start()
    assert send("2027-01-12T08:00:30Z") == {}, "not yet time to retry"
    assert send("2027-01-12T08:01:10Z") == {"sent": 1}
    assert len(mailbox) == 1 and deliveries(kind="reminder")[0].state == "sent"
    assert send("2027-01-12T08:10:00Z") == {}
    assert len(mailbox) == 1
