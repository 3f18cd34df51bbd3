"""Sender processes: `python -m scheduler send` (Procfile `sender:`), as many as the mail needs.

With `SEPARATE_SENDERS=1` the clock only scans (what is due becomes rows of `deliveries`) and the
senders send them:

- on PostgreSQL a sender holds a batch of due deliveries (`BATCH`) at once, with one statement
  (`claim_batch`: an advisory lock per row, tried on due rows only, rows another sender holds are
  passed over as `SKIP LOCKED` would), reads and renders them with a few statements for the batch,
  and marks each email sent by one autocommitted UPDATE on its primary key just before the final
  "." of DATA; so any number of senders share the minute's mail without waiting on each other,
  and about one database round trip a message remains;
- on SQLite (one sender: SQLite has one writer at a time anyway) one delivery at a time, the read
  ending before the claim, whose condition decides, as `flask reminders run-due` does.

Exactly once holds as for one runner (`scheduler.notifications.sending.deliver`, `mail.py`): a
sender killed before a message's mark leaves the row pending (its advisory locks die with its
connection) and its half-sent message is thrown away by the server; the mark's
`WHERE state IN (pending, failed)` keeps a row from being sent twice, and a mark that changes no
row abandons its message. Marking a whole batch at once would not do: a crash between the mark
and the dots would lose, or between the dots and the mark resend, up to a batch of messages.

Each sender keeps one SMTP connection open as long as it runs and opens it again after a
failure. When the server is down, the failed delivery waits its backoff and the sender sends only
webhooks for `SMTP_PAUSE` before trying the server again.
"""
from __future__ import annotations

import argparse
import logging
import select
import signal
import threading
import time as time_module
from collections import Counter
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from flask import Flask, current_app

from models import Delivery, db, utcnow
from scheduler.notifications.mail import SmtpSender, SmtpSettings, SmtpUnavailable
from scheduler.notifications.messages import Skip, email_of, preload, render
from scheduler.notifications.sending import deliver, failure_statement, skip_statement

log = logging.getLogger("maillage.senders")
IDLE_WAIT = 1.0  # seconds between two looks when nothing is due
SMTP_PAUSE = 5.0  # seconds without trying the SMTP server after it failed
RENDERED_FOR = 60.0  # seconds a rendered message is reused (the minute's thousand reminders)
BATCH = 50  # deliveries a sender holds at once (PostgreSQL): read and rendered together
ADVISORY_SPACE = 0x4D61  # first key of pg_try_advisory_lock(space, delivery id): deliveries being sent


def next_due(now: datetime, email_paused: bool) -> int | None:
    """The id of the next due delivery (SQLite: one sender)."""
    # The whole row: `deliver` then finds it in the session instead of reading it again.
    q = (sa.select(Delivery).where(Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
         .order_by(Delivery.due_at, Delivery.id).limit(1))
    if email_paused:
        q = q.where(Delivery.channel != "email")
    delivery = db.session.scalar(q)
    return delivery.id if delivery is not None else None


class Marks:
    """A sender's marks of "sent", on its own PostgreSQL connection (autocommit, no fsync wait):
    `claim_statement`'s UPDATE by primary key, written to the server and *not waited for* before
    the final dot. A sender killed after the mark reached the server and before its dot loses
    that message (the mark commits without it); waiting for the answer made that window a round
    trip to a busy server (milliseconds: lost messages under kill -9 in the process tests), not
    waiting makes it two socket writes. What it costs: the answer is read after the dot, and an
    UPDATE that changed nothing or failed there (possible only if this sender lost its advisory
    lock with its connection) may have let a message go twice; it is logged as an error."""

    SQL = (b"UPDATE deliveries SET state = 'sent', sent_at = $2::timestamptz, updated_at = $2::timestamptz,"
           b" attempts = attempts + 1, last_error = '' WHERE id = $1::integer"
           b" AND state IN ('pending', 'failed') AND next_attempt_at <= $3::timestamptz")

    def __init__(self, connection: sa.Connection):
        driver = connection.connection.driver_connection
        assert driver is not None
        self.pgconn = driver.pgconn
        self.pending: int | None = None

    def send(self, delivery_id: int, now: datetime) -> None:
        self.pgconn.send_query_params(self.SQL, [str(delivery_id).encode(), utcnow().isoformat().encode(),
                                                 now.isoformat().encode()])
        while self.pgconn.flush():
            select.select([], [self.pgconn.socket], [])
        self.pending = delivery_id

    def confirm(self) -> None:
        """Reads the answer of the mark sent last; logs when it did not mark one row."""
        if self.pending is None:
            return
        delivery_id, self.pending = self.pending, None
        results = []
        while True:
            self.pgconn.consume_input()
            if self.pgconn.is_busy():
                select.select([self.pgconn.socket], [], [])
                continue
            result = self.pgconn.get_result()
            if result is None:
                break
            results.append(result)
        if [r.command_tuples for r in results] != [1]:
            errors = "; ".join(r.get_error_message() for r in results) if results else "aucune réponse"
            log.error("envoi %s : la marque « envoyé » n'a pas pris (%s) ; le message peut partir deux fois",
                      delivery_id, errors)


def claim_batch(locks: sa.Connection, now: datetime, email_paused: bool, size: int) -> list[int]:
    """Up to `size` due deliveries no other sender holds, each now held by this sender's
    advisory lock on `locks` (PostgreSQL): one statement. Locks outlive transactions, so the
    sender commits each message's mark on its own and still keeps the rest of its batch; they
    die with the sender's connection, so a killed sender's rows are free at once."""
    due = sa.select(Delivery.id).where(Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
    if email_paused:
        due = due.where(Delivery.channel != "email")
    # MATERIALIZED: the lock is tried only on rows that are due (the planner may not reorder it
    # before the conditions), and only as far as the LIMIT reads; no ORDER BY for the same
    # reason (sorting would lock every due row) — the index on (state, next_attempt_at) gives
    # them about in order.
    rows = due.cte("due").prefix_with("MATERIALIZED")
    return list(locks.scalars(sa.select(rows.c.id).where(sa.func.pg_try_advisory_lock(ADVISORY_SPACE, rows.c.id))
                              .limit(size)))


def send_batch(ids: list[int], now: datetime, smtp: SmtpSender, rendered: dict, marks: sa.Connection,
               stopping: threading.Event) -> Counter:
    """Sends the held deliveries `ids`: read and rendered with a few statements for the whole
    batch, each email marked sent by one autocommitted UPDATE on its primary key written just
    before its final dot (`Marks`: exactly once as for one runner, see `mail.py`). Stops early at
    a failure of the SMTP server or when asked to stop; what is left stays due."""
    counts: Counter = Counter()
    deliveries = list(db.session.scalars(
        sa.select(Delivery).where(Delivery.id.in_(ids), Delivery.state.in_(("pending", "failed")))
        .order_by(Delivery.due_at, Delivery.id)))
    pipelined = Marks(marks)
    loaded = preload(deliveries)  # noqa: F841  (kept: the session's identity map holds them weakly)
    webhooks = []
    try:
        for delivery in deliveries:
            if stopping.is_set():
                break
            if delivery.channel != "email":
                webhooks.append(delivery.id)
                continue
            try:
                message = render(delivery, now, rendered)
            except Skip as reason:
                marks.execute(skip_statement(delivery.id, str(reason)))
                counts["skipped"] += 1
                continue
            try:
                smtp.send(email_of(delivery, message), before_final_dot=partial(pipelined.send, delivery.id, now))
            except SmtpUnavailable as error:
                pipelined.confirm()
                marks.execute(failure_statement(delivery, delivery.attempts + 1, now, str(error)))
                counts["failed"] += 1
                if smtp.down:
                    break  # the rest waits for the server (`SMTP_PAUSE`)
                continue
            pipelined.confirm()
            counts["sent"] += 1
    finally:
        pipelined.confirm()  # the connection must be free for the next statement
    db.session.rollback()
    # Webhooks are rare: one by one, as `flask reminders run-due` sends them.
    for delivery_id in webhooks:
        if stopping.is_set():
            break
        outcome = deliver(delivery_id, now, smtp, rendered)
        if outcome is not None:
            counts[outcome] += 1
    return counts


def run_sender(stopping: threading.Event, at: datetime | None = None, exit_when_idle: bool = False) -> Counter:
    """Sends due deliveries until `stopping` is set (or, `exit_when_idle`, until none is due).
    `at`: the instant the sender starts at (tests and benchmarks replay a given minute); time
    then runs on from it. Needs an app context; returns the counts."""
    shift = (at - utcnow()) if at is not None else timedelta(0)
    counts: Counter = Counter()
    rendered: dict = {}
    rendered_at = time_module.monotonic()
    paused_until = 0.0
    batched = db.engine.dialect.name == "postgresql"
    locks = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") if batched else None
    if locks is not None:
        # A mark need not wait for the disk: PostgreSQL has it the moment it answers, whatever
        # becomes of the sender, so the window between a mark and its dot (where a killed sender
        # loses a message) shrinks from a WAL flush (4 ms here) to a round trip (0.1 ms). The
        # price: a crash of PostgreSQL itself (not a restart) may forget the last fraction of a
        # second of marks, and those messages go again.
        locks.execute(sa.text("SET synchronous_commit = off"))
    try:
        with SmtpSender(SmtpSettings.from_url(current_app.config["SMTP_URL"])) as smtp:
            while not stopping.is_set():
                now = utcnow() + shift
                if time_module.monotonic() - rendered_at > RENDERED_FOR:
                    rendered, rendered_at = {}, time_module.monotonic()
                email_paused = time_module.monotonic() < paused_until
                done: Counter = Counter()
                if locks is not None:
                    ids = claim_batch(locks, now, email_paused, BATCH)
                    found = bool(ids)
                    if ids:
                        try:
                            done = send_batch(ids, now, smtp, rendered, locks, stopping)
                        finally:
                            db.session.rollback()
                            locks.execute(sa.select(sa.func.pg_advisory_unlock_all()))
                else:
                    delivery_id = next_due(now, email_paused)
                    found = delivery_id is not None
                    if delivery_id is not None:
                        outcome = deliver(delivery_id, now, smtp, rendered, email_paused=email_paused)
                        if outcome is not None:
                            done[outcome] += 1
                counts += done
                if done["failed"] and smtp.down:
                    paused_until = time_module.monotonic() + SMTP_PAUSE
                if not found:
                    db.session.rollback()
                    if exit_when_idle and not email_paused:
                        break
                    rendered = {}
                    stopping.wait(IDLE_WAIT)
    finally:
        if locks is not None:
            locks.close()
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
