"""The review (bilan) of a territory over a period: per action (series) and per quartier, the
sessions planned, held, cancelled (with their reasons) and moved, the hours, the people received
(total and per session counted), the partners involved, the overlaps opened and how they ended.

From the one expansion, as the coverage: an occurrence belongs to the quartier of the place where
it really happens. "Held" means not cancelled and already started at `now`; what is still to come
in the period is counted apart."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from models import Attendance, Event, OccurrenceException, Partner, Place, ScheduleConflict, db, utcnow
from models.conflicts import CONFLICT_STATUSES
from models.events import event_organisers
from scheduler.reports.coverage import HOUR, Territory
from scheduler.time.calendar import CalendarFilter, check_window, rules_in_window
from scheduler.time.recurrence import epoch, expand


@dataclass
class Tally:
    """Figures of one series or one quartier."""

    planned: int = 0
    held: int = 0
    to_come: int = 0
    cancelled: int = 0
    moved: int = 0
    seconds: int = 0  # of the sessions held
    people: int = 0
    counted: int = 0  # sessions held with a count of people
    reasons: dict[str, int] = field(default_factory=dict)  # why cancelled -> how many times
    overlaps: dict[str, int] = field(default_factory=dict)  # status -> how many

    @property
    def hours(self) -> float:
        return round(self.seconds / HOUR, 2)

    @property
    def per_session(self) -> float | None:
        return round(self.people / self.counted, 1) if self.counted else None

    def add(self, other: Tally) -> None:
        for name in ("planned", "held", "to_come", "cancelled", "moved", "seconds", "people", "counted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.reasons, other.reasons), (self.overlaps, other.overlaps)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n


@dataclass
class SeriesReview:
    event_id: int
    title: str
    kind: str
    quartier: str  # its place's quartier code ("" for none)
    partners: list[str]
    tally: Tally = field(default_factory=Tally)


@dataclass
class QuartierReview:
    code: str
    name: str
    tally: Tally = field(default_factory=Tally)
    partners: set[str] = field(default_factory=set)


@dataclass
class Review:
    start: datetime
    end: datetime
    series: list[SeriesReview]
    quartiers: list[QuartierReview]
    total: Tally


def review(start: datetime, end: datetime, territory: Territory, now: datetime | None = None) -> Review:
    check_window(start, end)
    now_s = epoch(now or utcnow())
    quartiers = {q.id: QuartierReview(q.code, q.name) for q in territory.quartiers}
    place_quartier = {place_id: quartier_id for place_id, quartier_id in db.session.execute(
        sa.select(Place.id, Place.quartier_id).where(Place.quartier_id.in_(quartiers))) if quartier_id is not None}
    f = CalendarFilter(include_private=True, place_ids=None if territory.national else tuple(place_quartier))
    occurrences = [o for o in expand(rules_in_window(f, start, end, people=False), start, end)
                   if o.place_id is not None and place_quartier.get(o.place_id) in quartiers
                   and o.starts_at >= epoch(start)]
    ids = {o.event_id for o in occurrences}
    series = {r.id: SeriesReview(r.id, r.title, r.kind, "", []) for r in db.session.execute(
        sa.select(Event.id, Event.title, Event.kind).where(Event.id.in_(ids)))} if ids else {}
    for event_id, name in db.session.execute(
            sa.select(event_organisers.c.event_id, Partner.name)
            .join(Partner, Partner.id == event_organisers.c.partner_id)
            .where(event_organisers.c.event_id.in_(ids)).order_by(Partner.name)) if ids else ():
        series[event_id].partners.append(name)
    reasons = {(x.event_id, epoch(x.recurrence_start)): x.reason.strip() for x in db.session.scalars(
        sa.select(OccurrenceException).where(OccurrenceException.event_id.in_(ids), OccurrenceException.is_cancelled))}
    counts = {(a.event_id, epoch(a.recurrence_start)): a.total for a in db.session.scalars(
        sa.select(Attendance).where(Attendance.event_id.in_(ids)))} if ids else {}
    for o in occurrences:
        assert o.place_id is not None  # kept above only at a place of these quartiers
        s, q = series[o.event_id], quartiers[place_quartier[o.place_id]]
        s.quartier = s.quartier or q.code
        q.partners.update(s.partners)
        for tally in (s.tally, q.tally):
            tally.planned += 1
            if o.is_cancelled:
                tally.cancelled += 1
                why = reasons.get((o.event_id, o.recurrence_id)) or "sans motif donné"
                tally.reasons[why] = tally.reasons.get(why, 0) + 1
                continue
            tally.moved += o.is_moved
            if o.starts_at > now_s:
                tally.to_come += 1
                continue
            tally.held += 1
            tally.seconds += o.ends_at - o.starts_at
            people = counts.get((o.event_id, o.recurrence_id))
            if people is not None:
                tally.people += people
                tally.counted += 1
    _add_overlaps(series, quartiers, place_quartier, start, end)
    total = Tally()
    for q in quartiers.values():
        total.add(q.tally)
    ordered = sorted(series.values(), key=lambda s: (s.quartier, s.title.casefold(), s.event_id))
    return Review(start, end, ordered, list(quartiers.values()), total)


def _add_overlaps(series: dict[int, SeriesReview], quartiers: dict[int, QuartierReview],
                  place_quartier: dict[int, int], start: datetime, end: datetime) -> None:
    """The overlaps of the period's dates between series of the review, by how they stand now
    (open, accepted, resolved by an action, or closed by themselves), each counted once: with its
    first series, in that series' quartier."""
    if not series:
        return
    rows = db.session.execute(
        sa.select(ScheduleConflict.a_event_id, ScheduleConflict.status, Event.place_id)
        .join(Event, Event.id == ScheduleConflict.a_event_id)
        .where(ScheduleConflict.starts_at >= start, ScheduleConflict.starts_at < end,
               sa.or_(ScheduleConflict.a_event_id.in_(series), ScheduleConflict.b_event_id.in_(series))))
    for event_id, status, place_id in rows:
        label = CONFLICT_STATUSES.get(status, status)
        targets = [series[event_id].tally] if event_id in series else []
        quartier = quartiers.get(place_quartier.get(place_id))  # type: ignore[arg-type]
        if quartier is not None:
            targets.append(quartier.tally)
        for tally in targets:
            tally.overlaps[label] = tally.overlaps.get(label, 0) + 1
