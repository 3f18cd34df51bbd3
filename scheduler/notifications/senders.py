"""Sender processes: `python -m scheduler send` (Procfile `sender:`), as many as the mail needs.

With `SEPARATE_SENDERS=1` the clock only scans (what is due becomes rows of `deliveries`) and the
senders send them. Each sender takes one due delivery at a time:

- on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`: the row stays locked by its sender's
  transaction until the claim is committed just before the final "." of DATA, and the other
  senders pass over it to the next one, so any number of senders share the minute's mail without
  waiting on each other;
- on SQLite (one sender: SQLite has one writer at a time anyway) the read ends before the claim,
  whose condition decides, as `flask reminders run-due` does.

Exactly once holds as for one runner (`scheduler.notifications.sending.deliver`, `mail.py`): a
sender killed before its commit leaves the row pending and its half-sent message is thrown away
by the server; the claim's `WHERE state IN (pending, failed)` keeps a row from being sent twice.

Each sender keeps one SMTP connection open as long as it runs and opens it again after a
failure. When the server is down, the failed delivery waits its backoff and the sender sends only
webhooks for `SMTP_PAUSE` before trying the server again.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time as time_module
from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from models import Delivery, db, utcnow
from scheduler.notifications.mail import SmtpSender, SmtpSettings
from scheduler.notifications.sending import deliver

log = logging.getLogger("maillage.senders")
IDLE_WAIT = 1.0  # seconds between two looks when nothing is due
SMTP_PAUSE = 5.0  # seconds without trying the SMTP server after it failed
RENDERED_FOR = 60.0  # seconds a rendered message is reused (the minute's thousand reminders)


def next_due(now: datetime, email_paused: bool) -> int | None:
    """The id of the next due delivery no other sender holds; on PostgreSQL it stays locked by
    this transaction."""
    # The whole row: `deliver` then finds it in the session instead of reading it again.
    q = (sa.select(Delivery)
         .where(Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now).limit(1))
    if email_paused:
        q = q.where(Delivery.channel != "email")
    if db.engine.dialect.name == "postgresql":
        # No ORDER BY: sorting every due row for each message would cost as much as the minute's
        # 9,000 reminders squared; the index on (state, next_attempt_at) gives them about in order.
        q = q.with_for_update(skip_locked=True)
    else:
        q = q.order_by(Delivery.due_at, Delivery.id)
    delivery = db.session.scalar(q)
    return delivery.id if delivery is not None else None


def run_sender(stopping: threading.Event, at: datetime | None = None, exit_when_idle: bool = False) -> Counter:
    """Sends due deliveries until `stopping` is set (or, `exit_when_idle`, until none is due).
    `at`: the instant the sender starts at (tests and benchmarks replay a given minute); time
    then runs on from it. Needs an app context; returns the counts."""
    shift = (at - utcnow()) if at is not None else timedelta(0)
    row_locked = db.engine.dialect.name == "postgresql"
    counts: Counter = Counter()
    rendered: dict = {}
    rendered_at = time_module.monotonic()
    paused_until = 0.0
    with SmtpSender(SmtpSettings.from_url(current_app.config["SMTP_URL"])) as smtp:
        while not stopping.is_set():
            now = utcnow() + shift
            if time_module.monotonic() - rendered_at > RENDERED_FOR:
                rendered, rendered_at = {}, time_module.monotonic()
            email_paused = time_module.monotonic() < paused_until
            delivery_id = next_due(now, email_paused)
            if delivery_id is None:
                db.session.rollback()
                if exit_when_idle and not email_paused:
                    break
                rendered = {}
                stopping.wait(IDLE_WAIT)
                continue
            outcome = deliver(delivery_id, now, smtp, rendered, row_locked=row_locked, email_paused=email_paused)
            if outcome is not None:
                counts[outcome] += 1
            if outcome == "failed" and smtp.down:
                paused_until = time_module.monotonic() + SMTP_PAUSE
    db.session.remove()
    return counts


def main(app: Flask, argv: list[str]) -> None:
    """`python -m scheduler send [--now ISO] [--exit-when-idle]`: a sender, until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m scheduler send",
                                     description="Envoie les courriels et webhooks dus (voir SEPARATE_SENDERS).")
    parser.add_argument("--now", default=None,
                        help="instant ISO 8601 avec décalage où commencer (par défaut : maintenant)")
    parser.add_argument("--exit-when-idle", action="store_true", help="s'arrête dès que rien n'est dû")
    args = parser.parse_args(argv)
    at = None
    if args.now:
        try:
            at = datetime.fromisoformat(args.now)
        except ValueError:
            parser.error("--now : instant ISO 8601 attendu, par exemple 2027-03-28T09:00:00+02:00")
        if at.tzinfo is None:
            parser.error("--now : indiquez le décalage horaire (…+01:00 ou …Z)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stopping = threading.Event()
    # The signal only asks: the sender stops between two messages, never between a commit and
    # its final dot.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    log.info("expéditeur démarré")
    with app.app_context():
        counts = run_sender(stopping, at, args.exit_when_idle)
    print(f"{counts['sent']} envoyé(s), {counts['failed']} en échec, {counts['skipped']} non envoyé(s)", flush=True)
    log.info("expéditeur arrêté")
