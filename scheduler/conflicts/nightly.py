"""The full detection (`flask --app app conflicts detect`, the clock's nightly job), streamed so
that a national calendar fits: about 1.4 million occurrences and 850,000 conflicts.

- The series are read once as rules (`SeriesRule`, light), in chunks of Event rows let go after.
- Detection runs kind by kind over batches of keys — places (place overlaps), people (staff and
  capacity), quartiers (audiences) — each batch expanding only the series that touch its keys
  (`BATCH_SERIES` at most, about as many occurrences as 50 series a week for a year each).
  A staff overlap through several people is found by the batch of the smallest of them and names
  them all (`staff_people`), as the whole-calendar `detect` does.
- Each batch is recorded at once and committed: stored records are looked up by identity; what
  is unchanged (same signature, still open or accepted as it was) is not written at all; new
  conflicts go in with bulk inserts (rows, history, the cases they open); a changed one goes
  through `reconcile` as after a write. No transaction stays open for long, and writers go on.
- At the end, the live records nobody found again are closed, and the cases whose next date has
  begun are counted again (dates pass).

A second run with nothing changed writes nothing. Killed halfway, the batches done are
committed and the next run finishes the reconciliation (every step is by identity).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from models import Event, OccurrenceException, Person, Place, db, utcnow
from models.actor import Actor
from models.conflicts import LIVE_STATUSES, ConflictCase, ScheduleConflict
from models.operations.cases import recount_in_bulk
from scheduler.conflicts.check import competing_audiences, horizon, load_events, person_limits, reconcile
from scheduler.conflicts.detection import DetectionContext, Found, detect, staff_people
from scheduler.conflicts.recording import LOOKUP_CHUNK, insert_new
from scheduler.time.recurrence import SeriesRule, expand, gc_paused, rule_of

log = logging.getLogger("maillage.conflicts")
BATCH_SERIES = 1500  # series expanded at once
EVENT_CHUNK = 2000  # Event rows read at once to make rules
PASSES = (("place", frozenset({"place"})), ("person", frozenset({"staff", "capacity"})),
          ("quartier", frozenset({"audience"})))


@dataclass
class NightlyOutcome:
    """What the run changed, as counts (the records themselves are not kept)."""

    created: int = 0  # new, or true again
    still: int = 0
    ended: int = 0

    @property
    def summary(self) -> str:
        return f"{self.created} nouveau(x) ou rouvert(s), {self.still} toujours vrai(s), {self.ended} clos."


def run_full_detection(now: datetime | None = None, actor: Actor | None = None) -> NightlyOutcome:
    """Detects over the whole calendar and horizon and reconciles every record in it, committing
    batch after batch."""
    start, end = horizon(now)
    db.session.commit()
    rules, audiences = _rules(start, end)
    ctx = _context(audiences)
    outcome = NightlyOutcome()
    seen: set[int] = set()
    capacity_done: set[tuple] = set()  # capacity overlaps recorded by an earlier batch of people
    for subject, kinds in PASSES:
        touching = _keys_of(rules, subject, ctx)
        for keys, batch_rules in _batches(touching, rules):
            with gc_paused():
                occurrences = expand(batch_rules, start, end)
                found = detect(occurrences, ctx, kinds, keys)
            del occurrences
            if subject == "person":
                found = _owned_by_batch(found, ctx, keys, capacity_done)
            _record(found, actor, outcome, seen)
            db.session.commit()
    _close_unseen(start, end, seen, actor, outcome)
    _recount_passing_cases()
    db.session.commit()
    return outcome


def nightly_detection() -> NightlyOutcome:
    """The clock's nightly job: safe to run twice (it reconciles by identity)."""
    outcome = run_full_detection()
    db.session.commit()
    log.info("chevauchements : %s", outcome.summary)
    return outcome


# --- what detection reads ------------------------------------------------------------------------

def _rules(start: datetime, end: datetime) -> tuple[list[SeriesRule], dict]:
    """Every series that may have occurrences in the horizon, as rules, and the audiences of the
    competing ones; Event rows read a chunk at a time and let go."""
    ids = list(db.session.scalars(sa.select(Event.id).where(sa.or_(
        sa.and_(Event.starts_at < end, sa.or_(
            Event.last_date.is_(None), Event.last_date >= (start - timedelta(days=8)).date())),
        Event.id.in_(sa.select(OccurrenceException.event_id)))).order_by(Event.id)))
    rules: list[SeriesRule] = []
    audiences: dict = {}
    for i in range(0, len(ids), EVENT_CHUNK):
        events = load_events(Event.id.in_(ids[i:i + EVENT_CHUNK]), start, end, in_bulk=True)
        rules.extend(rule_of(e) for e in events)
        audiences.update(competing_audiences(events))
        del events  # the session holds clean rows weakly: they go
    return rules, audiences


def _context(audiences: dict) -> DetectionContext:
    margins, limits = person_limits(db.session.execute(
        sa.select(Person.id, Person.travel_margin_minutes, Person.max_concurrent, Person.role)))
    return DetectionContext(
        place_quartier={pid: qid for pid, qid in db.session.execute(
            sa.select(Place.id, Place.quartier_id).where(Place.quartier_id.is_not(None)))},
        audiences=audiences, travel_margin=margins, max_concurrent=limits)


def _keys_of(rules: list[SeriesRule], subject: str, ctx: DetectionContext) -> dict[int, list[int]]:
    """Key (place, person or quartier) -> indexes of the rules whose occurrences may have it."""
    touching: dict[int, list[int]] = {}
    for index, rule in enumerate(rules):
        places = {rule.place_id} | {x.place_id for x in rule.exceptions.values() if x.place_id is not None}
        if subject == "place":
            keys = places
        elif subject == "person":
            keys = set(rule.person_ids)
            for x in rule.exceptions.values():
                keys.update(x.person_ids or ())
        else:
            keys = {ctx.place_quartier.get(p) for p in places} if rule.event_id in ctx.audiences else set()
        for key in keys:
            if key is not None:
                touching.setdefault(key, []).append(index)
    return touching


def _batches(touching: dict[int, list[int]], rules: list[SeriesRule]) -> Iterator[tuple[set[int], list[SeriesRule]]]:
    """Keys in order, grouped while their series stay under BATCH_SERIES (a key with more is a
    batch of its own)."""
    keys: set[int] = set()
    indexes: set[int] = set()
    for key in sorted(touching):
        more = touching[key]
        if keys and len(indexes) + len(more) > BATCH_SERIES:
            yield keys, [rules[i] for i in sorted(indexes)]
            keys, indexes = set(), set()
        keys.add(key)
        indexes.update(more)
    if keys:
        yield keys, [rules[i] for i in sorted(indexes)]


def _owned_by_batch(found: dict[tuple, Found], ctx: DetectionContext, keys: set[int],
                    capacity_done: set[tuple]) -> dict[tuple, Found]:
    """What a batch of people records: a staff overlap names everyone it goes through and belongs
    to the batch of the smallest of them; a capacity overlap through several people, to the first
    batch (the smallest person), as `detect` over the whole calendar has it."""
    kept = {}
    for identity, f in found.items():
        if f.kind == "staff":
            people = staff_people(f.x, f.y, ctx)
            if min(people) not in keys:
                continue
            f.key, f.info = min(people), (people, f.info[1])
        elif f.kind == "capacity":
            if identity in capacity_done:
                continue
            capacity_done.add(identity)
        kept[identity] = f
    return kept


# --- recording a batch --------------------------------------------------------------------------

def _stored(found: dict[tuple, Found]) -> dict[tuple, tuple]:
    """identity -> (id, status, signature, accepted_signature) of the stored records of `found`:
    read by the first side's series (few ids a batch; a query of 5-tuples would cost more to
    send than to run), kept when the identity is one of `found`'s."""
    c = ScheduleConflict
    kinds = sorted({identity[0] for identity in found})
    first_sides = sorted({identity[1] for identity in found})
    stored = {}
    for chunk in _chunks(first_sides):
        for row in db.session.execute(
                sa.select(c.kind, c.a_event_id, c.a_recurrence_id, c.b_event_id, c.b_recurrence_id,
                          c.id, c.status, c.signature, c.accepted_signature)
                .where(c.a_event_id.in_(chunk), c.kind.in_(kinds))):
            identity = tuple(row[:5])
            if identity in found:
                stored[identity] = tuple(row[5:])
    return stored


def _record(found: dict[tuple, Found], actor: Actor | None, outcome: NightlyOutcome, seen: set[int]) -> None:
    stored = _stored(found)
    new: list[Found] = []
    changed: dict[tuple, Found] = {}
    changed_ids = []
    for identity, f in found.items():
        row = stored.get(identity)
        if row is None:
            new.append(f)
            continue
        conflict_id, status, signature, accepted_signature = row
        if signature == f.signature and (status == "open" or (
                status == "accepted" and accepted_signature == signature)):
            seen.add(conflict_id)  # true as recorded: nothing to write
            outcome.still += 1
        else:
            changed[identity] = f
            changed_ids.append(conflict_id)
    if changed:
        existing = list(db.session.scalars(sa.select(ScheduleConflict).where(ScheduleConflict.id.in_(changed_ids))))
        done = reconcile(changed, existing, actor)
        outcome.created += len(done.created)
        outcome.still += len(done.still)
        seen.update(c.id for c in done.created + done.still)
    if new:
        seen.update(insert_new(new, actor))
        outcome.created += len(new)


# --- the end of the run ---------------------------------------------------------------------------

def _close_unseen(start: datetime, end: datetime, seen: set[int], actor: Actor | None,
                  outcome: NightlyOutcome) -> None:
    """Closes the live records in the horizon that no batch found again, a chunk at a time."""
    live = db.session.scalars(sa.select(ScheduleConflict.id).where(
        ScheduleConflict.status.in_(LIVE_STATUSES), ScheduleConflict.ends_at > start,
        ScheduleConflict.starts_at < end))
    gone = [i for i in live if i not in seen]
    for chunk in _chunks(gone):
        existing = list(db.session.scalars(sa.select(ScheduleConflict).where(ScheduleConflict.id.in_(chunk))))
        outcome.ended += len(reconcile({}, existing, actor).ended)
        db.session.commit()


def _recount_passing_cases() -> None:
    """Counts again the cases whose next date has begun since: dates over leave the counts."""
    now = utcnow()
    ids = list(db.session.scalars(sa.select(ConflictCase.id).where(
        ConflictCase.status.in_(LIVE_STATUSES), ConflictCase.next_starts_at <= now)))
    for chunk in _chunks(ids):
        recount_in_bulk(chunk, now)
        db.session.commit()


def _chunks(ids: Iterable[int], size: int = LOOKUP_CHUNK) -> Iterator[list[int]]:
    ordered = list(ids)
    for i in range(0, len(ordered), size):
        yield ordered[i:i + size]
