"""Imports as jobs (models.imports.ImportJob): the preview and the import of an uploaded file,
worked in the request for a small file, by the clock process for a big one, with their progress.

Why the clock: a file of 5,000 events (a Maillage feed of 1,000 series and 4,000 single events,
3 MB) takes 8–12 s to preview here, and as long again to import, on SQLite and PostgreSQL alike
(reading the file 3–5 s, writing 3–4 s, its overlaps 1–2 s: `bench/imports.py`, load 2), more
on a busy machine. A gunicorn sync worker is killed after 30 s, and a streamed answer does not
help (a sync worker tells the arbiter it is alive only between requests). So the upload stores
the file in the database and answers at once; the clock, one process that exists for long work,
picks the job up within `POLL_SECONDS`; the page polls the job's row, which every web process and
machine reads alike.

All or nothing: the import is one transaction of the clock (or of the request), committed with
the job's outcome; a refused file, an error or a killed process leaves no event written. A job
whose runner died is taken again once its heartbeat is `STALE_AFTER` old: the import is
idempotent by UID and started from scratch, so that is safe.

Progress is written while the import's transaction is open, so it cannot go through that
transaction (nobody would see it before the commit): on PostgreSQL it goes through a connection
of its own, committed at once; SQLite allows one writer, which the import is, so there it goes
to a small file beside the database (SQLite means one machine: every process reads that file).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time as timer
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from models import Event, db, utcnow
from models.base import rows_touched
from models.errors import DomainError
from models.imports import ImportJob
from models.operations.imports import create_import_job, delete_import_jobs_before
from scheduler.conflicts.check import horizon
from scheduler.ical.imports import apply_plan, differences, existing_events, preview
from scheduler.ical.parse_csv import is_csv, parse_file
from scheduler.ical.planned import ImportOptions, ImportRefused, PlannedEvent
from scheduler.time.recurrence import expand, rule_of

log = logging.getLogger("maillage.imports")
POLL_SECONDS = 2  # how soon the clock picks up a new job
STALE_AFTER = timedelta(minutes=10)  # a running job without news for that long has lost its runner
KEEP_JOBS = timedelta(days=1)  # unconfirmed previews and finished jobs are then deleted

# Phases of a step, with the share of its time they take (measured on 5,000 events, since the new
# events are written in bulk and their overlaps found in one sweep), for one bar.
PHASES = {"parse": ("Lecture du fichier", 0.50), "write": ("Enregistrement des événements", 0.37),
          "overlaps": ("Recherche des chevauchements", 0.09), "commit": ("Validation", 0.04)}
DRY_RUN_WRITE = "Essai d'enregistrement (rien n'est enregistré avant votre confirmation)"


def estimated_events(filename: str, data: bytes) -> int:
    """The events of a file, counted without parsing it: VEVENTs of an .ics, lines of a CSV."""
    if is_csv(filename, data):
        return max(0, data.count(b"\n") - 1)
    return data.count(b"BEGIN:VEVENT")


class _PlannedRule:
    """A planned event as `rule_of` reads an Event: its rule, at its place, without exceptions,
    people or holidays (an estimate)."""

    def __init__(self, index: int, values: dict):
        self.__dict__.update(dict.fromkeys(("interval", "weekdays", "month_week", "month_days", "months", "extra_dates",
                                            "until", "count", "all_day", "room", "holiday_region"), None))
        self.__dict__.update(values)
        self.id, self.place_id, self.exceptions, self.people = index, values["place"].id, (), ()
        self.skip_public_holidays = self.pause_school_holidays = False
        self.status = "confirmed"


def overlap_work(plan: list[PlannedEvent]) -> int:
    """An estimate of the overlap search an import does, cheap to compute before it starts: each
    occurrence of the file in the horizon, times the other events of its place (the file's and
    those already there). Ten parallel weekday series at one place: about 25,000."""
    start, end = horizon()
    occurrences: Counter[int | None] = Counter(o.place_id for o in expand([rule_of(_PlannedRule(i, p.values))
                                                      for i, p in enumerate(plan, 1)], start, end))
    in_file: Counter[int | None] = Counter(p.values["place"].id for p in plan)
    places = [p for p in occurrences if p is not None]
    there: dict[int | None, int] = dict(db.session.execute(sa.select(Event.place_id, sa.func.count(Event.id)).where(
        Event.place_id.in_(places), sa.or_(Event.last_date.is_(None), Event.last_date >= start.date()))
        .group_by(Event.place_id)).all()) if places else {}
    return sum(count * (in_file[place] - 1 + there.get(place, 0)) for place, count in occurrences.items())


def too_much_overlap_work(filename: str, data: bytes, options: ImportOptions) -> int | None:
    """The estimate of `overlap_work` when it is past IMPORT_INLINE_MAX_OVERLAP_WORK (a request
    might then outlive gunicorn's timeout), else None. A file that does not parse is not too
    much: its refusal is quick, and said by the import itself."""
    try:
        work = overlap_work(parse_file(filename, data, options))
    except DomainError:
        return None
    return work if work > current_app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"] else None


def runs_inline(job: ImportJob) -> bool:
    """A file of up to IMPORT_INLINE_MAX_EVENTS events, whose overlap search is not too long
    either, takes a few seconds: worked in the request."""
    return (job.event_count <= current_app.config["IMPORT_INLINE_MAX_EVENTS"]
            and too_much_overlap_work(job.filename, job.data or b"", options_of(job)) is None)


def submit(user, partner, place, kind: str, visibility: str, filename: str, data: bytes) -> ImportJob:
    """A new job for the file's preview (added and flushed; the caller commits, then runs it inline
    with `start_inline` + `process`, or leaves it to the clock)."""
    return create_import_job(user, partner, place, kind, visibility, filename, data, estimated_events(filename, data))


def start_inline(job: ImportJob) -> None:
    """Marks a job as taken by the request itself (the clock leaves it alone); the caller commits."""
    job.state, job.started_at, job.heartbeat_at = "running", utcnow(), utcnow()


# --- progress --------------------------------------------------------------------------------

class ProgressChannel:
    """Where a running job's progress is written and read: its row through a connection of its
    own (PostgreSQL), or a file beside the database (SQLite, whose one writer is the import)."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        url = db.engine.url
        self.path = None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            self.path = Path(url.database).with_name(f"{Path(url.database).name}.import-{job_id}.json")

    def write(self, progress: dict) -> None:
        try:
            if self.path is not None:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(progress))
                os.replace(tmp, self.path)  # readers never see half a file
                return
            with db.engine.connect() as connection:
                connection.execute(sa.update(ImportJob).where(ImportJob.id == self.job_id)
                                   .values(progress=progress, heartbeat_at=utcnow()))
                connection.commit()
        except (OSError, sa.exc.SQLAlchemyError) as error:  # progress is news, never a reason to fail
            log.warning("progression de l'import %s : %s", self.job_id, error)

    def read(self, job: ImportJob) -> dict:
        if self.path is not None and job.state == "running":
            try:
                return json.loads(self.path.read_text())
            except (OSError, ValueError):
                pass
        return job.progress or {}

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class Reporter:
    """The `progress(phase, done, total)` the import pipeline calls, written at most twice a second
    (and at each new phase)."""

    def __init__(self, job: ImportJob, interval: float = 0.5):
        self.channel, self.interval = ProgressChannel(job.id), interval
        self.phase: str | None = None
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = timer.monotonic()
        if phase == self.phase and now - self.last < self.interval:
            return
        self.phase, self.last = phase, now
        self.channel.write({"phase": phase, "done": done, "total": total})


def progress_view(job: ImportJob) -> dict:
    """What the page shows of a job: its state, the phase in French, counts, and a percentage."""
    view = {"id": job.id, "state": job.state, "step": job.step, "finished": job.is_finished, "label": "",
            "done": 0, "total": 0, "percent": 100 if job.is_finished else 0}
    if job.state == "queued":
        view["label"] = "En attente de traitement"
    elif job.state == "running":
        progress = ProgressChannel(job.id).read(job)
        phase = progress.get("phase")
        if phase in PHASES:
            names = list(PHASES)
            before = sum(PHASES[name][1] for name in names[:names.index(phase)])
            label, share = PHASES[phase]
            done, total = int(progress.get("done", 0)), int(progress.get("total", 0))
            view.update(done=done, total=total,
                        label=DRY_RUN_WRITE if phase == "write" and job.step == "preview" else label,
                        percent=int(100 * (before + share * (done / total if total else 0))))
        else:
            view["label"] = "Démarrage"
    return view


# --- running a job ---------------------------------------------------------------------------

def options_of(job: ImportJob) -> ImportOptions:
    return ImportOptions(partner=job.partner, place=job.place, kind=job.kind, visibility=job.visibility)


def process(job_id: int) -> ImportJob:
    """Works a job taken by this process (state running) to its outcome, committed: the preview
    (ready, with what it would do), the import (done), or refused / failed with nothing written."""
    job = db.session.get_one(ImportJob, job_id)
    report, step = Reporter(job), job.step
    user, options, filename, data = job.user, options_of(job), job.filename, job.data
    _no_sqlite_spill()
    try:
        report("parse", 0, job.event_count)
        plan = parse_file(filename, data or b"", options, progress=report)
        if step == "preview":
            result = preview(user, plan, options, progress=report)  # a dry run, rolled back
            outcome: dict[str, Any] = {"state": "ready", "result": result.as_dict()}
        else:
            existing = existing_events(plan)
            created = sum(1 for p in plan if p.uid not in existing)
            changed = sum(1 for p in plan if p.uid in existing and differences(p, existing[p.uid]))
            apply_plan(user, plan, options, progress=report)
            report("commit", 0, 1)
            outcome = {"state": "done", "data": None,
                       "result": {"created": created, "changed": changed, "unchanged": len(plan) - created - changed}}
    except ImportRefused as refused:
        db.session.rollback()
        outcome = {"state": "refused", "errors": [str(e) for e in refused.located[:200]]}
    except DomainError as error:
        db.session.rollback()
        outcome = {"state": "refused", "errors": [error.message]}
    except Exception:
        db.session.rollback()
        log.exception("l'import %s a échoué", job_id)
        outcome = {"state": "failed", "errors": [("Erreur interne pendant l'import : rien n'a été enregistré. "
                                                 "Réessayez, ou prévenez l'administrateur du service.")]}
    job = db.session.get_one(ImportJob, job_id)
    for name, value in outcome.items():
        setattr(job, name, value)
    job.progress, job.finished_at = {}, utcnow()
    db.session.commit()  # the import and its outcome together
    report.channel.clear()
    return job


def _no_sqlite_spill() -> None:
    """SQLite: a big import writes more pages than the cache holds, and spilling them to the file
    takes the exclusive lock until the commit, which stops every reader: the page polling the
    progress too. Without spilling, the cache grows instead and readers go on reading the last
    commit (SQLite's advice for "large long-running transactions"). Back on when the connection
    returns to the pool."""
    if db.engine.dialect.name != "sqlite":
        return
    connection = db.session.connection()
    connection.exec_driver_sql("PRAGMA cache_spill = OFF")
    connection.info["maillage_no_spill"] = True
    if not sa.event.contains(db.engine, "checkin", _spill_again):
        sa.event.listen(db.engine, "checkin", _spill_again)


def _spill_again(dbapi_connection, record) -> None:
    if record.info.pop("maillage_no_spill", False):
        dbapi_connection.execute("PRAGMA cache_spill = ON")


def claim_next() -> int | None:
    """Takes the oldest queued job (or one whose runner died) for this process; committed."""
    now = utcnow()
    waiting = sa.or_(ImportJob.state == "queued",
                     sa.and_(ImportJob.state == "running", ImportJob.heartbeat_at < now - STALE_AFTER))
    job_id = db.session.scalar(sa.select(ImportJob.id).where(waiting).order_by(ImportJob.id).limit(1))
    if job_id is None:
        db.session.rollback()
        return None
    taken = rows_touched(db.session.execute(sa.update(ImportJob).where(ImportJob.id == job_id, waiting)
                                            .values(state="running", started_at=now, heartbeat_at=now)
                                            .execution_options(synchronize_session=False)))
    db.session.commit()
    return job_id if taken else None


def run_queued_jobs(limit: int = 20) -> int:
    """The clock's job: every waiting import, one after the other; old jobs deleted. How many ran."""
    delete_import_jobs_before(utcnow() - KEEP_JOBS)
    db.session.commit()
    ran = 0
    while ran < limit:
        job_id = claim_next()
        if job_id is None:
            break
        process(job_id)
        ran += 1
    return ran


_working = threading.Lock()


def run_queued_jobs_unless_busy() -> int:
    """The clock's job: `run_queued_jobs`, unless the previous tick is still importing; then it
    returns at once. The clock lets such a tick start (`max_instances=2`), so that APScheduler
    does not log a skipped run every two seconds of a long import."""
    if not _working.acquire(blocking=False):
        return 0
    try:
        return run_queued_jobs()
    finally:
        _working.release()
