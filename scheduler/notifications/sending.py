"""Reminders, notices and digests: what is due, recorded once, sent once.

`run_due(now)` is what the clock runs every minute and what `flask reminders run-due --now`
runs by hand: (1) the scan looks at the instants since the last scan and records every delivery
that fell due then, each under a unique key (what, to whom, which occurrence, which offset);
(2) the sender sends the recorded deliveries that are due, one by one, each claimed in the
database first so that two runners never send the same one.

Why the scan is cheap: a reminder is due at a fixed wall-clock time ("two days before at 9:00"),
so a tick whose interval contains none of those times in any zone in use expands nothing, and a
tick that does contains one expands only the few days of occurrences whose reminders it can hold
— never the whole year of every series (bench/reminders.py measures both).

After a downtime, the scan covers the missed interval: what fell due within the grace period
(`REMINDER_GRACE_MINUTES`, default 180) is sent late; what is older is recorded as skipped and
logged, so the web view shows it.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time as time_module
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from models import Delivery, db, utcnow
from models.base import rows_touched
from models.deliveries import PartnerReminderSettings, ScanMark
from models.operations.deliveries import add_deliveries_if_new
from scheduler.notifications.due import (
    Recipients,
    plan_attendance_requests,
    plan_daily_digests,
    plan_reminders,
    plan_weekly_programmes,
)
from scheduler.notifications.mail import SmtpSender, SmtpSettings, SmtpUnavailable
from scheduler.notifications.messages import Message, Skip, email_of, render
from scheduler.notifications.notices import group_pending_notices, record_conflict_notices
from scheduler.outbound import failure_reason, open_url
from scheduler.time.recurrence import epoch

# --- sending --------------------------------------------------------------------------------

log = logging.getLogger("maillage.reminders")
SCAN_MARK = "due-scan"
MAX_LOOKBACK = timedelta(days=2)  # a longer downtime is logged as such, not replayed
MAX_ATTEMPTS = 12  # with the backoff below: about nine hours of trying


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes between tries, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def claim_statement(delivery_id: int, now: datetime) -> sa.Update:
    """Marks the delivery sent if it still is to send. Committed only when the message is about
    to be handed over (just before SMTP's final dot): another runner's claim on the same row waits
    for that transaction (row lock on PostgreSQL, the write lock on SQLite), then finds it sent
    and moves on; a sender that commits it alone (autocommit, `senders.send_batch`) hands the
    message over only if it changed the row."""
    return (sa.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.state.in_(("pending", "failed")),
                   Delivery.next_attempt_at <= now)
            .values(state="sent", sent_at=utcnow(), attempts=Delivery.attempts + 1, updated_at=utcnow(),
                    last_error="")
            .execution_options(synchronize_session=False))


def _claim(delivery_id: int, now: datetime) -> bool:
    return rows_touched(db.session.execute(claim_statement(delivery_id, now))) == 1


def failure_statement(delivery: Delivery, attempts: int, now: datetime, error: str) -> sa.Update:
    """Records a failed try, the `attempts`-th, and when to try again (by primary key, no reload)."""
    log.warning("échec de l'envoi %s (essai %d) : %s", delivery.key, attempts, error)
    return (sa.update(Delivery).where(Delivery.id == delivery.id)
            .values(state="failed", attempts=attempts, sent_at=None, last_error=error[:2000], updated_at=utcnow(),
                    next_attempt_at=None if attempts >= MAX_ATTEMPTS else now + backoff(attempts))
            .execution_options(synchronize_session=False))


def _record_failure(delivery_id: int, now: datetime, error: str) -> None:
    delivery = db.session.get_one(Delivery, delivery_id)
    # The claim's own count was rolled back with it.
    db.session.execute(failure_statement(delivery, delivery.attempts + 1, now, error))


def skip_statement(delivery_id: int, reason: str) -> sa.Update:
    return (sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.state.in_(("pending", "failed")))
            .values(state="skipped", last_error=reason, next_attempt_at=None, updated_at=utcnow())
            .execution_options(synchronize_session=False))


def _record_skip(delivery_id: int, reason: str) -> None:
    db.session.execute(skip_statement(delivery_id, reason))


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def post_webhook(delivery: Delivery, message: Message) -> None:
    """POSTs the signed JSON; any non-2xx answer or network error is a failure to retry.
    Receivers deduplicate on X-Maillage-Delivery (a webhook cannot be made exactly-once)."""
    settings = db.session.get(PartnerReminderSettings, delivery.partner_id)
    secret = settings.webhook_secret if settings else ""
    body = json.dumps({"type": delivery.kind, "delivery": delivery.key, "subject": message.subject,
                       **message.data}, ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(time_module.time()))
    try:
        request = urllib.request.Request(delivery.recipient, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "Maillage", "X-Maillage-Event": delivery.kind,
            "X-Maillage-Delivery": hashlib.sha256(delivery.key.encode()).hexdigest(),
            "X-Maillage-Timestamp": timestamp, "X-Maillage-Signature": sign_webhook(secret or "", timestamp, body)})
        with open_url(request, 10, current_app.config["ALLOW_PRIVATE_URLS"]) as response:
            if not 200 <= response.status < 300:
                raise SmtpUnavailable(f"webhook : réponse {response.status}")
    except (urllib.error.URLError, OSError) as error:
        raise SmtpUnavailable(f"webhook injoignable : {failure_reason(error)}") from error
    except (ValueError, http.client.HTTPException) as error:
        # An address saved before the strict check of models.operations.urls (a port that is no
        # number, a backslash): this delivery fails, the next ones are still sent.
        raise SmtpUnavailable(f"adresse du webhook inutilisable : {error}") from error


def deliver(delivery_id: int, now: datetime, smtp: SmtpSender, rendered: dict, row_locked: bool = False,
            email_paused: bool = False) -> str | None:
    """Sends one recorded delivery: "sent", "failed", "skipped", or None when it is not to send
    now (another runner took it; an email while `email_paused`, the SMTP server having just
    failed). Ends the transaction whatever happens.

    `row_locked`: the caller's transaction holds the row (PostgreSQL `FOR UPDATE`, the senders),
    so the claim follows in it. Otherwise the read ends before the claim: SQLite must not hold a
    shared lock while it waits for the write one, and the claim's condition decides."""
    delivery = db.session.get(Delivery, delivery_id)
    if (delivery is None or delivery.state not in ("pending", "failed")
            or (email_paused and delivery.channel == "email")):
        db.session.rollback()
        return None
    try:
        message = render(delivery, now, rendered)
    except Skip as reason:
        _record_skip(delivery_id, str(reason))
        db.session.commit()
        return "skipped"
    email = email_of(delivery, message) if delivery.channel == "email" else None
    if not row_locked:
        db.session.rollback()
    if not _claim(delivery_id, now):
        db.session.rollback()
        return None
    try:
        if email is not None:
            smtp.send(email, before_final_dot=db.session.commit)
        else:
            post_webhook(delivery, message)
            db.session.commit()
    except SmtpUnavailable as error:
        db.session.rollback()
        _record_failure(delivery_id, now, str(error))
        db.session.commit()
        return "failed"
    return "sent"


def send_due(now: datetime, limit: int | None = None) -> dict[str, int]:
    """Sends the recorded deliveries due at `now`; commits after each one."""
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    db.session.commit()
    ids = list(db.session.scalars(
        sa.select(Delivery.id).where(Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
        .order_by(Delivery.due_at, Delivery.id).limit(limit)))
    db.session.rollback()  # end the read: SQLite must not hold a shared lock while we wait for the write one
    smtp_down = False  # tried this tick already: the next tick tries the emails again
    rendered: dict = {}
    with SmtpSender(SmtpSettings.from_url(current_app.config["SMTP_URL"])) as smtp:
        for delivery_id in ids:
            outcome = deliver(delivery_id, now, smtp, rendered, email_paused=smtp_down)
            if outcome is not None:
                counts[outcome] += 1
            smtp_down = smtp_down or smtp.down
    return counts


def scan(now: datetime) -> dict[str, int]:
    """Records every delivery that fell due since the last scan, up to `now`; returns counts."""
    grace = timedelta(minutes=current_app.config["REMINDER_GRACE_MINUTES"])
    mark = db.session.get(ScanMark, SCAN_MARK)
    if mark is None or mark.scanned_until > now:  # first scan, or someone ran the clock ahead
        since = now - grace
    else:
        since = max(mark.scanned_until, now - MAX_LOOKBACK)
    lo, hi = epoch(since), epoch(now)
    late_limit = now - grace
    counts = {"pending": 0, "skipped": 0}
    if hi > lo:
        recipients = Recipients.load()
        planned = [*plan_reminders(lo, hi, recipients), *plan_weekly_programmes(lo, hi),
                   *plan_daily_digests(lo, hi), *plan_attendance_requests(lo, hi, recipients)]
        for values in planned:
            if values["due_at"] <= late_limit:
                values["state"] = "skipped"
                values["last_error"] = "Échéance manquée pendant un arrêt de l'horloge, hors délai de grâce."
        for key, state, due_at in add_deliveries_if_new(planned):
            counts[state] += 1
            if state == "skipped":
                log.warning("non envoyé (échéance %s manquée) : %s", due_at.isoformat(), key)
    # Notices the conflicts engine recorded are due as soon as they exist, whatever the interval.
    counts["pending"] += record_conflict_notices(now)
    # ... and what this run tells one address goes in one message.
    counts["pending"] += group_pending_notices(now)
    if mark is None:
        db.session.add(ScanMark(name=SCAN_MARK, scanned_until=now))
    elif now > mark.scanned_until:
        mark.scanned_until = now
    db.session.flush()
    return counts


def run_due(now: datetime | None = None) -> dict[str, int]:
    """What the clock runs every minute (`now`: this instant): scan, then send. Commits."""
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("run_due needs an aware instant")
    scanned = scan(now)
    db.session.commit()
    if current_app.config["SEPARATE_SENDERS"]:
        # The senders (`python -m scheduler send`) send what the scan recorded.
        return {"recorded": scanned["pending"], "missed": scanned["skipped"], "sent": 0, "failed": 0, "skipped": 0}
    sent = send_due(now)
    return {"recorded": scanned["pending"], "missed": scanned["skipped"], **sent}
