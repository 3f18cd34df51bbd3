"""Maillage: the application factory. `app` is what gunicorn and the flask CLI load."""
from __future__ import annotations

import gc
from pathlib import Path

from flask import Flask, Request, current_app
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, UnicodeConverter

import api
import commands
import settings
import web
from extensions import create_limiter, db, migrate, serve_static_files
from models.base import end_session
from web.security import headers_outside_the_app, static_file_headers


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


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = MaillageRequest
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # What the caller gives is not read from the environment (tests give a database, a key…).
    app.config.update(settings.from_environ(app.instance_path, given=overrides or {}))
    app.config.update(overrides or {})
    if settings.uses_development_key(app.config):
        # Only reachable outside production (settings.production_problems): say it where it shows.
        app.logger.warning("SECRET_KEY : clé de développement « %s » (MAILLAGE_ENV=%s) ; jamais en production.",
                           settings.DEV_SECRET_KEY, app.config.get("MAILLAGE_ENV"))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Several processes (web, clock) share the file: wait for locks rather than fail.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    else:
        # A pooled connection may have died with a database restart: test it before use.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})

    app.json.ensure_ascii = False  # French text stays readable in the JSON
    app.json.sort_keys = False  # keys in the order the schemas declare them

    app.url_map.converters.update(int=RowId, default=Text, string=Text)
    db.init_app(app)
    app.teardown_appcontext(end_session)  # after init_app: runs first
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"),
                     render_as_batch=True)

    api.init_app(app)
    web.init_app(app)
    commands.init_app(app)
    # After every blueprint: limits are set by their names.
    create_limiter(app, exempt=api.RATE_EXEMPT, keys=web.RATE_KEYS)

    # In front of the app, innermost first: feed polls answered from memory, static files, the
    # proxy's headers (read by both).
    app.wsgi_app = api.FeedPolls(app, app.wsgi_app, headers_outside_the_app(app.config))  # type: ignore[method-assign]
    serve_static_files(app, static_file_headers(app.config))
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app


app = create_app()


def _freeze_what_lives_forever() -> None:
    """A full garbage collection walks every object the process tracks, and the ~150,000 that
    startup makes (modules, routes, mappers, schemas) never die: in a gunicorn worker, that walk
    was a 80-100 ms pause of every request waiting on it (the load test's p99). Frozen, they are
    left out of every collection; what requests make is still collected as before. Every module
    of ours is loaded by then: none imports another inside a function."""
    gc.collect()
    gc.freeze()


_freeze_what_lives_forever()
