"""Benchmark: one due-scan tick over the national calendar (30,000 series, about 1.5 million
occurrences in twelve months), against a baseline measured in the same run.

The tick is `scheduler.notifications.due.due_reminders` for the busiest minute of the day: the one ending
at 9:00 in Paris on a weekday, when every partner's "two days before at 9:00" and every
subscriber's "the day before at 9:00" fall due at once. It expands only the few days whose
occurrences can have a reminder in that minute. A quiet minute (no reminder time in any zone in
use) is timed too: `anything_due` says so without expanding anything.

The baseline answers the same question the obvious way: at each tick, expand every series over
its twelve months, compute each occurrence's reminder instants, keep those in the minute. Both
must find the same reminders.

Times are CPU seconds of this process (the cores are shared), best of `--repeat` runs for the
tick, one run for the baseline. Target (issue 5): a busy tick takes at most 1 s; `--check` exits
non-zero when missed. Last line starts with BENCH.

Then (issue 21, `--skip-send` leaves it out) the minute end to end: the same calendar loaded in a
new PostgreSQL database (BENCH_POSTGRES_ADMIN_URL, default postgresql://postgres@127.0.0.1:5432),
`--senders` sender processes (`python -m scheduler send`, default 4) already running, the clock's
scan of the busiest minute run at its due instant, and every message handed to an SMTP server
(aiosmtpd, in this process). Lateness of each message = its arrival at the server minus the
due instant; p50/p99/max printed. Target: max ≤ 60 s (`--check`).
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time as timer
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.national import SEED, load_national, national_rules, national_window
from models.deliveries import DEFAULT_OFFSETS, SUBSCRIBER_OFFSETS
from scheduler.notifications.due import anything_due, due_reminders, reminder_due
from scheduler.time.recurrence import expand
from tests.helpers.processes import stop_process_groups

TARGET_SECONDS = 1.0
TARGET_LATENESS_SECONDS = 60.0
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
OFFSETS = sorted(set(DEFAULT_OFFSETS) | set(SUBSCRIBER_OFFSETS))


def baseline(rules, offsets, lo: int, hi: int, window) -> list:
    """Every series expanded over its twelve months at each tick, then filtered."""
    found = []
    for occurrence in expand(rules, *window):
        if occurrence.is_cancelled:
            continue
        for offset in offsets:
            due = reminder_due(occurrence, offset)
            if lo < due <= hi and due < occurrence.starts_at:
                found.append((occurrence, offset, due))
    return found


def cpu(fn, repeat: int = 1):
    best, result, wall = float("inf"), None, 0.0
    for _ in range(repeat):
        w0, c0 = timer.perf_counter(), timer.process_time()
        result = fn()
        c1, w1 = timer.process_time(), timer.perf_counter()
        if c1 - c0 < best:
            best, wall = c1 - c0, w1 - w0
    return best, wall, result


def key(found) -> set:
    return {(o.event_id, o.recurrence_id, offset.key, due) for o, offset, due in found}


class Arrivals:
    """aiosmtpd handler: when each message arrived (wall clock), nothing else kept."""

    def __init__(self):
        self.times: list[float] = []

    async def handle_DATA(self, server, session, envelope):
        self.times.append(timer.time())
        return "250 OK"


def smtp_floor(port: int, count: int, arrivals: Arrivals) -> float:
    """The floor of the same run: `count` copies of one message, rendered beforehand, handed to
    the same aiosmtpd by one process on one connection (seconds until the last arrived)."""
    import smtplib

    from scheduler.notifications.mail import WIRE_POLICY, build_message

    if not count:
        return 0.0
    body = build_message(to="plancher@example.fr", subject="Rappel : plancher", text="Pour rappel. " * 40,
                         html="<p>Pour rappel.</p>" * 40,
                         attachments=[("evenement.ics", "text/calendar", b"BEGIN:VCALENDAR\r\n" * 40)]
                         ).as_bytes(policy=WIRE_POLICY)
    before = len(arrivals.times)
    t0 = timer.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(count):
            smtp.sendmail("ne-pas-repondre@maillage.localhost", ["plancher@example.fr"], body)
    while len(arrivals.times) < before + count:
        timer.sleep(0.001)
    return timer.perf_counter() - t0


def send_the_busy_minute(scale: float, seed: int, busy: datetime, senders: int) -> dict:
    """The busiest minute end to end on PostgreSQL: scan at the due instant, `senders` processes
    send; returns the lateness of each message at the SMTP server."""
    import socket

    import sqlalchemy as sa
    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade

    from app import create_app
    from models import Delivery, db
    from models.deliveries import ScanMark
    from scheduler.notifications.sending import SCAN_MARK, scan

    name = f"maillage_bench_senders_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    arrivals = Arrivals()
    controller = Controller(arrivals, hostname="127.0.0.1", port=port)
    controller.start()
    processes: list[subprocess.Popen] = []
    logs = tempfile.TemporaryDirectory()
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SMTP_URL": f"smtp://127.0.0.1:{port}",
                          "SEPARATE_SENDERS": True, "SECRET_KEY": secrets.token_urlsafe(32)})
        with app.app_context():
            upgrade()
            load_national(db.engine, scale, seed, busy.date() - timedelta(days=9))
            # The clock scanned up to the minute before: this scan covers the busy minute alone.
            db.session.add(ScanMark(name=SCAN_MARK, scanned_until=busy - timedelta(minutes=1)))
            db.session.commit()
            env = {**os.environ, "DATABASE_URL": database_url, "SMTP_URL": f"smtp://127.0.0.1:{port}",
                   "SEPARATE_SENDERS": "1", "BASE_URL": "http://maillage.test", "PYTHONPATH": str(ROOT),
                   "SECRET_KEY": secrets.token_urlsafe(32)}
            for i in range(senders):
                log = Path(logs.name) / f"sender-{i}.log"
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "scheduler", "send", "--now", busy.isoformat()], cwd=ROOT, env=env,
                    stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True))
            logs_of = [Path(logs.name) / f"sender-{i}.log" for i in range(senders)]
            deadline = timer.monotonic() + 120
            while not all("expéditeur démarré" in p.read_text() for p in logs_of):
                if timer.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise SystemExit("the senders did not start: " + " | ".join(p.read_text() for p in logs_of))
                timer.sleep(0.2)
            due_at = timer.time()  # the wall-clock moment that stands for the due instant
            w0 = timer.perf_counter()
            counts = scan(busy)
            db.session.commit()
            scan_s = timer.perf_counter() - w0
            expected = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)
                                         .where(Delivery.state == "pending"))
            reminders = db.session.scalar(sa.select(sa.func.count(sa.distinct(
                sa.tuple_(Delivery.event_id, Delivery.recurrence_start, Delivery.offset))))
                .where(Delivery.kind == "reminder"))
            db.session.remove()
            deadline = timer.monotonic() + 600
            while len(arrivals.times) < expected and timer.monotonic() < deadline:
                timer.sleep(0.2)
            with app.app_context():
                states = dict(db.session.execute(sa.select(Delivery.state, sa.func.count())
                                                 .group_by(Delivery.state)).all())
                db.session.remove()
                db.engine.dispose()
        lateness = sorted(t - due_at for t in arrivals.times)
        floor_s = smtp_floor(port, len(lateness), arrivals)
        return {"floor_s": floor_s, "recorded": counts["pending"], "expected": expected, "reminders": reminders,
                "scan_s": scan_s,
                "arrived": len(lateness), "states": states, "p50": statistics.median(lateness) if lateness else None,
                "p99": lateness[int(len(lateness) * 0.99) - 1] if lateness else None,
                "max": lateness[-1] if lateness else None}
    finally:
        stop_process_groups(processes, wait=30)
        controller.stop()
        logs.cleanup()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--senders", type=int, default=4, help="sender processes for the busy minute")
    parser.add_argument("--skip-send", action="store_true", help="leave out the busy minute sent end to end")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()

    t0 = timer.perf_counter()
    rules = national_rules(args.scale, args.seed)
    window = national_window()
    print(f"national calendar: {len(rules)} series, built in {timer.perf_counter() - t0:.1f} s")

    # The busiest minute: Wednesday of the second week, 9:00 in Paris.
    paris = ZoneInfo("Europe/Paris")
    day = window[0].astimezone(paris).date() + timedelta(days=9)
    busy_hi = int(datetime.combine(day, time(9, 0), paris).timestamp())
    busy_lo = busy_hi - 60
    quiet_hi = busy_hi + 3 * 3600 + 17 * 60  # 12:17: no reminder time in any zone
    zones = {r.timezone for r in rules}

    quiet_cpu, _quiet_wall, quiet_due = cpu(lambda: anything_due(zones, OFFSETS, quiet_hi - 60, quiet_hi), args.repeat)
    tick_cpu, tick_wall, found = cpu(lambda: list(due_reminders(rules, OFFSETS, busy_lo, busy_hi)), args.repeat)
    base_cpu, base_wall, expected = cpu(lambda: baseline(rules, OFFSETS, busy_lo, busy_hi, window))

    if key(found) != key(expected):
        print(f"MISMATCH: tick found {len(found)} reminders, baseline {len(expected)}")
        return 1
    ratio = base_cpu / tick_cpu if tick_cpu else float("inf")
    print(f"busy tick ({day} 09:00 Paris): {len(found)} reminders due, {tick_cpu:.3f} s CPU ({tick_wall:.3f} s wall)")
    print(f"quiet tick (12:17): reminders possibly due: {quiet_due}, {quiet_cpu * 1000:.2f} ms CPU")
    print(f"baseline (expand every series over 12 months at each tick): {base_cpu:.2f} s CPU "
          f"({base_wall:.2f} s wall), same {len(expected)} reminders")
    ok = tick_cpu <= TARGET_SECONDS and not quiet_due
    sent = ""
    if not args.skip_send:
        busy = datetime.combine(day, time(9, 0), paris).astimezone(UTC)
        minute = send_the_busy_minute(args.scale, args.seed, busy, args.senders)
        print(f"busy minute sent ({args.senders} senders, PostgreSQL, aiosmtpd): {minute['reminders']} reminders "
              f"due, {minute['expected']} messages recorded by the scan in {minute['scan_s']:.1f} s, "
              f"{minute['arrived']} arrived; deliveries {minute['states']}")
        if minute["arrived"] < minute["expected"] or minute["max"] is None:
            ok = False
            sent = " send=INCOMPLETE"
        else:
            print(f"lateness after the due instant: p50 {minute['p50']:.1f} s, p99 {minute['p99']:.1f} s, "
                  f"max {minute['max']:.1f} s — target max ≤ {TARGET_LATENESS_SECONDS:.0f} s")
            print(f"floor of this run: the same {minute['arrived']} messages, rendered beforehand, handed to the "
                  f"same aiosmtpd by one process in {minute['floor_s']:.1f} s; max lateness / floor = "
                  f"{minute['max'] / minute['floor_s']:.1f}x; load average {os.getloadavg()[0]:.1f}")
            ok = ok and minute["max"] <= TARGET_LATENESS_SECONDS
            sent = (f" senders={args.senders} messages={minute['arrived']} late_p50={minute['p50']:.1f}s "
                    f"late_p99={minute['p99']:.1f}s late_max={minute['max']:.1f}s floor={minute['floor_s']:.1f}s")
    print(f"BENCH reminders busy_tick={tick_cpu:.3f}s quiet_tick={quiet_cpu * 1000:.2f}ms "
          f"baseline={base_cpu:.2f}s ratio={ratio:.1f}x target<= {TARGET_SECONDS:.1f}s{sent} "
          f"{'OK' if ok else 'MISSED'}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
