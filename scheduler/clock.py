"""The clock process: APScheduler 3 running Maillage's periodic jobs, in exactly one process.

Started twice by mistake (two `python -m scheduler`, a deploy overlapping the old one), only one
clock runs the jobs: the one that holds the database lock. On PostgreSQL it is a session-level
advisory lock, freed by the server the moment the holder's connection dies; on SQLite it is a
row in `clock_locks` whose heartbeat the holder renews, taken over once the heartbeat is older
than LOCK_TTL. The others stay up as standbys, their jobs paused, and take over within a
heartbeat or two.
Every job is also safe to run twice and to be killed halfway (deliveries have unique keys),
so the lock is about not doing the work twice, not about correctness.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED
from flask import Flask

from models import ClockLock, db, utcnow
from models.base import rows_touched
from models.operations.subscriptions import forget_stale_subscriptions
from scheduler.conflicts.nightly import nightly_detection
from scheduler.ical import jobs as import_jobs
from scheduler.ical import sync
from scheduler.notifications.sending import run_due

log = logging.getLogger("maillage.clock")
LOCK_NAME = "clock"
LOCK_TTL = timedelta(seconds=60)  # the default of CLOCK_LOCK_TTL_SECONDS (settings.py)
ADVISORY_LOCK_KEY = 0x4D61696C  # "Mail": any constant shared by every clock of a database


class SingleClockLock:
    """Is this process the active clock? `acquire()` takes or renews the lock (the heartbeat)."""

    def __init__(self, name: str = LOCK_NAME, ttl: timedelta = LOCK_TTL):
        self.name = name
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False
        self._announced = False
        self._connection: sa.Connection | None = None  # PostgreSQL: the session that owns the advisory lock

    def acquire(self) -> bool:
        was_held = self.held
        try:
            if db.engine.dialect.name == "postgresql":
                self.held = self._acquire_advisory()
            else:
                self.held = self._acquire_row()
        except sa.exc.SQLAlchemyError as error:
            log.warning("verrou de l'horloge : %s", error)
            db.session.rollback()
            self.held = False
        if self.held != was_held or not self._announced:
            self._announced = True
            log.info("horloge %s : %s", self.holder, "active" if self.held else "en attente (une autre est active)")
        return self.held

    def _acquire_advisory(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(sa.text("SELECT 1"))
                return True
            except sa.exc.SQLAlchemyError:
                self._connection = None  # the session died, and the lock with it
        connection = db.engine.connect()
        got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
        connection.commit()
        if got:
            self._connection = connection
        else:
            connection.close()
        return bool(got)

    def _acquire_row(self) -> bool:
        now = utcnow()
        taken = rows_touched(db.session.execute(
            sa.update(ClockLock)
            .where(ClockLock.name == self.name,
                   sa.or_(ClockLock.holder == self.holder, ClockLock.heartbeat_at < now - self.ttl))
            .values(holder=self.holder, heartbeat_at=now)
            .execution_options(synchronize_session=False))) == 1
        if not taken and db.session.get(ClockLock, self.name) is None:
            db.session.add(ClockLock(name=self.name, holder=self.holder, heartbeat_at=now))
            try:
                db.session.commit()
                return True
            except sa.exc.IntegrityError:  # another clock inserted it first
                db.session.rollback()
                return False
        db.session.commit()
        return taken

    def release(self) -> None:
        if self._connection is not None:
            # The pool keeps the session open after close(): unlock explicitly.
            try:
                self._connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        elif self.held:
            db.session.execute(sa.delete(ClockLock).where(ClockLock.name == self.name,
                                                          ClockLock.holder == self.holder))
            db.session.commit()
        self.held = False


@dataclass(frozen=True)
class Job:
    """A periodic job: `run` lives in its domain's module and is called in an app context; the
    clock commits after it, or rolls back and logs what failed."""

    id: str
    run: Callable[[], object]
    trigger: str  # APScheduler's "cron" or "interval", with `when` as its fields
    when: dict = field(default_factory=dict)
    max_instances: int = 1
    misfire_grace_time: int = 1  # APScheduler's default: a run more than a second late is skipped


# Every job of the clock process, and nowhere else.
JOBS = (
    # 02:30 in Paris: after the day's edits, before anyone reads the morning digest.
    Job("conflicts-nightly", nightly_detection, "cron", {"hour": 2, "minute": 30, "timezone": "Europe/Paris"},
        misfire_grace_time=3600),
    # Calendars synced from elsewhere, each at its own interval.
    Job("feeds-sync", sync.run_due_syncs, "interval", {"minutes": sync.JOB_MINUTES}),
    # Big imports, left by the upload for the clock; a tick during a long import returns at once.
    Job("imports", import_jobs.run_queued_jobs_unless_busy, "interval", {"seconds": import_jobs.POLL_SECONDS},
        max_instances=2),
    # What /abonnement collected, erased when its time is over (page "Données personnelles").
    Job("subscriptions-forget", forget_stale_subscriptions, "cron", {"hour": 3, "minute": 10}, misfire_grace_time=3600),
    # Reminders, notices and digests that fell due.
    Job("reminders.run_due", run_due, "cron", {"second": 0}, misfire_grace_time=50),
)


def job(app, work, name: str | None = None):
    """Wraps a job: app context, one commit at the end, errors logged (a failing job must not
    stop the clock)."""
    def run():
        with app.app_context():
            try:
                work()
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("la tâche %s a échoué", name or getattr(work, "__name__", work))
            finally:
                db.session.remove()
    return run


def build_scheduler(app) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    for j in JOBS:
        scheduler.add_job(job(app, j.run, j.id), j.trigger, **j.when, id=j.id, name=j.id,
                          max_instances=j.max_instances, misfire_grace_time=j.misfire_grace_time,
                          coalesce=True, replace_existing=True)
    return scheduler


class Clock:
    """Runs the scheduler's jobs only while this process holds the lock: `beat()` renews or
    takes the lock and starts, pauses or resumes the jobs accordingly. Every job of JOBS is
    covered, without each checking the lock itself."""

    def __init__(self, app, lock: SingleClockLock | None = None):
        self.app = app
        self.lock = lock or SingleClockLock()
        self.scheduler = build_scheduler(app)

    @property
    def is_running_jobs(self) -> bool:
        return self.scheduler.state == STATE_RUNNING

    def beat(self) -> bool:
        with self.app.app_context():
            held = self.lock.acquire()
            db.session.remove()
        if held and self.scheduler.state == STATE_STOPPED:
            self.scheduler.start()
        elif held and self.scheduler.state == STATE_PAUSED:
            self.scheduler.resume()
        elif not held and self.scheduler.state == STATE_RUNNING:
            self.scheduler.pause()  # lost the lock (database gone, heartbeat too late): stand by
        return held

    def stop(self) -> None:
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.shutdown(wait=True)
        with self.app.app_context():
            self.lock.release()
            db.session.remove()


def main(app: Flask) -> None:
    """Runs the clock of `app` until SIGTERM or SIGINT (`python -m scheduler` builds the app)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # APScheduler logs every run of every job ("Running job…", "executed successfully"): with the
    # imports polled every 2 s, that buried what the jobs themselves say. Its warnings and errors stay.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)

    # Shorter beats and TTL only for tests that kill clocks and watch the standby take over.
    heartbeat = app.config["CLOCK_HEARTBEAT_SECONDS"]
    ttl = timedelta(seconds=app.config["CLOCK_LOCK_TTL_SECONDS"])
    clock = Clock(app, SingleClockLock(ttl=ttl))
    # honcho and systemd stop with SIGTERM: release the lock so that a restart is active at once.
    # The signal only asks; the loop stops between two beats. Raising from the handler could land
    # in the middle of the scheduler's start (started, its thread not made yet), which then
    # cannot be shut down.
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    log.info("horloge démarrée, %d tâche(s)", len(clock.scheduler.get_jobs()))
    try:
        while not stopping.is_set():
            clock.beat()
            stopping.wait(heartbeat)
        log.info("horloge arrêtée")
    finally:
        clock.stop()
