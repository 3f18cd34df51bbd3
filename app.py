"""Maillage: the application factory. `app` is what gunicorn and the flask CLI load."""
from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from flask import Flask, Request, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, UnicodeConverter

from models import db
from models.base import end_session

migrate = Migrate()


class RowId(IntegerConverter):
    """`<int:…>` in URLs: row ids are 32-bit in the database, so a larger number is simply not
    found (404) instead of overflowing the driver (500); the OpenAPI document states the bound."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


class Text(UnicodeConverter):
    """`<slug>` and `<code>` in URLs: a NUL character names nothing (PostgreSQL even refuses it in a
    query), so such a URL matches no route: 404, not 500."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", "[^/\x00]")


class MaillageRequest(Request):
    """Bodies are limited to MAX_CONTENT_LENGTH (1 MB), except on the endpoints that take a whole
    calendar (UPLOAD_ENDPOINTS: IMPORT_MAX_CONTENT_LENGTH, 20 MB). The limit is read when the
    body is, so it holds for whoever reads it first (the CSRF check reads the form)."""

    @property
    def max_content_length(self) -> int | None:
        if self.endpoint in current_app.config["UPLOAD_ENDPOINTS"]:
            return current_app.config["IMPORT_MAX_CONTENT_LENGTH"]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        Request.max_content_length.fset(self, value)


def _days(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name}={value!r}: a whole number of days (at least 1) is expected.")
    return int(value)


def _event_kinds(name: str, default: str) -> tuple[str, ...]:
    """A comma-separated list of event kinds (models/events.py EVENT_KINDS); empty means none."""
    from models.events import EVENT_KINDS

    kinds = tuple(k.strip() for k in os.environ.get(name, default).split(",") if k.strip())
    unknown = [k for k in kinds if k not in EVENT_KINDS]
    if unknown:
        raise SystemExit(f"{name}: unknown event kind(s) {', '.join(unknown)}; known: {', '.join(EVENT_KINDS)}.")
    return kinds


def _settings(instance_path: str) -> dict:
    default_db = f"sqlite:///{Path(instance_path) / 'maillage.sqlite3'}"
    url = os.environ.get("DATABASE_URL", default_db)
    if url.startswith("postgres://"):  # the Heroku-style name SQLAlchemy no longer accepts
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "dev-only-change-me"),
        "SMTP_URL": os.environ.get("SMTP_URL", "smtp://127.0.0.1:8025"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "Europe/Paris"),
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Calendars to import: a Maillage feed of 5,000 events is 3 MB.
        "IMPORT_MAX_CONTENT_LENGTH": int(os.environ.get("IMPORT_MAX_MB", "20")) * 1024 * 1024,
        "UPLOAD_ENDPOINTS": ("imports.ImportPreview", "imports.Imports", "imports.ImportJobs",
                             "feeds_pages.import_calendar"),
        # Files of up to this many events are previewed and imported in the request; bigger ones by
        # the clock process, the page showing the progress (scheduler/import_jobs.py).
        "IMPORT_INLINE_MAX_EVENTS": int(os.environ.get("IMPORT_INLINE_MAX_EVENTS", "200")),
        # The API's imports in the request (preview and import, about 20 ms an event on
        # PostgreSQL) stop well before gunicorn's 30 s; bigger files go to /api/v1/import-jobs.
        "IMPORT_API_INLINE_MAX_EVENTS": int(os.environ.get("IMPORT_API_INLINE_MAX_EVENTS", "500")),
        # Overlaps: how far ahead they are looked for, which kinds never split a public.
        "CONFLICT_HORIZON_DAYS": _days("CONFLICT_HORIZON_DAYS", "365"),
        "CONFLICT_NON_COMPETING_KINDS": _event_kinds("CONFLICT_NON_COMPETING_KINDS", "coordination"),
        # How far ahead a change to a whole event is told to the people concerned.
        "NOTICE_HORIZON_DAYS": _days("NOTICE_HORIZON_DAYS", "90"),
        # Synced calendars and webhooks may name 127.0.0.1 or a private network (models/urls.py):
        # for tests and development machines only.
        "ALLOW_PRIVATE_URLS": os.environ.get("ALLOW_PRIVATE_URLS") == "1",
        # Proxies in front of gunicorn whose X-Forwarded-For/-Proto we believe (0: none).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "1")),
        # Rate-limit counters: in memory for one process; shared (redis://127.0.0.1:6379) for several.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # No X-RateLimit/Retry-After on every answer (a 503's own Retry-After would be overwritten);
        # a 429 gets its Retry-After below.
        "RATELIMIT_HEADERS_ENABLED": False,
        # What attackers hammer, per client address: endpoint or blueprint -> limit.
        "RATELIMITS": {
            "auth.login": os.environ.get("RATELIMIT_LOGIN", "10 per minute"),
            "feeds": os.environ.get("RATELIMIT_FEEDS", "300 per minute"),
            # Anonymous occurrence queries (each may expand up to 10,000 occurrences); with a token: free.
            "occurrences": os.environ.get("RATELIMIT_OCCURRENCES", "30 per minute"),
            "feeds_pages.private_links": os.environ.get("RATELIMIT_TOKENS", "30 per hour"),  # feed tokens
            # Each request makes Maillage write to the address given: per client address, POSTs only.
            "subscriptions.subscribe_page": os.environ.get("RATELIMIT_SUBSCRIPTIONS", "20 per hour"),
        },
    }


def _limit_rates(app: Flask) -> None:
    """Applies RATELIMITS after every blueprint is registered; only POSTs count on page endpoints
    (showing the sign-in form is free, trying a password is not)."""
    limiter = Limiter(get_remote_address, app=app)
    app.extensions["maillage_limiter"] = limiter

    @app.after_request
    def retry_after(response):
        if response.status_code == 429 and "Retry-After" not in response.headers:
            limit = limiter.current_limit
            wait = int(limit.reset_at - time.time()) if limit else 60
            response.headers["Retry-After"] = str(max(1, wait))
        return response

    # Who a limit does not hold back, by name (registered by the blueprints: api/__init__.py).
    exempt = app.extensions.get("maillage_rate_exempt", {})
    for name, rate in app.config["RATELIMITS"].items():
        if name in app.blueprints:
            limiter.limit(rate, exempt_when=exempt.get(name))(app.blueprints[name])
        elif name in app.view_functions:
            methods = ["POST"] if "POST" in next(app.url_map.iter_rules(name)).methods else None
            app.view_functions[name] = limiter.limit(rate, methods=methods, exempt_when=exempt.get(name))(
                app.view_functions[name])


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = MaillageRequest
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(_settings(app.instance_path))
    app.config.update(overrides or {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Several processes (web, clock) share the file: wait for locks rather than fail.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    else:
        # A pooled connection may have died with a database restart: test it before use.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    app.json.ensure_ascii = False  # French text stays readable in the JSON
    app.json.sort_keys = False  # keys in the order the schemas declare them

    app.url_map.converters.update(int=RowId, default=Text, string=Text)
    db.init_app(app)
    app.teardown_appcontext(end_session)  # after init_app: runs first
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"),
                     render_as_batch=True)

    import api
    import commands
    import web

    api.init_app(app)
    web.init_app(app)
    commands.init_app(app)
    from scheduler.ical import jobs as import_jobs
    from scheduler.notifications import sending as reminders
    from scheduler.ical import sync

    app.extensions.setdefault("maillage_clock_jobs", []).append(sync.register)  # calendars synced from elsewhere
    app.extensions.setdefault("maillage_clock_jobs", []).append(import_jobs.register)  # big imports
    app.extensions.setdefault("maillage_clock_jobs", []).append(reminders.register)  # reminders, notices, digests
    _limit_rates(app)
    return app


app = create_app()


def _freeze_what_lives_forever() -> None:
    """A full garbage collection walks every object the process tracks, and the ~150,000 that
    startup makes (modules, routes, mappers, schemas) never die: in a gunicorn worker, that walk
    was a 80-100 ms pause of every request waiting on it (the load test's p99). Frozen, they are
    left out of every collection; what requests make is still collected as before. The modules
    that requests import on first use (the feed writer, the iCal reader) are loaded first."""
    import scheduler.ical.feeds  # noqa: F401
    import scheduler.ical.parse_ics  # noqa: F401

    gc.collect()
    gc.freeze()


_freeze_what_lives_forever()
