"""The feeds: which events each one holds, and serving it without rebuilding what did not change.

A feed is rebuilt when its marker has moved since it was last built: the versions of the scopes it
shows (models/versions.py: a write raises those of the event, its place, quartier and organisers,
so a write rebuilds only the feeds that show it), the day, and what else its bytes depend on. Its
ETag is a hash of its bytes, so a rebuild that gives the same bytes keeps the same ETag and
Last-Modified. Marker, ETag, Last-Modified and bytes live in the database (FeedState), so that
every web process answers alike, a feed is built once for all of them, and no subscriber sees a
stale feed once a change is committed; each process also keeps recent feeds in memory.

A poll of a feed this process holds under the current marker asks the database nothing: the
versions are those this process remembers (models/version_watch.py says when they moved), and
`feed_in_memory` answers from memory alone; only a miss reads the database.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import (
    Event,
    OccurrenceException,
    Partner,
    Person,
    Place,
    Quartier,
    db,
    utcnow,
)
from models.base import brief_sqlite_lock_wait
from models.events import EVENT_KINDS, event_organisers, event_people
from models.feeds import FeedState
from models.versions import (
    ALL_EVENTS,
    EVERYTHING,
    ScopeVersion,
    event_scope,
    known_versions_of,
    partner_scope,
    place_scope,
    quartier_scope,
    versions_of,
)
from scheduler.french import PARTNERS_ONLY_DETAIL, title_for
from scheduler.ical.render import (
    CalendarHead,
    Fragment,
    RenderContext,
    assemble_calendar,
    default_horizon,
    render_fragment,
)
from scheduler.rebuild import HOOKS, shows
from scheduler.time.calendar import CalendarFilter, decode_json_list, events_query
from scheduler.time.recurrence import gc_paused

# Past events stay in a feed for a month, so that last week is still in people's calendars.
KEEP_PAST_DAYS = 31
# Bytes of feeds each process keeps (most feeds are a few kilobytes, the whole territory's megabytes).
MEMORY_BYTES = 64 * 1024 * 1024
# What the bytes depend on besides the data: the code that writes them. A new release that writes
# feeds differently rebuilds them instead of answering 304 with what it no longer writes.
_RENDERING = hashlib.sha256(b"".join(Path(f).read_bytes() for f in (__file__, Path(__file__).with_name("render.py"),
                                                                   Path(__file__).parents[1] / "french.py")
                                     )).hexdigest()[:12]


@dataclass(frozen=True)
class FeedSpec:
    """One feed: its scope (all, partner, place, quartier, private) and the filters of its address."""

    scope: str  # all, partner, place, quartier, private
    value: str = ""  # slug or code; for private feeds the token's id
    kind: str | None = None
    tag: str | None = None
    age: int | None = None
    private: bool = False  # partners-only events and people's names
    partner: str | None = None  # a partner's private link: that partner's events
    # A person's own private link: only the events of their partner and of their territory
    # (quartier ids; None: all), and of partners-only events of others, no title nor description
    # (models.operations.feeds.private_feed_audience).
    for_person: bool = False
    own_partner_id: int | None = None
    territory: tuple[int, ...] | None = None

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes whose writes can change this feed (models/versions.py)."""
        if self.scope == "partner":
            return (partner_scope(self.value),)
        if self.scope == "place":
            return (place_scope(self.value),)
        if self.scope == "quartier":
            return (quartier_scope(self.value),)
        if self.scope == "event":
            return (event_scope(int(self.value)),)
        if self.scope == "private" and self.partner:
            return (partner_scope(self.partner),)
        return (ALL_EVENTS,)

    @property
    def key(self) -> str:
        text = "|".join(str(x) for x in (self.scope, self.value, self.kind, self.tag, self.age,
                                         self.private, self.partner, self.for_person, self.own_partner_id,
                                         self.territory))
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
    """The events of a feed (ORM objects): those that still have or had an occurrence since a
    month ago."""
    q = _feed_query(spec, today).options(
        selectinload(Event.place), selectinload(Event.organisers), selectinload(Event.people),
        selectinload(Event.exceptions))
    return _with_tag(spec, list(db.session.scalars(q)))


def _feed_query(spec: FeedSpec, today: date) -> sa.Select:
    cutoff = today - timedelta(days=KEEP_PAST_DAYS)
    query = events_query(spec.calendar_filter()).where(sa.or_(
        Event.last_date.is_(None), Event.last_date >= cutoff,
        Event.id.in_(sa.select(OccurrenceException.event_id).where(OccurrenceException.starts_at.is_not(None))),
    ))
    if spec.for_person:
        query = query.where(_concerns_the_person(spec))
    return query


def _organised_by(partner_id: int) -> sa.Select:
    return sa.select(event_organisers.c.event_id).where(event_organisers.c.partner_id == partner_id)


def _concerns_the_person(spec: FeedSpec):
    """Events of their partner, or at a place of their territory."""
    if spec.territory is None:
        return sa.true()
    concerns = []
    if spec.own_partner_id is not None:
        concerns.append(Event.id.in_(_organised_by(spec.own_partner_id)))
    if spec.territory:
        concerns.append(Event.place_id.in_(sa.select(Place.id).where(Place.quartier_id.in_(spec.territory))))
    return sa.or_(*concerns) if concerns else sa.false()


def _hide_what_others_organise(spec: FeedSpec, events: list) -> list:
    """A partners-only event that the person's partner does not organise keeps its dates, kind and
    organisers, not its title nor its description (which may name a young person)."""
    if not spec.for_person:
        return events
    for e in events:
        title = title_for(e, spec.own_partner_id)
        if title != e.title:
            e.title, e.description = title, PARTNERS_ONLY_DETAIL
    return events


def _with_tag(spec: FeedSpec, events: list) -> list:
    if not spec.tag:
        return events
    tag = spec.tag.casefold()
    return [e for e in events if any(t.casefold() == tag for t in e.audience_tags or [])]


class _Row:
    """An event read with plain SQL, with the attributes the renderer reads of an Event: a feed
    of thousands of series is read several times faster so than through the ORM's objects."""

    __slots__ = ("__dict__",)

    kind_label = property(lambda self: EVENT_KINDS.get(self.kind, self.kind))


_EVENT_COLUMNS = ("id", "uid", "kind", "title", "description", "place_id", "room", "visibility", "status",
                  "registration_url", "walk_in", "age_min", "age_max", "audience_tags", "timezone", "start_date",
                  "start_time", "duration_minutes", "frequency", "interval", "weekdays", "month_week", "until",
                  "count", "skip_public_holidays", "holiday_region", "pause_school_holidays", "school_zone",
                  "sequence", "created_at", "updated_at", "all_day", "month_days", "months", "extra_dates")


def feed_rows(spec: FeedSpec, today: date, only: list[int] | None = None) -> list:
    """The same events as `feed_events`, read as plain rows (what `build_feed` renders); `only`:
    those of these ids."""
    selected = _feed_query(spec, today)
    if only is not None:
        selected = selected.where(Event.id.in_(only))
    ids = selected.with_only_columns(Event.id).scalar_subquery()
    table = Event.__table__
    # The driver's own values, converted here: SQLAlchemy's per-value processing of SQLite's
    # text dates is most of the cost of reading thousands of events.
    selection = selected.whereclause
    assert selection is not None  # _feed_query always filters
    query = sa.select(*(sa.type_coerce(table.c[name], sa.types.NullType()) for name in _EVENT_COLUMNS)
                      ).where(selection)
    events = []
    rows = db.session.execute(query).all()
    columns = {name: [row[i] for row in rows] for i, name in enumerate(_EVENT_COLUMNS)}
    for name in _CONVERTED:  # column by column: one conversion function each, no per-value test
        values = columns[name]
        if any(isinstance(v, str) for v in values):  # SQLite gives text; PostgreSQL gives values
            convert = _FROM_TEXT[name]
            columns[name] = [convert(v) if v is not None else None for v in values]
        elif name in _INSTANTS:
            columns[name] = [_aware(v) for v in values]
    for row_values in zip(*columns.values()):
        e: Any = _Row()
        e.__dict__.update(zip(_EVENT_COLUMNS, row_values))
        e.people, e.organisers, e.exceptions = [], [], []
        events.append(e)
    events = _with_tag(spec, events)
    if not events:
        return events
    by_id = {e.id: e for e in events}
    # One query each, on the same selection: no thousands of bound ids.
    conn = db.session.connection()  # Core rows: the ORM's row processing is not needed here
    for event_id, partner_id, name in conn.execute(
            sa.select(event_organisers.c.event_id, Partner.id, Partner.name)
            .join(Partner, Partner.id == event_organisers.c.partner_id)
            .where(event_organisers.c.event_id.in_(ids)).order_by(Partner.name)):
        if event_id in by_id:
            by_id[event_id].organisers.append(_Named(partner_id, name))
    for event_id, person_id, name in conn.execute(
            sa.select(event_people.c.event_id, Person.id, Person.name)
            .join(Person, Person.id == event_people.c.person_id)
            .where(event_people.c.event_id.in_(ids)).order_by(Person.name)):
        if event_id in by_id:
            by_id[event_id].people.append(_Named(person_id, name))
    for x in db.session.scalars(sa.select(OccurrenceException).where(OccurrenceException.event_id.in_(ids))
                                .order_by(OccurrenceException.recurrence_start)):
        if x.event_id in by_id:
            by_id[x.event_id].exceptions.append(x)
    places = {}
    for row in conn.execute(sa.select(Place.id, Place.name, Place.address, Place.postcode, Place.city)
                            .where(Place.id.in_(sa.select(Event.place_id).where(Event.id.in_(ids))))):
        place: Any = _Row()
        place.__dict__.update(row._mapping)
        places[place.id] = place
    for e in events:
        e.place = places[e.place_id]
    return _hide_what_others_organise(spec, events)


_INSTANTS = {"created_at", "updated_at"}
_FROM_TEXT: dict[str, Callable[[str], Any]] = {
    "start_date": date.fromisoformat, "until": date.fromisoformat, "start_time": time.fromisoformat,
    "created_at": lambda v: datetime.fromisoformat(v).replace(tzinfo=UTC),
    "updated_at": lambda v: datetime.fromisoformat(v).replace(tzinfo=UTC),
    "weekdays": decode_json_list, "audience_tags": decode_json_list,
    "month_days": decode_json_list, "months": decode_json_list, "extra_dates": decode_json_list,
}
_CONVERTED = tuple(_FROM_TEXT)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Named:
    """A partner or a person as the renderer reads them: an id and a name."""

    __slots__ = ("id", "name")

    def __init__(self, id_, name):
        self.id, self.name = id_, name


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
        shown = event and (title_for(event, spec.own_partner_id) if spec.for_person else event.title)
        title = f"Maillage — {shown or spec.value}"
        tz = event.timezone if event else default_timezone
    elif spec.scope == "private":
        title, tz = f"Maillage — lien privé {owner_name}".rstrip(), default_timezone
    else:
        title, tz = "Maillage — tout le territoire", default_timezone
    return CalendarHead(name=title, timezone=tz, description="Calendrier partagé des partenaires de l'emploi "
                        "des quartiers. Mis à jour automatiquement : ne le modifiez pas ici.")


def build_feed(spec: FeedSpec, today: date, base_url: str, default_timezone: str, owner_name: str = "") -> bytes:
    # Thousands of rows and lines, no cycles among them: the cyclic collector has nothing to find.
    with gc_paused():
        return _build_feed(spec, today, base_url, default_timezone, owner_name)


def _build_feed(spec: FeedSpec, today: date, base_url: str, default_timezone: str, owner_name: str) -> bytes:
    ctx = RenderContext(base_url=base_url, include_people=spec.private, horizon=default_horizon(today))
    if spec.scope == "place":
        ctx.place_id = db.session.scalar(sa.select(Place.id).where(Place.slug == spec.value))
    # What every series' text depends on besides the series itself (read before the series).
    basis = "|".join((str(db.session.scalar(sa.select(ScopeVersion.version).where(ScopeVersion.scope == EVERYTHING))),
                      ctx.required_horizon().isoformat(), base_url, str(ctx.place_id), _RENDERING,
                      str(db.engine.url)))
    kept = _fragments.get(spec.key)
    if kept is not None and kept.basis != basis:
        kept = None
    series = _series_versions(spec, today)
    stale = [i for i, v in series.items() if kept is None or kept.parts.get(i, (None,))[0] != v]
    parts = {}
    if stale:
        # Only the series written since the last build are read and rendered; a first build reads all.
        events = feed_rows(spec, today, only=stale if kept is not None and len(stale) <= _FEW else None)
        _load_context(spec, events, ctx)
        for e in events:
            if e.id in series:
                parts[e.id] = (series[e.id], render_fragment(e, ctx))
        _count_renders(len(events))
    if kept is not None:
        for i in series:
            if i not in parts and i in kept.parts and kept.parts[i][0] == series[i]:
                parts[i] = kept.parts[i]
    _keep_fragments(spec.key, _SeriesFragments(basis, parts))
    return assemble_calendar([parts[i][1] for i in sorted(parts)], feed_head(spec, default_timezone, owner_name), ctx)


def _load_context(spec: FeedSpec, events: list, ctx: RenderContext) -> None:
    """Places and people that only moved occurrences name: loaded in one query each."""
    place_ids = {x.place_id for e in events for x in e.exceptions if x.place_id is not None}
    if ctx.place_id is not None:
        place_ids.add(ctx.place_id)
    if place_ids:
        ctx.places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_(place_ids)))}
    if spec.private:
        person_ids = {i for e in events for x in e.exceptions for i in (x.person_ids or [])}
        if person_ids:
            ctx.people = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(person_ids)))}


# --- fragments: each series' text as last rendered --------------------------------------------
# A write raises the version of each event it touches (models/versions.py), and `*` for what shows
# everywhere (places, partners, people): a series whose version and `*` did not move since the
# last build renders the same bytes, so a rebuild reads and renders only the series written since
# and reassembles the rest (a national all.ics: 25,000 series, 4.5 s to render, 21 MB).

# Past this many series written since the last build, all are read again at once (a list of ids
# that long costs more than the rows).
_FEW = 2000


@dataclass
class _SeriesFragments:
    basis: str
    parts: dict[int, tuple[int, Fragment]]  # event id -> (its version, its text)

    @property
    def size(self) -> int:
        return sum(len(f.body) for _, f in self.parts.values())


_fragments: OrderedDict[str, _SeriesFragments] = OrderedDict()
_fragments_lock = threading.Lock()
_renders = 0


def _series_versions(spec: FeedSpec, today: date) -> dict[int, int]:
    """The feed's series and the version of each (0: never written since the last bulk load), in
    one query."""
    selection = _feed_query(spec, today).whereclause
    assert selection is not None  # _feed_query always filters
    version = sa.func.coalesce(ScopeVersion.version, 0)
    query = sa.select(Event.id, version, *([Event.audience_tags] if spec.tag else [])).outerjoin(
        ScopeVersion, ScopeVersion.scope == sa.literal("event:") + sa.cast(Event.id, sa.String)).where(selection)
    rows = db.session.execute(query).all()
    if spec.tag:
        tag = spec.tag.casefold()
        rows = [r for r in rows if any(t.casefold() == tag for t in (decode_json_list(r[2]) if isinstance(r[2], str)
                                                                      else r[2]) or [])]
    return {r[0]: r[1] for r in rows}


def _keep_fragments(key: str, kept: _SeriesFragments) -> None:
    with _fragments_lock:
        _fragments.pop(key, None)
        _fragments[key] = kept
        total = sum(k.size for k in _fragments.values())
        while total > MEMORY_BYTES and len(_fragments) > 1:
            _, evicted = _fragments.popitem(last=False)
            total -= evicted.size


def _count_renders(n: int) -> None:
    global _renders
    with _fragments_lock:
        _renders += n


def series_rendered() -> int:
    """How many series this process has rendered into feeds (tests: a rebuild renders only the
    series written since the last one)."""
    return _renders


_memory: OrderedDict[str, FeedVersion] = OrderedDict()
_memory_bytes = 0
_memory_lock = threading.Lock()
# Versions without their bytes (ETag, date), of feeds whose clients already held them when this
# process answered: enough for their next 304 without the database. A few hundred bytes each.
_heads: OrderedDict[str, FeedVersion] = OrderedDict()
HEADS_KEPT = 100_000


def _remember(key: str, version: FeedVersion) -> None:
    global _memory_bytes
    with _memory_lock:
        _heads.pop(key, None)
        old = _memory.pop(key, None)
        if old is not None:
            _memory_bytes -= len(old.body)
        if len(version.body) > MEMORY_BYTES:
            return
        _memory[key] = version
        _memory_bytes += len(version.body)
        while _memory_bytes > MEMORY_BYTES:
            _, evicted = _memory.popitem(last=False)
            _memory_bytes -= len(evicted.body)


# A reader waits this long at most for the build in flight of the feed it asks for, then builds it.
BUILD_WAIT_SECONDS = 10.0
_building: dict[tuple[str, str], threading.Event] = {}  # (feed key, marker) -> set when built

# --- rebuilding after a write (scheduler/rebuild.py) ------------------------------------------

# The public feeds this process served lately, rebuilt after a write that changes them: the most
# recently asked first, at most REBUILT_AT_MOST (the others are built by their next reader).
REBUILT_AT_MOST = 16
_recipes: OrderedDict[str, tuple[FeedSpec, str, str, str]] = OrderedDict()


def _note_recipe(spec: FeedSpec, base_url: str, default_timezone: str, owner_name: str) -> None:
    with _memory_lock:
        _recipes.pop(spec.key, None)
        _recipes[spec.key] = (spec, base_url, default_timezone, owner_name)
        while len(_recipes) > 4 * REBUILT_AT_MOST:
            _recipes.popitem(last=False)


def _still_exists(spec: FeedSpec) -> bool:
    """What the feed names still exists (a deleted place's feed is a 404, not an empty feed)."""
    column = {"partner": Partner.slug, "place": Place.slug, "quartier": Quartier.code}.get(spec.scope)
    if column is not None:
        return db.session.scalar(sa.select(sa.literal(1)).where(column == spec.value)) is not None
    if spec.scope == "event":
        return db.session.scalar(sa.select(Event.id).where(Event.id == int(spec.value),
                                                           Event.visibility == "public")) is not None
    return True


def rebuild_feeds(raised: set[str], config) -> None:
    """Rebuilds the whole territory's feed and the feeds this process served lately that show
    the scopes a committed write raised (scheduler/rebuild.py's hook; `config`: the app's)."""
    everything = FeedSpec("all")
    with _memory_lock:
        recent = list(reversed(_recipes.values()))
    recipes = {everything.key: (everything, config["BASE_URL"], config["DEFAULT_TIMEZONE"], "")}
    for recipe in recent:
        recipes.setdefault(recipe[0].key, recipe)
    for spec, base_url, default_timezone, owner_name in list(recipes.values())[:REBUILT_AT_MOST]:
        if not shows(spec.scopes, raised):
            continue
        if not _still_exists(spec):
            with _memory_lock:
                _recipes.pop(spec.key, None)
            continue
        _, changed = current_feed(spec, base_url=base_url, default_timezone=default_timezone, owner_name=owner_name)
        if changed:
            db.session.commit()


HOOKS.append(rebuild_feeds)


def _remember_head(key: str, version: FeedVersion) -> None:
    with _memory_lock:
        known = _memory.get(key)
        if known is not None and known.marker == version.marker:
            return  # the bytes are held already
        _heads[key] = version
        _heads.move_to_end(key)
        while len(_heads) > HEADS_KEPT:
            _heads.popitem(last=False)


def feeds_in_memory() -> int:
    """How many feeds this process holds the bytes of (tests: what was built, what was not)."""
    return len(_memory)


def forget_feeds() -> None:
    """Empties this process's memory of feed bytes, series fragments and feeds served lately (tests,
    benchmarks' cold runs)."""
    global _memory_bytes
    with _memory_lock:
        _memory.clear()
        _heads.clear()
        _memory_bytes = 0
        _recipes.clear()
    with _fragments_lock:
        _fragments.clear()


def feed_marker(spec: FeedSpec, today: date, *parts: str) -> str:
    """What a feed's bytes are built from, in a few characters: the versions of its scopes (from
    memory, else one query), the day, the rendering code and the caller's `parts` (settings, the
    owner's name)."""
    return _marker(versions_of(spec.scopes), today, parts)


def _marker(versions: str, today: date, parts: tuple[str, ...]) -> str:
    text = "|".join((versions, today.isoformat(), _RENDERING, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def feed_in_memory(spec: FeedSpec, *, base_url: str, default_timezone: str, owner_name: str = "",
                   now: datetime | None = None, held=None, engine: sa.Engine | None = None) -> FeedVersion | None:
    """The feed as this process holds it under the current marker, known without the database
    (the versions this process remembers and trusts): with its bytes, or without them when
    `held(version)` says the client holds that version already (a 304). None: ask
    `current_feed`. Whatever `current_feed` checks on a miss (the feed's partner or place
    exists, a private link is active) held when it was built under this marker, and anything
    that would change it moves the marker. `engine`: outside an app context, the app's."""
    versions = known_versions_of(spec.scopes, engine)
    if versions is None:
        return None
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(default_timezone)).date()
    marker = _marker(versions, today, (base_url, default_timezone, owner_name))
    key = spec.key
    known = _memory.get(key)
    if known is not None and known.marker == marker:
        return known
    head = _heads.get(key)
    if head is not None and head.marker == marker and held is not None and held(head):
        return head
    return None


def current_feed(spec: FeedSpec, *, base_url: str, default_timezone: str, owner_name: str = "",
                 now: datetime | None = None, exists=None, held=None) -> tuple[FeedVersion, bool]:
    """The feed as it is now, and whether the FeedState row changed (the caller commits it).
    `exists()` (raising when the feed's partner, place… is unknown) is only called when this
    process does not hold the feed under the current marker: a poll answered from memory costs
    one query (the marker), and a deletion moves the marker. `held(version)` says whether the
    client already holds that version (its If-None-Match): then a version without bytes is
    enough (304), read from the stored state without the bytes.

    The marker is read before the events: a write committed between the two makes the next
    request rebuild again, never serves old bytes under a new marker."""
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(default_timezone)).date()
    marker = feed_marker(spec, today, base_url, default_timezone, owner_name)
    key = spec.key
    known = _memory.get(key)
    if known is not None and known.marker == marker:
        # Built under this very marker: what it names existed then, and nothing changed since.
        return known, False
    if exists is not None:
        exists()
    if not (spec.private or spec.for_person):
        _note_recipe(spec, base_url, default_timezone, owner_name)
    in_flight = _building.get((key, marker))
    if in_flight is not None:
        # This process is building it under this very marker (the rebuild after a write): wait
        # for it rather than build it twice.
        in_flight.wait(BUILD_WAIT_SECONDS)
        known = _memory.get(key)
        if known is not None and known.marker == marker:
            return known, False
    flight = threading.Event()
    _building[(key, marker)] = flight
    try:
        return _current_feed(spec, key, marker, now, today, base_url, default_timezone, owner_name, held)
    finally:
        _building.pop((key, marker), None)
        flight.set()


def _current_feed(spec: FeedSpec, key: str, marker: str, now: datetime, today: date, base_url: str,
                  default_timezone: str, owner_name: str, held) -> tuple[FeedVersion, bool]:
    known = _memory.get(key)
    state = db.session.get(FeedState, key)
    if state is not None and state.marker == marker:
        if known is not None and known.etag == state.etag:
            version = FeedVersion(marker, state.etag, state.last_modified, known.body)
            _remember(key, version)
            return version, False
        current = FeedVersion(marker, state.etag, state.last_modified)  # no bytes
        if held is not None and held(current):
            _remember_head(key, current)
            return current, False
        body = state.body  # another process built it: read, not built again (written with its ETag)
        if body is not None:
            version = FeedVersion(marker, state.etag, state.last_modified, bytes(body))
            _remember(key, version)
            return version, False
    body = build_feed(spec, today, base_url, default_timezone, owner_name)
    etag = hashlib.sha256(body).hexdigest()[:32]
    second = now.replace(microsecond=0)
    if state is None:
        state = FeedState(key=key, marker=marker, etag=etag, last_modified=second, body=body)
        db.session.add(state)
    elif state.etag != etag:
        # HTTP dates count whole seconds: a change within the second of the last one still moves it.
        state.last_modified = max(second, state.last_modified + timedelta(seconds=1))
        state.etag, state.marker, state.body = etag, marker, body
    else:
        # Same bytes under a new marker (a write elsewhere in its scopes): same ETag, same date.
        state.marker = marker
        if db.session.scalar(sa.select(FeedState.key).where(FeedState.key == key, FeedState.body.is_(None))):
            state.body = body  # a state from before bytes were kept
    version = FeedVersion(marker, etag, state.last_modified, body)
    try:
        with brief_sqlite_lock_wait():  # SQLite: a poll waits for no big import's write lock
            db.session.flush()
    except sa.exc.DBAPIError:
        # The database refuses writes (read-only, full disk, SQLite's write lock held by an
        # import): the feed is served all the same, from this process's memory until the state
        # can be written again.
        db.session.rollback()
        _remember(key, version)
        return version, False
    _remember(key, version)
    return version, True
