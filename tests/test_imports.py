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

from helpers.dates import french_holidays, next_working_monday
from helpers.feed_readers import api_occurrences, window, with_icalendar, with_vobject
from helpers.imports import big_calendar, corpus_dir, two_sessions_from_next_monday

DATA = Path(__file__).parent / "data"
PARIS = ZoneInfo("Europe/Paris")
START, END = date(2026, 12, 1), date(2027, 12, 1)


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


@pytest.fixture
def refusing_bij(setting, create_partner, create_event):
    """The BIJ refuses double bookings, and France Travail holds it next Monday from 15:00."""
    from models import Place, db

    bij = db.session.scalar(sa.select(Place).where(Place.slug == "bij-echirolles"))
    bij.refuses_hard_conflicts = True
    db.session.commit()
    create_event(bij, [create_partner("france-travail", type="france_travail")], title="Entretiens France Travail",
                 start_date=next_working_monday(), start_time="15:00", duration_minutes=60,
                 frequency="once", interval=1)
    return bij


def test_an_import_that_double_books_a_place_that_refuses_it_is_listed_in_the_preview_and_refused_whole(
        client, setting, refusing_bij):
    from models import Event, ScheduleConflict, db

    headers = setting["headers"]
    preview = _upload(client, headers, two_sessions_from_next_monday(), endpoint="/api/v1/imports/preview")
    assert preview.status_code == 200
    body = preview.get_json()
    assert body["summary"]["created"] == 2
    (refusal,) = body["refused"]
    assert refusal.startswith("ligne 4, VEVENT n° 1 (UID seance-1@thunderbird) : chevauchement bloquant")
    assert "« Permanence emploi » et « Entretiens France Travail »" in refusal or \
        "« Entretiens France Travail » et « Permanence emploi »" in refusal
    refused = _upload(client, headers, two_sessions_from_next_monday())
    assert refused.status_code == 422
    assert refused.get_json()["message"].startswith("Fichier refusé, rien n'a été importé. ligne 4")
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 1, "not even the workshop at the PIMMS"
    assert db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id))) == 0
    # Where double bookings are accepted, the same file imports, and its overlap is recorded.
    refusing_bij.refuses_hard_conflicts = False
    db.session.commit()
    assert _upload(client, headers, two_sessions_from_next_monday()).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id))) == 1


# --- big files: worked by the clock as jobs, their progress seen from elsewhere ------------------

@pytest.fixture
def editor(setting):
    from models import db
    from models.operations.users import get_or_create_user

    user = get_or_create_user("conseillere@example.fr", "editor", setting["ml"])
    db.session.commit()
    return user


def submitted(user, data: bytes, filename: str = "grand.ics"):
    """A job for the file's preview, as the import page leaves it for the clock."""
    from models import Place, db
    from scheduler.ical.jobs import submit

    bij = db.session.scalar(sa.select(Place).where(Place.slug == "bij-echirolles"))
    job = submit(user, user.partner, bij, "permanence", "public", filename, data)
    db.session.commit()
    return job


def clock_tick_watched(app, job_id: int) -> list[dict]:
    """The clock's job in a thread of its own (its own session, as in `python -m scheduler`), and
    the job's progress read meanwhile the way the page reads it, each read a transaction of its own."""
    import threading
    import time as timer

    from models import ImportJob, db
    from scheduler.ical.jobs import progress_view, run_queued_jobs

    def tick():
        with app.app_context():
            try:
                run_queued_jobs()
            finally:
                db.session.remove()

    worker = threading.Thread(target=tick)
    worker.start()
    seen = []
    while worker.is_alive():
        seen.append(progress_view(db.session.get(ImportJob, job_id)))
        db.session.rollback()  # end the read: a reader holding SQLite's lock would stop the commit
        timer.sleep(0.05)
    worker.join()
    return seen


def test_a_big_file_is_previewed_then_imported_by_the_clock_and_its_progress_is_seen_meanwhile(app, setting, editor):
    from models import Event, ImportJob, db
    from models.operations.imports import confirm_import_job
    from scheduler.ical.jobs import DRY_RUN_WRITE, runs_inline

    job = submitted(editor, big_calendar(600))
    assert job.event_count == 600 and not runs_inline(job)
    seen = [s for s in clock_tick_watched(app, job.id) if s["state"] == "running"]
    labels = {s["label"] for s in seen}
    # The overlaps of the file's new series are one sweep now (check_new_events), often shorter
    # than this 50 ms poll (missed on CI): only the reading and the writing are sure to be seen,
    # and the bar moves through them, then jumps.
    assert {"Lecture du fichier", DRY_RUN_WRITE} <= labels, labels
    percents = [s["percent"] for s in seen]
    # The new events are written in bulk: each phase of these 600 events lasts less than the half
    # second between two writes of the bar, which steps from the reading to the writing (both
    # seen, above) and never goes back.
    assert percents == sorted(percents) and any(0 < p < 100 for p in percents), percents
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.state == "ready" and job.result["summary"]["created"] == 600
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0, "a preview writes nothing"

    confirm_import_job(editor, job)
    db.session.commit()
    seen = [s for s in clock_tick_watched(app, job.id) if s["state"] == "running"]
    # Writing is most of an import now; its overlap sweep may pass between two reads.
    assert "Enregistrement des événements" in {s["label"] for s in seen}
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.state == "done" and job.result == {"created": 600, "changed": 0, "unchanged": 0}
    assert job.data is None, "the file is not kept once imported"
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 600


def test_the_api_hands_a_file_too_big_for_a_request_to_the_clock_and_the_import_goes_through_its_job(
        app, client, setting, token_for):
    from models import Event, ImportJob, Partner, db
    from scheduler.ical.jobs import run_queued_jobs

    headers = token_for("conseillere@example.fr", role="editor", partner=setting["ml"])
    calendar = big_calendar(12)
    limit, app.config["IMPORT_API_INLINE_MAX_EVENTS"] = app.config["IMPORT_API_INLINE_MAX_EVENTS"], 10
    try:
        for endpoint in ("/api/v1/imports/preview", "/api/v1/imports"):
            refused = _upload(client, headers, calendar, endpoint=endpoint)
            body = refused.get_json()
            assert refused.status_code == 413 and list(body) == ["code", "status", "message", "errors"], body
            assert "12 événements" in body["message"] and "/api/v1/import-jobs" in body["message"], body
        assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0
        queued = _upload(client, headers, calendar, endpoint="/api/v1/import-jobs")
    finally:
        app.config["IMPORT_API_INLINE_MAX_EVENTS"] = limit
    job = queued.get_json()
    assert queued.status_code == 202, job
    assert ((job["state"], job["step"], job["event_count"], job["state_label"])
            == ("queued", "preview", 12, "En attente"))
    address = f"/api/v1/import-jobs/{job['id']}"
    assert client.get(address, headers=headers).get_json()["progress"]["label"] == "En attente de traitement"
    # Another partner's staff cannot see it, nor confirm it: not found, its existence not revealed.
    est = db.session.scalar(sa.select(Partner).where(Partner.slug == "mission-locale-est"))
    stranger = token_for("autre@example.fr", role="editor", partner=est)
    assert client.get(address, headers=stranger).status_code == 404
    assert client.post(f"{address}/confirm", headers=stranger).status_code == 404
    assert client.post(f"{address}/confirm", headers=headers).status_code == 422  # no preview yet

    assert run_queued_jobs() == 1  # what the clock does every 2 s
    db.session.expire_all()
    ready = client.get(address, headers=headers).get_json()
    assert ready["state"] == "ready" and ready["result"]["summary"]["created"] == 12, ready
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0, "a preview writes nothing"
    confirmed = client.post(f"{address}/confirm", headers=headers)
    assert confirmed.status_code == 202 and confirmed.get_json()["step"] == "import", confirmed.get_json()
    assert client.post(f"{address}/confirm", headers=headers).status_code == 422  # once only
    assert run_queued_jobs() == 1
    db.session.expire_all()
    done = client.get(address, headers=headers).get_json()
    assert (done["state"], done["result"]) == ("done", {"created": 12, "changed": 0, "unchanged": 0}), done
    assert done["finished_at"] is not None
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 12


def test_a_big_file_refused_by_the_clock_names_its_line_and_writes_nothing(app, setting, editor):
    from models import Event, ImportJob, db
    from scheduler.ical.jobs import run_queued_jobs

    job = submitted(editor, big_calendar(400, broken_at=350))
    assert run_queued_jobs() == 1
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.state == "refused"
    assert any(e.startswith("ligne ") and "VEVENT n° 351" in e and "avant le début" in e for e in job.errors)
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0


def test_a_clock_killed_in_the_middle_of_an_import_leaves_nothing_and_the_job_is_taken_again(
        app, setting, editor, clock_process):
    import signal
    import time as timer

    from models import Event, ImportJob, db
    from models.operations.imports import confirm_import_job
    from scheduler.ical.jobs import STALE_AFTER, process, progress_view, run_queued_jobs, start_inline

    job = submitted(editor, big_calendar(2000))
    start_inline(job)
    db.session.commit()
    job = process(job.id)  # the preview, here
    confirm_import_job(editor, job)
    db.session.commit()
    clock = clock_process()
    deadline = timer.monotonic() + 120
    while timer.monotonic() < deadline:
        view = progress_view(db.session.get(ImportJob, job.id))
        db.session.rollback()
        # The new events are checked, then stored in one flush: a second for these 2,000, with the
        # overlaps and the commit still to come, and no count shown meanwhile (the bar is written
        # at most twice a second).
        if view["label"] == "Enregistrement des événements":
            break
        assert clock.poll() is None, "the clock died"
        timer.sleep(0.05)
    else:
        pytest.fail(f"the clock never got to write: {view}")
    clock.send_signal(signal.SIGKILL)
    clock.wait()
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.state == "running"
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0, "nothing of a killed import"
    assert run_queued_jobs() == 0, "a running job is left to its runner until it goes silent"
    job.heartbeat_at -= STALE_AFTER  # ten minutes later
    db.session.commit()
    assert run_queued_jobs() == 1
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).state == "done"
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 2000


def test_the_clock_registers_the_import_job(app):
    from scheduler.clock import build_scheduler

    assert "imports" in {job.id for job in build_scheduler(app).get_jobs()}


def test_an_import_file_may_be_larger_than_other_bodies_up_to_its_own_limit(client, setting):
    padding = b"X-PADDING:" + b"x" * 70 + b"\r\n"
    big = big_calendar(40).replace(b"METHOD:PUBLISH\r\n", b"METHOD:PUBLISH\r\n" + padding * 20_000)  # 1.6 MB
    assert len(big) > 1.5 * 1024 * 1024
    response = _upload(client, setting["headers"], big, endpoint="/api/v1/imports/preview")
    assert response.status_code == 200 and response.get_json()["summary"]["created"] == 40
    huge = b"BEGIN:VCALENDAR\r\n" + padding * 280_000  # 21 MB
    refused = _upload(client, setting["headers"], huge, endpoint="/api/v1/imports")
    assert refused.status_code == 413
    body = refused.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and "20 Mo" in body["message"]
    events = client.post("/api/v1/events", headers=setting["headers"], content_type="application/json",
                         data=b'{"title": "' + b"x" * (1024 * 1024) + b'"}')
    assert events.status_code == 413 and "1 Mo" in events.get_json()["message"]


MALFORMED = {
    "missing_end.ics": (10, "BEGIN:VEVENT jamais fermé"),
    "bad_date.ics": (13, "DTSTART"),
    "week_numbers.ics": (15, "répétition non prise en charge (BYWEEKNO)"),
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
    from models.operations.territory import place_by_slug

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
    from models.operations.partners import partner_by_slug
    from models.operations.territory import place_by_slug
    from models.users import User
    from scheduler.ical.imports import apply_plan
    from scheduler.ical.parse_csv import parse_file
    from scheduler.ical.planned import ImportOptions, ImportRefused

    user = db.session.scalar(sa.select(User))
    files = sorted(corpus_dir().glob("*.ics"))
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
    from scheduler.time.rules import local_to_utc

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
    from models.operations.territory import place_by_slug

    headers = setting["headers"]
    today = date.today()
    first = today + timedelta(days=7 - today.weekday())  # next Monday
    year = {"start_date": first, "until": first + timedelta(days=364), "frequency": "weekly", "interval": 1}
    # The workshop's day has a public holiday within the year: without one, skipping them or not
    # gives the same dates, and the feed cannot tell which the series does.
    workshop_day = min((d for d in french_holidays(first.year, first.year + 1)
                        if first <= d <= year["until"] and d.weekday() < 5), key=lambda d: (d.weekday() != 2, d))
    place = place_by_slug("bij-echirolles")
    create_event(place, [setting["ml"]], title="Atelier jeunes", weekdays=[workshop_day.weekday()],
                 pause_school_holidays=True, **year)
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


def test_a_file_of_few_events_but_many_overlaps_is_answered_413_with_the_jobs_link_before_any_work(
        app, client, setting, token_for):
    """Three parallel weekday series at one place through next year: three events, thousands of
    overlaps. Past IMPORT_INLINE_MAX_OVERLAP_WORK (lowered here) the API does not start: 413, the
    JSON error shape, the address of the import jobs; nothing written. The job takes the file."""
    from bench.import_overlaps import parallel_file
    from models import Event, ImportJob, db

    headers = token_for("conseillere@example.fr", role="editor", partner=setting["ml"])
    first = next_working_monday()
    calendar = parallel_file(3, first, date(first.year + 1, 12, 31))
    limit, app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"] = app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"], 1000
    try:
        for endpoint in ("/api/v1/imports/preview", "/api/v1/imports"):
            refused = _upload(client, headers, calendar, endpoint=endpoint)
            body = refused.get_json()
            assert refused.status_code == 413 and list(body) == ["code", "status", "message", "errors"], body
            assert "recherche des chevauchements" in body["message"], body
            assert body["errors"]["json"]["import_jobs"] == ["http://localhost/api/v1/import-jobs"], body
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0
        queued = _upload(client, headers, calendar, endpoint="/api/v1/import-jobs")
        assert queued.status_code == 202 and queued.get_json()["state"] == "queued", queued.get_json()
    finally:
        app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"] = limit
    # Under the limit (the default), the same file is worked in the request.
    previewed = _upload(client, headers, calendar, endpoint="/api/v1/imports/preview")
    assert previewed.status_code == 200 and previewed.get_json()["summary"]["overlaps"] > 500, previewed.get_json()
