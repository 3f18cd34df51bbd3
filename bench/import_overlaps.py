"""bench/import_overlaps.py: importing N parallel weekly series that overlap each other (issue 19,
break 1): Monday–Friday 9:00–12:00 at one place from next Monday through the end of next year,
as any calendar of parallel staff slots whose LOCATION matches no place gives. Through the API:
the preview, the import, then the deletion of one of the series (its overlaps close).

Baseline, measured in the same run: what finding those overlaps costs at the least — icalendar
reading the file, the one expansion and the detection sweep over its occurrences
(`scheduler.conflicts.detection.detect`), with no record written. Each step is printed with its
ratio to that floor.

Targets (issue 19): preview + import of N=10 in <= 3 s, deleting a series in <= 1 s. `--check`
exits non-zero when one is missed. Last line starts with BENCH.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time as timer
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# bench/public.py would hide the `public` package that aiosmtpd (the demo's mailbox) imports.
sys.path[:] = [p for p in sys.path if Path(p).resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = {"preview_and_import_s": 3.0, "delete_s": 1.0}


def parallel_file(n: int, first: date, last: date) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Maillage bench//import overlaps//FR"]
    for i in range(n):
        lines += ["BEGIN:VEVENT", f"UID:creneau-{i}@bench", "DTSTAMP:20261201T090000Z",
                  f"DTSTART;TZID=Europe/Paris:{first:%Y%m%d}T090000", f"DTEND;TZID=Europe/Paris:{first:%Y%m%d}T120000",
                  f"SUMMARY:Créneau d'accueil {i + 1}", "LOCATION:Salle que Maillage ne connaît pas",
                  f"RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL={last:%Y%m%d}T230000Z", "END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def floor_seconds(body: bytes, start: datetime, end: datetime) -> tuple[float, int]:
    """icalendar's reading, the expansion and the sweep of the occurrences: the least any import
    that finds these overlaps must do."""
    import icalendar

    from scheduler.conflicts.detection import DetectionContext, detect
    from scheduler.time.recurrence import SeriesRule, expand

    t0 = timer.perf_counter()
    rules = []
    for i, component in enumerate(icalendar.Calendar.from_ical(body).walk("VEVENT")):
        begin = component["DTSTART"].dt
        rules.append(SeriesRule(event_id=i + 1, timezone="Europe/Paris", start_ord=begin.toordinal(),
                                start_seconds=9 * 3600, duration=3 * 3600, frequency="weekly",
                                weekdays=(0, 1, 2, 3, 4), until_ord=component["RRULE"]["UNTIL"][0].toordinal(),
                                place_id=1))
    found = detect(expand(rules, start, end), DetectionContext(place_quartier={}, audiences={}, travel_margin={},
                                                                max_concurrent={}))
    return timer.perf_counter() - t0, len(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit non-zero when a target is missed")
    parser.add_argument("--database-url", help="an EMPTY database (default: a temporary SQLite file)")
    parser.add_argument("-n", type=int, default=10, help="parallel series (default 10)")
    args = parser.parse_args()

    import sqlalchemy as sa

    from app import create_app
    from commands.demo import load_demo
    from models import Event, Partner, Place, ScheduleConflict, db
    from models.operations.users import create_api_token, get_or_create_user
    from scheduler.conflicts.check import horizon

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/overlaps.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "BASE_URL": "https://maillage.example.fr", "RATELIMITS": {},
                      "MAILLAGE_ENV": "development"})
    zone = ZoneInfo(app.config["DEFAULT_TIMEZONE"])
    today = datetime.now(zone).date()
    first = today + timedelta(days=7 - today.weekday())
    last = date(first.year + 1, 12, 31)
    body = parallel_file(args.n, first, last)
    with app.app_context():
        db.create_all()
        load_demo(today)
        db.session.commit()
        db.session.remove()
        with db.engine.begin() as connection:  # the demo's places and partners stay, not its calendar
            for table in ("conflict_notices", "conflicts", "conflict_cases", "attendances", "occurrence_exceptions",
                          "event_people", "event_organisers", "events"):
                connection.execute(sa.text(f"DELETE FROM {table}"))
        user = get_or_create_user("coordination@example.fr", "coordinator", None)
        headers = {"Authorization": f"Bearer {create_api_token(user)}"}
        partner = db.session.scalars(sa.select(Partner).order_by(Partner.id)).first()
        place = db.session.scalars(sa.select(Place).order_by(Place.id)).first()
        form = {"partner": partner.slug, "place": place.slug}
        db.session.commit()
    client = app.test_client()

    def post(endpoint: str):
        t0 = timer.perf_counter()
        answer = client.post(endpoint, headers=headers, content_type="multipart/form-data",
                             data={**form, "file": (io.BytesIO(body), "creneaux.ics")})
        return answer, timer.perf_counter() - t0

    with app.app_context():  # over the horizon the checks look at
        baseline, floor_overlaps = floor_seconds(body, *horizon())
    preview, preview_s = post("/api/v1/imports/preview")
    imported, import_s = post("/api/v1/imports")
    with app.app_context():
        event_id = db.session.scalar(sa.select(sa.func.min(Event.id)))
        overlaps = db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id)))
    t0 = timer.perf_counter()
    deleted = client.delete(f"/api/v1/events/{event_id}", headers=headers)
    delete_s = timer.perf_counter() - t0
    backend = sa.engine.make_url(url).get_backend_name()
    print(f"file: {args.n} parallel weekday series, {first} to {last}, {len(body) / 1e3:.0f} kB; database {backend}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"floor (icalendar + expansion + sweep, nothing written): {baseline:.2f} s, {floor_overlaps} overlaps")
    for name, answer, seconds in (("preview", preview, preview_s), ("import", imported, import_s),
                                  ("delete one series", deleted, delete_s)):
        print(f"{name}: HTTP {answer.status_code} {answer.content_type.split(';')[0]}, {seconds:.2f} s "
              f"({seconds / baseline:.1f}x the floor)")
    print(f"overlaps recorded by the import: {overlaps}")
    missed = [name for name, value in (("preview_and_import_s", preview_s + import_s), ("delete_s", delete_s))
              if value > TARGETS[name]]
    if preview.status_code != 200 or imported.status_code != 200 or deleted.status_code != 204:
        missed.append("outcome")
    print(f"BENCH import_overlaps n={args.n} overlaps={overlaps} floor={baseline:.2f}s preview={preview_s:.2f}s "
          f"import={import_s:.2f}s delete={delete_s:.2f}s {'ok' if not missed else 'missed: ' + ','.join(missed)}")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
