"""Benchmark: expanding twelve months of the national calendar (30,000 series, about 1.5 million
occurrences), holidays and exceptions included, against a baseline measured in the same run.

The baseline is the obvious implementation: each series expanded on its own with
`dateutil.rrule` (walking from its DTSTART, as rrule does), each occurrence converted to UTC with
zoneinfo, public holidays and the school holidays a series pauses for skipped as EXDATEs (COUNT
still counts them), exceptions applied; no batching or caching beyond one `holidays` calendar per
region and one set of school holiday dates per zone. It is also the reference the tests
check `scheduler.time.recurrence.expand` against (tests/test_recurrence.py imports `rrule_occurrences`),
and here both expansions must give the same occurrences.

Times are CPU seconds of this process (the cores are shared: wall times are printed too, but
another process's load would distort them), best of `--repeat` interleaved runs.
Target (issue 2): `expand` at least 3x faster than the baseline; `--check` exits non-zero when
missed. Part of expand's speed is pausing the cyclic garbage collector while it builds its
objects; so that the figure is not that trick alone, the baseline is also timed with the
collector paused, and the target must hold against both. Last line starts with BENCH.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time as timer
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import holidays
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekday

from bench.national import SEED, build_national, national_window
from scheduler.time.recurrence import Occurrence, SeriesRule, expand, gc_paused

TARGET_RATIO = 3.0
FREQUENCIES = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}
_holiday_calendars: dict[str, holidays.HolidayBase] = {}


def holiday_calendar(region: str) -> holidays.HolidayBase:
    """French public holidays of a region as `SeriesRule.holiday_region` names it."""
    if region not in _holiday_calendars:
        _holiday_calendars[region] = holidays.country_holidays(
            "FR", subdiv=None if region == "metropole" else region)
    return _holiday_calendars[region]


_school_holidays: dict[str, set[date]] = {}
_school_years: dict[str, set[int]] = {}


def school_holidays(zone: str, years: Iterable[int] = ()) -> set[date]:
    """The school holiday dates of a zone, from two years ago to five years ahead and in `years`,
    as the `holidays` package gives them (asked directly: this baseline shares nothing with
    Maillage's expansion). The years asked for matter: the tests' rules have fixed dates, which
    leave "two years ago" as the years go by."""
    this_year = date.today().year
    wanted = set(range(this_year - 2, this_year + 6)) | set(years)
    missing = wanted - _school_years.setdefault(zone, set())
    if missing:
        _school_holidays.setdefault(zone, set()).update(holidays.France(
            years=sorted(missing), subdiv=f"Zone {zone}", categories=(holidays.SCHOOL,)))
        _school_years[zone] |= missing
    return _school_holidays[zone]


def _excluded(r: SeriesRule, day: date) -> bool:
    """EXDATE: a public holiday the series skips, or a school holiday it pauses for."""
    return ((r.holiday_region is not None and day in holiday_calendar(r.holiday_region))
            or (r.school_zone is not None and day in school_holidays(r.school_zone, (day.year,))))


def _rrule(r: SeriesRule, dtstart: datetime):
    if r.frequency == "once":
        return [dtstart]
    byweekday = None
    if r.frequency == "weekly":
        byweekday = list(r.weekdays) or None
    elif r.frequency == "monthly":
        byweekday = [weekday(w)(r.month_week) for w in (r.weekdays or (dtstart.weekday(),))]
    return rrule(FREQUENCIES[r.frequency], dtstart=dtstart, interval=r.interval, byweekday=byweekday,
                 count=r.count)


def rrule_occurrences(r: SeriesRule, lo: datetime, hi: datetime) -> list[Occurrence]:
    """The rule's occurrences overlapping [lo, hi), by dateutil.rrule and zoneinfo, one at a time."""
    zone = ZoneInfo(r.timezone)
    lo_ts, hi_ts = lo.timestamp(), hi.timestamp()
    dtstart = datetime.combine(date.fromordinal(r.start_ord), time()) + timedelta(seconds=r.start_seconds)
    until = datetime.combine(date.fromordinal(r.until_ord), time(23, 59, 59)) if r.until_ord else None
    # Local wall-clock bounds wide enough for any offset and duration.
    after = lo.astimezone(UTC).replace(tzinfo=None) - timedelta(seconds=r.duration, days=1)
    before = hi.astimezone(UTC).replace(tzinfo=None) + timedelta(days=1)
    if until is not None and until < before:
        before = until
    public_holidays = holiday_calendar(r.holiday_region) if r.holiday_region else ()
    paused = school_holidays(r.school_zone, range(after.year, before.year + 1)) if r.school_zone else ()
    out: list[Occurrence] = []
    given: set[int] = set()
    for start in _rrule(r, dtstart):
        if start > before:
            break
        if start < after or (day := start.date()) in public_holidays or day in paused:  # EXDATE, COUNT counts them
            continue
        begins = int(start.replace(tzinfo=zone).timestamp())
        given.add(begins)
        occurrence = _with_exception(r, begins)
        if occurrence.ends_at > lo_ts and occurrence.starts_at < hi_ts:
            out.append(occurrence)
    # Occurrences moved into the window from a date outside it.
    for rec, spec in r.exceptions.items():
        if rec in given or spec.is_cancelled or spec.starts_at is None:
            continue
        occurrence = _with_exception(r, rec)
        if occurrence.ends_at > lo_ts and occurrence.starts_at < hi_ts and _gives(r, rec, zone, dtstart):
            out.append(occurrence)
    return out


def _gives(r: SeriesRule, rec: int, zone: ZoneInfo, dtstart: datetime) -> bool:
    local = datetime.fromtimestamp(rec, zone).replace(tzinfo=None)
    for start in _rrule(r, dtstart):
        if start > local + timedelta(hours=3) or (r.until_ord and start.date().toordinal() > r.until_ord):
            return False
        if int(start.replace(tzinfo=zone).timestamp()) == rec:
            return not _excluded(r, start.date())
    return False


def _with_exception(r: SeriesRule, rec: int) -> Occurrence:
    spec = r.exceptions.get(rec)
    if spec is None:
        return Occurrence(r.event_id, rec, rec, rec + r.duration, r.place_id, r.room, r.person_ids, r.timezone,
                          r.is_cancelled)
    starts = spec.starts_at if spec.starts_at is not None else rec
    duration = spec.duration if spec.duration is not None else r.duration
    place = spec.place_id if spec.place_id is not None else r.place_id
    room = spec.room if spec.room is not None else r.room
    people = tuple(spec.person_ids) if spec.person_ids is not None else r.person_ids
    moved = not spec.is_cancelled and (starts, duration, place, room, people) != (
        rec, r.duration, r.place_id, r.room, r.person_ids)
    return Occurrence(r.event_id, rec, starts, starts + duration, place, room, people, r.timezone,
                      r.is_cancelled or spec.is_cancelled, moved)


def baseline_expand(rules, lo: datetime, hi: datetime) -> list[Occurrence]:
    out: list[Occurrence] = []
    for r in rules:
        out.extend(rrule_occurrences(r, lo, hi))
    return out


def baseline_expand_gc_paused(rules, lo: datetime, hi: datetime) -> list[Occurrence]:
    """The baseline given expand's one trick that is not about recurrence (a paused collector)."""
    with gc_paused():
        return baseline_expand(rules, lo, hi)


def _key(o: Occurrence) -> tuple:
    return (o.event_id, o.recurrence_id, o.starts_at, o.ends_at, o.place_id, o.room, o.person_ids,
            o.is_cancelled, o.is_moved)


def _timed(fn, *args) -> tuple[float, float, list]:
    """CPU seconds of this process (robust to the other processes sharing the cores), wall seconds."""
    gc.collect()
    cpu, wall = timer.process_time(), timer.perf_counter()
    result = fn(*args)
    return timer.process_time() - cpu, timer.perf_counter() - wall, result


def _runs(runs: list[tuple[float, float]]) -> str:
    return "runs (CPU/wall) " + ", ".join(f"{cpu:.2f}/{wall:.2f} s" for cpu, wall in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {TARGET_RATIO}x")
    args = parser.parse_args()

    cal = build_national(args.scale, args.seed)
    rules = cal.rules
    lo, hi = national_window(cal.start)
    runs = {"expand": [], "baseline": [], "baseline_gc": []}  # (cpu, wall) per run
    for _ in range(args.repeat):  # interleaved, so that load from elsewhere hits all alike
        for name, fn in (("expand", expand), ("baseline", baseline_expand),
                         ("baseline_gc", baseline_expand_gc_paused)):
            cpu, wall, result = _timed(fn, rules, lo, hi)
            runs[name].append((cpu, wall))
            if name == "expand":
                ours = result
            elif sorted(map(_key, result)) != sorted(map(_key, ours)):
                print(f"MISMATCH: expand and the dateutil {name} disagree", file=sys.stderr)
                return 2
            del result
    best, base, base_gc = (min(cpu for cpu, _ in runs[n]) for n in ("expand", "baseline", "baseline_gc"))
    ratio, ratio_gc = base / best, base_gc / best
    cancelled = sum(o.is_cancelled for o in ours)
    moved = sum(o.is_moved for o in ours)
    print(f"calendar: {cal.summary()}")
    print(f"window: {lo.isoformat()} to {hi.isoformat()}")
    print(f"occurrences: {len(ours)} ({cancelled} cancelled, {moved} moved), identical in all runs")
    print(f"expand (scheduler.time.recurrence): best {best:.2f} s CPU; {_runs(runs['expand'])}")
    print(f"baseline (dateutil.rrule + zoneinfo, one series at a time): best {base:.2f} s CPU "
          f"({ratio:.1f}x); {_runs(runs['baseline'])}")
    print(f"baseline with the garbage collector paused as expand does: best {base_gc:.2f} s CPU "
          f"({ratio_gc:.1f}x); {_runs(runs['baseline_gc'])}")
    ok = min(ratio, ratio_gc) >= TARGET_RATIO
    print(f"BENCH occurrences: {len(ours)} occurrences of {len(rules)} series in {best:.2f} s, "
          f"{ratio:.1f}x faster than the baseline ({base:.2f} s, CPU time); target >= {TARGET_RATIO:.0f}x "
          f"{'met' if ok else 'MISSED'}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
