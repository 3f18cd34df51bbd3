"""The iCal feeds: what two independent parsers expand from them is what the API shows, and the
HTTP side (ETag, Last-Modified, 304, private links) holds."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from helpers.api_pages import all_occurrences
from helpers.dates import french_holidays, next_march_dst_sunday, next_monday, next_october_dst_sunday, paris_today
from helpers.feed_readers import api_occurrences, window, with_icalendar, with_icaljs, with_vobject

PARIS = ZoneInfo("Europe/Paris")
# The territory's dates hang on the next two changes of time (feeds keep a month of the past only).
MARCH, OCTOBER = next_march_dst_sunday(), next_october_dst_sunday()
# From today, twelve months and past both changes (at most 393 days: the API gives 399).
START = paris_today()
END = max(START + timedelta(days=365), MARCH + timedelta(days=14), OCTOBER + timedelta(days=14))


def _monday_no_holiday(day: date, step: int) -> date:
    """`day` (a Monday), or the nearest Monday from it in the direction of `step` weeks that is no
    public holiday (a Monday series has no occurrence on those)."""
    while day in french_holidays(day.year):
        day += timedelta(weeks=step)
    return day


def _months_before(day: date, months: int) -> tuple[int, int]:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return year, month + 1


def _last_thursday(year: int, month: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 3) % 7)


# The Monday before the March change, the first Monday after it that is no holiday, the Monday
# before the October change; the last Thursday of a month before the March change.
CANCELLED_MONDAY = _monday_no_holiday(MARCH - timedelta(days=6), -1)
OTHER_PLACE_MONDAY = _monday_no_holiday(MARCH + timedelta(days=1), 1)
MOVED_MONDAY = OCTOBER - timedelta(days=6)
MOVED_THURSDAY = next(t for t in (_last_thursday(MARCH.year, 3), _last_thursday(MARCH.year, 2)) if t < MARCH)


@pytest.fixture
def territory(client, create_partner, create_quartier, create_place, create_event, token_for):
    """Series of every shape the feeds must carry, in metropolitan France and in La Réunion."""
    build_event = create_event

    def create_event(*args, **values):
        values.setdefault("frequency", "once")
        values.setdefault("interval", 1)
        return build_event(*args, **values)

    ml = create_partner("mission-locale-sud", name="Mission locale Sud-Isère")
    ft = create_partner("france-travail", name="France Travail Échirolles", type="france_travail")
    reunion_ml = create_partner("mission-locale-est", name="Mission locale Est Réunion")
    villeneuve = create_quartier()
    create_quartier("QN97401M", "Bas de la Rivière", ["Saint-Denis"], "974")
    bij = create_place("bij-echirolles", name="BIJ d'Échirolles", quartier=villeneuve.code, address="1 place des Arts",
                       city="Échirolles")
    pimms = create_place("pimms-villeneuve", name="PIMMS, Villeneuve", quartier=villeneuve.code)
    case = create_place("case-saint-denis", name="Case de Saint-Denis", quartier="QN97401M", postcode="97400")
    headers = token_for()
    from models import Person, db

    adviser = Person(partner=ml, name="Awa Diallo")
    db.session.add(adviser)
    db.session.commit()

    # Every Monday afternoon across both DST changes, public holidays skipped (Easter and Whit Monday).
    mondays = create_event(bij, [ml], title="Permanence mission locale ; CV, lettres et entretiens",
                           description="Apportez votre CV ; lettres, entretiens\net un projet",
                           start_date=START - timedelta(days=START.weekday()), frequency="weekly",
                           until=END - timedelta(days=2), people=[adviser.id], audience_tags=["sans diplôme"],
                           age_min=16, age_max=25)
    # Last Thursday of the month, co-run by two partners.
    monthly = create_event(pimms, [ml, ft], title="Rencontre partenariale — après-midi « tous partenaires » "
                           "avec un titre assez long pour être plié en plusieurs lignes",
                           kind="coordination", start_time="13:30", duration_minutes=90,
                           start_date=_last_thursday(*_months_before(MOVED_THURSDAY, 2)),
                           frequency="monthly", weekdays=[3], month_week=-1, count=10, interval=1)
    # Every other day, a fixed number of times, at 09:00 across the March change.
    create_event(pimms, [ft], title="Atelier CV", kind="atelier", start_date=MARCH - timedelta(days=8),
                 start_time="09:00", duration_minutes=120, frequency="daily", interval=2, count=8, age_min=18)
    create_event(bij, [ft], title="Forum emploi", kind="forum", start_date=OCTOBER - timedelta(days=1),
                 start_time="10:00")
    create_event(bij, [ml], title="Réunion interne", kind="coordination", visibility="partners",
                 start_date=START + timedelta(days=63), frequency="weekly", count=5, interval=1, people=[adviser.id])
    create_event(pimms, [ft], title="Job dating annulé", kind="job_dating", start_date=START + timedelta(days=127),
                 frequency="weekly", count=3, interval=1, status="cancelled")
    # La Réunion: its own zone (no DST) and its own holidays.
    create_event(case, [reunion_ml], title="Permanence à la case", start_date=START + timedelta(days=5),
                 start_time="08:30", frequency="weekly", weekdays=[0, 3], until=START + timedelta(days=211))

    def post(path, payload):
        response = client.post(path, headers=headers, json=payload)
        assert response.status_code == 200, response.get_json()

    def at(day: date, hour: int, minute: int = 0) -> str:
        return datetime.combine(day, datetime.min.time().replace(hour=hour, minute=minute), PARIS).isoformat()

    post(f"/api/v1/events/{mondays.id}/occurrences/cancel",
         {"recurrence_start": at(CANCELLED_MONDAY, 14), "reason": "Formation de l'équipe"})
    post(f"/api/v1/events/{mondays.id}/occurrences/move",
         {"recurrence_start": at(MOVED_MONDAY, 14), "starts_at": at(MOVED_MONDAY + timedelta(days=2), 9),
          "ends_at": at(MOVED_MONDAY + timedelta(days=2), 12)})
    post(f"/api/v1/events/{mondays.id}/occurrences/move",
         {"recurrence_start": at(OTHER_PLACE_MONDAY, 14), "place": "pimms-villeneuve"})
    post(f"/api/v1/events/{monthly.id}/occurrences/move",  # to the Tuesday after the change
         {"recurrence_start": at(MOVED_THURSDAY, 13, 30), "starts_at": at(MARCH + timedelta(days=2), 13, 30)})
    return {"headers": headers, "mondays": mondays, "ml": ml, "adviser": adviser}


FEEDS = [
    ("/feeds/all.ics", {}),
    ("/feeds/all.ics", {"kind": "permanence"}),
    ("/feeds/all.ics", {"audience": "sans diplôme"}),
    ("/feeds/all.ics", {"age": 17}),
    ("/feeds/partners/mission-locale-sud.ics", {"partner": "mission-locale-sud"}),
    ("/feeds/places/bij-echirolles.ics", {"place": "bij-echirolles"}),
    ("/feeds/places/pimms-villeneuve.ics", {"place": "pimms-villeneuve"}),
    ("/feeds/places/case-saint-denis.ics", {"place": "case-saint-denis"}),
    ("/feeds/quartiers/QN03801M.ics", {"quartier": "QN03801M"}),
    ("/feeds/quartiers/QN97401M.ics", {"quartier": "QN97401M"}),
]


def _feed_query(filters: dict) -> dict:
    return {k: v for k, v in filters.items() if k in ("kind", "audience", "age")}


@pytest.mark.parametrize("path,filters", FEEDS, ids=[p + str(f) for p, f in FEEDS])
def test_three_parsers_expand_each_feed_to_the_occurrences_of_the_api(client, territory, path, filters):
    response = client.get(path, query_string=_feed_query(filters))
    assert response.status_code == 200
    body = response.data
    lo, hi = window(START, END, PARIS)
    expected = api_occurrences(client, START, END, **filters)
    assert expected, "the territory has occurrences in every feed"
    assert with_icalendar(body, lo, hi) == expected
    assert with_vobject(body, lo, hi) == expected == with_icaljs(body, lo, hi)


def test_a_private_link_holds_partners_only_events_and_names_as_the_api_with_a_token(client, territory):
    from models import db
    from models.operations.feeds import create_feed_token
    from models.users import User

    user = db.session.query(User).one()
    _, token = create_feed_token(user, user=user)
    db.session.commit()
    body = client.get(f"/feeds/private/{token}.ics").data
    lo, hi = window(START, END, PARIS)
    expected = api_occurrences(client, START, END, headers=territory["headers"])
    assert expected != api_occurrences(client, START, END), "partners-only events add occurrences"
    assert with_icalendar(body, lo, hi) == expected == with_vobject(body, lo, hi) == with_icaljs(body, lo, hi)
    assert "Awa Diallo" in icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["DESCRIPTION"]
    public = client.get("/feeds/all.ics").data
    assert b"Awa Diallo" not in public and b"R\xc3\xa9union interne" not in public


def test_a_partners_private_link_holds_that_partners_events_only(client, territory):
    from models import db
    from models.operations.feeds import create_feed_token
    from models.users import User

    user = db.session.query(User).one()
    _, token = create_feed_token(user, partner=territory["ml"])
    db.session.commit()
    body = client.get(f"/feeds/private/{token}.ics").data
    lo, hi = window(START, END, PARIS)
    expected = api_occurrences(client, START, END, headers=territory["headers"], partner="mission-locale-sud")
    assert with_icalendar(body, lo, hi) == expected == with_vobject(body, lo, hi) == with_icaljs(body, lo, hi)


def _unfolded(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")


def test_a_series_stays_one_vevent_with_holidays_as_exdates_and_overrides_in_its_own_tzid(client, territory):
    body = client.get("/feeds/places/bij-echirolles.ics").data
    calendar = icalendar.Calendar.from_ical(body)
    uid = territory["mondays"].uid
    parts = [c for c in calendar.walk("VEVENT") if str(c["UID"]) == uid]
    master = next(c for c in parts if "RECURRENCE-ID" not in c)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["DTSTART"].params["TZID"] == "Europe/Paris"
    exdates = {d.date() for x in (master["EXDATE"] if isinstance(master["EXDATE"], list) else [master["EXDATE"]])
               for d in (v.dt for v in x.dts)}
    # The Mondays that are public holidays (Easter and Whit Monday at least), and the one moved to
    # another place.
    first, last = territory["mondays"].start_date, territory["mondays"].until
    holidays = {d for d in french_holidays(first.year, last.year) if first <= d <= last and d.weekday() == 0}
    assert len(holidays) >= 2 and holidays | {OTHER_PLACE_MONDAY} <= exdates
    overrides = {c["RECURRENCE-ID"].dt: c for c in parts if "RECURRENCE-ID" in c}
    cancelled = overrides[datetime.combine(CANCELLED_MONDAY, datetime.min.time().replace(hour=14), PARIS)]
    assert cancelled["STATUS"] == "CANCELLED" and cancelled["RECURRENCE-ID"].params["TZID"] == "Europe/Paris"
    moved = overrides[datetime.combine(MOVED_MONDAY, datetime.min.time().replace(hour=14), PARIS)]
    assert moved["DTSTART"].dt == datetime.combine(MOVED_MONDAY + timedelta(days=2),
                                                   datetime.min.time().replace(hour=9), PARIS)
    assert moved["DTSTART"].params["TZID"] == "Europe/Paris"


def test_a_feed_follows_every_rule_real_calendars_need(client, territory):
    body = client.get("/feeds/all.ics").data
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b""), "CRLF only"
    for raw in body.split(b"\r\n"):
        assert len(raw) <= 75, raw
        raw.decode()  # folding never cuts a UTF-8 character
    lines = _unfolded(body)
    for needed in ("METHOD:PUBLISH", "VERSION:2.0", "X-WR-CALNAME:Maillage — tout le territoire",
                   "X-WR-TIMEZONE:Europe/Paris", "REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-PUBLISHED-TTL:PT1H"):
        assert needed in lines
    assert not any("TZID=UTC" in line for line in lines)
    assert not any(line.startswith("RDATE") for line in lines), "VTIMEZONEs use yearly RRULEs"
    used = {m for line in lines for m in re.findall(r"TZID=([^:;]+)", line)}
    defined = {line[5:] for line in lines if line.startswith("TZID:")}
    assert used == {"Europe/Paris", "Indian/Reunion"} and used <= defined
    calendar = icalendar.Calendar.from_ical(body)
    paris = next(c for c in calendar.walk("VTIMEZONE") if c["TZID"] == "Europe/Paris")
    rules = {sub.name: sub["RRULE"] for sub in paris.subcomponents}
    assert rules["DAYLIGHT"]["BYMONTH"] == [3] and rules["STANDARD"]["BYMONTH"] == [10]
    summary = next(str(c["SUMMARY"]) for c in calendar.walk("VEVENT") if "CV" in str(c["SUMMARY"]))
    assert summary == "Permanence mission locale ; CV, lettres et entretiens"
    assert "SUMMARY:Permanence mission locale \\; CV\\, lettres et entretiens" in lines
    # A title is one line; a description keeps its line breaks, escaped as \n.
    description = next(str(c["DESCRIPTION"]) for c in calendar.walk("VEVENT") if str(c["SUMMARY"]) == summary)
    assert description.startswith("Apportez votre CV ; lettres, entretiens\net un projet")
    assert any(line.startswith("DESCRIPTION:Apportez votre CV \\; lettres\\, entretiens\\net un projet")
               for line in lines)
    # vobject reads the same escaped text.
    events = vobject.readOne(body.decode()).vevent_list
    assert any(v.summary.value == summary and v.description.value.startswith(description[:40]) for v in events)
    # The cancelled series keeps its UID, with STATUS:CANCELLED.
    job_dating = next(c for c in calendar.walk("VEVENT") if str(c["SUMMARY"]) == "Job dating annulé")
    assert job_dating["STATUS"] == "CANCELLED" and job_dating["UID"]


def test_two_renders_of_unchanged_data_are_byte_identical(client, territory):
    from scheduler.ical.feeds import forget_feeds

    first = client.get("/feeds/all.ics")
    forget_feeds()  # a rebuild, as another process would do it
    second = client.get("/feeds/all.ics")
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    assert b"DTSTAMP:" in first.data


def test_feeds_answer_text_calendar_with_etag_last_modified_and_304s(client, territory):
    response = client.get("/feeds/all.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag, last_modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert client.get("/feeds/all.ics", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/feeds/all.ics", headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get("/feeds/all.ics", headers={"If-None-Match": '"autre"'}).status_code == 200
    assert client.get("/feeds/all.ics", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
                      ).status_code == 200


def test_a_change_and_a_deletion_both_change_the_etag_and_last_modified_never_goes_back(client, territory):
    from werkzeug.http import parse_date

    headers = territory["headers"]
    first = client.get("/feeds/all.ics")
    event_id = territory["mondays"].id
    response = client.patch(f"/api/v1/events/{event_id}", headers=headers, json={"title": "Permanence renommée"})
    assert response.status_code == 200, response.get_json()
    second = client.get("/feeds/all.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and b"Permanence renomm" in second.data
    assert second.headers["ETag"] != first.headers["ETag"]
    assert client.delete(f"/api/v1/events/{event_id}", headers=headers).status_code == 204
    third = client.get("/feeds/all.ics", headers={"If-None-Match": second.headers["ETag"]})
    assert third.status_code == 200 and territory["mondays"].uid.encode() not in third.data
    assert third.headers["ETag"] not in (first.headers["ETag"], second.headers["ETag"])
    dates = [parse_date(r.headers["Last-Modified"]) for r in (first, second, third)]
    assert dates[0] < dates[1] < dates[2]
    assert client.get("/feeds/all.ics", headers={"If-Modified-Since": second.headers["Last-Modified"]}
                      ).status_code == 200


def test_a_write_elsewhere_rebuilds_but_keeps_the_etag_and_last_modified(client, territory, create_partner):
    first = client.get("/feeds/places/case-saint-denis.ics")
    create_partner("pij-echirolles", type="pij_bij")  # an AuditEntry that changes nothing in this feed
    again = client.get("/feeds/places/case-saint-denis.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    # A 304 carries no Last-Modified (an entity header): a full answer shows it kept.
    assert client.get("/feeds/places/case-saint-denis.ics").headers["Last-Modified"] == first.headers["Last-Modified"]


def test_every_process_sees_a_committed_change_at_once(client, territory):
    """A second app (another gunicorn worker) has its own memory; the marker is in the database."""
    from scheduler.ical import feeds

    before = client.get("/feeds/all.ics")
    from helpers.actors import SYSTEM
    from models import db
    from scheduler.writes import update_event

    update_event(SYSTEM, territory["mondays"], {"title": "Changée hors de cette requête"})
    db.session.commit()
    # This process's memory still holds the old bytes: only the database marker can tell.
    assert feeds.feeds_in_memory()
    after = client.get("/feeds/all.ics")
    assert after.headers["ETag"] != before.headers["ETag"] and "Changée hors".encode() in after.data


def test_private_feeds_refuse_a_wrong_or_revoked_token(client, territory):
    from models import db
    from models.operations.feeds import create_feed_token, renew_feed_token, revoke_feed_token
    from models.users import User

    user = db.session.query(User).one()
    row, token = create_feed_token(user, user=user)
    db.session.commit()
    assert client.get(f"/feeds/private/{token}.ics").status_code == 200
    assert client.get(f"/feeds/private/{token[:-2]}xx.ics").status_code == 404
    new_row, new_token = renew_feed_token(user, row)
    db.session.commit()
    refused = client.get(f"/feeds/private/{token}.ics")
    assert refused.status_code == 404 and refused.get_json()["message"].startswith("Lien privé inconnu")
    assert client.get(f"/feeds/private/{new_token}.ics").status_code == 200
    revoke_feed_token(user, new_row)
    db.session.commit()
    assert client.get(f"/feeds/private/{new_token}.ics").status_code == 404
    assert new_row.token_hash != new_token and len(new_token) >= 40


def test_unknown_feeds_and_bad_filters_get_the_json_error_shape(client, territory):
    missing = client.get("/feeds/partners/inconnu.ics")
    assert missing.status_code == 404 and set(missing.get_json()) >= {"code", "status", "message", "errors"}
    bad = client.get("/feeds/all.ics?kind=concert&age=abc")
    assert bad.status_code == 422 and set(bad.get_json()["errors"]["query"]) == {"kind", "age"}


UTC_NAMES = ("UTC", "Etc/UTC", "GMT", "Etc/GMT")


@pytest.fixture
def utc_series(client, create_partner, create_quartier, create_place, create_event, token_for):
    """A weekly series in each name of UTC the API accepts, from next Monday for a year (public
    holidays skipped, one occurrence cancelled and one moved), and a single event in UTC."""
    from datetime import timedelta

    today = datetime.now(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday())
    partner = create_partner("france-travail", type="france_travail")
    create_quartier()
    place = create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M")
    headers = token_for()
    series = []
    for hour, name in enumerate(UTC_NAMES, start=8):
        event = create_event(place, [partner], title=f"Entretiens ({name})", start_date=monday,
                             start_time=f"{hour:02d}:00", duration_minutes=45, timezone=name, frequency="weekly",
                             interval=1, until=monday + timedelta(days=357))
        series.append(event)
        week = timedelta(weeks=3 + hour)
        # Neither on a public holiday: the series has no occurrence there.
        while any(d in french_holidays(d.year) for d in (monday + week, monday + week + timedelta(weeks=1))):
            week += timedelta(weeks=1)
        cancelled = datetime.combine(monday + week, event.start_time, ZoneInfo("UTC"))
        moved = cancelled + timedelta(weeks=1)
        for path, payload in (("cancel", {"recurrence_start": cancelled.isoformat(), "reason": "Formation"}),
                              ("move", {"recurrence_start": moved.isoformat(),
                                        "starts_at": (moved + timedelta(days=1, hours=2)).isoformat()})):
            response = client.post(f"/api/v1/events/{event.id}/occurrences/{path}", headers=headers, json=payload)
            assert response.status_code == 200, response.get_json()
    single = create_event(place, [partner], title="Forum (UTC)", kind="forum", start_date=monday + timedelta(days=60),
                          start_time="09:00", timezone="UTC", frequency="once", interval=1)
    return {"start": monday, "end": monday + timedelta(days=365), "series": series, "single": single}


def test_events_in_utc_are_written_as_utc_values_without_a_vtimezone_and_read_back_as_the_api(client, utc_series):
    body = client.get("/feeds/all.ics").data
    lines = _unfolded(body)
    assert not [line for line in lines if re.search(r"TZID=(Etc/)?(UTC|GMT)", line)]
    assert {line[5:] for line in lines if line.startswith("TZID:")} == {"Europe/Paris"}  # X-WR-TIMEZONE's only
    calendar = icalendar.Calendar.from_ical(body)
    for vevent in calendar.walk("VEVENT"):
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE"):
            if name in vevent:
                assert "TZID" not in vevent[name].params
        assert vevent["DTSTART"].dt.utcoffset().total_seconds() == 0
    events = lines[lines.index("BEGIN:VEVENT"):]  # after the VTIMEZONE of X-WR-TIMEZONE
    written = [line for line in events if line.startswith(("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE"))]
    assert written and all(value.endswith("Z") for line in written for value in line.split(":", 1)[1].split(","))
    assert sum(line.startswith("EXDATE:") for line in lines) == len(UTC_NAMES), "each series skips holidays"
    assert sum(line.startswith("RECURRENCE-ID:") for line in lines) == 2 * len(UTC_NAMES)
    lo, hi = window(utc_series["start"], utc_series["end"], PARIS)
    expected = api_occurrences(client, utc_series["start"], utc_series["end"])
    assert len(expected) > 4 * 45
    assert with_icalendar(body, lo, hi) == expected
    assert with_vobject(body, lo, hi) == expected == with_icaljs(body, lo, hi)


def test_an_occurrence_in_utc_renders_for_a_reminder_without_a_vtimezone(app, utc_series):
    from datetime import timedelta

    from scheduler.ical.render import render_occurrence
    from scheduler.time.calendar import CalendarFilter, occurrences_between

    event = utc_series["series"][1]  # Etc/UTC
    lo = datetime.combine(utc_series["start"], datetime.min.time(), PARIS)
    occurrence, _ = next((o, e) for o, e in occurrences_between(CalendarFilter(), lo, lo + timedelta(days=8))
                         if e.id == event.id)
    body = render_occurrence(event, occurrence, "http://maillage.test")
    assert b"VTIMEZONE" not in body and b"TZID" not in body
    (vevent,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert vevent["RECURRENCE-ID"].dt == datetime.fromtimestamp(occurrence.recurrence_id, ZoneInfo("UTC"))
    assert vobject.readOne(body.decode()).vevent.dtstart.value.timestamp() == occurrence.starts_at


def test_only_zones_that_have_always_been_utc_are_written_as_utc():
    from scheduler.ical.render import is_utc, zone_form

    assert all(is_utc(name) for name in (*UTC_NAMES, "Etc/UCT", "Zulu", "Etc/Greenwich", "GMT0"))
    # Always UTC+0 today, but not in the past (Abidjan) or not in summer (London, Lisbon).
    assert not any(is_utc(name) for name in ("Africa/Abidjan", "Europe/London", "Atlantic/Reykjavik",
                                            "Europe/Lisbon", "Europe/Paris", "Etc/GMT-1"))
    assert zone_form("Etc/GMT") == (":", "Z") and zone_form("Indian/Reunion") == (";TZID=Indian/Reunion:", "")


def test_one_occurrence_renders_as_a_calendar_a_reminder_can_attach(app, territory):
    from datetime import timedelta

    from scheduler.ical.render import render_occurrence
    from scheduler.time.calendar import CalendarFilter, occurrences_between

    monday = datetime.combine(OTHER_PLACE_MONDAY, datetime.min.time(), PARIS)  # moved to the PIMMS
    pairs = occurrences_between(CalendarFilter(include_private=True), monday, monday + timedelta(days=8))
    occurrence, event = next((o, e) for o, e in pairs if e.id == territory["mondays"].id)
    body = render_occurrence(event, occurrence, "http://maillage.test")
    (vevent,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert vevent["UID"] == event.uid and vevent["RECURRENCE-ID"].dt == monday.replace(hour=14)
    assert "Awa Diallo" in vevent["DESCRIPTION"] and "PIMMS" in vevent["LOCATION"]
    assert vobject.readOne(body.decode()).vevent.dtstart.value == monday.replace(hour=14)


def test_the_holidays_written_as_exdates_are_exactly_the_rule_dates_on_holidays():
    """skipped_holidays asks the rule about each holiday (public, and school holidays it pauses
    for); checked against walking every date."""
    import random

    from scheduler.time.recurrence import SeriesRule, is_day_off, rule_dates, skipped_holidays

    rng = random.Random(4)
    for _ in range(300):
        frequency = rng.choice(["daily", "weekly", "weekly", "monthly"])
        start = date(2026, 1, 1).toordinal() + rng.randrange(400)
        weekdays = tuple(sorted(rng.sample(range(7), rng.randint(1, 3)))) if frequency != "daily" else ()
        rule = SeriesRule(event_id=1, timezone="Europe/Paris", start_ord=start, start_seconds=50400, duration=3600,
                          frequency=frequency, interval=rng.choice([1, 1, 2, 3]), weekdays=weekdays,
                          month_week=rng.choice([1, 2, 4, -1]) if frequency == "monthly" else None,
                          until_ord=start + rng.randrange(30, 900) if rng.random() < 0.5 else None,
                          count=rng.randrange(1, 80) if rng.random() < 0.3 else None,
                          holiday_region=rng.choice(["metropole", "57", "974", None]),
                          school_zone=rng.choice([None, "A", "B", "C"]))
        lo, hi = start + rng.randrange(0, 60), start + 1000
        walked = [d for d in rule_dates(rule, lo, hi) if is_day_off(rule, d)]
        assert skipped_holidays(rule, lo, hi) == walked, rule


# --- series that pause during school holidays --------------------------------------------------

@pytest.fixture
def youth_territory(client, create_partner, create_quartier, create_place, create_event):
    """Workshops of youth structures in Échirolles (zone A) and Saint-Denis (zone C), every weekday
    for twelve months from next Monday; one of them opts out of public holidays, one does not pause."""
    pij = create_partner("pij-echirolles", name="PIJ d'Échirolles", type="pij_bij")
    centre = create_partner("centre-social-cosmonautes", name="Centre social des Cosmonautes", type="centre_social")
    create_quartier()
    create_quartier("QN09301M", "Lamaze – Cosmonautes", ["Saint-Denis"], "93")
    echirolles = create_place("pij-echirolles", name="PIJ d'Échirolles", quartier="QN03801M")
    saint_denis = create_place("centre-social-cosmonautes", name="Centre social des Cosmonautes",
                               quartier="QN09301M", postcode="93200")
    first = next_monday()
    year = {"start_date": first, "until": first + timedelta(days=364), "frequency": "weekly", "interval": 1}
    weekdays = [0, 1, 2, 3, 4]
    return {
        "first": first, "last": first + timedelta(days=364),
        "zone_a": create_event(echirolles, [pij], title="Atelier jeunes (zone A)", kind="atelier",
                               weekdays=weekdays, pause_school_holidays=True, **year),
        "zone_c": create_event(saint_denis, [centre], title="Atelier jeunes (zone C)", kind="atelier",
                               weekdays=weekdays, pause_school_holidays=True, **year),
        "no_public_holidays": create_event(echirolles, [pij], title="Accueil jeunes, jours fériés compris",
                                           start_time="10:00", weekdays=weekdays, pause_school_holidays=True,
                                           skip_public_holidays=False, **year),
        "not_paused": create_event(echirolles, [pij], title="Permanence toute l'année", start_time="17:30",
                                   duration_minutes=60, weekdays=weekdays, **year),
    }


def _days(client, first: date, last: date, title: str) -> set[date]:
    """The local days of a series' occurrences, as the API gives them."""
    found = all_occurrences(client, start=first.isoformat(), end=(last + timedelta(days=1)).isoformat())
    return {datetime.fromisoformat(o["starts_at"]).date() for o in found if o["title"] == title}


def _weekdays_without(first: date, last: date, *excluded: set[date]) -> set[date]:
    """Every weekday from first to last, but those excluded (the test's own oracle)."""
    days = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    return {d for d in days if d.weekday() < 5 and not any(d in x for x in excluded)}


def test_weekly_series_pause_during_the_school_holidays_of_their_own_zone_and_skip_public_holidays(
        client, youth_territory):
    import holidays

    from helpers.oracle import school_holidays

    first, last = youth_territory["first"], youth_territory["last"]
    public = holidays.France(years=range(first.year, last.year + 1))
    zone_a, zone_c = school_holidays("A"), school_holidays("C")
    got_a = _days(client, first, last, "Atelier jeunes (zone A)")
    got_c = _days(client, first, last, "Atelier jeunes (zone C)")
    assert got_a == _weekdays_without(first, last, public, zone_a)
    assert got_c == _weekdays_without(first, last, public, zone_c)
    # The next Christmas holidays pause both; the winter holidays of A and C are not the same weeks.
    christmas = {d for d in _weekdays_without(first, last) if (d.month, d.day) in ((12, 28), (12, 29), (12, 30))}
    assert christmas and not christmas & (got_a | got_c)
    assert got_a - got_c and got_c - got_a
    winter = {d for d in _weekdays_without(first, last) if d.month == 2}
    assert winter & got_a != winter & got_c
    # A public holiday outside the school holidays is still skipped (there is one on a weekday each year).
    outside = {d for d in _weekdays_without(first, last) if d in public and d not in zone_a}
    assert outside and not outside & got_a
    # Opting out: of public holidays only, or of the pause.
    assert _days(client, first, last, "Accueil jeunes, jours fériés compris") == _weekdays_without(
        first, last, zone_a)
    assert _days(client, first, last, "Permanence toute l'année") == _weekdays_without(first, last, public)


YOUTH_FEEDS = [("/feeds/places/pij-echirolles.ics", {"place": "pij-echirolles"}),
               ("/feeds/places/centre-social-cosmonautes.ics", {"place": "centre-social-cosmonautes"}),
               ("/feeds/all.ics", {})]


@pytest.mark.parametrize("path,filters", YOUTH_FEEDS, ids=[p for p, _ in YOUTH_FEEDS])
def test_both_parsers_read_the_school_holiday_pauses_of_a_feed_as_the_api_gives_them(
        client, youth_territory, path, filters):
    first, last = youth_territory["first"], youth_territory["last"] + timedelta(days=1)
    body = client.get(path).data
    lo, hi = window(first, last, PARIS)
    expected = api_occurrences(client, first, last, **filters)
    assert len(expected) > 150  # a year of weekdays, less the holidays
    assert with_icalendar(body, lo, hi) == expected
    assert with_vobject(body, lo, hi) == expected == with_icaljs(body, lo, hi)


def test_the_paused_dates_are_exdates_of_the_series_within_the_feeds_horizon(client, youth_territory):
    from scheduler.ical.render import default_horizon

    body = client.get("/feeds/places/pij-echirolles.ics").data
    calendar = icalendar.Calendar.from_ical(body)
    master = next(c for c in calendar.walk("VEVENT") if str(c["UID"]) == youth_territory["zone_a"].uid)
    exdates = {v.dt for x in (master["EXDATE"] if isinstance(master["EXDATE"], list) else [master["EXDATE"]])
               for v in x.dts}
    first, last = youth_territory["first"], youth_territory["last"]
    paused = _weekdays_without(first, last) - _days(client, first, last, "Atelier jeunes (zone A)")
    assert {d.date() for d in exdates} == paused
    assert all(d.time().hour == 14 and d.tzinfo is not None for d in exdates)
    assert max(exdates).date() <= min(last, default_horizon(date.today()))
    # The series that does not pause carries only its public holidays.
    plain = next(c for c in calendar.walk("VEVENT") if str(c["UID"]) == youth_territory["not_paused"].uid)
    assert len(plain["EXDATE"].dts if not isinstance(plain["EXDATE"], list) else plain["EXDATE"]) < 15


def test_on_sqlite_a_feed_is_served_at_once_while_an_import_holds_the_write_lock(sqlite_file_app):
    """SQLite has one writer: a feed built while a big import holds the write lock is served from
    memory, not after the engine's 30 s (gunicorn would have killed the worker first)."""
    import time as timer

    import sqlalchemy as sa

    from models import db
    from models.feeds import FeedState
    from scheduler.ical import feeds

    app, hold_write_lock = sqlite_file_app
    feeds.forget_feeds()
    client = app.test_client()
    try:
        with hold_write_lock():
            started = timer.monotonic()
            feed = client.get("/feeds/all.ics")
            waited = timer.monotonic() - started
            again = client.get("/feeds/all.ics", headers={"If-None-Match": feed.headers["ETag"]})
        assert feed.status_code == 200 and feed.data.startswith(b"BEGIN:VCALENDAR")
        assert waited < 10, f"{waited:.1f} s: the feed waited for the lock (the engine's wait is 30 s)"
        assert again.status_code == 304  # kept in this process's memory meanwhile
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedState)) == 0  # not stored, served
        feeds.forget_feeds()
        stored = client.get("/feeds/all.ics")  # the lock gone: stored, same bytes, same ETag
        assert stored.headers["ETag"] == feed.headers["ETag"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedState)) == 1
        # Real writes on these connections still wait as long as the engine says.
        assert db.session.connection().connection.dbapi_connection.execute(
            "PRAGMA busy_timeout").fetchone()[0] == 30000
    finally:
        feeds.forget_feeds()
