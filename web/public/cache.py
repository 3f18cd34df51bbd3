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

from models.versions import (
    share_page,
    shared_page,
    versions_of,
)
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

    def get_or_build(self, scopes: tuple[str, ...], key: tuple, build, shared: bool = False) -> bytes:
        versions, today = versions_of(scopes), local_today()
        local = (versions, today, *key)
        with self.lock:
            if local in self.pages:
                self.pages.move_to_end(local)
                return self.pages[local]
        value = None
        if shared:
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


