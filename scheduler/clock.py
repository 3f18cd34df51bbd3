"""The clock process: APScheduler 3 running Maillage's periodic jobs, in exactly one process.

Started twice by mistake (two `python -m scheduler`, a deploy overlapping the old one), only one
clock runs the jobs: the one that holds the database lock. On PostgreSQL it is a session-level
advisory lock, freed by the server the moment the holder's connection dies; on SQLite it is a
row in `clock_locks` whose heartbeat the holder renews, taken over once the heartbeat is older
than LOCK_TTL. The others stay up as standbys and take over within a heartbeat or two.
Every job is also safe to run twice and to be killed halfway (deliveries have unique keys),
so the lock is about not doing the work twice, not about correctness.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

import sqlalchemy as sa
from apscheduler.schedulers.blocking import BlockingScheduler

from models import ClockLock, db, utcnow

log = logging.getLogger("maillage.clock")
LOCK_NAME = "clock"
LOCK_TTL = timedelta(seconds=60)
HEARTBEAT_SECONDS = 15
ADVISORY_LOCK_KEY = 0x4D61696C  # "Mail": any constant shared by every clock of a database


class SingleClockLock:
    """Is this process the active clock? `acquire()` takes or renews the lock (the heartbeat)."""

    def __init__(self, name: str = LOCK_NAME):
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False
        self._connection = None  # PostgreSQL: the session that owns the advisory lock

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
        if self.held != was_held:
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
        taken = db.session.execute(
            sa.update(ClockLock)
            .where(ClockLock.name == self.name,
                   sa.or_(ClockLock.holder == self.holder, ClockLock.heartbeat_at < now - LOCK_TTL))
            .values(holder=self.holder, heartbeat_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
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


_lock: SingleClockLock | None = None


def job(app, work):
    """Wraps a job: app context, only on the active clock, one commit at the end, errors logged
    (a failing job must not stop the clock)."""
    def run():
        with app.app_context():
            if _lock is not None and not _lock.held:
                return
            try:
                work()
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("la tâche %s a échoué", getattr(work, "__name__", work))
            finally:
                db.session.remove()
    return run


def build_scheduler(app, lock: SingleClockLock | None = None) -> BlockingScheduler:
    global _lock
    _lock = lock
    scheduler = BlockingScheduler(timezone="UTC")
    if lock is not None:
        def heartbeat():
            with app.app_context():
                lock.acquire()
                db.session.remove()
        scheduler.add_job(heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="clock.heartbeat",
                          max_instances=1, coalesce=True)
    # Jobs are registered by the modules that own them (conflicts, reminders, sync).
    for register in app.extensions.get("maillage_clock_jobs", []):
        register(scheduler, app)
    return scheduler


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from app import app

    lock = SingleClockLock()
    with app.app_context():
        lock.acquire()
        db.session.remove()
    scheduler = build_scheduler(app, lock)
    log.info("horloge démarrée, %d tâche(s)", len(scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("horloge arrêtée")
    finally:
        with app.app_context():
            lock.release()
