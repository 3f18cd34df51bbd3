"""Import keeps what a file means: each hand-made file of tests/data/import_fidelity (and those
of import_cases that import) lands with exactly the occurrences that recurring-ical-events and
ical.js (node) read in it, start and end instants, or is refused whole with a French message
naming its line. Then the real-world files of the shared corpus, with the same rule."""
from __future__ import annotations

import io
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import sqlalchemy as sa

from feed_readers import with_icaljs

DATA = Path(__file__).parent / "data"
PARIS = ZoneInfo("Europe/Paris")
# Wide enough for every hand-made file (2027) and every occurrence they move.
LO, HI = datetime(2026, 6, 1, tzinfo=PARIS), datetime(2028, 6, 1, tzinfo=PARIS)

# Where the two readers disagree on a file, the import follows RFC 5545 and the reader that does.
READERS_DISAGREE = {
    # 02:30 on the autumn change is ambiguous: RFC 5545 takes its first instance (summer time),
    # so the moved occurrence lasts 2 h to 03:30 winter time; ical.js takes 1 h.
    "exception_at_ambiguous_time.ics": "recurring-ical-events",
    # recurring-ical-events reads the floating series as UTC once an EXDATE is in UTC; a floating
    # time is on the reader's wall clock (the place's zone), as ical.js reads it.
    "utc_exdate_on_floating_series.ics": "ical.js",
    # Outlook names the moved date of an all-day series by a midnight date-time: ical.js, with
    # strictExceptions, matches no date to it and leaves the date where it was.
    "outlook_all_day_midnight_recurrence_id.ics": "recurring-ical-events",
    # RFC 5545 (3.8.5.2, 3.3.10): the set is DTSTART, the RRULE's dates (COUNT bounds the rule) and
    # the RDATEs. ical.js counts the RDATEs within COUNT and, without RRULE, leaves DTSTART out.
    # Maillage's feeds write such series so that ical.js reads them right (tests/test_time_model.py).
    "rdate_extra_dates.ics": "recurring-ical-events",
}
REFUSED = {
    "custom_tzid_own_rules.ics": (22, "fuseau horaire « Fuseau du bureau » défini par le fichier"),
    # Every reader moves the later dates by a day (Fridays after the 2nd Thursday): no monthly
    # rule of Maillage gives them.
    "this_and_future_monthly_moved_a_day.ics": (15, "RANGE=THISANDFUTURE : les dates suivantes, décalées"),
}


def with_recurring_ical_events(body: bytes, zone: ZoneInfo, lo=LO, hi=HI) -> set[tuple[int, int]]:
    """The live occurrences as recurring-ical-events reads them (RFC 5545, X-WR-TIMEZONE not
    applied to UTC values); floating times and dates on the wall clock of `zone`."""
    found = set()
    for calendar in icalendar.Calendar.from_ical(body, multiple=True):
        for c in recurring_ical_events.CalendarQuery(calendar).between(lo, hi):
            if str(c.get("STATUS", "")).upper() == "CANCELLED":
                continue
            start, end = c["DTSTART"].dt, c["DTEND"].dt
            if not isinstance(start, datetime):
                start, end = (datetime.combine(d, time(), zone) for d in (start, end))
            elif start.tzinfo is None:
                start, end = start.replace(tzinfo=zone), end.replace(tzinfo=zone)
            found.add((int(start.timestamp()), int(end.timestamp())))
    return found


def imported_occurrences(lo=LO, hi=HI) -> set[tuple[int, int]]:
    from models import Event, db
    from scheduler.time.recurrence import expand_events

    events = db.session.scalars(sa.select(Event)).all()
    return {(o.starts_at, o.ends_at) for o in expand_events(events, lo, hi) if not o.is_cancelled}


@pytest.fixture
def headers(client, create_partner, create_quartier, create_place, token_for):
    create_partner("mission-locale-sud", name="Mission locale Sud-Isère")
    create_quartier()
    create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M")
    create_place("cs-ouest", name="Centre social Ouest", quartier="QN03801M")
    return token_for()


def upload(client, headers, data: bytes, endpoint="/api/v1/imports", place="bij-echirolles"):
    return client.post(endpoint, headers=headers, content_type="multipart/form-data",
                       data={"partner": "mission-locale-sud", "place": place,
                             "file": (io.BytesIO(data), "calendrier.ics")})


def shown(occurrences) -> list[str]:
    return sorted(f"{datetime.fromtimestamp(s, PARIS):%d/%m/%Y %H:%M}+{(e - s) // 60}min" for s, e in occurrences)


FILES = sorted((DATA / "import_fidelity").glob("*.ics")) + [
    DATA / "import_cases" / name for name in ("outlook_all_day_midnight_recurrence_id.ics", "three_calendars.ics",
                                              "identical_without_uid.ics", "utf8_with_bom.ics")]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_file_lands_with_the_occurrences_both_readers_give_or_is_refused_at_its_line(client, headers, path):
    from models import Event, db

    body = path.read_bytes()
    response = upload(client, headers, body)
    if path.name in REFUSED:
        line, words = REFUSED[path.name]
        assert response.status_code == 422, response.get_json()
        (error,) = response.get_json()["errors"]["json"]["file"]
        assert error.startswith(f"ligne {line},") and words in error, error
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
        return
    assert response.status_code == 200, response.get_json()
    landed = imported_occurrences()
    assert landed, "nothing imported"
    by_rie = with_recurring_ical_events(body, PARIS)
    # ical.js reads text, not bytes: a byte-order mark is the decoder's business, not its own.
    text = body.removeprefix(b"\xef\xbb\xbf")
    by_icaljs = {(s, e) for s, e, cancelled in with_icaljs(text, LO, HI, PARIS) if not cancelled}
    right = READERS_DISAGREE.get(path.name)
    if right is None:
        assert shown(by_rie) == shown(by_icaljs), "the readers disagree: say which follows RFC 5545"
    assert shown(landed) == shown(by_icaljs if right == "ical.js" else by_rie)


def test_a_series_written_in_utc_across_the_change_of_time_stays_in_utc_and_the_preview_says_so(client, headers):
    from models import Event, db

    body = (DATA / "import_fidelity" / "utc_series_across_march.ics").read_bytes()
    preview = upload(client, headers, body, endpoint="/api/v1/imports/preview").get_json()
    (created,) = preview["created"]
    assert created["notes"] == [("série écrite en UTC : gardée en UTC pour garder ses instants (son heure locale "
                                "change d'une heure aux changements d'heure)")]
    assert upload(client, headers, body).status_code == 200
    assert db.session.scalar(sa.select(Event.timezone)) == "UTC"
    winter = (DATA / "import_fidelity" / "utc_series_in_winter.ics").read_bytes()
    (created,) = upload(client, headers, winter, endpoint="/api/v1/imports/preview").get_json()["created"]
    assert created["notes"] == ["série écrite en UTC, mise à l'heure de Europe/Paris : mêmes instants"]


def test_reimporting_into_another_default_place_keeps_the_zone_the_file_gives(client, headers):
    from models import Event, db

    body = (DATA / "import_fidelity" / "los_angeles_events.ics").read_bytes()
    assert upload(client, headers, body).status_code == 200
    first = imported_occurrences()
    moved = upload(client, headers, body, place="cs-ouest").get_json()
    assert (moved["summary"]["changed"] == 1 and moved["changed"][0]["changes"] == ["place", "holiday_region"]) or \
        moved["changed"][0]["changes"] == ["place"], moved
    db.session.expire_all()
    assert db.session.scalar(sa.select(Event.timezone)) == "America/Los_Angeles"
    assert imported_occurrences() == first
    again = upload(client, headers, body, place="cs-ouest").get_json()
    assert again["summary"]["unchanged"] == 1, again


def _zones_all_defined(body: bytes) -> bool:
    """Every TZID the file uses has its VTIMEZONE in the file: what ical.js needs (it has no zone
    database of its own and reads an unknown zone as floating)."""
    calendars = icalendar.Calendar.from_ical(body, multiple=True)
    defined = {str(tz["TZID"]) for c in calendars for tz in c.walk("VTIMEZONE")}
    used = {str(p.params["TZID"]) for c in calendars for e in c.walk("VEVENT") for p in e.values()
            if hasattr(p, "params") and "TZID" in p.params}
    return used <= defined


def test_every_file_of_the_shared_corpus_lands_with_the_readers_occurrences_or_is_refused(app, client, headers):
    """The real-world files: 0 silent difference with recurring-ical-events, and with ical.js on
    each file it can read with the zones it defines; the others refused whole, located."""
    from models import Event, db
    from models.operations.partners import partner_by_slug
    from models.operations.territory import place_by_slug
    from models.users import User
    from scheduler.ical.imports import apply_plan
    from scheduler.ical.parse_csv import parse_file
    from scheduler.ical.planned import ImportOptions, ImportRefused
    from test_imports import _corpus_dir

    user = db.session.scalar(sa.select(User))
    lo, hi = datetime(1995, 1, 1, tzinfo=PARIS), datetime(2035, 1, 1, tzinfo=PARIS)
    counts = {"imported": 0, "refused": 0, "by ical.js too": 0}
    for path in sorted(_corpus_dir().glob("*.ics")):
        body = path.read_bytes()
        options = ImportOptions(partner=partner_by_slug("mission-locale-sud"), place=place_by_slug("bij-echirolles"))
        try:
            apply_plan(user, parse_file(path.name, body, options), options)
            db.session.flush()
        except ImportRefused as refused:
            db.session.rollback()
            assert all(e.line for e in refused.located), (path.name, [str(e) for e in refused.located])
            assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0, path.name
            counts["refused"] += 1
            continue
        landed = imported_occurrences(lo, hi)
        db.session.rollback()
        counts["imported"] += 1
        calendars = icalendar.Calendar.from_ical(body, multiple=True)
        floating = ZoneInfo(str(calendars[0].get("X-WR-TIMEZONE", "")).strip() or "Europe/Paris")
        assert shown(landed) == shown(with_recurring_ical_events(body, floating, lo, hi)), path.name
        text = body.removeprefix(b"\xef\xbb\xbf")
        if _zones_all_defined(body):
            try:
                by_icaljs = with_icaljs(text, lo, hi, floating)
            except AssertionError as unreadable:  # ical.js refuses some files outright
                assert "could not read" in str(unreadable)
                continue
            assert shown(landed) == shown({(s, e) for s, e, cancelled in by_icaljs if not cancelled}), path.name
            counts["by ical.js too"] += 1
    assert counts["imported"] >= 45 and counts["refused"] >= 40 and counts["by ical.js too"] >= 30, counts


def test_an_occurrence_moved_with_all_the_following_ones_splits_the_series_and_a_reimport_changes_nothing(
        client, headers):
    from models import Event, db

    body = (DATA / "import_fidelity" / "this_and_future_later_hour.ics").read_bytes()
    preview = upload(client, headers, body, endpoint="/api/v1/imports/preview").get_json()
    first, following = sorted(preview["created"], key=lambda c: c["starts"])
    assert first["uid"] == "atelier-cv@test" and following["uid"] == "atelier-cv@test-20270315T080000Z"
    assert following["notes"] == [("suite de la série modifiée à partir du 15/03/2027 (RANGE=THISANDFUTURE) : "
                                  "une seconde série")]
    assert upload(client, headers, body).status_code == 200
    counts = dict(db.session.execute(sa.select(Event.uid, Event.count)).all())
    # 12 dates: 4 before the 15th (1, 4, 8, 11 March), 8 from it, the EXDATE of the 25th among them.
    assert counts == {"atelier-cv@test": 4, "atelier-cv@test-20270315T080000Z": 8}
    again = upload(client, headers, body).get_json()
    assert again["summary"]["unchanged"] == 2 and not again["changed"], again
