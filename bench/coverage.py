"""Coverage of the quartiers on the national calendar (bench/national.py: about 1.5 million
occurrences in twelve months), through the API a national coordinator calls: one département for
one month (the busiest one, the first whole month of the calendar), and the whole country for
that month.

    python bench/coverage.py [--scale 1.0] [--requests 40] [--database-url URL] [--check]

Wall time is what the targets speak of; the CPU time of this process is printed beside it (a
shared machine's load disturbs it less). Baseline in the same run: the bare expansion of the same
window and places (`rules_in_window` + `expand`, what coverage reads once), so the ratio says what
the report adds on top of it. Targets (--check): one département p95 <= 300 ms; the whole country
<= 5 s (the slowest of its runs).

Without --database-url it creates a fresh PostgreSQL database at 127.0.0.1:5432 (dropped at the
end), or a SQLite file when PostgreSQL cannot be reached. Last line starts with BENCH.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time as timer
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.national import load_national
from bench.public import fresh_database, p95

TARGET_DEPARTMENT_P95_MS = 300.0
TARGET_COUNTRY_MS = 5000.0
PARIS = ZoneInfo("Europe/Paris")


CPU_MS: dict[str, list[float]] = {"département": [], "country": []}  # this process's CPU time of each request


def timed_get(client, url: str, headers: dict, name: str) -> float:
    t0, c0 = timer.perf_counter(), timer.process_time()
    response = client.get(url, headers=headers)
    elapsed = (timer.perf_counter() - t0) * 1000
    CPU_MS[name].append((timer.process_time() - c0) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")
    body = response.get_json()
    if not body["quartiers"] or body["hours"] <= 0:
        raise SystemExit(f"{url}: an empty report ({body['hours']} h)")
    return elapsed


def expansion_ms(department: str | None, start: datetime, end: datetime) -> float:
    """The baseline: the one expansion coverage reads, alone (same window, same places)."""
    from models import Place, Quartier, db
    from scheduler.time.calendar import CalendarFilter, rules_in_window
    from scheduler.time.recurrence import expand

    t0 = timer.perf_counter()
    place_ids = None
    if department is not None:
        place_ids = tuple(db.session.scalars(sa.select(Place.id).join(Quartier, Place.quartier_id == Quartier.id)
                                             .where(Quartier.department == department)))
    f = CalendarFilter(include_private=True, include_cancelled_events=False, place_ids=place_ids)
    count = sum(1 for _ in expand(rules_in_window(f, start, end, people=False), start, end))
    elapsed = (timer.perf_counter() - t0) * 1000
    db.session.rollback()
    if not count:
        raise SystemExit("the baseline expanded nothing")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=40, help="requests for the département's p95")
    parser.add_argument("--country-runs", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 past {TARGET_DEPARTMENT_P95_MS:.0f} ms (département p95) or "
                             f"{TARGET_COUNTRY_MS / 1000:.0f} s (country)")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from models import Event, Place, Quartier, db
    from models.operations.users import create_api_token, get_or_create_user

    url, drop = (args.database_url, lambda: None) if args.database_url else fresh_database()
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "BASE_URL": "http://maillage.test", "RATELIMITS": {},
                          # Its own key: outside MAILLAGE_ENV=development the dev key is refused.
                          "SECRET_KEY": secrets.token_urlsafe(32)})
        with app.app_context():
            upgrade()
            t0 = timer.perf_counter()
            cal = load_national(db.engine, scale=args.scale)
            print(f"national calendar ({cal.summary()}) loaded in {timer.perf_counter() - t0:.1f} s "
                  f"on {db.engine.dialect.name}")
            busiest = db.session.execute(
                sa.select(Quartier.department, sa.func.count(Event.id).label("n"))
                .join(Place, Place.quartier_id == Quartier.id).join(Event, Event.place_id == Place.id)
                .group_by(Quartier.department).order_by(sa.desc("n")).limit(1)).one()
            # A national coordinator (no quartier of their own): the only one who may ask the country.
            coordinator = get_or_create_user("bench@coverage.test", "coordinator")
            headers = {"Authorization": f"Bearer {create_api_token(coordinator)}"}
            db.session.commit()
        first = (cal.start.replace(day=1) + timedelta(days=32)).replace(day=1)  # the first whole month of the calendar
        start = datetime.combine(first, time(), PARIS)
        end = datetime.combine((first + timedelta(days=32)).replace(day=1), time(), PARIS)
        window = f"start={start.isoformat().replace('+', '%2B')}&end={end.isoformat().replace('+', '%2B')}"
        client = app.test_client()
        department_url = f"/api/v1/coverage?department={busiest.department}&{window}"
        country_url = f"/api/v1/coverage?{window}"

        with app.app_context():
            department_base = [expansion_ms(busiest.department, start, end) for _ in range(5)]
            country_base = [expansion_ms(None, start, end) for _ in range(args.country_runs)]
        department = [timed_get(client, department_url, headers, "département") for _ in range(args.requests)]
        country = [timed_get(client, country_url, headers, "country") for _ in range(args.country_runs)]
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()

    dep_p95, country_worst = p95(department), max(country)
    print(f"département {busiest.department} ({busiest.n} series), {first:%B %Y}: "
          f"p50 {statistics.median(department):.0f} ms, "
          f"p95 {dep_p95:.0f} ms over {args.requests} requests (CPU p95 {p95(CPU_MS['département']):.0f} ms, "
          f"PostgreSQL's time not included) | its expansion alone: median "
          f"{statistics.median(department_base):.0f} ms | ratio {dep_p95 / statistics.median(department_base):.1f}x")
    print(f"whole country, {first:%B %Y}: {', '.join(f'{t:.0f}' for t in country)} ms (CPU "
          f"{', '.join(f'{t:.0f}' for t in CPU_MS['country'])} ms) | its expansion alone: median "
          f"{statistics.median(country_base):.0f} ms | ratio {country_worst / statistics.median(country_base):.1f}x")
    missed = [name for name, value, target in (("département", dep_p95, TARGET_DEPARTMENT_P95_MS),
                                                ("country", country_worst, TARGET_COUNTRY_MS)) if value > target]
    print(f"BENCH coverage (scale {args.scale}): département p95 {dep_p95:.0f} ms (target <= "
          f"{TARGET_DEPARTMENT_P95_MS:.0f}), country {country_worst:.0f} ms (target <= {TARGET_COUNTRY_MS:.0f}), "
          f"{dep_p95 / statistics.median(department_base):.1f}x and "
          f"{country_worst / statistics.median(country_base):.1f}x the bare expansion: "
          f"{'missed by ' + ', '.join(missed) if missed else 'met'}")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
