"""Import of partners' calendars: files in the shapes Outlook, Google and Thunderbird write, the
CSV template, malformed files refused whole, the round trip through our own feed, and every
real-world calendar of the shared corpus."""
from __future__ import annotations

import io
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import sqlalchemy as sa

from feed_readers import api_occurrences, window, with_icalendar, with_vobject

DATA = Path(__file__).parent / "data"
PARIS = ZoneInfo("Europe/Paris")
START, END = date(2026, 12, 1), date(2027, 12, 1)


def _corpus_dir() -> Path:
    """The shared corpus: ../shared/corpora from the repository root (CI), or /work/shared."""
    root = Path(__file__).resolve().parent.parent
    for candidate in (root.parent / "shared" / "corpora", root.parent.parent / "shared" / "corpora",
                      Path("/work/shared/corpora")):
        if (candidate / "icalendar-tests").is_dir():
            return candidate / "icalendar-tests"
    pytest.fail("the shared corpus ../shared/corpora/icalendar-tests is missing")


@pytest.fixture
def setting(client, create_partner, create_quartier, create_place, token_for):
    ml = create_partner("mission-locale-sud", name="Mission locale Sud-Isère")
    create_partner("mission-locale-est", name="Mission locale Est Réunion")
    create_quartier()
    create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve", quartier="QN03801M")
    create_place("case-saint-denis", name="Case de Saint-Denis", postcode="97400")
    return {"ml": ml, "headers": token_for()}


def _upload(client, headers, path_or_bytes, endpoint="/api/v1/imports", filename=None, place="bij-echirolles",
            partner="mission-locale-sud"):
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    name = filename or (path_or_bytes.name if isinstance(path_or_bytes, Path) else "calendrier.ics")
    return client.post(endpoint, headers=headers, content_type="multipart/form-data",
                       data={"partner": partner, "place": place, "file": (io.BytesIO(data), name)})


def _source_occurrences(path: Path, date_zone: ZoneInfo) -> set[tuple[int, int, bool]]:
    """What the original file means, read by icalendar + recurring-ical-events (all-day dates
    at midnight in the zone the import uses for them)."""
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    lo, hi = window(START, END, PARIS)
    found = set()
    for c in recurring_ical_events.of(calendar).between(lo, hi):
        start, end = c["DTSTART"].dt, c["DTEND"].dt
        if not isinstance(start, datetime):
            start, end = (datetime.combine(d, time(), date_zone) for d in (start, end))
        elif start.tzinfo is None:
            start, end = start.replace(tzinfo=date_zone), end.replace(tzinfo=date_zone)
        found.add((int(start.timestamp()), int(end.timestamp()), str(c.get("STATUS", "")).upper() == "CANCELLED"))
    return found


def _live(occurrences):
    return {o for o in occurrences if not o[2]}


@pytest.mark.parametrize("name,zone", [("outlook.ics", PARIS), ("google.ics", ZoneInfo("Indian/Reunion")),
                                       ("thunderbird.ics", PARIS)])
def test_an_export_lands_with_the_occurrences_its_own_calendar_shows(client, setting, name, zone):
    response = _upload(client, setting["headers"], DATA / name)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["summary"]["created"] >= 2
    imported = api_occurrences(client, START, END, headers=setting["headers"])
    assert _live(imported) == _live(_source_occurrences(DATA / name, zone))


def test_outlook_windows_zone_names_series_exceptions_and_all_day_events_become_maillage_series(client, setting):
    from models import Event, db

    assert _upload(client, setting["headers"], DATA / "outlook.ics").status_code == 200
    events = {e.title: e for e in db.session.scalars(sa.select(Event))}
    weekly = events["Permanence mission locale au BIJ"]
    assert (weekly.timezone, weekly.frequency, weekly.weekdays, weekly.until) == ("Europe/Paris", "weekly", [0],
                                                                                    date(2027, 6, 28))
    assert weekly.place.slug == "bij-echirolles" and weekly.source == "import"
    assert sorted((x.is_cancelled, x.recurrence_start.astimezone(PARIS).date()) for x in weekly.exceptions) == [
        (False, date(2027, 3, 22)), (True, date(2027, 2, 15)), (True, date(2027, 4, 5))]
    monthly = events["Rencontre partenariale"]
    assert (monthly.frequency, monthly.month_week, monthly.weekdays, monthly.count) == ("monthly", -1, [3], 6)
    assert monthly.visibility == "partners"  # CLASS:PRIVATE
    forum = events["Forum emploi du quartier"]
    assert (forum.start_time, forum.duration_minutes) == (time(0, 0), 24 * 60)


def test_google_floating_times_follow_the_calendars_x_wr_timezone(client, setting):
    from models import Event, db

    assert _upload(client, setting["headers"], DATA / "google.ics").status_code == 200
    case = db.session.scalar(sa.select(Event).where(Event.title == "Permanence à la case"))
    assert case.timezone == "Indian/Reunion" and case.place.slug == "case-saint-denis"
    assert case.starts_at == datetime(2027, 1, 11, 8, 30, tzinfo=ZoneInfo("Indian/Reunion"))


def test_importing_the_same_file_twice_changes_nothing_and_an_updated_file_updates(client, setting):
    from models import AuditEntry, Event, db

    headers = setting["headers"]
    assert _upload(client, headers, DATA / "thunderbird.ics").status_code == 200
    writes = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    again = _upload(client, headers, DATA / "thunderbird.ics")
    assert again.get_json()["summary"] == {"created": 0, "changed": 0, "unchanged": 2, "overlaps": 0}
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == writes
    updated = (DATA / "thunderbird.ics").read_bytes().replace(b"DTEND;TZID=Europe/Paris:20270330T113000",
                                                              b"DTEND;TZID=Europe/Paris:20270330T120000")
    preview = _upload(client, headers, updated, endpoint="/api/v1/imports/preview", filename="t.ics").get_json()
    assert preview["summary"]["changed"] == 1 and preview["changed"][0]["changes"] == ["duration_minutes"]
    assert db.session.scalar(sa.select(Event.duration_minutes).where(Event.title.like("Réunion%"))) == 120
    assert _upload(client, headers, updated, filename="t.ics").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(Event.duration_minutes).where(Event.title.like("Réunion%"))) == 150
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 2


def test_a_preview_lists_what_would_be_created_and_saves_nothing(client, setting):
    from models import Event, db

    response = _upload(client, setting["headers"], DATA / "outlook.ics", endpoint="/api/v1/imports/preview")
    body = response.get_json()
    assert response.status_code == 200 and body["summary"]["created"] == 3
    assert {e["title"] for e in body["created"]} >= {"Permanence mission locale au BIJ", "Rencontre partenariale"}
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0


MALFORMED = {
    "missing_end.ics": (10, "BEGIN:VEVENT jamais fermé"),
    "bad_date.ics": (13, "DTSTART"),
    "yearly.ics": (15, "FREQ=YEARLY"),
    "end_before_start.ics": (14, "avant le début"),
    "garbage_line.ics": (9, "ligne illisible"),
    "not_a_calendar.ics": (1, "BEGIN:VCALENDAR"),
    "bad_date.csv": (3, "Date de début"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_file_is_refused_whole_with_the_line_it_names(client, setting, name):
    from models import Event, db

    line, words = MALFORMED[name]
    response = _upload(client, setting["headers"], DATA / "malformed" / name)
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"].startswith("Fichier refusé, rien n'a été importé.")
    errors = body["errors"]["json"]["file"]
    assert any(e.startswith(f"ligne {line}") and words in e for e in errors), errors
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0, "nothing half-imported"


def test_the_csv_template_downloads_and_a_filled_csv_imports_permanences(client, setting):
    from models import Event, db

    template = client.get("/api/v1/imports/template.csv")
    assert template.status_code == 200 and template.headers["Content-Type"].startswith("text/csv")
    assert template.data.decode("utf-8-sig").startswith("Identifiant;Titre;Type;Lieu;Date de début;")
    response = _upload(client, setting["headers"], DATA / "permanences.csv")
    assert response.status_code == 200, response.get_json()
    events = {e.title: e for e in db.session.scalars(sa.select(Event))}
    assert events["Atelier CV"].interval == 2 and events["Atelier CV"].place.slug == "pimms-villeneuve"
    gse = events["Groupe solidarité emploi"]
    assert (gse.frequency, gse.month_week, gse.weekdays, gse.kind) == ("monthly", -1, [3], "coordination")
    assert events["Permanence mission locale"].audience_tags == ["sans diplôme"]
    assert events["Forum emploi"].starts_at == datetime(2027, 3, 18, 10, tzinfo=PARIS)
    again = _upload(client, setting["headers"], DATA / "permanences.csv").get_json()
    assert again["summary"]["unchanged"] == 4


def test_export_then_import_then_export_gives_the_same_occurrences(client, setting, create_event):
    from models import Event, Person, db

    headers = setting["headers"]
    from models.territory import place_by_slug

    place = place_by_slug("bij-echirolles")
    adviser = Person(partner=setting["ml"], name="Awa Diallo")
    db.session.add(adviser)
    db.session.commit()
    mondays = create_event(place, [setting["ml"]], title="Permanence, CV ; lettres", frequency="weekly",
                           interval=1, start_date=date(2026, 11, 30), until=date(2027, 11, 29))
    create_event(place, [setting["ml"]], title="Club", kind="atelier", frequency="monthly", interval=1,
                 weekdays=[3], month_week=2, start_date=date(2027, 1, 14), start_time="18:00", count=10)
    client.post(f"/api/v1/events/{mondays.id}/occurrences/cancel", headers=headers,
                json={"recurrence_start": "2027-03-22T14:00:00+01:00"})
    client.post(f"/api/v1/events/{mondays.id}/occurrences/move", headers=headers,
                json={"recurrence_start": "2027-10-25T14:00:00+02:00", "starts_at": "2027-10-26T09:00:00+02:00",
                      "ends_at": "2027-10-26T12:00:00+02:00"})
    first = client.get("/feeds/all.ics").data
    for event in db.session.scalars(sa.select(Event)):
        assert client.delete(f"/api/v1/events/{event.id}", headers=headers).status_code == 204
    assert _upload(client, headers, first, filename="maillage.ics").status_code == 200
    second = client.get("/feeds/all.ics").data
    lo, hi = window(START, END, PARIS)
    assert with_icalendar(first, lo, hi) == with_icalendar(second, lo, hi)
    assert with_vobject(first, lo, hi) == with_vobject(second, lo, hi)
    reimported = db.session.scalar(sa.select(Event).where(Event.title == "Permanence, CV ; lettres"))
    assert reimported.uid == mondays.uid and reimported.skip_public_holidays  # holidays' EXDATEs read back


def test_every_calendar_of_the_shared_corpus_imports_or_is_refused_whole(app, client, setting):
    """116 real-world files: none crashes, none half-imports; imported events keep their instants."""
    from models import Event, db
    from models.partners import partner_by_slug
    from models.territory import place_by_slug
    from models.users import User
    from scheduler.ical_import import ImportOptions, ImportRefused, apply_plan, parse_file

    user = db.session.scalar(sa.select(User))
    files = sorted(_corpus_dir().glob("*.ics"))
    assert len(files) >= 100
    outcomes = {"imported": 0, "refused": 0}
    for path in files:
        options = ImportOptions(partner=partner_by_slug("mission-locale-sud"), place=place_by_slug("bij-echirolles"))
        try:
            plan = parse_file(path.name, path.read_bytes(), options)
            touched = apply_plan(user, plan, options)
        except ImportRefused as refused:
            db.session.rollback()
            assert refused.located and all(e.line or e.component for e in refused.located), (path.name, refused)
            assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0, path.name
            outcomes["refused"] += 1
            continue
        db.session.flush()
        for planned, event in zip(plan, touched):
            assert event.uid == planned.uid, path.name
        _check_first_instants(path, plan)
        db.session.rollback()
        outcomes["imported"] += 1
    assert outcomes["imported"] >= 30 and outcomes["refused"] >= 5, outcomes


def _check_first_instants(path: Path, plan) -> None:
    """Each imported series starts at the instant its DTSTART names (zones resolved right)."""
    from models.events import local_to_utc

    calendar = icalendar.Calendar.from_ical(path.read_bytes(), multiple=True)[0]
    by_uid = {str(c.get("UID", "")): c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c}
    for planned in plan:
        component = by_uid.get(planned.uid)
        if component is None:
            continue
        start = component["DTSTART"].dt
        if not isinstance(start, datetime) or start.tzinfo is None:
            continue
        v = planned.values
        # Timestamps: an aware datetime in a DST fold never equals one of another zone (PEP 495).
        instant = local_to_utc(v["start_date"], v["start_time"], v["timezone"])
        assert instant.timestamp() == start.timestamp(), (path.name, planned.uid)


def test_our_own_feed_of_series_that_pause_during_school_holidays_imports_as_such(client, setting, create_event):
    """Its EXDATEs are the public holidays and the school holidays of the place's zone: read back
    as the series' settings, not as hundreds of cancelled occurrences."""
    from datetime import timedelta

    from models import Event, db
    from models.territory import place_by_slug

    headers = setting["headers"]
    today = date.today()
    first = today + timedelta(days=7 - today.weekday())  # next Monday
    year = {"start_date": first, "until": first + timedelta(days=364), "frequency": "weekly", "interval": 1}
    place = place_by_slug("bij-echirolles")
    create_event(place, [setting["ml"]], title="Atelier jeunes", weekdays=[2], pause_school_holidays=True, **year)
    create_event(place, [setting["ml"]], title="Accueil jeunes", start_time="10:00", weekdays=[0, 4],
                 pause_school_holidays=True, skip_public_holidays=False, **year)
    create_event(place, [setting["ml"]], title="Permanence", start_time="17:00", duration_minutes=60,
                 weekdays=[0], **year)
    first_feed = client.get("/feeds/all.ics").data
    for event in db.session.scalars(sa.select(Event)):
        assert client.delete(f"/api/v1/events/{event.id}", headers=headers).status_code == 204
    response = _upload(client, headers, first_feed, filename="maillage.ics")
    assert response.status_code == 200, response.get_json()
    assert all(planned["exceptions"] == 0 for planned in response.get_json()["created"])
    settings = {e.title: (e.pause_school_holidays, e.skip_public_holidays, e.exceptions)
                for e in db.session.scalars(sa.select(Event))}
    assert settings == {"Atelier jeunes": (True, True, []), "Accueil jeunes": (True, False, []),
                        "Permanence": (False, True, [])}
    second_feed = client.get("/feeds/all.ics").data
    lo, hi = window(first, first + timedelta(days=365), PARIS)
    assert with_icalendar(first_feed, lo, hi) == with_icalendar(second_feed, lo, hi)
    assert with_vobject(first_feed, lo, hi) == with_vobject(second_feed, lo, hi)
