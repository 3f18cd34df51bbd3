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

Not measured here: the database side of a tick (reading the series, recording one delivery per
recipient) and the sending, which the clock does after the scan, message by message.
"""
from __future__ import annotations

import argparse
import sys
import time as timer
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.national import SEED, national_rules, national_window
from models.deliveries import DEFAULT_OFFSETS, SUBSCRIBER_OFFSETS
from scheduler.notifications.due import anything_due, due_reminders, reminder_due
from scheduler.time.recurrence import expand

TARGET_SECONDS = 1.0
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=3)
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
    print(f"BENCH reminders busy_tick={tick_cpu:.3f}s quiet_tick={quiet_cpu * 1000:.2f}ms "
          f"baseline={base_cpu:.2f}s ratio={ratio:.1f}x target<= {TARGET_SECONDS:.1f}s "
          f"{'OK' if ok else 'MISSED'}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
