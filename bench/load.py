"""Load test: hundreds of feed subscribers polling with conditional GET, visitors on the public
pages and a few editors writing through the API, on PostgreSQL and gunicorn as the Procfile
runs them (issue 7, item 2).

    python bench/load.py [--users 400] [--seconds 60] [--scale 0.05] [--workers N] [--check]

What it does, all on 127.0.0.1:
1. creates a fresh PostgreSQL database (server at 127.0.0.1:5432, user postgres; dropped at the
   end, whatever happens), migrates it (`flask db upgrade`), bulk-loads the shared synthetic
   calendar at a reduced scale (bench/national.py: at 0.05, 75 quartiers, 500 partners, 1,500
   series, about 74,000 occurrences a year: a large region), then the demo territory
   (`flask demo load`), and creates one API token per editor (`flask tokens create`);
2. starts the Procfile's `web:` line as it is (through `sh -c`, with BIND, PORT and
   WEB_CONCURRENCY set) and asks each feed and page once, as a running service would have;
3. runs locust headless (bench/locustfile.py), bounded in users and time: first the baseline, a
   static file through the same gunicorn (no database), then the mix: subscribers (If-None-Match),
   visitors, and editors whose every acknowledged write (HTTP 200) is then checked in the database;
   the users are started over 5 s and locust's figures are those of the run after that (the
   ramp-up's requests are printed apart, and an error during it fails the run too);
4. prints the figures; the last line starts with BENCH. Target (--check exits 1 when missed):
   >= 500 requests/s, p99 <= 100 ms, no error, no acknowledged write missing.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TARGET_RPS, TARGET_P99_MS = 500.0, 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web_line() -> str:
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise SystemExit("Procfile has no web: line")


def procfile_workers() -> int:
    """The workers the Procfile's web line starts when WEB_CONCURRENCY is not set."""
    found = re.search(r"\$\{WEB_CONCURRENCY:-(\d+)\}", procfile_web_line())
    return int(found.group(1)) if found else 1


def flask(env: dict, *args: str) -> str:
    done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def load_data(url: str, scale: float, env: dict) -> None:
    from app import create_app
    from bench.national import load_national
    from models import db

    flask(env, "db", "upgrade")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        t0 = time.perf_counter()
        cal = load_national(db.engine, scale=scale)
        print(f"national calendar at scale {scale}: {cal.summary()} ({time.perf_counter() - t0:.1f} s)")
        db.engine.dispose()
    print(flask(env, "demo", "load").strip().splitlines()[-1])
    # As in a running territory, the nightly detection has recorded the overlaps: a write then
    # updates records rather than finding its series' conflicts for the first time.
    print(flask(env, "conflicts", "detect").strip().splitlines()[-1])


def choose_targets(url: str, env: dict, folder: Path, rng: random.Random, n_editors: int = 3) -> dict:
    """The feeds, pages and editors of the run, from the database just loaded."""
    from app import create_app
    from models import Event, Partner, Place, Quartier, db
    from models.events import event_organisers
    from scheduler.time.calendar import CalendarFilter, occurrences_between

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        s = db.session
        partners = list(s.scalars(sa.select(Partner.slug).order_by(Partner.id)))
        places = list(s.scalars(sa.select(Place.slug).order_by(Place.id)))
        quartiers = list(s.scalars(sa.select(Quartier.code).order_by(Quartier.id)))
        public_events = list(s.scalars(sa.select(Event.id).where(Event.visibility == "public").order_by(Event.id)))
        feeds = (["/feeds/all.ics"]
                 + [f"/feeds/partners/{p}.ics" for p in rng.sample(partners, min(200, len(partners)))]
                 + [f"/feeds/places/{p}.ics" for p in rng.sample(places, min(100, len(places)))]
                 + [f"/feeds/quartiers/{q}.ics" for q in rng.sample(quartiers, min(40, len(quartiers)))]
                 + [f"/feeds/quartiers/{q}.ics?kind=permanence"
                    for q in rng.sample(quartiers, min(10, len(quartiers)))])
        pages = (["/", "/?jeunes=1"]
                 + [f"/quartiers/{q}" for q in rng.sample(quartiers, min(40, len(quartiers)))]
                 + [f"/lieux/{p}" for p in rng.sample(places, min(60, len(places)))]
                 + [f"/evenements/{e}" for e in rng.sample(public_events, min(60, len(public_events)))])

        # Editors: partners with several public recurring series; each writes to its own events.
        busiest = s.execute(
            sa.select(event_organisers.c.partner_id, sa.func.count().label("n"))
            .join(Event, Event.id == event_organisers.c.event_id)
            .where(Event.visibility == "public", Event.frequency != "once")
            .group_by(event_organisers.c.partner_id).order_by(sa.desc("n"), event_organisers.c.partner_id)
            .limit(n_editors)).all() if n_editors else []
        now = datetime.now().astimezone()
        editors = []
        for i, row in enumerate(busiest):
            partner = s.get(Partner, row.partner_id)
            pairs = occurrences_between(CalendarFilter(partner=partner.slug), now + timedelta(days=1),
                                        now + timedelta(days=60))
            first = {}
            for o, e in pairs:
                if not o.is_cancelled and not o.is_moved:
                    first.setdefault(e.id, o.recurrence_start.isoformat())
            token = flask(env, "tokens", "create", f"editeur-{i}@charge.maillage.test", "--role", "editor",
                          "--partner", partner.slug).strip().splitlines()[-1]
            editors.append({"partner": partner.slug, "token": token,
                            "occurrences": [[e, r] for e, r in sorted(first.items())]})
        db.engine.dispose()
    return {"feeds": feeds, "pages": pages, "editors": editors, "acknowledged": str(folder / "acknowledged.jsonl")}


def get(url: str, timeout: float = 120) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status


# The Procfile's access log (`--access-logfile -`), with the time gunicorn spent on each request.
ACCESS_LOG_FORMAT = "%(m)s %(U)s%(q)s %(s)s %(M)s"


def start_web(port: int, workers: int, env: dict, log: Path, access_log: Path | None = None) -> subprocess.Popen:
    """The Procfile's web line as honcho would run it (a shell), on 127.0.0.1:port, in a process
    group of its own (os.killpg ends it and its workers). `access_log`: where its access log goes,
    each line ending with the milliseconds gunicorn spent on the request (GUNICORN_CMD_ARGS,
    the line itself unchanged)."""
    web_env = {**env, "BIND": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
               "PATH": f"{BIN}:{env.get('PATH', os.environ.get('PATH', ''))}"}
    if access_log is not None:
        web_env["GUNICORN_CMD_ARGS"] = f"--access-logformat '{ACCESS_LOG_FORMAT}'"
    server = subprocess.Popen(["sh", "-c", f"exec {procfile_web_line()}"], cwd=ROOT, env=web_env,
                              stdout=open(access_log, "w") if access_log else subprocess.DEVNULL,
                              stderr=open(log, "w"), start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            get(f"http://127.0.0.1:{port}/static/maillage.css", timeout=5)
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)


def server_times(access_log: Path, skip_lines: int, count: int | None = None) -> dict:
    """What gunicorn itself spent on the requests logged after the first `skip_lines` lines (the
    mix), or on the `count` first of them: the difference with what locust measured is the wait
    for a free worker and for a core."""
    times, slow = [], {}
    lines = access_log.read_text(encoding="utf-8", errors="replace").splitlines()[skip_lines:]
    for line in lines[:count] if count is not None else lines:
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        method, target, ms = parts[0], parts[1].split("?")[0], int(parts[3])
        times.append(ms)
        if ms >= TARGET_P99_MS:
            label = "write" if method != "GET" else ("feed" if target.startswith("/feeds/") else "page")
            slow[label] = slow.get(label, 0) + 1
    times.sort()
    at = lambda q: times[min(len(times) - 1, int(len(times) * q))] if times else 0  # noqa: E731
    return {"count": len(times), "p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "slow": slow}


def cpu_seconds(pgid: int | None = None, name: str | None = None) -> float:
    """CPU seconds used so far by the live processes of a process group, or whose command line
    contains `name` (where the load test's CPU goes: gunicorn, PostgreSQL, locust)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (pgid is not None and int(fields[2]) == pgid) or (name is not None and name in command):
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


# Users are started over this many seconds; locust's figures start once all of them are running.
RAMP_UP_SECONDS = 5


def run_locust(host: str, users: int, seconds: int, classes: list[str], env: dict, prefix: Path) -> dict:
    """Runs locust for the ramp-up then `seconds` with every user running. Its figures (rps,
    percentiles) are those of the `seconds` (--reset-stats): while hundreds of users are being
    started, the locust process itself, on the same two cores, is what is slow (gunicorn's own
    times say so). The ramp-up's requests are counted apart (bench/locustfile.py) and a failure
    during it is a failure of the run all the same."""
    run_log = Path(f"{prefix}_run.json")
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--only-summary",
               "--users", str(users), "--spawn-rate", str(max(1, users // RAMP_UP_SECONDS)), "--reset-stats",
               "--run-time", f"{seconds + RAMP_UP_SECONDS}s",
               "--host", host, "--csv", str(prefix), "--stop-timeout", "10", "--loglevel", "WARNING", *classes]
    children = os.times()
    done = subprocess.run(command, env={**env, "LOAD_RUN_LOG": str(run_log)}, timeout=seconds + 120,
                          capture_output=True, text=True)
    after = os.times()
    locust_cpu = after.children_user + after.children_system - children.children_user - children.children_system
    try:
        rows = {row["Name"]: row for row in csv.DictReader(open(f"{prefix}_stats.csv", encoding="utf-8"))}
        whole = json.loads(run_log.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"locust wrote no figures:\n{done.stderr[-3000:]}") from None
    failures = Path(f"{prefix}_failures.csv").read_text(encoding="utf-8").splitlines()[1:]
    total = rows.pop("Aggregated")
    return {"locust_cpu": locust_cpu, "rps": float(total["Requests/s"]),
            "p50": float(total["50%"]), "p99": float(total["99%"]),
            "max": float(total["Max Response Time"]), "requests": int(total["Request Count"]),
            "failures": int(total["Failure Count"]), "failure_lines": failures[:10],
            "whole": whole["whole"], "ramp_up": whole["ramp_up"], "after_ramp_up": whole["after_ramp_up"],
            "spawn_seconds": whole["spawn_seconds"],
            "by_name": {name: (int(r["Request Count"]), float(r["Requests/s"]), float(r["50%"]), float(r["99%"]),
                               int(r["Failure Count"])) for name, r in rows.items()}}


def lost_writes(url: str, acknowledged: Path) -> tuple[int, int]:
    """(acknowledged renames, of which missing): each event must carry the last title acknowledged
    for it, and every acknowledged title must be in its history (audit)."""
    from app import create_app
    from models import AuditEntry, Event, db

    last, titles = {}, []
    if acknowledged.exists():
        for line in acknowledged.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            last[item["event"]] = item["title"]
            titles.append(item)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        missing = sum(1 for event_id, title in last.items() if db.session.get(Event, event_id).title != title)
        history = " ".join(json.dumps(c, ensure_ascii=False) for c in db.session.scalars(
            sa.select(AuditEntry.changes).where(AuditEntry.entity_type == "events")))
        missing += sum(1 for item in titles if item["title"] not in history)
        db.engine.dispose()
    return len(titles), missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=400, help="simulated users (3 of them editors)")
    parser.add_argument("--seconds", type=int, default=60, help="length of the mixed run")
    parser.add_argument("--baseline-seconds", type=int, default=15)
    parser.add_argument("--scale", type=float, default=0.05, help="of bench/national.py's calendar")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", procfile_workers())),
                        help="WEB_CONCURRENCY given to the Procfile's web line (default: the Procfile's)")
    parser.add_argument("--editors", type=int, default=3, help="of the users, editors writing (0: reads only)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    name = f"maillage_bench_load_{uuid.uuid4().hex[:8]}"
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    folder = Path(tempfile.mkdtemp(prefix="maillage-load-"))
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-load-" + uuid.uuid4().hex,
           "BASE_URL": "http://127.0.0.1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           # Every simulated user comes from 127.0.0.1: the per-address feed limit stands for
           # thousands of addresses here.
           "RATELIMIT_FEEDS": "100000000 per minute"}
    server = None
    try:
        load_data(url, args.scale, env)
        targets = choose_targets(url, env, folder, random.Random(7), args.editors)
        (folder / "targets.json").write_text(json.dumps(targets), encoding="utf-8")
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        access_log = folder / "access.log"
        server = start_web(port, args.workers, env, folder / "gunicorn.log", access_log)
        t0 = time.perf_counter()
        for _ in range(args.workers):  # each worker keeps its own copy of what it built
            for path in targets["feeds"] + targets["pages"]:
                get(host + path)
        print(f"warm-up: {len(targets['feeds'])} feeds and {len(targets['pages'])} pages, "
              f"{args.workers} times, {time.perf_counter() - t0:.1f} s")
        load_env = {**os.environ, "LOAD_TARGETS": str(folder / "targets.json")}
        baseline = run_locust(host, args.users, args.baseline_seconds, ["StaticFile"], load_env, folder / "baseline")
        classes = ["Subscriber", "Visitor"] + (["Editor"] if targets["editors"] else [])
        before = cpu_seconds(pgid=server.pid), cpu_seconds(name="postgres: ")
        logged = len(access_log.read_text(encoding="utf-8", errors="replace").splitlines())
        mix = run_locust(host, args.users, args.seconds, classes, load_env, folder / "mix")
        used = {"gunicorn": cpu_seconds(pgid=server.pid) - before[0],
                "PostgreSQL": cpu_seconds(name="postgres: ") - before[1], "locust": mix["locust_cpu"]}
        acknowledged, missing = lost_writes(url, Path(targets["acknowledged"]))
        served = server_times(access_log, logged)
        served_ramp_up = server_times(access_log, logged, mix["ramp_up"]["requests"])  # logged in about that order
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    load = os.getloadavg()
    print(f"gunicorn: `{procfile_web_line()}` with WEB_CONCURRENCY={args.workers}; {args.users} users "
          f"({len(targets['editors'])} editors) for {args.seconds} s; load average at the end {load[0]:.1f}")
    print(f"baseline (static file, same gunicorn): {baseline['rps']:.0f} req/s, p50 {baseline['p50']:.0f} ms, "
          f"p99 {baseline['p99']:.0f} ms, {baseline['failures']} errors")
    for label, (count, rps, p50, p99, failures) in sorted(mix["by_name"].items()):
        print(f"  {label}: {count} requests, {rps:.1f} req/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms, {failures} errors")
    for line in mix["failure_lines"]:
        print(f"  failure: {line}")
    print("CPU during the mix (2 cores = " + f"{2 * (args.seconds + RAMP_UP_SECONDS)} s, the ramp-up with it): "
          + ", ".join(f"{k} {v:.1f} s ({v / max(mix['whole']['requests'], 1) * 1000:.2f} ms a request)"
                      for k, v in used.items()))
    ramp = mix["ramp_up"]
    print(f"ramp-up ({args.users} users started in {mix['spawn_seconds'] or 0:.1f} s, before locust's figures): "
          f"{ramp['requests']} requests, p99 {ramp['p99']:.0f} ms (gunicorn's own: {served_ramp_up['p99']} ms), "
          f"{ramp['failures']} errors; after it, counted by bench/locustfile.py: {mix['after_ramp_up']['requests']} "
          f"requests, p99 {mix['after_ramp_up']['p99']:.0f} ms; whole run: {mix['whole']['requests']} requests, "
          f"p99 {mix['whole']['p99']:.0f} ms, {mix['whole']['failures']} errors")
    print(f"gunicorn's own time on the {served['count']} requests of the mix (access log): p50 {served['p50']} ms, "
          f"p99 {served['p99']} ms, p99.9 {served['p999']} ms; at {TARGET_P99_MS:.0f} ms or more: "
          + (", ".join(f"{n} {label}s" for label, n in sorted(served["slow"].items())) or "none"))
    print(f"acknowledged editor writes checked in the database: {acknowledged}, missing: {missing}")
    errors = mix["whole"]["failures"]  # the ramp-up's too, which locust's own figures leave out
    ok = (mix["rps"] >= TARGET_RPS and mix["p99"] <= TARGET_P99_MS and errors == 0
          and missing == 0 and (acknowledged > 0 or not targets["editors"]))
    print(f"BENCH load: {mix['rps']:.0f} req/s ({mix['rps'] / max(baseline['rps'], 1e-9):.2f}x the static-file "
          f"baseline of {baseline['rps']:.0f}), p50 {mix['p50']:.0f} ms, p99 {mix['p99']:.0f} ms, "
          f"{errors} errors of {mix['whole']['requests']}, {missing} of {acknowledged} acknowledged writes lost; "
          f"target >= {TARGET_RPS:.0f} req/s, p99 <= {TARGET_P99_MS:.0f} ms, no error: "
          f"{'met' if ok else 'MISSED'}")
    if args.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
