"""An import writes its new events in bulk (`EventWrites.check_new` + `create_many`: one flush,
one bulk insert of their history): what it leaves must be what as many single writes through
the same write path leave — each event's row, exceptions and history lines, the overlaps and
their cases, the scopes whose versions rise — and a second import of the same file, nothing."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from helpers.dates import next_working_monday


@pytest.fixture
def setting(create_partner, create_quartier, create_place):
    from models import db
    from models.operations.users import get_or_create_user

    ml = create_partner("mission-locale-sud", name="Mission locale Sud-Isère")
    create_quartier()
    create_place("bij-echirolles", name="BIJ d'Échirolles", quartier="QN03801M")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve", quartier="QN03801M")
    editor = get_or_create_user("conseillere@example.fr", "editor", ml)
    db.session.commit()
    return {"ml": ml, "editor": editor}


def _file() -> bytes:
    """Series that overlap at the BIJ (one with a cancelled date and a moved one), single events
    over them, a workshop at the PIMMS: every kind of write an import makes of new events."""
    monday = next_working_monday()
    day, moved = f"{monday:%Y%m%d}", f"{monday + timedelta(weeks=4):%Y%m%d}"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Maillage tests//import en bloc//FR",
             "BEGIN:VEVENT", "UID:serie-a@bloc", "DTSTAMP:20261201T090000Z", "SUMMARY:Permanence A",
             "LOCATION:BIJ d'Échirolles", f"DTSTART;TZID=Europe/Paris:{day}T140000",
             f"DTEND;TZID=Europe/Paris:{day}T160000", "RRULE:FREQ=WEEKLY;COUNT=12",
             f"EXDATE;TZID=Europe/Paris:{monday + timedelta(weeks=2):%Y%m%d}T140000", "END:VEVENT",
             "BEGIN:VEVENT", "UID:serie-a@bloc", "DTSTAMP:20261201T090000Z", "SUMMARY:Permanence A",
             "LOCATION:BIJ d'Échirolles", f"RECURRENCE-ID;TZID=Europe/Paris:{moved}T140000",
             f"DTSTART;TZID=Europe/Paris:{moved}T170000", f"DTEND;TZID=Europe/Paris:{moved}T180000", "END:VEVENT",
             "BEGIN:VEVENT", "UID:serie-b@bloc", "DTSTAMP:20261201T090000Z", "SUMMARY:Permanence B",
             "LOCATION:BIJ d'Échirolles", f"DTSTART;TZID=Europe/Paris:{day}T150000",
             f"DTEND;TZID=Europe/Paris:{day}T170000", "RRULE:FREQ=WEEKLY;COUNT=6", "END:VEVENT"]
    for n in range(8):
        when = monday + timedelta(weeks=n)
        lines += ["BEGIN:VEVENT", f"UID:seance-{n}@bloc", "DTSTAMP:20261201T090000Z", f"SUMMARY:Séance {n}",
                  "LOCATION:BIJ d'Échirolles" if n % 2 else "LOCATION:PIMMS Villeneuve",
                  f"DTSTART;TZID=Europe/Paris:{when:%Y%m%d}T143000", f"DTEND;TZID=Europe/Paris:{when:%Y%m%d}T153000",
                  "END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def _plan(setting):
    from models.operations.territory import place_by_slug
    from scheduler.ical.parse_csv import parse_file
    from scheduler.ical.planned import ImportOptions

    options = ImportOptions(partner=setting["ml"], place=place_by_slug("bij-echirolles"))
    return parse_file("bloc.ics", _file(), options), options


class _Scopes:
    """The scopes whose versions a commit raised (models/versions.py tells its listeners)."""

    def __init__(self):
        self.raised: list[set[str]] = []

    def __call__(self, scopes):
        self.raised.append(set(scopes))


@pytest.fixture
def scopes():
    from models.versions import COMMITTED_SCOPES_LISTENERS

    listener = _Scopes()
    COMMITTED_SCOPES_LISTENERS.append(listener)
    yield listener
    COMMITTED_SCOPES_LISTENERS.remove(listener)


def _state(uids: list[str], raised: set[str]) -> dict:
    """What the writes left, event ids replaced by UIDs (two runs give their events other ids)."""
    from models import AuditEntry, ConflictCase, Event, ScheduleConflict, db

    db.session.expire_all()
    events = {e.uid: e for e in db.session.scalars(sa.select(Event).where(Event.uid.in_(uids)))}
    uid_of = {e.id: uid for uid, e in events.items()}
    columns = [c.key for c in Event.__table__.columns if c.key not in ("id", "created_at", "updated_at")]
    conflicts = list(db.session.scalars(sa.select(ScheduleConflict).where(ScheduleConflict.a_event_id.in_(uid_of))))
    cases = db.session.scalars(sa.select(ConflictCase).where(ConflictCase.a_event_id.in_(uid_of)))
    return {
        "events": {uid: ({c: getattr(e, c) for c in columns}, [p.slug for p in e.organisers],
                         [p.id for p in e.people],
                         [(x.recurrence_start, x.is_cancelled, x.starts_at, x.duration_minutes, x.sequence)
                          for x in e.exceptions]) for uid, e in events.items()},
        "history": sorted((uid_of[a.entity_id], a.action, a.user_id, json.dumps(a.changes, sort_keys=True))
                          for a in db.session.scalars(sa.select(AuditEntry).where(
                              AuditEntry.entity_type == "events", AuditEntry.entity_id.in_(uid_of)))),
        "conflicts": sorted((c.kind, c.severity, c.status, c.subject, c.starts_at, c.ends_at, uid_of[c.a_event_id],
                             c.a_recurrence_id, uid_of[c.b_event_id], c.b_recurrence_id) for c in conflicts),
        "conflict_history": sorted((a.action, json.dumps(a.changes)) for a in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.entity_type == "conflicts",
                                        AuditEntry.entity_id.in_([c.id for c in conflicts])))),
        "cases": sorted((c.kind, c.status, uid_of[c.a_event_id], uid_of[c.b_event_id], c.open_count) for c in cases),
        "scopes": {f"event:{uid_of[int(s.split(':')[1])]}" if s.startswith("event:") else s for s in raised},
    }


def _one_at_a_time(setting, plan, options) -> None:
    """The import's writes as they were made before the bulk path: each new event created alone,
    then its exceptions, one batch checked at the end."""
    from scheduler.writes import EventWrites

    writes = EventWrites(setting["editor"], refuse=False, tell_whole_events=True, new_in_bulk=True)
    for planned in plan:
        values = {**planned.values, "place": planned.values["place"].slug}
        event = writes.create({**values, "uid": planned.uid, "source": options.source,
                               "organisers": [options.partner.slug]})
        for x in planned.exceptions:
            if x.is_cancelled:
                writes.set_exception(event, x.recurrence_start, {"is_cancelled": True, "starts_at": None,
                                                                 "duration_minutes": None}, "cancel_occurrence")
            else:
                writes.set_exception(event, x.recurrence_start, {"is_cancelled": False, "starts_at": x.starts_at,
                                                                 "duration_minutes": x.duration_minutes},
                                     "move_occurrence")
    writes.finish()


def test_an_import_in_bulk_leaves_what_as_many_single_writes_leave(app, setting, scopes):
    from models import Event, db
    from scheduler.ical.imports import apply_plan
    from scheduler.writes import delete_events

    plan, options = _plan(setting)
    uids = [p.uid for p in plan]
    assert len(plan) == 10 and sum(len(p.exceptions) for p in plan) == 2
    touched = apply_plan(setting["editor"], plan, options)
    assert [e.uid for e in touched] == uids, "the events touched, in the file's order"
    db.session.commit()
    in_bulk = _state(uids, scopes.raised[-1])

    delete_events(setting["editor"], list(db.session.scalars(sa.select(Event))))
    db.session.commit()
    plan, options = _plan(setting)
    _one_at_a_time(setting, plan, options)
    db.session.commit()
    one_by_one = _state(uids, scopes.raised[-1])

    assert in_bulk["conflicts"] and in_bulk["cases"], "the file overlaps itself at the BIJ"
    assert sum(1 for h in in_bulk["history"] if h[1] == "create") == 10
    assert {h[1] for h in in_bulk["history"]} == {"create", "cancel_occurrence", "move_occurrence"}
    assert {"events", "place:bij-echirolles", "place:pimms-villeneuve", "quartier:QN03801M",
            "partner:mission-locale-sud", "event:serie-a@bloc"} <= in_bulk["scopes"]
    for key in ("events", "history", "conflicts", "conflict_history", "cases", "scopes"):
        assert in_bulk[key] == one_by_one[key], key


def test_importing_the_same_file_again_writes_nothing_and_raises_no_version(app, setting, scopes):
    from models import AuditEntry, ScheduleConflict, db
    from scheduler.ical.imports import apply_plan

    plan, options = _plan(setting)
    apply_plan(setting["editor"], plan, options)
    db.session.commit()
    uids = [p.uid for p in plan]
    before = _state(uids, set())
    lines = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    conflicts = db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id)))
    raised = len(scopes.raised)

    plan, options = _plan(setting)
    assert apply_plan(setting["editor"], plan, options) == []
    db.session.commit()
    assert len(scopes.raised) == raised, "no version raised: every feed and page stays cached"
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == lines
    assert db.session.scalar(sa.select(sa.func.count(ScheduleConflict.id))) == conflicts
    assert _state(uids, set()) == before


def test_a_new_event_refused_by_its_checks_refuses_the_file_at_its_line_and_nothing_is_written(
        app, setting, scopes):
    from models import AuditEntry, Event, ScheduleConflict, db
    from scheduler.ical.imports import apply_plan
    from scheduler.ical.planned import ImportRefused

    counts = {m: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Event, AuditEntry,
                                                                                       ScheduleConflict)}
    raised = len(scopes.raised)
    plan, options = _plan(setting)
    # What the file's reader lets through and the write path refuses: checked with the others
    # before any of them is stored.
    plan[-2].values["age_min"], plan[-2].values["age_max"] = 26, 16
    with pytest.raises(ImportRefused) as refused:
        apply_plan(setting["editor"], plan, options)
    db.session.rollback()
    assert [(e.line, e.component) for e in refused.value.located] == [(plan[-2].line, plan[-2].component)]
    assert "âge maximum" in str(refused.value.located[0])
    assert {m: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in counts} == counts
    assert counts[Event] == 0 and len(scopes.raised) == raised
