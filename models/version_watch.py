"""This process's memory of the scope versions (models/versions.py), and the signal that keeps it
true without asking the database at each request.

A feed poll or a page view needs the versions of a few scopes to know whether what it holds is
current; asking PostgreSQL costs a round trip (and a pooled connection's checkout) per request,
most of what a 304 costs. So each process keeps the versions it read, and forgets them when the
database says they moved:

- PostgreSQL: every transaction that raises versions also sends `NOTIFY maillage_versions` with
  the scopes raised, delivered to every listening process when (and only if) it commits. Each
  process keeps one connection listening and reads what arrived, without waiting, before it
  trusts its memory (a `select` on the socket: a system call, no round trip).
- SQLite (one machine, one file): any commit changes the database file or its journal; the
  memory is forgotten when their size or modification time moved, and trusted only once the file
  has been still for longer than a filesystem's clock tick (a second write within the same tick
  would leave the time unchanged).

What is remembered is also forgotten after `TRUSTED_FOR` seconds, so that a listening connection
that died without the socket saying so (a network cut) leaves a process behind for that long at
most. A write made by this process is forgotten at its commit (after_commit), before its notice
comes back. Between a commit in another process and its notice being read, a poll there answers
as it would have a moment before the write: notices travel in well under a millisecond on one
machine, less than a request takes.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

CHANNEL = "maillage_versions"
FORGET_ALL = "!"  # a notice too long for NOTIFY's payload (8,000 bytes): everything moved
_PAYLOAD_MAX = 7900
TRUSTED_FOR = 30.0  # seconds a version read is trusted without a fresh read (see above)
_RETRY_AFTER = 1.0  # seconds between two attempts to listen again after a failure
_STILL_FOR_NS = 50_000_000  # SQLite: the file unchanged for 50 ms (Linux ticks are 1–10 ms)


def notice_payload(scopes: Iterable[str]) -> str:
    text = ",".join(sorted(scopes))
    return text if len(text.encode()) <= _PAYLOAD_MAX else FORGET_ALL


class VersionWatch:
    """The versions one process remembers for one database, and whether it may trust them now."""

    def __init__(self) -> None:
        self.versions: dict[str, tuple[int, float]] = {}  # scope -> (version, read at, monotonic)
        self.changes = 0  # raised by every forgetting: a read that overlapped one is not remembered
        self.lock = threading.Lock()

    # --- what a subclass says ---------------------------------------------------------------
    def _catch_up(self) -> bool:
        """Reads what changed since last time (forgetting it); False when the memory cannot be
        trusted now (no signal)."""
        raise NotImplementedError

    def _listening(self) -> bool:
        """Makes sure the signal is received from now on (before a read that will be remembered)."""
        return True

    # --- what versions.py asks ------------------------------------------------------------
    def known(self, scopes: list[str]) -> dict[str, int] | None:
        """The versions of these scopes from memory, or None when one is not known or not trusted."""
        with self.lock:
            if not self._catch_up():
                return None
            now = time.monotonic()
            found = {}
            for scope in scopes:
                entry = self.versions.get(scope)
                if entry is None or now - entry[1] > TRUSTED_FOR:
                    return None
                found[scope] = entry[0]
            return found

    def ticket(self) -> int | None:
        """Taken before reading versions from the database: `remember` keeps them only if nothing
        was forgotten meanwhile (the read may have seen the state before that write)."""
        with self.lock:
            if not self._listening():
                return None
            self._catch_up()
            return self.changes

    def remember(self, versions: dict[str, int], ticket: int | None) -> None:
        with self.lock:
            if ticket is None or not self._catch_up() or ticket != self.changes:
                return
            now = time.monotonic()
            self.versions.update((scope, (version, now)) for scope, version in versions.items())

    def forget(self, scopes: Iterable[str] | None = None) -> None:
        """Forgets these scopes (None or FORGET_ALL among them: every scope)."""
        with self.lock:
            self._forget(scopes)

    def _forget(self, scopes: Iterable[str] | None) -> None:
        self.changes += 1
        scopes = None if scopes is None else list(scopes)
        if scopes is None or FORGET_ALL in scopes:
            self.versions.clear()
        else:
            for scope in scopes:
                self.versions.pop(scope, None)


class PostgresWatch(VersionWatch):
    """LISTEN on a connection of its own, taken from the engine and kept out of its pool."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        self.engine = engine
        self.connection: Any = None  # psycopg connection, autocommit, listening
        self.retry_at = 0.0

    def _listening(self) -> bool:
        if self.connection is not None:
            return True
        if time.monotonic() < self.retry_at:
            return False
        try:
            proxied = self.engine.raw_connection()
            proxied.detach()  # this process's listener for its life, not a pooled connection
            connection: Any = proxied.dbapi_connection
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception as error:  # the database is down: the requests read it (and fail) as before
            log.warning("Versions : écoute des changements impossible (%s) ; lecture à chaque requête.", error)
            self.retry_at = time.monotonic() + _RETRY_AFTER
            return False
        self.connection = connection
        self._forget(None)  # what was remembered before listening is not known to be current
        return True

    def _catch_up(self) -> bool:
        connection = self.connection
        if connection is None:
            return False
        try:
            if select.select([connection.fileno()], [], [], 0)[0]:
                pgconn = connection.pgconn
                pgconn.consume_input()
                while (notice := pgconn.notifies()) is not None:
                    self._forget(notice.extra.decode().split(","))
                if pgconn.status != 0:  # CONNECTION_OK
                    raise OSError("connection lost")
        except Exception as error:  # a dead listener: forget, read the database, listen again
            log.warning("Versions : écoute des changements interrompue (%s).", error)
            self._forget(None)
            self.connection = None
            try:
                connection.close()
            except Exception:  # already gone
                pass
            return False
        return True


class SqliteWatch(VersionWatch):
    """The database file and its journals, by size and modification time."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.paths = [path, path + "-journal", path + "-wal"]
        self.signature: tuple | None = None

    def _catch_up(self) -> bool:
        signature: list[tuple[int, int, int] | None] = []
        for path in self.paths:
            try:
                s = os.stat(path)
                signature.append((s.st_ino, s.st_size, s.st_mtime_ns))
            except OSError:
                signature.append(None)
        signature_t = tuple(signature)
        if signature_t != self.signature:
            self._forget(None)
            self.signature = signature_t
        newest = max((s[2] for s in signature_t if s is not None), default=0)
        return time.time_ns() - newest > _STILL_FOR_NS


class _Untrusted(VersionWatch):
    """A database without a signal (SQLite in memory): every request reads the versions."""

    def _catch_up(self) -> bool:
        return False


_watches: weakref.WeakKeyDictionary[sa.Engine, tuple[int, VersionWatch]] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


def watch_of(engine: sa.Engine) -> VersionWatch:
    """The watch of this engine in this process (a forked process starts its own)."""
    pid = os.getpid()
    found = _watches.get(engine)
    if found is not None and found[0] == pid:
        return found[1]
    with _watches_lock:
        found = _watches.get(engine)
        if found is None or found[0] != pid:
            if engine.dialect.name == "postgresql":
                watch: VersionWatch = PostgresWatch(engine)
            elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
                watch = SqliteWatch(os.path.abspath(engine.url.database))
            else:
                watch = _Untrusted()
            found = (pid, watch)
            _watches[engine] = found
        return found[1]


def forget_everywhere_in_this_process() -> None:
    """Every watch of this process forgets (tests that empty tables behind the ORM's back)."""
    for _, watch in list(_watches.values()):
        watch.forget(None)
