"""The wider time model (issue 19, break 7): days of the month (-1 the last), yearly rules on
months, dates added to a rule (RDATE) — written through the API, expanded by the one expansion
as dateutil.rrule does, written in the feeds as RRULE/RDATE and read alike by the three parsers
(icalendar + recurring-ical-events, vobject, ical.js), and said in French."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import MO, MONTHLY, WEEKLY, YEARLY, rrule, rruleset, weekday

from test_feed_edges import read_by_all

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def bij(app, create_partner, create_quartier, create_place):
    partner = create_partner("mission-locale-sud")
    create_quartier()
    return create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M"), partner


def post_event(client, headers, start: str, recurrence: dict, **more) -> dict:
    body = {"kind": "permanence", "title": "Permanence", "place": "bij-echirolles",
            "organisers": ["mission-locale-sud"], "start_date": start, "start_time": "14:00", "end_time": "16:00",
            "recurrence": recurrence, "skip_public_holidays": False, **more}
    if more.get("all_day"):
        del body["end_time"]
    response = client.post("/api/v1/events", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def local_days(occurrences) -> list[date]:
    return sorted(datetime.fromtimestamp(s, PARIS).date() for s, _e, _c in occurrences)


def test_rules_of_days_of_the_month_years_and_added_dates_are_read_alike_by_the_three_parsers(client, bij,
                                                                                             token_for):
    headers = token_for()
    fifteenth = post_event(client, headers, "2027-01-15", {"frequency": "monthly", "month_days": [15]})
    assert fifteenth["recurrence"]["month_days"] == [15]
    post_event(client, headers, "2027-01-31", {"frequency": "monthly", "interval": 2, "month_days": [1, -1],
                                               "until": "2027-12-31"}, title="Bilan")
    forum = post_event(client, headers, "2027-03-10", {"frequency": "yearly", "months": [3, 9], "month_days": [10],
                                                       "count": 5}, title="Forum de l'alternance")
    post_event(client, headers, "2027-06-10", {"frequency": "yearly", "months": [6], "month_week": 2,
                                               "weekdays": ["TH"]}, title="Salon de l'emploi")
    added = post_event(client, headers, "2027-01-04", {"frequency": "weekly", "weekdays": ["MO"], "count": 6,
                                                       "extra_dates": ["2027-01-13", "2027-03-31", "2027-10-31"]},
                       title="Permanence et dates en plus")
    assert added["recurrence"]["extra_dates"] == ["2027-01-13", "2027-03-31", "2027-10-31"]
    post_event(client, headers, "2027-02-10", {"frequency": "once", "extra_dates": ["2027-03-10", "2027-10-20"]},
               title="Forum en trois dates")
    body, occurrences = read_by_all(client, headers)
    text = body.decode()
    assert "RRULE:FREQ=MONTHLY;BYMONTHDAY=15" in text
    assert "RRULE:FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=10;COUNT=5" in text
    assert "RRULE:FREQ=YEARLY;BYMONTH=6;BYDAY=2TH" in text
    assert "RDATE;TZID=Europe/Paris:20270113T140000,20270331T140000,20271031T140000" in text
    days = local_days(occurrences)
    assert [d for d in days if d.day == 15] == [date(2027, m, 15) for m in range(1, 13)]
    # Every other month from January, on its first and last days.
    assert {date(2027, 1, 31), date(2027, 3, 1), date(2027, 3, 31), date(2027, 11, 30)} <= set(days)
    assert date(2027, 2, 28) not in days
    assert [d for d in days if d.day == 10 and d.month in (3, 9)] == [date(2027, 3, 10), date(2027, 9, 10)]
    assert date(2027, 6, 10) in days  # the 2nd Thursday of June 2027
    assert {date(2027, 1, 13), date(2027, 3, 31), date(2027, 10, 31), date(2027, 2, 8)} <= set(days)
    assert {date(2027, 2, 10), date(2027, 3, 10), date(2027, 10, 20)} <= set(days)
    # The forum's page says its rule.
    page = client.get(f"/evenements/{forum['id']}").get_data(as_text=True)
    assert "chaque année, le 10 mars et septembre" in page


def test_an_added_date_can_be_cancelled_and_an_all_day_yearly_rule_stays_days(client, bij, token_for):
    headers = token_for()
    added = post_event(client, headers, "2027-01-04", {"frequency": "weekly", "weekdays": ["MO"], "count": 3,
                                                       "extra_dates": ["2027-01-06"]})
    cancelled = client.post(f"/api/v1/events/{added['id']}/occurrences/cancel", headers=headers,
                            json={"recurrence_start": "2027-01-06T14:00:00+01:00"})
    assert cancelled.status_code in (200, 201), cancelled.get_json()
    _body, occurrences = read_by_all(client, headers, live_only=True)
    live = [datetime.fromtimestamp(s, PARIS).date() for s, _e, c in occurrences if not c]
    assert date(2027, 1, 6) not in live and date(2027, 1, 18) in live
    post_event(client, headers, "2027-04-02", {"frequency": "yearly"}, all_day=True, start_time="00:00",
               duration_minutes=1440, title="Portes ouvertes")
    text = client.get("/feeds/all.ics").get_data(as_text=True)
    assert "DTSTART;VALUE=DATE:20270402" in text and "RRULE:FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=2" in text


@pytest.mark.parametrize("shape", [
    dict(frequency="monthly", month_days=(31,), count=9),
    dict(frequency="monthly", month_days=(1, -1), interval=2),
    dict(frequency="monthly", month_days=(-3, 29)),
    dict(frequency="yearly", months=(2,), month_days=(29,), count=3),
    dict(frequency="yearly", months=(3, 9), month_days=(10,), interval=2),
    dict(frequency="yearly", months=(6, 11), month_week=2, weekdays=(3,)),
    dict(frequency="yearly", months=(10,), month_week=-1, weekdays=(4,)),
    dict(frequency="yearly"),
    dict(frequency="weekly", weekdays=(0,), count=5, extra_ords=(3, 45, 400)),
])
def test_the_expansion_gives_what_dateutil_gives(shape):
    """dateutil.rrule as the oracle (bench/occurrences.py does the same for the older shapes)."""
    from scheduler.time.recurrence import SeriesRule, rule_days

    start = date(2028, 1, 31) if shape.get("months") != (2,) else date(2028, 2, 29)
    if shape.get("months") == (3, 9):
        start = date(2027, 3, 10)
    if shape.get("month_week"):
        start = date(2027, 6, 10) if shape["months"] == (6, 11) else date(2027, 10, 29)
    extra = tuple(start.toordinal() + d for d in shape.pop("extra_ords", ()))
    rule = SeriesRule(event_id=1, timezone="Europe/Paris", start_ord=start.toordinal(), start_seconds=0,
                      duration=3600, extra_ords=extra, **shape)
    lo, hi = start.toordinal(), start.toordinal() + 12 * 366
    got = [date.fromordinal(d) for d in rule_days(rule, lo, hi)]
    freq = {"monthly": MONTHLY, "yearly": YEARLY, "weekly": WEEKLY}[shape["frequency"]]
    kwargs = {"interval": shape.get("interval", 1), "count": shape.get("count"),
              "dtstart": datetime.combine(start, time())}
    if shape.get("month_days"):
        kwargs["bymonthday"] = shape["month_days"]
    if shape.get("months"):
        kwargs["bymonth"] = shape["months"]
    if shape.get("month_week"):
        kwargs["byweekday"] = [weekday(w, shape["month_week"]) for w in shape["weekdays"]]
    if shape["frequency"] == "weekly":
        kwargs["byweekday"] = [MO]
    oracle = rruleset()
    oracle.rrule(rrule(freq, **kwargs))
    for d in extra:
        oracle.rdate(datetime.combine(date.fromordinal(d), time()))
    expected = [d.date() for d in oracle.between(datetime.combine(start, time()) - timedelta(seconds=1),
                                                 datetime.combine(date.fromordinal(hi), time()))]
    assert got == expected


def test_rule_phrases_of_the_new_rules():
    from models import Event
    from scheduler.french import rule_phrase

    def phrase(**values):
        base = dict(start_date=date(2027, 1, 31), start_time=time(14), duration_minutes=60, interval=1,
                    weekdays=[], month_week=None, until=None, count=None, skip_public_holidays=False,
                    pause_school_holidays=False)
        return rule_phrase(Event(**{**base, **values}))

    assert phrase(frequency="monthly", month_days=[15]).startswith("le 15 du mois de 14 h")
    assert phrase(frequency="monthly", month_days=[1, -1]).startswith("le 1er et dernier jour du mois")
    assert phrase(frequency="yearly", months=[3, 9], month_days=[10]).startswith("chaque année, le 10 mars et "
                                                                                   "septembre")
    assert phrase(frequency="yearly", months=[6], month_week=2, weekdays=[3]).startswith(
        "chaque année, le deuxième jeudi de juin")
    assert phrase(frequency="once", extra_dates=["2027-03-10"]).endswith(", et le 10 mars 2027")
