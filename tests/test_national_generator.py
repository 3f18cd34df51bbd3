"""The shared generator of the synthetic national calendar (bench/national.py)."""
from datetime import date, timedelta

from bench.national import build_national, load_national, national_window
from scheduler.time.calendar import CalendarFilter, occurrences_between
from scheduler.time.recurrence import expand

START = date(2027, 1, 4)


def test_the_national_calendar_is_the_same_for_the_same_seed_and_differs_for_another():
    one, two = build_national(0.01, start=START), build_national(0.01, start=START)
    assert one.events == two.events and one.exceptions == two.exceptions
    assert build_national(0.01, seed=1, start=START).events != one.events


def test_the_national_calendar_mixes_the_scheduling_patterns_overseas_places_and_shared_people():
    cal = build_national(0.05, start=START)
    frequencies = {(e["frequency"], e["interval"], e["month_week"] == -1) for e in cal.events}
    assert {("weekly", 1, False), ("weekly", 2, False), ("weekly", 6, False), ("monthly", 1, False),
            ("monthly", 1, True), ("once", 1, False)} <= frequencies
    assert any(e["frequency"] == "daily" for e in cal.events)
    assert any(len(e["weekdays"]) == 2 for e in cal.events)
    assert any(e["until"] for e in cal.events) and any(e["count"] for e in cal.events)
    assert {p["timezone"] for p in cal.places} > {"Europe/Paris"}
    assert {r.school_zone for r in cal.rules} == {None, "A", "B", "C"}  # youth structures pause
    bookings: dict[int, int] = {}
    for row in cal.event_people:
        bookings[row["person_id"]] = bookings.get(row["person_id"], 0) + 1
    assert max(bookings.values()) >= 3
    assert any(x["is_cancelled"] for x in cal.exceptions) and any(x["starts_at"] for x in cal.exceptions)


def test_loading_the_national_calendar_gives_the_occurrences_of_its_in_memory_rules(app):
    cal = load_national(app.extensions["sqlalchemy"].engine, scale=0.01, start=START)
    lo, _ = national_window(START)
    hi = lo + timedelta(days=60)
    expected = sorted((o.event_id, o.recurrence_id, o.starts_at, o.place_id, sorted(o.person_ids), o.is_cancelled)
                      for o in expand(cal.rules, lo, hi))
    loaded = occurrences_between(CalendarFilter(include_private=True), lo, hi)
    got = sorted((o.event_id, o.recurrence_id, o.starts_at, o.place_id, sorted(o.person_ids), o.is_cancelled)
                 for o, _ in loaded)
    assert len(expected) > 1000
    assert got == expected


def test_the_occurrences_benchmark_runs_on_a_small_calendar_and_ends_with_its_bench_line():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "bench/occurrences.py", "--scale", "0.005"], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert "identical in all runs" in run.stdout
    assert lines[-1].startswith("BENCH occurrences:") and "faster than the baseline" in lines[-1]
