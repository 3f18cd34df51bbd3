"""The nightly detection streamed in batches (scheduler/conflicts/nightly.py): in the smallest
batches (one place, one add_person, one quartier at a time) it stores exactly what detecting over the
whole calendar at once finds, a staff overlap through two people in different batches included;
a second run with nothing changed writes nothing; a change closes and opens what it should."""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from helpers.actors import SYSTEM
from helpers.conflicts import MONDAY


@pytest.fixture
def calendar(overlap_area, create_event, add_person):
    """About thirty series sharing places, rooms, people (two people often together) and publics,
    some occurrences moved in time, to another place or to other people."""
    from models import db
    from scheduler import writes as series
    from scheduler.time.recurrence import expand, rule_of

    t = overlap_area
    rng = random.Random(21)
    people = [add_person(t["cs"], name=f"Personne {n}", role=role)
              for n, role in enumerate(["adviser", "adviser", "interpreter", "sponsor", "sponsor", "adviser"])]
    timing = [dict(frequency="weekly"), dict(frequency="weekly", interval=2), dict(frequency="once"),
              dict(frequency="monthly", month_week=2)]
    events = []
    for n in range(30):
        age_min, age_max, tags = rng.choice([(None, None, []), (16, 25, []), (18, 30, ["femmes"])])
        booked = rng.choice([[], [people[0].id, people[5].id], [people[rng.randrange(6)].id],
                             [people[3].id, people[4].id]])
        events.append(create_event(
            rng.choice([t["hall"], t["bij"], t["far"]]), [rng.choice([t["ml"], t["ft"], t["cs"]])],
            title=f"Série {n}", kind=rng.choice(["permanence", "atelier", "job_dating"]),
            start_date=MONDAY + timedelta(days=rng.randrange(14)), start_time=rng.choice(["09:00", "10:00"]),
            duration_minutes=rng.choice([60, 120]), room=rng.choice([None, "Grande salle"]), people=booked,
            age_min=age_min, age_max=age_max, audience_tags=tags, count=rng.randrange(2, 6), **rng.choice(timing)))
    now = datetime.now(UTC)
    for event in rng.sample(events, 8):
        occurrence = rng.choice(expand([rule_of(event)], now, now + timedelta(days=365)))
        change = rng.choice([dict(place=t["far"].slug), dict(person_ids=[people[1].id, people[2].id])])
        series.move_occurrence(SYSTEM, event, occurrence.recurrence_start, **change)
    db.session.commit()
    return {"events": events, "now": now, "people": people}


def whole_calendar(now: datetime) -> dict:
    """identity -> (subject, details, signature), detected over every series at once."""
    found = whole_calendar_found(now)
    return {k: (f.subject, json.loads(json.dumps(f.details)), f.signature) for k, f in found.items()}


def whole_calendar_found(now: datetime) -> dict:
    """identity -> Found, detected over every series at once."""
    from models import Event, Person, Place, db
    from scheduler.conflicts.check import competing_audiences, horizon, person_limits
    from scheduler.conflicts.detection import DetectionContext, detect
    from scheduler.time.recurrence import expand, rule_of

    events = list(db.session.scalars(sa.select(Event)))
    margins, limits = person_limits(db.session.scalars(sa.select(Person)))
    ctx = DetectionContext(
        place_quartier={p.id: p.quartier_id for p in db.session.scalars(sa.select(Place))},
        audiences=competing_audiences(events), travel_margin=margins, max_concurrent=limits)
    return detect(expand([rule_of(e) for e in events], *horizon(now)), ctx)


def stored() -> dict:
    from models import ScheduleConflict, db

    return {c.identity: (c.subject, c.details, c.signature) for c in db.session.scalars(
        sa.select(ScheduleConflict).where(ScheduleConflict.status.in_(["open", "accepted"])))}


def detect_nightly(now: datetime):
    from models import db
    from scheduler.conflicts.nightly import run_full_detection

    outcome = run_full_detection(now)
    db.session.commit()
    db.session.expire_all()
    return outcome


def writes_during(work) -> list[str]:
    """The INSERT, UPDATE and DELETE statements the database gets while `work()` runs."""
    from models import db

    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return seen


def test_the_nightly_run_in_the_smallest_batches_stores_what_the_whole_calendar_gives(calendar, monkeypatch):
    from scheduler.conflicts import nightly

    monkeypatch.setattr(nightly, "BATCH_SERIES", 1)  # each place, add_person, quartier a batch of its own
    outcome = detect_nightly(calendar["now"])
    expected = whole_calendar(calendar["now"])
    assert {identity[0] for identity in expected} == {"place", "staff", "audience", "capacity"}
    assert any(len(details["person_ids"]) == 2 for subject, details, _ in expected.values()
               if subject.startswith("person:") and "person_ids" in details), "a pair through two people"
    assert stored() == expected
    assert (outcome.created + outcome.still, outcome.ended) == (len(expected), 0)  # the writes checked some


def test_a_second_run_with_nothing_changed_writes_nothing_and_a_change_is_reconciled(calendar, monkeypatch):
    from models import ConflictCase, Event, ScheduleConflict, db
    from models.audit import AuditEntry
    from scheduler.conflicts import nightly

    monkeypatch.setattr(nightly, "BATCH_SERIES", 3)
    now = calendar["now"]
    first = detect_nightly(now)
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(m))
              for m in (ScheduleConflict, ConflictCase, AuditEntry)]
    outcomes = []
    assert writes_during(lambda: outcomes.append(detect_nightly(now))) == []
    assert (outcomes[0].created, outcomes[0].still, outcomes[0].ended) == (0, first.created + first.still, 0)
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (ScheduleConflict, ConflictCase, AuditEntry)] == counts

    # One series cancelled behind the writes' back (no check ran): the nightly run closes its
    # conflicts and leaves the others as they were.
    victim = next(e for e in calendar["events"] if any(e.id in (k[1], k[3]) for k in stored()))
    db.session.execute(sa.update(Event).where(Event.id == victim.id).values(status="cancelled"))
    db.session.commit()
    before = stored()
    third = detect_nightly(now)
    after = stored()
    assert after == whole_calendar(now)
    assert third.ended == len(set(before) - set(after)) > 0 and third.created == 0
    assert all(victim.id not in (k[1], k[3]) for k in after)


def _records() -> dict:
    """Everything detection writes, by identity (ids and instants of writing left out): the
    dates, their cases, their history lines and the cases' notices."""
    from models import ConflictCase, ConflictNotice, ScheduleConflict, db
    from models.audit import AuditEntry

    cases = {c.id: c.identity for c in db.session.scalars(sa.select(ConflictCase))}
    conflicts = {c.id: c for c in db.session.scalars(sa.select(ScheduleConflict))}
    return {
        "conflicts": {c.identity: (c.severity, c.status, c.subject, c.starts_at, c.ends_at, c.details, c.signature,
                                   c.accepted_signature, c.reason, c.closed_at is None, cases.get(c.case_id))
                      for c in conflicts.values()},
        "cases": {c.identity: (c.severity, c.status, c.open_count, c.accepted_count, c.ended_count,
                               c.first_starts_at, c.last_ends_at, c.next_starts_at, c.closed_at is None, c.reason)
                  for c in db.session.scalars(sa.select(ConflictCase))},
        "history": sorted((conflicts[e.entity_id].identity, e.action, json.dumps(e.changes, sort_keys=True))
                          for e in db.session.scalars(sa.select(AuditEntry).where(
                              AuditEntry.entity_type == "conflicts"))),
        "notices": sorted((cases[n.case_id], n.change, n.partner_id or 0, n.user_id or 0, n.sent_at is None)
                          for n in db.session.scalars(sa.select(ConflictNotice))),
    }


def _forget_records() -> None:
    from models import ConflictCase, ConflictNotice, ScheduleConflict, db
    from models.audit import AuditEntry

    for model in (ConflictNotice, ScheduleConflict, ConflictCase):
        db.session.execute(sa.delete(model))
    db.session.execute(sa.delete(AuditEntry).where(AuditEntry.entity_type == "conflicts"))
    db.session.commit()


def _reconciled_whole(now: datetime) -> None:
    """The records as one reconciliation of the whole calendar writes them (`reconcile`, the
    code of every write's check), in one transaction: what the batches must write too."""
    from models import ScheduleConflict, db
    from scheduler.conflicts.check import horizon, reconcile

    start, end = horizon(now)
    found = whole_calendar_found(now)
    existing = list(db.session.scalars(sa.select(ScheduleConflict).where(
        ScheduleConflict.ends_at > start, ScheduleConflict.starts_at < end)))
    reconcile(found, existing, None)
    db.session.commit()
    db.session.expire_all()


def test_the_batches_write_the_records_one_whole_reconciliation_writes(calendar, token_for, monkeypatch):
    """Dates, cases, history and notices (to partners and to the coordinators of the places: one
    national, one of a quartier) as `reconcile` over the whole calendar writes them, on a first
    run, after a series is cancelled behind the writes' back (dates and cases closed) and after it
    comes back (reopened)."""
    from models import Event, Quartier, db
    from scheduler.conflicts import nightly

    monkeypatch.setattr(nightly, "BATCH_SERIES", 2)
    token_for("national@example.fr", "coordinator")
    token_for("quartier@example.fr", "coordinator",
              quartiers=[db.session.scalar(sa.select(Quartier).where(Quartier.code == "QN03802M"))])
    now = calendar["now"]
    victim = max(calendar["events"], key=lambda e: sum(e.id in (k[1], k[3]) for k in whole_calendar_found(now)))

    def set_status(status: str) -> None:
        db.session.execute(sa.update(Event).where(Event.id == victim.id).values(status=status))
        db.session.commit()

    def three_runs(run) -> list[dict]:
        seen = []
        for status in ("confirmed", "cancelled", "confirmed"):
            set_status(status)
            run(now)
            seen.append(_records())
        return seen

    _forget_records()  # the fixture's writes recorded some (before the coordinators existed)
    expected = three_runs(_reconciled_whole)
    _forget_records()
    got = three_runs(detect_nightly)
    assert [len(r["notices"]) for r in expected] == [len(r["notices"]) for r in got]
    assert any(n[3] for n in expected[0]["notices"]), "coordinators are told too"
    assert {c[1] for c in expected[1]["cases"].values()} >= {"closed", "open"}
    assert {h[1] for h in expected[2]["history"]} == {"open", "close", "reopen"}
    for want, have in zip(expected, got, strict=True):
        for part in want:
            assert have[part] == want[part], part
