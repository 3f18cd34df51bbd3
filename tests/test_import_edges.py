"""Import at the edges of what files hold: characters no one types, dates outside the supported
years, files without an event, other encodings, several VCALENDARs, empty rules, Outlook's
all-day overrides, events without UID; each case a hand-made file of tests/data/import_cases,
refused whole with a French message naming its line and UID, or imported as it is meant."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

CASES = Path(__file__).parent / "data" / "import_cases"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def headers(client, create_partner, create_quartier, create_place, token_for):
    create_partner("mission-locale-sud", name="Mission locale Sud-Isère")
    create_quartier()
    create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M")
    return token_for()


def upload(client, headers, name: str, endpoint: str = "/api/v1/imports", place: str = "bij-echirolles"):
    data = (CASES / name).read_bytes()
    return client.post(endpoint, headers=headers, content_type="multipart/form-data",
                       data={"partner": "mission-locale-sud", "place": place, "file": (io.BytesIO(data), name)})


def event_count() -> int:
    from models import Event, db

    return db.session.scalar(sa.select(sa.func.count(Event.id)))


REFUSED = {
    "nul_in_summary.ics": "ligne 9, VEVENT n° 1 (UID nul@test) : SUMMARY : caractère de contrôle interdit (U+0000)",
    "control_in_location.ics": "ligne 10, VEVENT n° 1 (UID ctl@test) : LOCATION : caractère de contrôle interdit "
                               "(U+0007)",
    "bidi_in_description.ics": "ligne 10, VEVENT n° 1 (UID bidi@test) : DESCRIPTION : caractère de contrôle de sens "
                               "d'écriture interdit (U+202E)",
    "year_1.ics": "ligne 7, VEVENT n° 1 (UID an1@test) : DTSTART : date hors des années prises en charge "
                  "(1970 à 2199) : 0001-01-01",
    "year_9999.ics": "ligne 7, VEVENT n° 1 (UID an9999@test) : DTSTART : date hors des années prises en charge "
                     "(1970 à 2199) : 9999-12-31",
    "only_vtodo.ics": "ligne 1, VCALENDAR : aucun évènement (VEVENT) à importer : il contient 2 tâche(s) (VTODO)",
    "only_vjournal.ics": "ligne 1, VCALENDAR : aucun évènement (VEVENT) à importer : il contient 1 note(s) de "
                         "journal (VJOURNAL)",
    "only_freebusy.ics": "ligne 1, VCALENDAR : aucun évènement (VEVENT) à importer : il contient 1 plage(s) de "
                         "disponibilité (VFREEBUSY)",
    "empty_calendar.ics": "ligne 1, VCALENDAR : aucun évènement (VEVENT) à importer : il est vide (aucun composant)",
    "empty_rrule.ics": "ligne 10, VEVENT n° 1 (UID rr@test) : RRULE sans fréquence (FREQ manquant ou règle vide)",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("endpoint", ["/api/v1/imports/preview", "/api/v1/imports"])
def test_a_file_maillage_cannot_hold_is_refused_whole_in_french_at_its_line_and_uid(client, headers, name,
                                                                                   endpoint):
    response = upload(client, headers, name, endpoint)
    body = response.get_json()
    assert response.status_code == 422, body
    assert set(body) == {"code", "status", "message", "errors"}
    (error,) = body["errors"]["json"]["file"]
    assert error.startswith(REFUSED[name]), error
    assert "None" not in body["message"] and "None" not in error
    assert event_count() == 0


@pytest.mark.parametrize("name,title", [("utf16_with_bom.ics", "Réunion d'équipe à l'été"),
                                        ("utf8_with_bom.ics", "Réunion d'équipe à l'été")])
def test_utf16_and_utf8_files_with_a_byte_order_mark_are_read(client, headers, name, title):
    from models import Event, db

    response = upload(client, headers, name)
    assert response.status_code == 200, response.get_json()
    assert db.session.scalar(sa.select(Event.title)) == title


def test_every_vcalendar_of_a_file_is_read(client, headers):
    from models import Event, db

    response = upload(client, headers, "three_calendars.ics")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["summary"]["created"] == 3
    assert sorted(db.session.scalars(sa.select(Event.title))) == ["Séance 1", "Séance 2", "Séance 3"]


def test_two_identical_events_without_uid_both_land_and_a_second_import_changes_nothing(client, headers):
    first = upload(client, headers, "identical_without_uid.ics")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["summary"]["created"] == 2
    again = upload(client, headers, "identical_without_uid.ics").get_json()
    assert again["summary"] == {"created": 0, "changed": 0, "unchanged": 2, "overlaps": again["summary"]["overlaps"]}
    assert event_count() == 2


def test_an_outlook_all_day_series_whose_moved_date_is_named_by_its_midnight_imports(client, headers):
    from models import Event, db

    response = upload(client, headers, "outlook_all_day_midnight_recurrence_id.ics")
    assert response.status_code == 200, response.get_json()
    event = db.session.scalar(sa.select(Event))
    (moved,) = event.exceptions
    assert moved.recurrence_start.astimezone(PARIS).date() == date(2027, 4, 13)
    assert moved.starts_at.astimezone(PARIS).date() == date(2027, 4, 14)


def test_no_message_of_the_shared_corpus_speaks_english_or_says_none(app, create_partner, create_place):
    """The real-world files refused: each message French and located (no parser internals)."""
    from helpers.imports import corpus_dir
    from scheduler.ical.parse_csv import parse_file
    from scheduler.ical.planned import ImportOptions, ImportRefused

    partner, place = create_partner("ml"), create_place("bij")
    english = ("Expected", "could not", "Invalid", "Content line", "got:", "must be", "None", "Traceback")
    refused = 0
    for path in sorted(corpus_dir().glob("*.ics")):
        try:
            parse_file(path.name, path.read_bytes(), ImportOptions(partner=partner, place=place))
        except ImportRefused as error:
            refused += 1
            for located in error.located:
                text = str(located)
                assert text.startswith("ligne ") or located.component, (path.name, text)
                assert not any(word in text for word in english), (path.name, text)
    assert refused >= 20
