"""The feeds: which events each one holds, and serving it without rebuilding what did not change.

A feed is rebuilt when the database's change marker (the latest AuditEntry: every write records
one, deletions included) or the day has moved since it was last built; its ETag is a hash of its
bytes, so a rebuild that gives the same bytes keeps the same ETag and Last-Modified. The marker,
ETag and Last-Modified of each feed live in the database (FeedState), so that every web process
answers alike and no subscriber sees a stale feed once a change is committed; the bytes are kept
in each process's memory.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import Event, OccurrenceException, Partner, Person, Place, Quartier, db, utcnow
from models.feeds import FeedState, change_marker
from scheduler.calendar import CalendarFilter, events_query
from scheduler.ical import CalendarHead, RenderContext, default_horizon, render_calendar

# Past events stay in a feed for a month, so that last week is still in people's calendars.
KEEP_PAST_DAYS = 31
MEMORY_SIZE = 256


@dataclass(frozen=True)
class FeedSpec:
    """One feed: its scope (all, partner, place, quartier, private) and the filters of its address."""

    scope: str  # all, partner, place, quartier, event, private
    value: str = ""  # slug or code; for private feeds the token's id
    kind: str | None = None
    tag: str | None = None
    age: int | None = None
    private: bool = False  # partners-only events and people's names
    partner: str | None = None  # a partner's private link: that partner's events

    @property
    def key(self) -> str:
        text = "|".join(str(x) for x in (self.scope, self.value, self.kind, self.tag, self.age,
                                         self.private, self.partner))
        return hashlib.sha256(text.encode()).hexdigest()

    def calendar_filter(self) -> CalendarFilter:
        f = CalendarFilter(kind=self.kind, tag=self.tag, age=self.age, include_private=self.private,
                           partner=self.partner)
        if self.scope == "partner":
            f.partner = self.value
        elif self.scope == "place":
            f.place = self.value
        elif self.scope == "quartier":
            f.quartier = self.value
        elif self.scope == "event":
            f.event_id = int(self.value)
        return f


@dataclass
class FeedVersion:
    marker: str
    etag: str
    last_modified: datetime
    body: bytes = field(repr=False, default=b"")


def feed_events(spec: FeedSpec, today: date) -> list[Event]:
    """The events of a feed: those that still have or had an occurrence since a month ago."""
    f = spec.calendar_filter()
    cutoff = today - timedelta(days=KEEP_PAST_DAYS)
    q = events_query(f).where(sa.or_(
        Event.last_date.is_(None), Event.last_date >= cutoff,
        Event.id.in_(sa.select(OccurrenceException.event_id).where(OccurrenceException.starts_at.is_not(None))),
    )).options(
        selectinload(Event.place),
        selectinload(Event.organisers),
        selectinload(Event.people),
        selectinload(Event.exceptions),
    )
    events = list(db.session.scalars(q))
    if spec.tag:
        tag = spec.tag.casefold()
        events = [e for e in events if any(t.casefold() == tag for t in e.audience_tags or [])]
    return events


def feed_head(spec: FeedSpec, default_timezone: str, owner_name: str = "") -> CalendarHead:
    """The calendar's name and zone as subscribers' calendars show it (French)."""
    if spec.scope == "partner":
        name = db.session.scalar(sa.select(Partner.name).where(Partner.slug == spec.value)) or spec.value
        title, tz = f"Maillage — {name}", default_timezone
    elif spec.scope == "place":
        place = db.session.scalar(sa.select(Place).where(Place.slug == spec.value))
        title, tz = f"Maillage — {place.name if place else spec.value}", place.timezone if place else default_timezone
    elif spec.scope == "quartier":
        quartier = db.session.scalar(sa.select(Quartier).where(Quartier.code == spec.value))
        title, tz = f"Maillage — quartier {quartier.name if quartier else spec.value}", default_timezone
        if quartier is not None:
            zones = set(db.session.scalars(sa.select(Place.timezone).where(Place.quartier_id == quartier.id)))
            if len(zones) == 1:
                tz = zones.pop()
    elif spec.scope == "event":
        event = db.session.get(Event, int(spec.value))
        title = f"Maillage — {event.title if event else spec.value}"
        tz = event.timezone if event else default_timezone
    elif spec.scope == "private":
        title, tz = f"Maillage — lien privé {owner_name}".rstrip(), default_timezone
    else:
        title, tz = "Maillage — tout le territoire", default_timezone
    return CalendarHead(name=title, timezone=tz, description="Calendrier partagé des partenaires de l'emploi "
                        "des quartiers. Mis à jour automatiquement : ne le modifiez pas ici.")


def build_feed(spec: FeedSpec, today: date, base_url: str, default_timezone: str, owner_name: str = "") -> bytes:
    events = feed_events(spec, today)
    ctx = RenderContext(base_url=base_url, include_people=spec.private, horizon=default_horizon(today))
    if spec.scope == "place":
        ctx.place_id = db.session.scalar(sa.select(Place.id).where(Place.slug == spec.value))
    # Places and people that only moved occurrences name: loaded in one query each.
    place_ids = {x.place_id for e in events for x in e.exceptions if x.place_id is not None}
    if ctx.place_id is not None:
        place_ids.add(ctx.place_id)
    if place_ids:
        ctx.places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_(place_ids)))}
    if spec.private:
        person_ids = {i for e in events for x in e.exceptions for i in (x.person_ids or [])}
        if person_ids:
            ctx.people = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(person_ids)))}
    return render_calendar(events, feed_head(spec, default_timezone, owner_name), ctx)


_memory: OrderedDict[str, FeedVersion] = OrderedDict()
_memory_lock = threading.Lock()


def _remember(key: str, version: FeedVersion) -> None:
    with _memory_lock:
        _memory[key] = version
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_SIZE:
            _memory.popitem(last=False)


def forget_feeds() -> None:
    """Empties this process's memory of feed bytes (tests, benchmarks' cold runs)."""
    with _memory_lock:
        _memory.clear()


def current_feed(spec: FeedSpec, *, base_url: str, default_timezone: str, owner_name: str = "",
                 now: datetime | None = None) -> tuple[FeedVersion, bool]:
    """The feed as it is now, and whether the FeedState row changed (the caller commits it).

    The marker is read before the events: a write committed between the two makes the next
    request rebuild again, never serves old bytes under a new marker."""
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(default_timezone)).date()
    marker = f"{change_marker()}:{today.isoformat()}"
    key = spec.key
    known = _memory.get(key)
    if known is not None and known.marker == marker:
        return known, False
    state = db.session.get(FeedState, key)
    if state is not None and state.marker == marker and known is not None and known.etag == state.etag:
        version = FeedVersion(marker, state.etag, state.last_modified, known.body)
        _remember(key, version)
        return version, False
    body = build_feed(spec, today, base_url, default_timezone, owner_name)
    etag = hashlib.sha256(body).hexdigest()[:32]
    second = now.replace(microsecond=0)
    if state is None:
        state = FeedState(key=key, marker=marker, etag=etag, last_modified=second)
        db.session.add(state)
    elif state.etag != etag:
        # HTTP dates count whole seconds: a change within the second of the last one still moves it.
        state.last_modified = max(second, state.last_modified + timedelta(seconds=1))
        state.etag, state.marker = etag, marker
    elif state.marker != marker:
        state.marker = marker
    else:
        version = FeedVersion(marker, etag, state.last_modified, body)
        _remember(key, version)
        return version, False
    db.session.flush()
    version = FeedVersion(marker, etag, state.last_modified, body)
    _remember(key, version)
    return version, True
