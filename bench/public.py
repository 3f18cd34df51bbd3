"""Server time of the public pages with the national calendar (about 1.5 million occurrences in
twelve months), against the JSON occurrences query for the same window in the same run.

Pages: the home page (the coming 7 days, nationwide) and the page of the busiest quartier (the
coming 4 weeks). Both are cached under the calendar's version, so the run also makes a real write
(an event of that quartier renamed, through the operation, committed) every WRITE_EVERY requests
and checks that the very next page shows it: the figures include the rebuilds writes cause.

    python bench/public.py [--scale 1.0] [--requests 200] [--database-url URL] [--only-pages] [--check]

The JSON side asks the page's window and follows its next links (500 occurrences a page) and
adds their times. Then the pages of the national week alone: the first and a middle page, p95,
against the whole week expanded and sorted in the same run (what one answer cost before pages);
target (--check) p95 <= 150 ms a page. `--only-pages`: these alone.

Without --database-url it creates a fresh PostgreSQL database at 127.0.0.1:5432 (dropped at the
end), or a SQLite file when PostgreSQL cannot be reached. Target (--check): p95 <= 50 ms for each
page.

Then writes nobody waits behind (issue 21): /feeds/all.ics and today's home page, warm (built),
then the first request after a write (an event of the home page renamed and committed), with the
rebuild after writes off (the reader rebuilds: the baseline) and on (the writer's process rebuilds
in the background from each series' fragments; the reader comes once the writer has answered and
the rebuild has ended, and, for information, at once), and as before issue 21 (the reader rebuilds
everything: no fragments). Target (--check): the first request after
a write, rebuild on, <= 2x the warm time, for both.

Then a search (`/?q=`) per request, each text typed once (a commune a letter short, as people
type): built for each text, never shared. Its p95 is printed against the quartier page's; target
(--check) p95 <= 250 ms. Last line starts with BENCH.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time as timer
import uuid
from datetime import datetime, timedelta
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

TARGET_P95_MS = 50.0
# A search (`/?q=`) is built for each text typed (what people type is never shared between
# processes): every request below types another commune, a letter short ("echirolle").
SEARCH_TARGET_P95_MS = 250.0
# A page (500) of the JSON occurrences of the national week (issue 21, item 3).
PAGE_TARGET_P95_MS = 150.0
WRITE_EVERY = 50
AFTER_WRITE_TARGET = 2.0  # the first request after a write, against the warm time
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def fresh_database() -> tuple[str, callable]:
    name = f"maillage_bench_public_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        folder = tempfile.mkdtemp(prefix="maillage-bench-")
        print("PostgreSQL unreachable: SQLite file instead")
        return f"sqlite:///{folder}/bench.sqlite3", lambda: None

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


CPU_TIMES: list[float] = []  # the benchmark process's CPU time of each request, ms


def timed(client, url: str) -> tuple[float, str]:
    t0, c0 = timer.perf_counter(), timer.process_time()
    response = client.get(url)
    elapsed = (timer.perf_counter() - t0) * 1000
    CPU_TIMES.append((timer.process_time() - c0) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return elapsed, response.get_data(as_text=True)


class BenchActor:
    """Writes as a coordinator of everything (what the API's coordinator token would do)."""

    id = None
    is_coordinator = True

    def can_edit_event(self, event):
        return True

    def may_name_partner(self, partner):
        return True

    def require(self, allowed, message=""):
        return None


SYSTEM = BenchActor()


def measure_page(app, client, url: str, requests: int) -> dict:
    """`requests` GETs of one page; every WRITE_EVERY, a committed write to an event the page
    shows, then a check that the next response shows it."""
    import re

    from models import Event, db
    from scheduler.writes import update_event

    times, writes, cold, rename_event_id, rebuilt = [], 0, None, None, []
    CPU_TIMES.clear()
    for i in range(requests):
        if i and i % WRITE_EVERY == 0:
            with app.app_context():
                event = db.session.get(Event, rename_event_id)
                title = f"Permanence emploi (bench {uuid.uuid4().hex[:6]})"
                update_event(SYSTEM, event, {"title": title})
                db.session.commit()
            writes += 1
            elapsed, html = timed(client, url)
            rebuilt.append(elapsed)  # the rebuild the write causes
            if title not in html:
                raise SystemExit(f"STALE: {url} does not show the write just committed")
        else:
            elapsed, html = timed(client, url)
        if cold is None:
            cold = elapsed
            rename_event_id = int(re.search(r'data-event-id="(\d+)"', html).group(1))
        times.append(elapsed)
    return {"p50": statistics.median(times), "p95": p95(times), "max": max(times), "cold": cold,
            "cpu_p95": p95(CPU_TIMES), "rebuilt": rebuilt,
            "writes": writes, "bytes": len(html.encode())}


def all_pages(client, url: str) -> tuple[float, list[tuple[str, float, list]]]:
    """Every page of an occurrences query, following its next links: the total time, and each
    page's url, time and occurrences."""
    pages = []
    while url:
        t0 = timer.perf_counter()
        response = client.get(url)
        elapsed = (timer.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        pages.append((url, elapsed, response.get_json()))
        link = response.headers.get("Link")
        url = link[link.index("/api/"):link.index(">")] if link else None
    return sum(t for _, t, _ in pages), pages


def measure_json(client, urls: list[str], runs: int) -> dict:
    """The time the JSON query of the page's window takes, every page of it (500 occurrences a
    page, the national week about fifty)."""
    times = [sum(all_pages(client, url)[0] for url in urls) for _ in range(runs)]
    return {"p50": statistics.median(times), "p95": p95(times)}


def measure_occurrence_pages(app, client, start, runs: int) -> dict:
    """A page of the national week (issue 21: p95 <= PAGE_TARGET_P95_MS): the first page and a
    middle one, each asked `runs` times, against the baseline of the same run: the whole week
    expanded and sorted (what one answer cost before pages). Checks on the way that the pages
    give every occurrence of the week once."""
    from scheduler.time.calendar import CalendarFilter, rules_in_window
    from scheduler.time.recurrence import expand

    week = (datetime.combine(start, datetime.min.time(), ZoneInfo("Europe/Paris")),)
    week += (week[0] + timedelta(days=7),)
    url = f"/api/v1/occurrences?start={week[0].isoformat()}&end={week[1].isoformat()}".replace("+", "%2B")
    _, pages = all_pages(client, url)
    baseline = []
    with app.app_context():
        for _ in range(runs):
            t0 = timer.perf_counter()
            occurrences = expand(rules_in_window(CalendarFilter(), *week, people=False), *week)
            occurrences.sort(key=lambda o: (o.starts_at, o.event_id, o.recurrence_id))
            baseline.append((timer.perf_counter() - t0) * 1000)
    keys = [(o["event_id"], o["recurrence_id"]) for _, _, page in pages for o in page]
    if len(keys) != len(set(keys)) or len(keys) != len(occurrences):
        raise SystemExit(f"PAGES WRONG: {len(keys)} occurrences over the pages ({len(set(keys))} distinct), "
                         f"{len(occurrences)} expanded")
    middle_url = pages[len(pages) // 2][0]
    first = [all_pages_one(client, url) for _ in range(runs)]
    middle = [all_pages_one(client, middle_url) for _ in range(runs)]
    walk = sorted(t for _, t, _ in pages)
    return {"pages": len(pages), "occurrences": len(keys), "first_p95": p95(first), "middle_p95": p95(middle),
            "walk_p95": p95(walk), "walk_max": walk[-1], "baseline_p95": p95(baseline)}


def occurrence_pages_figures(paged: dict) -> str:
    return (f"occurrences pages of the national week: {paged['occurrences']} in {paged['pages']} pages of 500; "
            f"first page p95 {paged['first_p95']:.0f} ms, middle page p95 {paged['middle_p95']:.0f} ms, every page "
            f"of one walk p95 {paged['walk_p95']:.0f} ms (max {paged['walk_max']:.0f}) | baseline, the whole week "
            f"expanded and sorted: p95 {paged['baseline_p95']:.0f} ms | ratio first page/baseline "
            f"{paged['first_p95'] / paged['baseline_p95']:.2f}, middle page/baseline "
            f"{paged['middle_p95'] / paged['baseline_p95']:.2f}")


def occurrence_pages_verdict(paged: dict) -> tuple[str, list[str]]:
    """The BENCH line of the pages of the national week, and what misses the target."""
    worst_page = max(paged["first_p95"], paged["middle_p95"])
    missed = ["occurrences pages"] if worst_page > PAGE_TARGET_P95_MS else []
    line = (f"BENCH public occurrences pages: first p95 {paged['first_p95']:.0f} ms, middle p95 "
            f"{paged['middle_p95']:.0f} ms vs the whole week expanded {paged['baseline_p95']:.0f} ms "
            f"({paged['baseline_p95'] / worst_page:.1f}x); target p95 <= {PAGE_TARGET_P95_MS:.0f} ms: "
            f"{'missed' if missed else 'met'}")
    return line, missed


def all_pages_one(client, url: str) -> float:
    t0 = timer.perf_counter()
    if client.get(url).status_code != 200:
        raise SystemExit(f"{url}: not 200")
    return (timer.perf_counter() - t0) * 1000


def rename_one(app, event_id: int) -> str:
    """A committed write to an event (its title), as the API's coordinator would make it."""
    from models import Event, db
    from scheduler.writes import update_event

    with app.app_context():
        title = f"Permanence emploi (bench {uuid.uuid4().hex[:6]})"
        update_event(SYSTEM, db.session.get(Event, event_id), {"title": title})
        db.session.commit()
    return title


def measure_after_writes(app, client, urls: dict[str, str], writes: int, warm_runs: int = 20) -> dict:
    """For each URL: its warm time (median), and the first request after a write with the
    rebuild after writes off (the reader rebuilds), on (the reader comes after the rebuild ended)
    and on with the reader coming at once (medians of `writes` writes each)."""
    import re

    from scheduler.rebuild import rebuilder

    background = rebuilder(app)
    html = client.get(urls["home"]).get_data(as_text=True)
    event_id = int(re.search(r'data-event-id="(\d+)"', html).group(1))
    from scheduler.ical.feeds import forget_feeds

    results = {name: {"warm": [], "before": [], "off": [], "after_rebuild": [], "at_once": []} for name in urls}
    rebuild_times = []

    def first_after_write(mode: str) -> None:
        app.config["REBUILD_AFTER_WRITES"] = mode not in ("before", "off")
        for name, url in urls.items():
            title = rename_one(app, event_id)
            if mode == "before":
                forget_feeds()  # no fragments either: the reader rebuilds all, as before issue 21
            if mode == "after_rebuild":
                t0 = timer.perf_counter()
                background.wait_idle(120)
                rebuild_times.append((timer.perf_counter() - t0) * 1000)
            elapsed, body = timed(client, url)
            if title not in body:
                raise SystemExit(f"STALE: {url} does not show the write just committed")
            results[name][mode].append(elapsed)
            background.wait_idle(120)
            client.get(urls["home"] if name != "home" else urls["all.ics"])  # the other one built too

    try:
        for url in urls.values():
            client.get(url)
        for name, url in urls.items():
            results[name]["warm"] = [timed(client, url)[0] for _ in range(warm_runs)]
        for _ in range(writes):
            for mode in ("before", "off", "after_rebuild", "at_once"):
                first_after_write(mode)
    finally:
        app.config["REBUILD_AFTER_WRITES"] = False
        background.wait_idle(120)
    figures = {name: {mode: statistics.median(times) for mode, times in modes.items()}
               for name, modes in results.items()}
    figures["rebuild_wait_ms"] = statistics.median(rebuild_times)
    figures["failures"] = background.failures
    return figures


def after_writes_verdict(after: dict) -> tuple[str, list[str]]:
    """The BENCH line of the after-a-write figures, and what misses the target."""
    parts, missed = [], []
    for name in ("all.ics", "home"):
        f = after[name]
        ratio = f["after_rebuild"] / f["warm"]
        parts.append(f"{name} {f['after_rebuild']:.1f} ms vs warm {f['warm']:.1f} ms ({ratio:.1f}x; before "
                     f"{f['before']:.0f} ms, {f['before'] / f['warm']:.0f}x)")
        if ratio > AFTER_WRITE_TARGET:
            missed.append(name)
    verdict = "missed by " + ", ".join(missed) if missed else "met"
    return (f"BENCH public after a write: {'; '.join(parts)}; target <= {AFTER_WRITE_TARGET:.0f}x warm: {verdict}",
            missed)


def search_texts(limit: int) -> list[str]:
    """What people type, one text per request, none twice: each commune of the calendar missing
    its last letter, then each postcode."""
    from models import Place, db

    cities = db.session.scalars(sa.select(Place.city).where(Place.city.is_not(None)).distinct()
                                .order_by(Place.city)).all()
    postcodes = db.session.scalars(sa.select(Place.postcode).where(Place.postcode.is_not(None)).distinct()
                                   .order_by(Place.postcode)).all()
    return [c[:-1] for c in cities if len(c) > 4][:limit] + list(postcodes)[:max(0, limit - len(cities))]


def measure_search(client, texts: list[str]) -> dict:
    from urllib.parse import quote

    times, found = [], 0
    for text in texts:
        elapsed, html = timed(client, f"/?q={quote(text)}")
        times.append(elapsed)
        found += 'class="place-group' in html
    slowest = sorted(zip(times, texts, strict=True), reverse=True)[:3]
    return {"p50": statistics.median(times), "p95": p95(times), "max": max(times), "n": len(times), "found": found,
            "slowest": ", ".join(f"« {text} » {t:.0f} ms" for t, text in slowest)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json-runs", type=int, default=5)
    parser.add_argument("--database-url")
    parser.add_argument("--writes", type=int, default=3, help="writes per mode of the after-a-write figures")
    parser.add_argument("--only-after-writes", action="store_true",
                        help="the after-a-write figures alone (no page, JSON nor search figures)")
    parser.add_argument("--only-pages", action="store_true",
                        help="the pages of the JSON occurrences of the national week alone (issue 21, item 3)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when a p95 exceeds {TARGET_P95_MS:.0f} ms")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from models import Event, Place, Quartier, db

    url, drop = (args.database_url, lambda: None) if args.database_url else fresh_database()
    try:
        # No rate limits: every request of the run comes from one address, on purpose. The rebuild
        # after writes only where it is measured (measure_after_writes): the other figures stay
        # those of a reader that rebuilds, with no thread beside it.
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "BASE_URL": "http://maillage.test", "RATELIMITS": {},
                          # Its own key: outside MAILLAGE_ENV=development the dev key is refused.
                          "SECRET_KEY": secrets.token_urlsafe(32),
                          "REBUILD_AFTER_WRITES": False})
        with app.app_context():
            upgrade()
            t0 = timer.perf_counter()
            cal = load_national(db.engine, scale=args.scale)
            print(f"national calendar ({cal.summary()}) loaded in {timer.perf_counter() - t0:.1f} s "
                  f"on {db.engine.dialect.name}")
            busiest = db.session.execute(
                sa.select(Quartier.code, sa.func.count(Event.id).label("n"))
                .join(Place, Place.quartier_id == Quartier.id).join(Event, Event.place_id == Place.id)
                .where(Event.visibility == "public").group_by(Quartier.code).order_by(sa.desc("n")).limit(1)).one()
        start = cal.start
        client = app.test_client()
        if args.only_pages:
            paged = measure_occurrence_pages(app, client, start, args.json_runs * 4)
            print(occurrence_pages_figures(paged))
            line, page_missed = occurrence_pages_verdict(paged)
            print(line)
            if args.check and page_missed:
                sys.exit(1)
            return
        pages = {
            "home": (f"/?du={start}", [f"/api/v1/occurrences?start={start}&end={start + timedelta(days=7)}"]),
            "quartier": (f"/quartiers/{busiest.code}?du={start}",
                         [(f"/api/v1/occurrences?quartier={busiest.code}&start={start}"
                          f"&end={start + timedelta(days=28)}")]),
        }
        results = {}
        after = measure_after_writes(app, client, {"all.ics": "/feeds/all.ics", "home": "/"}, args.writes)
        for name in ("all.ics", "home"):
            f = after[name]
            print(f"after a write, {name:7s}: warm {f['warm']:.1f} ms | first request after a write: before (no "
                  f"rebuild, no fragments) {f['before']:.0f} ms ({f['before'] / f['warm']:.0f}x warm), rebuild off "
                  f"(the reader rebuilds from fragments) {f['off']:.0f} ms ({f['off'] / f['warm']:.0f}x warm), "
                  f"rebuild on {f['after_rebuild']:.1f} ms "
                  f"({f['after_rebuild'] / f['warm']:.1f}x warm), rebuild on and the reader at once "
                  f"{f['at_once']:.0f} ms ({f['at_once'] / f['warm']:.0f}x warm)")
        print(f"after a write: the reader waited {after['rebuild_wait_ms']:.0f} ms (median) after the writer's answer "
              f"for the background rebuild to end; {after['failures']} failed rebuilds")
        after_line, after_missed = after_writes_verdict(after)
        if args.only_after_writes:
            print(after_line)
            if args.check and after_missed:
                sys.exit(1)
            return
        for name, (page_url, json_url) in pages.items():
            json = measure_json(client, json_url, args.json_runs)
            page = measure_page(app, client, page_url, args.requests)
            results[name] = (page, json)
            print(f"{name:9s} page: p50 {page['p50']:.1f} ms, p95 {page['p95']:.1f} ms, max {page['max']:.0f} ms, "
                  f"first (cold) {page['cold']:.0f} ms, CPU p95 {page['cpu_p95']:.1f} ms, "
                  f"{page['writes']} writes in {args.requests} requests "
                  f"(the request after each: {', '.join(f'{t:.0f}' for t in page['rebuilt'])} ms), "
                  f"{page['bytes'] // 1024} KiB | JSON same window: p50 {json['p50']:.0f} ms, "
                  f"p95 {json['p95']:.0f} ms | ratio p95 JSON/page {json['p95'] / page['p95']:.0f}x")
        print(f"quartier {busiest.code}: {busiest.n} public series")
        paged = measure_occurrence_pages(app, client, start, args.json_runs * 4)
        print(occurrence_pages_figures(paged))
        with app.app_context():
            texts = search_texts(args.requests)
            places = db.session.scalar(sa.select(sa.func.count(Place.id)))
        search = measure_search(client, texts)
        print(f"search    page: p50 {search['p50']:.1f} ms, p95 {search['p95']:.1f} ms, max {search['max']:.0f} ms, "
              f"{search['n']} texts, each typed once ({search['found']} found places with dates), {places} places | "
              f"ratio p95 search/quartier page {search['p95'] / results['quartier'][0]['p95']:.0f}x; slowest: "
              f"{search['slowest']}")
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()
    missed = [name for name, (page, _) in results.items() if page["p95"] > TARGET_P95_MS] + after_missed
    print(after_line)
    if search["p95"] > SEARCH_TARGET_P95_MS:
        missed.append("search")
    page_line, page_missed = occurrence_pages_verdict(paged)
    missed += page_missed
    home, quartier = results["home"], results["quartier"]
    print(page_line)
    print(f"BENCH public search: p95 {search['p95']:.1f} ms, {search['p95'] / quartier[0]['p95']:.0f}x the quartier "
          f"page's; target p95 <= {SEARCH_TARGET_P95_MS:.0f} ms")
    print(f"BENCH public: home p95 {home[0]['p95']:.1f} ms vs JSON {home[1]['p95']:.0f} ms "
          f"({home[1]['p95'] / home[0]['p95']:.0f}x); quartier p95 {quartier[0]['p95']:.1f} ms vs JSON "
          f"{quartier[1]['p95']:.0f} ms ({quartier[1]['p95'] / quartier[0]['p95']:.0f}x); target p95 <= "
          f"{TARGET_P95_MS:.0f} ms: {'missed by ' + ', '.join(missed) if missed else 'met'}")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
