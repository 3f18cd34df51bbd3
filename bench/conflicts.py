"""Benchmark: overlap detection on the national calendar (bench/national.py: 30,000 series,
about 1.5 million occurrences in twelve months).

Three figures (issue 3), each against what the same run measures:
1. full detection: expanding every series over twelve months and detecting every conflict
   (`scheduler.time.recurrence.expand` + `scheduler.conflicts.detection.detect`) — target ≤ 10 s of CPU;
2. the sweep against the naive comparison of every pair (`detect_pairwise`) on the same 5,000
   occurrences (the first 5,000 by start: the densest days, so both find conflicts; both must find
   the same ones) — target ≥ 100×;
3. the incremental check of one write (`check_event` after moving one occurrence, flushed, then
   rolled back) with the whole calendar and its conflicts stored in PostgreSQL — target p95 ≤ 50 ms
   (wall time: the database is part of it). Needs PostgreSQL at 127.0.0.1:5432 (or
   --database-url of an EMPTY database); `--skip-db` leaves it out.

4. the free-slot search of a case's page (`scheduler.conflicts.options.free_slots`: the three nearest
   slots of a case's next date opening no hard overlap) on cases drawn from the stored calendar —
   target p95 ≤ 200 ms (wall time, PostgreSQL);
5. the case listing of the national calendar: its conflicts grouped into cases (set up in SQL,
   not measured: the nightly run keeps them), then the dashboard's first page as a national
   coordinator sees it (`cases_query`: the count, the first 50 cases, their cards), and the same
   first page through GET /api/v1/conflict-cases — target p95 ≤ 500 ms for both.
   4 and 5 run once untimed first (a served process has compiled its statements), and time a
   trivial indexed query beside each measure: its p95 says how loaded the machine was.
6. a whole write through the API that opens an overlap on each date of a year's weekly series, p95
   against the same write without overlaps (`writes_with_conflicts`) — target p95 ≤ 1 s and ≤ 5×.

7. the real command (issue 21): `flask --app app conflicts detect` run as a child process on the
   calendar loaded in a new PostgreSQL database, twice: wall time and peak RSS of each run (the
   child's own rusage, `os.wait4`); the second run, with nothing changed, must write nothing (row
   counts and last update of conflicts, cases, history and notices compared). Targets at scale 1.0:
   first run ≤ 2 min and ≤ 1 GB, second ≤ 1 min. At a smaller `--scale` the times are also shown
   divided by the scale (what they would be if they grew linearly) against the full targets.
   `--only-command` runs this part alone; `--skip-command` leaves it out.

CPU seconds of this process are reported for 1 and 2 (the cores are shared). `--check` exits
non-zero when a target is missed. Last line starts with BENCH.
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import time as timer
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.national import SEED, build_national, load_national, national_window
from scheduler.conflicts.check import competing_audiences, person_limits
from scheduler.conflicts.detection import DetectionContext, detect, detect_pairwise
from scheduler.time.recurrence import expand, gc_paused

TARGET_FULL_SECONDS = 10.0
TARGET_RATIO = 100.0
TARGET_P95_MS = 50.0
TARGET_COMMAND_SECONDS = 120.0
TARGET_SECOND_RUN_SECONDS = 60.0
TARGET_COMMAND_RSS_MB = 1024.0
TARGET_SLOTS_P95_MS = 200.0
TARGET_CASES_P95_MS = 500.0
TARGET_FLOOD_P95_MS = 1000.0
TARGET_FLOOD_RATIO = 5.0
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
CASE_PAGES = 20  # times the first page of cases is listed
SLOT_SEARCHES = 100
SAMPLE = 5000
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def context_of(cal) -> DetectionContext:
    """The detection context from the generator's rows (what `scheduler.conflicts.check._context` reads
    from the database)."""
    margins, limits = person_limits(SimpleNamespace(max_concurrent=None, **p) for p in cal.people)
    events = [SimpleNamespace(**{"age_min": None, "age_max": None, "audience_tags": [], **e}) for e in cal.events]
    return DetectionContext(
        place_quartier={p["id"]: p["quartier_id"] for p in cal.places if p.get("quartier_id") is not None},
        audiences=competing_audiences(events), travel_margin=margins, max_concurrent=limits)


def cpu() -> float:
    return timer.process_time()


def full_detection(cal, window) -> tuple[float, float, list, dict]:
    ctx = context_of(cal)
    t0 = cpu()
    occurrences = expand(cal.rules, *window)
    t1 = cpu()
    with gc_paused():
        found = detect(occurrences, ctx)
    t2 = cpu()
    return t1 - t0, t2 - t1, occurrences, found


def sweep_against_pairwise(occurrences, ctx) -> tuple[float, float, int]:
    sample = sorted((o for o in occurrences if not o.is_cancelled), key=lambda o: (o.starts_at, o.event_id))[:SAMPLE]
    best_sweep = float("inf")
    for _ in range(5):
        t0 = cpu()
        swept = detect(sample, ctx)
        best_sweep = min(best_sweep, cpu() - t0)
    t0 = cpu()
    naive = detect_pairwise(sample, ctx)
    naive_time = cpu() - t0
    if set(swept) != set(naive):
        raise SystemExit(f"the sweep and the pairwise comparison disagree: {len(swept)} vs {len(naive)}")
    return best_sweep, naive_time, len(naive)


def incremental_in_postgresql(scale: float, seed: int, start, database_url: str | None, writes: int) -> dict:
    flood_count = max(20, writes // 5)  # `writes` names the write service below
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from models import Event, ScheduleConflict, db
    from scheduler.time.recurrence import rule_of
    from scheduler.writes import EventWrites

    owned = database_url is None
    if owned:
        name = f"maillage_bench_conflicts_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
        with app.app_context():
            upgrade()
            t0 = timer.perf_counter()
            cal = load_national(db.engine, scale, seed, start)
            load_seconds = timer.perf_counter() - t0
            window = national_window(start)
            now = window[0]
            # The conflicts as the nightly detection leaves them (bulk-inserted: setting up is not measured).
            found = detect(expand(cal.rules, *window), context_of(cal))
            rows = [{"kind": f.kind, "severity": "warning" if f.kind == "audience" else "hard", "status": "open",
                     "a_event_id": f.a[0], "a_recurrence_id": f.a[1], "b_event_id": f.b[0],
                     "b_recurrence_id": f.b[1], "subject": f.subject,
                     "starts_at": datetime.fromtimestamp(f.starts_at, UTC),
                     "ends_at": datetime.fromtimestamp(f.ends_at, UTC), "details": f.details,
                     "signature": f.signature, "reason": "", "opened_at": now, "updated_at": now}
                    for f in found.values()]
            with db.engine.begin() as conn:
                for i in range(0, len(rows), 5000):
                    conn.execute(ScheduleConflict.__table__.insert(), rows[i:i + 5000])
                conn.execute(sa.text("ANALYZE"))
            rng = random.Random(seed)
            event_ids = rng.sample([e["id"] for e in cal.events], writes)
            actor = SimpleNamespace(id=None, can_edit_event=lambda e: True, can_edit_place=lambda p: True,
                                    is_coordinator=True, require=lambda allowed, message="": None)
            checks, whole = [], []
            for event_id in event_ids:
                db.session.rollback()
                t0 = timer.perf_counter()
                event = db.session.get(Event, event_id)
                occurrences = [o for o in expand([rule_of(event)], *window) if not o.is_cancelled and not o.is_moved]
                if not occurrences:
                    continue
                target = rng.choice(occurrences)
                moved = datetime.fromtimestamp(target.starts_at + 3600, UTC)
                # The write as the API makes it: the rows, then the incremental check (timed apart).
                writes = EventWrites(actor, now=now)
                writes.move_occurrence(event, target.recurrence_start, starts_at=moved,
                                       ends_at=moved + timedelta(seconds=target.ends_at - target.starts_at))
                t1 = timer.perf_counter()
                writes.finish()
                t2 = timer.perf_counter()
                checks.append((t2 - t1) * 1000)
                whole.append((t2 - t0) * 1000)
                db.session.rollback()
            cases = _cases_in_sql(now)
            slots, slots_base = _free_slot_searches(rng, now)
            listing, listing_base = _first_page_of_cases()
            db.session.remove()
            api_listing, api_base = _api_first_page(app)
            db.session.remove()
            flooding = writes_with_conflicts(app, cal, rng, flood_count)
            db.session.remove()
            db.engine.dispose()
        return {"load_s": load_seconds, "stored_conflicts": len(rows), "writes": len(checks),
                "p50": statistics.median(checks), "p95": _p95(checks), "p95_whole": _p95(whole),
                "cases": cases, "slots_p50": statistics.median(slots), "slots_p95": _p95(slots),
                "cases_p50": statistics.median(listing), "cases_p95": _p95(listing),
                "api_p50": statistics.median(api_listing), "api_p95": _p95(api_listing),
                "slots_base_p95": _p95(slots_base), "cases_base_p95": _p95(listing_base + api_base), **flooding}
    finally:
        if owned:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _cases_in_sql(now) -> int:
    """Groups the stored conflicts into their cases as `refresh_cases` would (kind and both
    series; capacity: the series one too many), in a few statements: set-up, not measured."""
    import sqlalchemy as sa

    from models import db

    def series(side: str, t: str = "") -> str:
        return (f"CASE WHEN {t}kind = 'capacity' THEN COALESCE(({t}details->>'excess_event_id')::int, {t}b_event_id) "
                f"ELSE {t}{side}_event_id END")

    a, b = series("a"), series("b")
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"""
            INSERT INTO conflict_cases (kind, severity, status, a_event_id, b_event_id, open_count, accepted_count,
                                        ended_count, first_starts_at, last_ends_at, next_starts_at, reason,
                                        opened_at, updated_at)
            SELECT kind, min(severity), 'open', {a}, {b}, count(*), 0, 0, min(starts_at), max(ends_at),
                   min(starts_at), '', :now, :now
            FROM conflicts GROUP BY kind, {a}, {b}"""), {"now": now})
        conn.execute(sa.text(f"""
            UPDATE conflicts SET case_id = k.id FROM conflict_cases k
            WHERE k.kind = conflicts.kind AND k.a_event_id = {series("a", "conflicts.")}
              AND k.b_event_id = {series("b", "conflicts.")}"""))
        conn.execute(sa.text("ANALYZE"))
        return conn.execute(sa.text("SELECT count(*) FROM conflict_cases")).scalar_one()


def _free_slot_searches(rng: random.Random, now) -> list[float]:
    """The free slots of the next date of random cases, as a case's page asks them (ms each)."""
    import sqlalchemy as sa

    from models import ConflictCase, ScheduleConflict, db
    from scheduler.conflicts.options import free_slots, occurrences_of
    from scheduler.writes.decisions import recurrence_of

    ids = list(db.session.scalars(sa.select(ConflictCase.id).where(ConflictCase.kind.in_(["place", "staff"]))))
    timings, baseline = [], []
    chosen = rng.sample(ids, min(SLOT_SEARCHES + 1, len(ids)))
    for n, case_id in enumerate(chosen):
        db.session.rollback()
        baseline.append(_baseline_ms())
        t0 = timer.perf_counter()
        case = db.session.get(ConflictCase, case_id)
        first = db.session.scalar(sa.select(ScheduleConflict).where(ScheduleConflict.case_id == case_id)
                                  .order_by(ScheduleConflict.starts_at).limit(1))
        event, other = case.a_event, case.b_event
        mine = occurrences_of(event, [recurrence_of(first, event)])
        if not mine:
            continue
        clear_of = occurrences_of(other, [recurrence_of(first, other)])
        free_slots(event, mine[0], clear_of, now=now)
        if n:  # the first warms the process (statements compiled once), as any page served before
            timings.append((timer.perf_counter() - t0) * 1000)
    db.session.rollback()
    return timings, baseline


def _baseline_ms() -> float:
    """One trivial indexed query (an event by id), timed beside each measure: what the loaded
    machine and database give anything at that moment."""
    import sqlalchemy as sa

    from models import db

    t0 = timer.perf_counter()
    db.session.execute(sa.text("SELECT id, title FROM events WHERE id = 1")).all()
    return (timer.perf_counter() - t0) * 1000


def _first_page_of_cases() -> list[float]:
    """The dashboard's first page for a national coordinator: count, 50 cases, their cards (ms each)."""
    import sqlalchemy as sa
    from flask import current_app, g

    from models import db
    from models.operations.cases import cases_query
    from web.cases import case_cards

    coordinator = SimpleNamespace(is_coordinator=True, territory_quartier_ids=set(), partner_id=None,
                                  can_edit_event=lambda e: True, is_authenticated=True)
    timings, baseline = [], []
    with current_app.test_request_context("/coordination/"):
        g._login_user = coordinator  # the signed-in coordinator, as flask-login keeps it for the request
        for n in range(CASE_PAGES + 1):
            db.session.rollback()
            baseline.append(_baseline_ms())
            t0 = timer.perf_counter()
            query = cases_query(coordinator, status="open")
            db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
            case_cards(list(db.session.scalars(query.limit(50))))
            if n:  # the first warms the process, as for the slots
                timings.append((timer.perf_counter() - t0) * 1000)
    return timings, baseline


def _api_first_page(app) -> tuple[list[float], list[float]]:
    """GET /api/v1/conflict-cases?status=open, 50 a page, as a national coordinator's token: the
    same list through the API (its count, its page, both series of each case) (ms each)."""
    from models import db
    from models.operations.users import create_api_token, get_or_create_user

    headers = {"Authorization": "Bearer " + create_api_token(get_or_create_user("bench@example.fr", "coordinator"))}
    db.session.commit()
    client = app.test_client()
    timings, baseline = [], []
    for n in range(CASE_PAGES + 1):
        db.session.rollback()
        baseline.append(_baseline_ms())
        t0 = timer.perf_counter()
        response = client.get("/api/v1/conflict-cases?status=open&page_size=50", headers=headers)
        elapsed = (timer.perf_counter() - t0) * 1000
        if response.status_code != 200 or len(response.get_json()) != 50:
            raise SystemExit(f"bench: the API's first page of cases answered {response.status_code}")
        if n:
            timings.append(elapsed)
    return timings, baseline


def writes_with_conflicts(app, cal, rng, count: int) -> dict:
    """4. A whole write through the API (POST /api/v1/events, a national coordinator's token,
    strict=false): a weekly series for a year at the place and time of a busy series of the
    calendar, so that it opens an overlap on each of its dates (and records their notices), against
    the same series at night at the same place (no overlap), alternated; each deleted after (not
    timed). Target: p95 ≤ 1 s and ≤ TARGET_FLOOD_RATIO × the p95 without overlaps."""
    from models import Event, ScheduleConflict, db
    from models.operations.users import create_api_token, get_or_create_user

    headers = {"Authorization": "Bearer " + create_api_token(get_or_create_user("bench@example.fr", "coordinator"))}
    db.session.commit()
    client = app.test_client()
    weekly = [e["id"] for e in cal.events if e.get("frequency") == "weekly" and not e.get("all_day")]
    timed: dict[str, list[float]] = {"overlapping": [], "free": []}
    opened = []
    for event_id in rng.sample(weekly, min(count, len(weekly))):
        event = db.session.get(Event, event_id)
        start = event.start_date
        body = {"kind": "permanence", "title": "Permanence du banc d'essai", "place": event.place.slug,
                "organisers": [p.slug for p in event.organisers][:1], "start_date": start.isoformat(),
                "recurrence": {"frequency": "weekly", "weekdays": [DAYS[(event.weekdays or [0])[0]]],
                               "until": (start + timedelta(days=364)).isoformat()}}
        end = datetime.combine(start, event.start_time) + timedelta(minutes=event.duration_minutes)
        if end.date() != start or event.start_time.hour < 5:
            continue  # past midnight, or in the night slot of the baseline
        for label, times in (("overlapping", (event.start_time, end.time())), ("free", ("03:00", "04:00"))):
            db.session.remove()
            t0 = timer.perf_counter()
            response = client.post("/api/v1/events?strict=false", headers=headers, json={
                **body, "start_time": str(times[0])[:5], "end_time": str(times[1])[:5]})
            elapsed = (timer.perf_counter() - t0) * 1000
            if response.status_code != 201:
                continue
            timed[label].append(elapsed)
            created = response.get_json()
            if label == "overlapping":
                new_id = created["id"]
                mine = db.or_(ScheduleConflict.a_event_id == new_id, ScheduleConflict.b_event_id == new_id)
                opened.append(db.session.scalar(db.select(db.func.count(ScheduleConflict.id)).where(mine)))
            assert client.delete(f"/api/v1/events/{created['id']}", headers=headers).status_code == 204
    if not timed["overlapping"] or not timed["free"]:
        raise SystemExit("bench: no write with overlaps went through (see the calendar's series)")
    return {"flood_writes": len(timed["overlapping"]), "flood_opened": statistics.median(opened or [0]),
            "flood_p95": _p95(timed["overlapping"]), "free_p95": _p95(timed["free"])}
def command_in_postgresql(scale: float, seed: int, start) -> dict:
    """`flask conflicts detect` twice as a child process on the loaded calendar: time, peak RSS,
    and whether the second run wrote anything."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from models import db

    name = f"maillage_bench_detect_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
        with app.app_context():
            upgrade()
            t0 = timer.perf_counter()
            load_national(db.engine, scale, seed, start)
            load_s = timer.perf_counter() - t0
            with db.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
            db.session.remove()
            db.engine.dispose()
        now = national_window(start)[0].isoformat()
        env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT),
               "SECRET_KEY": secrets.token_urlsafe(32)}
        flask = [str(Path(sys.executable).with_name("flask")), "--app", "app", "conflicts", "detect", "--now", now]
        engine = sa.create_engine(database_url)
        runs = []
        for _ in range(2):
            before = _footprint(engine)
            t0 = timer.perf_counter()
            child = subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
            assert child.stdout is not None
            output = child.stdout.read()
            _pid, status, usage = os.wait4(child.pid, 0)
            seconds = timer.perf_counter() - t0
            if status != 0:
                raise SystemExit(f"conflicts detect failed ({status}): {output}")
            runs.append({"s": seconds, "rss_mb": usage.ru_maxrss / 1024, "output": output.strip(),
                         "cpu_s": usage.ru_utime + usage.ru_stime, "load": os.getloadavg()[0],
                         "wrote": _footprint(engine) != before, "conflicts": _footprint(engine)[0][0]})
        engine.dispose()
        return {"load_s": load_s, "runs": runs}
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _footprint(engine) -> list:
    """Rows and last change of what detection writes: equal before and after = nothing written."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        return [tuple(conn.execute(sa.text(query)).one()) for query in (
            "SELECT count(*), max(id), max(updated_at) FROM conflicts",
            "SELECT count(*), max(id), max(updated_at) FROM conflict_cases",
            "SELECT count(*), max(id) FROM audit_entries",
            "SELECT count(*), max(id) FROM conflict_notices")]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--writes", type=int, default=200, help="writes timed for the incremental check")
    parser.add_argument("--database-url", default=None, help="an EMPTY PostgreSQL database (default: a fresh one)")
    parser.add_argument("--skip-db", action="store_true", help="leave out the incremental check in PostgreSQL")
    parser.add_argument("--skip-command", action="store_true", help="leave out the real command in PostgreSQL")
    parser.add_argument("--only-command", action="store_true", help="run the real command in PostgreSQL alone")
    parser.add_argument("--check", action="store_true", help="exit non-zero when a target is missed")
    args = parser.parse_args()
    if args.only_command:
        missed = run_command(args.scale, args.seed)
        if args.check and missed:
            sys.exit(1)
        return

    cal = build_national(args.scale, args.seed)
    window = national_window(cal.start)
    expand_s, detect_s, occurrences, found = full_detection(cal, window)
    full_s = expand_s + detect_s
    kinds = {}
    for f in found.values():
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    print(f"calendar: {cal.summary()}; {len(occurrences):,} occurrences over twelve months")
    print(f"full detection: {full_s:.2f} s CPU (expand {expand_s:.2f} s + detect {detect_s:.2f} s), "
          f"{len(found):,} conflicts {dict(sorted(kinds.items()))} — target ≤ {TARGET_FULL_SECONDS:.0f} s")
    sweep_s, naive_s, sample_found = sweep_against_pairwise(occurrences, context_of(cal))
    ratio = naive_s / sweep_s
    print(f"same {SAMPLE:,} occurrences ({sample_found} conflicts): sweep {sweep_s * 1000:.1f} ms, "
          f"pairwise {naive_s:.2f} s — {ratio:,.0f}x (target ≥ {TARGET_RATIO:.0f}x)")
    missed = []
    if full_s > TARGET_FULL_SECONDS:
        missed.append("full detection")
    if ratio < TARGET_RATIO:
        missed.append("ratio")
    p95 = slots_p95 = cases_p95 = flood_ratio = None
    if not args.skip_db:
        inc = incremental_in_postgresql(args.scale, args.seed, cal.start, args.database_url, args.writes)
        p95 = inc["p95"]
        print(f"incremental check in PostgreSQL ({inc['stored_conflicts']:,} conflicts stored, loaded in "
              f"{inc['load_s']:.0f} s): {inc['writes']} writes, p50 {inc['p50']:.1f} ms, p95 {p95:.1f} ms "
              f"(write + check p95 {inc['p95_whole']:.1f} ms) — target p95 ≤ {TARGET_P95_MS:.0f} ms")
        if p95 > TARGET_P95_MS:
            missed.append("incremental p95")
        print(f"free-slot search of a case's next date: p50 {inc['slots_p50']:.1f} ms, p95 "
              f"{inc['slots_p95']:.1f} ms ({inc['slots_p95'] / inc['slots_base_p95']:.0f}x a trivial indexed query "
              f"timed beside it, p95 {inc['slots_base_p95']:.2f} ms) — target p95 ≤ {TARGET_SLOTS_P95_MS:.0f} ms")
        print(f"cases: {inc['stored_conflicts']:,} conflicts in {inc['cases']:,} cases; the dashboard's first page "
              f"(count, 50 cases, their cards): p50 {inc['cases_p50']:.0f} ms, p95 {inc['cases_p95']:.0f} ms; "
              f"GET /api/v1/conflict-cases (count, 50 cases): p50 {inc['api_p50']:.0f} ms, p95 "
              f"{inc['api_p95']:.0f} ms (trivial indexed query beside them: p95 {inc['cases_base_p95']:.2f} ms) — "
              f"target p95 ≤ {TARGET_CASES_P95_MS:.0f} ms for both")
        if inc["slots_p95"] > TARGET_SLOTS_P95_MS:
            missed.append("free-slot p95")
        if max(inc["cases_p95"], inc["api_p95"]) > TARGET_CASES_P95_MS:
            missed.append("case listing p95")
        slots_p95, cases_p95 = inc["slots_p95"], max(inc["cases_p95"], inc["api_p95"])
        flood_ratio = inc["flood_p95"] / inc["free_p95"]
        print(f"write through the API opening overlaps ({inc['flood_writes']} series, median "
              f"{inc['flood_opened']:.0f} overlaps each): p95 {inc['flood_p95']:.0f} ms against "
              f"{inc['free_p95']:.0f} ms for the same series without overlaps — {flood_ratio:.1f}x "
              f"(target p95 ≤ {TARGET_FLOOD_P95_MS:.0f} ms and ≤ {TARGET_FLOOD_RATIO:.0f}x)")
        if inc["flood_p95"] > TARGET_FLOOD_P95_MS or flood_ratio > TARGET_FLOOD_RATIO:
            missed.append("write with overlaps")
    if not args.skip_command:
        missed += run_command(args.scale, args.seed, cal.start)
    print(f"BENCH conflicts full={full_s:.2f}s ratio={ratio:.0f}x "
          f"incremental_p95={'skipped' if p95 is None else f'{p95:.1f}ms'} "
          f"slots_p95={'skipped' if slots_p95 is None else f'{slots_p95:.1f}ms'} "
          f"cases_p95={'skipped' if cases_p95 is None else f'{cases_p95:.0f}ms'} "
          f"overlapping_write={'skipped' if flood_ratio is None else f'{flood_ratio:.1f}x'} "
          f"load={os.getloadavg()[0]:.1f} {'MISSED: ' + ', '.join(missed) if missed else 'targets met'}")
    if args.check and missed:
        sys.exit(1)


def run_command(scale: float, seed: int, start=None) -> list[str]:
    """Runs and prints part 4; returns the targets missed."""
    result = command_in_postgresql(scale, seed, start or national_window()[0].date())
    first, second = result["runs"]
    print(f"conflicts detect on the calendar at scale {scale} in PostgreSQL (loaded in {result['load_s']:.0f} s, "
          f"{first['conflicts']:,} conflicts recorded): first run {first['s']:.1f} s ({first['cpu_s']:.1f} s CPU "
          f"in the command, load {first['load']:.1f} after), peak RSS {first['rss_mb']:.0f} MB ({first['output']}); "
          f"second run {second['s']:.1f} s ({second['cpu_s']:.1f} s CPU, load {second['load']:.1f}), peak RSS "
          f"{second['rss_mb']:.0f} MB, wrote {'something' if second['wrote'] else 'nothing'} ({second['output']})")
    projected = (first["s"] / scale, second["s"] / scale)
    print(f"targets at scale 1.0: first ≤ {TARGET_COMMAND_SECONDS:.0f} s and ≤ {TARGET_COMMAND_RSS_MB:.0f} MB, "
          f"second ≤ {TARGET_SECOND_RUN_SECONDS:.0f} s writing nothing; times divided by the scale: "
          f"{projected[0]:.0f} s ({projected[0] / TARGET_COMMAND_SECONDS:.2f}x the target), "
          f"{projected[1]:.0f} s ({projected[1] / TARGET_SECOND_RUN_SECONDS:.2f}x)")
    missed = []
    if projected[0] > TARGET_COMMAND_SECONDS or first["rss_mb"] > TARGET_COMMAND_RSS_MB:
        missed.append("command first run")
    if projected[1] > TARGET_SECOND_RUN_SECONDS or second["wrote"]:
        missed.append("command second run")
    print(f"BENCH conflicts_command scale={scale} first={first['s']:.1f}s rss={first['rss_mb']:.0f}MB "
          f"second={second['s']:.1f}s wrote={'yes' if second['wrote'] else 'no'} "
          f"{'MISSED: ' + ', '.join(missed) if missed else 'targets met'}")
    return missed


if __name__ == "__main__":
    main()
