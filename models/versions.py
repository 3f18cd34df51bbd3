"""Versions of the calendar by scope: counters raised in the same transaction as every write that
can change what a feed or a public page shows, so that what is cached under them is never stale
and a write throws away only what shows it.

Scopes (strings, by slug or code so that a reader needs no lookup to name its own):
- `*`: everything; raised by writes to places, partners, people and quartiers (names, addresses,
  quartiers of places: they show everywhere) and by bulk loads;
- `accounts`: who may read what a private feed link shows: its token (created, revoked) and its
  owner (deactivated, deleted, another role, partner or territory, another name);
- `events`: any event or occurrence written (the whole calendar: home page, /feeds/all.ics,
  private links of users);
- `event:<id>`, `place:<slug>`, `quartier:<code>`, `partner:<slug>`: an event write raises those
  of the event, of its place and the places its moved occurrences go to, of their quartiers, and
  of its organisers, before and after the write.

A reader reads `*` and its own scopes in one query, before the data: a page built from newer data
under an older version is only a wasted cache entry, never a stale one. Rows are updated at
commit time (sorted, `*` and `events` first, so that concurrent writers queue on the same rows in
the same order) and follow commit order. Each process remembers the versions it read and is told
when they move (models/version_watch.py): a reader whose scopes did not move asks nothing.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import chain

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from models.base import Model, UTCDateTime, brief_sqlite_lock_wait, db, dialect_insert, utcnow
from models.events import Event, event_organisers
from models.partners import Partner
from models.territory import Place, Quartier
from models.version_watch import CHANNEL, notice_payload, watch_of

EVERYTHING = "*"
ALL_EVENTS = "events"
ACCOUNTS = "accounts"


class ScopeVersion(Model):
    __tablename__ = "scope_versions"

    scope: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger)


def event_scope(event_id: int) -> str:
    return f"event:{event_id}"


def place_scope(slug: str) -> str:
    return f"place:{slug}"


def quartier_scope(code: str) -> str:
    return f"quartier:{code}"


def partner_scope(slug: str) -> str:
    return f"partner:{slug}"


_SHOWN_EVERYWHERE = {"places", "partners", "quartiers", "people"}
# A user's row is written at every visit of the coordination pages (last_seen_at): only what a
# private feed link depends on raises `accounts`.
_ACCOUNT_ATTRIBUTES = ("is_active_account", "partner_id", "role", "name", "email", "quartiers")
_PENDING = "maillage_scopes_changed"  # session.info: scopes to raise at commit
_RAISED = "maillage_scopes_raised"  # session.info: scopes raised, forgotten by this process at commit


def _history_values(obj, attribute: str) -> list:
    """The attribute's value now and before the flush (a move changes a place: both are shown)."""
    history = sa.inspect(obj).attrs[attribute].history
    return [v for v in chain(history.added, history.unchanged, history.deleted) if v is not None]


class _Pending:
    """What the flushes of a transaction wrote, gathered without queries; turned into scopes once,
    at commit."""

    def __init__(self) -> None:
        self.scopes: set[str] = set()
        self.event_ids: set[int] = set()
        self.place_ids: set[int] = set()
        self.partner_ids: set[int] = set()

    def note(self, objects: Iterable, deleted: bool = False) -> None:
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table in _SHOWN_EVERYWHERE:
                self.scopes.add(EVERYTHING)
            elif table == "feed_tokens":
                self.scopes.add(ACCOUNTS)
            elif table == "users":
                state = sa.inspect(obj)
                if deleted or state.pending or any(state.attrs[a].history.has_changes() for a in _ACCOUNT_ATTRIBUTES):
                    self.scopes.add(ACCOUNTS)
            elif table == "events":
                if obj.id is not None:
                    self.event_ids.add(obj.id)
                self.place_ids.update(_history_values(obj, "place_id"))
                # Unloaded collections give no history: their organisers are read at commit.
                self.partner_ids.update(p.id for p in _history_values(obj, "organisers") if p.id is not None)
            elif table == "occurrence_exceptions":
                if obj.event_id is not None:
                    self.event_ids.add(obj.event_id)
                self.place_ids.update(_history_values(obj, "place_id"))

    def resolve(self, connection) -> set[str]:
        """The scopes: those noted, and those of the events, their places (and quartiers) and
        organisers as the database has them now."""
        scopes = set(self.scopes)
        if not (self.event_ids or self.place_ids or self.partner_ids):
            return scopes
        scopes.add(ALL_EVENTS)
        scopes.update(event_scope(i) for i in self.event_ids)
        place_ids, partner_ids = set(self.place_ids), set(self.partner_ids)
        if self.event_ids:
            place_ids.update(connection.scalars(sa.select(Event.place_id).where(Event.id.in_(self.event_ids))))
            partner_ids.update(connection.scalars(sa.select(event_organisers.c.partner_id)
                                                  .where(event_organisers.c.event_id.in_(self.event_ids))))
        if place_ids:
            for slug, code in connection.execute(sa.select(Place.slug, Quartier.code).outerjoin(
                    Quartier, Place.quartier_id == Quartier.id).where(Place.id.in_(place_ids))):
                scopes.add(place_scope(slug))
                if code is not None:
                    scopes.add(quartier_scope(code))
        if partner_ids:
            scopes.update(partner_scope(s) for s in connection.scalars(
                sa.select(Partner.slug).where(Partner.id.in_(partner_ids))))
        return scopes


def _pending(session: Session) -> _Pending:
    return session.info.setdefault(_PENDING, _Pending())


_WATCHED = _SHOWN_EVERYWHERE | {"events", "occurrence_exceptions", "feed_tokens", "users"}


@sa.event.listens_for(Session, "before_flush")
def _note_deleted_events(session, flush_context, instances) -> None:
    # A deleted event's place and organisers are read now, while its rows still exist.
    deleted = [obj for obj in session.deleted if getattr(obj, "__tablename__", None) in _WATCHED]
    if deleted:
        gone = _Pending()
        gone.note(deleted, deleted=True)
        _pending(session).scopes.update(gone.resolve(session.connection()))


@sa.event.listens_for(Session, "after_flush")
def _note_written(session, flush_context) -> None:
    # After the flush, new rows have their ids and attribute history still holds the old values.
    written = [obj for obj in chain(session.new, session.dirty) if getattr(obj, "__tablename__", None) in _WATCHED]
    if written:
        _pending(session).note(written)


# What is pending is never cleared on rollback: a rolled-back savepoint may leave earlier flushed
# changes in the transaction, and one needless raise costs a rebuild, nothing more.
@sa.event.listens_for(Session, "before_commit")
def _raise_written_scopes(session) -> None:
    session.flush()  # commit would flush after this hook, and the flush says what to raise
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        scopes = pending.resolve(session.connection())
        if scopes:
            raise_versions(scopes, session)
            session.info.setdefault(_RAISED, set()).update(scopes)


# Called with the scopes a transaction raised, once it is committed (scheduler/rebuild.py rebuilds
# in the background the feeds and pages that show them).
COMMITTED_SCOPES_LISTENERS: list = []


@sa.event.listens_for(Session, "after_commit")
def _forget_raised_scopes(session) -> None:
    # This process's own write is forgotten now, before its notice comes back: its next reader
    # reads the new versions.
    raised = session.info.pop(_RAISED, None)
    if raised:
        watch_of(session.get_bind()).forget(raised)
        for listener in COMMITTED_SCOPES_LISTENERS:
            listener(raised)


@sa.event.listens_for(Session, "after_rollback")
def _nothing_raised(session) -> None:
    session.info.pop(_RAISED, None)


@contextmanager
def written_scopes_forgotten(session: Session):
    """Inside, what flushes note as written is forgotten at the end: for writes made in a savepoint
    rolled back on purpose (a dry run), which change nothing any cache shows."""
    kept = session.info.pop(_PENDING, None)
    try:
        yield
    finally:
        session.info.pop(_PENDING, None)
        if kept is not None:
            session.info[_PENDING] = kept


def raise_versions(scopes: Iterable[str] = (EVERYTHING,), session: Session | sa.Connection | None = None) -> None:
    """Raises the versions of these scopes (by default everything: for writes that bypass the ORM,
    such as bulk loads, which pass their connection). A scope never raised before starts at a
    random number, so that no cache keyed by the number of a wiped database can be mistaken for
    the new data."""
    target: Session | scoped_session | sa.Connection = db.session if session is None else session
    scopes = set(scopes)
    first = [s for s in (EVERYTHING, ALL_EVENTS) if s in scopes]
    ordered = first + sorted(scopes - set(first))
    table = ScopeVersion.__table__
    statement = dialect_insert(target)(table).on_conflict_do_update(index_elements=["scope"],
                                                    set_={"version": table.c.version + 1})
    target.execute(statement, [{"scope": s, "version": secrets.randbits(48)} for s in ordered])
    dialect = target.dialect if isinstance(target, sa.Connection) else target.get_bind().dialect
    if dialect.name == "postgresql":
        # Delivered to every process's listener when this transaction commits, not before, not
        # if it rolls back (models/version_watch.py).
        target.execute(sa.select(sa.func.pg_notify(CHANNEL, notice_payload(ordered))))


_VERSIONS = sa.select(ScopeVersion.scope, ScopeVersion.version).where(
    ScopeVersion.scope.in_(sa.bindparam("scopes", expanding=True)))


def _as_text(wanted: list[str], found: dict[str, int]) -> str:
    return ",".join(f"{s}={found.get(s, 0)}" for s in wanted)


def known_versions_of(scopes: Iterable[str], engine: sa.Engine | None = None) -> str | None:
    """`versions_of` from this process's memory, without the database; None when it does not
    know them all or cannot trust them now (models/version_watch.py). `engine`: outside an app
    context (api/feeds.py, FeedPolls), the app's."""
    wanted = sorted({EVERYTHING, *scopes})
    found = watch_of(engine or db.engine).known(wanted)
    return None if found is None else _as_text(wanted, found)


def versions_of(scopes: Iterable[str]) -> str:
    """The versions of `*` and these scopes, as a text to key caches with: from this process's
    memory when it holds them all and nothing moved, else in one query (read through the
    session's connection, Core rows: a third of an ORM query), remembered for the next ones."""
    wanted = sorted({EVERYTHING, *scopes})
    watch = watch_of(db.engine)
    known = watch.known(wanted)
    if known is not None:
        return _as_text(wanted, known)
    ticket = watch.ticket()
    found = dict(db.session.connection().execute(_VERSIONS, {"scopes": wanted}).all())
    watch.remember({s: found.get(s, 0) for s in wanted}, ticket)
    return _as_text(wanted, found)


class PageState(Model):
    """A public page or poster as last built, shared by every web process: after a write, the
    first process asked builds it and the others read it (one query) instead of each building it
    again. A cache, not data: `marker` says what it was built from (the versions of its scopes,
    the day, the code, the settings), and a page is served from here only under the marker the
    reader computes itself, so it is never older than the data it shows."""

    __tablename__ = "page_states"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # what it shows: page, filters, day
    marker: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# Each key holds a day in it (the page's first day): yesterday's rows are never asked for again.
PAGE_STATES_KEPT = timedelta(days=2)


def shared_page(key: str, marker: str) -> bytes | None:
    """The page stored under this key if it was built under this very marker."""
    body = db.session.connection().execute(sa.select(PageState.body).where(
        PageState.key == key, PageState.marker == marker)).scalar()
    return bytes(body) if body is not None else None


def share_page(key: str, marker: str, body: bytes) -> bool:
    """Stores a page just built for the other processes, and drops those of past days. Commits
    (the request only reads otherwise). A database that refuses the write (read-only, full disk)
    costs the other processes a build of their own, not the page: False, nothing written."""
    now = utcnow()
    table = PageState.__table__
    values = {"marker": marker, "body": body, "built_at": now}
    try:
        with brief_sqlite_lock_wait():  # SQLite: a page waits for no big import's write lock
            db.session.execute(dialect_insert(db.session)(table).values(key=key, **values)
                               .on_conflict_do_update(index_elements=["key"], set_=values))
            db.session.execute(sa.delete(PageState).where(PageState.built_at < now - PAGE_STATES_KEPT))
            db.session.commit()
        return True
    except sa.exc.DBAPIError:
        db.session.rollback()
        return False
