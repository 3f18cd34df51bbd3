"""A backup taken while the service writes restores: `flask export` reads the database as one
moment (PostgreSQL: a REPEATABLE READ snapshot; SQLite: one read transaction), so no row in the
file points at a row the file lacks."""
from __future__ import annotations

import json
import threading
import time

import sqlalchemy as sa

from helpers.actors import SYSTEM
from helpers.backup import new_database, run
from models import Event, db


class Writer(threading.Thread):
    """Another process's writes, in a thread with its own app context, session and connection:
    events created with their organisers and deleted again, each write committed at once."""

    def __init__(self, app, place_slug: str, partner_slug: str):
        super().__init__(daemon=True)
        self.app, self.place, self.partner = app, place_slug, partner_slug
        self.commits = 0
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def run(self):
        from datetime import time as clock_time

        from helpers.dates import quiet_monday
        from scheduler.writes import EventWrites, delete_event

        try:
            with self.app.app_context():
                n = 0
                while not self.stop.is_set():
                    n += 1
                    event = EventWrites(SYSTEM).create({
                        "title": f"Atelier CV n° {n}", "kind": "atelier", "place": self.place,
                        "organisers": [self.partner], "start_date": quiet_monday(),
                        "start_time": clock_time(9), "duration_minutes": 60})
                    db.session.commit()
                    self.commits += 1
                    if n % 2 == 0:  # deletions too: children whose parent went after its table was read
                        delete_event(SYSTEM, event)
                        db.session.commit()
                        self.commits += 1
                db.session.remove()
        except BaseException as error:  # reported by the test
            self.failure = error


def _orphans(app) -> list[str]:
    """Every foreign key of the restored database whose row points at nothing."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for fk in table.foreign_key_constraints:
                child = [table.c[c.name] for c in fk.columns]
                parent = [fk.referred_table.c[e.column.name] for e in fk.elements]
                joined = table.outerjoin(fk.referred_table, sa.and_(*(c == p for c, p in zip(child, parent))))
                missing = db.session.scalar(sa.select(sa.func.count()).select_from(joined).where(
                    sa.and_(*(c.is_not(None) for c in child)), parent[0].is_(None)))
                if missing:
                    found.append(f"{table.name}.{','.join(c.name for c in child)}: {missing}")
    return found


def test_an_export_taken_while_a_writer_writes_restores_with_every_foreign_key_holding(
        app, backend, tmp_path, create_partner, create_quartier, create_place, create_event):
    quartier = create_quartier()
    partner = create_partner("mission-locale-sud")
    place = create_place("bij-echirolles", quartier=quartier.code)
    for n in range(5):
        create_event(place, [partner], title=f"Permanence n° {n}")

    writer = Writer(app, place.slug, partner.slug)
    started_reading = {}

    def between_tables(conn, cursor, statement, parameters, context, executemany):
        """The export's reads, in order: once it has read `events`, and before it reads
        `event_organisers`, the writer commits more events with their organisers (and deletes
        some). Where the database lets it: SQLite's writers wait while a read transaction is open."""
        if threading.current_thread() is writer or not statement.lstrip().upper().startswith("SELECT"):
            return
        if "FROM events" in statement and "events" not in started_reading:
            started_reading["events"] = writer.commits
        if "FROM event_organisers" in statement and "event_organisers" not in started_reading:
            started_reading["event_organisers"] = writer.commits
            deadline = time.monotonic() + 3
            while writer.commits < started_reading["events"] + 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            started_reading["written_meanwhile"] = writer.commits - started_reading["events"]

    path = tmp_path / "pendant.json"
    writer.start()
    while writer.commits < 2:  # writing before the export starts, and during it
        time.sleep(0.01)
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", between_tables)
    try:
        code, output = run(app, "export", str(path))
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", between_tables)
        writer.stop.set()
        writer.join(30)
    assert writer.failure is None, writer.failure
    assert code == 0, output
    assert {"events", "event_organisers"} <= set(started_reading)
    if backend == "postgresql":  # a snapshot holds no writer back: they committed during the export
        assert started_reading["written_meanwhile"] >= 4, started_reading

    data = json.loads(path.read_text(encoding="utf-8"))
    with new_database(backend, tmp_path) as restored:
        code, output = run(restored, "import", str(path))
        assert code == 0 and "Import terminé" in output, output
        assert _orphans(restored) == []
        with restored.app_context():
            restored_events = db.session.scalar(sa.select(sa.func.count(Event.id)))
        assert restored_events == len(data["tables"]["events"]["rows"]) >= 5
