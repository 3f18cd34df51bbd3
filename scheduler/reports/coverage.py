"""Coverage of the quartiers: who is present where, and when, over a period.

Computed from the one expansion (`scheduler.time.recurrence.expand`, through `rules_in_window`),
so holidays, school holidays, cancellations and moves count exactly as on every other screen: an
occurrence counts in the quartier of the place where it really happens, for the part of it inside
the period. Co-animation: an occurrence gives its hours to each kind of partner among its
organisers (two missions locales co-running a session are one hour of mission locale presence).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import Event, Partner, Place, Quartier, db
from models.errors import Forbidden, InvalidInput
from models.events import EVENT_KINDS, event_organisers
from models.partners import PARTNER_TYPES
from scheduler.time.calendar import CalendarFilter, check_window, rules_in_window
from scheduler.time.recurrence import DAY, expand, utc_offset

# A zone blanche is a quartier without any presence of one of these kinds of partner; the public
# employment service's two front doors for young people and job seekers unless asked otherwise.
DEFAULT_WATCHED_TYPES = ("mission_locale", "france_travail")
HOUR = 3600
WEEK = 7 * DAY


@dataclass
class QuartierCoverage:
    code: str
    name: str
    department: str | None
    seconds: int = 0
    sessions: int = 0
    by_partner_type: dict[str, int] = field(default_factory=dict)  # seconds
    by_kind: dict[str, int] = field(default_factory=dict)  # seconds

    @property
    def hours(self) -> float:
        return hours(self.seconds)


@dataclass
class Coverage:
    start: datetime
    end: datetime
    quartiers: list[QuartierCoverage]
    watched_types: tuple[str, ...]
    # 7 weekdays (Monday first) × 24 hours of the local wall clock: seconds of presence.
    heatmap: list[list[int]]

    @property
    def white_zones(self) -> list[tuple[QuartierCoverage, str]]:
        """(quartier, partner type) pairs with no presence of that kind over the period."""
        return [(q, t) for q in self.quartiers for t in self.watched_types if not q.by_partner_type.get(t)]

    @property
    def partner_types(self) -> list[str]:
        """The kinds of partner present somewhere, in the order of PARTNER_TYPES."""
        present = {t for q in self.quartiers for t in q.by_partner_type}
        return [t for t in PARTNER_TYPES if t in present]

    @property
    def kinds(self) -> list[str]:
        present = {k for q in self.quartiers for k in q.by_kind}
        return [k for k in EVENT_KINDS if k in present]

    @property
    def seconds(self) -> int:
        return sum(q.seconds for q in self.quartiers)

    @property
    def sessions(self) -> int:
        return sum(q.sessions for q in self.quartiers)


def hours(seconds: int) -> float:
    return round(seconds / HOUR, 2)


def territory_quartiers(codes: Collection[str] | None = None, department: str | None = None) -> list[Quartier]:
    """The quartiers a report covers: those named, or those of a department, or all of them.
    A code that does not exist is refused rather than reported as an empty quartier."""
    q = sa.select(Quartier).order_by(Quartier.code)
    if codes:
        q = q.where(Quartier.code.in_(set(codes)))
    if department:
        q = q.where(Quartier.department == department)
    quartiers = list(db.session.scalars(q))
    if codes:
        unknown = sorted(set(codes) - {x.code for x in quartiers})
        if unknown:
            raise InvalidInput(f"Quartier inconnu : {', '.join(unknown)}.", {"quartier": [f"Inconnu : {unknown[0]}."]})
    return quartiers


@dataclass
class Territory:
    """The quartiers a report covers, and whether they are the whole country."""

    quartiers: list[Quartier]
    national: bool


def territory_for(user, codes: Collection[str] = (), department: str | None = None) -> Territory:
    """What a user may report on: coverage and review are the coordinators' (their territory;
    all of it for a national coordinator), never an editor's."""
    user.require(user.is_coordinator, "Seuls les coordinateurs et coordinatrices voient la couverture et le bilan.")
    own = {q.code for q in user.quartiers}
    if own and codes and not set(codes) <= own:
        outside = sorted(set(codes) - own)[0]
        raise Forbidden(f"Le quartier {outside} n'est pas dans votre territoire.")
    chosen = list(codes) or sorted(own)
    return Territory(territory_quartiers(chosen, department), national=not chosen and not department)


def coverage(start: datetime, end: datetime, territory: Territory,
             watched_types: Collection[str] = DEFAULT_WATCHED_TYPES) -> Coverage:
    """Hours of presence in the territory's quartiers over [start, end). A national territory
    reads the whole calendar, without a filter on places."""
    check_window(start, end)
    quartiers, national = territory.quartiers, territory.national
    unknown = [t for t in watched_types if t not in PARTNER_TYPES]
    if unknown:
        raise InvalidInput.on("partner_type", f"Type de partenaire inconnu : {unknown[0]}.")
    rows = {q.id: QuartierCoverage(q.code, q.name, q.department) for q in quartiers}
    report = Coverage(start, end, list(rows.values()), tuple(watched_types), [[0] * 24 for _ in range(7)])
    if not rows:
        return report
    place_quartier = dict(db.session.execute(
        sa.select(Place.id, Place.quartier_id).where(Place.quartier_id.in_(rows)) if not national else
        sa.select(Place.id, Place.quartier_id).where(Place.quartier_id.is_not(None))).all())
    f = CalendarFilter(include_private=True, include_cancelled_events=False,
                       place_ids=None if national else tuple(place_quartier))
    rules = rules_in_window(f, start, end, people=False)
    # The kinds of the series the rules name: by their ids (not the window's query again) for a
    # territory; for the whole country, every series' (tens of thousands of bound ids would cost more).
    kind_of: dict[int, str] = {}
    types_of: dict[int, set[str]] = {}
    ids = sorted({r.event_id for r in rules})
    chunks = [None] if national else [ids[i:i + 5000] for i in range(0, len(ids), 5000)]
    for chunk in chunks:
        kinds = sa.select(Event.id, Event.kind)
        types = (sa.select(event_organisers.c.event_id, Partner.type)
                 .join(Partner, Partner.id == event_organisers.c.partner_id))
        if chunk is not None:
            kinds, types = kinds.where(Event.id.in_(chunk)), types.where(event_organisers.c.event_id.in_(chunk))
        kind_of.update(db.session.execute(kinds).all())
        for event_id, partner_type in db.session.execute(types):
            types_of.setdefault(event_id, set()).add(partner_type)
    _add_occurrences(report, rows, place_quartier, kind_of, types_of, expand(rules, start, end))
    return report


def _add_occurrences(report: Coverage, rows: dict[int, QuartierCoverage], place_quartier: dict[int, int | None],
                     kind_of: dict[int, str], types_of: dict[int, set[str]], occurrences) -> None:
    """Sums the occurrences per (quartier, series) and per (start in the local week, length)
    first, then gives each sum to its kinds and to the heat map: a weekly series is one sum, not
    fifty occurrences each touching every dict (bench/coverage.py)."""
    lo, hi = int(report.start.timestamp()), int(report.end.timestamp())
    per_series: dict[tuple[int, int], list[int]] = {}  # (quartier id, event id) -> [seconds, sessions]
    spans: dict[tuple[int, int], int] = {}  # (local second of the week it starts, seconds) -> how many
    offsets: dict[tuple[str, int], int] = {}  # (zone, UTC hour) -> offset: zones change on the hour
    zones: dict[str, ZoneInfo] = {}
    for o in occurrences:
        if o.is_cancelled:
            continue
        quartier_id = place_quartier.get(o.place_id)
        if quartier_id not in rows:
            continue  # moved out of the territory, or at a place in no quartier
        begin = max(o.starts_at, lo)
        seconds = min(o.ends_at, hi) - begin
        if seconds <= 0:
            continue
        key = (quartier_id, o.event_id)
        total = per_series.get(key)
        if total is None:
            per_series[key] = [seconds, 1]
        else:
            total[0] += seconds
            total[1] += 1
        hour_key = (o.timezone, begin // HOUR)
        offset = offsets.get(hour_key)
        if offset is None:
            zone = zones.get(o.timezone) or zones.setdefault(o.timezone, ZoneInfo(o.timezone))
            offset = offsets[hour_key] = int(utc_offset(datetime.fromtimestamp(begin, zone)).total_seconds())
        span = ((begin + offset) % WEEK, seconds)
        spans[span] = spans.get(span, 0) + 1
    for (quartier_id, event_id), (seconds, sessions) in per_series.items():
        row = rows[quartier_id]
        row.seconds += seconds
        row.sessions += sessions
        kind = kind_of.get(event_id, "other")
        row.by_kind[kind] = row.by_kind.get(kind, 0) + seconds
        for partner_type in types_of.get(event_id, ()):
            row.by_partner_type[partner_type] = row.by_partner_type.get(partner_type, 0) + seconds
    heat = report.heatmap
    for (local, seconds), times in spans.items():
        while seconds > 0:  # spread over the hours of the wall clock it spans
            chunk = min(seconds, HOUR - local % HOUR)
            heat[(local // DAY + 3) % 7][(local // HOUR) % 24] += chunk * times  # 1970-01-01 was a Thursday
            local += chunk
            seconds -= chunk
