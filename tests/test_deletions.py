"""What a deletion leaves behind, on both backends: foreign keys are enforced (their ON DELETE
CASCADE / SET NULL happen on SQLite too), and an id once given is never given again."""
from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import sqlalchemy as sa

from app import create_app
from conftest import SYSTEM


def _next_monday() -> date:
    """Next Monday or later: three Mondays in a row with no holiday (the series count them)."""
    from conftest import a_weekday_after

    return a_weekday_after(1, 0, weeks=3)


def test_deleting_an_event_removes_its_conflicts_and_the_nightly_detection_still_runs(
        app, client, create_partner, create_place, create_event, token_for):
    from models import ConflictNotice, ScheduleConflict, db
    from scheduler.conflicts.nightly import run_full_detection

    ml, cs = create_partner("mission-locale"), create_partner("centre-social", type="centre_social")
    hall = create_place("centre-social", rooms=["Grande salle"])
    monday = _next_monday()
    kept = create_event(hall, [ml], room="Grande salle", start_date=monday, frequency="weekly", count=3)
    deleted = create_event(hall, [cs], title="Atelier numérique", kind="atelier", room="Grande salle",
                           start_date=monday, frequency="weekly", count=3)
    run_full_detection(datetime.now(UTC))
    db.session.commit()
    conflict_ids = list(db.session.scalars(sa.select(ScheduleConflict.id)))
    assert len(conflict_ids) == 3 and db.session.scalar(sa.select(sa.func.count()).select_from(ConflictNotice))
    headers = token_for()

    assert client.delete(f"/api/v1/events/{deleted.id}", headers=headers).status_code == 204
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleConflict)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConflictNotice)) == 0
    response = client.get(f"/api/v1/conflicts/{conflict_ids[0]}", headers=headers)
    assert response.status_code == 404 and response.get_json()["code"] == 404
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["conflicts", "detect"])
    assert result.exit_code == 0, result.output
    assert "0 nouveau(x)" in result.output
    assert client.get(f"/api/v1/events/{kept.id}", headers=headers).status_code == 200


def test_a_partner_created_after_a_deletion_inherits_nothing_of_the_deleted_one(
        app, client, create_partner, create_place, create_event, token_for):
    from models import Event, FeedToken, PartnerReminderSettings, User, db
    from models.operations.deliveries import set_reminder_settings
    from models.operations.feeds import create_feed_token

    ml = create_partner("mission-locale")
    place = create_place("bij-echirolles")
    gone = create_partner("pimms-nord", type="pimms")  # the newest row: SQLite would give its id again
    shared = create_event(place, [ml, gone], title="Permanence partagée")
    create_event(place, [gone], title="Permanence du PIMMS")
    set_reminder_settings(SYSTEM, gone, {"webhook_url": "https://pimms.example.fr/maillage"})
    create_feed_token(SYSTEM, partner=gone, label="Agenda du PIMMS")
    editor_headers = token_for("editrice@pimms.example.fr", role="editor", partner=gone)
    db.session.commit()
    headers = token_for()
    old_id = gone.id

    assert client.delete("/api/v1/partners/pimms-nord", headers=headers).status_code == 204
    response = client.post("/api/v1/partners", headers=headers,
                           json={"slug": "cap-emploi", "name": "Cap emploi", "type": "cap_emploi"})
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    newcomer = db.session.scalar(sa.select(User.partner_id).where(User.email == "editrice@pimms.example.fr"))
    new_id = db.session.scalar(sa.text("SELECT id FROM partners WHERE slug = 'cap-emploi'"))

    assert new_id != old_id
    assert newcomer is None  # the editor belongs to no partner any more, least of all the new one
    assert client.get("/api/v1/events?partner=cap-emploi").get_json() == []
    assert db.session.get(Event, shared.id).organisers == [ml]
    assert db.session.get(PartnerReminderSettings, new_id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedToken)) == 0
    settings = client.get("/api/v1/partners/cap-emploi/reminder-settings", headers=headers).get_json()
    assert settings["webhook_url"] is None
    # The deleted partner's editor cannot edit the new partner.
    refused = client.patch("/api/v1/partners/cap-emploi", headers=editor_headers, json={"name": "Repris"})
    assert refused.status_code == 403


def test_an_id_is_never_given_again_even_after_the_newest_row_is_deleted(client, create_partner, create_place,
                                                                          create_event, token_for):
    place = create_place("bij-echirolles")
    event = create_event(place, [create_partner("mission-locale")])
    headers = token_for()
    assert client.delete(f"/api/v1/events/{event.id}", headers=headers).status_code == 204
    again = create_event(place, [create_partner("france-travail", type="france_travail")])
    assert again.id > event.id
    # Its history is its own, not the deleted event's.
    assert [h["action"] for h in client.get(f"/api/v1/events/{again.id}/history", headers=headers).get_json()] \
        == ["create"]


def test_every_table_with_an_integer_id_takes_ids_that_never_come_back(app, backend):
    """SQLite: AUTOINCREMENT in the migrated schema; PostgreSQL: a sequence behind each id."""
    from models import db

    tables = [t for t in db.metadata.sorted_tables
              if len(t.primary_key.columns) == 1 and isinstance(t.primary_key.columns[0].type, sa.Integer)
              and not t.primary_key.columns[0].foreign_keys]
    assert len(tables) >= 15
    with db.engine.connect() as conn:
        for table in tables:
            if backend == "sqlite":
                sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table.name}).scalar()
                assert "AUTOINCREMENT" in sql, table.name
            else:
                assert conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()


def test_every_sqlite_connection_enforces_foreign_keys(app, backend):
    from models import db

    with db.engine.connect() as conn:
        if backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:  # PostgreSQL always does: a row referring to nothing is refused
            conn.execute(sa.text("SELECT 1"))
        try:
            conn.execute(sa.text("INSERT INTO people (partner_id, name, role, travel_margin_minutes, created_at, "
                                 "updated_at) VALUES (999999, 'Personne', 'adviser', 30, :t, :t)"),
                         {"t": datetime.now(UTC).replace(tzinfo=None)})
        except sa.exc.IntegrityError:
            conn.rollback()
        else:
            raise AssertionError("a person of a partner that does not exist was accepted")


def test_upgrading_an_old_sqlite_database_repairs_what_it_left_dangling(tmp_path):
    """A database written before foreign keys were enforced: the upgrade applies each key's ON
    DELETE to the rows that refer to nothing, and new ids start past every id ever used."""
    from flask_migrate import downgrade, upgrade

    path = tmp_path / "old.sqlite3"
    old = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True, "SECRET_KEY": "test",
                      "RATELIMITS": {}})
    with old.app_context():
        from models import db

        upgrade()
        downgrade(revision="5e0c2a7d9b41")  # the schema of before, without AUTOINCREMENT
        db.engine.dispose()

    now = "2026-12-01 09:00:00"
    raw = sqlite3.connect(path)  # foreign keys off, as every connection was then
    raw.executescript(f"""
        INSERT INTO partners (id, slug, name, type, is_spe, created_at, updated_at)
            VALUES (1, 'mission-locale', 'Mission locale', 'mission_locale', 1, '{now}', '{now}');
        INSERT INTO places (id, slug, name, timezone, rooms, refuses_hard_conflicts, created_at, updated_at)
            VALUES (1, 'bij', 'BIJ', 'Europe/Paris', '[]', 0, '{now}', '{now}');
        INSERT INTO events (id, uid, kind, title, description, place_id, visibility, status, employers, walk_in,
                            audience_tags, timezone, start_date, start_time, duration_minutes, frequency, interval,
                            weekdays, skip_public_holidays, starts_at, sequence, created_at, updated_at)
            VALUES (1, 'a@maillage', 'permanence', 'Permanence', '', 1, 'public', 'confirmed', '[]', 1, '[]',
                    'Europe/Paris', '2027-03-01', '14:00:00.000000', 180, 'once', 1, '[]', 1,
                    '2027-03-01 13:00:00.000000', 0, '{now}', '{now}');
        INSERT INTO event_organisers (event_id, partner_id) VALUES (1, 1), (1, 2);
        INSERT INTO users (id, email, name, role, partner_id, is_active_account, created_at) VALUES
            (1, 'editrice@pimms.example.fr', 'Éditrice', 'editor', 2, 1, '{now}');
        INSERT INTO conflicts (id, kind, severity, status, a_event_id, a_recurrence_id, b_event_id, b_recurrence_id,
                               subject, starts_at, ends_at, details, signature, reason, opened_at, updated_at)
            VALUES (1, 'place', 'hard', 'open', 1, 0, 2, 0, 'bij', '{now}', '{now}', '{{}}', '', '', '{now}', '{now}');
        INSERT INTO conflict_notices (id, conflict_id, change, created_at) VALUES (1, 1, 'opened', '{now}');
        INSERT INTO audit_entries (at, action, entity_type, entity_id, changes)
            VALUES ('{now}', 'delete', 'partners', 2, '{{}}'), ('{now}', 'delete', 'events', 2, '{{}}');
    """)
    raw.commit()
    raw.close()

    with old.app_context():
        from models import Event, ScheduleConflict, User, db
        from models.operations.partners import create_partner

        upgrade()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleConflict)) == 0
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM conflict_notices")) == 0
        assert db.session.scalar(sa.select(User.partner_id)) is None
        assert [p.slug for p in db.session.get(Event, 1).organisers] == ["mission-locale"]
        partner = create_partner(SYSTEM, {"slug": "cap-emploi", "name": "Cap emploi", "type": "cap_emploi"})
        db.session.commit()
        assert partner.id == 3  # not 2, the deleted partner's
        assert db.session.scalar(sa.text("PRAGMA foreign_keys")) == 1
        db.session.remove()
        db.engine.dispose()
