"""Public pages are cached under the versions of the scopes they show (`models.versions`:
everything, or a place, a quartier, a partner, an event): a write raises those it touches in its
own transaction, so a page is never older than the data it shows, a write rebuilds only the pages
that show it, and a cached page costs one small read."""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from models import db
from models.base import read_without_transaction
from models.versions import (
    ALL_EVENTS,
    share_page,
    shared_page,
    versions_of,
)
from scheduler.rebuild import HOOKS, shows
from web.public.listing import local_today

# --- a cache that is never stale --------------------------------------------------------------

# What a page's bytes depend on besides the data and the settings: the code and templates that
# write them. A release that writes pages differently does not serve, from the pages the
# processes share, what the old code wrote.
_PAGE_CODE = hashlib.sha256(b"".join(
    path.read_bytes() for folder in ("templates", "static", "web", "scheduler", "models")
    for path in sorted((Path(__file__).resolve().parents[2] / folder).rglob("*"))
    if path.is_file() and path.suffix != ".pyc")).hexdigest()[:12]


class PageCache:
    """Rendered pages (bytes) keyed by what they show and the versions of their scopes (read
    first). Two levels: this process's memory, then, for the pages everyone asks for, the pages
    the processes share (`page_states`): a write makes one process build each page it changes,
    not every process. Entries of older versions are never asked for again and leave memory as
    the least recently used."""

    def __init__(self, size: int = 1024):
        self.size = size
        self.pages: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.building: dict[tuple, threading.Event] = {}  # set when the page is in self.pages
        # The shared pages this process served lately, by what they show: rebuilt after a write
        # that changes them (rebuild_pages).
        self.recipes: OrderedDict[tuple, tuple[tuple[str, ...], str, str]] = OrderedDict()

    def get_or_build(self, scopes: tuple[str, ...], key: tuple, build, shared: bool = False) -> bytes:
        versions, today = versions_of(scopes), local_today()
        local = (versions, today, *key)
        with self.lock:
            if local in self.pages:
                self.pages.move_to_end(local)
                return self.pages[local]
        in_flight = self.building.get(local)
        if in_flight is not None:
            # This process is building it under these very versions (the rebuild after a
            # write): wait for it rather than build it twice.
            in_flight.wait(BUILD_WAIT_SECONDS)
            with self.lock:
                if local in self.pages:
                    return self.pages[local]
        flight = threading.Event()
        self.building[local] = flight
        try:
            return self._build(scopes, key, build, shared, local)
        finally:
            self.building.pop(local, None)
            flight.set()

    def _build(self, scopes: tuple[str, ...], key: tuple, build, shared: bool, local: tuple) -> bytes:
        versions, today = local[0], local[1]
        value = None
        if shared:
            self.note_recipe(scopes, key)
            config = current_app.config
            shared_key = hashlib.sha256(repr(key).encode()).hexdigest()
            marker = hashlib.sha256("|".join((
                versions, today.isoformat(), _PAGE_CODE, config["BASE_URL"], config["DEFAULT_TIMEZONE"],
                str(config["SCREEN_REFRESH_SECONDS"]), request.script_root)).encode()).hexdigest()
            value = shared_page(shared_key, marker)
        if value is None:
            value = build()
            if isinstance(value, str):
                value = value.encode()
            if shared:
                share_page(shared_key, marker, value)
        with self.lock:
            self.pages[local] = value
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)
        return value

    def note_recipe(self, scopes: tuple[str, ...], key: tuple) -> None:
        with self.lock:
            self.recipes.pop(key, None)
            self.recipes[key] = (scopes, request.full_path, request.url_root)
            while len(self.recipes) > 4 * REBUILT_AT_MOST:
                self.recipes.popitem(last=False)


# A reader waits this long at most for the build in flight of the page it asks for, then builds it.
BUILD_WAIT_SECONDS = 10.0
# After a write, the shared pages this process served lately that show it are rebuilt, the most
# recently asked first, at most this many (the others are built by their next reader).
REBUILT_AT_MOST = 16


def rebuild_pages(raised: set[str], config) -> None:
    """Rebuilds the home page and the pages this process served lately that show the scopes a
    committed write raised (scheduler/rebuild.py's hook): each through its own view, in a request
    of its own, so that it is built exactly as a reader's request would build it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = page_cache()
    with cache.lock:
        recent = list(reversed(cache.recipes.values()))
    home = ((ALL_EVENTS,), "/", app.config["BASE_URL"] + "/")
    chosen = [home] + [r for r in recent if r[1:] != home[1:] and r[1].rstrip("?") != "/"]
    for scopes, path, url_root in chosen[:REBUILT_AT_MOST]:
        if not shows(scopes, raised):
            continue
        with app.test_request_context(path, base_url=url_root):
            try:
                read_without_transaction()
                app.dispatch_request()
            except HTTPException:  # gone since (a deleted place's page): nothing to build
                pass
            finally:
                db.session.remove()


HOOKS.append(rebuild_pages)


def page_cache() -> PageCache:
    return current_app.extensions["page_cache"]


def is_shareable() -> bool:
    """Whether this page goes to the pages the processes share: those of today, which everyone
    asks for; another day (`?du=`, any of 733) stays in this process, so that a crawler walking
    the days fills no table."""
    return "du" not in request.args


def cached_html(scopes: tuple[str, ...], key: tuple, build, shared: bool = True) -> Response:
    html = page_cache().get_or_build(scopes, (request.endpoint, *key), build, shared=shared and is_shareable())
    return Response(html, mimetype="text/html")


