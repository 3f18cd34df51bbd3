"""Feeds at the edges of time: a series kept in UTC (an imported one) and occurrences moved to or
cancelled at a local time that a change of time makes ambiguous or skips; read by the three
parsers (icalendar + recurring-ical-events, vobject, ical.js), each gives what the API gives."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from helpers.feed_readers import read_by_all, window, with_icalendar

PARIS = ZoneInfo("Europe/Paris")
SPRING, AUTUMN = date(2027, 3, 28), date(2027, 10, 31)  # the Sundays of the changes of time in 2027
START, END = date(2027, 1, 1), date(2028, 1, 1)


@pytest.fixture
def bij(app, create_partner, create_quartier, create_place):
    partner = create_partner("mission-locale-sud")
    create_quartier()
    return create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M"), partner


def test_a_series_kept_in_utc_is_written_in_utc_without_a_calendar_zone_that_contradicts_it(client, bij,
                                                                                             create_event):
    place, partner = bij
    create_event(place, [partner], timezone="UTC", start_date=date(2027, 3, 1), start_time="09:00",
                 duration_minutes=120, frequency="weekly", interval=1, count=8, skip_public_holidays=False)
    body, occurrences = read_by_all(client)
    assert b"X-WR-TIMEZONE" not in body
    assert b"DTSTART:20270301T090000Z" in body
    assert {datetime.fromtimestamp(s, ZoneInfo("UTC")).time() for s, _e, _c in occurrences} == {time(9)}
    # A reader that applies X-WR-TIMEZONE (recurring-ical-events.of) finds the same instants.
    lo, hi = window(START, END, PARIS)
    calendar = icalendar.Calendar.from_ical(body)
    applied = {int(c["DTSTART"].dt.timestamp()) for c in recurring_ical_events.of(calendar).between(lo, hi)}
    assert applied == {s for s, _e, _c in occurrences}


def test_an_occurrence_moved_to_an_ambiguous_autumn_time_is_written_in_utc_and_read_alike(client, bij, create_event,
                                                                                         token_for):
    place, partner = bij
    headers = token_for()
    event = create_event(place, [partner], start_date=date(2027, 10, 17), start_time="10:00", duration_minutes=60,
                         frequency="weekly", interval=1, count=4, weekdays=[6], skip_public_holidays=False)
    # 02:30 on the autumn Sunday happens twice: the second one (winter time, 01:30 UTC).
    moved = client.post(f"/api/v1/events/{event.id}/occurrences/move", headers=headers,
                        json={"recurrence_start": "2027-10-31T10:00:00+01:00", "starts_at": "2027-10-31T02:30:00+01:00",
                              "ends_at": "2027-10-31T03:30:00+01:00"})
    assert moved.status_code in (200, 201), moved.get_json()
    body, occurrences = read_by_all(client, headers)
    assert b"DTSTART:20271031T013000Z" in body
    assert (int(datetime(2027, 10, 31, 1, 30, tzinfo=ZoneInfo("UTC")).timestamp()),
            int(datetime(2027, 10, 31, 2, 30, tzinfo=ZoneInfo("UTC")).timestamp()), False) in occurrences


def test_an_occurrence_cancelled_at_a_time_the_spring_change_skips_is_cancelled_for_every_reader(client, bij,
                                                                                                create_event,
                                                                                                token_for):
    place, partner = bij
    headers = token_for()
    event = create_event(place, [partner], title="Veille de nuit", start_date=date(2027, 3, 21), start_time="02:30",
                         duration_minutes=60, frequency="weekly", interval=1, count=3, weekdays=[6],
                         skip_public_holidays=False)
    # 02:30 does not exist on 28 March: the rule gives 01:30 UTC (the offset before the change).
    recurrence = datetime(2027, 3, 28, 1, 30, tzinfo=ZoneInfo("UTC"))
    cancelled = client.post(f"/api/v1/events/{event.id}/occurrences/cancel", headers=headers,
                            json={"recurrence_start": recurrence.isoformat()})
    assert cancelled.status_code in (200, 201), cancelled.get_json()
    body, occurrences = read_by_all(client, headers, live_only=True)
    # RFC 5545 (recurring-ical-events) expands 02:30 with the offset before the change, as the
    # series does: its override names it in UTC. vobject and ical.js take the offset after
    # (00:30 UTC): an EXDATE takes their reading out.
    assert b"RECURRENCE-ID:20270328T013000Z" in body and b"EXDATE:20270328T003000Z" in body
    assert (int(recurrence.timestamp()), int(recurrence.timestamp()) + 3600, True) in occurrences
    lo, hi = window(START, END, PARIS)
    assert (int(recurrence.timestamp()), int(recurrence.timestamp()) + 3600, True) in with_icalendar(body, lo, hi)
