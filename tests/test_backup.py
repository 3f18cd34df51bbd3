"""Keep and restore: `flask export` then `flask import` into a new database loses nothing."""
from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from helpers.backup import new_database, run
from models import Event, Partner, db

WINDOW = "/api/v1/occurrences?start=2027-01-01&end=2028-01-01"


@pytest.fixture
def calendar(app, client, token_for):
    """The demo territory, plus what it lacks: an API user with a token, a cancelled occurrence
    through the API (audit history), a user with a password."""
    from commands.demo import load_demo

    load_demo(date(2027, 3, 1))
    db.session.commit()
    headers = token_for("coordo@example.fr")
    event = db.session.scalars(sa.select(Event).where(Event.frequency == "weekly").order_by(Event.id)).first()
    first = client.get(f"{WINDOW}&partner={event.organisers[0].slug}", headers=headers).get_json()
    mine = next(o for o in first if o["event_id"] == event.id and not o["is_cancelled"])
    response = client.post(f"/api/v1/events/{event.id}/occurrences/cancel", headers=headers,
                           json={"recurrence_start": mine["recurrence_id"], "reason": "Fermeture exceptionnelle"})
    assert response.status_code == 200, response.get_json()
    return headers


def test_an_export_imported_into_a_new_database_exports_the_same_file_and_calendar(
        app, client, calendar, backend, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    code, output = run(app, "export", str(first))
    assert code == 0, output
    data = json.loads(first.read_text(encoding="utf-8"))
    # Every table of the metadata is there, with rows where the demo has some.
    assert set(data["tables"]) == {t.name for t in db.metadata.sorted_tables}
    for table in ("partners", "people", "quartiers", "places", "events", "occurrence_exceptions",
                  "event_organisers", "users", "api_tokens", "audit_entries"):
        assert data["tables"][table]["rows"], table
    users = data["tables"]["users"]
    assert all(not h or h.startswith("$argon2") for h in (r[users["columns"].index("password_hash")]
                                                          for r in users["rows"]))
    expected = client.get(WINDOW, headers=calendar).get_json()
    assert any(o["is_cancelled"] for o in expected) and any(o["is_moved"] for o in expected)

    with new_database(backend, tmp_path) as restored:
        code, output = run(restored, "import", str(first))
        assert code == 0 and "Import terminé" in output, output
        code, output = run(restored, "export", str(second))
        assert code == 0, output
        assert second.read_bytes() == first.read_bytes()
        other = restored.test_client()
        # The same token works (its hash came along), and the calendar is the same, moves and all.
        assert other.get(WINDOW, headers=calendar).get_json() == expected
        # New rows get new ids after the restored ones.
        response = other.post("/api/v1/partners", headers=calendar, json={
            "slug": "nouveau-partenaire", "name": "Nouveau partenaire", "type": "association"})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["id"] > max(r[0] for r in data["tables"]["partners"]["rows"])


def test_the_import_refuses_a_database_that_is_not_empty(app, calendar, tmp_path):
    path = tmp_path / "export.json"
    assert run(app, "export", str(path))[0] == 0
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Partner))
    code, output = run(app, "import", str(path))
    assert code != 0 and "La base n'est pas vide" in output
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Partner)) == before


def test_an_import_that_fails_halfway_writes_nothing(app, calendar, backend, tmp_path):
    path = tmp_path / "broken.json"
    assert run(app, "export", str(path))[0] == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    # The last table breaks (a duplicated row): every table before it was already inserted.
    last = db.metadata.sorted_tables[-1].name
    table = next(t.name for t in reversed(db.metadata.sorted_tables) if data["tables"][t.name]["rows"])
    data["tables"][table]["rows"].append(data["tables"][table]["rows"][0])
    path.write_text(json.dumps(data), encoding="utf-8")
    with new_database(backend, tmp_path) as restored:
        code, output = run(restored, "import", str(path))
        assert code != 0 and "rien n'a été écrit" in output, (last, output)
        with restored.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Partner)) == 0
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(schema_revision="0123abcd"), "au schéma"),
    (lambda d: d.update(format="autre-chose"), "pas un export de Maillage"),
    (lambda d: d["tables"].pop("events"), "absentes : events"),
    (lambda d: d["tables"]["partners"]["columns"].pop(), "colonnes ou lignes différentes"),
])
def test_an_export_that_does_not_fit_this_database_is_refused_in_french(app, calendar, backend, tmp_path,
                                                                       damage, message):
    path = tmp_path / "export.json"
    assert run(app, "export", str(path))[0] == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    damage(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with new_database(backend, tmp_path) as restored:
        code, output = run(restored, "import", str(path))
        assert code != 0 and message in output, output
