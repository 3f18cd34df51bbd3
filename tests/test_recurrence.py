"""The time model: scheduler/recurrence.py, checked against dateutil.rrule as an independent oracle,
plus readable cases for holidays, DST, overseas zones and exceptions, and the writes that cancel
or move one occurrence (scheduler/writes and the API)."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bench.occurrences import rrule_occurrences
from conftest import next_monday
from scheduler.time.recurrence import (
    ExceptionSpec,
    SeriesRule,
    expand,
    gives_occurrence,
    holiday_region_of,
    rule_dates,
    skipped_holidays,
)

PARIS = ZoneInfo("Europe/Paris")
MO, TU, WE, TH, FR, SA, SU = range(7)


def rule(start: date, at: str = "14:00", minutes: int = 180, tz: str = "Europe/Paris", region="metropole",
         **kw) -> SeriesRule:
    h, m = map(int, at.split(":"))
    until = kw.pop("until", None)
    return SeriesRule(event_id=kw.pop("event_id", 1), timezone=tz, start_ord=start.toordinal(),
                      start_seconds=h * 3600 + m * 60, duration=minutes * 60, holiday_region=region,
                      until_ord=until.toordinal() if until else None, **kw)


def window(first: date, last: date, tz=PARIS) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) on the wall clock of tz."""
    return datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz)


def local_starts(occurrences) -> list[str]:
    """Local start times, ISO 8601 with offset, in order."""
    return [o.start.isoformat() for o in sorted(occurrences, key=lambda o: o.starts_at)]


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


# --- the oracle: dateutil.rrule, one series at a time, zoneinfo for each instant -------------
# (bench/occurrences.py's baseline: the same reference times the benchmark and checks the tests)

def oracle(r: SeriesRule, lo: datetime, hi: datetime) -> list[tuple]:
    return shape(rrule_occurrences(r, lo, hi))


def shape(occurrences) -> list[tuple]:
    return sorted((o.event_id, o.recurrence_id, o.starts_at, o.ends_at, o.place_id, o.room, o.person_ids,
                   o.is_cancelled, o.is_moved) for o in occurrences)


ZONES = ["Europe/Paris", "Europe/Paris", "Europe/Paris", "Indian/Reunion", "America/Martinique",
         "America/Cayenne", "Indian/Mayotte", "America/Guadeloupe"]
REGIONS = ["metropole", "metropole", "57", "6AE", "971", "972", "973", "974", "976", None]
SCHOOL_ZONES = [None, None, None, "A", "B", "C"]  # most series do not pause during school holidays
# Wall-clock times include 02:30, which does not exist on the March DST day and happens twice in October.
TIMES = ["00:00", "02:30", "09:00", "14:00", "18:30", "23:45"]


def random_rule(rng: random.Random, event_id: int) -> SeriesRule:
    frequency = rng.choice(["once", "daily", "weekly", "weekly", "monthly", "monthly"])
    start = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 4 * 365))
    kw = {"frequency": frequency}
    if frequency == "daily":
        kw["interval"] = rng.choice([1, 1, 2, 3, 7, 10])
    elif frequency == "weekly":
        kw["interval"] = rng.choice([1, 1, 2, 3, 6])
        kw["weekdays"] = tuple(sorted(rng.sample(range(7), rng.choice([1, 1, 2, 3]))))
    elif frequency == "monthly":
        kw["interval"] = rng.choice([1, 1, 2, 3])
        kw["weekdays"] = tuple(sorted(rng.sample(range(7), rng.choice([1, 1, 2]))))
        kw["month_week"] = rng.choice([1, 2, 3, 4, -1])
    if frequency != "once":
        roll = rng.random()
        if roll < 0.3:
            kw["count"] = rng.randint(1, 80)
        if 0.2 < roll < 0.5:
            kw["until"] = start + timedelta(days=rng.randrange(0, 700))
    return rule(start, at=rng.choice(TIMES), minutes=rng.choice([30, 90, 180, 600]), tz=rng.choice(ZONES),
                region=rng.choice(REGIONS), school_zone=rng.choice(SCHOOL_ZONES), event_id=event_id, **kw)


def random_exceptions(rng: random.Random, r: SeriesRule) -> None:
    """Cancels or moves (in time, possibly across the window's edges, place, room, people) a few
    of the rule's occurrences, and adds one on an instant the rule does not give."""
    lo = datetime.combine(date.fromordinal(r.start_ord), time(), UTC)
    given = rrule_occurrences(r, lo - timedelta(days=2), lo + timedelta(days=500))
    for o in rng.sample(given, min(len(given), 3)):
        if rng.random() < 0.4:
            r.exceptions[o.recurrence_id] = ExceptionSpec(True)
        else:
            shift = rng.choice([None, -86400 * 40, -3600, 7200, 86400 * 3, 86400 * 45])
            r.exceptions[o.recurrence_id] = ExceptionSpec(
                False, None if shift is None else o.recurrence_id + shift, rng.choice([None, 3600]),
                rng.choice([None, 99]), rng.choice([None, "Salle 9"]), rng.choice([None, (), (5, 6)]))
    r.exceptions[int(lo.timestamp()) + 17] = ExceptionSpec(False, int(lo.timestamp()) + 86400)


def test_expansion_agrees_with_dateutil_rrule_on_a_thousand_random_rules_and_windows():
    rng = random.Random(20260325)
    for n in range(1000):
        r = random_rule(rng, n)
        if rng.random() < 0.2:
            random_exceptions(rng, r)
        lo = datetime.combine(date.fromordinal(r.start_ord), time(), UTC) + timedelta(
            days=rng.randrange(-30, 500), hours=rng.randrange(0, 24))
        hi = lo + timedelta(days=rng.choice([1, 7, 31, 100, 400]), minutes=rng.randrange(0, 600))
        got, expected = shape(expand([r], lo, hi)), oracle(r, lo, hi)
        assert got == expected, (n, r)


def test_expanding_many_series_at_once_gives_each_series_own_occurrences():
    rng = random.Random(7)
    rules = [random_rule(rng, n) for n in range(200)]
    lo, hi = window(date(2026, 1, 1), date(2026, 12, 31))
    together = expand(rules, lo, hi)
    for r in rules:
        assert shape(o for o in together if o.event_id == r.event_id) == oracle(r, lo, hi)


# --- every rule kind, readably --------------------------------------------------------------

def test_a_single_event_happens_once_at_its_local_time():
    forum = rule(date(2027, 4, 15), "09:30", frequency="once")
    assert local_starts(expand([forum], *window(date(2027, 1, 1), date(2027, 12, 31)))) == [
        "2027-04-15T09:30:00+02:00"]


def test_a_daily_series_every_three_days_steps_over_weekends_too():
    street_work = rule(date(2027, 6, 1), "16:00", frequency="daily", interval=3, count=4)
    assert [s[:10] for s in local_starts(expand([street_work], *window(date(2027, 6, 1), date(2027, 6, 30))))] == [
        "2027-06-01", "2027-06-04", "2027-06-07", "2027-06-10"]


def test_a_cv_workshop_two_afternoons_a_week_gives_both_days_each_week():
    workshop = rule(date(2027, 6, 1), "14:00", frequency="weekly", weekdays=(TU, TH))
    assert [s[:10] for s in local_starts(expand([workshop], *window(date(2027, 6, 1), date(2027, 6, 14))))] == [
        "2027-06-01", "2027-06-03", "2027-06-08", "2027-06-10"]


def test_a_series_every_six_weeks_counts_weeks_from_its_first_one():
    gse = rule(date(2027, 1, 5), "09:30", frequency="weekly", interval=6, weekdays=(TU,))
    assert [s[:10] for s in local_starts(expand([gse], *window(date(2027, 1, 1), date(2027, 6, 30))))] == [
        "2027-01-05", "2027-02-16", "2027-03-30", "2027-05-11", "2027-06-22"]


def test_a_monthly_series_on_the_third_thursday_and_one_on_the_last_friday():
    round_table = rule(date(2027, 1, 1), "14:00", frequency="monthly", weekdays=(TH,), month_week=3)
    last_friday = rule(date(2027, 1, 1), "10:00", frequency="monthly", weekdays=(FR,), month_week=-1, event_id=2)
    occurrences = expand([round_table, last_friday], *window(date(2027, 1, 1), date(2027, 4, 30)))
    assert [s[:10] for s in local_starts(o for o in occurrences if o.event_id == 1)] == [
        "2027-01-21", "2027-02-18", "2027-03-18", "2027-04-15"]
    assert [s[:10] for s in local_starts(o for o in occurrences if o.event_id == 2)] == [
        "2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30"]  # Good Friday: no holiday in the metropole


def test_the_first_second_and_fourth_weekday_of_a_month():
    for nth, expected in ((1, "2027-09-06"), (2, "2027-09-13"), (4, "2027-09-27")):
        r = rule(date(2027, 9, 1), frequency="monthly", weekdays=(MO,), month_week=nth, count=1)
        assert [s[:10] for s in local_starts(expand([r], *window(date(2027, 9, 1), date(2027, 9, 30))))] == [expected]


def test_until_is_the_last_day_included():
    r = rule(date(2027, 6, 7), frequency="weekly", weekdays=(MO,), until=date(2027, 6, 21))
    assert [s[:10] for s in local_starts(expand([r], *window(date(2027, 6, 1), date(2027, 7, 31))))] == [
        "2027-06-07", "2027-06-14", "2027-06-21"]


def test_a_count_ends_the_series_even_when_the_window_starts_later():
    three_meetings = rule(date(2027, 6, 1), frequency="weekly", weekdays=(TU,), count=3)
    assert len(expand([three_meetings], *window(date(2027, 6, 1), date(2027, 12, 31)))) == 3
    assert expand([three_meetings], *window(date(2027, 6, 16), date(2027, 12, 31))) == []
    assert len(expand([three_meetings], *window(date(2027, 6, 15), date(2027, 12, 31)))) == 1


def test_an_occurrence_that_began_before_the_window_and_ends_in_it_is_in_the_window():
    r = rule(date(2027, 6, 7), "22:00", minutes=240, frequency="once")
    assert len(expand([r], datetime(2027, 6, 8, 1, tzinfo=PARIS), datetime(2027, 6, 8, 3, tzinfo=PARIS))) == 1
    assert expand([r], datetime(2027, 6, 8, 2, tzinfo=PARIS), datetime(2027, 6, 8, 3, tzinfo=PARIS)) == []


def test_weekdays_given_in_any_order_expand_in_date_order():
    r = rule(date(2027, 6, 1), frequency="weekly", weekdays=(TH, TU), count=3)
    assert [s[:10] for s in local_starts(expand([r], *window(date(2027, 6, 1), date(2027, 6, 30))))] == [
        "2027-06-01", "2027-06-03", "2027-06-08"]


# --- public holidays ------------------------------------------------------------------------

def test_a_monday_series_skips_easter_monday_and_still_counts_it():
    lundis = rule(date(2027, 3, 1), frequency="weekly", weekdays=(MO,), count=6)
    assert [s[:10] for s in local_starts(expand([lundis], *window(date(2027, 3, 1), date(2027, 5, 31))))] == [
        "2027-03-01", "2027-03-08", "2027-03-15", "2027-03-22", "2027-04-05"]  # 29 March: lundi de Pâques


def test_the_first_of_may_and_the_eighth_of_may_are_skipped():
    daily = rule(date(2027, 4, 29), frequency="daily", until=date(2027, 5, 9))
    days = [s[8:10] for s in local_starts(expand([daily], *window(date(2027, 4, 1), date(2027, 5, 31))))]
    assert "01" not in days and "08" not in days and "06" not in days  # 6 May 2027: Ascension
    assert days == ["29", "30", "02", "03", "04", "05", "07", "09"]


@pytest.mark.parametrize("department", ["57", "67", "68"])
def test_alsace_moselle_also_skips_good_friday_and_the_twenty_sixth_of_december(department):
    daily = rule(date(2027, 3, 25), frequency="daily", region=holiday_region_of(department))
    starts = {s[:10] for s in local_starts(expand([daily], *window(date(2027, 3, 25), date(2027, 12, 31))))}
    assert "2027-03-26" not in starts and "2027-12-26" not in starts and "2027-12-25" not in starts
    metropole = rule(date(2027, 3, 25), frequency="daily", region=holiday_region_of("38"))
    starts = {s[:10] for s in local_starts(expand([metropole], *window(date(2027, 3, 25), date(2027, 12, 31))))}
    assert "2027-03-26" in starts and "2027-12-26" in starts and "2027-12-25" not in starts


def test_la_reunion_skips_the_twentieth_of_december_on_its_own_clock_without_dst():
    weekly = rule(date(2027, 1, 4), "14:00", tz="Indian/Reunion", region=holiday_region_of("974"),
                  frequency="weekly", weekdays=(MO,))
    occurrences = expand([weekly], *window(date(2027, 1, 1), date(2027, 12, 31), ZoneInfo("Indian/Reunion")))
    starts = local_starts(occurrences)
    assert "2027-12-20T14:00:00+04:00" not in starts and "2027-12-13T14:00:00+04:00" in starts
    assert {s[10:] for s in starts} == {"T14:00:00+04:00"}  # the same offset all year, March and October too
    assert {datetime.fromtimestamp(o.starts_at, UTC).hour for o in occurrences} == {10}
    metropole = rule(date(2027, 12, 20), frequency="once")
    assert len(expand([metropole], *window(date(2027, 12, 20), date(2027, 12, 20)))) == 1


def test_martinique_skips_the_twenty_second_of_may_at_minus_four_hours():
    daily = rule(date(2027, 5, 20), "18:00", tz="America/Martinique", region=holiday_region_of("972"),
                 frequency="daily", count=5)
    starts = local_starts(expand([daily], *window(date(2027, 5, 1), date(2027, 5, 31), ZoneInfo("America/Martinique"))))
    assert starts == ["2027-05-20T18:00:00-04:00", "2027-05-21T18:00:00-04:00", "2027-05-23T18:00:00-04:00",
                      "2027-05-24T18:00:00-04:00"]  # 22 May skipped (and counted)


def test_a_series_can_opt_out_of_public_holidays():
    lundis = rule(date(2027, 3, 22), frequency="weekly", weekdays=(MO,), count=2, region=None)
    assert [s[:10] for s in local_starts(expand([lundis], *window(date(2027, 3, 1), date(2027, 4, 30))))] == [
        "2027-03-22", "2027-03-29"]
    assert skipped_holidays(lundis, date(2027, 1, 1).toordinal(), date(2027, 12, 31).toordinal()) == []


def test_skipped_holidays_lists_the_rule_dates_that_fall_on_a_holiday():
    lundis = rule(date(2027, 1, 4), frequency="weekly", weekdays=(MO,))
    skipped = skipped_holidays(lundis, date(2027, 1, 1).toordinal(), date(2027, 12, 31).toordinal())
    assert [date.fromordinal(d).isoformat() for d in skipped] == ["2027-03-29", "2027-05-17", "2027-11-01"]


def test_a_holiday_is_looked_up_in_the_year_of_each_date_across_new_year():
    daily = rule(date(2026, 12, 30), frequency="daily", count=5)
    assert [s[:10] for s in local_starts(expand([daily], *window(date(2026, 12, 1), date(2027, 1, 31))))] == [
        "2026-12-30", "2026-12-31", "2027-01-02", "2027-01-03"]


# --- school holidays -------------------------------------------------------------------------
# The dates are the point here: the national school calendar of 2026-2027, written out from the
# ministry's arrêté (zone A: Grenoble, Lyon, Bordeaux…; zone C: Paris, Créteil, Montpellier…).

def wednesdays(school_zone: str | None, **kw) -> set[str]:
    r = rule(date(2026, 12, 2), frequency="weekly", weekdays=(WE,), until=date(2027, 3, 31),
             school_zone=school_zone, **kw)
    return {s[:10] for s in local_starts(expand([r], *window(date(2026, 12, 1), date(2027, 3, 31))))}


def test_a_weekly_series_pauses_during_the_christmas_and_winter_holidays_of_its_zone():
    every, zone_a, zone_c = wednesdays(None), wednesdays("A"), wednesdays("C")
    christmas = {"2026-12-23", "2026-12-30"}  # 19 December to 3 January, every zone
    assert christmas <= every
    assert every - zone_a == christmas | {"2027-02-17", "2027-02-24"}  # zone A: 13 to 28 February
    assert every - zone_c == christmas | {"2027-02-10", "2027-02-17"}  # zone C: 6 to 21 February


def test_a_series_that_does_not_pause_runs_through_the_school_holidays():
    assert {"2026-12-23", "2026-12-30", "2027-02-17"} <= wednesdays(None)
    assert len(wednesdays(None)) == 18


def test_a_paused_series_still_skips_public_holidays_and_counts_both_as_its_dates():
    # Zone B's spring holidays: 17 April to 2 May 2027; Easter Monday: 29 March.
    lundis = rule(date(2027, 3, 22), frequency="weekly", weekdays=(MO,), count=8, school_zone="B")
    lo, hi = window(date(2027, 3, 1), date(2027, 6, 30))
    assert [s[:10] for s in local_starts(expand([lundis], lo, hi))] == [
        "2027-03-22", "2027-04-05", "2027-04-12", "2027-05-03", "2027-05-10"]
    assert shape(expand([lundis], lo, hi)) == oracle(lundis, lo, hi)
    without_holidays = rule(date(2027, 3, 22), frequency="weekly", weekdays=(MO,), count=8, school_zone="B",
                            region=None)
    assert "2027-03-29" in {s[:10] for s in local_starts(expand([without_holidays], lo, hi))}


def test_gives_occurrence_and_skipped_holidays_know_the_school_holidays_a_series_pauses_for():
    r = rule(date(2026, 12, 2), frequency="weekly", weekdays=(WE,), until=date(2027, 3, 31), school_zone="A")
    assert not gives_occurrence(r, utc("2026-12-23T14:00:00+01:00"))
    assert gives_occurrence(r, utc("2027-02-10T14:00:00+01:00"))
    skipped = skipped_holidays(r, date(2026, 12, 1).toordinal(), date(2027, 3, 31).toordinal())
    assert [date.fromordinal(d).isoformat() for d in skipped] == ["2026-12-23", "2026-12-30", "2027-02-17",
                                                                 "2027-02-24"]


def test_the_school_holiday_zone_of_a_place_comes_from_its_department():
    from models.territory import school_zone_of

    assert [school_zone_of(d) for d in ("38", "33", "69", "35", "13", "57", "93", "30", "91", "75")] == [
        "A", "A", "A", "B", "B", "B", "C", "C", "C", "C"]
    # Corsica and the overseas académies keep calendars of their own.
    assert [school_zone_of(d) for d in ("2A", "2B", "20", "974", "971", None)] == [None] * 6
    metropole = [f"{n:02d}" for n in range(1, 96) if n != 20]
    assert all(school_zone_of(d) in ("A", "B", "C") for d in metropole)


# --- the wall clock across DST --------------------------------------------------------------

def test_a_weekly_series_keeps_its_local_time_across_the_march_dst_change():
    r = rule(date(2027, 3, 18), "14:00", frequency="weekly", weekdays=(TH,))
    occurrences = sorted(expand([r], *window(date(2027, 3, 15), date(2027, 4, 4))), key=lambda o: o.starts_at)
    assert local_starts(occurrences) == ["2027-03-18T14:00:00+01:00", "2027-03-25T14:00:00+01:00",
                                         "2027-04-01T14:00:00+02:00"]
    assert [datetime.fromtimestamp(o.starts_at, UTC).hour for o in occurrences] == [13, 13, 12]
    assert occurrences[2].starts_at - occurrences[1].starts_at == 7 * 86400 - 3600


def test_a_weekly_series_keeps_its_local_time_across_the_october_dst_change():
    r = rule(date(2027, 10, 21), "14:00", frequency="weekly", weekdays=(TH,))
    occurrences = sorted(expand([r], *window(date(2027, 10, 18), date(2027, 11, 7))), key=lambda o: o.starts_at)
    assert local_starts(occurrences) == ["2027-10-21T14:00:00+02:00", "2027-10-28T14:00:00+02:00",
                                         "2027-11-04T14:00:00+01:00"]
    assert [datetime.fromtimestamp(o.starts_at, UTC).hour for o in occurrences] == [12, 12, 13]
    assert occurrences[2].starts_at - occurrences[1].starts_at == 7 * 86400 + 3600


def test_a_wall_clock_time_that_does_not_exist_takes_the_offset_before_the_change():
    # 28 March 2027, 02:30 does not exist in Paris: RFC 5545 reads it with the offset before
    # the gap, i.e. 01:30 UTC, shown as 03:30 summer time.
    r = rule(date(2027, 3, 27), "02:30", minutes=60, frequency="daily", count=3, region=None)
    assert local_starts(expand([r], *window(date(2027, 3, 27), date(2027, 3, 29)))) == [
        "2027-03-27T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"]
    assert gives_occurrence(r, utc("2027-03-28T01:30:00+00:00"))


def test_an_ambiguous_wall_clock_time_is_its_first_instance():
    r = rule(date(2027, 10, 30), "02:30", minutes=60, frequency="daily", count=3, region=None)
    occurrences = sorted(expand([r], *window(date(2027, 10, 30), date(2027, 11, 1))), key=lambda o: o.starts_at)
    assert local_starts(occurrences) == ["2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00",
                                         "2027-11-01T02:30:00+01:00"]
    assert occurrences[1].starts_at == utc("2027-10-31T00:30:00+00:00")


def test_a_window_given_in_another_offset_selects_the_same_instants():
    r = rule(date(2027, 3, 1), "09:00", tz="America/Cayenne", region=holiday_region_of("973"),
             frequency="weekly", weekdays=(MO, WE))
    lo, hi = window(date(2027, 3, 1), date(2027, 4, 30))
    assert shape(expand([r], lo, hi)) == shape(expand([r], lo.astimezone(UTC), hi.astimezone(ZoneInfo("Asia/Tokyo"))))


# --- exceptions: cancelled and moved occurrences --------------------------------------------

MONDAYS = rule(date(2027, 6, 7), "14:00", frequency="weekly", weekdays=(MO,), place_id=10, room="Salle 1",
               person_ids=(1, 2))
JUNE = window(date(2027, 6, 1), date(2027, 6, 30))


def with_exceptions(**exceptions: ExceptionSpec) -> SeriesRule:
    """MONDAYS with exceptions keyed by the local day of the occurrence ('d14' = 14 June)."""
    specs = {utc(f"2027-06-{int(key[1:]):02d}T14:00:00+02:00"): spec for key, spec in exceptions.items()}
    return SeriesRule(**{**{f: getattr(MONDAYS, f) for f in SeriesRule.__dataclass_fields__}, "exceptions": specs})


def test_a_cancelled_occurrence_stays_in_flagged_and_the_others_do_not_change():
    r = with_exceptions(d14=ExceptionSpec(is_cancelled=True))
    occurrences = sorted(expand([r], *JUNE), key=lambda o: o.starts_at)
    assert [(o.start.day, o.is_cancelled, o.is_moved) for o in occurrences] == [
        (7, False, False), (14, True, False), (21, False, False), (28, False, False)]
    assert occurrences[1].recurrence_id == occurrences[1].starts_at == utc("2027-06-14T14:00:00+02:00")


def test_a_moved_occurrence_changes_time_place_room_and_people_and_keeps_its_identity():
    moved_to = utc("2027-06-16T09:00:00+02:00")
    r = with_exceptions(d14=ExceptionSpec(False, starts_at=moved_to, duration=3600, place_id=11, room="Salle 3",
                                          person_ids=(3,)))
    occurrences = sorted(expand([r], *JUNE), key=lambda o: o.starts_at)
    moved = occurrences[1]
    assert (moved.recurrence_id, moved.starts_at, moved.ends_at) == (
        utc("2027-06-14T14:00:00+02:00"), moved_to, moved_to + 3600)
    assert (moved.place_id, moved.room, moved.person_ids, moved.is_moved, moved.is_cancelled) == (
        11, "Salle 3", (3,), True, False)
    assert moved.start.isoformat() == "2027-06-16T09:00:00+02:00"
    assert [(o.place_id, o.room, o.person_ids, o.is_moved) for o in occurrences if o is not moved] == [
        (10, "Salle 1", (1, 2), False)] * 3


def test_an_exception_that_changes_nothing_is_not_a_move():
    r = with_exceptions(d14=ExceptionSpec(False, place_id=10, room="Salle 1", person_ids=(1, 2)))
    assert not any(o.is_moved for o in expand([r], *JUNE))


def test_an_occurrence_moved_into_the_window_from_outside_it_is_in_the_window():
    # The occurrence of 28 June moves to 2 July: it is in July's window and not in June's.
    r = with_exceptions(d28=ExceptionSpec(False, starts_at=utc("2027-07-02T10:00:00+02:00")))
    july = expand([r], *window(date(2027, 7, 1), date(2027, 7, 4)))
    assert [(o.start.isoformat(), o.recurrence_start.isoformat()) for o in july] == [
        ("2027-07-02T10:00:00+02:00", "2027-06-28T12:00:00+00:00")]
    assert [o.start.day for o in expand([r], *JUNE)] != [] and 28 not in [o.start.day for o in expand([r], *JUNE)]


def test_an_occurrence_moved_out_of_the_window_leaves_it_and_a_cancelled_one_outside_stays_out():
    r = with_exceptions(d7=ExceptionSpec(False, starts_at=utc("2027-05-31T10:00:00+02:00")),
                        d28=ExceptionSpec(True))
    assert sorted(o.start.day for o in expand([r], *window(date(2027, 6, 1), date(2027, 6, 27)))) == [14, 21]
    may = expand([r], *window(date(2027, 5, 1), date(2027, 5, 31)))
    assert [(o.start.isoformat(), o.is_moved) for o in may] == [("2027-05-31T10:00:00+02:00", True)]


def test_an_exception_on_an_instant_the_rule_does_not_give_is_ignored():
    stray = utc("2027-06-15T14:00:00+02:00")  # a Tuesday
    r = SeriesRule(**{**{f: getattr(MONDAYS, f) for f in SeriesRule.__dataclass_fields__},
                      "exceptions": {stray: ExceptionSpec(False, starts_at=utc("2027-06-16T14:00:00+02:00"))}})
    assert shape(expand([r], *JUNE)) == shape(expand([MONDAYS], *JUNE))


def test_a_cancelled_series_gives_its_occurrences_flagged_cancelled():
    r = rule(date(2027, 6, 7), frequency="weekly", weekdays=(MO,), is_cancelled=True)
    occurrences = expand([r], *JUNE)
    assert len(occurrences) == 4 and all(o.is_cancelled for o in occurrences)


def test_gives_occurrence_knows_the_rule_holidays_and_count():
    lundis = rule(date(2027, 3, 1), frequency="weekly", weekdays=(MO,), count=6)
    assert gives_occurrence(lundis, utc("2027-03-22T14:00:00+01:00"))
    assert gives_occurrence(lundis, utc("2027-04-05T14:00:00+02:00"))
    assert not gives_occurrence(lundis, utc("2027-03-29T14:00:00+02:00"))  # Easter Monday
    assert not gives_occurrence(lundis, utc("2027-04-12T14:00:00+02:00"))  # after the count
    assert not gives_occurrence(lundis, utc("2027-03-22T15:00:00+01:00"))  # not its time
    assert not gives_occurrence(lundis, utc("2027-03-23T14:00:00+01:00"))  # not its day
    assert not gives_occurrence(lundis, utc("2027-02-22T14:00:00+01:00"))  # before the start


def test_gives_occurrence_on_an_overseas_clock_where_the_local_day_differs_from_utc():
    evening = rule(date(2027, 6, 7), "22:00", tz="America/Martinique", region=holiday_region_of("972"),
                   frequency="weekly", weekdays=(MO,))
    assert gives_occurrence(evening, utc("2027-06-08T02:00:00+00:00"))
    assert not gives_occurrence(evening, utc("2027-06-07T02:00:00+00:00"))


def test_rule_dates_gives_local_days_before_holidays():
    lundis = rule(date(2027, 3, 22), frequency="weekly", weekdays=(MO,), count=3)
    days = rule_dates(lundis, date(2027, 1, 1).toordinal(), date(2027, 12, 31).toordinal())
    assert [date.fromordinal(d).isoformat() for d in days] == ["2027-03-22", "2027-03-29", "2027-04-05"]


# --- through the models and the API ---------------------------------------------------------

@pytest.fixture
def monday_series(create_partner, create_quartier, create_place, create_event):
    from conftest import SYSTEM
    from models import db
    from models.operations.partners import create_person

    quartier = create_quartier()
    partner = create_partner("mission-locale-sud")
    create_place("bij-echirolles", quartier=quartier.code, rooms=["Salle 1", "Salle 2"])
    create_place("pimms-echirolles", quartier=quartier.code)
    adviser = create_person(SYSTEM, {"partner": partner.slug, "name": "Awa Diallo"})
    interpreter = create_person(SYSTEM, {"partner": partner.slug, "name": "Hugo Martin", "role": "interpreter"})
    db.session.commit()
    from models.operations.territory import place_by_slug

    event = create_event(place_by_slug("bij-echirolles"), [partner], start_date=date(2027, 3, 1),
                         frequency="weekly", weekdays=[MO], room="Salle 1", people=[adviser.id])
    return event, adviser, interpreter


def _occurrences(start: date, end: date):
    from scheduler.time.calendar import CalendarFilter, occurrences_between

    return [o for o, _ in occurrences_between(CalendarFilter(include_private=True), *window(start, end))]


def test_cancelling_and_moving_through_the_series_operations_keeps_the_series_and_its_history(monday_series):
    from conftest import SYSTEM
    from models import AuditEntry, db
    from models.errors import NotFound
    from models.operations.events import event_by_id
    from scheduler import writes as series

    event, adviser, interpreter = monday_series
    march8 = datetime(2027, 3, 8, 14, tzinfo=PARIS)
    march15 = datetime(2027, 3, 15, 14, tzinfo=PARIS)
    series.cancel_occurrence(SYSTEM, event, march8, "Formation de l'équipe")
    series.move_occurrence(SYSTEM, event, march15, starts_at=datetime(2027, 3, 17, 9, tzinfo=PARIS),
                           ends_at=datetime(2027, 3, 17, 11, tzinfo=PARIS), place="pimms-echirolles",
                           room="Accueil", person_ids=[interpreter.id])
    db.session.commit()
    db.session.expire_all()
    occurrences = _occurrences(date(2027, 3, 1), date(2027, 3, 31))
    assert [(o.start.isoformat(), o.is_cancelled, o.is_moved) for o in occurrences] == [
        ("2027-03-01T14:00:00+01:00", False, False), ("2027-03-08T14:00:00+01:00", True, False),
        ("2027-03-17T09:00:00+01:00", False, True), ("2027-03-22T14:00:00+01:00", False, False)]
    moved = occurrences[2]
    assert moved.recurrence_start == march15 and moved.ends_at - moved.starts_at == 7200
    assert (moved.room, moved.person_ids) == ("Accueil", (interpreter.id,))
    assert occurrences[3].person_ids == (adviser.id,) and occurrences[3].room == "Salle 1"
    # Easter Monday is no occurrence: nothing to cancel there.
    with pytest.raises(NotFound):
        series.cancel_occurrence(SYSTEM, event_by_id(event.id), datetime(2027, 3, 29, 14, tzinfo=PARIS))
    actions = [a.action for a in db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.entity_type == "events", AuditEntry.entity_id == event.id)
        .order_by(AuditEntry.id))]
    assert actions == ["create", "cancel_occurrence", "move_occurrence"]
    series.restore_occurrence(SYSTEM, event_by_id(event.id), march8)
    db.session.commit()
    assert not _occurrences(date(2027, 3, 8), date(2027, 3, 8))[0].is_cancelled


def test_cancel_move_and_restore_through_the_api(client, monday_series, token_for):
    event, adviser, interpreter = monday_series
    headers = token_for()
    url = f"/api/v1/events/{event.id}/occurrences"

    def june_to_april():
        body = client.get("/api/v1/occurrences?start=2027-03-01&end=2027-04-13", headers=headers).get_json()
        return [(o["starts_at"], o["recurrence_id"], o["is_cancelled"], o["is_moved"], o["place"]["slug"], o["room"],
                 [p["id"] for p in o["people"]]) for o in body]

    response = client.post(f"{url}/cancel", headers=headers,
                           json={"recurrence_start": "2027-03-08T14:00:00+01:00", "reason": "Grève des transports"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["is_cancelled"] is True
    # To the Wednesday after (the Monday after has its own occurrence: a move there is refused).
    response = client.post(f"{url}/move", headers=headers, json={
        "recurrence_start": "2027-04-05T12:00:00Z", "starts_at": "2027-04-07T09:30:00+02:00",
        "place": "pimms-echirolles", "people": [interpreter.id]})
    assert response.status_code == 200, response.get_json()
    # Moved in time, place and people; cancelled, yet listed; the DST change between them.
    assert june_to_april() == [
        ("2027-03-01T14:00:00+01:00", "2027-03-01T13:00:00Z", False, False, "bij-echirolles", "Salle 1", [adviser.id]),
        ("2027-03-08T14:00:00+01:00", "2027-03-08T13:00:00Z", True, False, "bij-echirolles", "Salle 1", [adviser.id]),
        ("2027-03-15T14:00:00+01:00", "2027-03-15T13:00:00Z", False, False, "bij-echirolles", "Salle 1", [adviser.id]),
        ("2027-03-22T14:00:00+01:00", "2027-03-22T13:00:00Z", False, False, "bij-echirolles", "Salle 1", [adviser.id]),
        ("2027-04-07T09:30:00+02:00", "2027-04-05T12:00:00Z", False, True, "pimms-echirolles", "Salle 1",
         [interpreter.id]),
        ("2027-04-12T14:00:00+02:00", "2027-04-12T12:00:00Z", False, False, "bij-echirolles", "Salle 1", [adviser.id]),
    ]
    # Moved out of its first place's calendar, into the other's.
    at_bij = client.get("/api/v1/occurrences?start=2027-04-01&end=2027-04-30&place=bij-echirolles").get_json()
    at_pimms = client.get("/api/v1/occurrences?start=2027-04-01&end=2027-04-30&place=pimms-echirolles").get_json()
    assert "2027-04-07T09:30:00+02:00" not in [o["starts_at"] for o in at_bij]
    assert [o["starts_at"] for o in at_pimms] == ["2027-04-07T09:30:00+02:00"]
    # Nothing to cancel on Easter Monday (skipped) nor at an hour the rule does not give.
    for instant in ("2027-03-29T14:00:00+02:00", "2027-03-22T15:00:00+01:00"):
        response = client.post(f"{url}/cancel", headers=headers, json={"recurrence_start": instant})
        assert response.status_code == 404 and response.get_json()["status"] == "Not Found"
    assert client.post(f"{url}/cancel", json={"recurrence_start": "2027-03-15T14:00:00+01:00"}).status_code == 401
    for instant in ("2027-03-08T13:00:00Z", "2027-04-05T14:00:00+02:00"):
        response = client.post(f"{url}/restore", headers=headers, json={"recurrence_start": instant})
        assert response.status_code == 204
    assert not any(cancelled or moved for _, _, cancelled, moved, *_ in june_to_april())
    history = client.get(f"/api/v1/events/{event.id}/history", headers=headers).get_json()
    assert [h["action"] for h in history].count("restore_occurrence") == 2


def test_an_occurrence_moved_before_the_first_date_of_its_series_is_found_in_that_earlier_window(
        client, monday_series, token_for):
    event, _, _ = monday_series
    headers = token_for()
    response = client.post(f"/api/v1/events/{event.id}/occurrences/move", headers=headers, json={
        "recurrence_start": "2027-03-01T14:00:00+01:00", "starts_at": "2027-02-24T10:00:00+01:00"})
    assert response.status_code == 200, response.get_json()
    body = client.get("/api/v1/occurrences?start=2027-02-22&end=2027-02-28", headers=headers).get_json()
    assert [(o["starts_at"], o["recurrence_id"], o["is_moved"]) for o in body] == [
        ("2027-02-24T10:00:00+01:00", "2027-03-01T13:00:00Z", True)]


# --- school holidays through the models and the API ------------------------------------------

@pytest.fixture
def youth_places(create_partner, create_quartier, create_place, token_for):
    """A PIJ in Échirolles (zone A), a BIJ in Ajaccio (Corsica: no zone) and a case in La Réunion."""
    create_partner("pij-echirolles", type="pij_bij")
    create_quartier()
    create_place("pij-echirolles", quartier="QN03801M")
    create_place("bij-ajaccio", postcode="20000")
    create_place("case-chaudron", postcode="97490")
    headers = token_for()

    def post(client, place, **values):
        return client.post("/api/v1/events", headers=headers, json={
            "kind": "atelier", "title": "Atelier jeunes", "place": place, "organisers": ["pij-echirolles"],
            "start_date": next_monday().isoformat(), "start_time": "14:00", "end_time": "16:00",
            "recurrence": {"frequency": "weekly", "weekdays": ["WE"]}, **values})

    return headers, post


def test_a_series_pauses_during_the_school_holidays_of_its_places_zone_only_when_asked(client, youth_places):
    _, post = youth_places
    created = post(client, "pij-echirolles", pause_school_holidays=True)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["pause_school_holidays"], body["school_zone"], body["school_holidays_zone"]) == (True, None, "A")
    assert post(client, "pij-echirolles").get_json()["pause_school_holidays"] is False  # off by default
    # A single date is set on purpose: it never pauses.
    single = post(client, "pij-echirolles", pause_school_holidays=True, recurrence={"frequency": "once"})
    assert single.status_code == 201 and single.get_json()["pause_school_holidays"] is False


def test_an_event_dated_on_a_public_holiday_takes_place_while_a_series_skips_that_day(client, youth_places):
    from icalendar import Calendar

    from conftest import french_holidays

    _, post = youth_places
    today = date.today()
    days_off = french_holidays(today.year, today.year + 1, today.year + 2)
    # A weekday holiday whose week before has none (25 December and 1 January, 1 and 8 May are a
    # week apart): the series' first date, that week before, must be one.
    holiday = min(d for d in days_off
                  if d > today + timedelta(days=7) and d.weekday() < 5 and d - timedelta(weeks=1) not in days_off)
    forum = post(client, "pij-echirolles", kind="forum", title="Forum de l'alternance", start_date=holiday.isoformat(),
                 recurrence={"frequency": "once"})  # skip_public_holidays left to its default
    assert forum.status_code == 201, forum.get_json()
    assert forum.get_json()["skip_public_holidays"] is False
    series = post(client, "pij-echirolles", start_date=(holiday - timedelta(weeks=1)).isoformat(),
                  recurrence={"frequency": "weekly", "weekdays": [["MO", "TU", "WE", "TH", "FR"][holiday.weekday()]],
                              "count": 3})
    assert series.status_code == 201 and series.get_json()["skip_public_holidays"] is True
    found = client.get("/api/v1/occurrences", query_string={
        "start": f"{holiday - timedelta(weeks=1)}T00:00:00+00:00",
        "end": f"{holiday + timedelta(weeks=3)}T00:00:00+00:00"})
    days = {(o["event_id"], o["starts_at"][:10]) for o in found.get_json()}
    assert (forum.get_json()["id"], holiday.isoformat()) in days
    assert (series.get_json()["id"], holiday.isoformat()) not in days
    assert (series.get_json()["id"], (holiday - timedelta(weeks=1)).isoformat()) in days
    feed = Calendar.from_ical(client.get("/feeds/places/pij-echirolles.ics").data)
    dated = [c for c in feed.walk("VEVENT") if str(c["SUMMARY"]) == "Forum de l'alternance"]
    assert [c.decoded("DTSTART").date() for c in dated] == [holiday]


def test_the_history_of_an_event_says_what_was_stored_when_a_dated_event_drops_series_settings(client, youth_places):
    """A dated event keeps no weekdays and no holiday flags whatever was sent: its history says
    what is stored, and a change that the rule undoes is no change at all."""
    headers, post = youth_places
    created = post(client, "pij-echirolles", recurrence={"frequency": "once"}, skip_public_holidays=True,
                   pause_school_holidays=True)
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    history = lambda: client.get(f"/api/v1/events/{event['id']}/history", headers=headers).get_json()  # noqa: E731
    (creation,) = history()
    assert creation["changes"]["skip_public_holidays"] == [None, False]
    assert creation["changes"]["pause_school_holidays"] == [None, False]

    undone = client.patch(f"/api/v1/events/{event['id']}", headers=headers, json={"skip_public_holidays": True})
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["skip_public_holidays"] is False
    assert undone.get_json()["sequence"] == event["sequence"]  # nothing changed: no new SEQUENCE
    assert len(history()) == 1

    series = post(client, "pij-echirolles").get_json()  # weekly on Wednesdays, skips public holidays
    once = client.patch(f"/api/v1/events/{series['id']}", headers=headers, json={"recurrence": {"frequency": "once"}})
    assert once.status_code == 200, once.get_json()
    update = client.get(f"/api/v1/events/{series['id']}/history", headers=headers).get_json()[-1]
    assert update["action"] == "update"
    assert update["changes"]["frequency"] == ["weekly", "once"]
    assert update["changes"]["weekdays"] == [[2], []]
    assert update["changes"]["skip_public_holidays"] == [True, False]


def test_a_place_without_a_zone_needs_one_given_and_overseas_academies_are_refused(client, youth_places):
    from models import Event, db

    _, post = youth_places
    refused = post(client, "bij-ajaccio", pause_school_holidays=True)
    assert refused.status_code == 422 and "school_zone" in refused.get_json()["errors"]["json"]
    assert "indiquez la zone" in refused.get_json()["message"]
    given = post(client, "bij-ajaccio", pause_school_holidays=True, school_zone="B")
    assert given.status_code == 201 and given.get_json()["school_holidays_zone"] == "B"
    overseas = post(client, "case-chaudron", pause_school_holidays=True)
    assert overseas.status_code == 422 and "outre-mer" in overseas.get_json()["message"]
    assert post(client, "case-chaudron", pause_school_holidays=True, school_zone="A").status_code == 422
    unknown = post(client, "pij-echirolles", school_zone="D")
    assert unknown.status_code == 422 and "school_zone" in unknown.get_json()["errors"]["json"]
    assert db.session.query(Event).count() == 1  # only the one given its zone


def test_pausing_a_series_drops_the_exceptions_of_the_dates_it_takes_out_which_cannot_be_cancelled(
        client, youth_places):
    from bench.occurrences import school_holidays

    headers, post = youth_places
    event = post(client, "pij-echirolles").get_json()
    first = date.fromisoformat(event["start_date"])
    holiday = min(d for d in school_holidays("A") if d >= first and d.weekday() == WE)
    instant = datetime.combine(holiday, time(14), PARIS).isoformat()
    url = f"/api/v1/events/{event['id']}"
    cancelled = client.post(f"{url}/occurrences/cancel", headers=headers, json={"recurrence_start": instant})
    assert cancelled.status_code == 200

    def dates():
        window = {"start": holiday.isoformat(), "end": (holiday + timedelta(days=1)).isoformat()}
        return [(o["starts_at"][:10], o["is_cancelled"])
                for o in client.get("/api/v1/occurrences", query_string=window).get_json()]

    assert dates() == [(holiday.isoformat(), True)]
    assert client.patch(url, headers=headers, json={"pause_school_holidays": True}).status_code == 200
    assert dates() == []
    response = client.post(f"{url}/occurrences/cancel", headers=headers, json={"recurrence_start": instant})
    assert response.status_code == 404
    assert client.patch(url, headers=headers, json={"pause_school_holidays": False}).status_code == 200
    assert dates() == [(holiday.isoformat(), False)]  # back, as the rule gives it


# --- a new rule for the whole series: its exceptions follow their dates ------------------------

def march_change(year: int) -> date:
    """The Sunday Europe/Paris moves to summer time (the last Sunday of March)."""
    last = date(year, 3, 31)
    return last - timedelta(days=(last.weekday() - SU) % 7)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


def test_a_new_time_carries_each_exception_to_its_date_at_the_new_wall_clock_time_across_the_dst_change():
    from scheduler.time.recurrence import carried_over, holiday_names

    change = march_change(date.today().year + 1)
    monday_before, thursday_after = change - timedelta(days=6), change + timedelta(days=4)
    first = monday_before - timedelta(days=7)
    old = rule(first, "14:00", frequency="weekly", weekdays=(MO, TH))
    at_three = rule(first, "15:00", frequency="weekly", weekdays=(MO, TH))
    cancelled, moved = int(paris(monday_before, 14).timestamp()), int(paris(thursday_after, 14).timestamp())

    carried = carried_over(old, at_three, [cancelled, moved])
    assert carried == {cancelled: int(paris(monday_before, 15).timestamp()),
                       moved: int(paris(thursday_after, 15).timestamp())}
    # 15:00 on both sides: 14:00 UTC in winter, 13:00 UTC in summer.
    assert [datetime.fromtimestamp(v, UTC).hour for v in carried.values()] == [14, 13]
    # Thursdays only: the Monday is no longer a date of the series.
    thursdays = rule(first, "15:00", frequency="weekly", weekdays=(TH,))
    assert carried_over(old, thursdays, [cancelled, moved]) == {cancelled: None, moved: carried[moved]}
    # A date the new rule skips as a public holiday (Easter Monday) gives no occurrence either.
    easter_monday = next(d for d, name in holiday_names("metropole", change.year).items() if name == "Lundi de Pâques")
    lundis = rule(easter_monday - timedelta(days=7), "14:00", frequency="weekly", weekdays=(MO,), region=None)
    on_easter = int(paris(easter_monday, 14).timestamp())
    assert carried_over(lundis, rule(easter_monday - timedelta(days=7), "15:00", frequency="weekly", weekdays=(MO,)),
                        [on_easter]) == {on_easter: None}


def test_a_stray_exception_never_takes_the_date_of_one_its_rule_gave():
    from conftest import next_working_monday
    from scheduler.time.recurrence import carried_over

    monday = next_working_monday()  # a holiday would give no occurrence to carry over
    old = rule(monday, "14:00", frequency="weekly", weekdays=(MO,))
    given, stray = int(paris(monday, 14).timestamp()), int(paris(monday, 9).timestamp())
    new = rule(monday, "16:00", frequency="weekly", weekdays=(MO,))
    assert carried_over(old, new, [stray, given]) == {given: int(paris(monday, 16).timestamp()), stray: None}


@pytest.fixture
def twice_weekly(create_partner, create_quartier, create_place, create_event):
    """Mondays and Thursdays at 14:00 around next year's March change, a cancelled Monday (winter)
    and a Thursday moved to Friday morning at another place (summer)."""
    quartier = create_quartier()
    partner = create_partner("mission-locale-sud")
    bij = create_place("bij-echirolles", quartier=quartier.code)
    create_place("pimms-echirolles", quartier=quartier.code)
    change = march_change(date.today().year + 1)
    monday, thursday = change - timedelta(days=6), change + timedelta(days=4)
    event = create_event(bij, [partner], start_date=monday - timedelta(days=7), frequency="weekly",
                         weekdays=[MO, TH], until=thursday + timedelta(days=7), skip_public_holidays=False)
    return event, monday, thursday


def _series_occurrences(client, headers, first: date, last: date) -> list[tuple]:
    body = client.get("/api/v1/occurrences", headers=headers,
                      query_string={"start": first.isoformat(), "end": last.isoformat()}).get_json()
    return [(o["starts_at"], o["ends_at"], o["recurrence_id"], o["is_cancelled"], o["is_moved"], o["place"]["slug"])
            for o in body]


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _feeds_agree_with_the_api(client, first: date, last: date) -> set:
    from feed_readers import api_occurrences, with_icalendar, with_icaljs, with_vobject
    from feed_readers import window as feed_window

    body = client.get("/feeds/all.ics").data
    expected = api_occurrences(client, first, last)
    lo, hi = feed_window(first, last, PARIS)
    assert with_icalendar(body, lo, hi) == expected
    assert with_vobject(body, lo, hi) == expected == with_icaljs(body, lo, hi)
    return expected


def test_retiming_a_series_keeps_its_cancelled_and_moved_occurrences_in_the_api_and_the_feeds(
        client, twice_weekly, token_for):
    event, monday, thursday = twice_weekly
    headers = token_for()
    url = f"/api/v1/events/{event.id}"
    assert client.post(f"{url}/occurrences/cancel", headers=headers, json={
        "recurrence_start": paris(monday, 14).isoformat(), "reason": "Bureau de vote"}).status_code == 200
    friday = thursday + timedelta(days=1)
    assert client.post(f"{url}/occurrences/move", headers=headers, json={
        "recurrence_start": paris(thursday, 14).isoformat(), "starts_at": paris(friday, 10).isoformat(),
        "ends_at": paris(friday, 12).isoformat(), "place": "pimms-echirolles"}).status_code == 200

    response = client.patch(url, headers=headers, json={"start_time": "15:00", "end_time": "18:00"})
    assert response.status_code == 200, response.get_json()
    first, last = monday - timedelta(days=1), friday + timedelta(days=1)
    assert _series_occurrences(client, headers, first, last) == [
        (paris(monday, 15).isoformat(), paris(monday, 18).isoformat(), _z(paris(monday, 15)), True, False,
         "bij-echirolles"),
        (paris(monday + timedelta(days=3), 15).isoformat(), paris(monday + timedelta(days=3), 18).isoformat(),
         _z(paris(monday + timedelta(days=3), 15)), False, False, "bij-echirolles"),
        (paris(monday + timedelta(days=7), 15).isoformat(), paris(monday + timedelta(days=7), 18).isoformat(),
         _z(paris(monday + timedelta(days=7), 15)), False, False, "bij-echirolles"),
        # Moved: its own time and place, under the identity the new rule gives its Thursday.
        (paris(friday, 10).isoformat(), paris(friday, 12).isoformat(), _z(paris(thursday, 15)), False, True,
         "pimms-echirolles"),
    ]
    seen = _feeds_agree_with_the_api(client, first, last)
    assert (int(paris(monday, 15).timestamp()), int(paris(monday, 18).timestamp()), True) in seen
    assert (int(paris(friday, 10).timestamp()), int(paris(friday, 12).timestamp()), False) in seen
    [update] = [h for h in client.get(f"{url}/history", headers=headers).get_json() if h["action"] == "update"]
    assert update["changes"]["exceptions_rekeyed"] == [
        [paris(monday, 14).astimezone(UTC).isoformat(), paris(thursday, 14).astimezone(UTC).isoformat()],
        [paris(monday, 15).astimezone(UTC).isoformat(), paris(thursday, 15).astimezone(UTC).isoformat()]]
    assert "exceptions_removed" not in update["changes"]


def test_new_weekdays_remove_the_exception_whose_date_went_and_the_history_says_so(client, twice_weekly, token_for):
    event, monday, thursday = twice_weekly
    headers = token_for()
    url = f"/api/v1/events/{event.id}"
    client.post(f"{url}/occurrences/cancel", headers=headers, json={
        "recurrence_start": paris(monday, 14).isoformat(), "reason": "Bureau de vote"})
    friday = thursday + timedelta(days=1)
    client.post(f"{url}/occurrences/move", headers=headers, json={
        "recurrence_start": paris(thursday, 14).isoformat(), "starts_at": paris(friday, 10).isoformat()})

    response = client.patch(url, headers=headers, json={"recurrence": {
        "frequency": "weekly", "weekdays": ["TH"], "until": (thursday + timedelta(days=7)).isoformat()}})
    assert response.status_code == 200, response.get_json()
    first, last = monday - timedelta(days=7), friday + timedelta(days=8)
    occurrences = _series_occurrences(client, headers, first, last)
    assert not [o for o in occurrences if o[3]], "the Monday's cancellation went with the Mondays"
    assert [o[0] for o in occurrences if o[4]] == [paris(friday, 10).isoformat()]
    assert len(occurrences) == 4  # the four Thursdays, the third one moved to Friday
    _feeds_agree_with_the_api(client, first, last)
    update = client.get(f"{url}/history", headers=headers).get_json()[-1]
    assert update["action"] == "update"
    [removed] = update["changes"]["exceptions_removed"][0]
    assert removed["recurrence_start"] == paris(monday, 14).astimezone(UTC).isoformat()
    assert (removed["is_cancelled"], removed["reason"]) == (True, "Bureau de vote")
    assert update["changes"]["exceptions_removed"][1] is None


def test_a_move_to_another_time_zone_near_midnight_rekeys_exceptions_that_shift_into_one_another(
        client, create_partner, create_place, create_event, token_for):
    """23:00 in Paris is 22:00 UTC in winter; 02:00 the next night in La Réunion is 22:00 UTC too:
    the exception of a day takes the key the one of the day before had."""
    partner = create_partner("mission-locale")
    paris_place = create_place("foyer-grenoble", postcode="38000")
    create_place("foyer-saint-denis", postcode="97400")
    start = date.today() + timedelta(days=14)
    event = create_event(paris_place, [partner], start_date=start, start_time="23:00", duration_minutes=60,
                         frequency="daily", count=5, skip_public_holidays=False)
    headers = token_for()
    url = f"/api/v1/events/{event.id}/occurrences/cancel"
    day2, day1 = start + timedelta(days=2), start + timedelta(days=1)
    for day in (day2, day1):  # the later day first: the lower row id is the one that must move out of the way
        cancelled = client.post(url, headers=headers, json={"recurrence_start": paris(day, 23).isoformat()})
        assert cancelled.status_code == 200

    reunion = ZoneInfo("Indian/Reunion")
    # The Réunion time of 23:00 in Paris (UTC+4, no DST): 02:00 in winter, 01:00 in summer.
    at = paris(start, 23).astimezone(reunion).time()
    response = client.patch(f"/api/v1/events/{event.id}", headers=headers, json={
        "place": "foyer-saint-denis", "start_time": f"{at:%H:%M}", "end_time": f"{at.hour + 1:02d}:00"})
    assert response.status_code == 200, response.get_json()
    body = client.get("/api/v1/occurrences", headers=headers, query_string={
        "start": start.isoformat(), "end": (start + timedelta(days=6)).isoformat()}).get_json()
    new_starts = [datetime.combine(day, at, reunion) for day in (day1, day2)]
    assert [o["starts_at"] for o in body if o["is_cancelled"]] == [d.isoformat() for d in new_starts]
    assert [o["recurrence_id"] for o in body if o["is_cancelled"]] == [_z(d) for d in new_starts]
    assert _z(new_starts[1]) == _z(paris(day1, 23))  # the key the other exception had


def test_what_was_moved_stays_moved_and_what_was_not_follows_the_new_time(client, twice_weekly, token_for):
    event, monday, thursday = twice_weekly
    headers = token_for()
    url = f"/api/v1/events/{event.id}"
    friday = thursday + timedelta(days=1)
    # Moved to Friday morning, the end left to the series (three hours then).
    client.post(f"{url}/occurrences/move", headers=headers, json={
        "recurrence_start": paris(thursday, 14).isoformat(), "starts_at": paris(friday, 10).isoformat()})
    # Moved to another place only, its start written as the rule's own instant (as an import writes it).
    client.post(f"{url}/occurrences/move", headers=headers, json={
        "recurrence_start": paris(monday, 14).isoformat(), "starts_at": paris(monday, 14).isoformat(),
        "place": "pimms-echirolles"})

    response = client.patch(url, headers=headers, json={"start_time": "15:00", "end_time": "16:00"})
    assert response.status_code == 200, response.get_json()
    moved = [o for o in _series_occurrences(client, headers, monday, friday + timedelta(days=1)) if o[4]]
    assert moved == [
        (paris(monday, 15).isoformat(), paris(monday, 16).isoformat(), _z(paris(monday, 15)), False, True,
         "pimms-echirolles"),
        (paris(friday, 10).isoformat(), paris(friday, 13).isoformat(), _z(paris(thursday, 15)), False, True,
         "bij-echirolles"),
    ]
