"""The dates of monthly and yearly rules, as day ordinals: the nth (or last) weekday of the month
("le 2e jeudi"), days of the month ("le 15", "le dernier jour" = -1), and yearly rules on given
months (`months`) with either of those or the start's own day of the month.

As RFC 5545 reads them: a day a month does not have (the 31st of April, 29 February of a common
year) gives no occurrence that month; COUNT counts from the series' start.
"""
from __future__ import annotations

import calendar
from datetime import date


def month_days_of(year: int, month: int, weekdays: tuple[int, ...], month_week: int | None,
                  month_days: tuple[int, ...], start_day: int) -> list[int]:
    """The ordinals a month gives, sorted: its days `month_days` (negative from its end), else the
    `month_week`-th of each of `weekdays`, else the day of the month the series started on."""
    first = date(year, month, 1).toordinal()
    length = calendar.monthrange(year, month)[1]
    found = []
    if month_days:
        for d in month_days:
            n = d if d > 0 else length + 1 + d
            if 1 <= n <= length:
                found.append(first + n - 1)
    elif month_week is not None:
        for w in weekdays:
            if month_week == -1:
                last = first + length - 1
                found.append(last - ((last - 1) % 7 - w) % 7)
            else:
                d = first + (w - (first - 1) % 7) % 7 + 7 * (month_week - 1)
                if d < first + length:
                    found.append(d)
    elif start_day <= length:
        found.append(first + start_day - 1)
    return sorted(set(found))


def by_month(start_ord: int, interval: int, yearly: bool, months: tuple[int, ...], count: int | None,
             weekdays: tuple[int, ...], month_week: int | None, month_days: tuple[int, ...],
             lo_ord: int, hi_ord: int) -> list[int]:
    """The days of a monthly rule (every `interval` months from the start's) or a yearly one (every
    `interval` years, on `months`, else the start's month), within [lo_ord, hi_ord]."""
    first = date.fromordinal(start_ord)
    lo = date.fromordinal(lo_ord)
    base = first.year * 12 + first.month - 1

    def periods(k: int) -> list[tuple[int, int]]:
        if yearly:
            return [(first.year + k * interval, m) for m in sorted(months or (first.month,))]
        year, month = divmod(base + k * interval, 12)
        return [(year, month + 1)]

    k = 0
    if count is None:  # jump straight to the window; with a count we must count from the start
        k = max(0, (lo.year - first.year) // interval if yearly else (lo.year * 12 + lo.month - 1 - base) // interval)
    index = 0
    out: list[int] = []
    while True:
        for year, month in periods(k):
            if date(year, month, 1).toordinal() > hi_ord:
                return out
            for d in month_days_of(year, month, weekdays, month_week, month_days, first.day):
                if d < start_ord:
                    continue
                index += 1
                if (count is not None and index > count) or d > hi_ord:
                    return out
                if d >= lo_ord:
                    out.append(d)
        k += 1
