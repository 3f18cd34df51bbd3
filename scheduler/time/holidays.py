"""Public holidays by department (Alsace-Moselle and overseas have their own) and school holidays
of zones A, B and C, as day ordinals, cached by year: what series skip or pause for."""
from __future__ import annotations

from datetime import date
from functools import cache, lru_cache

import holidays as holidays_lib

# Departments whose public holidays differ from the metropole's ('holidays' subdivisions).
HOLIDAY_SUBDIVISIONS = {"57": "57", "67": "6AE", "68": "6AE", "971": "971", "972": "972",
                        "973": "973", "974": "974", "976": "976"}


def holiday_region_of(department: str | None) -> str:
    """The holiday calendar of a department: the metropole's unless it has its own."""
    return HOLIDAY_SUBDIVISIONS.get(department or "", "metropole")


@cache
def holiday_ordinals(region: str, year: int) -> frozenset[int]:
    subdiv = None if region == "metropole" else HOLIDAY_SUBDIVISIONS.get(region, region)
    return frozenset(d.toordinal() for d in holidays_lib.France(years=year, subdiv=subdiv))


@cache
def holiday_names(region: str, year: int) -> dict[date, str]:
    subdiv = None if region == "metropole" else HOLIDAY_SUBDIVISIONS.get(region, region)
    return dict(holidays_lib.France(years=year, subdiv=subdiv, language="fr"))


@cache
def school_holiday_ordinals(zone: str, year: int) -> frozenset[int]:
    """The days of `year` on which the schools of zone A, B or C are on holiday (the `holidays`
    package's school category: the national calendar's rules, every year)."""
    days = holidays_lib.France(years=year, subdiv=f"Zone {zone}", categories=(holidays_lib.SCHOOL,))
    return frozenset(d.toordinal() for d in days)


@cache
def school_holiday_names(zone: str, year: int) -> dict[date, str]:
    """"Vacances de Noël"…: the French name of each school holiday day of a zone."""
    return dict(holidays_lib.France(years=year, subdiv=f"Zone {zone}", categories=(holidays_lib.SCHOOL,),
                                    language="fr"))


@cache
def days_off_in_year(region: str | None, zone: str | None, year: int) -> frozenset[int]:
    """The days of `year` a series with this holiday region and school zone takes out."""
    days = holiday_ordinals(region, year) if region is not None else frozenset()
    return (days | school_holiday_ordinals(zone, year)) if zone is not None else days


def is_public_holiday(region: str | None, ordinal: int) -> bool:
    if region is None:
        return False
    return ordinal in holiday_ordinals(region, date.fromordinal(ordinal).year)


@lru_cache(maxsize=256)
def days_off(region: str | None, zone: str | None, lo_ord: int, hi_ord: int) -> frozenset[int]:
    """Public holidays of a region and school holidays of a zone (either may be None) in every
    year that [lo_ord, hi_ord] touches."""
    years = range(date.fromordinal(lo_ord).year, date.fromordinal(hi_ord).year + 1)
    return frozenset().union(*(days_off_in_year(region, zone, y) for y in years))
