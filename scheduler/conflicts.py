"""Overlap detection (DESIGN.md, "What counts as an overlap"), on the occurrences of the one
expansion (`scheduler.recurrence.expand`), compared on UTC instants, after exceptions.

- place: two occurrences in one place at once (rooms: only the same room, or a side without one);
- staff: one person in two occurrences at once, or at two places with less than their travel
  margin between the end of one and the start of the other;
- audience: two events of one quartier whose target audiences intersect (age bands overlap and,
  where both have tags, a tag in common), at once. An event that targets no one in particular
  (no age band, no tag) splits no public, and kinds that never compete (coordination meetings,
  setting CONFLICT_NON_COMPETING_KINDS) are left out;
- capacity: a person with a limit of series at once (a sponsor follows at most three young
  people: `Person.max_concurrent`, default 3 for the sponsor role) in more series whose spans
  overlap. A span runs from a series' first to its last occurrence in the horizon.

How it scales: occurrences are sorted once by start and swept; each key (place, person,
quartier) keeps the short list of its occurrences still running, so each occurrence is compared
with the few that overlap it instead of with all the others (`detect_pairwise` is that naive
comparison, kept as the oracle for tests and the benchmark).

Two entry points: `run_full_detection` (the CLI and the nightly job) and `check_event` (after one
write: only the places, people and quartier the event touches, in the windows of its occurrences).
Both reconcile what is true with the stored records (models.conflicts) in the same way.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import Event, OccurrenceException, Person, Place, db, utcnow
from models.conflicts import (DEFAULT_MAX_CONCURRENT, DEFAULT_TRAVEL_MARGIN_MINUTES, LIVE_STATUSES,
                              ScheduleConflict, set_status, severity_of)
from models.events import event_people
from scheduler.recurrence import Occurrence, expand, rule_of

UTC = timezone.utc
HORIZON_DAYS = 365
# A coordination meeting does not split the public of a job dating.
DEFAULT_NON_COMPETING_KINDS = ("coordination",)
SERIES = 0  # recurrence_id of a side that is a whole series (capacity)

Ref = tuple[int, int]  # (event_id, recurrence_id)


@dataclass(frozen=True, slots=True)
class Audience:
    age_min: int | None
    age_max: int | None
    tags: frozenset[str]

    def intersects(self, other: Audience) -> bool:
        lo = max(self.age_min if self.age_min is not None else -1, other.age_min if other.age_min is not None else -1)
        hi = min(self.age_max if self.age_max is not None else 999, other.age_max if other.age_max is not None else 999)
        if lo > hi:
            return False
        return not (self.tags and other.tags) or bool(self.tags & other.tags)


@dataclass
class DetectionContext:
    """What detection needs besides the occurrences, as plain ids (benchmarks build it directly)."""

    place_quartier: dict[int, int] = field(default_factory=dict)  # place id -> quartier id
    audiences: dict[int, Audience] = field(default_factory=dict)  # event id -> audience (competing kinds only)
    travel_margin: dict[int, int] = field(default_factory=dict)  # person id -> seconds
    max_concurrent: dict[int, int] = field(default_factory=dict)  # person id -> series at once
    default_margin: int = DEFAULT_TRAVEL_MARGIN_MINUTES * 60


@dataclass(slots=True)
class Found:
    """A conflict that is true now."""

    kind: str
    a: Ref
    b: Ref
    subject: str
    starts_at: int
    ends_at: int
    details: dict
    signature: str

    @property
    def identity(self) -> tuple:
        return (self.kind, self.a, self.b)


def _state(o: Occurrence) -> str:
    return f"{o.event_id}@{o.recurrence_id}:{o.starts_at}-{o.ends_at}:{o.place_id}:{o.room}:{sorted(o.person_ids)}"


def _signature(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _side(o: Occurrence) -> dict:
    return {"starts_at": o.starts_at, "ends_at": o.ends_at, "place_id": o.place_id, "room": o.room,
            "person_ids": list(o.person_ids)}


def _pair(kind: str, x: Occurrence, y: Occurrence, subject: str, details: dict, extra: str = "") -> Found:
    if (x.event_id, x.recurrence_id) > (y.event_id, y.recurrence_id):
        x, y = y, x
    details["a"], details["b"] = _side(x), _side(y)
    return Found(kind, (x.event_id, x.recurrence_id), (y.event_id, y.recurrence_id), subject,
                 min(x.starts_at, y.starts_at), max(x.ends_at, y.ends_at), details,
                 _signature(kind, _state(x), _state(y), extra))


# --- the rules, one pair at a time (shared by the sweep and the naive oracle) -----------------

def place_clash(x: Occurrence, y: Occurrence) -> Found | None:
    if (x.place_id is not None and x.place_id == y.place_id and x.starts_at < y.ends_at and y.starts_at < x.ends_at
            and (x.room is None or y.room is None or x.room == y.room)):
        room = x.room or y.room
        return _pair("place", x, y, f"place:{x.place_id}", {"place_id": x.place_id, "room": room})
    return None


def staff_clash(x: Occurrence, y: Occurrence, ctx: DetectionContext) -> Found | None:
    shared = set(x.person_ids).intersection(y.person_ids)
    if not shared:
        return None
    clashing, travel = [], False
    for pid in sorted(shared):
        margin = 0 if x.place_id == y.place_id else ctx.travel_margin.get(pid, ctx.default_margin)
        if x.starts_at < y.ends_at + margin and y.starts_at < x.ends_at + margin:
            clashing.append(pid)
            travel = travel or not (x.starts_at < y.ends_at and y.starts_at < x.ends_at)
    if not clashing:
        return None
    return _pair("staff", x, y, f"person:{clashing[0]}", {"person_ids": clashing, "travel": travel})


def audience_clash(x: Occurrence, y: Occurrence, ctx: DetectionContext) -> Found | None:
    quartier = ctx.place_quartier.get(x.place_id)
    if quartier is None or quartier != ctx.place_quartier.get(y.place_id):
        return None
    ax, ay = ctx.audiences.get(x.event_id), ctx.audiences.get(y.event_id)
    if ax is None or ay is None or not (x.starts_at < y.ends_at and y.starts_at < x.ends_at) or not ax.intersects(ay):
        return None
    tags = sorted(ax.tags & ay.tags)
    if (x.event_id, x.recurrence_id) > (y.event_id, y.recurrence_id):
        ax, ay = ay, ax
    canonical = [(a.age_min, a.age_max, sorted(a.tags)) for a in (ax, ay)]
    return _pair("audience", x, y, f"quartier:{quartier}", {"quartier_id": quartier, "tags": tags},
                 extra=repr(canonical))


# --- detection --------------------------------------------------------------------------------

def detect(occurrences: Iterable[Occurrence], ctx: DetectionContext) -> dict[tuple, Found]:
    """Every conflict among the occurrences, keyed by identity. Cancelled occurrences never clash,
    nor do two occurrences of one series."""
    live = [o for o in occurrences if not o.is_cancelled]
    live.sort(key=lambda o: o.starts_at)
    found: dict[tuple, Found] = {}
    by_place: dict[int, list] = {}
    by_person: dict[int, list] = {}
    by_quartier: dict[int, list] = {}
    spans: dict[tuple[int, int], list] = {}  # (person, event) -> [start, end] for capacity
    place_quartier, audiences, margins = ctx.place_quartier, ctx.audiences, ctx.travel_margin
    default_margin, limits = ctx.default_margin, ctx.max_concurrent

    def add(f: Found | None) -> None:
        if f is not None:
            known = found.get(f.identity)
            if known is None:
                found[f.identity] = f
            elif f.kind == "staff":  # the same pair through two people: one conflict naming both
                known.details["person_ids"] = sorted(set(known.details["person_ids"]) | set(f.details["person_ids"]))

    for o in live:
        start = o.starts_at
        if o.place_id is not None:
            active = by_place.get(o.place_id)
            if active is None:
                by_place[o.place_id] = [o]
            else:
                active[:] = [a for a in active if a.ends_at > start]
                for a in active:
                    if a.event_id != o.event_id:
                        add(place_clash(a, o))
                active.append(o)
        for pid in o.person_ids:
            margin = margins.get(pid, default_margin)
            active = by_person.get(pid)
            if active is None:
                by_person[pid] = [o]
            else:
                active[:] = [a for a in active if a.ends_at + margin > start]
                for a in active:
                    if a.event_id != o.event_id:
                        add(staff_clash(a, o, ctx))
                active.append(o)
            if pid in limits:
                span = spans.get((pid, o.event_id))
                if span is None:
                    spans[(pid, o.event_id)] = [start, o.ends_at, o]
                elif o.ends_at > span[1]:
                    span[1] = o.ends_at
        if o.event_id in audiences:
            quartier = place_quartier.get(o.place_id)
            if quartier is not None:
                active = by_quartier.get(quartier)
                if active is None:
                    by_quartier[quartier] = [o]
                else:
                    active[:] = [a for a in active if a.ends_at > start]
                    for a in active:
                        if a.event_id != o.event_id:
                            add(audience_clash(a, o, ctx))
                    active.append(o)
    for f in capacity_conflicts(spans, limits):
        found[f.identity] = f
    return found


def capacity_conflicts(spans: dict[tuple[int, int], list], limits: dict[int, int]) -> list[Found]:
    """For each person with a limit: a series that starts while `limit` others are still running
    is one too many; it clashes with the earliest of them."""
    per_person: dict[int, list] = {}
    for (pid, event_id), (start, end, _) in spans.items():
        per_person.setdefault(pid, []).append((start, end, event_id))
    out = []
    for pid, items in per_person.items():
        limit = limits[pid]
        items.sort()
        active: list[tuple[int, int, int]] = []
        for start, end, event_id in items:
            active = [a for a in active if a[1] > start]
            if len(active) >= limit:
                first = active[0]
                involved = sorted([a[2] for a in active] + [event_id])
                a, b = sorted([(first[2], SERIES), (event_id, SERIES)])
                span_of = {first[2]: first, event_id: (start, end, event_id)}
                sides = {side: {"starts_at": span_of[ref[0]][0], "ends_at": span_of[ref[0]][1], "place_id": None,
                                "room": None, "person_ids": [pid]} for side, ref in (("a", a), ("b", b))}
                out.append(Found(
                    "capacity", a, b, f"person:{pid}", min(first[0], start), max(first[1], end),
                    {"person_id": pid, "limit": limit, "event_ids": involved, "excess_event_id": event_id, **sides},
                    _signature("capacity", str(pid), *(f"{x[2]}:{x[0]}-{x[1]}" for x in active + [(start, end, event_id)]))))
            active.append((start, end, event_id))
    return out


def detect_pairwise(occurrences: Iterable[Occurrence], ctx: DetectionContext) -> dict[tuple, Found]:
    """The naive comparison of every pair (quadratic): the oracle `detect` must agree with."""
    live = [o for o in occurrences if not o.is_cancelled]
    found: dict[tuple, Found] = {}
    spans: dict[tuple[int, int], list] = {}
    for i, x in enumerate(live):
        for y in live[i + 1:]:
            if x.event_id == y.event_id:
                continue
            for f in (place_clash(x, y), staff_clash(x, y, ctx),
                      audience_clash(x, y, ctx) if x.event_id in ctx.audiences else None):
                if f is not None:
                    found[f.identity] = f
    for o in sorted(live, key=lambda o: o.starts_at):
        for pid in o.person_ids:
            if pid in ctx.max_concurrent:
                span = spans.setdefault((pid, o.event_id), [o.starts_at, o.ends_at, o])
                span[1] = max(span[1], o.ends_at)
    for f in capacity_conflicts(spans, ctx.max_concurrent):
        found[f.identity] = f
    return found


# --- from the database ------------------------------------------------------------------------

def horizon(now: datetime | None = None, days: int | None = None) -> tuple[datetime, datetime]:
    """From the start of today (UTC) to `days` ahead (default: twelve months)."""
    now = now or utcnow()
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=days or _setting("CONFLICT_HORIZON_DAYS", HORIZON_DAYS))


def _setting(name: str, default):
    from flask import current_app, has_app_context

    return current_app.config.get(name, default) if has_app_context() else default


def non_competing_kinds() -> set[str]:
    return set(_setting("CONFLICT_NON_COMPETING_KINDS", DEFAULT_NON_COMPETING_KINDS))


def audience_of(event) -> Audience | None:
    """The public an event targets; None for an event open to all, which splits no targeted public."""
    if event.age_min is None and event.age_max is None and not event.audience_tags:
        return None
    return Audience(event.age_min, event.age_max, frozenset(t.casefold() for t in event.audience_tags or []))


def _audiences(events: Iterable[Event]) -> dict[int, Audience]:
    skip = non_competing_kinds()
    return {e.id: a for e in events if e.kind not in skip and (a := audience_of(e)) is not None}


def person_limits(people: Iterable) -> tuple[dict[int, int], dict[int, int]]:
    """Travel margins (seconds) and limits of series at once, of Person rows or models."""
    margins, limits = {}, {}
    for p in people:
        margins[p.id] = (p.travel_margin_minutes if p.travel_margin_minutes is not None
                         else DEFAULT_TRAVEL_MARGIN_MINUTES) * 60
        limit = p.max_concurrent if p.max_concurrent is not None else DEFAULT_MAX_CONCURRENT.get(p.role)
        if limit is not None:
            limits[p.id] = limit
    return margins, limits


def _context(events: Iterable[Event], person_ids: Iterable[int] | None = None) -> DetectionContext:
    q = sa.select(Person.id, Person.travel_margin_minutes, Person.max_concurrent, Person.role)
    if person_ids is not None:
        q = q.where(Person.id.in_(set(person_ids)))
    margins, limits = person_limits(db.session.execute(q))
    return DetectionContext(
        place_quartier={pid: qid for pid, qid in db.session.execute(
            sa.select(Place.id, Place.quartier_id).where(Place.quartier_id.is_not(None)))},
        audiences=_audiences(events),
        travel_margin=margins, max_concurrent=limits)


def _load_events(where, start: datetime, end: datetime) -> list[Event]:
    q = sa.select(Event).where(where, Event.starts_at < end, sa.or_(
        Event.last_date.is_(None), Event.last_date >= (start - timedelta(days=8)).date(),
        Event.id.in_(sa.select(OccurrenceException.event_id)))).options(
        selectinload(Event.people), selectinload(Event.exceptions), selectinload(Event.organisers),
        selectinload(Event.place))
    return list(db.session.scalars(q))


@dataclass
class Outcome:
    """What a reconciliation changed."""

    created: list[ScheduleConflict] = field(default_factory=list)  # new, or true again
    still: list[ScheduleConflict] = field(default_factory=list)
    ended: list[ScheduleConflict] = field(default_factory=list)  # closed or resolved

    @property
    def current(self) -> list[ScheduleConflict]:
        """Hard ones first, then by date."""
        return sorted(self.created + self.still, key=lambda c: (not c.is_hard, c.starts_at, c.id))


def reconcile(found: dict[tuple, Found], existing: Iterable[ScheduleConflict], actor=None,
              resolved_by_action: str | None = None, resolving_ids: set[int] = frozenset()) -> Outcome:
    """Makes the stored records say what `found` says, for the records in scope (`existing`)."""
    outcome = Outcome()
    by_identity = {c.identity: c for c in existing}
    coordinators = None
    from models.users import User

    def coordinator_list():
        nonlocal coordinators
        if coordinators is None:
            coordinators = list(db.session.scalars(sa.select(User).where(
                User.role == "coordinator", User.is_active_account.is_(True)).options(selectinload(User.quartiers))))
        return coordinators

    for identity, f in found.items():
        conflict = by_identity.pop(identity, None)
        if conflict is None:
            conflict = ScheduleConflict(
                kind=f.kind, severity=severity_of(f.kind), status="open", a_event_id=f.a[0],
                a_recurrence_id=f.a[1], b_event_id=f.b[0], b_recurrence_id=f.b[1])
            _refresh(conflict, f)
            db.session.add(conflict)
            db.session.flush()
            set_status(actor, conflict, "open", "open", coordinators=coordinator_list())
            outcome.created.append(conflict)
            continue
        changed = conflict.signature != f.signature
        _refresh(conflict, f)
        if conflict.status == "accepted" and conflict.accepted_signature != f.signature:
            set_status(actor, conflict, "open", "reopen", coordinators=coordinator_list())
            outcome.created.append(conflict)
        elif conflict.status in ("resolved", "closed"):
            set_status(actor, conflict, "open", "reopen", coordinators=coordinator_list())
            outcome.created.append(conflict)
        else:
            if changed:
                conflict.updated_at = utcnow()
            outcome.still.append(conflict)
    for conflict in by_identity.values():
        if conflict.status not in LIVE_STATUSES:
            continue
        if resolved_by_action and conflict.id in resolving_ids:
            set_status(actor, conflict, "resolved", "resolve", resolved_by_action, coordinators=coordinator_list())
        else:
            set_status(actor, conflict, "closed", "close", coordinators=coordinator_list())
        outcome.ended.append(conflict)
    db.session.flush()
    return outcome


def _refresh(conflict: ScheduleConflict, f: Found) -> None:
    conflict.subject = f.subject
    conflict.starts_at = datetime.fromtimestamp(f.starts_at, UTC)
    conflict.ends_at = datetime.fromtimestamp(f.ends_at, UTC)
    conflict.details = f.details
    conflict.signature = f.signature


def _in_horizon(q, start: datetime, end: datetime):
    return q.where(ScheduleConflict.ends_at > start, ScheduleConflict.starts_at < end)


def run_full_detection(now: datetime | None = None, actor=None) -> Outcome:
    """Detects over the whole calendar and horizon, and reconciles every record in it."""
    start, end = horizon(now)
    events = _load_events(sa.true(), start, end)
    occurrences = expand([rule_of(e) for e in events], start, end)
    found = detect(occurrences, _context(events))
    existing = db.session.scalars(_in_horizon(sa.select(ScheduleConflict), start, end))
    return reconcile(found, existing, actor)


def person_ids_of(event: Event) -> set[int]:
    """Everyone an event books, its series' people and those of its moved occurrences."""
    ids = {p.id for p in event.people}
    for x in event.exceptions:
        ids.update(x.person_ids or ())
    return ids


def check_event(event: Event, actor=None, now: datetime | None = None, previous_person_ids: Iterable[int] = (),
                resolved_by_action: str | None = None, resolving_ids: set[int] = frozenset()) -> Outcome:
    """After one write to `event` (flushed, not committed): its conflicts, against only the events
    that share a place, a person or (for the audience) its quartier, near its occurrences."""
    start, end = horizon(now)
    own = [o for o in expand([rule_of(event)], start, end)] if event.id is not None else []
    live = [o for o in own if not o.is_cancelled]
    place_ids = {o.place_id for o in own} | {event.place_id}
    person_ids = set().union(*(o.person_ids for o in own)) if own else set()
    person_ids |= person_ids_of(event)
    scope_people = person_ids | set(previous_person_ids)
    ctx = _context([event], scope_people)
    quartiers = {ctx.place_quartier[p] for p in place_ids if p in ctx.place_quartier}

    limited = {pid for pid in scope_people if pid in ctx.max_concurrent}
    sharing = []
    if live:
        sharing += [Event.place_id.in_(place_ids), Event.id.in_(
            sa.select(OccurrenceException.event_id).where(OccurrenceException.place_id.in_(place_ids)))]
        if quartiers and event.kind not in non_competing_kinds():
            sharing.append(Event.place_id.in_(sa.select(Place.id).where(Place.quartier_id.in_(quartiers))))
    if scope_people:
        sharing.append(Event.id.in_(sa.select(event_people.c.event_id).where(
            event_people.c.person_id.in_(scope_people))))
        sharing.append(Event.id.in_(sa.select(OccurrenceException.event_id).where(
            OccurrenceException.person_ids.is_not(None))))
    others = _load_events(sa.and_(Event.id != event.id, sa.or_(*sharing)), start, end) if sharing else []
    ctx.audiences.update(_audiences(others))
    # Capacity compares whole spans: the series of people with a limit are expanded over the
    # horizon; the others only near the event's own occurrences.
    wide = [e for e in others if limited & person_ids_of(e)]
    narrow = [e for e in others if not (limited & person_ids_of(e))]
    occurrences = live + expand([rule_of(e) for e in wide], start, end)
    if live and narrow:
        lo = max(start, datetime.fromtimestamp(min(o.starts_at for o in live) - 86400, UTC))
        hi = min(end, datetime.fromtimestamp(max(o.ends_at for o in live) + 86400, UTC))
        occurrences += expand([rule_of(e) for e in narrow], lo, hi)
    subjects = {f"person:{p}" for p in limited}
    found = {k: f for k, f in detect(occurrences, ctx).items()
             if f.a[0] == event.id or f.b[0] == event.id or (f.kind == "capacity" and f.subject in subjects)}
    scope = sa.or_(ScheduleConflict.a_event_id == event.id, ScheduleConflict.b_event_id == event.id)
    if scope_people:
        scope = sa.or_(scope, sa.and_(ScheduleConflict.kind == "capacity",
                                      ScheduleConflict.subject.in_([f"person:{p}" for p in scope_people])))
    existing = db.session.scalars(_in_horizon(sa.select(ScheduleConflict).where(scope), start, end))
    return reconcile(found, existing, actor, resolved_by_action, resolving_ids)
