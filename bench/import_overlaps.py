"""bench/import_overlaps.py: importing N parallel weekly series that overlap each other (issue 19,
break 1): Monday–Friday 9:00–12:00 at one place from next Monday through the end of next year,
as any calendar of parallel staff slots whose LOCATION matches no place gives. Through the API:
the preview, the import, then the deletion of one of the series (its overlaps close).

Baseline, measured in the same run: what finding those overlaps costs at the least — Maillage
reading the file, the one expansion and the detection sweep over its occurrences
(`scheduler.conflicts.detection.detect`), with no record written. Each step is printed with its
ratio to that floor.

Targets (issue 19): preview + import of N=10 in <= 3 s, deleting a series in <= 1 s. `--check`
exits non-zero when one is missed; `bench/imports.py --check` runs it too (`run`).
Last line starts with BENCH.
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


def floor_seconds(filename: str, body: bytes, options) -> tuple[float, int]:
    """What finding a file's overlaps costs at the least: Maillage reading the file
    (`parse_file`), the one expansion of its events and the detection sweep over their
    occurrences (`scheduler.conflicts.detection.detect`), nothing written. In an app context."""
    from scheduler.conflicts.check import horizon
    from scheduler.conflicts.detection import DetectionContext, detect
    from scheduler.ical.jobs import _PlannedRule
    from scheduler.ical.parse_csv import parse_file
    from scheduler.time.recurrence import expand, rule_of

    t0 = timer.perf_counter()
    plan = parse_file(filename, body, options)
    occurrences = expand([rule_of(_PlannedRule(i, p.values)) for i, p in enumerate(plan, 1)], *horizon())
    found = detect(occurrences, DetectionContext())
    return timer.perf_counter() - t0, len(found)


def run(url: str, n: int) -> dict:
    """Preview, import and deletion of one series of the file of `n` parallel series, through
    the API, on an EMPTY database at `url`; the floor measured in the same run."""
    import sqlalchemy as sa

    from app import create_app
    from commands.demo import load_demo
    from models import Event, Partner, Place, ScheduleConflict, db
    from models.operations.users import create_api_token, get_or_create_user
    from scheduler.ical.planned import ImportOptions

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "BASE_URL": "https://maillage.example.fr", "RATELIMITS": {},
                      "MAILLAGE_ENV": "development"})
    zone = ZoneInfo(app.config["DEFAULT_TIMEZONE"])
    today = datetime.now(zone).date()
    first = today + timedelta(days=7 - today.weekday())
    last = date(first.year + 1, 12, 31)
    body = parallel_file(n, first, last)
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
        options = ImportOptions(partner=partner, place=place, kind="permanence", visibility="public")
        baseline, floor_overlaps = floor_seconds("creneaux.ics", body, options)
        db.session.commit()
    client = app.test_client()

    def post(endpoint: str):
        t0 = timer.perf_counter()
        answer = client.post(endpoint, headers=headers, content_type="multipart/form-data",
                             data={**form, "file": (io.BytesIO(body), "creneaux.ics")})
        return answer, timer.perf_counter() - t0

    preview, preview_s = post("/api/v1/imports/preview")
    imported, import_s = post("/api/v1/imports")
    with app.app_context():
        event_id = db.session.scalar(sa.select(sa.func.min(Event.id)))
        overlaps = db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id)))
    t0 = timer.perf_counter()
    deleted = client.delete(f"/api/v1/events/{event_id}", headers=headers)
    delete_s = timer.perf_counter() - t0
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    missed = [name for name, value in (("preview_and_import_s", preview_s + import_s), ("delete_s", delete_s))
              if value > TARGETS[name]]
    if preview.status_code != 200 or imported.status_code != 200 or deleted.status_code != 204:
        missed.append("outcome")
    return {"n": n, "first": first, "last": last, "size": len(body), "floor": baseline,
            "floor_overlaps": floor_overlaps, "overlaps": overlaps,
            "preview_overlaps": (preview.get_json() or {}).get("summary", {}).get("overlaps"),
            "steps": [("preview", preview, preview_s), ("import", imported, import_s),
                      ("delete one series", deleted, delete_s)],
            "missed": missed, "backend": sa.engine.make_url(url).get_backend_name()}


def report(r: dict) -> str:
    """Prints the run's figures, each step with its ratio to the floor; returns the BENCH line."""
    print(f"file: {r['n']} parallel weekday series, {r['first']} to {r['last']}, {r['size'] / 1e3:.0f} kB; "
          f"database {r['backend']}; load average {os.getloadavg()[0]:.1f}")
    print(f"floor (reading the file + expansion + sweep, nothing written): {r['floor']:.2f} s, "
          f"{r['floor_overlaps']} overlaps")
    for name, answer, seconds in r["steps"]:
        print(f"{name}: HTTP {answer.status_code} {answer.content_type.split(';')[0]}, {seconds:.2f} s "
              f"({seconds / r['floor']:.1f}x the floor)")
    print(f"overlaps said by the preview: {r['preview_overlaps']}; recorded by the import: {r['overlaps']}")
    (_, _, preview_s), (_, _, import_s), (_, _, delete_s) = r["steps"]
    return (f"BENCH import_overlaps n={r['n']} overlaps={r['overlaps']} floor={r['floor']:.2f}s "
            f"preview={preview_s:.2f}s import={import_s:.2f}s delete={delete_s:.2f}s "
            f"{'ok' if not r['missed'] else 'missed: ' + ','.join(r['missed'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit non-zero when a target is missed")
    parser.add_argument("--database-url", help="an EMPTY database (default: a temporary SQLite file)")
    parser.add_argument("-n", type=int, default=10, help="parallel series (default 10)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    result = run(args.database_url or f"sqlite:///{tmp.name}/overlaps.sqlite3", args.n)
    print(report(result))
    return 1 if (args.check and result["missed"]) else 0


if __name__ == "__main__":
    sys.exit(main())
