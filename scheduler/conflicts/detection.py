"""Overlap detection (DESIGN.md, "What counts as an overlap"), on the occurrences of the one
expansion (`scheduler.time.recurrence.expand`), compared on UTC instants, after exceptions.

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

Two entry points: `run_full_detection` (scheduler/conflicts/nightly.py: the CLI and the nightly
job, batch by batch) and `check_event` (after one write: only the places, people and quartier the
event touches, in the windows of its occurrences). Both reconcile what is true with the stored
records (models.conflicts) in the same way.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from operator import attrgetter

from models.conflicts import DEFAULT_TRAVEL_MARGIN_MINUTES
from scheduler.time.recurrence import Occurrence

HORIZON_DAYS = 365
# A coordination meeting does not split the public of a job dating.
DEFAULT_NON_COMPETING_KINDS = ("coordination",)
SERIES = 0  # recurrence_id of a side that is a whole series (capacity)

Ref = tuple[int, int]  # (event_id, recurrence_id)
# A conflict's identity: (kind, a event id, a recurrence id, b event id, b recurrence id), a < b.


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

    # place id -> quartier id; an occurrence without a place (None) is in no quartier
    place_quartier: dict[int | None, int | None] = field(default_factory=dict)
    audiences: dict[int, Audience] = field(default_factory=dict)  # event id -> audience (competing kinds only)
    travel_margin: dict[int, int] = field(default_factory=dict)  # person id -> seconds
    max_concurrent: dict[int, int] = field(default_factory=dict)  # person id -> series at once
    default_margin: int = DEFAULT_TRAVEL_MARGIN_MINUTES * 60


class Found:
    """A conflict that is true now: its kind and two sides (each an Occurrence; for capacity, a
    whole series as a pseudo-occurrence spanning its first to its last date). What records keep
    (details, signature) is built only when asked: a national run finds many."""

    __slots__ = ("info", "key", "kind", "x", "y")

    def __init__(self, kind: str, x: Occurrence, y: Occurrence, key: int, info=None):
        # x is the side of the smaller (event id, recurrence id): callers order them.
        self.kind, self.x, self.y, self.key, self.info = kind, x, y, key, info


    @property
    def a(self) -> Ref:
        return (self.x.event_id, self.x.recurrence_id)

    @property
    def b(self) -> Ref:
        return (self.y.event_id, self.y.recurrence_id)

    @property
    def identity(self) -> tuple:
        return (self.kind, self.x.event_id, self.x.recurrence_id, self.y.event_id, self.y.recurrence_id)

    @property
    def subject(self) -> str:
        return f"{SUBJECTS[self.kind]}:{self.key}"

    @property
    def starts_at(self) -> int:
        return min(self.x.starts_at, self.y.starts_at)

    @property
    def ends_at(self) -> int:
        return max(self.x.ends_at, self.y.ends_at)

    @property
    def details(self) -> dict:
        kind, info = self.kind, self.info
        if kind == "place":
            details = {"place_id": self.key, "room": info}
        elif kind == "staff":
            details = {"person_ids": sorted(info[0]), "travel": info[1]}
        elif kind == "audience":
            details = {"quartier_id": self.key,
                       "tags": sorted(info[self.x.event_id].tags & info[self.y.event_id].tags)}
        else:
            details = dict(info)
        details["a"], details["b"] = _side(self.x), _side(self.y)
        return details

    @property
    def signature(self) -> str:
        """The state of both sides: a change of it reopens an accepted conflict."""
        extra = ""
        if self.kind == "audience":
            extra = repr([(a.age_min, a.age_max, sorted(a.tags))
                          for a in (self.info[self.x.event_id], self.info[self.y.event_id])])
        elif self.kind == "capacity":
            extra = self.info["spans"]
        return _signature(self.kind, _state(self.x), _state(self.y), extra)


def _ordered(x: Occurrence, y: Occurrence) -> tuple[Occurrence, Occurrence]:
    return (y, x) if (x.event_id, x.recurrence_id) > (y.event_id, y.recurrence_id) else (x, y)


SUBJECTS = {"place": "place", "staff": "person", "audience": "quartier", "capacity": "person"}


def _state(o: Occurrence) -> str:
    return f"{o.event_id}@{o.recurrence_id}:{o.starts_at}-{o.ends_at}:{o.place_id}:{o.room}:{sorted(o.person_ids)}"


def _signature(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _side(o: Occurrence) -> dict:
    return {"starts_at": o.starts_at, "ends_at": o.ends_at, "place_id": o.place_id, "room": o.room,
            "person_ids": list(o.person_ids)}


# --- the rules, one pair at a time: the naive oracle, and the words of the specification -----

def _overlap(x: Occurrence, y: Occurrence, margin: int = 0) -> bool:
    return x.starts_at < y.ends_at + margin and y.starts_at < x.ends_at + margin


def place_clash(x: Occurrence, y: Occurrence) -> Found | None:
    if (x.place_id is not None and x.place_id == y.place_id and _overlap(x, y)
            and (x.room is None or y.room is None or x.room == y.room)):
        return Found("place", *_ordered(x, y), x.place_id, x.room or y.room)
    return None


def staff_clash(x: Occurrence, y: Occurrence, ctx: DetectionContext) -> Found | None:
    clashing = [pid for pid in set(x.person_ids).intersection(y.person_ids)
                if _overlap(x, y, 0 if x.place_id == y.place_id else ctx.travel_margin.get(pid, ctx.default_margin))]
    if not clashing:
        return None
    return Found("staff", *_ordered(x, y), min(clashing), (clashing, not _overlap(x, y)))


def staff_people(x: Occurrence, y: Occurrence, ctx: DetectionContext) -> list[int]:
    """Everyone through whom two occurrences clash, by the rule of `detect`'s staff loop (the
    nightly run finds a pair through one batch of people and names them all)."""
    first, second = (x, y) if x.starts_at <= y.starts_at else (y, x)
    found = []
    for pid in set(x.person_ids).intersection(y.person_ids):
        margin = ctx.travel_margin.get(pid, ctx.default_margin)
        if second.starts_at < first.ends_at + margin and (
                second.starts_at < first.ends_at or second.place_id != first.place_id):
            found.append(pid)
    return found


def audience_clash(x: Occurrence, y: Occurrence, ctx: DetectionContext) -> Found | None:
    quartier = ctx.place_quartier.get(x.place_id)
    if quartier is None or quartier != ctx.place_quartier.get(y.place_id):
        return None
    ax, ay = ctx.audiences.get(x.event_id), ctx.audiences.get(y.event_id)
    if ax is None or ay is None or not _overlap(x, y) or not ax.intersects(ay):
        return None
    return Found("audience", *_ordered(x, y), quartier, {x.event_id: ax, y.event_id: ay})


# --- detection --------------------------------------------------------------------------------

KINDS = frozenset(("place", "staff", "audience", "capacity"))


def detect(occurrences: Iterable[Occurrence], ctx: DetectionContext, kinds: Set[str] = KINDS,
           keys: Set[int] | None = None) -> dict[tuple, Found]:
    """Every conflict among the occurrences, keyed by identity. Cancelled occurrences never clash,
    nor do two occurrences of one series. The rules are those of the `*_clash` functions above,
    written inline here: these loops run for every occurrence of the country.

    `kinds` and `keys` narrow it to one batch of the nightly run (scheduler.conflicts.nightly):
    only those kinds, and only the places, people or quartiers of `keys`. A staff conflict then
    names only the batch's people (the nightly run completes it)."""
    found: dict[tuple, Found] = {}
    by_place: dict[int, list] = {}
    by_person: dict[int, list] = {}
    by_quartier: dict[int, list] = {}
    place_quartier = ctx.place_quartier
    audiences = ctx.audiences if "audience" in kinds else {}
    places = "place" in kinds
    people = "staff" in kinds or "capacity" in kinds
    # Grouped by key in the order they come (expansion keeps a series' occurrences together in
    # memory: walking them in time order instead costs five times more), then each group sorted.
    for o in occurrences:
        if o.is_cancelled:
            continue
        if o.place_id is not None and places and (keys is None or o.place_id in keys):
            group = by_place.get(o.place_id)
            if group is None:
                by_place[o.place_id] = [o]
            else:
                group.append(o)
        if people:
            for pid in o.person_ids:
                if keys is not None and pid not in keys:
                    continue
                group = by_person.get(pid)
                if group is None:
                    by_person[pid] = [o]
                else:
                    group.append(o)
        if o.event_id in audiences:
            quartier = place_quartier.get(o.place_id)
            if quartier is not None and (keys is None or quartier in keys):
                group = by_quartier.get(quartier)
                if group is None:
                    by_quartier[quartier] = [o]
                else:
                    group.append(o)

    by_start = attrgetter("starts_at")
    for groups in (by_place, by_person, by_quartier):
        for group in groups.values():
            group.sort(key=by_start)

    # Each occurrence is compared with those that start before it ends (the groups are sorted).
    for place_id, group in by_place.items():
        n = len(group)
        for i in range(n - 1):
            x = group[i]
            end, xe, room = x.ends_at, x.event_id, x.room
            j = i + 1
            while j < n:
                y = group[j]
                if y.starts_at >= end:
                    break
                j += 1
                ye = y.event_id
                if ye != xe and (room is None or y.room is None or y.room == room):
                    if xe > ye:
                        found[("place", ye, y.recurrence_id, xe, x.recurrence_id)] = Found(
                            "place", y, x, place_id, room or y.room)
                    else:
                        found[("place", xe, x.recurrence_id, ye, y.recurrence_id)] = Found(
                            "place", x, y, place_id, room or y.room)

    margins, default_margin = ctx.travel_margin, ctx.default_margin
    for pid, group in (by_person.items() if "staff" in kinds else ()):
        n = len(group)
        margin = margins.get(pid, default_margin)
        for i in range(n - 1):
            x = group[i]
            end, xe, place = x.ends_at, x.event_id, x.place_id
            reach = end + margin
            j = i + 1
            while j < n:
                y = group[j]
                if y.starts_at >= reach:
                    break
                j += 1
                ye = y.event_id
                if ye != xe and (y.starts_at < end or y.place_id != place):
                    key = (("staff", xe, x.recurrence_id, ye, y.recurrence_id) if xe < ye
                           else ("staff", ye, y.recurrence_id, xe, x.recurrence_id))
                    known = found.get(key)
                    if known is None:
                        found[key] = Found("staff", x, y, pid, ([pid], y.starts_at >= end)) if xe < ye \
                            else Found("staff", y, x, pid, ([pid], y.starts_at >= end))
                    else:  # the same pair through a second person: one conflict naming both
                        known.key = min(known.key, pid)
                        known.info[0].append(pid)

    competing: dict[tuple[int, int], bool] = {}
    for quartier, group in by_quartier.items():
        n = len(group)
        for i in range(n - 1):
            x = group[i]
            end, xe = x.ends_at, x.event_id
            j = i + 1
            while j < n:
                y = group[j]
                if y.starts_at >= end:
                    break
                j += 1
                ye = y.event_id
                if ye != xe:
                    pair = (xe, ye) if xe < ye else (ye, xe)
                    meets = competing.get(pair)
                    if meets is None:  # a series meets the same others week after week
                        meets = competing[pair] = audiences[xe].intersects(audiences[ye])
                    if meets:
                        info = {xe: audiences[xe], ye: audiences[ye]}
                        if xe < ye:
                            found[("audience", xe, x.recurrence_id, ye, y.recurrence_id)] = Found(
                                "audience", x, y, quartier, info)
                        else:
                            found[("audience", ye, y.recurrence_id, xe, x.recurrence_id)] = Found(
                                "audience", y, x, quartier, info)

    limits = ctx.max_concurrent if "capacity" in kinds else {}
    spans: dict[tuple[int, int], list] = {}  # (person, event) -> [start, end, first occurrence]
    for pid, group in by_person.items():
        if pid in limits:
            for o in group:
                span = spans.get((pid, o.event_id))
                if span is None:
                    spans[(pid, o.event_id)] = [o.starts_at, o.ends_at, o]
                elif o.ends_at > span[1]:
                    span[1] = o.ends_at
    keep_capacity(found, capacity_conflicts(spans, limits))
    return found


def capacity_conflicts(spans: dict[tuple[int, int], list], limits: dict[int, int]) -> list[Found]:
    """For each person with a limit: a series that starts while `limit` others are still running
    is one too many; it clashes with the earliest of them."""
    per_person: dict[int, list] = {}
    for (pid, event_id), (start, end, first) in spans.items():
        per_person.setdefault(pid, []).append((start, end, event_id, first.timezone))
    out = []
    for pid, items in per_person.items():
        limit = limits[pid]
        items.sort()
        active: list[tuple] = []
        for item in items:
            start, end, event_id, _zone = item
            active = [a for a in active if a[1] > start]
            if len(active) >= limit:
                first = active[0]
                sides = _ordered(*(Occurrence(s[2], SERIES, s[0], s[1], None, None, (pid,), s[3])
                                   for s in (first, item)))
                out.append(Found("capacity", sides[0], sides[1], pid, {
                    "person_id": pid, "limit": limit, "event_ids": sorted([a[2] for a in active] + [event_id]),
                    "excess_event_id": event_id,
                    "spans": ";".join(f"{a[2]}:{a[0]}-{a[1]}" for a in active + [item])}))
            active.append(item)
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
    keep_capacity(found, capacity_conflicts(spans, ctx.max_concurrent))
    return found


def keep_capacity(found: dict[tuple, Found], capacity: Iterable[Found]) -> None:
    """Two series too many for several people at once are one conflict, named after the
    smallest of them (whatever order the people came in)."""
    for f in capacity:
        known = found.get(f.identity)
        if known is None or f.key < known.key:
            found[f.identity] = f


