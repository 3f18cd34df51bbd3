"""Writes nobody waits behind: once a write is committed, the process that made it rebuilds, in a
background thread, the feeds and pages it changed (those this process served lately, and the
national ones: /feeds/all.ics and the home page), so that the next reader finds them built.

Why the writer's process and not the clock: it knows at once what its write changed (the scopes
its commit raised, models/versions.py), it holds the fragments of the last build (each series'
text, each series' expansion: a rebuild re-renders only what was written), and what it builds
goes where every process reads it (FeedState, page_states) as well as into its own memory. A
worker that dies before the rebuild ends loses nothing: the rebuild is a cache fill, never the
write's.

Freshness does not depend on it: a reader computes the marker of what it asks (the versions of
its scopes, read first) and is served only what was built under that marker. A reader that comes
before the rebuild ends waits for it in this process (the build in flight under the same marker),
or builds it itself in another process; never the old version. A rebuild that fails is logged and
left to the next reader, who builds as before.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, has_app_context

from models import db
from models.versions import COMMITTED_SCOPES_LISTENERS

log = logging.getLogger("maillage.rebuild")

# What a module registers: called in the background, in an app context, with the scopes the write
# raised and the app's config; rebuilds what it holds of them (scheduler.ical.feeds.rebuild_feeds,
# web.public.cache.rebuild_pages).
Hook = Callable[[set[str], Mapping[str, Any]], None]
HOOKS: list[Hook] = []


class Rebuilder:
    """One background thread per app and process; the scopes of writes committed while it builds
    are gathered and rebuilt at once after."""

    def __init__(self, app: Flask):
        self.app = app
        self.pending: set[str] = set()
        self.busy = False
        self.failures = 0
        self.condition = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, scopes: set[str]) -> None:
        with self.condition:
            self.pending |= scopes
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="maillage-rebuild", daemon=True)
                self.thread.start()
            self.condition.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is pending nor building (tests, benchmarks)."""
        with self.condition:
            return self.condition.wait_for(lambda: not self.pending and not self.busy, timeout)

    def _run(self) -> None:
        while True:
            with self.condition:
                self.condition.wait_for(lambda: self.pending)
                scopes, self.pending, self.busy = self.pending, set(), True
            try:
                self.rebuild(scopes)
            finally:
                with self.condition:
                    self.busy = False
                    self.condition.notify_all()

    def rebuild(self, scopes: set[str]) -> None:
        with self.app.app_context():
            for hook in HOOKS:
                try:
                    hook(scopes, self.app.config)
                except Exception:  # a cache fill: the next reader builds what this one could not
                    self.failures += 1
                    log.exception("reconstruction en arrière-plan impossible (%s)", getattr(hook, "__name__", hook))
                    db.session.rollback()
            db.session.remove()


def rebuilder(app: Flask) -> Rebuilder:
    found = app.extensions.get("rebuilder")
    if found is None:
        found = app.extensions["rebuilder"] = Rebuilder(app)
    return found


def _after_commit(scopes: set[str]) -> None:
    if has_app_context() and current_app.config.get("REBUILD_AFTER_WRITES"):
        rebuilder(current_app._get_current_object()).submit(set(scopes))  # type: ignore[attr-defined]


COMMITTED_SCOPES_LISTENERS.append(_after_commit)


def shows(scopes_shown: tuple[str, ...], raised: set[str]) -> bool:
    """Whether something cached under these scopes (and `*`, which every reader reads) changed."""
    return "*" in raised or not raised.isdisjoint(scopes_shown)
