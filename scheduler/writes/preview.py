"""What a write would do, before it is made: the same write through `scheduler.writes`, in a
savepoint rolled back at the end (a dry run), read while it stands: the rule in French, the
next occurrences, the dates holidays take out with their reason, and the overlaps it would open,
found by the same engine as after a real write. Nothing is written: not the event, not its
conflicts, not the notices, not the audit record."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from models import db, utcnow
from models.actor import Actor
from models.conflicts import CONFLICT_KINDS
from models.events import Event
from models.versions import written_scopes_forgotten
from scheduler.conflicts.check import Outcome, describe_conflict, refused_conflicts
from scheduler.conflicts.detection import SERIES
from scheduler.french import day_label, hour_label, rule_phrase, title_for
from scheduler.time.recurrence import day_off_reason, expand, rule_of, skipped_holidays
from scheduler.writes import EventWrites

NEXT_OCCURRENCES = 10
# How far the preview looks for skipped dates and counts sessions of a series without an end.
PREVIEW_DAYS = 366


@dataclass(frozen=True)
class PreviewOccurrence:
    starts_at: datetime  # on the wall clock of the place
    ends_at: datetime
    is_cancelled: bool

    @property
    def label(self) -> str:
        """"lundi 7 décembre, 14 h – 17 h"."""
        return f"{day_label(self.starts_at.date())}, {hour_label(self.starts_at)} – {hour_label(self.ends_at)}"


@dataclass(frozen=True)
class SkippedDate:
    day: date
    reason: str  # "Noël", "vacances de Noël"

    @property
    def label(self) -> str:
        """"lundi 28 décembre : vacances de Noël"."""
        return f"{day_label(self.day)} : {self.reason}"


@dataclass(frozen=True)
class PreviewOverlap:
    kind: str
    is_hard: bool
    would_refuse: bool  # the write would be refused for it (strict, or a place that refuses them)
    starts_at: datetime
    other_event_id: int
    other_title: str
    description: str  # describe_conflict's French line
    timezone: str = "Europe/Paris"  # the event's, to say the date on its wall clock
    whole_series: bool = False  # one overlap for both series from that date on (capacity)

    @property
    def day(self) -> date:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class OverlapGroup:
    """The overlaps of one kind with one other event: a weekly clash is one line with its dates,
    not a line per Monday (a partner reads what to change, and with whom)."""
    kind: str  # CONFLICT_KINDS' French label
    is_hard: bool
    would_refuse: bool
    other_event_id: int
    other_title: str
    days: list[date]
    whole_series: bool = False

    SHOWN_DAYS = 4

    @property
    def dates_label(self) -> str:
        """"lundi 14 décembre, lundi 4 janvier et 9 autres dates"; "à partir du lundi 14 décembre"."""
        if self.whole_series:
            return f"à partir du {day_label(self.days[0])}"
        labels = [day_label(d) for d in self.days[:self.SHOWN_DAYS]]
        rest = len(self.days) - len(labels)
        if rest:
            return f"{', '.join(labels)} et {rest} autre{'s' if rest > 1 else ''} date{'s' if rest > 1 else ''}"
        return " et ".join([", ".join(labels[:-1]), labels[-1]]) if len(labels) > 1 else labels[0]


@dataclass
class Preview:
    phrase: str  # rule_phrase of the series as it would be
    sessions: int | None  # occurrences of a series with an end (None: it has none, or is one date)
    occurrences: list[PreviewOccurrence] = field(default_factory=list)
    skipped: list[SkippedDate] = field(default_factory=list)
    overlaps: list[PreviewOverlap] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """"tous les lundis de 14 h à 17 h, du 7 décembre au 29 mars, hors jours fériés : 15 séances"."""
        if self.sessions is None:
            return self.phrase
        return f"{self.phrase} : {self.sessions} séance{'s' if self.sessions != 1 else ''}"

    @property
    def would_be_refused(self) -> bool:
        return any(o.would_refuse for o in self.overlaps)

    @property
    def overlap_groups(self) -> list[OverlapGroup]:
        """The overlaps by kind and other event, hard ones first, each with its dates in order."""
        groups: dict[tuple[str, int], list[PreviewOverlap]] = {}
        for o in sorted(self.overlaps, key=lambda o: o.starts_at):
            groups.setdefault((o.kind, o.other_event_id), []).append(o)
        found = [OverlapGroup(CONFLICT_KINDS.get(kind, kind), rows[0].is_hard, any(o.would_refuse for o in rows),
                              other, rows[0].other_title, sorted({o.day for o in rows}),
                              any(o.whole_series for o in rows))
                 for (kind, other), rows in groups.items()]
        return sorted(found, key=lambda g: (not g.is_hard, g.days[0]))


def dry_run(actor: Actor, write: Callable[[EventWrites], Event], *, strict: bool = False,
            now: datetime | None = None) -> Preview:
    """Runs `write` (given an EventWrites of the actor, it returns the event to preview) and the
    overlap check, reads the preview, then rolls it all back. Refusals for rights or bad values
    are raised as the real write raises them; a refused overlap is reported, not raised."""
    with written_scopes_forgotten(db.session()):
        savepoint = db.session.begin_nested()
        try:
            writes = EventWrites(actor, strict=strict, refuse=False, now=now)
            event = write(writes)
            outcomes = writes.finish()
            return preview_of(event, outcomes.get(event.id, Outcome()), strict, now, actor.partner_id)
        finally:
            savepoint.rollback()


def preview_of(event: Event, outcome: Outcome, strict: bool = False, now: datetime | None = None,
               reader_partner_id: int | None = None) -> Preview:
    """What a write would give, as the writer (of `reader_partner_id`) may read it: another
    partner's partners-only event by its kind, not its title (`title_for`)."""
    now = now or utcnow()
    rule = rule_of(event)
    start = max(event.starts_at, now.astimezone(UTC).replace(microsecond=0))
    horizon = (start + timedelta(days=PREVIEW_DAYS)).date()
    end_day = min(event.last_date, horizon) if event.last_date is not None else horizon
    until = datetime.combine(end_day + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    everything = sorted(expand([rule], event.starts_at, until), key=lambda o: o.starts_at)
    coming = [o for o in everything if o.ends_at > int(start.timestamp())]
    skipped = [SkippedDate(date.fromordinal(d), day_off_reason(rule, d) or "jour férié")
               for d in skipped_holidays(rule, max(rule.start_ord, start.date().toordinal()), end_day.toordinal())]
    refused = {c.id for c in refused_conflicts(outcome.created, strict)[0]}
    overlaps = []
    for c in outcome.current:
        other = c.b_event if c.a_event_id == event.id else c.a_event
        overlaps.append(PreviewOverlap(c.kind, c.is_hard, c.id in refused, c.starts_at, other.id,
                                       title_for(other, reader_partner_id), describe_conflict(c, reader_partner_id),
                                       event.timezone,
                                       c.a_recurrence_id == SERIES and c.b_recurrence_id == SERIES))
    return Preview(
        phrase=rule_phrase(event),
        sessions=len([o for o in everything if not o.is_cancelled])
        if event.is_recurring and event.last_date is not None else None,
        occurrences=[PreviewOccurrence(o.start, o.end, o.is_cancelled) for o in coming[:NEXT_OCCURRENCES]],
        skipped=skipped, overlaps=overlaps)
